/**
 * The statuses a run and a step may have: one zod schema each, the single
 * source of the `RunStatus` and `StepStatus` types and of what every run
 * store accepts. A store writes a status only after it passed here, so a
 * typo (`"succeeded"`) or a value from outside (a UI form, a JSON file) is
 * refused at the call instead of being stored as a run no page can show.
 *
 * @module
 */

import { z } from "zod";
import { PlatformError } from "../errors.ts";

/** Schema of a run's status. */
export const runStatusSchema = z.enum(["running", "success", "failed", "canceled"]);

/** Schema of a step's status. */
export const stepStatusSchema = z.enum([
  "pending",
  "running",
  "success",
  "failed",
  "skipped",
  "canceled",
]);

/** Status of a whole run. */
export type RunStatus = z.infer<typeof runStatusSchema>;

/** Status of one asset (or asset partition) in a run. */
export type StepStatus = z.infer<typeof stepStatusSchema>;

/** Every run status, in the schema's order. */
export const RUN_STATUSES: readonly RunStatus[] = runStatusSchema.options;

/** Every step status, in the schema's order. */
export const STEP_STATUSES: readonly StepStatus[] = stepStatusSchema.options;

/**
 * A run store was given a status its schema does not have. `input` is the
 * value given; the message names the run (and step), the value and the
 * statuses accepted.
 *
 * @example
 * ```ts
 * import { InvalidStatusError } from "./status.ts";
 * new InvalidStatusError("run 'r1'", "succeeded", ["running", "success"]).message;
 * // Cannot record run 'r1': status must be one of running, success, got 'succeeded'
 * ```
 */
export class InvalidStatusError extends PlatformError {
  /** `what` names the record (`run 'r1'`), `value` the status given. */
  constructor(what: string, value: unknown, accepted: readonly string[]) {
    // An object (a status read from JSON as `{ "name": ... }`) is shown as it was given,
    // not as `[object Object]`.
    const shown = typeof value === "string" ? value : shownValue(value);
    super(
      "run_store.invalid_status",
      `Cannot record ${what}: status must be one of ${accepted.join(", ")}, got ${
        typeof value === "string" ? `'${value}'` : shown
      }`,
      { input: shown },
    );
  }
}

/** A value that is not a string, as JSON where it has one, else as Deno prints it. */
function shownValue(value: unknown): string {
  try {
    const json = JSON.stringify(value);
    if (json !== undefined) return json;
  } catch {
    // A cycle or a BigInt: printed below.
  }
  return Deno.inspect(value, { depth: 2, colors: false });
}

/**
 * `value` as a run status.
 *
 * @throws {InvalidStatusError} naming `what` when the schema refuses it.
 */
export function parseRunStatus(value: unknown, what: string): RunStatus {
  const parsed = runStatusSchema.safeParse(value);
  if (!parsed.success) throw new InvalidStatusError(what, value, RUN_STATUSES);
  return parsed.data;
}

/**
 * `value` as a step status.
 *
 * @throws {InvalidStatusError} naming `what` when the schema refuses it.
 */
export function parseStepStatus(value: unknown, what: string): StepStatus {
  const parsed = stepStatusSchema.safeParse(value);
  if (!parsed.success) throw new InvalidStatusError(what, value, STEP_STATUSES);
  return parsed.data;
}
