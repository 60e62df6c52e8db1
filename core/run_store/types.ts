/**
 * The run store: where runs, steps, events, sensor cursors and dynamic
 * partitions are recorded. Implementations live in `resources/run_store/`;
 * this interface carries nothing specific to SQLite or Postgres.
 *
 * @module
 */

import type { Materialization } from "../asset.ts";
import type { Metadata } from "../metadata.ts";

import type { RunStatus, StepStatus } from "./status.ts";

export type { RunStatus, StepStatus } from "./status.ts";

/**
 * The process executing a run. It heartbeats while the run goes on; when it
 * stops (killed, machine gone), any process that notices fails the run (see
 * {@linkcode RunStore.reapRuns}).
 */
export interface RunOwner {
  /** Random id of one process's life: a restarted process (same host and pid) has another. */
  readonly instanceId: string;
  /** Host name of the machine (in Kubernetes or Docker, the pod or container). */
  readonly host: string;
  /** Process id on that host. */
  readonly pid: number;
}

/** A run as recorded. */
export interface RunRecord {
  /** Unique id. */
  readonly runId: string;
  /** Current status. */
  readonly status: RunStatus;
  /** Selection string the run was asked for (empty means all). */
  readonly selection: string;
  /** Partition arguments, as text (e.g. `2024-01-01..2024-01-31`), or `null`. */
  readonly partitions: string | null;
  /** Free tags, e.g. `{ sensor: "manifests", run_key: "b1:etag" }`. */
  readonly tags: Readonly<Record<string, string>>;
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
  /** Milliseconds since the epoch, or `null` while running. */
  readonly finishedAt: number | null;
  /** Short summary of what failed, or `null`. */
  readonly errorSummary: string | null;
  /**
   * The process executing the run, or `null` (recorded before runs had
   * owners, or never executed, e.g. a launch that failed to start).
   */
  readonly owner: RunOwner | null;
  /** Milliseconds since the epoch of the owner's last heartbeat, or `null` without owner. */
  readonly heartbeatAt: number | null;
  /**
   * The owner's lease: with no heartbeat for this long after `heartbeatAt`,
   * the owner is taken for dead. `null` without owner.
   */
  readonly heartbeatTimeoutMs: number | null;
  /** When another process asked the run to cancel (milliseconds since the epoch), or `null`. */
  readonly cancelRequestedAt: number | null;
  /** Why the cancel was asked (who asked), or `null`. */
  readonly cancelReason: string | null;
}

/** The fields of a {@linkcode RunRecord} that {@linkcode RunStore.createRun} may leave out. */
export type RunOwnershipFields =
  | "owner"
  | "heartbeatAt"
  | "heartbeatTimeoutMs"
  | "cancelRequestedAt"
  | "cancelReason";

/**
 * A run to record: a {@linkcode RunRecord} whose ownership fields are
 * optional. Without `owner` the run has none (all five are `null`); with one,
 * `heartbeatTimeoutMs` is required and `heartbeatAt` defaults to `startedAt`.
 */
export type NewRun =
  & Omit<RunRecord, RunOwnershipFields>
  & Partial<Pick<RunRecord, RunOwnershipFields>>;

/** One step (an asset, or one partition of it) of a run. */
export interface StepRecord {
  /** Run id. */
  readonly runId: string;
  /** Asset key. */
  readonly assetKey: string;
  /** Partition key, or `null`. */
  readonly partition: string | null;
  /** Current status. */
  readonly status: StepStatus;
  /** Attempts made so far. */
  readonly attempts: number;
  /** Milliseconds since the epoch, or `null` if it never started. */
  readonly startedAt: number | null;
  /** Milliseconds since the epoch, or `null`. */
  readonly finishedAt: number | null;
  /** Why it was skipped or failed, or `null`. */
  readonly reason: string | null;
}

/** Kinds of run events. */
export type RunEventType =
  | "run_started"
  | "run_finished"
  | "step_started"
  | "step_retry"
  | "step_success"
  | "step_failed"
  | "step_skipped"
  | "step_canceled"
  | "materialization"
  | "check"
  | "log"
  /** Queue mode: the run entered the queue (written by the queue, before any run record). */
  | "run_queued"
  /** Queue mode: the run left the queue without a run record (canceled while waiting...). */
  | "run_dequeued";

