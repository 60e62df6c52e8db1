/**
 * The in-memory run queue: the twin of the Postgres queue for unit tests and
 * for coordinators and workers sharing one process. Same states and the same
 * atomic moves (trivially: one JavaScript thread); dispatch hands launched
 * runs to the serving workers in admission order.
 *
 * @module
 */

import { admissionOrder } from "./admission.ts";
import {
  type AdmissionDecision,
  type AdmitOptions,
  checkNewQueuedRun,
  type Dispatcher,
  type Leadership,
  type LeadOptions,
  type ListQueueOptions,
  type NewQueuedRun,
  QUEUE_STATES,
  type QueuedRun,
  type QueueLimits,
  type QueueState,
  type RunQueue,
  type ServeOptions,
  type SlotHolder,
  type SlotRecord,
  type WorkerInfo,
  type WorkerRecord,
} from "./queue.ts";

interface Slot {
  readonly worker: WorkerInfo;
  readonly handler: ServeOptions["handler"];
  readonly active: Set<Promise<void>>;
  readonly abort: AbortController;
  stopping: boolean;
}

/**
 * Run queue held in memory.
 *
 * @example
 * ```ts
 * import { MemoryRunQueue } from "./memory_queue.ts";
 * await using queue = new MemoryRunQueue();
 * await queue.enqueue([{ runId: "r1", selection: "", partitions: null, tags: {} }], Date.now());
 * (await queue.get("r1"))?.state; // "queued"
 * ```
 */
export class MemoryRunQueue implements RunQueue {
  /** Backend name. */
  readonly description = "memory";
  readonly #runs = new Map<string, QueuedRun>();
  readonly #workers = new Map<string, WorkerRecord>();
  readonly #leaders = new Set<string>();
  readonly #listeners = new Set<() => void>();
  readonly #slots = new Set<Slot>();
  #poolSlots: SlotRecord[] = [];
  /** Launched runs not yet handed to a worker, in admission order. */
  readonly #undelivered: string[] = [];
  #seq = 0;
  #limits: QueueLimits | undefined;

