/**
 * Small helpers shared by the core tests: catching typed errors and a
 * hand-resolved promise for coordinating concurrent assets.
 *
 * @module
 */

import assert from "node:assert/strict";

/** Calls `fn`, asserts it throws an instance of `type`, and returns the error. */
export function catchError<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
): E {
  try {
    fn();
  } catch (error) {
    assert.ok(
      error instanceof type,
      `expected ${type.name}, got ${
        error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      }`,
    );
    return error;
  }
  assert.fail(`expected ${type.name} to be thrown`);
}

/** Awaits `fn()`, asserts it rejects with an instance of `type`, and returns the error. */
export async function catchErrorAsync<E extends Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type: new (...args: any[]) => E,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    assert.ok(
      error instanceof type,
      `expected ${type.name}, got ${
        error instanceof Error ? `${error.name}: ${error.message}` : String(error)
      }`,
    );
    return error;
  }
  assert.fail(`expected ${type.name} to be thrown`);
}

/** A promise with its `resolve` exposed. */
export interface Deferred<T> {
  /** The promise. */
  readonly promise: Promise<T>;
  /** Resolves the promise. */
  resolve(value: T): void;
}

/** Creates a {@linkcode Deferred}. */
export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