/** One event of a run. Failures carry `message` and `stack` in `data`. */
export interface RunEvent {
  /** Run id. */
  readonly runId: string;
  /** Kind of event. */
  readonly type: RunEventType;
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** Asset key, or `null` for run-level events. */
  readonly assetKey: string | null;
  /** Partition key, or `null`. */
  readonly partition: string | null;
  /** Event payload: metadata, check result, log line, error. */
  readonly data: Metadata;
}

/** A stored event with its sequence number. */
export interface StoredRunEvent extends RunEvent {
  /** Increasing id, unique per store. */
  readonly id: number;
}

/** Options of {@linkcode RunStore.listRuns}. */
export interface ListRunsOptions {
  /**
   * Most recent first, at most this many.
   * @default {20}
   */
  readonly limit?: number;
  /** Only runs with this status. */
  readonly status?: RunStatus;
  /** Only runs having every one of these tags with exactly this value. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Only runs with a step of this asset. */
  readonly asset?: string;
  /** Only runs started at or after this time (milliseconds since the epoch). */
  readonly startedFrom?: number;
  /** Only runs started before this time (milliseconds since the epoch). */
  readonly startedBefore?: number;
  /**
   * Only runs after this one in the list's order (older, or started at the
   * same instant with a smaller id): pass the last run of a page to get the
   * next page. A page costs the same wherever it is in the history.
   */
  readonly after?: RunCursor;
}

/** A position in the run list: the last run of a page ({@linkcode ListRunsOptions.after}). */
export interface RunCursor {
  /** The run's start, milliseconds since the epoch. */
  readonly startedAt: number;
  /** The run's id. */
  readonly runId: string;
}

/** Options of {@linkcode RunStore.listAssetEvents}. */
export interface ListAssetEventsOptions {
  /** Only these kinds. @default {every kind} */
  readonly types?: readonly RunEventType[];
  /** Only events of this partition (`null`: only events without one). */
  readonly partition?: string | null;
  /** Only events with a smaller id: pass the last id of a page to get the next. */
  readonly beforeId?: number;
  /**
   * At most this many, newest first.
   * @default {100}
   */
  readonly limit?: number;
}

/** Whether a sensor or schedule is on, as last set (see {@linkcode RunStore.setAutomationState}). */
export interface AutomationState {
  /** Sensor or schedule name. */
  readonly name: string;
  /** `false`: the daemon does not evaluate it. */
  readonly enabled: boolean;
  /** When it was set (milliseconds since the epoch). */
  readonly updatedAt: number;
  /** Who set it (e.g. `ui`, `ui (ana)`), or `null`. */
  readonly updatedBy: string | null;
}

/** A change of {@linkcode AutomationState}. */
export interface AutomationStateChange {
  /** On or off. */
  readonly enabled: boolean;
  /** When (milliseconds since the epoch). */
  readonly time: number;
  /** Who. */
  readonly by?: string;
}

/**
 * What one evaluation of a sensor or schedule came to: it `requested` runs
 * (maybe none new), `skipped` (with its reason), `failed` (with the error),
 * or was not evaluated because it is `off`.
 */
export type TickStatus = "requested" | "skipped" | "failed" | "off";

/** A tick to record (see {@linkcode RunStore.recordTicks}). */
export interface NewTick {
  /** Sensor or schedule name. */
  readonly name: string;
  /** Which of the two. */
  readonly kind: "sensor" | "schedule";
  /** When it was evaluated (milliseconds since the epoch). */
  readonly time: number;
  /** What it came to. */
  readonly status: TickStatus;
  /** Runs it launched. */
  readonly runIds: readonly string[];
  /** Run keys it asked for that were claimed before (not launched again). */
  readonly duplicateKeys: readonly string[];
  /** Why it skipped, failed or is off; what else happened (request errors, relaunches). */
  readonly reason: string | null;
  /** The cursor it stored, when it moved. */
  readonly cursor: string | null;
}

/**
 * A recorded tick. Consecutive ticks of one sensor that launched nothing,
 * moved no cursor and came to the same status and reason are one record:
 * `count` ticks from `time` to `lastTime`.
 */
