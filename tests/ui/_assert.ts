/**
 * The assertions the UI tests use, on node:assert/strict (the suite's
 * assertion library; std's is on JSR, which is not reachable here).
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

/** Fails with `message` unless `value` is truthy. */
export function assert(value: unknown, message?: string): asserts value {
  nodeAssert.ok(value, message);
}

/** Deep strict equality. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** `text` matches `pattern`. */
export function assertMatch(text: string, pattern: RegExp): void {
  nodeAssert.match(text, pattern);
}

/** `fn` rejects with an instance of `type` whose message includes `part`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  type: abstract new (...args: never[]) => Error,
  part: string,
): Promise<void> {
  await nodeAssert.rejects(
    fn,
    (error: unknown) => error instanceof type && error.message.includes(part),
  );
}
