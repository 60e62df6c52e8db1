/**
 * The run coordinator (Dagster's QueuedRunCoordinator daemon): admits queued
 * runs within the limits, and keeps the queue true to what happened to its
 * runs when their worker died.
 *
 * One coordinator leads at a time (`RunQueue.tryLead("coordinator")`, a
 * Postgres advisory lock held by its connection); it runs in the sensor
 * daemon and in every worker, so the queue moves on as long as any of them
 * is alive, and a second one is a harmless standby. Each tick:
 *
 * 1. **Reap** runs whose owner stopped heartbeating (core's `reapDeadRuns`).
 * 2. **Reconcile** the `started` entries whose run is no longer running:
 *    finish them with the run's outcome and queue the retry its policy allows
 *    (see `./retry.ts`); release back to `queued` those whose worker died
 *    before recording the run; forward cancel requests made before the run
 *    was recorded; forget dead workers so the dispatch library hands their
 *    undelivered runs to others.
 * 3. **Admit** queued runs in priority order within the limits.
 *
 * Ticks run every `intervalMs` and at once when the queue changes (LISTEN/NOTIFY
 * on Postgres), so a run enqueued into free capacity starts within
 * milliseconds.
 *
 * @module
 */

import { type Clock, systemClock, waitOn } from "../clock.ts";
import { toError } from "../errors.ts";
import { type Logger, silentLogger } from "../logger.ts";
import type { HostView } from "../owner.ts";
import { isGoneHere, thisHost } from "../owner.ts";
import { reapDeadRuns } from "../reaper.ts";
import type { RunStore } from "../run_store/types.ts";
import { NO_LIMITS, planAdmission } from "./admission.ts";
import { leadLeaseMs, type QueueLimits, type RunQueue, type WorkerRecord } from "./queue.ts";
import { outcomeOf, planRetry } from "./retry.ts";

/** Options of {@linkcode Coordinator}. */
export interface CoordinatorOptions {
  /** The queue. */
  readonly queue: RunQueue;
  /** The run store the workers record runs in. */
  readonly runStore: RunStore;
  /** Limits applied. @default {NO_LIMITS} */
  readonly limits?: QueueLimits;
  /** Time source. @default {systemClock} */
  readonly clock?: Clock;
  /** Where decisions are reported. @default {silentLogger} */
  readonly log?: Logger;
  /**
   * Time between ticks when nothing wakes it (milliseconds); keep it a
   * quarter of the heartbeat interval so a dead worker's runs are handled
   * within two heartbeats.
   * @default {1000}
   */
  readonly intervalMs?: number;
  /** Queued runs looked at per tick. @default {1000} */
  readonly scanLimit?: number;
  /** This host, to tell dead owners at once. @default {thisHost()} */
  readonly host?: HostView;
}

/** What one tick did. */
export interface CoordinatorTick {
  /** Runs failed because their owner died. */
  readonly reaped: readonly string[];
  /** Queue entries finished for runs that ended without their worker. */
  readonly finished: readonly string[];
  /** Retries queued by this tick. */
  readonly retried: readonly string[];
  /** Entries released back to `queued`. */
  readonly released: readonly string[];
  /** Runs admitted. */
  readonly admitted: readonly string[];
}

/** Admits queued runs and reconciles the queue with the run store (see the module doc). */
export class Coordinator {
  readonly #queue: RunQueue;
  readonly #store: RunStore;
  readonly #limits: QueueLimits;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #scanLimit: number;
  readonly #host: HostView;

  /** Prepares a coordinator; nothing happens until `tick` or `run`. */
  constructor(options: CoordinatorOptions) {
    const interval = options.intervalMs ?? 1000;
    if (!Number.isSafeInteger(interval) || interval < 1) {
      throw new RangeError(
        `Cannot start the coordinator with interval ${interval}: expected whole milliseconds >= 1`,
      );
    }
    this.#queue = options.queue;
    this.#store = options.runStore;
    this.#limits = options.limits ?? NO_LIMITS;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#intervalMs = interval;
    this.#scanLimit = options.scanLimit ?? 1000;
    this.#host = options.host ?? thisHost();
  }