export interface TickRecord extends NewTick {
  /** Increasing id, unique per store. */
  readonly id: number;
  /** Time of the latest tick this record stands for. */
  readonly lastTime: number;
  /** How many ticks it stands for (>= 1). */
  readonly count: number;
}

/** Options of {@linkcode RunStore.listTicks}. */
export interface ListTicksOptions {
  /** Only records with a smaller id: pass the last id of a page to get the next. */
  readonly beforeId?: number;
  /**
   * At most this many, newest first.
   * @default {50}
   */
  readonly limit?: number;
}

/** Tick records kept per sensor or schedule; older ones are dropped as new ones come. */
export const TICK_HISTORY = 1000;

/** Options of {@linkcode RunStore.listEvents}. */
export interface ListEventsOptions {
  /** Only these kinds. */
  readonly types?: readonly RunEventType[];
  /** Only events after this id, for tailing. */
  readonly afterId?: number;
}

/** Options of {@linkcode RunStore.listEventsAfter}. */
export interface EventFeedOptions {
  /** Only these kinds. */
  readonly types?: readonly RunEventType[];
  /**
   * At most this many, oldest first.
   * @default {10000}
   */
  readonly limit?: number;
}

/**
 * Kinds of automation records: one condition evaluation of an asset in a
 * tick (`evaluation`), a tick of the automation evaluator (`tick`), a
 * freshness check result (`freshness`), a notification attempt
 * (`notification`).
 */
export type AutomationRecordKind = "evaluation" | "tick" | "freshness" | "notification";

/** One record of the automation: what it decided or did, and why. */
export interface AutomationRecord {
  /** What kind of record. */
  readonly kind: AutomationRecordKind;
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** Asset the record is about, or `null` (ticks, run notifications). */
  readonly assetKey: string | null;
  /** Who made it: the condition label, the freshness check or the notifier name. */
  readonly name: string;
  /** The record itself (condition tree, result, delivery outcome...), JSON. */
  readonly data: Metadata;
}

/** A stored automation record with its sequence number. */
export interface StoredAutomationRecord extends AutomationRecord {
  /** Increasing id, unique per store. */
  readonly id: number;
}

/** Options of {@linkcode RunStore.listAutomationRecords}. */
export interface ListAutomationRecordsOptions {
  /** Only this kind. */
  readonly kind?: AutomationRecordKind;
  /** Only records about this asset. */
  readonly assetKey?: string;
  /** Only records with a smaller id (paging back through history). */
  readonly beforeId?: number;
  /** Only records with a larger id (tailing). */
  readonly afterId?: number;
  /**
   * At most this many, newest first.
   * @default {100}
   */
  readonly limit?: number;
}

/** A run key claimed by a sensor, so it never runs twice. */
export interface RunKeyClaim {
  /** Whether this call claimed it (false: it was claimed before). */
  readonly claimed: boolean;
  /** Run id recorded with the key. */
  readonly runId: string;
}

/** Changes to a run once it ends. */
export interface RunUpdate {
  /** New status. */
  readonly status: RunStatus;
  /** Milliseconds since the epoch. */
  readonly finishedAt?: number | null;
  /** Short failure summary. */
  readonly errorSummary?: string | null;
  /** Tags to set (added, or replacing the value of the same key); the others are kept. */
  readonly tags?: Readonly<Record<string, string>>;
}

/** What an owner learns from {@linkcode RunStore.heartbeat}. */
export interface HeartbeatReply {
  /** Runs of the call that another process asked to cancel, with the reason given. */
  readonly cancelRequested: readonly { readonly runId: string; readonly reason: string }[];
  /**
   * Runs of the call this owner no longer holds: they ended, were failed by a
   * reaper that took the owner for dead (it was paused or cut off longer than
   * its lease), or are not its own. The owner must stop them and not record
   * their end: another process already did.
   */
  readonly lost: readonly string[];
}

/** A request that a running run stop, from a process other than its owner. */
export interface CancelRequest {
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** Why, and who asks, e.g. `canceled from the UI by ana`. */
  readonly reason: string;
}

