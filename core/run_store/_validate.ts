/**
 * The input rules every run store applies, written once: {@linkcode RunStoreBase}
 * runs them before any backend sees a call, so the memory twin, SQLite and
 * Postgres reject exactly the same things with the same messages.
 *
 * @module
 */

import type { Materialization } from "../asset.ts";
import { ResourceError, toError } from "../errors.ts";
import { toMaterialization } from "./materialization.ts";
import { parseRunStatus, parseStepStatus } from "./status.ts";
import {
  type AutomationRecord,
  type AutomationRecordKind,
  type AutomationStateChange,
  type CancelRequest,
  type ListAssetEventsOptions,
  type ListRunsOptions,
  type ListTicksOptions,
  type NewRun,
  type NewTick,
  OWNER_LOST_TAG,
  type ReapOptions,
  type RunEvent,
  type RunOwner,
  type RunRecord,
  type RunStatus,
  type RunUpdate,
  type StepRecord,
  type TickRecord,
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
          `(${toError(error).message})`,
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
 * Checks a new run and fills in its ownership fields: the record to store.
 *
 * @throws {TypeError} when `startedAt` is not a time a `Date` can hold,
 * `finishedAt` is neither that nor `null`, a tag is not a string, or an owner
 * is malformed or comes without a positive whole `heartbeatTimeoutMs`.
 * @throws {InvalidStatusError} when the status is not one of `runStatusSchema`'s.
 */
export function checkRun(run: NewRun): RunRecord {
  const fail = (what: string): never => {
    throw new TypeError(`Cannot record run '${run.runId}': ${what}`);
  };
  const status = parseRunStatus(run.status, `run '${run.runId}'`);
  if (!isTime(run.startedAt) || !isOptionalTime(run.finishedAt)) {
    fail(
      `startedAt and finishedAt must be milliseconds since the epoch, got ${run.startedAt} and ` +
        `${run.finishedAt}`,
    );
  }
  checkTags(run.tags, fail);
  const owner = run.owner ?? null;
  if (owner !== null) {
    checkOwner(owner, fail);
    const timeout = run.heartbeatTimeoutMs;
    if (typeof timeout !== "number" || !Number.isSafeInteger(timeout) || timeout < 1) {
      fail(`an owned run needs heartbeatTimeoutMs, whole milliseconds >= 1, got ${timeout}`);
    }
  }
  const heartbeatAt = owner === null ? null : run.heartbeatAt ?? run.startedAt;
  if (!isOptionalTime(heartbeatAt) || !isOptionalTime(run.cancelRequestedAt ?? null)) {
    fail("heartbeatAt and cancelRequestedAt must be milliseconds since the epoch or null");
  }
  return {
    runId: run.runId,
    status,
    selection: run.selection,
    partitions: run.partitions,
    tags: { ...run.tags },
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
    errorSummary: run.errorSummary,
    owner: owner === null
      ? null
      : { instanceId: owner.instanceId, host: owner.host, pid: owner.pid },
    heartbeatAt,
    heartbeatTimeoutMs: owner === null ? null : run.heartbeatTimeoutMs ?? null,
    cancelRequestedAt: run.cancelRequestedAt ?? null,
    cancelReason: run.cancelReason ?? null,
  };
}

function checkTags(tags: unknown, fail: (what: string) => never): void {
  if (typeof tags !== "object" || tags === null || Array.isArray(tags)) {
    fail("tags must be an object of strings");
  }
  for (const [key, value] of Object.entries(tags as object)) {
    if (typeof value !== "string") fail(`tag '${key}' must be a string, got ${typeof value}`);
  }
}

function checkOwner(owner: RunOwner, fail: (what: string) => never): void {
  if (
    typeof owner !== "object" || owner === null || typeof owner.instanceId !== "string" ||
    owner.instanceId === "" || typeof owner.host !== "string" ||
    !Number.isSafeInteger(owner.pid) || owner.pid < 0
  ) {
    fail("owner must be { instanceId, host, pid } with a non-empty instanceId and a pid >= 0");
  }
}

/**
 * Checks the numbers of an update before it is applied.
 *
 * @throws {TypeError} when `finishedAt` is given and is neither a time a `Date` can hold nor `null`.
 * @throws {InvalidStatusError} when the status is not one of `runStatusSchema`'s.
 */
export function checkUpdate(runId: string, update: RunUpdate): void {
  const fail = (what: string): never => {
    throw new TypeError(`Cannot update run '${runId}': ${what}`);
  };
  parseRunStatus(update.status, `run '${runId}'`);
  if (update.finishedAt !== undefined && !isOptionalTime(update.finishedAt)) {
    fail(`finishedAt must be milliseconds since the epoch or null, got ${update.finishedAt}`);
  }
  if (update.tags !== undefined) checkTags(update.tags, fail);
}

/**
 * Checks the arguments of a heartbeat.
 *
 * @throws {TypeError} on a malformed owner, run id list or time.
 */
export function checkHeartbeat(owner: RunOwner, runIds: readonly string[], time: number): void {
  const fail = (what: string): never => {
    throw new TypeError(`Cannot record a heartbeat: ${what}`);
  };
  checkOwner(owner, fail);
  if (!Array.isArray(runIds) || runIds.some((id) => typeof id !== "string")) {
    fail("runIds must be an array of run ids");
  }
  if (!isTime(time)) fail(`time must be milliseconds since the epoch, got ${time}`);
}

/**
 * Checks a cancel request.
 *
 * @throws {TypeError} on a bad time or an empty reason.
 */
export function checkCancelRequest(runId: string, request: CancelRequest): void {
  if (!isTime(request?.time) || typeof request.reason !== "string" || request.reason === "") {
    throw new TypeError(
      `Cannot ask run '${runId}' to cancel: the request needs a time (milliseconds since the ` +
        "epoch) and a reason",
    );
  }
}

/**
 * Checks the options of a reap.
 *
 * @throws {TypeError} on a bad time, owner list or reaper.
 */
export function checkReap(options: ReapOptions): void {
  const fail = (what: string): never => {
    throw new TypeError(`Cannot reap runs: ${what}`);
  };
  if (!isTime(options?.now)) fail(`now must be milliseconds since the epoch, got ${options?.now}`);
  const dead = options.deadOwners ?? [];
  if (!Array.isArray(dead) || dead.some((id) => typeof id !== "string" || id === "")) {
    fail("deadOwners must be an array of owner instance ids");
  }
  if (options.reaper !== undefined) checkOwner(options.reaper, fail);
}

/** Whether `run` is running under an owner that is gone: its lease lapsed, or it is known dead. */
export function ownerIsGone(
  run: RunRecord,
  now: number,
  deadOwners: readonly string[] = [],
  liveOwners: readonly string[] = [],
): boolean {
  if (run.status !== "running" || run.owner === null) return false;
  if (deadOwners.includes(run.owner.instanceId)) return true;
  if (liveOwners.includes(run.owner.instanceId)) return false;
  return run.heartbeatAt !== null && run.heartbeatTimeoutMs !== null &&
    run.heartbeatAt + run.heartbeatTimeoutMs < now;
}

/** `host pid N` of an owner, for messages. */
export function describeOwner(owner: RunOwner): string {
  return `${owner.host} pid ${owner.pid}`;
}

/** The record of a run once reaped at `now` (see `RunStore.reapRuns`). */
export function reapedRun(run: RunRecord, now: number, known: boolean): RunRecord {
  const owner = run.owner as RunOwner;
  const last = run.heartbeatAt === null ? "never" : new Date(run.heartbeatAt).toISOString();
  const why = known
    ? `process ${describeOwner(owner)} is gone`
    : `no heartbeat from ${describeOwner(owner)} since ${last}`;
  return {
    ...run,
    status: "failed" as RunStatus,
    finishedAt: now,
    errorSummary: `owner process died (${why})`,
    tags: { ...run.tags, [OWNER_LOST_TAG]: "pending" },
  };
}

/** What a step of a reaped run becomes, or `undefined` when it had ended. */
export function reapedStep(step: StepRecord, now: number): StepRecord | undefined {
  if (step.status === "running") {
    return { ...step, status: "failed", finishedAt: now, reason: "owner process died" };
  }
  if (step.status === "pending") {
    return { ...step, status: "canceled", finishedAt: now, reason: "owner process died" };
  }
  return undefined;
}

/** The event recording a reap. */
export function reapEvent(run: RunRecord, now: number, reaper: RunOwner | undefined): RunEvent {
  return {
    runId: run.runId,
    type: "run_finished",
    time: now,
    assetKey: null,
    partition: null,
    data: {
      status: "failed",
      reason: run.errorSummary,
      reaped: true,
      ...(reaper ? { reaper: describeOwner(reaper) } : {}),
    },
  };
}

/**
 * Checks the numbers of a step before it is stored (or buffered).
 *
 * @throws {TypeError} when `attempts` is not a whole number >= 0 or a time is not one a `Date` can hold.
 * @throws {InvalidStatusError} when the status is not one of `stepStatusSchema`'s.
 */
export function checkStep(step: StepRecord): void {
  parseStepStatus(step.status, `step '${step.assetKey}' of run '${step.runId}'`);
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
  const fail = (what: string): never => {
    throw new TypeError(`Cannot list runs: ${what}`);
  };
  if (options.status !== undefined) parseRunStatus(options.status, "a run list's filter");
  if (options.tags !== undefined) checkTags(options.tags, fail);
  if (options.asset !== undefined && (typeof options.asset !== "string" || options.asset === "")) {
    fail("asset must be a non-empty asset key");
  }
  for (const name of ["startedFrom", "startedBefore"] as const) {
    const value = options[name];
    if (value !== undefined && !isTime(value)) {
      fail(`${name} must be milliseconds since the epoch, got ${value}`);
    }
  }
  const after = options.after;
  if (
    after !== undefined &&
    (typeof after !== "object" || after === null || !isTime(after.startedAt) ||
      typeof after.runId !== "string")
  ) {
    fail("after must be { startedAt, runId } of a listed run");
  }
  return limit;
}

/**
 * A `limit` option, checked: a whole number >= 1, `fallback` when absent.
 *
 * @throws {RangeError} naming `what` otherwise.
 */
export function checkLimit(limit: number | undefined, fallback: number, what: string): number {
  const value = limit ?? fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`Cannot ${what}: limit must be a whole number >= 1, got ${value}`);
  }
  return value;
}

