/**
 * Time as a dependency, so tests fake it instead of sleeping.
 *
 * @module
 */

import { CanceledError } from "./errors.ts";

/** Where the platform reads the time and waits. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with {@linkcode CanceledError} when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Resolves once the clock has moved `ms` forward, without moving it: for
   * background timers (a run's heartbeat) that must wait for time the work
   * spends rather than spend it. Rejects with {@linkcode CanceledError} when
   * `signal` aborts. The real clock's is `sleep`; a clock without one gets
   * real timers (see {@linkcode waitOn}).
   */
  wait?(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock & Required<Pick<Clock, "wait">> = {
  now: () => Date.now(),
  wait: (ms, signal) => systemClock.sleep(ms, signal),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new CanceledError());
      const onAbort = () => {
        clearTimeout(timer);
        reject(new CanceledError());
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

/** `clock.wait`, or real timers for a clock that has none. */
export function waitOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return clock.wait ? clock.wait(ms, signal) : systemClock.sleep(ms, signal);
}
