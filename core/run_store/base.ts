/**
 * {@linkcode RunStoreBase}: what every run store does before and after its
 * storage, written once. A backend (the memory twin here, SQLite and Postgres
 * in `resources/run_store/`) extends it and implements only the storage
 * operations; the base checks every input first (a bad one fails its own call
 * with `TypeError`/`RangeError` and stores nothing) and turns "no row"
 * answers into the typed errors of the {@linkcode RunStore} contract. This is
 * Kysely's split between a thin driver and shared logic, and the object
 * store's `DerivedOperations`.
 *
 * @module
 */

import type { Materialization } from "../asset.ts";
import {
  checkAutomationRecords,
  checkAutomationState,
  checkCancelRequest,
  checkEvents,
  checkHeartbeat,
  checkLimit,
  checkListAssetEvents,
  checkListRuns,
  checkListTicks,
  checkReap,
  checkRun,
  checkStep,
  checkTicks,
  checkUpdate,
  duplicateRunError,
  type SerializedAutomationRecord,
  type SerializedEvent,
  unknownRunError,
} from "./_validate.ts";
import type {
  AutomationRecord,
  AutomationState,
  AutomationStateChange,
  CancelRequest,
  EventFeedOptions,
  HeartbeatReply,
  ListAssetEventsOptions,
  ListAutomationRecordsOptions,
  ListEventsOptions,
  ListRunsOptions,
  ListTicksOptions,
  NewRun,
  NewTick,
  ReapOptions,
  RunCursor,
  RunEvent,
  RunEventType,
  RunKeyClaim,
  RunOwner,
  RunRecord,
  RunStatus,
  RunStore,
  RunUpdate,
  StepRecord,
  StoredAutomationRecord,
  StoredRunEvent,
  TickRecord,
} from "./types.ts";

export {
  checkEvents,
  describeOwner,
  mergeStep,
  ownerIsGone,
  reapedRun,
  reapedStep,
  reapEvent,
  type SerializedAutomationRecord,
  type SerializedEvent,
  tickCollapses,
} from "./_validate.ts";

/** What {@linkcode RunStoreBase.readEventsAfter} selects (checked). */
export interface EventFeedFilter {
  /** Only events with a larger id. */
  readonly afterId: number;
  /** Only these kinds, or all. */
  readonly types: readonly string[] | undefined;
  /** At most this many, oldest first. */
  readonly limit: number;
}

/** What {@linkcode RunStoreBase.readAutomationRecords} selects (checked). */
export interface AutomationRecordFilter {
  /** Only this kind, or all. */
  readonly kind: string | undefined;
  /** Only this asset, or all. */
  readonly assetKey: string | undefined;
  /** Only ids below this, or all. */
  readonly beforeId: number | undefined;
  /** Only ids above this, or all. */
  readonly afterId: number | undefined;
  /** At most this many, newest first. */
  readonly limit: number;
}

/** What {@linkcode RunStoreBase.readRuns} selects (checked). */
export interface RunFilter {
  /** At most this many, newest first. */
  readonly limit: number;
  /** Only this status. */
  readonly status: RunStatus | undefined;
  /** Only runs with every one of these tags at exactly this value. */
  readonly tags: Readonly<Record<string, string>> | undefined;
  /** Only runs with a step of this asset. */
  readonly asset: string | undefined;
  /** Only runs started at or after (ms). */
  readonly startedFrom: number | undefined;
  /** Only runs started before (ms). */
  readonly startedBefore: number | undefined;
  /** Only runs after this one in the list's order. */
  readonly after: RunCursor | undefined;
}

/** What {@linkcode RunStoreBase.readAssetEvents} selects (checked). */
export interface AssetEventFilter {
  /** Asset key. */
  readonly assetKey: string;
  /** Only these kinds, or every kind. */
  readonly types: readonly RunEventType[] | undefined;
  /** `undefined`: any partition; `null`: events without one. */
  readonly partition: string | null | undefined;
  /** Only ids below. */
  readonly beforeId: number | undefined;
  /** At most this many, newest first. */
  readonly limit: number;
}

/** Whether `run` comes after `cursor` in the list's order (older, ties by smaller id). */
export function isAfter(run: { startedAt: number; runId: string }, cursor: RunCursor): boolean {
  return run.startedAt < cursor.startedAt ||
    (run.startedAt === cursor.startedAt && run.runId < cursor.runId);
}

