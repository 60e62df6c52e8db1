/**
 * The run queue: where launched runs wait until a coordinator admits them
 * within the concurrency limits and a worker executes them. This interface
 * carries nothing of Postgres or of the job library behind it; the server
 * implementation lives in `resources/queue/`, the twin in `./memory_queue.ts`.
 *
 * A queued run goes through these states, each move atomic across processes:
 *
 *     queued ──admit──▶ launched ──claim──▶ started ──finish──▶ finished
 *        │                 │                   │
 *        └──cancel──▶ canceled ◀──cancel───────┘ (started: a cancel request)
 *
 * `claim` is what makes a run execute on exactly one worker: only one caller
 * moves a run from `launched` to `started`. A run `started` by a worker that
 * died before recording it is `release`d back to `queued` (same run id).
 *
 * @module
 */

import type { PartitionSelection } from "../plan.ts";

/** Where a queued run stands. */
export type QueueState = "queued" | "launched" | "started" | "finished" | "canceled";

/** Every queue state, in lifecycle order. */
export const QUEUE_STATES: readonly QueueState[] = Object.freeze([
  "queued",
  "launched",
  "started",
  "finished",
  "canceled",
]);

/** A run to put in the queue. */
export interface NewQueuedRun {
  /** Id the run will have in the run store. */
  readonly runId: string;
  /** Selection, as for `materialize` (empty: every asset). */
  readonly selection: string;
  /** Assets left out, same syntax. @default {""} */
  readonly exclude?: string;
  /** Partition arguments, or `null`. */
  readonly partitions: PartitionSelection | null;
  /** Tags of the run; limits per tag count these. */
  readonly tags: Readonly<Record<string, string>>;
  /** Higher runs first; ties in the order queued (Dagster's `dagster/priority`). @default {0} */
  readonly priority?: number;
  /** Pools the run's steps use (resource keys); limits per pool count these. @default {[]} */
  readonly pools?: readonly string[];
  /** Times a failed run is retried as a new run (Dagster's run retries). @default {0} */
  readonly maxRetries?: number;
  /** Attempt number: 1 for a first run, 2 for its first retry... @default {1} */
  readonly attempt?: number;
  /** Id of the first run of the retry chain. @default {runId} */
  readonly rootRunId?: string;
  /** The run this one retries, or `null`. @default {null} */
  readonly retryOf?: string | null;
  /**
   * A run whose succeeded assets this one does not run again (resume from
   * failure), or `null` to run the whole selection. @default {null}
   */
  readonly resumeFrom?: string | null;
}

/** A run in the queue, as recorded. */
export interface QueuedRun extends Required<NewQueuedRun> {
  /** Increasing number given at enqueue: the order among equal priorities. */
  readonly seq: number;
  /** Current state. */
  readonly state: QueueState;
  /** Milliseconds since the epoch. */
  readonly enqueuedAt: number;
  /** When a coordinator admitted it, or `null`. */
  readonly launchedAt: number | null;
  /** When a worker claimed it, or `null`. */
  readonly startedAt: number | null;
  /** When it left the queue (finished or canceled), or `null`. */
  readonly finishedAt: number | null;
  /** Worker that claimed it, or `null`. */
  readonly workerId: string | null;
  /** A cancel asked while it ran (the reason), or `null`. */
  readonly cancelRequested: string | null;
  /** How it ended: the run's status and summary, or why it was canceled; `null` before. */
  readonly outcome: string | null;
}

/** A limit on runs carrying a tag. */
export interface TagLimit {
  /** Tag key, e.g. `group`. */
  readonly key: string;
  /**
   * Tag value the limit applies to; `null` counts every run having the key
   * together (any value).
   */
  readonly value: string | null;
  /** With `value` null: a separate limit for each distinct value (`key=*`). */
  readonly perValue: boolean;
  /** Most such runs launched or running at once. */
  readonly limit: number;
}