/** Options of {@linkcode RunStore.reapRuns}. */
export interface ReapOptions {
  /** The reaper's time, milliseconds since the epoch: leases that ended before it have lapsed. */
  readonly now: number;
  /**
   * Owners known dead whatever their lease says (their process is gone from
   * this host), by {@linkcode RunOwner.instanceId}.
   * @default {[]}
   */
  readonly deadOwners?: readonly string[];
  /**
   * Owners known alive whatever their lease says (the reaping process
   * itself), by {@linkcode RunOwner.instanceId}: a wall clock stepped forward
   * (NTP, a VM resumed) makes every lease look lapsed until its owner's next
   * heartbeat, and a live run must not be failed for it.
   * @default {[]}
   */
  readonly liveOwners?: readonly string[];
  /** Who reaps, recorded in the reaped runs' events. */
  readonly reaper?: RunOwner;
}

/** The tag {@linkcode RunStore.reapRuns} sets on a reaped run, to `pending` (see there). */
export const OWNER_LOST_TAG = "owner_lost";

/**
 * Persistence of runs. Writes may be buffered; reads see every write made
 * before them through the same store, and `flush()` makes them durable and
 * visible to other processes.
 */
export interface RunStore extends AsyncDisposable {
  /** Human-readable name of the backend, e.g. `sqlite .state/runs.db`. */
  readonly description: string;
  /**
   * Records a new run, at once (not buffered).
   * @throws {PlatformError} `run_store.duplicate_run` when the id is taken.
   * @throws {TypeError} on a bad time, or an owner without a positive `heartbeatTimeoutMs`.
   */
  createRun(run: NewRun): Promise<void>;
  /**
   * Updates status, end time and error summary of a run, at once: a field left
   * out keeps its value, `null` clears it.
   * @throws {PlatformError} `run_store.unknown_run` when no run has that id.
   */
  updateRun(runId: string, update: RunUpdate): Promise<void>;
  /** A run by id (or unique id prefix), or `undefined`. */
  getRun(runIdOrPrefix: string): Promise<RunRecord | undefined>;
  /**
   * Runs, most recent first (ties by run id).
   * @throws {RangeError} when `limit` is below 1.
   */
  listRuns(options?: ListRunsOptions): Promise<RunRecord[]>;
  /**
   * Inserts or replaces the step of (run, asset, partition); a replacement
   * without a start time keeps the known one.
   * @throws {TypeError} on a non-finite time or attempt count.
   */
  putStep(step: StepRecord): Promise<void>;
  /** Steps of a run, in the order they were first recorded. */
  listSteps(runId: string): Promise<StepRecord[]>;
  /**
   * Appends events; `materialization` events also update the latest materialization.
   * @throws {TypeError} when an event's data is not JSON.
   */
  appendEvents(events: readonly RunEvent[]): Promise<void>;
  /** Events of a run, in order. */
  listEvents(runId: string, options?: ListEventsOptions): Promise<StoredRunEvent[]>;
  /**
   * Events of every run with an id above `afterId`, oldest first: the feed
   * the automation evaluator tails. Ids are committed in increasing order,
   * so a reader that keeps the last id it saw never misses an event.
   * @throws {RangeError} when `limit` is below 1.
   */
  listEventsAfter(afterId: number, options?: EventFeedOptions): Promise<StoredRunEvent[]>;
  /** The latest materialization of every partition of `assetKey` (one, when unpartitioned). */
  listMaterializations(assetKey: string): Promise<Materialization[]>;
  /**
   * Appends automation records (evaluations, ticks, freshness results,
   * notification attempts), at once (not buffered).
   * @throws {TypeError} when a record's time or data is not valid.
   */
  appendAutomationRecords(records: readonly AutomationRecord[]): Promise<void>;
  /**
   * Automation records, newest first.
   * @throws {RangeError} when `limit` is below 1.
   */
  listAutomationRecords(options?: ListAutomationRecordsOptions): Promise<StoredAutomationRecord[]>;
  /**
   * Latest materialization (newest by time) of `assetKey`: of `partition` when
   * given (a string or `null` for unpartitioned), otherwise of any partition.
   */
  lastMaterialization(
    assetKey: string,
    partition?: string | null,
  ): Promise<Materialization | undefined>;
  /** Cursor of a sensor, or `undefined`. */
  getCursor(sensor: string): Promise<string | undefined>;
  /** Stores the cursor of a sensor. */
  setCursor(sensor: string, cursor: string): Promise<void>;
  /** Claims `runKey` for `sensor` atomically, across processes. */
  claimRunKey(sensor: string, runKey: string, runId: string): Promise<RunKeyClaim>;
  /**
   * The run id recorded with `runKey` when `sensor` claimed it (see
   * {@linkcode RunStore.claimRunKey}), or `undefined` when it never was.
   * Reads only: claims nothing.
   */
  getRunKey(sensor: string, runKey: string): Promise<string | undefined>;
  /** Adds keys to a dynamic partitioning; returns those that were new. */
  addDynamicPartitions(name: string, keys: readonly string[]): Promise<string[]>;
  /** Keys of a dynamic partitioning, in the order added. */
  dynamicPartitions(name: string): Promise<string[]>;
  /** Removes a key from a dynamic partitioning. */
  deleteDynamicPartition(name: string, key: string): Promise<void>;
  /** Writes anything buffered. */
  flush(): Promise<void>;
  /**
   * The time on the store's server, milliseconds since the epoch, for a
   * store that processes on several machines share: leases are judged by
   * times different machines write, so they read the time from one clock
   * (`alignClock` in core/clock.ts). Absent for a store of one machine.
   */
  serverTime?(): Promise<number>;