/** Runs `check` and then `work`, so a throwing check becomes a rejection. */
function after<T>(check: () => void, work: () => Promise<T>): Promise<T> {
  try {
    check();
  } catch (error) {
    return Promise.reject(error);
  }
  return work();
}

/**
 * The shared half of a {@linkcode RunStore}. Subclasses implement the
 * protected storage operations; the public methods validate, then call them.
 *
 * @example
 * ```ts
 * import { MemoryRunStore } from "./memory.ts";
 * import { RunStoreBase } from "./base.ts";
 * const store = new MemoryRunStore();
 * store instanceof RunStoreBase; // true
 * await store.putStep({
 *   runId: "r1", assetKey: "a", partition: null, status: "pending",
 *   attempts: -1, startedAt: null, finishedAt: null, reason: null,
 * }).catch((error) => error instanceof TypeError); // true: attempts must be >= 0
 * ```
 */
export abstract class RunStoreBase implements RunStore {
  /** Human-readable name of the backend, e.g. `sqlite .state/runs.db`. */
  abstract readonly description: string;

  /** See {@linkcode RunStore.createRun}. */
  createRun(run: NewRun): Promise<void> {
    let record: RunRecord;
    return after(() => void (record = checkRun(run)), async () => {
      if (!(await this.insertRun(record))) throw duplicateRunError(run.runId, this.description);
    });
  }

  /** See {@linkcode RunStore.updateRun}. */
  updateRun(runId: string, update: RunUpdate): Promise<void> {
    return after(() => checkUpdate(runId, update), async () => {
      if (!(await this.writeRunUpdate(runId, update))) {
        throw unknownRunError(runId, this.description);
      }
    });
  }

  /** See {@linkcode RunStore.getRun}. */
  getRun(runIdOrPrefix: string): Promise<RunRecord | undefined> {
    if (runIdOrPrefix === "") return Promise.resolve(undefined);
    return this.readRun(runIdOrPrefix);
  }

  /** See {@linkcode RunStore.listRuns}. */
  listRuns(options: ListRunsOptions = {}): Promise<RunRecord[]> {
    let limit = 0;
    return after(
      () => void (limit = checkListRuns(options)),
      () =>
        this.readRuns({
          limit,
          status: options.status,
          tags: options.tags,
          asset: options.asset,
          startedFrom: options.startedFrom,
          startedBefore: options.startedBefore,
          after: options.after,
        }),
    );
  }

  /** See {@linkcode RunStore.listAssetEvents}. */
  listAssetEvents(
    assetKey: string,
    options: ListAssetEventsOptions = {},
  ): Promise<StoredRunEvent[]> {
    let limit = 0;
    return after(
      () => void (limit = checkListAssetEvents(assetKey, options)),
      () =>
        this.readAssetEvents({
          assetKey,
          types: options.types,
          partition: options.partition,
          beforeId: options.beforeId,
          limit,
        }),
    );
  }

  /** See {@linkcode RunStore.setAutomationState}. */
  setAutomationState(name: string, change: AutomationStateChange): Promise<AutomationState> {
    return after(() => checkAutomationState(name, change), () =>
      this.writeAutomationState({
        name,
        enabled: change.enabled,
        updatedAt: change.time,
        updatedBy: change.by ?? null,
      }));
  }

  /** See {@linkcode RunStore.automationStates}. */
  automationStates(): Promise<AutomationState[]> {
    return this.readAutomationStates();
  }

  /** See {@linkcode RunStore.recordTicks}. */
  recordTicks(ticks: readonly NewTick[]): Promise<void> {
    return after(
      () => checkTicks(ticks),
      () =>
        ticks.length === 0 ? Promise.resolve() : this.writeTicks(ticks.map((tick) => ({
          ...tick,
          runIds: [...tick.runIds],
          duplicateKeys: [...tick.duplicateKeys],
        }))),
    );
  }

  /** See {@linkcode RunStore.listTicks}. */
  listTicks(name: string, options: ListTicksOptions = {}): Promise<TickRecord[]> {
    let limit = 0;
    return after(
      () => void (limit = checkListTicks(name, options)),
      () => this.readTicks(name, options.beforeId, limit),
    );
  }