/** The coordinator's limits (Dagster's run coordinator settings). */
export interface QueueLimits {
  /** Most runs launched or running at once, or `null` for no limit. */
  readonly maxConcurrentRuns: number | null;
  /** Limits per tag. */
  readonly tagLimits: readonly TagLimit[];
  /** Most runs (or steps, see `poolGranularity`) using each pool at once, by pool name. */
  readonly poolLimits: Readonly<Record<string, number>>;
  /**
   * What a pool limit counts (Dagster's pool granularity): `run` = runs
   * using the pool, decided at admission; `step` = steps using it at once
   * across every worker (slots taken by each step, see {@linkcode PoolSlots}),
   * the runs being admitted whatever their pools. @default {"run"}
   */
  readonly poolGranularity?: "run" | "step";
}

/** A worker process, as it announces itself. */
export interface WorkerInfo {
  /** Unique per process life (the run owner's instance id). */
  readonly workerId: string;
  /** Host (pod, container) name. */
  readonly host: string;
  /** Process id there. */
  readonly pid: number;
  /** Runs it executes at once. */
  readonly concurrency: number;
}

/** A worker as recorded, with its liveness. */
export interface WorkerRecord extends WorkerInfo {
  /** When it announced itself first. */
  readonly startedAt: number;
  /** Its last heartbeat. */
  readonly heartbeatAt: number;
  /** Taken for dead with no heartbeat for this long after `heartbeatAt`. */
  readonly leaseMs: number;
  /** Runs it was executing at its last heartbeat. */
  readonly running: number;
  /** `stopping` once it began a graceful shutdown (takes no new run). */
  readonly status: "running" | "stopping";
}

/** Options of {@linkcode RunQueue.list}. */
export interface ListQueueOptions {
  /** Only runs in these states. @default {every state} */
  readonly states?: readonly QueueState[];
  /**
   * Only runs this worker claimed (`workerId`): what a worker checks on every
   * heartbeat, so its cost follows its own runs, not the queue's history.
   */
  readonly workerId?: string;
  /**
   * At most this many. Waiting runs (`queued`, `launched`) come in admission
   * order (priority, then seq); the others newest first.
   * @default {100}
   */
  readonly limit?: number;
}

/** What the coordinator's decision function sees and says. */
export type AdmissionDecision = (
  queued: readonly QueuedRun[],
  active: readonly Pick<QueuedRun, "runId" | "tags" | "pools">[],
) => readonly string[];

/** Options of {@linkcode RunQueue.admit}. */
export interface AdmitOptions {
  /** The coordinator's time. */
  readonly now: number;
  /** Queued runs looked at, at most, in admission order. @default {1000} */
  readonly scanLimit?: number;
}

/** Handles one dispatched run on a worker; resolves when the run has ended. */
export type DispatchHandler = (runId: string, signal: AbortSignal) => Promise<void>;

/** Options of {@linkcode RunQueue.serve}. */
export interface ServeOptions {
  /** This worker. */
  readonly worker: WorkerInfo;
  /** Called once per dispatched run. */
  readonly handler: DispatchHandler;
}

/** A worker's dispatch loop, from {@linkcode RunQueue.serve}. */
export interface Dispatcher {
  /**
   * Takes no new run; resolves when every handler in progress has returned.
   * Handlers get their signal aborted after `abortAfterMs`.
   */
  stop(abortAfterMs: number): Promise<void>;
  /** Ids the dispatch library gave this process's slots (for unlocking them if it dies). */
  readonly dispatchIds: () => readonly string[];
}

/** Options of {@linkcode RunQueue.tryLead}. */
export interface LeadOptions {
  /**
   * How long the lead outlives a holder that stopped asking `held()`: a
   * process stopped (SIGSTOP, a paused VM) or hung keeps its connection, and
   * with it a lock held by the connection alone, for as long as it is
   * stopped, so no standby could ever take over. After this long without a
   * `held()`, the lead is given up for it. Ask `held()` well within it.
   * @default {no limit: held until released or the connection is gone}
   */
  readonly leaseMs?: number;
}

/**
 * The lease of a lead (see {@linkcode LeadOptions.leaseMs}) for processes
 * whose runs heartbeat every `heartbeatIntervalMs`: three heartbeats, and at
 * least 10 s, so a busy but live leader is not taken for stopped.
 */
