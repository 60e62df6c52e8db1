/**
 * How long a sensor waits before it asks again for an input whose last
 * attempt ended without success (the manifest and activity sensors): the
 * rule that tells an infra death (the process died under the run) from a
 * failure of the input's own.
 *
 * @module
 */

import { STOPPED_BY_OWNER_PREFIX } from "./retry.ts";
import { OWNER_LOST_TAG } from "./run_store/types.ts";

/** Options of {@linkcode sensorRetryDelay}. */
export interface SensorRetryDelayOptions {
  /** Wait before the first retry of a failed run, in milliseconds. */
  readonly baseMs: number;
  /** The longest wait, in milliseconds. */
  readonly maxMs: number;
}

/** What {@linkcode sensorRetryDelay} reads of a run of an attempt. */
export interface EndedAttempt {
  /** The run's status. */
  readonly status: string;
  /** Why it ended. */
  readonly errorSummary: string | null;
  /** Its tags (`owner_lost` marks a run whose process died under it). */
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * Whether `run` died with its process (killed, OOM, node lost: a reaper
 * failed it, tag `owner_lost`) rather than ending on its own.
 */
export function diedWithOwner(run: EndedAttempt): boolean {
  return run.tags[OWNER_LOST_TAG] !== undefined;
}

/**
 * Milliseconds a sensor waits after an unsuccessful attempt ended before
 * requesting the next (attempt `attempts.length + 1`). `attempts` are the
 * last runs of the attempts so far, oldest first. The rule:
 *
 * - a run canceled by its daemon's shutdown: none (the restart is the wait);
 * - a run that died with its process (`owner_lost`: the daemon or worker
 *   was killed, a deploy, a node lost), the first in a row: none. The
 *   daemon's relaunch of the lost run came first; such an infra death says
 *   nothing about the input, so it does not escalate the backoff. From the
 *   second attempt in a row that died with its process (each one already
 *   relaunched once, so at least three deaths), the input may be what kills
 *   its process: `baseMs` doubled per further death in a row, at most
 *   `maxMs`, so a batch that crashes its daemon cannot crash-loop it;
 * - any other unsuccessful end (the run failed, or its process stopped it
 *   because its heartbeat could not be recorded): `baseMs` doubled per
 *   attempt after the first retry, at most `maxMs`, where attempts that
 *   died with their process are not counted. Retried at once, a run stopped
 *   by a store outage would start, fail to heartbeat and stop again, in a
 *   loop as fast as the outage lasts.
 *
 * @example
 * ```ts
 * import { sensorRetryDelay } from "./sensor_retry.ts";
 * const options = { baseMs: 30_000, maxMs: 3_600_000 };
 * const failed = { status: "failed", errorSummary: "boom", tags: {} };
 * const died = { status: "failed", errorSummary: "owner process died", tags: { owner_lost: "relaunched" } };
 * sensorRetryDelay([failed, failed], options); // 60000
 * sensorRetryDelay([died], options); // 0
 * sensorRetryDelay([died, died, died], options); // 60000
 * ```
 */
export function sensorRetryDelay(
  attempts: readonly EndedAttempt[],
  options: SensorRetryDelayOptions,
): number {
  const last = attempts.at(-1);
  if (last === undefined) return 0;
  const shutdown = last.status === "canceled" &&
    !(last.errorSummary ?? "").startsWith(STOPPED_BY_OWNER_PREFIX);
  if (shutdown) return 0;
  const wait = (doublings: number) =>
    doublings < 0 ? 0 : Math.max(0, Math.min(options.maxMs, options.baseMs * 2 ** doublings));
  if (diedWithOwner(last)) {
    let inARow = 0;
    for (let i = attempts.length - 1; i >= 0 && diedWithOwner(attempts[i] as EndedAttempt); i--) {
      inARow++;
    }
    return wait(inARow - 2);
  }
  const counted = attempts.filter((run) => !diedWithOwner(run)).length;
  return wait(Math.max(0, counted - 1));
}
