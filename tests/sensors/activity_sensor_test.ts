/**
 * The activity drop sensor: a load that ended without success (a full disk,
 * a server gone, a daemon stopped) leaves its drops in the landing folder,
 * and the sensor asks for a new attempt under a run key of its own, once the
 * load ended and its wait is over; never after success or a cancel on request.
 */

import assert from "node:assert/strict";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import type { RunRecord } from "../../core/run_store/types.ts";
import { isSensorSkip, type SensorResult, type SensorRunRequests } from "../../core/sensor.ts";
import { buildSensorContext, FakeClock } from "../../core/testing.ts";
import { ACTIVITY_PREFIX } from "../../assets/activity/bronze.ts";
import { type Config, loadConfig } from "../../resources/config.ts";
import { MemoryObjectStore } from "../../resources/object_store/mod.ts";
import { ACTIVITY_DROPS_SENSOR, activitySensor } from "../../sensors/activity_sensor.ts";

const config: Config = loadConfig({ env: {}, dotenvPath: null });
const BUCKET = config.LANDING_BUCKET;
const DROP = `${ACTIVITY_PREFIX}daily_activity_2024_05.csv`;

function requests(result: SensorResult): SensorRunRequests {
  assert.ok(!isSensorSkip(result), `expected run requests, got ${JSON.stringify(result)}`);
  return result as SensorRunRequests;
}

function skipReason(result: SensorResult): string {
  assert.ok(isSensorSkip(result), `expected a skip, got ${JSON.stringify(result)}`);
  return result.skipReason;
}

/** A run the daemon launched for `runKey`, as it records it. */
async function recordRun(
  runs: MemoryRunStore,
  runKey: string,
  runId: string,
  fields: Partial<RunRecord> = {},
): Promise<void> {
  await runs.claimRunKey(ACTIVITY_DROPS_SENSOR, runKey, runId);
  await runs.createRun({
    runId,
    status: "running",
    selection: "bronze_activity",
    partitions: null,
    tags: { sensor: ACTIVITY_DROPS_SENSOR, run_key: runKey },
    startedAt: 0,
    finishedAt: null,
    errorSummary: null,
    ...fields,
  });
}