export function leadLeaseMs(heartbeatIntervalMs: number): number {
  return Math.max(10_000, 3 * heartbeatIntervalMs);
}

/** Leadership of a named role (sensor daemon, coordinator), from {@linkcode RunQueue.tryLead}. */
export interface Leadership {
  /** Whether it is still held (the connection holding it is alive). */
  held(): Promise<boolean>;
  /** Gives it up. */
  release(): Promise<void>;
}

/**
 * The queue of launched runs, shared by every process on one run store.
 * Every method is atomic across processes.
 */
export interface RunQueue extends AsyncDisposable {
  /** Human-readable name of the backend, without secrets. */
  readonly description: string;
  /**
   * Adds runs in state `queued`; a run id already in the queue is left as it
   * is. Returns the ids added.
   * @throws {TypeError} on a bad priority, retry count or attempt.
   */
  enqueue(runs: readonly NewQueuedRun[], now: number): Promise<string[]>;
  /** A queued run by id, or `undefined`. */
  get(runId: string): Promise<QueuedRun | undefined>;
  /** Runs in the queue (see {@linkcode ListQueueOptions}). */
  list(options?: ListQueueOptions): Promise<QueuedRun[]>;
  /** How many runs are in each state. */
  counts(): Promise<Record<QueueState, number>>;
  /**
   * Admits runs: under one lock across processes, reads the active runs
   * (`launched`, `started`) and the first queued ones, asks `decide` which to
   * admit, moves those to `launched` and hands them to the workers.
   * Returns the ids admitted.
   */
  admit(decide: AdmissionDecision, options: AdmitOptions): Promise<string[]>;
  /**
   * Moves a `launched` run to `started` for `workerId`; `undefined` when it is
   * not `launched`. A run `started` by the same `workerId` is returned again,
   * its `startedAt` unchanged: a claim whose answer was lost (the server
   * restarted as it committed) is delivered again to the worker that made it,
   * which would otherwise never run it while heartbeating, so no one else
   * would either.
   */
  claim(runId: string, workerId: string, now: number): Promise<QueuedRun | undefined>;
  /**
   * Moves a `started` run to `finished` with its outcome, and enqueues
   * `retry` in the same transaction. `false` when it was not `started`
   * (another process finished it).
   */
  finish(runId: string, outcome: string, now: number, retry?: NewQueuedRun): Promise<boolean>;
  /**
   * Frees the delivery of `launched` runs whose job a worker took (locked)
   * more than `olderThanMs` ago without claiming the run: the answer of the
   * fetch was lost (the server restarted as it committed), so the live worker
   * holding the lock never got the job, and the library would keep it for
   * hours. Any worker may then take it; `claim` keeps it exactly once.
   * Returns the run ids freed. Optional: a queue whose delivery cannot lose
   * a fetch has nothing to free.
   */
  unlockStaleDeliveries?(olderThanMs: number): Promise<string[]>;
  /** Moves a `started` run back to `queued` (its worker never recorded it); `false` otherwise. */
  release(runId: string): Promise<boolean>;
  /**
   * Cancels a `queued` or `launched` run (it becomes `canceled`), or records
   * a cancel request on a `started` one. Returns the run after, or
   * `undefined` when unknown.
   */
  cancel(runId: string, reason: string, now: number): Promise<QueuedRun | undefined>;
  /** Records that `worker` is alive (upsert); `running` runs in hand. */
  heartbeatWorker(
    worker: WorkerInfo,
    now: number,
    leaseMs: number,
    running: number,
    status: WorkerRecord["status"],
    dispatchIds: readonly string[],
  ): Promise<void>;
  /** The workers that announced themselves, with their liveness. */
  listWorkers(): Promise<WorkerRecord[]>;
  /**
   * Forgets dead workers: removes their records and frees what the dispatch
   * library held for them, so their undelivered runs go to another worker.
   */
  forgetWorkers(workerIds: readonly string[]): Promise<void>;
  /** Stores the limits the coordinator applies, for `queue` listings elsewhere. */
  publishLimits(limits: QueueLimits, now: number): Promise<void>;
  /** The limits last published, or `undefined`. */
  publishedLimits(): Promise<QueueLimits | undefined>;
  /** Starts delivering launched runs to `handler` on this worker. */
  serve(options: ServeOptions): Promise<Dispatcher>;
  /**
   * Calls `listener` soon after the queue changed in any process (runs
   * enqueued, finished, canceled), until `signal` aborts: wakes the
   * coordinator without polling.
   */
  watch(listener: () => void, signal: AbortSignal): Promise<void>;
  /**
   * Takes leadership of `role` if no live process holds it; `undefined`
   * otherwise. Held until released, this process dies, or (with
   * `options.leaseMs`) `held()` is not asked for that long.
   */
  tryLead(role: string, options?: LeadOptions): Promise<Leadership | undefined>;
  /**
   * Step-level pools: takes one slot of each of `holder.pools` for the
   * holder when every one of them has a free slot under `limits` (all or
   * none, atomically across processes); `false` when one is full. A pool
   * without a limit needs no slot.
   */
  takeSlots(
    holder: SlotHolder,
    limits: Readonly<Record<string, number>>,
    now: number,
  ): Promise<boolean>;
  /** Gives back the slots of `holderId` and wakes the steps waiting for them. */
  giveSlots(holderId: string): Promise<void>;
  /** Slots held now (also those of dead workers until `forgetWorkers` frees them). */
  listSlots(): Promise<SlotRecord[]>;
}