  /**
   * The owner's heartbeat: sets `heartbeatAt = time` on those of `runIds` it
   * still runs (status `running`, same `owner.instanceId`), and answers what
   * the owner must act on (cancel requests, runs it lost). At once (not buffered).
   */
  heartbeat(owner: RunOwner, runIds: readonly string[], time: number): Promise<HeartbeatReply>;
  /**
   * Asks the owner of a running run to cancel it, from any process: the
   * owner sees the request at its next heartbeat and cancels as on Ctrl-C.
   * The first request's time and reason are kept. At once (not buffered).
   *
   * @returns `false` when no running run has this id (unknown, or already ended).
   */
  requestCancel(runId: string, request: CancelRequest): Promise<boolean>;
  /**
   * Fails every running run whose owner is gone: its lease lapsed
   * (`heartbeatAt + heartbeatTimeoutMs < now`) or it is in `deadOwners`.
   * Atomic per run, across processes: two reapers never both reap one run.
   * A reaped run gets status `failed`, `finishedAt = now`, an error summary
   * starting `owner process died`, and the tag {@linkcode OWNER_LOST_TAG}
   * `pending` (for whoever relaunches lost runs, who replaces it with its
   * decision); its steps still `running` become `failed` and those `pending`
   * become `canceled`, with the reason; a `run_finished` event records it all.
   * Runs without owner are never reaped.
   *
   * @returns the runs reaped by this call, as recorded after reaping.
   */
  reapRuns(options: ReapOptions): Promise<RunRecord[]>;

  /**
   * Events of one asset over every run, newest first (by id), filtered and
   * paged as `options` says: the history of its materializations and checks.
   * @throws {RangeError} when `limit` is below 1 or `beforeId` is not a whole number.
   */
  listAssetEvents(assetKey: string, options?: ListAssetEventsOptions): Promise<StoredRunEvent[]>;
  /**
   * Turns a sensor or schedule on or off, at once and for every process (the
   * daemon reads it each tick); returns the state stored.
   * @throws {TypeError} on an empty name or a bad time.
   */
  setAutomationState(name: string, change: AutomationStateChange): Promise<AutomationState>;
  /** Every state ever set, by name. A sensor or schedule never set is on. */
  automationStates(): Promise<AutomationState[]>;
  /**
   * Records ticks of sensors and schedules, at once, collapsing a tick into
   * its sensor's latest record when neither launched anything nor moved the
   * cursor and both came to the same status and reason (see
   * {@linkcode TickRecord}); keeps the newest {@linkcode TICK_HISTORY} records
   * per name.
   * @throws {TypeError} on an empty name, a bad time or a run id that is not a string.
   */
  recordTicks(ticks: readonly NewTick[]): Promise<void>;
  /**
   * Tick records of one sensor or schedule, newest first.
   * @throws {RangeError} when `limit` is below 1 or `beforeId` is not a whole number.
   */
  listTicks(name: string, options?: ListTicksOptions): Promise<TickRecord[]>;
}
