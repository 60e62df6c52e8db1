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

export { rejected as rejects } from "../../_helpers/assert_errors.ts";
