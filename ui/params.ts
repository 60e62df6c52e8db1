/**
 * Query parameters of the pages and the API, read one way: a malformed value
 * throws {@linkcode BadParamError}, which the server answers with 400 and a
 * message naming the parameter (never a 500, never a stack).
 *
 * @module
 */

import type { RunEventType } from "../core/run_store/types.ts";

/** A query parameter the server cannot use; answered with 400. */
export class BadParamError extends RangeError {
  /** Stable code, e.g. `bad_before`. */
  readonly code: string;
  /** Builds the error for parameter `name`. */
  constructor(name: string, message: string) {
    super(message);
    this.name = "BadParamError";
    this.code = `bad_${name}`;
  }
}

/** Event types a run's log can be filtered by. */
export const EVENT_TYPES: readonly RunEventType[] = [
  "run_queued",
  "run_dequeued",
  "run_started",
  "run_finished",
  "step_started",
  "step_retry",
  "step_success",
  "step_failed",
  "step_skipped",
  "step_canceled",
  "materialization",
  "check",
  "log",
] satisfies readonly RunEventType[];

/** Log levels a run's log can be filtered by. */
export const LOG_LEVELS: readonly string[] = ["debug", "info", "warn", "error"];

/**
 * An id the store gave (an event or tick id): a whole number that fits a
 * double exactly; `undefined` when absent or empty.
 * @throws {BadParamError} on anything else.
 */
export function idParam(name: string, text: string | undefined, what: string): number | undefined {
  if (text === undefined || text === "") return undefined;
  const value = Number(text);
  if (!/^\d{1,16}$/.test(text) || !Number.isSafeInteger(value)) {
    throw new BadParamError(name, `${name} '${clip(text)}' must be ${what} (a whole number)`);
  }
  return value;
}

/**
 * A page size from 1 to `max`, `fallback` when absent.
 * @throws {BadParamError} otherwise.
 */
export function limitParam(text: string | undefined, fallback: number, max: number): number {
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!/^\d{1,4}$/.test(text) || value < 1 || value > max) {
    throw new BadParamError("limit", `limit '${clip(text)}' must be from 1 to ${max}`);
  }
  return value;
}

/**
 * A zero-based page number, 0 when absent.
 * @throws {BadParamError} otherwise.
 */
export function pageParam(text: string | undefined): number {
  if (text === undefined || text === "") return 0;
  if (!/^\d{1,6}$/.test(text)) {
    throw new BadParamError("page", `page '${clip(text)}' must be a page number (0, 1, 2, ...)`);
  }
  return Number(text);
}

/**
 * One of `allowed`, `undefined` when absent or empty.
 * @throws {BadParamError} otherwise, listing the allowed values.
 */
export function oneOfParam<T extends string>(
  name: string,
  text: string | undefined,
  allowed: readonly T[],
): T | undefined {
  if (text === undefined || text === "") return undefined;
  if (!(allowed as readonly string[]).includes(text)) {
    throw new BadParamError(name, `${name} '${clip(text)}' is not one of ${allowed.join(", ")}`);
  }
  return text as T;
}

/** Several of `allowed`, comma-separated; `undefined` when absent or empty. */
export function someOfParam<T extends string>(
  name: string,
  text: string | undefined,
  allowed: readonly T[],
): T[] | undefined {
  if (text === undefined || text === "") return undefined;
  return text.split(",").map((part) => oneOfParam(name, part.trim(), allowed) as T);
}

/** A value cut to a length a message can show. */
function clip(text: string): string {
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}