  /** See {@linkcode RunStore.putStep}. */
  putStep(step: StepRecord): Promise<void> {
    return after(() => checkStep(step), () => this.writeStep({ ...step }));
  }

  /** See {@linkcode RunStore.listSteps}. */
  listSteps(runId: string): Promise<StepRecord[]> {
    return this.readSteps(runId);
  }

  /** See {@linkcode RunStore.appendEvents}. */
  appendEvents(events: readonly RunEvent[]): Promise<void> {
    let checked: SerializedEvent[] = [];
    // Serialized now: later changes to the caller's objects never reach the store.
    return after(() => void (checked = checkEvents(events)), () => this.writeEvents(checked));
  }

  /** See {@linkcode RunStore.listEvents}. */
  listEvents(runId: string, options: ListEventsOptions = {}): Promise<StoredRunEvent[]> {
    return this.readEvents(runId, options);
  }

  /** See {@linkcode RunStore.listEventsAfter}. */
  listEventsAfter(afterId: number, options: EventFeedOptions = {}): Promise<StoredRunEvent[]> {
    let limit = 0;
    return after(() => {
      limit = checkLimit(options.limit, 10_000, "read the event feed");
      if (!Number.isSafeInteger(afterId)) {
        throw new TypeError(
          `Cannot read the event feed after id ${afterId}: expected a whole number`,
        );
      }
    }, () => this.readEventsAfter({ afterId, types: options.types, limit }));
  }

  /** See {@linkcode RunStore.listMaterializations}. */
  listMaterializations(assetKey: string): Promise<Materialization[]> {
    return this.readMaterializations(assetKey);
  }

  /** See {@linkcode RunStore.appendAutomationRecords}. */
  appendAutomationRecords(records: readonly AutomationRecord[]): Promise<void> {
    let checked: SerializedAutomationRecord[] = [];
    return after(
      () => void (checked = checkAutomationRecords(records)),
      () => checked.length === 0 ? Promise.resolve() : this.writeAutomationRecords(checked),
    );
  }

  /** See {@linkcode RunStore.listAutomationRecords}. */
  listAutomationRecords(
    options: ListAutomationRecordsOptions = {},
  ): Promise<StoredAutomationRecord[]> {
    let limit = 0;
    return after(
      () => void (limit = checkLimit(options.limit, 100, "list automation records")),
      () =>
        this.readAutomationRecords({
          kind: options.kind,
          assetKey: options.assetKey,
          beforeId: options.beforeId,
          afterId: options.afterId,
          limit,
        }),
    );
  }

  /** See {@linkcode RunStore.lastMaterialization}. */
  lastMaterialization(
    assetKey: string,
    partition?: string | null,
  ): Promise<Materialization | undefined> {
    return this.readLastMaterialization(assetKey, partition);
  }

  /** See {@linkcode RunStore.heartbeat}. */
  heartbeat(owner: RunOwner, runIds: readonly string[], time: number): Promise<HeartbeatReply> {
    return after(
      () => checkHeartbeat(owner, runIds, time),
      () => this.writeHeartbeat(owner, [...new Set(runIds)], time),
    );
  }

  /** See {@linkcode RunStore.requestCancel}. */
  requestCancel(runId: string, request: CancelRequest): Promise<boolean> {
    return after(
      () => checkCancelRequest(runId, request),
      () => this.writeCancelRequest(runId, request),
    );
  }

  /** See {@linkcode RunStore.reapRuns}. */
  reapRuns(options: ReapOptions): Promise<RunRecord[]> {
    return after(() => checkReap(options), () => this.reap(options));
  }

  /** See {@linkcode RunStore.getCursor}. */
  abstract getCursor(sensor: string): Promise<string | undefined>;
  /** See {@linkcode RunStore.setCursor}. */
  abstract setCursor(sensor: string, cursor: string): Promise<void>;
  /** See {@linkcode RunStore.claimRunKey}. */
  abstract claimRunKey(sensor: string, runKey: string, runId: string): Promise<RunKeyClaim>;
  /** See {@linkcode RunStore.getRunKey}. */
  abstract getRunKey(sensor: string, runKey: string): Promise<string | undefined>;
  /** See {@linkcode RunStore.addDynamicPartitions}. */
  abstract addDynamicPartitions(name: string, keys: readonly string[]): Promise<string[]>;
  /** See {@linkcode RunStore.dynamicPartitions}. */
  abstract dynamicPartitions(name: string): Promise<string[]>;
  /** See {@linkcode RunStore.deleteDynamicPartition}. */
  abstract deleteDynamicPartition(name: string, key: string): Promise<void>;
  /** See {@linkcode RunStore.flush}. */
  abstract flush(): Promise<void>;
  /** Releases the backend (after writing anything buffered). */
  abstract [Symbol.asyncDispose](): Promise<void>;