async function world() {
  const lake = new MemoryObjectStore();
  await lake.ensureBucket(BUCKET);
  await lake.put(BUCKET, DROP, new TextEncoder().encode("Id,ActivityDate\n1,5/1/2024\n"));
  const runs = new MemoryRunStore();
  const clock = new FakeClock(10_000_000);
  const sensor = activitySensor({ retryDelayMs: 30_000 });
  const evaluate = async (cursor: string | undefined) => {
    const ctx = buildSensorContext({
      resources: { lake, config },
      runStore: runs,
      sensorName: ACTIVITY_DROPS_SENSOR,
      clock,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const result = await sensor.evaluate(ctx);
    return { result, logs: ctx.logs.map((l) => l.message) };
  };
  return { lake, runs, clock, evaluate };
}

Deno.test("activity sensor: drops whose load failed get the next attempt once its wait is over, the wait doubling", async () => {
  const { lake, runs, clock, evaluate } = await world();
  const first = requests((await evaluate(undefined)).result);
  const [request] = first.runRequests;
  const key = request?.runKey ?? "";
  assert.match(key, /^drops:[0-9a-f]{24}$/);
  await recordRun(runs, key, "run-1");
  assert.match(skipReason((await evaluate(first.cursor)).result), /load in progress \(run run-1\)/);

  // The load fails on a full disk: its drops stay in the landing folder.
  await runs.updateRun("run-1", {
    status: "failed",
    finishedAt: clock.now(),
    errorSummary: "no space left on device writing the warehouse",
  });
  assert.match(
    skipReason((await evaluate(first.cursor)).result),
    /load run-1 ended failed; attempt 2 at /,
  );
  clock.advance(30_000);
  const retried = await evaluate(first.cursor);
  const second = requests(retried.result);
  assert.deepEqual(second.runRequests, [{
    runKey: `${key}:attempt-2`,
    selection: "bronze_activity",
    tags: { drops: "1", drops_attempt: "2", retry_of: "run-1" },
  }]);
  assert.ok(
    retried.logs.some((l) =>
      /load run-1 of 1 drop\(s\) ended failed \(no space left on device.*requesting attempt 2/
        .test(l)
    ),
    retried.logs.join("\n"),
  );
  // Asked again before the daemon recorded attempt 2: the same key (its claim makes one run).
  assert.deepEqual(
    requests((await evaluate(first.cursor)).result).runRequests.map((r) => r.runKey),
    [`${key}:attempt-2`],
  );

  // Attempt 2 fails too: attempt 3 after twice the wait.
  await recordRun(runs, `${key}:attempt-2`, "run-2", {
    status: "failed",
    startedAt: clock.now(),
    finishedAt: clock.now(),
  });
  clock.advance(59_000);
  assert.match(skipReason((await evaluate(second.cursor)).result), /attempt 3 at/);
  clock.advance(1_000);
  const third = requests((await evaluate(second.cursor)).result);
  assert.deepEqual(third.runRequests.map((r) => r.runKey), [`${key}:attempt-3`]);

  // Attempt 3 loads them (and moves them out of the folder): nothing more.
  await recordRun(runs, `${key}:attempt-3`, "run-3", {
    status: "success",
    finishedAt: clock.now(),
  });
  clock.advance(3_600_000);
  assert.match(skipReason((await evaluate(third.cursor)).result), /no new drops/);
  await lake.delete(BUCKET, DROP);
  assert.match(skipReason((await evaluate(third.cursor)).result), /no new drops/);
});

Deno.test("activity sensor: a load canceled at shutdown is retried at once; none after a cancel on request, a lost run pending, or success", async () => {
  {
    const { runs, clock, evaluate } = await world();
    const first = requests((await evaluate(undefined)).result);
    const key = first.runRequests[0]?.runKey ?? "";
    await recordRun(runs, key, "run-1", { status: "canceled", finishedAt: clock.now() });
    assert.deepEqual(
      requests((await evaluate(first.cursor)).result).runRequests.map((r) => r.runKey),
      [`${key}:attempt-2`],
    );
  }
  {
    const { runs, clock, evaluate } = await world();
    const first = requests((await evaluate(undefined)).result);
    const key = first.runRequests[0]?.runKey ?? "";
    await recordRun(runs, key, "run-1");
    await runs.requestCancel("run-1", { time: clock.now(), reason: "wrong file, by ana" });
    await runs.updateRun("run-1", { status: "canceled", finishedAt: clock.now() });
    clock.advance(3_600_000);
    const evaluated = await evaluate(first.cursor);
    assert.match(skipReason(evaluated.result), /canceled on request/);
    assert.ok(evaluated.logs.some((l) => /wrong file, by ana.*not retried/.test(l)));
  }
  {
    const { runs, clock, evaluate } = await world();
    const first = requests((await evaluate(undefined)).result);
    const key = first.runRequests[0]?.runKey ?? "";
    await recordRun(runs, key, "run-1", {
      status: "failed",
      finishedAt: clock.now(),
      tags: { sensor: ACTIVITY_DROPS_SENSOR, run_key: key, owner_lost: "pending" },
    });
    clock.advance(3_600_000);
    assert.match(skipReason((await evaluate(first.cursor)).result), /lost run run-1/);
  }
  {
    const { runs, clock, evaluate } = await world();
    const first = requests((await evaluate(undefined)).result);
    const key = first.runRequests[0]?.runKey ?? "";
    await recordRun(runs, key, "run-1", { status: "success", finishedAt: clock.now() });
    clock.advance(3_600_000);
    assert.match(skipReason((await evaluate(first.cursor)).result), /no new drops/);
  }
});

Deno.test("activity sensor: a cursor of the earlier version (no request) still reads, and asks nothing again", async () => {
  const { evaluate } = await world();
  const first = requests((await evaluate(undefined)).result);
  const old = JSON.stringify({ v: 1, seen: JSON.parse(first.cursor ?? "{}").seen });
  assert.match(skipReason((await evaluate(old)).result), /no new drops/);
});

Deno.test("activity sensor: a load its process stopped because its heartbeat could not be recorded waits out a backoff, doubling, said in the log and the skip reason", async () => {
  const { runs, clock, evaluate } = await world();
  const first = requests((await evaluate(undefined)).result);
  const key = first.runRequests[0]?.runKey ?? "";
  const stopped = {
    status: "canceled" as const,
    errorSummary: "canceled: its heartbeat could not be recorded for 40000 ms (database is " +
      "locked); stopped before its lease of 60000 ms lapsed",
  };
  await recordRun(runs, key, "run-1", { ...stopped, finishedAt: clock.now() });
  // Not at once: the run store outage that stopped it would stop the retry too, in a loop.
  const waiting = await evaluate(first.cursor);
  assert.match(
    skipReason(waiting.result),
    new RegExp(
      `load run-1 ended canceled; attempt 2 at ${
        new Date(clock.now() + 30_000).toISOString()
      } \\(backoff 30 s\\)`,
    ),
  );
  assert.equal(waiting.logs.filter((l) => /attempt 2 at .*heartbeat could not/.test(l)).length, 1);
  assert.deepEqual((await evaluate(first.cursor)).logs, [], "the wait is logged once");
  clock.advance(29_999);
  assert.match(skipReason((await evaluate(first.cursor)).result), /attempt 2 at/);
  clock.advance(1);
  const second = requests((await evaluate(first.cursor)).result);
  assert.deepEqual(second.runRequests.map((r) => r.runKey), [`${key}:attempt-2`]);
  // Stopped again the same way: twice the wait.
  await recordRun(runs, `${key}:attempt-2`, "run-2", { ...stopped, finishedAt: clock.now() });
  clock.advance(59_999);
  assert.match(skipReason((await evaluate(second.cursor)).result), /backoff 60 s/);
  clock.advance(1);
  assert.deepEqual(
    requests((await evaluate(second.cursor)).result).runRequests.map((r) => r.runKey),
    [`${key}:attempt-3`],
  );
});