/** An automation record whose data is already serialized, ready to store. */
export interface SerializedAutomationRecord {
  /** The record as given. */
  readonly record: AutomationRecord;
  /** `JSON.stringify(record.data)`. */
  readonly data: string;
}

/**
 * Serializes and checks automation records before anything is stored.
 *
 * @throws {TypeError} on a bad time, kind or name, or data that is not a JSON object.
 */
export function checkAutomationRecords(
  records: readonly AutomationRecord[],
): SerializedAutomationRecord[] {
  return records.map((record) => {
    const fail = (what: string): never => {
      throw new TypeError(`Cannot append automation record '${record?.name}': ${what}`);
    };
    if (!AUTOMATION_KINDS.includes(record.kind)) fail(`unknown kind '${record.kind}'`);
    if (!isTime(record.time)) fail(`time must be milliseconds since the epoch, got ${record.time}`);
    if (typeof record.name !== "string" || record.name === "") fail("name must be a string");
    if (record.assetKey !== null && typeof record.assetKey !== "string") {
      fail("assetKey must be a string or null");
    }
    let data: string | undefined;
    try {
      data = JSON.stringify(record.data);
    } catch (error) {
      fail(`its data is not JSON (${toError(error).message})`);
    }
    if (data === undefined || data[0] !== "{") fail("data must be an object");
    return { record, data: data as string };
  });
}

