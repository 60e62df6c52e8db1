import assert from "node:assert/strict";
import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { GraphDefinitionError } from "../../core/graph.ts";
import { InvalidDefinitionError } from "../../core/errors.ts";
import { defineSchedule } from "../../core/schedule.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { defineSensor, isSensorSkip, latestRunIn, sensorFactory } from "../../core/sensor.ts";
import { buildSensorContext, FakeClock } from "../../core/testing.ts";
import { catchError } from "./_helpers.ts";

interface Resources {
  inbox: string[];
  other: number;
}
const sensor = sensorFactory<Resources>();

/** Requests one run per inbox item after the cursor (a count of items handled). */
const inbox = sensor({
  name: "inbox",
  intervalMs: 500,
  description: "items dropped in the inbox",
  resources: ["inbox"],
  evaluate(ctx) {
    const items = ctx.resources.inbox.slice(Number(ctx.cursor ?? 0));
    if (items.length === 0) return { skipReason: "inbox is empty" };
    ctx.log.info(`found ${items.length} item(s)`);
    return {
      runRequests: items.map((item) => ({ runKey: item, selection: "work" })),
      cursor: String(ctx.resources.inbox.length),
    };
  },
});

Deno.test("defineSensor freezes a valid definition", () => {
  assert.equal(inbox.kind, "sensor");
  assert.equal(inbox.name, "inbox");
  assert.equal(inbox.intervalMs, 500);
  assert.equal(inbox.description, "items dropped in the inbox");
  assert.deepEqual(inbox.resources, ["inbox"]);
  assert.ok(Object.isFrozen(inbox));
  assert.equal(
    defineSensor({ name: "plain", evaluate: () => ({ runRequests: [] }) }).intervalMs,
    undefined,
  );
});

Deno.test("defineSensor rejects a bad definition, naming the sensor", async (t) => {
  const cases: [string, () => unknown, RegExp][] = [
    [
      "a bad name",
      () => defineSensor({ name: "Bad-Name", evaluate: () => ({ runRequests: [] }) }),
      /Sensor 'Bad-Name': names are lower-case/,
    ],
    [
      "a zero interval",
      () => defineSensor({ name: "s", intervalMs: 0, evaluate: () => ({ runRequests: [] }) }),
      /intervalMs must be a whole number/,
    ],
    [
      "a fractional interval",
      () => defineSensor({ name: "s", intervalMs: 1.5, evaluate: () => ({ runRequests: [] }) }),
      /intervalMs/,
    ],
    [
      "no evaluate",
      () => defineSensor({ name: "s" } as unknown as Parameters<typeof defineSensor>[0]),
      /evaluate must be a function/,
    ],
    [
      "a resource twice",
      () =>
        sensor({ name: "s", resources: ["inbox", "inbox"], evaluate: () => ({ runRequests: [] }) }),
      /listed twice/,
    ],
  ];
  for (const [what, fn, message] of cases) {
    await t.step(what, () => {
      const error = catchError(fn, InvalidDefinitionError);
      assert.equal(error.code, "definition.invalid_sensor");
      assert.match(error.message, message);
    });
  }
});

Deno.test("buildSensorContext lets a sensor be evaluated directly", async (t) => {
  await t.step("without a cursor every item is requested and the logs are collected", async () => {
    const ctx = buildSensorContext({ resources: { inbox: ["a", "b"] }, clock: new FakeClock(0) });
    assert.equal(ctx.cursor, undefined);
    assert.equal(ctx.sensorName, "test_sensor");
    const result = await inbox.evaluate(ctx);
    assert.ok(!isSensorSkip(result));
    assert.deepEqual(result.runRequests.map((r) => r.runKey), ["a", "b"]);
    assert.equal(result.cursor, "2");
    assert.deepEqual(ctx.logs.map((l) => [l.level, l.message, l.time]), [[
      "info",
      "found 2 item(s)",
      0,
    ]]);
  });
  await t.step("with the cursor it skips, saying why", async () => {
    const result = await inbox.evaluate(
      buildSensorContext({ cursor: "2", resources: { inbox: ["a", "b"] } }),
    );
    assert.deepEqual(result, { skipReason: "inbox is empty" });
  });
  await t.step("the signal given is the one the sensor sees", () => {
    const controller = new AbortController();
    const ctx = buildSensorContext({ signal: controller.signal, sensorName: "x" });
    controller.abort();
    assert.equal(ctx.signal.aborted, true);
    assert.equal(ctx.sensorName, "x");
  });
});

