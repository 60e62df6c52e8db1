/**
 * Schedules of the weather pipeline: today's partition every six hours (the
 * forecast fills in as the day goes), and yesterday's once a day after
 * midnight UTC (from the archive). The sensor daemon runs them.
 *
 * @module
 */

import { defineSchedule, type ScheduleDefinition } from "../core/schedule.ts";

const MS_PER_DAY = 86_400_000;

/** UTC day of `tick`, `YYYY-MM-DD`. */
function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** Every six hours (00:05, 06:05, 12:05, 18:05 UTC): today's weather and what depends on it. */
export const weatherTodaySchedule: ScheduleDefinition = defineSchedule({
  name: "weather_today",
  cron: "5 */6 * * *",
  selection: "raw_weather+",
  partition: (tick) => dayOf(tick.getTime()),
  description: "Today's weather (forecast endpoint) every six hours",
  tags: { pipeline: "weather" },
});

/** Daily at 01:15 UTC: yesterday's weather from the archive, and what depends on it. */
export const weatherYesterdaySchedule: ScheduleDefinition = defineSchedule({
  name: "weather_yesterday",
  cron: "15 1 * * *",
  selection: "raw_weather+",
  partition: (tick) => dayOf(tick.getTime() - MS_PER_DAY),
  description: "Yesterday's weather (archive endpoint) once a day",
  tags: { pipeline: "weather" },
});

/** Every weather schedule. */
export const weatherSchedules: readonly ScheduleDefinition[] = [
  weatherTodaySchedule,
  weatherYesterdaySchedule,
];