/** A step asking for pool slots. */
export interface SlotHolder {
  /** Unique per step execution (run, asset, partition). */
  readonly holderId: string;
  /** Run id. */
  readonly runId: string;
  /** Asset key (and partition), for listings. */
  readonly step: string;
  /** The worker executing it: its slots are freed when the worker is forgotten as dead. */
  readonly workerId: string;
  /** Pools it uses. */
  readonly pools: readonly string[];
}

/** One slot held. */
export interface SlotRecord {
  /** Pool. */
  readonly pool: string;
  /** Holder id. */
  readonly holderId: string;
  /** Run id. */
  readonly runId: string;
  /** Step. */
  readonly step: string;
  /** Worker. */
  readonly workerId: string;
  /** When it was taken (ms). */
  readonly takenAt: number;
}

/**
 * What a queued run builds, as one line for people (`queue list`, the UI's
 * queue page): its selection, exclusion and partitions, e.g.
 * `marts/* --exclude marts/slow [2024-05-01..2024-05-07]`.
 */
export function selectionText(run: QueuedRun): string {
  const parts = [run.selection || "(all)"];
  if (run.exclude) parts.push(`--exclude ${run.exclude}`);
  if (run.partitions?.keys) parts.push(`[${run.partitions.keys.join(",")}]`);
  else if (run.partitions?.from || run.partitions?.to) {
    parts.push(`[${run.partitions.from ?? ""}..${run.partitions.to ?? ""}]`);
  }
  return parts.join(" ");
}

/** Checks the numbers of a new queued run; throws `TypeError` naming the field. */
export function checkNewQueuedRun(run: NewQueuedRun): Required<NewQueuedRun> {
  const whole = (name: string, value: number, min: number) => {
    if (!Number.isSafeInteger(value) || value < min) {
      throw new TypeError(
        `Cannot queue run '${run.runId}': ${name} must be a whole number >= ${min}, got ${value}`,
      );
    }
  };
  if (typeof run.runId !== "string" || run.runId.trim() === "") {
    throw new TypeError("Cannot queue a run without a run id");
  }
  const priority = run.priority ?? 0;
  whole("priority", priority, Number.MIN_SAFE_INTEGER);
  const maxRetries = run.maxRetries ?? 0;
  whole("maxRetries", maxRetries, 0);
  const attempt = run.attempt ?? 1;
  whole("attempt", attempt, 1);
  return {
    runId: run.runId,
    selection: run.selection,
    exclude: run.exclude ?? "",
    partitions: run.partitions,
    tags: { ...run.tags },
    priority,
    pools: [...new Set(run.pools ?? [])].sort(),
    maxRetries,
    attempt,
    rootRunId: run.rootRunId ?? run.runId,
    retryOf: run.retryOf ?? null,
    resumeFrom: run.resumeFrom ?? null,
  };
}
