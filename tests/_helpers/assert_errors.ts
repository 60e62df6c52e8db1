/**
 * What `node:assert/strict`'s `throws`/`rejects` do not give back: the error
 * itself, typed, for the assertions on its code, message and fields that
 * follow.
 *
 * @example
 * ```ts
 * import { caught } from "./assert_errors.ts";
 * const error = caught(() => JSON.parse("{"), SyntaxError);
 * error.message; // "Expected property name or '}' in JSON at position 1 ..."
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";

/** A class of errors, as `instanceof` takes it. */
// deno-lint-ignore no-explicit-any
export type ErrorClass<E extends Error> = abstract new (...args: any[]) => E;

/** Calls `fn`, asserts it throws an instance of `type`, and returns the error. */
export function caught<E extends Error>(fn: () => unknown, type: ErrorClass<E>): E {
  try {
    fn();
  } catch (error) {
    return expectInstance(error, type);
  }
  assert.fail(`expected ${type.name} to be thrown`);
}

/** Awaits `fn()`, asserts it rejects with an instance of `type`, and returns the error. */
export async function rejected<E extends Error>(
  fn: () => unknown,
  type: ErrorClass<E>,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    return expectInstance(error, type);
  }
  assert.fail(`expected ${type.name} to be thrown`);
}

function expectInstance<E extends Error>(error: unknown, type: ErrorClass<E>): E {
  assert.ok(
    error instanceof type,
    `expected ${type.name}, got ${
      error instanceof Error ? `${error.name}: ${error.message}` : String(error)
    }`,
  );
  return error;
}