const AUTOMATION_KINDS: readonly AutomationRecordKind[] = [
  "evaluation",
  "tick",
  "freshness",
  "notification",
];

/**
 * The `limit` of {@linkcode ListAssetEventsOptions}, checked.
 *
 * @throws {RangeError} unless `limit` is a whole number >= 1 and `beforeId` a whole number.
 */
export function checkListAssetEvents(assetKey: string, options: ListAssetEventsOptions): number {
  const limit = options.limit ?? 100;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(
      `Cannot list the events of '${assetKey}': limit must be a whole number >= 1, got ${limit}`,
    );
  }
  if (options.beforeId !== undefined && !Number.isSafeInteger(options.beforeId)) {
    throw new RangeError(
      `Cannot list the events of '${assetKey}': beforeId must be an event id, got ${options.beforeId}`,
    );
  }
  return limit;
}

/**
 * Checks a change of a sensor's or schedule's state.
 *
 * @throws {TypeError} on an empty name, a non-boolean `enabled` or a bad time.
 */
export function checkAutomationState(name: string, change: AutomationStateChange): void {
  const fail = (what: string): never => {
    throw new TypeError(`Cannot turn '${name}' on or off: ${what}`);
  };
  if (typeof name !== "string" || name === "") fail("the name must be a non-empty string");
  if (typeof change?.enabled !== "boolean") fail("enabled must be true or false");
  if (!isTime(change.time)) fail(`time must be milliseconds since the epoch, got ${change.time}`);
  if (change.by !== undefined && typeof change.by !== "string") fail("by must be a string");
}

