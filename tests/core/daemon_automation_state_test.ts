/**
 * The daemon honours the on/off state of sensors and schedules kept in the
 * run store (set by the UI, read by every daemon each tick, kept across
 * restarts), and records each sensor's and schedule's ticks there.
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../core/asset.ts";
import { SensorDaemon } from "../../core/daemon.ts";
import { defineGraph } from "../../core/definitions.ts";
import { createLogger, type LogRecord } from "../../core/logger.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import type { RunStore } from "../../core/run_store/types.ts";
import { defineSchedule } from "../../core/schedule.ts";
import { defineSensor } from "../../core/sensor.ts";
import { FakeClock } from "../../core/testing.ts";
import { SqliteRunStore } from "../../resources/run_store/sqlite.ts";

const T0 = Date.parse("2024-03-10T10:30:00Z");

/** A sensor asking for one run per item of `inbox` not yet seen, or skipping. */
function world() {
  const inbox: string[] = [];
  let evaluations = 0;
  let broken = false;
  const sensor = defineSensor({
    name: "inbox",
    evaluate(ctx) {
      evaluations++;
      if (broken) throw new Error("the inbox is unreachable");
      const items = inbox.slice(Number(ctx.cursor ?? 0));
      if (items.length === 0) return { skipReason: "nothing new" };
      return {
        runRequests: items.map((item) => ({ runKey: item, selection: "work" })),
        cursor: String(inbox.length),
      };
    },
  });
  const hourly = defineSchedule({ name: "hourly", cron: "0 * * * *", selection: "work" });
  const work = defineAsset({ key: "work", materialize: () => {} });
  const graph = defineGraph({ assets: [work], sensors: [sensor], schedules: [hourly] });
  return {
    graph,
    inbox,
    evaluations: () => evaluations,
    breakIt: (value: boolean) => (broken = value),
  };
}

function daemonOn(graph: ReturnType<typeof world>["graph"], store: RunStore, clock: FakeClock) {
  const logs: LogRecord[] = [];
  const d = new SensorDaemon(graph, {
    runStore: store,
    clock,
    log: createLogger((record) => logs.push(record)),
  });
  return Object.assign(d, { logs });
}

Deno.test("daemon: a sensor turned off is not evaluated, its ticks say so, and it resumes from its cursor when on", async () => {
  const w = world();
  const clock = new FakeClock(T0);
  const store = new MemoryRunStore();
  await using d = daemonOn(w.graph, store, clock);
  w.inbox.push("a");
  const first = await d.tick();
  assert.equal(first.find((r) => r.name === "inbox")?.launched.length, 1);
  await d.drain();

  await store.setAutomationState("inbox", { enabled: false, time: T0 + 1, by: "ui" });
  w.inbox.push("b");
  const before = w.evaluations();
  for (let i = 0; i < 3; i++) {
    clock.advance(1000);
    const reports = await d.tick();
    const report = reports.find((r) => r.name === "inbox");
    assert.equal(report?.status, "off");
    assert.match(report?.skipReason ?? "", /turned off by ui at 2024-03-10T10:30:00.001Z/);
  }
  assert.equal(w.evaluations(), before, "an off sensor is not evaluated");
  const [off] = await store.listTicks("inbox");
  assert.deepEqual([off?.status, off?.count], ["off", 3]);
  assert.equal(d.logs.filter((l) => /sensor inbox: off/.test(l.message)).length, 1);

  await store.setAutomationState("inbox", { enabled: true, time: clock.now(), by: "ui" });
  clock.advance(1000);
  const resumed = (await d.tick()).find((r) => r.name === "inbox");
  assert.equal(resumed?.launched.length, 1, "b, requested while off, runs now");
  await d.drain();
  const runs = await store.listRuns({ tags: { sensor: "inbox" } });
  assert.deepEqual(runs.map((r) => r.tags.run_key), ["b", "a"]);
});

