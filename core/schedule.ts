/**
 * Schedules: cron sensors. A schedule names a selection and, for partitioned
 * assets, the partition a tick should build; the sensor daemon evaluates it
 * and launches one run per tick, keyed by the tick time so a tick never runs
 * twice.
 *
 * @example
 * ```ts
 * import { defineSchedule } from "./schedule.ts";
 * export const nightly = defineSchedule({
 *   name: "weather_yesterday",
 *   cron: "15 0 * * *",
 *   selection: "raw_weather+",
 *   partition: (tick) => new Date(tick.getTime() - 86_400_000).toISOString().slice(0, 10),
 * });
 * ```
 *
 * @module
 */

import { Cron } from "croner";
import { InvalidDefinitionError, toError } from "./errors.ts";

/** What a schedule is declared with. */
export interface ScheduleSpec {
  /** Unique name, `[a-z][a-z0-9_]*`; also the run store's cursor name. */
  readonly name: string;
  /** Five-field cron expression (minute hour day month weekday). */
  readonly cron: string;
  /** Asset selection to run on each tick, in the CLI's syntax. */
  readonly selection: string;
  /**
   * IANA time zone the cron expression is read in.
   * @default "UTC"
   */
  readonly timezone?: string;
  /** Partition key for the run of the tick scheduled at `tick`; none when omitted. */
  readonly partition?: (tick: Date) => string;
  /** Shown by `list` and the UI. */
  readonly description?: string;
  /** Tags added to each run it launches. */
  readonly tags?: Readonly<Record<string, string>>;
}

/** A validated, frozen schedule. */
export interface ScheduleDefinition extends ScheduleSpec {
  /** Discriminates schedules from sensors. */
  readonly kind: "schedule";
  /** The time zone the cron expression is read in. */
  readonly timezone: string;
  /** The first tick strictly after `after`, or `undefined` if there is none. */
  nextTick(after: Date): Date | undefined;
}

const NAME = /^[a-z][a-z0-9_]*$/;

/** Validates `spec` and returns a frozen schedule; throws {@linkcode InvalidDefinitionError}. */
export function defineSchedule(spec: ScheduleSpec): ScheduleDefinition {
  if (!NAME.test(spec.name)) {
    throw new InvalidDefinitionError(
      "schedule.invalid_name",
      `Cannot define schedule '${spec.name}': names are lower-case letters, digits and '_'`,
    );
  }
  const timezone = spec.timezone ?? "UTC";
  const cron = parseCron(spec.name, spec.cron, timezone);
  return Object.freeze({
    ...spec,
    kind: "schedule" as const,
    timezone,
    nextTick: (after: Date) => cron.nextRun(after) ?? undefined,
  });
}

/** A run key for the tick of `schedule` at `tick`: the same tick never runs twice. */
export function scheduleRunKey(schedule: ScheduleDefinition, tick: Date): string {
  return `${schedule.name}:${tick.toISOString()}`;
}

function parseCron(name: string, expression: string, timezone: string): Cron {
  if (expression.trim().split(/\s+/).length !== 5) {
    throw new InvalidDefinitionError(
      "schedule.invalid_cron",
      `Cannot define schedule '${name}': cron '${expression}' must have five fields ` +
        "(minute hour day month weekday)",
    );
  }
  try {
    return new Cron(expression, { paused: true, timezone });
  } catch (error) {
    throw new InvalidDefinitionError(
      "schedule.invalid_cron",
      `Cannot define schedule '${name}': cron '${expression}' in ${timezone} is invalid: ` +
        (toError(error).message),
    );
  }
}
