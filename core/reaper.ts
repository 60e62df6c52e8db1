/**
 * Failing the runs whose owner died: `reapDeadRuns` is what every daemon tick
 * and every CLI start calls, so no run stays `running` once the process
 * executing it is gone (killed with -9, machine lost). The run store does the
 * atomic part (`RunStore.reapRuns`: each run reaped by exactly one caller);
 * this adds what only a process can see: owners on this host whose process
 * has certainly ended, which are reaped at once rather than when their
 * heartbeat lease lapses.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";
import { type Logger, silentLogger } from "./logger.ts";
import { type HostView, isGoneHere, thisHost } from "./owner.ts";
import type { RunRecord, RunStore } from "./run_store/types.ts";

/** Options of {@linkcode reapDeadRuns}. */
export interface ReapDeadRunsOptions {
  /**
   * Time source.
   * @default {systemClock}
   */
  readonly clock?: Clock;
  /**
   * Where each reaped run is reported (a warning each).
   * @default {silentLogger}
   */
  readonly log?: Logger;
  /**
   * This host and process, to tell owners certainly gone.
   * @default {thisHost()}
   */
  readonly host?: HostView;
  /**
   * Running runs looked at for owners gone from this host, at most.
   * @default {1000}
   */
  readonly scanLimit?: number;
}

/**
 * Fails every running run whose owner is gone: its heartbeat lease lapsed,
 * or it ran on this host and its process has ended. Returns the runs this
 * call reaped (another process reaping at the same time gets the others).
 *
 * @example
 * ```ts
 * import { reapDeadRuns } from "./reaper.ts";
 * import { MemoryRunStore } from "./run_store/memory.ts";
 * const reaped = await reapDeadRuns(new MemoryRunStore());
 * reaped.length; // 0
 * ```
 */
export async function reapDeadRuns(
  store: RunStore,
  options: ReapDeadRunsOptions = {},
): Promise<RunRecord[]> {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  const host = options.host ?? thisHost();
  const running = await store.listRuns({ status: "running", limit: options.scanLimit ?? 1000 });
  const deadOwners = [
    ...new Set(
      running.flatMap((run) =>
        run.owner && isGoneHere(run.owner, host) ? [run.owner.instanceId] : []
      ),
    ),
  ];
  // This process is alive whatever the clock says (stepped forward, every lease looks lapsed
  // until the next heartbeat). Other processes of this host are still judged by their leases:
  // one that exists may be hung, and its runs must not wait for ever.
  const liveOwners = [host.self.instanceId];
  const reaped = await store.reapRuns({
    now: clock.now(),
    deadOwners,
    liveOwners,
    reaper: host.self,
  });
  for (const run of reaped) log.warn(`run ${run.runId} failed: ${run.errorSummary}`);
  return reaped;
}
