/**
 * Waiting for a server at the start of a long-running command (`worker`,
 * `sensor`), as Dagster's daemon does: a Postgres that is not up yet (the
 * whole stack starting at once, the database restarting, a failover) is
 * waited for with a log line per try and a growing pause, instead of an exit
 * that an orchestrator turns into a tight crash loop. Only a transient
 * failure is waited for (refused, reset, timed out, starting up): a bad
 * password or a missing database needs a person, and fails at once.
 *
 * @module
 */

import { systemClock } from "../clock.ts";
import { isTransientError, toError } from "../errors.ts";

/** Options of {@linkcode untilReachable}. */
export interface UntilReachableOptions {
  /** Where each failed try is reported (one line each). */
  readonly log: (line: string) => void;
  /** Stops waiting (SIGTERM, Ctrl-C): the call then resolves `undefined`. */
  readonly signal?: AbortSignal | undefined;
  /** Pause after the first failed try, doubled after each (milliseconds). @default {1000} */
  readonly firstDelayMs?: number;
  /** Longest pause between two tries (milliseconds). @default {30000} */
  readonly maxDelayMs?: number;
}

/**
 * Calls `open` until it succeeds, waiting between tries while it fails with
 * a transient error (see the module doc); any other error is thrown at once.
 * Resolves `undefined` when `options.signal` aborts first.
 *
 * @example
 * ```ts
 * import { untilReachable } from "./_reachable.ts";
 * const value = await untilReachable("the run queue", () => Promise.resolve(42), {
 *   log: (line) => console.error(line),
 * });
 * value; // 42
 * ```
 */
export async function untilReachable<T>(
  what: string,
  open: () => Promise<T>,
  options: UntilReachableOptions,
): Promise<T | undefined> {
  const max = options.maxDelayMs ?? 30_000;
  let delay = Math.min(options.firstDelayMs ?? 1_000, max);
  for (let attempt = 1;; attempt++) {
    if (options.signal?.aborted) return undefined;
    try {
      return await open();
    } catch (error) {
      if (!isTransientError(error) || options.signal?.aborted) throw error;
      // Several workers started together spread their tries (up to a fifth later).
      const pause = Math.round(delay * (1 + Math.random() / 5));
      options.log(
        `waiting for ${what} (try ${attempt}): ${toError(error).message}; ` +
          `trying again in ${(pause / 1000).toFixed(1)} s`,
      );
      try {
        await systemClock.sleep(pause, options.signal);
      } catch {
        return undefined; // stopped while waiting
      }
      delay = Math.min(2 * delay, max);
    }
  }
}
