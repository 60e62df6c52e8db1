/**
 * The assertion `node:assert/strict` lacks: what a promise rejected with.
 *
 * @module
 */

import { ok } from "node:assert/strict";

/** Awaits `work` and returns what it threw, failing unless it is a `type`. */
export async function rejects<E extends Error>(
  work: () => unknown,
  type: abstract new (...args: never[]) => E,
): Promise<E> {
  try {
    await work();
  } catch (error) {
    ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
    return error;
  }
  throw new Error(`expected ${type.name}, but nothing was thrown`);
}
