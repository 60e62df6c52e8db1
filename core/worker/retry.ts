/**
 * Run retries for queued runs (Dagster's run retries): when a queued run
 * ends `failed` (or its worker stopped it because its heartbeat could not be
 * recorded), a new run (attempt + 1, same root) is queued while the
 * attempts allow, resuming from the failure: assets whose every step
 * succeeded in an earlier attempt are left out, the others run again.
 *
 * Tags that steer it, on the run: `max_retries` (set at enqueue as
 * {@linkcode NewQueuedRun.maxRetries}), `retry_strategy` = `from_failure`
 * (default) or `all_steps`, `retry_on_asset_failure` = `false` to retry only
 * runs whose worker died. Runs of sensors and schedules lost with their
 * process are relaunched by the sensor daemon instead (its own policy), so
 * they are never relaunched twice.
 *
 * The decision is taken by whoever finishes the queued run first (its worker,
 * or a coordinator that found the run ended by a reaper); the queue's
 * `finish` is atomic, so exactly one retry is queued.
 *
 * @module
 */

import { OWNER_LOST_TAG, type RunRecord, type RunStore } from "../run_store/types.ts";
import { stoppedForHeartbeat } from "../retry.ts";
import type { NewQueuedRun, QueuedRun } from "./queue.ts";

/** Why a run ended the way it did, as kept on its queue entry. */
export function outcomeOf(run: Pick<RunRecord, "status" | "errorSummary">): string {
  return run.errorSummary ? `${run.status}: ${run.errorSummary}` : run.status;
}

/**
 * The assets every one of whose steps succeeded in `runId` (and, through its
 * own `exclude`, in the attempts before it): what a resumed run leaves out.
 */
export async function succeededAssets(store: RunStore, runId: string): Promise<string[]> {
  const byAsset = new Map<string, boolean>();
  for (const step of await store.listSteps(runId)) {
    byAsset.set(step.assetKey, (byAsset.get(step.assetKey) ?? true) && step.status === "success");
  }
  return [...byAsset].filter(([, ok]) => ok).map(([key]) => key);
}

/** The `exclude` a run queued as `entry` really ran with: its own, plus what it resumed past. */
export async function effectiveExclude(store: RunStore, entry: QueuedRun): Promise<string> {
  const done = entry.resumeFrom ? await succeededAssets(store, entry.resumeFrom) : [];
  return [...new Set([...split(entry.exclude), ...done])].join(",");
}

function split(selection: string): string[] {
  return selection.split(",").map((s) => s.trim()).filter(Boolean);
}

/** Options of {@linkcode planRetry}. */
export interface PlanRetryOptions {
  /**
   * The worker gave the run up (graceful shutdown): it is queued again
   * without using one of its retries.
   * @default {false}
   */
  readonly released?: boolean;
  /** Id of the new run. @default {crypto.randomUUID()} */
  readonly newRunId?: string;
}

/**
 * The run to queue after `run` (the run store's record of `entry`) ended,
 * or `undefined` when it is not retried.
 */
export async function planRetry(
  store: RunStore,
  entry: QueuedRun,
  run: RunRecord,
  options: PlanRetryOptions = {},
): Promise<NewQueuedRun | undefined> {
  const released = options.released ?? false;
  if (!released) {
    // A run its worker stopped because its heartbeat could not be recorded (the run
    // store was away) ended without an asset failing: retried like a failed run, and
    // not held back by retry_on_asset_failure=false. A cancel someone asked for is not.
    const stopped = stoppedForHeartbeat(run) && !entry.cancelRequested;
    if (run.status !== "failed" && !stopped) return undefined;
    const lost = run.tags[OWNER_LOST_TAG] !== undefined;
    const launchedByDaemon = entry.tags.sensor !== undefined || entry.tags.schedule !== undefined;
    if (lost && launchedByDaemon) return undefined; // the sensor daemon relaunches it
    if (!lost && !stopped && entry.tags.retry_on_asset_failure === "false") return undefined;
    if (entry.attempt > entry.maxRetries) return undefined;
  }
  const resume = entry.tags.retry_strategy !== "all_steps";
  return {
    runId: options.newRunId ?? crypto.randomUUID(),
    selection: entry.selection,
    exclude: resume ? await effectiveExclude(store, entry) : entry.exclude,
    partitions: entry.partitions,
    tags: entry.tags,
    priority: entry.priority,
    pools: entry.pools,
    // A release does not spend a retry.
    maxRetries: released ? entry.maxRetries + 1 : entry.maxRetries,
    attempt: entry.attempt + 1,
    rootRunId: entry.rootRunId,
    retryOf: run.runId,
    resumeFrom: resume ? run.runId : null,
  };
}
