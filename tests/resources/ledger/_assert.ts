/**
 * The few assertions the ledger tests need (`jsr:@std/assert` is not
 * reachable here; `node:assert` is built in).
 *
 * @module
 */

import { deepStrictEqual, ok } from "node:assert/strict";

/** Fails with `message` unless `condition` is truthy. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  ok(condition, message);
}

/** Deep, key-order-insensitive equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  deepStrictEqual(actual, expected, message);
}

/** Awaits `work` and returns what it threw, failing unless it is a `type`. */
export async function rejects<E extends Error>(
  work: () => unknown,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await work();
  } catch (error) {
    assert(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return error;
  }
  throw new Error(`expected ${type.name}, but nothing was thrown`);
}
