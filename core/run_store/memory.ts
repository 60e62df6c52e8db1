/**
 * In-memory run store: the twin used by unit tests and `materialize()` when
 * no store is given. It also holds the input rules every run store applies
 * (`checkEvents`, `checkListRuns`, the error builders), so that the SQL
 * backends in `resources/run_store/` reject exactly what this one rejects.
 *
 * @module
 */

import type { Materialization } from "../asset.ts";
import { ResourceError } from "../errors.ts";
import type { Metadata } from "../metadata.ts";
import { toMaterialization } from "./materialization.ts";
import type {
  ListEventsOptions,
  ListRunsOptions,
  RunEvent,
  RunKeyClaim,
  RunRecord,
  RunStore,
  RunUpdate,
  StepRecord,
  StoredRunEvent,
} from "./types.ts";

/** An event whose payload is already serialized, ready to store. */
export interface SerializedEvent {
  /** The event as given. */
  readonly event: RunEvent;
  /** `JSON.stringify(event.data)`. */
  readonly data: string;
  /** The materialization it records, for `materialization` events. */
  readonly materialization: Materialization | undefined;
}

/**
 * Serializes and checks events before anything is stored, so a bad event
 * fails its own `appendEvents` call instead of a later buffered batch.
 *
 * @throws {TypeError} when a time is not one a `Date` can hold, a payload is not a JSON object, or a
 * `materialization` event has no asset key.
 */
export function checkEvents(events: readonly RunEvent[]): SerializedEvent[] {
  return events.map((event) => {
    if (!isTime(event.time)) {
      throw new TypeError(
        `Cannot append event '${event.type}' of run '${event.runId}': time must be milliseconds ` +
          `since the epoch, got ${event.time}`,
      );
    }
    let data: string | undefined;
    try {
      data = JSON.stringify(event.data);
    } catch (error) {
      throw new TypeError(
        `Cannot append event '${event.type}' of run '${event.runId}': its data is not JSON ` +
          `(${error instanceof Error ? error.message : String(error)})`,
        { cause: error },
      );
    }
    if (data === undefined || data[0] !== "{") {
      throw new TypeError(
        `Cannot append event '${event.type}' of run '${event.runId}': data must be an object`,
      );
    }
    if (event.type === "materialization" && event.assetKey === null) {
      throw new TypeError(
        `Cannot append a materialization of run '${event.runId}' without an asset key`,
      );
    }
    return {
      event,
      data,
      materialization: event.type === "materialization" ? toMaterialization(event) : undefined,
    };
  });
}

/** Largest distance from the epoch a `Date` can hold, in milliseconds. */
const MAX_TIME = 8.64e15;
const isTime = (value: unknown): boolean =>
  typeof value === "number" && Number.isFinite(value) && Math.abs(value) <= MAX_TIME;
const isOptionalTime = (value: unknown): boolean => value === null || isTime(value);

/**
 * Checks the numbers of a run before it is stored.
 *
 * @throws {TypeError} when `startedAt` is not a time a `Date` can hold or `finishedAt` is neither that nor `null`.
 */
export function checkRun(run: RunRecord): void {
  if (!isTime(run.startedAt) || !isOptionalTime(run.finishedAt)) {
    throw new TypeError(
      `Cannot record run '${run.runId}': startedAt and finishedAt must be milliseconds since ` +
        `the epoch, got ${run.startedAt} and ${run.finishedAt}`,
    );
  }
}

/**
 * Checks the numbers of an update before it is applied.
 *
 * @throws {TypeError} when `finishedAt` is given and is neither a time a `Date` can hold nor `null`.
 */
export function checkUpdate(runId: string, update: RunUpdate): void {
  if (update.finishedAt !== undefined && !isOptionalTime(update.finishedAt)) {
    throw new TypeError(
      `Cannot update run '${runId}': finishedAt must be milliseconds since the epoch or null, ` +
        `got ${update.finishedAt}`,
    );
  }
}

/**
 * Checks the numbers of a step before it is stored (or buffered).
 *
 * @throws {TypeError} when `attempts` is not a whole number >= 0 or a time is not one a `Date` can hold.
 */
export function checkStep(step: StepRecord): void {
  if (!Number.isSafeInteger(step.attempts) || step.attempts < 0) {
    throw new TypeError(
      `Cannot record step '${step.assetKey}' of run '${step.runId}': attempts must be a whole ` +
        `number >= 0, got ${step.attempts}`,
    );
  }
  if (!isOptionalTime(step.startedAt) || !isOptionalTime(step.finishedAt)) {
    throw new TypeError(
      `Cannot record step '${step.assetKey}' of run '${step.runId}': startedAt and finishedAt ` +
        `must be milliseconds since the epoch or null, got ${step.startedAt} and ${step.finishedAt}`,
    );
  }
}

