import assert from "node:assert/strict";
import { scheduleRunKey } from "../../core/schedule.ts";
import {
  weatherSchedules,
  weatherTodaySchedule,
  weatherYesterdaySchedule,
} from "../../sensors/weather_schedules.ts";

Deno.test("weather_today ticks every 6 hours and builds today's partition", () => {
  const ticks: Date[] = [];
  let after = new Date("2026-11-23T00:00:00Z");
  for (let i = 0; i < 5; i++) {
    const next = weatherTodaySchedule.nextTick(after);
    assert.ok(next);
    ticks.push(next);
    after = next;
  }
  assert.deepEqual(ticks.map((t) => t.toISOString()), [
    "2026-11-23T00:05:00.000Z",
    "2026-11-23T06:05:00.000Z",
    "2026-11-23T12:05:00.000Z",
    "2026-11-23T18:05:00.000Z",
    "2026-11-24T00:05:00.000Z",
  ]);
  assert.equal(weatherTodaySchedule.partition?.(ticks[3]!), "2026-11-23");
  assert.equal(weatherTodaySchedule.partition?.(ticks[4]!), "2026-11-24");
  assert.equal(weatherTodaySchedule.selection, "raw_weather+");
});

Deno.test("weather_yesterday ticks daily and builds yesterday's partition", () => {
  const tick = weatherYesterdaySchedule.nextTick(new Date("2026-11-23T02:00:00Z"));
  assert.equal(tick?.toISOString(), "2026-11-24T01:15:00.000Z");
  assert.equal(weatherYesterdaySchedule.partition?.(tick!), "2026-11-23");
  assert.equal(
    weatherYesterdaySchedule.partition?.(new Date("2026-01-01T01:15:00Z")),
    "2025-12-31",
  );
  assert.equal(
    scheduleRunKey(weatherYesterdaySchedule, tick!),
    "weather_yesterday:2026-11-24T01:15:00.000Z",
  );
});

Deno.test("weatherSchedules lists both, with distinct names, in UTC", () => {
  assert.deepEqual(weatherSchedules.map((s) => s.name), ["weather_today", "weather_yesterday"]);
  assert.ok(weatherSchedules.every((s) => s.timezone === "UTC" && s.kind === "schedule"));
});
