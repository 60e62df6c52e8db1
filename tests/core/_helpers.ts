/**
 * Small helpers shared by the core tests: catching typed errors and a
 * hand-resolved promise for coordinating concurrent assets.
 *
 * @module
 */

export { caught as catchError, rejected as catchErrorAsync } from "../_helpers/assert_errors.ts";

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