  enqueue(runs: readonly NewQueuedRun[], now: number): Promise<string[]> {
    let checked;
    try {
      checked = runs.map(checkNewQueuedRun);
    } catch (error) {
      return Promise.reject(error);
    }
    const added: string[] = [];
    for (const run of checked) {
      if (this.#runs.has(run.runId)) continue;
      this.#runs.set(run.runId, {
        ...run,
        seq: ++this.#seq,
        state: "queued",
        enqueuedAt: now,
        launchedAt: null,
        startedAt: null,
        finishedAt: null,
        workerId: null,
        cancelRequested: null,
        outcome: null,
      });
      added.push(run.runId);
    }
    if (added.length > 0) this.#changed();
    return Promise.resolve(added);
  }

  get(runId: string): Promise<QueuedRun | undefined> {
    return Promise.resolve(this.#runs.get(runId));
  }

  list(options: ListQueueOptions = {}): Promise<QueuedRun[]> {
    const states = new Set(options.states ?? QUEUE_STATES);
    const limit = options.limit ?? 100;
    const wanted = [...this.#runs.values()].filter((r) =>
      states.has(r.state) && (options.workerId === undefined || r.workerId === options.workerId)
    );
    const waiting = wanted.filter((r) => r.state === "queued" || r.state === "launched")
      .sort(admissionOrder);
    const others = wanted.filter((r) => r.state !== "queued" && r.state !== "launched")
      .sort((a, b) => b.seq - a.seq);
    return Promise.resolve([...waiting, ...others].slice(0, limit));
  }

  counts(): Promise<Record<QueueState, number>> {
    const counts = Object.fromEntries(QUEUE_STATES.map((s) => [s, 0])) as Record<
      QueueState,
      number
    >;
    for (const run of this.#runs.values()) counts[run.state]++;
    return Promise.resolve(counts);
  }

  admit(decide: AdmissionDecision, options: AdmitOptions): Promise<string[]> {
    const all = [...this.#runs.values()];
    const active = all.filter((r) => r.state === "launched" || r.state === "started");
    const queued = all.filter((r) => r.state === "queued").sort(admissionOrder).slice(
      0,
      options.scanLimit ?? 1000,
    );
    const admitted: string[] = [];
    for (const runId of decide(queued, active)) {
      const run = this.#runs.get(runId);
      if (run?.state !== "queued") continue;
      this.#runs.set(runId, { ...run, state: "launched", launchedAt: options.now });
      this.#undelivered.push(runId);
      admitted.push(runId);
    }
    this.#deliver();
    return Promise.resolve(admitted);
  }

  claim(runId: string, workerId: string, now: number): Promise<QueuedRun | undefined> {
    const run = this.#runs.get(runId);
    if (run?.state === "started" && run.workerId === workerId) return Promise.resolve(run);
    if (run?.state !== "launched") return Promise.resolve(undefined);
    const claimed: QueuedRun = { ...run, state: "started", startedAt: now, workerId };
    this.#runs.set(runId, claimed);
    return Promise.resolve(claimed);
  }

  finish(runId: string, outcome: string, now: number, retry?: NewQueuedRun): Promise<boolean> {
    const run = this.#runs.get(runId);
    if (run?.state !== "started") return Promise.resolve(false);
    if (retry) {
      try {
        checkNewQueuedRun(retry); // fail before changing anything
      } catch (error) {
        return Promise.reject(error);
      }
    }
    this.#runs.set(runId, { ...run, state: "finished", finishedAt: now, outcome });
    if (retry) void this.enqueue([retry], now);
    this.#changed();
    return Promise.resolve(true);
  }

  release(runId: string): Promise<boolean> {
    const run = this.#runs.get(runId);
    if (run?.state !== "started") return Promise.resolve(false);
    this.#runs.set(runId, {
      ...run,
      state: "queued",
      launchedAt: null,
      startedAt: null,
      workerId: null,
    });
    this.#changed();
    return Promise.resolve(true);
  }

  cancel(runId: string, reason: string, now: number): Promise<QueuedRun | undefined> {
    const run = this.#runs.get(runId);
    if (!run) return Promise.resolve(undefined);
    let after = run;
    if (run.state === "queued" || run.state === "launched") {
      after = { ...run, state: "canceled", finishedAt: now, outcome: `canceled: ${reason}` };
      const at = this.#undelivered.indexOf(runId);
      if (at >= 0) this.#undelivered.splice(at, 1);
    } else if (run.state === "started" && run.cancelRequested === null) {
      after = { ...run, cancelRequested: reason };
    }
    this.#runs.set(runId, after);
    this.#changed();
    return Promise.resolve(after);
  }

  heartbeatWorker(
    worker: WorkerInfo,
    now: number,
    leaseMs: number,
    running: number,
    status: WorkerRecord["status"],
    _dispatchIds: readonly string[] = [],
  ): Promise<void> {
    const known = this.#workers.get(worker.workerId);
    this.#workers.set(worker.workerId, {
      ...worker,
      startedAt: known?.startedAt ?? now,
      heartbeatAt: now,
      leaseMs,
      running,
      status,
    });
    return Promise.resolve();
  }

  listWorkers(): Promise<WorkerRecord[]> {
    return Promise.resolve([...this.#workers.values()]);
  }

  forgetWorkers(workerIds: readonly string[]): Promise<void> {
    for (const id of workerIds) this.#workers.delete(id);
    const gone = new Set(workerIds);
    const before = this.#poolSlots.length;
    this.#poolSlots = this.#poolSlots.filter((s) => !gone.has(s.workerId));
    if (this.#poolSlots.length !== before) this.#changed();
    return Promise.resolve();
  }

  takeSlots(
    holder: SlotHolder,
    limits: Readonly<Record<string, number>>,
    now: number,
  ): Promise<boolean> {
    const limited = holder.pools.filter((pool) => limits[pool] !== undefined);
    if (this.#poolSlots.some((s) => s.holderId === holder.holderId)) return Promise.resolve(true);
    for (const pool of limited) {
      const used = this.#poolSlots.filter((s) => s.pool === pool).length;
      if (used >= (limits[pool] as number)) return Promise.resolve(false);
    }
    for (const pool of limited) {
      this.#poolSlots.push({
        pool,
        holderId: holder.holderId,
        runId: holder.runId,
        step: holder.step,
        workerId: holder.workerId,
        takenAt: now,
      });
    }
    return Promise.resolve(true);
  }

  giveSlots(holderId: string): Promise<void> {
    const before = this.#poolSlots.length;
    this.#poolSlots = this.#poolSlots.filter((s) => s.holderId !== holderId);
    if (this.#poolSlots.length !== before) this.#changed();
    return Promise.resolve();
  }

  listSlots(): Promise<SlotRecord[]> {
    return Promise.resolve([...this.#poolSlots]);
  }

  publishLimits(limits: QueueLimits): Promise<void> {
    this.#limits = limits;
    return Promise.resolve();
  }

  publishedLimits(): Promise<QueueLimits | undefined> {
    return Promise.resolve(this.#limits);
  }

  serve(options: ServeOptions): Promise<Dispatcher> {
    const slot: Slot = {
      worker: options.worker,
      handler: options.handler,
      active: new Set(),
      abort: new AbortController(),
      stopping: false,
    };
    this.#slots.add(slot);
    this.#deliver();
    return Promise.resolve({
      dispatchIds: () => [],
      stop: async (abortAfterMs: number) => {
        slot.stopping = true;
        const timer = setTimeout(() => slot.abort.abort(), abortAfterMs);
        try {
          while (slot.active.size > 0) await Promise.allSettled([...slot.active]);
        } finally {
          clearTimeout(timer);
          this.#slots.delete(slot);
        }
      },
    });
  }

  watch(listener: () => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return Promise.resolve();
    this.#listeners.add(listener);
    signal.addEventListener("abort", () => this.#listeners.delete(listener), { once: true });
    return Promise.resolve();
  }

  /** One process: `options.leaseMs` has nothing to free (no other process can be stopped). */
  tryLead(role: string, _options?: LeadOptions): Promise<Leadership | undefined> {
    if (this.#leaders.has(role)) return Promise.resolve(undefined);
    this.#leaders.add(role);
    let held = true;
    return Promise.resolve({
      held: () => Promise.resolve(held),
      release: () => {
        if (held) this.#leaders.delete(role);
        held = false;
        return Promise.resolve();
      },
    });
  }

  /** Nothing to close; serving workers are stopped by their owners. */
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }

  /** Hands undelivered launched runs to workers with free slots, in admission order. */
  #deliver(): void {
    while (this.#undelivered.length > 0) {
      const slot = [...this.#slots].find((s) =>
        !s.stopping && s.active.size < s.worker.concurrency
      );
      if (!slot) return;
      const runId = this.#undelivered.shift() as string;
      if (this.#runs.get(runId)?.state !== "launched") continue;
      // RunWorker's handler never throws (it records a failed run itself); another one's
      // rejection must not stop delivery to the other slots.
      const job: Promise<void> = slot.handler(runId, slot.abort.signal).catch(() => {})
        .finally(() => {
          slot.active.delete(job);
          this.#deliver();
        });
      slot.active.add(job);
    }
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }
}
