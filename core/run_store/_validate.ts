/**
 * The input rules every run store applies, written once: {@linkcode RunStoreBase}
 * runs them before any backend sees a call, so the memory twin, SQLite and
 * Postgres reject exactly the same things with the same messages.
 *
 * @module
 */

import type { Materialization } from "../asset.ts";
import { ResourceError } from "../errors.ts";
import { toMaterialization } from "./materialization.ts";
import type { ListRunsOptions, RunEvent, RunRecord, RunUpdate, StepRecord } from "./types.ts";

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