/**
 * The `limit` of {@linkcode ListRunsOptions}, checked.
 *
 * @throws {RangeError} unless it is a whole number >= 1.
 */
export function checkListRuns(options: ListRunsOptions): number {
  const limit = options.limit ?? 20;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(`Cannot list runs: limit must be a whole number >= 1, got ${limit}`);
  }
  return limit;
}

/** The error for `createRun` of an id that is already recorded (code `run_store.duplicate_run`). */
export function duplicateRunError(runId: string, store: string): ResourceError {
  return new ResourceError(
    "run_store.duplicate_run",
    `Cannot record run '${runId}' in ${store}: a run with this id already exists; use a new id`,
    { input: runId },
  );
}

/** The error for `updateRun` of an id never recorded (code `run_store.unknown_run`). */
export function unknownRunError(runId: string, store: string): ResourceError {
  return new ResourceError(
    "run_store.unknown_run",
    `Cannot update run '${runId}' in ${store}: no such run; record it with createRun first`,
    { input: runId },
  );
}

/**
 * The step to store when `next` replaces `previous`: everything from `next`,
 * except that a start time once known is kept when `next` has none (a step
 * settled as canceled or skipped after it started still shows its duration).
 */
export function mergeStep(previous: StepRecord | undefined, next: StepRecord): StepRecord {
  return next.startedAt === null && previous?.startedAt != null
    ? { ...next, startedAt: previous.startedAt }
    : { ...next };
}

/** Newest first; runs started at the same instant by id, descending, so every backend agrees. */
function byRecency(a: RunRecord, b: RunRecord): number {
  return b.startedAt - a.startedAt || (a.runId < b.runId ? 1 : a.runId > b.runId ? -1 : 0);
}

const cloneTags = (tags: Readonly<Record<string, string>>) => ({ ...tags });

/** A {@linkcode RunStore} that lives and dies with the process. */
export class MemoryRunStore implements RunStore {
  /** Backend name. */
  readonly description = "memory";
  #runs = new Map<string, RunRecord>();
  #steps = new Map<string, Map<string, StepRecord>>();
  #events: StoredRunEvent[] = [];
  #latest = new Map<string, Materialization>();
  #cursors = new Map<string, string>();
  #runKeys = new Map<string, string>();
  #dynamic = new Map<string, string[]>();

  /** Records a new run; fails with `run_store.duplicate_run` when the id exists. */
  createRun(run: RunRecord): Promise<void> {
    try {
      checkRun(run);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#runs.has(run.runId)) {
      return Promise.reject(duplicateRunError(run.runId, this.description));
    }
    this.#runs.set(run.runId, { ...run, tags: cloneTags(run.tags) });
    return Promise.resolve();
  }