Deno.test("daemon: the off state is in the run store, so a restarted daemon keeps it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "daemon-state-" });
  try {
    const w = world();
    const clock = new FakeClock(T0);
    {
      await using store = SqliteRunStore.open(`${dir}/runs.db`);
      await store.setAutomationState("inbox", { enabled: false, time: T0, by: "ui" });
    }
    await using store = SqliteRunStore.open(`${dir}/runs.db`);
    await using d = daemonOn(w.graph, store, clock);
    w.inbox.push("a");
    const report = (await d.tick()).find((r) => r.name === "inbox");
    assert.equal(report?.status, "off");
    assert.equal(w.evaluations(), 0);
    assert.deepEqual(await store.listRuns(), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("daemon: a schedule turned off skips its ticks, and ticks that fell while off do not run when it is on again", async () => {
  const w = world();
  const clock = new FakeClock(T0); // 10:30
  const store = new MemoryRunStore();
  await using d = daemonOn(w.graph, store, clock);
  await d.tick(); // the schedule's first start: counts from now
  await store.setAutomationState("hourly", { enabled: false, time: clock.now() });
  clock.advance(3 * 3_600_000); // 13:30: ticks at 11, 12 and 13 fell while off
  const off = (await d.tick()).find((r) => r.name === "hourly");
  assert.equal(off?.status, "off");
  assert.equal((await store.listRuns()).length, 0);
  await store.setAutomationState("hourly", { enabled: true, time: clock.now() });
  clock.advance(60_000);
  const on = (await d.tick()).find((r) => r.name === "hourly");
  assert.equal(on?.status, "idle", "13:00 fell while off: not run");
  clock.advance(29 * 60_000); // 14:00
  const fired = (await d.tick()).find((r) => r.name === "hourly");
  assert.equal(fired?.launched.length, 1);
  await d.drain();
  const [run] = await store.listRuns();
  assert.equal(run?.tags.run_key, "hourly:2024-03-10T14:00:00.000Z");
  const ticks = await store.listTicks("hourly");
  assert.deepEqual(ticks.map((t) => [t.status, t.runIds.length]), [["requested", 1], ["off", 0]]);
});

Deno.test("daemon: every evaluation is recorded: requested with run ids and cursor, skips collapsed, failures with the error", async () => {
  const w = world();
  const clock = new FakeClock(T0);
  const store = new MemoryRunStore();
  await using d = daemonOn(w.graph, store, clock);
  for (let i = 0; i < 4; i++) {
    await d.tick();
    clock.advance(1000);
  }
  w.inbox.push("a", "b");
  const launched = (await d.tick()).find((r) => r.name === "inbox")?.launched ?? [];
  await d.drain();
  clock.advance(1000);
  w.breakIt(true);
  await d.tick();
  clock.advance(1000);
  await d.tick();
  const ticks = await store.listTicks("inbox");
  assert.deepEqual(
    ticks.map((t) => [t.status, t.count, t.reason, t.runIds, t.cursor]),
    [
      ["failed", 2, "Sensor 'inbox' failed: the inbox is unreachable", [], null],
      ["requested", 1, null, launched, "2"],
      ["skipped", 4, "nothing new", [], null],
    ],
  );
  assert.equal(launched.length, 2);
  assert.equal(ticks[2]?.lastTime, T0 + 3000);
});

Deno.test("daemon: a run store that cannot tell the states leaves sensors on and logs it; a failing tick record never stops it", async () => {
  const w = world();
  const clock = new FakeClock(T0);
  const memory = new MemoryRunStore();
  const store = new Proxy(memory, {
    get(target, prop) {
      if (prop === "automationStates" || prop === "recordTicks") {
        return () => Promise.reject(new Error(`injected failure in ${String(prop)}`));
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as RunStore;
  await using d = daemonOn(w.graph, store, clock);
  w.inbox.push("a");
  const report = (await d.tick()).find((r) => r.name === "inbox");
  assert.equal(report?.launched.length, 1);
  await d.drain();
  const errors = d.logs.filter((l) => l.level === "error").map((l) => l.message);
  assert.ok(
    errors.some((m) => /cannot read which sensors are off: injected/.test(m)),
    errors.join("\n"),
  );
  assert.ok(errors.some((m) => /cannot record the ticks .*: injected/.test(m)), errors.join("\n"));
});