const TICK_STATUSES: readonly string[] = ["requested", "skipped", "failed", "off"];

/**
 * Checks ticks before any is recorded.
 *
 * @throws {TypeError} on an empty name, an unknown kind or status, a bad time,
 * or run ids, keys, reason or cursor of the wrong type.
 */
export function checkTicks(ticks: readonly NewTick[]): void {
  for (const tick of ticks) {
    const fail = (what: string): never => {
      throw new TypeError(`Cannot record a tick of '${tick?.name}': ${what}`);
    };
    if (typeof tick?.name !== "string" || tick.name === "") fail("the name must be non-empty");
    if (tick.kind !== "sensor" && tick.kind !== "schedule") fail("kind must be sensor or schedule");
    if (!TICK_STATUSES.includes(tick.status)) {
      fail(`status must be one of ${TICK_STATUSES.join(", ")}, got ${tick.status}`);
    }
    if (!isTime(tick.time)) fail(`time must be milliseconds since the epoch, got ${tick.time}`);
    for (const list of [tick.runIds, tick.duplicateKeys]) {
      if (!Array.isArray(list) || list.some((id) => typeof id !== "string")) {
        fail("runIds and duplicateKeys must be arrays of strings");
      }
    }
    if (tick.reason !== null && typeof tick.reason !== "string") fail("reason must be a string");
    if (tick.cursor !== null && typeof tick.cursor !== "string") fail("cursor must be a string");
  }
}

/**
 * The `limit` of {@linkcode ListTicksOptions}, checked.
 *
 * @throws {RangeError} unless `limit` is a whole number >= 1 and `beforeId` a whole number.
 */
export function checkListTicks(name: string, options: ListTicksOptions): number {
  const limit = options.limit ?? 50;
  if (!Number.isSafeInteger(limit) || limit < 1) {
    throw new RangeError(
      `Cannot list the ticks of '${name}': limit must be a whole number >= 1, got ${limit}`,
    );
  }
  if (options.beforeId !== undefined && !Number.isSafeInteger(options.beforeId)) {
    throw new RangeError(
      `Cannot list the ticks of '${name}': beforeId must be a tick id, got ${options.beforeId}`,
    );
  }
  return limit;
}

/**
 * Whether `tick` is one more of `latest` (the newest record of its sensor):
 * neither launched a run or moved the cursor, and both came to the same
 * status, reason and duplicate keys.
 */
export function tickCollapses(latest: TickRecord | undefined, tick: NewTick): boolean {
  return latest !== undefined && latest.status === tick.status &&
    latest.reason === tick.reason && latest.kind === tick.kind &&
    latest.runIds.length === 0 && tick.runIds.length === 0 &&
    latest.cursor === null && tick.cursor === null &&
    latest.duplicateKeys.join("\0") === tick.duplicateKeys.join("\0") &&
    tick.time >= latest.lastTime;
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
