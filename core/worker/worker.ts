/**
 * The worker: takes the runs the coordinator admitted, one `claim` each (so
 * a run executes on exactly one worker), and executes each with the same
 * `materialize()` as `deno task materialize`, this process as the run's owner
 * (heartbeats, cancel requests, lost-run detection are the executor's).
 *
 * - **Liveness.** The worker heartbeats its own record in the queue every
 *   heartbeat interval, with the same lease as its runs, so a worker killed
 *   with -9 is found dead by the coordinator at the same time as its runs
 *   are reaped, and the runs it claimed but never recorded are queued again.
 *   Its record may still land after that (written as it was killed): the
 *   next claimant then finds the id taken, waits for that record to be
 *   reaped, and retries it like any run lost with its process.
 * - **Leases.** Runs and the worker take a lease of 1.5 heartbeat intervals:
 *   with the coordinator ticking every quarter interval, a dead worker's runs
 *   are failed (and retried per their policy) within two intervals of its
 *   last heartbeat.
 * - **Graceful shutdown** (SIGTERM): no new run is taken; runs in progress
 *   get `graceMs` to finish; those still running are then canceled and
 *   *released*: recorded canceled and queued again as a new attempt resuming
 *   where they stopped, without spending a retry. No run is lost.
 * - **Retries.** When a run ends failed, the retry its policy allows is
 *   queued in the same transaction that finishes its entry (see `./retry.ts`).
 *
 * @module
 */

import { type Clock, systemClock, waitOn } from "../clock.ts";
import { crashPoint } from "../crash_point.ts";
import type { Graph } from "../graph.ts";
import { PlatformError, toError } from "../errors.ts";
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  materialize,
  type RunResult,
  type StepGate,
} from "../executor.ts";
import { type Logger, silentLogger } from "../logger.ts";
import { processOwner, thisHost } from "../owner.ts";
import { reapDeadRuns } from "../reaper.ts";
import type { ResourceSources } from "../resource.ts";
import type { RunOwner, RunStore } from "../run_store/types.ts";
import { resolveSelection } from "../selection.ts";
import type { Dispatcher, QueuedRun, RunQueue, WorkerInfo } from "./queue.ts";
import { effectiveExclude, outcomeOf, planRetry } from "./retry.ts";
import { poolGate } from "./step_pools.ts";

/** Options of {@linkcode RunWorker}. */
export interface RunWorkerOptions<R> {
  /** The queue to take runs from. */
  readonly queue: RunQueue;
  /** Where runs are recorded (the same store every worker and the daemon use). */
  readonly runStore: RunStore;
  /** Runs executed at once. @default {1} */
  readonly concurrency?: number;
  /** Steps running at once inside each run. @default {the executor's default} */
  readonly stepConcurrency?: number;
  /** Time between two heartbeats (runs and worker). @default {10000} */
  readonly heartbeatIntervalMs?: number;
  /**
   * Called at start and after each round of the heartbeat loop, whether the
   * heartbeat was recorded or not (the health endpoint's liveness). Nothing
   * by default.
   */
  readonly onHeartbeat?: () => void;
  /** Lease of the worker and its runs. @default {1.5 × heartbeatIntervalMs} */
  readonly leaseMs?: number;
  /** On shutdown, how long runs may go on before they are canceled and released. @default {30000} */
  readonly graceMs?: number;
  /** Time source. @default {systemClock} */
  readonly clock?: Clock;
  /** Where the worker reports. @default {silentLogger} */
  readonly log?: Logger;
  /** This process as run owner. @default {processOwner()} */
  readonly owner?: RunOwner;
  /**
   * Whether a process with this pid exists on this host (`undefined`: cannot
   * tell), to reap at once the runs of an earlier claimant killed here.
   * @default {thisHost().pidExists}
   */
  readonly pidExists?: (pid: number) => boolean | undefined;
  /** Resources replacing the graph's. */
  readonly resources?: Partial<ResourceSources<R>>;
  /**
   * Step-level pool limits (`QUEUE_POOL_GRANULARITY=step`): slots per pool
   * every step using that resource takes in the queue (see `./step_pools.ts`).
   */
  readonly stepPoolLimits?: Readonly<Record<string, number>>;
  /** Called when a run this worker executed has ended and its entry is finished. */
  readonly onRunFinished?: (entry: QueuedRun, result: RunResult | undefined) => void;
}