const work = defineAsset({ key: "work", group: "jobs", materialize: () => {} });
const nightly = defineSchedule({ name: "nightly", cron: "0 2 * * *", selection: "group:jobs" });

Deno.test("defineGraph keeps sensors and schedules in declaration order", () => {
  const graph = defineGraph<Resources>({
    assets: [work],
    resources: { inbox: [], other: 1 },
    sensors: [inbox],
    schedules: [nightly],
  });
  assert.deepEqual(graph.sensors.map((s) => s.name), ["inbox"]);
  assert.deepEqual(graph.schedules.map((s) => s.name), ["nightly"]);
  assert.deepEqual(defineGraph({ assets: [work] }).sensors, []);
});

Deno.test("defineGraph rejects bad sensors and schedules, naming them", async (t) => {
  await t.step("a name used twice (they share the cursor namespace)", () => {
    const twin = defineSchedule({ name: "inbox", cron: "0 * * * *", selection: "work" });
    const error = catchError(
      () =>
        defineGraph<Resources>({
          assets: [work],
          resources: { inbox: [], other: 1 },
          sensors: [inbox],
          schedules: [twin],
        }),
      GraphDefinitionError,
    );
    assert.equal(error.code, "graph.duplicate_sensor");
    assert.match(error.message, /schedule name 'inbox' is also used by a sensor/);
  });
  await t.step("a resource the graph does not give", () => {
    const error = catchError(
      () => defineGraph({ assets: [work], sensors: [inbox] }),
      GraphDefinitionError,
    );
    assert.equal(error.code, "graph.undeclared_resource");
    assert.match(error.message, /sensor 'inbox' uses resource 'inbox', but the graph gives none/);
  });
  await t.step("a schedule selecting an unknown asset", () => {
    const typo = defineSchedule({ name: "typo", cron: "0 * * * *", selection: "wrok+" });
    const error = catchError(
      () => defineGraph({ assets: [work], schedules: [typo] }),
      GraphDefinitionError,
    );
    assert.equal(error.code, "graph.invalid_schedule");
    assert.match(
      error.message,
      /schedule 'typo' selects 'wrok\+': Unknown asset 'wrok' \(did you mean 'work'\?\)/,
    );
  });
  await t.step("every problem at once", () => {
    const typo = defineSchedule({ name: "typo", cron: "0 * * * *", selection: "group:nope" });
    const error = catchError(
      () => defineGraph({ assets: [work], sensors: [inbox], schedules: [typo] }),
      GraphDefinitionError,
    );
    assert.equal(error.problems.length, 2);
  });
});

Deno.test("latestRunIn: the newest run of a claimed run key, relaunches included", async () => {
  const store = new MemoryRunStore();
  const run = (runId: string, startedAt: number, tags: Record<string, string>) =>
    store.createRun({
      runId,
      status: "failed",
      selection: "a",
      partitions: null,
      tags,
      startedAt,
      finishedAt: startedAt + 1,
      errorSummary: "owner process died",
    });
  assert.equal(await latestRunIn(store, "watch", "k1"), undefined, "unclaimed");
  await store.claimRunKey("watch", "k1", "r1");
  assert.equal(await latestRunIn(store, "watch", "k1"), undefined, "claimed, not recorded");
  await run("r1", 10, {});
  assert.equal((await latestRunIn(store, "watch", "k1"))?.runId, "r1", "an untagged run counts");
  await run("r2", 20, { sensor: "watch", run_key: "k1", relaunch_of: "r1" });
  assert.equal((await latestRunIn(store, "watch", "k1"))?.runId, "r2", "the relaunch is newer");
  await run("r3", 30, { sensor: "other", run_key: "k1" });
  assert.equal((await latestRunIn(store, "watch", "k1"))?.runId, "r2", "run keys are per sensor");
});