  /**
   * Updates a run: fields absent from `update` keep their value, `null`
   * clears them. Fails with `run_store.unknown_run` when the id was never recorded.
   */
  updateRun(runId: string, update: RunUpdate): Promise<void> {
    try {
      checkUpdate(runId, update);
    } catch (error) {
      return Promise.reject(error);
    }
    const run = this.#runs.get(runId);
    if (!run) return Promise.reject(unknownRunError(runId, this.description));
    this.#runs.set(runId, {
      ...run,
      status: update.status,
      ...(update.finishedAt !== undefined ? { finishedAt: update.finishedAt } : {}),
      ...(update.errorSummary !== undefined ? { errorSummary: update.errorSummary } : {}),
    });
    return Promise.resolve();
  }

  /** A run by id or unique prefix; `undefined` for an empty or ambiguous prefix. */
  getRun(runIdOrPrefix: string): Promise<RunRecord | undefined> {
    if (runIdOrPrefix === "") return Promise.resolve(undefined);
    const exact = this.#runs.get(runIdOrPrefix);
    if (exact) return Promise.resolve(copyRun(exact));
    const matches = [...this.#runs.values()].filter((run) => run.runId.startsWith(runIdOrPrefix));
    return Promise.resolve(matches.length === 1 && matches[0] ? copyRun(matches[0]) : undefined);
  }

  /** Runs, most recent first. */
  listRuns(options: ListRunsOptions = {}): Promise<RunRecord[]> {
    let limit: number;
    try {
      limit = checkListRuns(options);
    } catch (error) {
      return Promise.reject(error);
    }
    const runs = [...this.#runs.values()]
      .filter((run) => !options.status || run.status === options.status)
      .sort(byRecency);
    return Promise.resolve(runs.slice(0, limit).map(copyRun));
  }

  /** Inserts or replaces a step (keeping a known start time, see {@linkcode mergeStep}). */
  putStep(step: StepRecord): Promise<void> {
    try {
      checkStep(step);
    } catch (error) {
      return Promise.reject(error);
    }
    const steps = this.#steps.get(step.runId) ?? new Map<string, StepRecord>();
    const key = `${step.assetKey}\0${step.partition ?? ""}`;
    steps.set(key, mergeStep(steps.get(key), step));
    this.#steps.set(step.runId, steps);
    return Promise.resolve();
  }

  /** Steps of a run, in the order they were first recorded. */
  listSteps(runId: string): Promise<StepRecord[]> {
    return Promise.resolve([...(this.#steps.get(runId)?.values() ?? [])].map((s) => ({ ...s })));
  }

  /** Appends events; throws `TypeError` (and stores none) when one is not storable. */
  appendEvents(events: readonly RunEvent[]): Promise<void> {
    let checked: SerializedEvent[];
    try {
      checked = checkEvents(events);
    } catch (error) {
      return Promise.reject(error);
    }
    for (const { event, data, materialization } of checked) {
      // Stored as its JSON round trip, like the SQL stores, so later changes
      // to the caller's object never reach the record.
      this.#events.push({
        ...event,
        data: JSON.parse(data) as Metadata,
        id: this.#events.length + 1,
      });
      if (materialization) this.#remember(materialization, data);
    }
    return Promise.resolve();
  }

  /** Events of a run, in order. */
  listEvents(runId: string, options: ListEventsOptions = {}): Promise<StoredRunEvent[]> {
    return Promise.resolve(
      this.#events.filter((event) =>
        event.runId === runId && event.id > (options.afterId ?? 0) &&
        (!options.types || options.types.includes(event.type))
      ).map((event) => ({ ...event, data: structuredClone(event.data) })),
    );
  }

  /** Latest materialization (by time) of an asset, or of one partition of it. */
  lastMaterialization(
    assetKey: string,
    partition?: string | null,
  ): Promise<Materialization | undefined> {
    const found = this.#latest.get(
      partition === undefined ? assetKey : `${assetKey}\0${partition ?? ""}`,
    );
    return Promise.resolve(found && { ...found, metadata: structuredClone(found.metadata) });
  }

  /** Cursor of a sensor. */
  getCursor(sensor: string): Promise<string | undefined> {
    return Promise.resolve(this.#cursors.get(sensor));
  }

  /** Stores a cursor. */
  setCursor(sensor: string, cursor: string): Promise<void> {
    this.#cursors.set(sensor, cursor);
    return Promise.resolve();
  }

  /** Claims a run key. */
  claimRunKey(sensor: string, runKey: string, runId: string): Promise<RunKeyClaim> {
    const id = `${sensor}\0${runKey}`;
    const existing = this.#runKeys.get(id);
    if (existing !== undefined) return Promise.resolve({ claimed: false, runId: existing });
    this.#runKeys.set(id, runId);
    return Promise.resolve({ claimed: true, runId });
  }

  /** Adds dynamic partition keys; returns those that were new, in the order given. */
  addDynamicPartitions(name: string, keys: readonly string[]): Promise<string[]> {
    const existing = this.#dynamic.get(name) ?? [];
    const added = [...new Set(keys)].filter((key) => !existing.includes(key));
    this.#dynamic.set(name, [...existing, ...added]);
    return Promise.resolve(added);
  }

  /** Keys of a dynamic partitioning. */
  dynamicPartitions(name: string): Promise<string[]> {
    return Promise.resolve([...(this.#dynamic.get(name) ?? [])]);
  }

  /** Removes a dynamic partition key. */
  deleteDynamicPartition(name: string, key: string): Promise<void> {
    this.#dynamic.set(name, (this.#dynamic.get(name) ?? []).filter((k) => k !== key));
    return Promise.resolve();
  }

  /** Nothing is buffered. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to release. */
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }

  #remember(m: Materialization, data: string): void {
    const record = { ...m, metadata: (JSON.parse(data) as { metadata: Metadata }).metadata ?? {} };
    for (const key of [m.assetKey, `${m.assetKey}\0${m.partition ?? ""}`]) {
      const previous = this.#latest.get(key);
      if (!previous || record.time >= previous.time) this.#latest.set(key, record);
    }
  }
}

function copyRun(run: RunRecord): RunRecord {
  return { ...run, tags: cloneTags(run.tags) };
}