interface InHand {
  readonly controller: AbortController;
  released: boolean;
}

/** Executes queued runs (see the module doc). */
export class RunWorker<R> {
  readonly #graph: Graph<R>;
  readonly #queue: RunQueue;
  readonly #store: RunStore;
  readonly #options: RunWorkerOptions<R>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #owner: RunOwner;
  readonly #info: WorkerInfo;
  readonly #intervalMs: number;
  readonly #leaseMs: number;
  readonly #inHand = new Map<string, InHand>();
  readonly #gate: StepGate | undefined;
  #executed = 0;
  #stopping = false;

  /** Prepares a worker; nothing is taken until `run`. */
  constructor(graph: Graph<R>, options: RunWorkerOptions<R>) {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isSafeInteger(concurrency) || concurrency < 1) {
      throw new RangeError(
        `Cannot start a worker with concurrency ${concurrency}: expected a whole number >= 1`,
      );
    }
    this.#intervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.#leaseMs = options.leaseMs ?? Math.ceil(1.5 * this.#intervalMs);
    if (!Number.isSafeInteger(this.#leaseMs) || this.#leaseMs <= this.#intervalMs) {
      throw new RangeError(
        `Cannot start a worker with lease ${this.#leaseMs} ms: expected whole milliseconds ` +
          `longer than the heartbeat interval (${this.#intervalMs} ms)`,
      );
    }
    this.#graph = graph;
    this.#queue = options.queue;
    this.#store = options.runStore;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#owner = options.owner ?? processOwner();
    this.#info = {
      workerId: this.#owner.instanceId,
      host: this.#owner.host,
      pid: this.#owner.pid,
      concurrency,
    };
    const pools = options.stepPoolLimits;
    this.#gate = pools && Object.keys(pools).length > 0
      ? poolGate(this.#queue, {
        limits: pools,
        workerId: this.#info.workerId,
        clock: this.#clock,
        log: this.#log,
      })
      : undefined;
  }

  /** This worker's id (its run owner instance id). */
  get workerId(): string {
    return this.#info.workerId;
  }

  /** Runs this worker is executing now. */
  get running(): string[] {
    return [...this.#inHand.keys()];
  }

  /**
   * Takes and executes runs until `signal` aborts, then shuts down
   * gracefully (see the module doc). Returns how many runs it executed.
   */
  async run(signal: AbortSignal): Promise<number> {
    await this.#heartbeat();
    const dispatcher = await this.#queue.serve({
      worker: this.#info,
      handler: (runId, dispatchSignal) => this.#handle(runId, dispatchSignal),
    });
    // At once, not a heartbeat later: the record names what its dispatcher locks, so a
    // worker killed in its first interval has its deliveries freed when it is forgotten.
    await this.#heartbeat(dispatcher).catch((error) =>
      this.#log.warn(`worker: cannot record its heartbeat: ${toError(error).message}`)
    );
    this.#log.info(
      `worker ${this.#info.workerId} started on ${this.#info.host} (pid ${this.#info.pid}): ` +
        `${this.#info.concurrency} run(s) at once, queue ${this.#queue.description}`,
    );
    this.#options.onHeartbeat?.();
    const stopBeats = new AbortController();
    const beats = this.#beat(dispatcher, stopBeats.signal);
    try {
      await new Promise<void>((resolve) => {
        if (signal.aborted) return resolve();
        signal.addEventListener("abort", () => resolve(), { once: true });
      });
    } finally {
      await this.#shutdown(dispatcher);
      stopBeats.abort();
      await beats;
      await this.#queue.forgetWorkers([this.#info.workerId]).catch((error) =>
        this.#log.warn(`worker: cannot remove its record: ${toError(error).message}`)
      );
      this.#log.info(`worker ${this.#info.workerId} stopped after ${this.#executed} run(s)`);
    }
    return this.#executed;
  }

  async #shutdown(dispatcher: Dispatcher): Promise<void> {
    this.#stopping = true;
    const grace = this.#options.graceMs ?? 30_000;
    // Stopping goes on (the lease ends the record if this is lost), but not unsaid.
    await this.#heartbeat(dispatcher).catch((error) =>
      this.#log.warn(
        `worker: cannot record its heartbeat while stopping: ${toError(error).message}`,
      )
    );
    if (this.#inHand.size > 0) {
      this.#log.info(
        `worker: shutting down; ${this.#inHand.size} run(s) get ${grace} ms to finish`,
      );
    }
    const timer = setTimeout(() => {
      for (const [runId, run] of this.#inHand) {
        run.released = true;
        this.#log.warn(`worker: run ${runId} did not finish within ${grace} ms; releasing it`);
        run.controller.abort();
      }
    }, grace);
    try {
      await dispatcher.stop(grace + 60_000);
    } finally {
      clearTimeout(timer);
    }
  }

  async #beat(dispatcher: Dispatcher, stop: AbortSignal): Promise<void> {
    // The claims check reads the queue table, which a long transaction may lock for minutes:
    // it runs beside the heartbeats (one at a time), never in front of them, or this live
    // worker would be taken for dead.
    let checking: Promise<void> | undefined;
    while (!stop.aborted) {
      try {
        await waitOn(this.#clock, this.#intervalMs, stop);
      } catch {
        break;
      }
      try {
        await this.#heartbeat(dispatcher);
      } catch (error) {
        this.#log.warn(`worker: cannot record its heartbeat: ${toError(error).message}`);
      }
      this.#options.onHeartbeat?.();
      checking ??= this.#releaseLostClaims().catch((error) =>
        this.#log.warn(`worker: cannot check its claims: ${toError(error).message}`)
      ).finally(() => (checking = undefined));
    }
    await checking;
  }

  /**
   * Gives back the runs the queue says this worker started but that it does
   * not hold: a claim committed while the server went away answers the worker
   * with an error, and graphile-worker may then deliver the job to another
   * worker, whose claim fails. Alive and heartbeating, this worker would keep
   * the run `started` for ever. A claim older than a lease with no run record
   * is released (queued again, same run id); one whose run ended here but
   * whose entry was never finished (that write failed) is finished; one still
   * running is left to its owner and the reaper.
   */
  async #releaseLostClaims(): Promise<void> {
    const now = this.#clock.now();
    const started = await this.#queue.list({
      states: ["started"],
      workerId: this.#info.workerId,
      limit: 10_000,
    });
    for (const entry of started) {
      if (entry.workerId !== this.#info.workerId || this.#inHand.has(entry.runId)) continue;
      if (now - (entry.startedAt ?? now) < this.#leaseMs) continue;
      const run = await this.#store.getRun(entry.runId);
      if (this.#inHand.has(entry.runId)) continue;
      if (run) {
        // Ran here and ended, but finishing its queue entry failed (the server went away):
        // finish it now, retry included, or it would hold its limits for ever.
        if (run.status !== "running") {
          this.#log.warn(
            `worker: run ${entry.runId} ended but its queue entry was not; finishing it`,
          );
          await this.#finish(
            entry,
            { controller: new AbortController(), released: false },
            undefined,
          );
        }
        continue;
      }
      if (await this.#queue.release(entry.runId)) {
        this.#log.warn(
          `worker: run ${entry.runId} was claimed here but never started (its claim's answer ` +
            "was lost); queued again",
        );
      }
    }
  }

  #heartbeat(dispatcher?: Dispatcher): Promise<void> {
    return this.#queue.heartbeatWorker(
      this.#info,
      this.#clock.now(),
      this.#leaseMs,
      this.#inHand.size,
      this.#stopping ? "stopping" : "running",
      dispatcher?.dispatchIds() ?? [],
    );
  }

  /** Claims and executes one dispatched run; never throws. */
  async #handle(runId: string, dispatchSignal: AbortSignal): Promise<void> {
    let entry: QueuedRun | undefined;
    if (this.#inHand.has(runId)) return; // delivered again while it runs here
    const now = this.#clock.now();
    try {
      entry = await this.#queue.claim(runId, this.#info.workerId, now);
      if (entry) crashPoint("worker.claimed", runId); // claimed (committed), no run record yet
      if (entry && entry.startedAt !== now && (await this.#store.getRun(runId))) {
        // Claimed by this worker before and already recorded: not a lost claim.
        this.#log.warn(`worker: run ${runId} was delivered again after it started; not run twice`);
        return;
      }
    } catch (error) {
      // Not thrown back to the dispatch library: graphile-worker would deliver the run again
      // only after its backoff, e^attempts seconds (up to 6 hours), so a few failed claims
      // (a server restart, a statement timeout, a locked queue table) left the run waiting
      // long after the server was fine. Its job ends here; the coordinator offers a launched
      // run with no job again at its next tick (`unlockStaleDeliveries`), and a claim that did
      // commit, its answer lost, is given back by `#releaseLostClaims`.
      this.#log.error(
        `worker: cannot claim run ${runId}: ${toError(error).message}; it is offered again`,
      );
      return;
    }
    if (!entry) return; // canceled meanwhile, or another worker has it
    const hand: InHand = { controller: new AbortController(), released: false };
    if (this.#stopping) hand.released = true;
    const onDispatchAbort = () => {
      hand.released = true;
      hand.controller.abort();
    };
    dispatchSignal.addEventListener("abort", onDispatchAbort, { once: true });
    if (this.#stopping || dispatchSignal.aborted) hand.controller.abort();
    this.#inHand.set(runId, hand);
    let result: RunResult | undefined;
    try {
      result = await this.#execute(entry, hand);
      await this.#finish(entry, hand, result);
    } catch (error) {
      this.#log.error(`worker: run ${runId}: ${toError(error).message}`);
    } finally {
      dispatchSignal.removeEventListener("abort", onDispatchAbort);
      this.#inHand.delete(runId);
      this.#executed++;
      this.#options.onRunFinished?.(entry, result);
    }
  }

  /** Runs `materialize`; a run that cannot start is recorded failed. */
  async #execute(entry: QueuedRun, hand: InHand): Promise<RunResult | undefined> {
    const exclude = await effectiveExclude(this.#store, entry);
    const tags: Record<string, string> = {
      ...entry.tags,
      worker: `${this.#info.host}:${this.#info.pid}`,
    };
    if (entry.attempt > 1) {
      tags.attempt = String(entry.attempt);
      tags.root_run_id = entry.rootRunId;
    }
    if (entry.retryOf) tags.retry_of = entry.retryOf;
    try {
      const keys = resolveSelection(this.#graph as Graph<unknown>, entry.selection, exclude);
      if (keys.length === 0 && entry.resumeFrom) {
        this.#log.info(
          `worker: run ${entry.runId}: nothing left to run (every asset succeeded in ` +
            `${entry.resumeFrom})`,
        );
        return undefined;
      }
      const options = this.#options;
      return await materialize(this.#graph, {
        runId: entry.runId,
        selection: entry.selection,
        exclude,
        ...(entry.partitions ? { partitions: entry.partitions } : {}),
        tags,
        runStore: this.#store,
        clock: this.#clock,
        owner: this.#owner,
        heartbeatIntervalMs: this.#intervalMs,
        heartbeatTimeoutMs: this.#leaseMs,
        signal: hand.controller.signal,
        ...(options.resources ? { resources: options.resources } : {}),
        ...(options.stepConcurrency ? { concurrency: options.stepConcurrency } : {}),
        ...(this.#gate ? { stepGate: this.#gate } : {}),
      });
    } catch (error) {
      if (error instanceof PlatformError && error.code === "run_store.duplicate_run") {
        await this.#awaitEarlierClaimant(entry, hand);
        return undefined;
      }
      await this.#recordFailedStart(entry, tags, exclude, toError(error));
      return undefined;
    }
  }

  /**
   * The run this worker claimed is recorded already, and not by this worker:
   * an earlier claimant was killed with its record on the wire. The
   * coordinator found that claimant dead and no record, and queued the run
   * again; the record landed after (a dead client's last bytes still reach
   * the server). That record is the dead process's run: it is never run a
   * second time under its id. This worker waits until it is reaped (failed,
   * "owner process died": at once when its owner is gone from this host,
   * when its lease lapses otherwise), so that {@linkcode RunWorker.#finish}
   * retries it as any run lost with its process. Should it still be running
   * after two leases (its owner is alive after all, or the worker is
   * stopping), the claim is given back, and the entry is left to whoever
   * takes it next.
   */
  async #awaitEarlierClaimant(entry: QueuedRun, hand: InHand): Promise<void> {
    this.#log.warn(
      `worker: run ${entry.runId} was recorded by an earlier claimant that died; ` +
        "it is retried once that record is failed",
    );
    const host = { self: this.#owner, pidExists: this.#options.pidExists ?? thisHost().pidExists };
    const deadline = this.#clock.now() + 2 * this.#leaseMs;
    for (;;) {
      const run = await this.#store.getRun(entry.runId);
      if (run?.status !== "running") return;
      if (this.#clock.now() > deadline || hand.controller.signal.aborted) {
        hand.released = true;
        return;
      }
      await reapDeadRuns(this.#store, { clock: this.#clock, log: this.#log, host });
      if ((await this.#store.getRun(entry.runId))?.status !== "running") return;
      try {
        await waitOn(this.#clock, this.#intervalMs, hand.controller.signal);
      } catch {
        // Stopping: looked at once more above, then given back.
      }
    }
  }

  async #recordFailedStart(
    entry: QueuedRun,
    tags: Record<string, string>,
    exclude: string,
    error: Error,
  ): Promise<void> {
    this.#log.error(`worker: run ${entry.runId} could not start: ${error.message}`);
    if (await this.#store.getRun(entry.runId)) return;
    const now = this.#clock.now();
    await this.#store.createRun({
      runId: entry.runId,
      status: "failed",
      selection: [entry.selection, exclude ? `--exclude ${exclude}` : ""].filter(Boolean).join(" "),
      partitions: null,
      tags,
      startedAt: now,
      finishedAt: now,
      errorSummary: `could not start: ${error.message}`,
    });
    await this.#store.flush();
  }

  async #finish(entry: QueuedRun, hand: InHand, result: RunResult | undefined): Promise<void> {
    const now = this.#clock.now();
    const run = await this.#store.getRun(entry.runId);
    if (!run) {
      // Nothing to run (resumed past every asset): the chain ends here, successfully.
      await this.#queue.finish(
        entry.runId,
        `success: nothing left to run (every asset succeeded in ${entry.resumeFrom})`,
        now,
      );
      return;
    }
    if (run.status === "running") {
      // Not ended: the record of an earlier claimant, still running when this worker gave up
      // waiting (#awaitEarlierClaimant). Finishing the entry would end the chain with no
      // outcome; the claim is given back instead.
      if (await this.#queue.release(entry.runId)) {
        this.#log.warn(`worker: run ${entry.runId} is still running elsewhere; queued again`);
      }
      return;
    }
    const released = hand.released && run.status === "canceled";
    const retry = await planRetry(this.#store, entry, run, { released });
    const outcome = released
      ? `released: the worker shut down before it finished; queued again as ${retry?.runId}`
      : outcomeOf(run);
    crashPoint("worker.finish", entry.runId); // the run ended and recorded, its entry not yet
    const finished = await this.#queue.finish(entry.runId, outcome, now, retry);
    if (!finished) return; // a coordinator took it for dead and decided already
    const how = result ? `${result.status} in ${result.durationMs} ms` : run.status;
    this.#log[run.status === "success" ? "info" : "warn"](
      `run ${entry.runId} ${how}${run.errorSummary ? `: ${run.errorSummary}` : ""}` +
        (retry ? `; ${released ? "released as" : "retried as"} ${retry.runId}` : ""),
    );
  }
}