  /** One pass: reap, reconcile, admit. A failing part is logged; the others still run. */
  async tick(): Promise<CoordinatorTick> {
    const reaped: string[] = [];
    try {
      const runs = await reapDeadRuns(this.#store, {
        clock: this.#clock,
        log: this.#log,
        host: this.#host,
      });
      reaped.push(...runs.map((r) => r.runId));
    } catch (error) {
      this.#log.error(`coordinator: cannot reap runs of dead processes: ${toError(error).message}`);
    }
    let reconciled = {
      finished: [] as string[],
      retried: [] as string[],
      released: [] as string[],
    };
    try {
      reconciled = await this.reconcile();
    } catch (error) {
      this.#log.error(`coordinator: cannot reconcile the queue: ${toError(error).message}`);
    }
    try {
      const freed = await this.#queue.unlockStaleDeliveries?.(
        Math.max(5_000, 4 * this.#intervalMs),
      );
      if (freed && freed.length > 0) {
        this.#log.warn(
          `coordinator: run(s) ${freed.join(", ")} were taken by a worker that never got them ` +
            "(a lost answer); offered to every worker again",
        );
      }
    } catch (error) {
      this.#log.error(`coordinator: cannot free stale deliveries: ${toError(error).message}`);
    }
    let admitted: string[] = [];
    try {
      admitted = await this.admit();
    } catch (error) {
      this.#log.error(`coordinator: cannot admit queued runs: ${toError(error).message}`);
    }
    return { reaped, ...reconciled, admitted };
  }

  /** Admits what the limits allow; returns the run ids admitted. */
  async admit(): Promise<string[]> {
    const admitted = await this.#queue.admit(
      (queued, active) => planAdmission(queued, active, this.#limits).admit,
      { now: this.#clock.now(), scanLimit: this.#scanLimit },
    );
    if (admitted.length > 0) this.#log.debug(`coordinator: admitted ${admitted.length} run(s)`);
    return admitted;
  }

  /** Step 2 of the module doc. */
  async reconcile(): Promise<{ finished: string[]; retried: string[]; released: string[] }> {
    const now = this.#clock.now();
    const finished: string[] = [];
    const retried: string[] = [];
    const released: string[] = [];
    const workers = await this.#queue.listWorkers();
    const dead = new Set(workers.filter((w) => this.#isDead(w, now)).map((w) => w.workerId));
    const live = new Set(workers.map((w) => w.workerId).filter((id) => !dead.has(id)));
    const started = await this.#queue.list({ states: ["started"], limit: 100_000 });
    for (const entry of started) {
      const alive = entry.workerId !== null && live.has(entry.workerId);
      if (alive && entry.cancelRequested === null) continue; // its worker finishes it itself
      const run = await this.#store.getRun(entry.runId);
      if (run === undefined) {
        // Claimed but never recorded: its worker died in between (or is about to record it).
        if (!alive) {
          if (await this.#queue.release(entry.runId)) {
            released.push(entry.runId);
            this.#log.warn(
              `coordinator: run ${entry.runId} was claimed by worker ${entry.workerId}, which ` +
                "died before starting it; queued again",
            );
          }
        }
        continue;
      }
      if (run.status === "running") {
        if (entry.cancelRequested !== null && run.cancelRequestedAt === null) {
          await this.#store.requestCancel(run.runId, {
            time: now,
            reason: entry.cancelRequested,
          });
        }
        continue;
      }
      if (alive) continue; // a live worker records the end (and a release) itself
      const retry = await planRetry(this.#store, entry, run);
      if (await this.#queue.finish(entry.runId, outcomeOf(run), now, retry)) {
        finished.push(entry.runId);
        if (retry) {
          retried.push(retry.runId);
          this.#log.warn(
            `coordinator: run ${entry.runId} ${outcomeOf(run)}; retried as ${retry.runId} ` +
              `(attempt ${retry.attempt} of ${entry.maxRetries + 1})`,
          );
        }
      }
    }
    if (dead.size > 0) {
      await this.#queue.forgetWorkers([...dead]);
      this.#log.warn(`coordinator: forgot dead worker(s) ${[...dead].join(", ")}`);
    }
    return { finished, retried, released };
  }

  #isDead(worker: WorkerRecord, now: number): boolean {
    if (worker.heartbeatAt + worker.leaseMs < now) return true;
    return isGoneHere(
      { instanceId: worker.workerId, host: worker.host, pid: worker.pid },
      this.#host,
    );
  }

  /**
   * Leads when no other coordinator does (standing by otherwise) and ticks
   * until `signal` aborts; then gives up the lead.
   */
  async run(signal: AbortSignal): Promise<void> {
    // Said once per outage, then once when it ends: a standby tries every interval (four
    // times a heartbeat), which was an error line each time for as long as the server was away.
    let unreachableSince: number | undefined;
    while (!signal.aborted) {
      let lead;
      try {
        // A leader stopped (SIGSTOP) or hung gives the lead up after this lease: it asks
        // held() every interval while it is alive.
        // (its interval is a quarter of the heartbeat's: coordinatorIntervalMs).
        lead = await this.#queue.tryLead("coordinator", {
          leaseMs: leadLeaseMs(4 * this.#intervalMs),
        });
        if (unreachableSince !== undefined) {
          this.#log.info(
            `coordinator: the queue answers again (after ${
              this.#clock.now() - unreachableSince
            } ms)`,
          );
          unreachableSince = undefined;
        }
      } catch (error) {
        if (unreachableSince === undefined) {
          unreachableSince = this.#clock.now();
          this.#log.error(
            `coordinator: cannot take the lead: ${toError(error).message}; trying again every ` +
              `${this.#intervalMs} ms, said again when it answers`,
          );
        }
      }
      if (!lead) {
        await pause(this.#clock, this.#intervalMs, signal);
        continue;
      }
      this.#log.info("coordinator: leading");
      try {
        await this.#lead(lead, signal);
      } finally {
        // Neither queue's release throws (a lost session took its lock with it); a future
        // one's failure must not hide why leading ended, and the lead lapses with its lease.
        await lead.release().catch(() => {});
      }
    }
  }

  async #lead(lead: { held(): Promise<boolean> }, signal: AbortSignal): Promise<void> {
    await this.#queue.publishLimits(this.#limits, this.#clock.now());
    let wake = () => {};
    let dirty = true;
    const stopWatching = new AbortController();
    const onAbort = () => stopWatching.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    await this.#queue.watch(() => {
      dirty = true;
      wake();
    }, stopWatching.signal);
    let lastReconcile = 0;
    try {
      while (!signal.aborted) {
        const now = this.#clock.now();
        if (now - lastReconcile >= this.#intervalMs) {
          if (!(await lead.held())) {
            this.#log.warn("coordinator: lost the lead (connection gone)");
            return;
          }
          lastReconcile = now;
          dirty = false;
          await this.tick();
        } else if (dirty) {
          dirty = false;
          await this.admit().catch((error) =>
            this.#log.error(`coordinator: cannot admit queued runs: ${toError(error).message}`)
          );
        }
        if (dirty) continue;
        const wait = Math.max(1, this.#intervalMs - (this.#clock.now() - lastReconcile));
        const woken = new AbortController();
        wake = () => woken.abort();
        const both = AbortSignal.any([woken.signal, signal]);
        await pause(this.#clock, wait, both);
        wake = () => {};
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      stopWatching.abort();
    }
  }
}

/** Coordinator tick for a heartbeat interval: a quarter of it (see the worker's module doc). */
export function coordinatorIntervalMs(heartbeatIntervalMs: number): number {
  return Math.max(25, Math.floor(heartbeatIntervalMs / 4));
}

/** Waits `ms` or until `signal` aborts, never throwing. */
function pause(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return waitOn(clock, ms, signal).catch(() => {});
}