  /** Stores a new run (checked, ownership fields filled); `false` when its id is taken. Not buffered. */
  protected abstract insertRun(run: RunRecord): Promise<boolean>;
  /**
   * Applies a (checked) update, merging `tags` into the run's; `false` when no
   * run has the id. Not buffered.
   */
  protected abstract writeRunUpdate(runId: string, update: RunUpdate): Promise<boolean>;
  /** The run with this id, or the only one whose id starts with it (never `""`). */
  protected abstract readRun(runIdOrPrefix: string): Promise<RunRecord | undefined>;
  /** The runs `filter` selects, newest first, ties by run id descending. */
  protected abstract readRuns(filter: RunFilter): Promise<RunRecord[]>;
  /** The events `filter` selects, newest first. */
  protected abstract readAssetEvents(filter: AssetEventFilter): Promise<StoredRunEvent[]>;
  /** Stores a (checked) state, replacing the one of the same name. Not buffered. */
  protected abstract writeAutomationState(state: AutomationState): Promise<AutomationState>;
  /** Every stored state, by name. */
  protected abstract readAutomationStates(): Promise<AutomationState[]>;
  /**
   * Records (checked, copied) ticks in order, atomically, each collapsing into
   * its name's latest record when `tickCollapses` says so, and drops records
   * beyond the newest `TICK_HISTORY` of each name. Not buffered.
   */
  protected abstract writeTicks(ticks: readonly NewTick[]): Promise<void>;
  /** Tick records of `name` with an id below `beforeId`, newest first, at most `limit`. */
  protected abstract readTicks(
    name: string,
    beforeId: number | undefined,
    limit: number,
  ): Promise<TickRecord[]>;
  /** See {@linkcode RunStore.heartbeat}; `runIds` are distinct. Not buffered. */
  protected abstract writeHeartbeat(
    owner: RunOwner,
    runIds: readonly string[],
    time: number,
  ): Promise<HeartbeatReply>;
  /** See {@linkcode RunStore.requestCancel}. Not buffered. */
  protected abstract writeCancelRequest(runId: string, request: CancelRequest): Promise<boolean>;
  /**
   * See {@linkcode RunStore.reapRuns}: atomically, with `ownerIsGone`,
   * `reapedRun`, `reapedStep` and `reapEvent` deciding what becomes of each run.
   */
  protected abstract reap(options: ReapOptions): Promise<RunRecord[]>;
  /** Inserts or replaces a (checked, copied) step, keeping a known start time (`mergeStep`). */
  protected abstract writeStep(step: StepRecord): Promise<void>;
  /** Steps of a run, in the order they were first recorded. */
  protected abstract readSteps(runId: string): Promise<StepRecord[]>;
  /** Stores serialized events, and the materializations they record. */
  protected abstract writeEvents(events: readonly SerializedEvent[]): Promise<void>;
  /** Events of a run, in order, filtered as `options` says. */
  protected abstract readEvents(
    runId: string,
    options: ListEventsOptions,
  ): Promise<StoredRunEvent[]>;
  /** Events of every run after `filter.afterId`, oldest first. */
  protected abstract readEventsAfter(filter: EventFeedFilter): Promise<StoredRunEvent[]>;
  /** Latest materialization of every partition of an asset. */
  protected abstract readMaterializations(assetKey: string): Promise<Materialization[]>;
  /** Stores checked automation records, at once. */
  protected abstract writeAutomationRecords(
    records: readonly SerializedAutomationRecord[],
  ): Promise<void>;
  /** Automation records `filter` selects, newest first. */
  protected abstract readAutomationRecords(
    filter: AutomationRecordFilter,
  ): Promise<StoredAutomationRecord[]>;
  /** Latest materialization (by time) of an asset, or of one partition of it. */
  protected abstract readLastMaterialization(
    assetKey: string,
    partition: string | null | undefined,
  ): Promise<Materialization | undefined>;
}
