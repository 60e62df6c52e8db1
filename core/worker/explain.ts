/**
 * Why each run in the queue waits, in words: what `deno task cli queue`
 * prints and the UI shows. Computed on read from the queue's state, the
 * limits the leading coordinator published and the live workers, with the
 * same `planAdmission` the coordinator decides with.
 *
 * @module
 */

import { planAdmission } from "./admission.ts";
import type { QueuedRun, QueueLimits, WorkerRecord } from "./queue.ts";

/** A snapshot of the queue for {@linkcode explainQueue}. */
export interface QueueSnapshot {
  /** `queued` and `launched` runs, in admission order. */
  readonly waiting: readonly QueuedRun[];
  /** `launched` and `started` runs (what counts against the limits). */
  readonly active: readonly QueuedRun[];
  /** Limits of the leading coordinator, or `undefined` when none ever led. */
  readonly limits: QueueLimits | undefined;
  /** Workers that announced themselves. */
  readonly workers: readonly WorkerRecord[];
  /** Time of the snapshot. */
  readonly now: number;
}

/** Live workers (heartbeat within their lease) and their free run slots. */
export function liveWorkers(workers: readonly WorkerRecord[], now: number): WorkerRecord[] {
  return workers.filter((w) => w.heartbeatAt + w.leaseMs >= now);
}

/**
 * One sentence per waiting run, by run id.
 *
 * @example
 * ```ts
 * import { explainQueue } from "./explain.ts";
 * const reasons = explainQueue({ waiting: [], active: [], limits: undefined, workers: [], now: 0 });
 * reasons.size; // 0
 * ```
 */
export function explainQueue(snapshot: QueueSnapshot): Map<string, string> {
  const reasons = new Map<string, string>();
  const live = liveWorkers(snapshot.workers, snapshot.now).filter((w) => w.status === "running");
  const slots = live.reduce((n, w) => n + w.concurrency, 0);
  const busy = live.reduce((n, w) => n + w.running, 0);
  const noWorker = live.length === 0
    ? "no live worker: start one with `deno task worker` (workers must share RUNS_URL)"
    : undefined;
  const queued = snapshot.waiting.filter((r) => r.state === "queued");
  if (snapshot.limits === undefined) {
    for (const run of queued) {
      reasons.set(
        run.runId,
        "no coordinator has run yet: start `deno task worker` or `deno task sensor`",
      );
    }
  } else {
    const plan = planAdmission(queued, snapshot.active, snapshot.limits);
    for (const run of queued) {
      const why = plan.waiting.get(run.runId);
      reasons.set(run.runId, why ?? noWorker ?? "within the limits: admitted at the next tick");
    }
  }
  for (const run of snapshot.waiting.filter((r) => r.state === "launched")) {
    reasons.set(
      run.runId,
      noWorker ??
        (busy >= slots
          ? `admitted; every worker slot is busy (${busy} of ${slots} on ${live.length} worker(s))`
          : "admitted; a worker is taking it"),
    );
  }
  return reasons;
}
