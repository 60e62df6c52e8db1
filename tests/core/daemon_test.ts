import assert from "node:assert/strict";
import { join } from "node:path";
import { defineAsset } from "../../core/asset.ts";
import { DaemonOptions, latestTick, LAUNCH_CLAIMS, SensorDaemon } from "../../core/daemon.ts";
import { processOwner } from "../../core/owner.ts";
import { defineGraph } from "../../core/definitions.ts";
import type { Graph } from "../../core/graph.ts";
import { PlatformError } from "../../core/errors.ts";
import { createLogger, type LogRecord } from "../../core/logger.ts";
import { dynamicPartitions, staticPartitions } from "../../core/partitions.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import type { RunStore } from "../../core/run_store/types.ts";
import { defineSchedule } from "../../core/schedule.ts";
import {
  defineSensor,
  launchedRunIn,
  type SensorDefinition,
  type SensorResult,
} from "../../core/sensor.ts";
import { FakeClock } from "../../core/testing.ts";
import { SqliteRunStore } from "../../resources/run_store/sqlite.ts";
import { deferred } from "./_helpers.ts";

const T0 = Date.parse("2024-03-10T10:30:00Z");

/**
 * An inbox the `inbox` sensor drains: each item is a run key and a partition
 * of the `work` asset, which records what it ran in `executed`.
 */
function inboxWorld(options: { sensorName?: string; selection?: string } = {}) {
  const inbox: string[] = [];
  const executed: string[] = [];
  const sensor = defineSensor({
    name: options.sensorName ?? "inbox",
    evaluate(ctx) {
      const items = inbox.slice(Number(ctx.cursor ?? 0));
      return {
        runRequests: items.map((item) => ({
          runKey: item,
          selection: options.selection ?? "work",
          partitions: [item],
          tags: { item },
        })),
        cursor: String(inbox.length),
        dynamicPartitions: [{ name: "items", keys: items }],
      };
    },
  });
  const work = defineAsset({
    key: "work",
    partitions: dynamicPartitions("items"),
    materialize: (ctx) => void executed.push(ctx.partitionKey ?? "?"),
  });
  return { inbox, executed, sensor, graph: defineGraph({ assets: [work], sensors: [sensor] }) };
}

/** A store that logs each call and can fail a call on purpose. */
function instrumented(
  store: RunStore,
  fail: (method: string, args: unknown[]) => boolean = () => false,
): RunStore & { calls: string[] } {
  const calls: string[] = [];
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "calls") return calls;
      const value = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const name = String(prop);
        calls.push(
          `${name}:${
            typeof args[0] === "object" ? (args[0] as { runId?: string }).runId : args[0]
          }`,
        );
        if (fail(name, args)) return Promise.reject(new Error(`injected failure in ${name}`));
        return value.apply(target, args);
      };
    },
  }) as RunStore & { calls: string[] };
}

function daemon<R>(graph: Graph<R>, options: Partial<DaemonOptions<R>> & { runStore: RunStore }) {
  const logs: LogRecord[] = [];
  const d = new SensorDaemon(graph, {
    clock: new FakeClock(T0),
    log: createLogger((record) => logs.push(record)),
    ...options,
  });
  return Object.assign(d, { logs });
}

Deno.test("sensor daemon: launches each request once, and stores the cursor only after the runs are recorded", async (t) => {
  const world = inboxWorld();
  const store = instrumented(new MemoryRunStore());
  await using d = daemon(world.graph, { runStore: store });

  await t.step(
    "a tick launches one run per request, tagged with the sensor and run key",
    async () => {
      world.inbox.push("a", "b");
      const [report] = await d.tick();
      assert.equal(report?.status, "requested");
      assert.equal(report?.launched.length, 2);
      await d.drain();
      assert.deepEqual(world.executed.sort(), ["a", "b"]);
      for (const runId of report?.launched ?? []) {
        const run = await store.getRun(runId);
        assert.equal(run?.status, "success");
        assert.equal(run?.tags.sensor, "inbox");
        assert.match(run?.tags.run_key ?? "", /^[ab]$/);
      }
      assert.equal(await store.getCursor("inbox"), "2");
    },
  );

  await t.step("the cursor is written after every run of the tick was created", () => {
    const cursorAt = store.calls.indexOf("setCursor:inbox");
    assert.ok(cursorAt > 0, store.calls.join("\n"));
    const created = store.calls.flatMap((call, i) => call.startsWith("createRun:") ? [i] : []);
    assert.equal(created.length, 2);
    assert.ok(created.every((i) => i < cursorAt), store.calls.join("\n"));
  });

  await t.step("a tick with nothing new launches nothing and logs nothing", async () => {
    const before = d.logs.length;
    const [report] = await d.tick();
    assert.deepEqual(report?.launched, []);
    await d.drain();
    assert.equal(world.executed.length, 2);
    assert.equal(d.logs.length, before);
  });

  await t.step("the tick that launched runs logged one line naming them", () => {
    const lines = d.logs.filter((l) => l.message.startsWith("sensor inbox: launched"));
    assert.equal(lines.length, 1);
    assert.match(lines[0]?.message ?? "", /launched 2 .*cursor 2/);
  });
});

Deno.test("sensor daemon: a failed claim leaves the cursor unchanged and the next tick retries", async () => {
  const world = inboxWorld();
  let failures = 1;
  const store = instrumented(
    new MemoryRunStore(),
    (method) => method === "claimRunKey" && failures-- > 0,
  );
  await using d = daemon(world.graph, { runStore: store });
  world.inbox.push("a", "b");
  const [failed] = await d.tick();
  assert.equal(failed?.status, "requested");
  assert.deepEqual(failed?.requestErrors?.map((e) => e.runKey), ["a"]);
  assert.match(failed?.requestErrors?.[0]?.error.message ?? "", /injected failure in claimRunKey/);
  assert.equal(failed?.launched.length, 1, "b went on");
  assert.equal(await store.getCursor("inbox"), undefined);
  assert.ok(
    d.logs.some((l) =>
      l.level === "error" && l.message.startsWith("sensor inbox: run key a not launched")
    ),
  );

  const [retried] = await d.tick();
  assert.equal(retried?.launched.length, 1);
  assert.deepEqual(retried?.duplicates, ["b"]);
  await d.drain();
  assert.deepEqual(world.executed.sort(), ["a", "b"]);
  assert.equal(await store.getCursor("inbox"), "2");
});

Deno.test("sensor daemon: a run key claimed before never runs again, even if the cursor goes back", async () => {
  const world = inboxWorld();
  const store = new MemoryRunStore();
  await using d = daemon(world.graph, { runStore: store });
  world.inbox.push("a", "b");
  await d.tick();
  await d.drain();
  await store.setCursor("inbox", "0");
  const [again] = await d.tick();
  assert.deepEqual(again?.launched, []);
  assert.deepEqual(again?.duplicates, ["a", "b"]);
  await d.drain();
  assert.deepEqual(world.executed.sort(), ["a", "b"]);
  assert.ok(d.logs.some((l) => /2 already claimed \(a, b\)/.test(l.message)));
});

Deno.test("sensor daemon: ctx.launchedRun tells a sensor which run keys already have a run, from any daemon", async () => {
  const seen: (string | undefined)[] = [];
  const sensor = defineSensor({
    name: "watch",
    async evaluate(ctx) {
      seen.push(await ctx.launchedRun("k1"));
      return { runRequests: [{ runKey: "k1", selection: "work" }] };
    },
  });
  const work = defineAsset({ key: "work", materialize: () => {} });
  const graph = defineGraph({ assets: [work], sensors: [sensor] });
  const store = new MemoryRunStore();
  await using first = daemon(graph, { runStore: store });
  const [report] = await first.tick();
  await first.drain();
  await using second = daemon(graph, { runStore: store });
  await second.tick();
  assert.deepEqual(seen, [undefined, report?.launched[0]]);
  // A key claimed by a daemon that died before launching has no run yet.
  await store.claimRunKey("watch", "k2", "never-started");
  assert.equal(await launchedRunIn(store, "watch", "k2"), undefined);
  assert.equal(await launchedRunIn(store, "other", "k1"), undefined, "run keys are per sensor");
});

Deno.test("sensor daemon: a crash between claiming and launching is recovered once on restart", async () => {
  const world = inboxWorld();
  const store = new MemoryRunStore();
  world.inbox.push("a");
  // The first daemon "dies" right after claiming the run key: its launch claim never happens.
  const dying = instrumented(
    store,
    (method, args) => method === "claimRunKey" && args[0] === LAUNCH_CLAIMS,
  );
  await using first = daemon(world.graph, { runStore: dying });
  const [crashed] = await first.tick();
  assert.deepEqual(crashed?.requestErrors?.map((e) => e.runKey), ["a"]);
  const claim = await store.claimRunKey("inbox", "a", "someone-else");
  assert.equal(claim.claimed, false);
  assert.equal(await store.getRun(claim.runId), undefined);
  assert.equal(await store.getCursor("inbox"), undefined);

  await using restarted = daemon(world.graph, { runStore: store });
  const [report] = await restarted.tick();
  assert.deepEqual(
    report?.launched,
    [claim.runId],
    "the run id claimed before the crash is the one launched",
  );
  await restarted.drain();
  assert.equal((await store.getRun(claim.runId))?.status, "success");
  assert.deepEqual(world.executed, ["a"]);

  await using third = daemon(world.graph, { runStore: store });
  await store.setCursor("inbox", "0");
  const [later] = await third.tick();
  assert.deepEqual(later?.launched, []);
  await third.drain();
  assert.deepEqual(world.executed, ["a"]);
});

Deno.test("sensor daemon: a launch claimed by a daemon that died is taken over by exactly one daemon once stale", async () => {
  const world = inboxWorld();
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  world.inbox.push("a");
  await store.addDynamicPartitions("items", ["a"]);
  await store.claimRunKey("inbox", "a", "run-1");
  await store.claimRunKey(LAUNCH_CLAIMS, "run-1", `dead-daemon@${clock.now()}`);
  await using a = daemon(world.graph, { runStore: store, clock, staleLaunchMs: 60_000 });
  await using b = daemon(world.graph, { runStore: store, clock, staleLaunchMs: 60_000 });

  const fresh = await Promise.all([a.tick(), b.tick()]);
  assert.deepEqual(
    fresh.flat().flatMap((r) => r.launched),
    [],
    "a fresh launch claim is left alone",
  );
  assert.deepEqual(fresh.flat().flatMap((r) => r.unrecorded ?? []), ["a", "a"]);
  // Not recorded yet: the request stays open (the cursor stays), it is not lost.
  assert.equal(await store.getCursor("inbox"), undefined);

  clock.advance(60_001);
  const stale = await Promise.all([a.tick(), b.tick()]);
  assert.deepEqual(stale.flat().flatMap((r) => r.launched), ["run-1"]);
  await Promise.all([a.drain(), b.drain()]);
  assert.deepEqual(world.executed, ["a"]);
  assert.equal(await store.getCursor("inbox"), "1");
  assert.ok(
    [...a.logs, ...b.logs].some((l) =>
      /launch claimed by dead-daemon at \d+ but never recorded; taking it over/.test(l.message)
    ),
  );
});

Deno.test("sensor daemon: a launch claimed by a process killed on this host before it recorded the run is taken over at once", async () => {
  const world = inboxWorld();
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  world.inbox.push("a");
  const self = processOwner();
  const killed = { instanceId: "killed", host: self.host, pid: 4242 };
  // The killed daemon claimed the key and the launch, and died before creating the run.
  await store.claimRunKey("inbox", "a", "run-1");
  await store.claimRunKey(
    LAUNCH_CLAIMS,
    "run-1",
    JSON.stringify({ daemon: "killed", at: clock.now(), owner: killed }),
  );
  await using d = daemon(world.graph, {
    runStore: store,
    clock,
    host: { self, pidExists: (pid) => pid !== killed.pid },
  });
  const [report] = await d.tick();
  await d.drain();
  assert.deepEqual(report?.launched, ["run-1"], "no minute of waiting");
  assert.deepEqual(world.executed, ["a"]);
  assert.equal(await store.getCursor("inbox"), "1");
  assert.ok(d.logs.some((l) => /launch claimed by killed \(its process is gone\)/.test(l.message)));

  // The same claim held by a live process of this host is left to it: nothing launched, nothing lost.
  world.inbox.push("b");
  await store.claimRunKey("inbox", "b", "run-2");
  await store.claimRunKey(
    LAUNCH_CLAIMS,
    "run-2",
    JSON.stringify({ daemon: "alive", at: clock.now(), owner: { ...killed, pid: 4343 } }),
  );
  const [waiting] = await d.tick();
  assert.deepEqual(waiting?.launched, []);
  assert.deepEqual(waiting?.unrecorded, ["b"]);
  assert.equal(await store.getCursor("inbox"), "1", "the cursor waits for run-2");
});

Deno.test("sensor daemon: two daemons on one SQLite run store file run each key exactly once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "runs.db");
    const world = inboxWorld();
    await using storeA = SqliteRunStore.open(path);
    await using storeB = SqliteRunStore.open(path);
    await using a = daemon(world.graph, { runStore: storeA, clock: new FakeClock(T0) });
    await using b = daemon(world.graph, { runStore: storeB, clock: new FakeClock(T0) });
    const launched: string[] = [];
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5; i++) world.inbox.push(`k${round}-${i}`);
      const reports = await Promise.all([a.tick(), b.tick(), a.tick(), b.tick()]);
      launched.push(...reports.flat().flatMap((report) => report.launched));
    }
    assert.equal(launched.length, 20, "each run id is launched by one daemon");
    await Promise.all([a.drain(), b.drain()]);
    assert.equal(world.executed.length, 20);
    assert.equal(new Set(world.executed).size, 20);
    const runs = await storeA.listRuns({ limit: 100 });
    assert.equal(runs.length, 20);
    assert.ok(runs.every((run) => run.status === "success"));
    assert.equal(new Set(runs.map((run) => run.tags.run_key)).size, 20);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sensor daemon: a run that cannot start is recorded failed and not retried", async () => {
  const world = inboxWorld({ selection: "no_such_asset" });
  const store = new MemoryRunStore();
  await using d = daemon(world.graph, { runStore: store });
  world.inbox.push("a");
  const [report] = await d.tick();
  const runId = report?.launched[0] ?? "";
  await d.drain();
  const run = await store.getRun(runId);
  assert.equal(run?.status, "failed");
  assert.match(run?.errorSummary ?? "", /could not start: Unknown asset 'no_such_asset'/);
  assert.equal(run?.tags.run_key, "a");
  await store.setCursor("inbox", "0");
  const [again] = await d.tick();
  assert.deepEqual(again?.launched, []);
});

/**
 * A sensor asking once for a run of `ok` and `flaky`; `flaky` fails its
 * first `failures` runs. Counts how often each asset ran.
 */
function flakyWorld(failures: number, tags: Record<string, string> = {}) {
  const ran = { ok: 0, flaky: 0 };
  const sensor = defineSensor({
    name: "once",
    evaluate: (ctx) =>
      ctx.cursor
        ? { runRequests: [] }
        : { runRequests: [{ runKey: "k", selection: "ok,flaky", tags }], cursor: "asked" },
  });
  const ok = defineAsset({ key: "ok", materialize: () => void ran.ok++ });
  const flaky = defineAsset({
    key: "flaky",
    materialize: () => {
      if (++ran.flaky <= failures) throw new Error(`flaky failure ${ran.flaky}`);
    },
  });
  return { ran, graph: defineGraph({ assets: [ok, flaky], sensors: [sensor] }) };
}

Deno.test("sensor daemon: a failed run is retried as the run queue retries it (maxRetries = QUEUE_MAX_RETRIES): new runs tagged retry_of/attempt/root_run_id, resuming after the assets that succeeded", async () => {
  const world = flakyWorld(2);
  const store = new MemoryRunStore();
  await using d = daemon(world.graph, { runStore: store, maxRetries: 2 });
  const [report] = await d.tick();
  const first = report?.launched[0] ?? "";
  await d.drain();
  // The fake clock stands still: ordered by attempt.
  const runs = (await store.listRuns({ limit: 10 }))
    .sort((a, b) => Number(a.tags.attempt ?? 1) - Number(b.tags.attempt ?? 1));
  assert.deepEqual(runs.map((r) => [r.status, r.tags.attempt]), [
    ["failed", undefined],
    ["failed", "2"],
    ["success", "3"],
  ]);
  const [r1, r2, r3] = runs;
  assert.equal(r1?.runId, first);
  assert.deepEqual(
    [r2?.tags.retry_of, r2?.tags.root_run_id, r2?.tags.run_key, r2?.tags.sensor],
    [first, first, "k", "once"],
  );
  assert.deepEqual([r3?.tags.retry_of, r3?.tags.root_run_id], [r2?.runId, first]);
  assert.deepEqual(
    world.ran,
    { ok: 1, flaky: 3 },
    "the retries resume after `ok`, which succeeded",
  );
  const retried = d.logs.filter((l) => /failed; retried as/.test(l.message)).map((l) => l.message);
  assert.deepEqual(retried, [
    `run ${first} (sensor once, key k) failed; retried as ${r2?.runId} (attempt 2 of 3)`,
    `run ${r2?.runId} (sensor once, key k) failed; retried as ${r3?.runId} (attempt 3 of 3)`,
  ]);
});

Deno.test("sensor daemon: a failed run is not retried past its retries, without any (the default), or with retry_on_asset_failure=false", async () => {
  for (
    const [options, tags, expected] of [
      [{ maxRetries: 1 }, {}, 2],
      [{}, {}, 1],
      [{ maxRetries: 2 }, { retry_on_asset_failure: "false" }, 1],
      [{}, { max_retries: "1" }, 2],
    ] as const
  ) {
    const world = flakyWorld(5, tags);
    const store = new MemoryRunStore();
    await using d = daemon(world.graph, { runStore: store, ...options });
    await d.tick();
    await d.drain();
    const runs = await store.listRuns({ limit: 10 });
    assert.equal(runs.length, expected, JSON.stringify({ options, tags }));
    assert.ok(runs.every((r) => r.status === "failed"));
  }
  assert.throws(
    () =>
      new SensorDaemon(defineGraph({ assets: [] }), {
        runStore: new MemoryRunStore(),
        maxRetries: -1,
      }),
    /maxRetries -1: expected a whole number >= 0/,
  );
});

Deno.test("sensor daemon: a failed run whose daemon stopped before launching its retry is retried once by the next daemon's first tick", async () => {
  const world = flakyWorld(1);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  // The first daemon stops as its run fails: between the failure and the retry, as a kill would.
  const stop = new AbortController();
  {
    await using first = daemon(world.graph, {
      runStore: store,
      clock,
      maxRetries: 2,
      signal: stop.signal,
      onRunFinished: () => stop.abort(),
    });
    await first.tick();
    await first.drain();
  }
  const [failed, ...others] = await store.listRuns({ limit: 10 });
  assert.deepEqual([failed?.status, others.length], ["failed", 0], "no retry launched yet");
  clock.advance(60_000);
  await using next = daemon(world.graph, { runStore: store, clock, maxRetries: 2 });
  await next.tick();
  await next.drain();
  const runs = await store.listRuns({ limit: 10, tags: { root_run_id: failed?.runId ?? "" } });
  assert.deepEqual(
    runs.map((r) => [r.status, r.tags.attempt, r.tags.retry_of, r.tags.run_key]),
    [["success", "2", failed?.runId, "k"]],
  );
  assert.deepEqual(world.ran, { ok: 1, flaky: 2 }, "the retry resumes after `ok`");
  assert.ok(
    next.logs.some((l) => /its retry was never launched .*: retrying it now/.test(l.message)),
  );
  // Another daemon starting later (or the same one ticking again) owes nothing more.
  await using third = daemon(world.graph, { runStore: store, clock, maxRetries: 2 });
  await third.tick();
  await next.tick();
  await third.drain();
  assert.equal((await store.listRuns({ limit: 10 })).length, 2);
});

Deno.test("sensor daemon: a new daemon retries no failed run that is reaped, by hand, not to be retried, or older than its window", async () => {
  const world = flakyWorld(5);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  {
    // Stopped as its run fails: the run is owed a retry, but starts before the window below.
    const stop = new AbortController();
    await using first = daemon(world.graph, {
      runStore: store,
      clock,
      maxRetries: 2,
      signal: stop.signal,
      onRunFinished: () => stop.abort(),
    });
    await first.tick();
    await first.drain();
  }
  clock.advance(2_000);
  const seed = (runId: string, tags: Record<string, string>, errorSummary = "boom") =>
    store.createRun({
      runId,
      status: "failed",
      selection: "ok,flaky",
      partitions: null,
      tags,
      startedAt: clock.now(),
      finishedAt: clock.now(),
      errorSummary,
    });
  await seed("by-hand", {});
  await seed("reaped", { sensor: "once", run_key: "r", owner_lost: "not relaunched: x" });
  await seed("no-retry", { sensor: "once", run_key: "n", retry_on_asset_failure: "false" });
  await seed("spent", { sensor: "once", run_key: "s", attempt: "3" });
  await seed("not-started", { sensor: "once", run_key: "c" }, "could not start: Unknown asset");
  await using next = daemon(world.graph, {
    runStore: store,
    clock,
    maxRetries: 2,
    retryRecoveryWindowMs: 1_000,
  });
  await next.tick();
  await next.drain();
  assert.equal((await store.listRuns({ limit: 10 })).length, 6);
  assert.equal(world.ran.flaky, 1);
});

Deno.test("sensor daemon: a failing or malformed sensor is reported and the others go on", async () => {
  const world = inboxWorld();
  const broken = defineSensor({
    name: "broken",
    evaluate: () => {
      throw new Error("listing refused");
    },
  });
  const malformed = defineSensor({
    name: "malformed",
    // A request without its runKey, as plain JavaScript could return it.
    evaluate: () => ({ runRequests: [{ selection: "work" }] }) as unknown as SensorResult,
  });
  const skipping = defineSensor({
    name: "skipping",
    evaluate: () => ({ skipReason: "nothing yet" }),
  });
  const work = world.graph.assets.get("work");
  assert.ok(work);
  const graph = defineGraph({
    assets: [work],
    sensors: [broken, malformed, skipping, world.sensor],
  });
  const store = new MemoryRunStore();
  await using d = daemon(graph, { runStore: store });
  world.inbox.push("a");
  const reports = await d.tick();
  assert.deepEqual(reports.map((r) => [r.name, r.status]), [
    ["broken", "failed"],
    ["malformed", "failed"],
    ["skipping", "skipped"],
    ["inbox", "requested"],
  ]);
  assert.match(reports[0]?.error?.message ?? "", /Sensor 'broken' failed: listing refused/);
  assert.match(
    reports[1]?.error?.message ?? "",
    /runRequests\[0\]\.runKey must be a non-empty string/,
  );
  await d.drain();
  assert.deepEqual(world.executed, ["a"]);
  await d.tick();
  const skips = d.logs.filter((l) => l.message === "sensor skipping: skipped: nothing yet");
  assert.equal(skips.length, 1, "the same skip reason is logged once");
});

Deno.test("sensor daemon: schedules fire at the cron time, once, and catch up only the latest missed tick", async (t) => {
  const clock = new FakeClock(T0); // 10:30 UTC
  const hours: string[] = [];
  const hourly = defineSchedule({
    name: "hourly",
    cron: "0 * * * *",
    selection: "report",
    partition: (tick) => tick.toISOString().slice(0, 13),
    tags: { team: "ops" },
  });
  const report = defineAsset({
    key: "report",
    partitions: staticPartitions(["2024-03-10T11", "2024-03-10T14"]),
    materialize: (ctx) => void hours.push(ctx.partitionKey ?? "?"),
  });
  const graph = defineGraph({ assets: [report], schedules: [hourly] });
  const store = new MemoryRunStore();
  await using d = daemon(graph, { runStore: store, clock });

  await t.step("the first start counts from now and replays nothing", async () => {
    const [first] = await d.tick();
    assert.equal(first?.status, "idle");
    assert.equal(await store.getCursor("hourly"), "2024-03-10T10:30:00.000Z");
    clock.advance(29 * 60_000 + 59_000); // 10:59:59
    assert.deepEqual((await d.tick())[0]?.launched, []);
  });

  await t.step("it fires once at 11:00, with the tick's partition and tags", async () => {
    clock.advance(1_000);
    const [fired] = await d.tick();
    assert.equal(fired?.launched.length, 1);
    assert.deepEqual((await d.tick())[0]?.launched, []);
    clock.advance(30 * 60_000);
    assert.deepEqual((await d.tick())[0]?.launched, []);
    await d.drain();
    assert.deepEqual(hours, ["2024-03-10T11"]);
    const run = await store.getRun(fired?.launched[0] ?? "");
    assert.equal(run?.tags.run_key, "hourly:2024-03-10T11:00:00.000Z");
    assert.equal(run?.tags.schedule, "hourly");
    assert.equal(run?.tags.team, "ops");
    assert.equal(run?.partitions, "2024-03-10T11");
  });

  await t.step("after an outage only the latest missed tick runs", async () => {
    clock.advance(3 * 3_600_000); // 14:30
    const [caught] = await d.tick();
    assert.equal(caught?.launched.length, 1);
    await d.drain();
    assert.deepEqual(hours, ["2024-03-10T11", "2024-03-10T14"]);
    assert.equal(await store.getCursor("hourly"), "2024-03-10T14:00:00.000Z");
    assert.ok(
      d.logs.some((l) => l.level === "warn" && /were missed; only the latest runs/.test(l.message)),
    );
  });

  await t.step("two daemons racing on a tick launch it once", async () => {
    clock.advance(30 * 60_000); // 15:00
    await using other = daemon(graph, { runStore: store, clock });
    const reports = await Promise.all([d.tick(), other.tick()]);
    const launched = reports.flat().flatMap((r) => r.launched);
    assert.equal(launched.length, 1);
    await Promise.all([d.drain(), other.drain()]);
    const run = await store.getRun(launched[0] ?? "");
    // Partition 15 is not a key of `report`: the run is recorded failed, still only once.
    assert.equal(run?.tags.run_key, "hourly:2024-03-10T15:00:00.000Z");
    assert.equal(run?.status, "failed");
  });
});

Deno.test("latestTick finds the latest tick of a per-minute cron after a year away, quickly", () => {
  const schedule = defineSchedule({ name: "minutely", cron: "* * * * *", selection: "" });
  // "Quickly" is counted in cron evaluations, not wall time (which load
  // stretches): walking every missed minute of the year would take ~525,600.
  let evaluations = 0;
  const counted = {
    ...schedule,
    nextTick: (at: Date) => {
      evaluations++;
      return schedule.nextTick(at);
    },
  };
  const after = Date.parse("2023-03-10T10:30:00Z");
  const due = latestTick(counted, after, T0 + 30_500);
  assert.ok(evaluations <= 20, `${evaluations} cron evaluations`);
  assert.equal(due?.tick.toISOString(), "2024-03-10T10:30:00.000Z");
  assert.equal(due?.skipped, true);
  assert.equal(latestTick(schedule, T0, T0 + 59_999), undefined);
  assert.deepEqual(latestTick(schedule, T0, T0 + 60_000), {
    tick: new Date(T0 + 60_000),
    skipped: false,
  });
});

/** A graph whose one run waits for `release` (or for cancellation). */
function slowWorld(release: Promise<void>) {
  const started = deferred();
  const slow = defineAsset({
    key: "slow",
    async materialize(ctx) {
      started.resolve();
      await new Promise<void>((resolve, reject) => {
        ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
        release.then(resolve);
      });
    },
  });
  let requested = false;
  const once: SensorDefinition = defineSensor({
    name: "once",
    evaluate: () => {
      if (requested) return { skipReason: "already requested" };
      requested = true;
      return { runRequests: [{ runKey: "only", selection: "slow" }], cursor: "done" };
    },
  });
  return { started, graph: defineGraph({ assets: [slow], sensors: [once] }) };
}

Deno.test("sensor daemon: on shutdown, a run in flight is canceled and recorded so", async () => {
  const never = deferred();
  const world = slowWorld(never.promise);
  const store = new MemoryRunStore();
  const controller = new AbortController();
  const logs: LogRecord[] = [];
  const running = new SensorDaemon(world.graph, {
    runStore: store,
    intervalMs: 5,
    signal: controller.signal,
    log: createLogger((record) => logs.push(record)),
  }).run();
  await world.started.promise;
  controller.abort();
  await running;
  const [run] = await store.listRuns();
  assert.equal(run?.status, "canceled");
  assert.equal((await store.listSteps(run?.runId ?? ""))[0]?.status, "canceled");
  assert.ok(logs.some((l) => l.message === "shutting down: canceling 1 run(s) in flight"));
  assert.match(logs.at(-1)?.message ?? "", /sensor daemon .* stopped/);
  never.resolve();
});

Deno.test("sensor daemon: a run canceled from another process stops at its next heartbeat; the daemon goes on and never relaunches it", async () => {
  const never = deferred();
  const world = slowWorld(never.promise);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = daemon(world.graph, { runStore: store, clock, heartbeatIntervalMs: 5_000 });
  const [report] = await d.tick();
  const runId = report?.launched[0] ?? "";
  await world.started.promise;
  // Another process (the UI, `cancel`) asks; this store is what it writes to.
  assert.equal(await store.requestCancel(runId, { time: clock.now(), reason: "by ana" }), true);
  clock.advance(5_000);
  const [result] = await d.drain();
  assert.equal(result?.status, "canceled");
  const run = await store.getRun(runId);
  assert.equal(run?.status, "canceled");
  assert.match(run?.errorSummary ?? "", /^canceled: cancel requested: by ana/);
  assert.deepEqual((await store.listSteps(runId)).map((s) => s.status), ["canceled"]);
  assert.equal(run?.tags.owner_lost, undefined, "a canceled run is not a lost run");
  // Later ticks: nothing reaped, nothing relaunched, nothing left running.
  clock.advance(600_000);
  const later = await d.tick();
  assert.deepEqual(later.filter((r) => r.relaunchOf !== undefined), []);
  assert.deepEqual((await store.listRuns()).map((r) => [r.runId, r.status]), [[runId, "canceled"]]);
  never.resolve();
});

Deno.test("sensor daemon: on shutdown, a run that ends within the grace period succeeds", async () => {
  const release = deferred();
  const world = slowWorld(release.promise);
  const store = new MemoryRunStore();
  const controller = new AbortController();
  const running = new SensorDaemon(world.graph, {
    runStore: store,
    intervalMs: 5,
    signal: controller.signal,
    shutdownGraceMs: 10_000,
  }).run();
  await world.started.promise;
  controller.abort();
  release.resolve(); // the run ends after shutdown began, well within the grace period
  await running;
  const [run] = await store.listRuns();
  assert.equal(run?.status, "success");
});

Deno.test("sensor daemon: rejects a bad interval", () => {
  assert.throws(
    () =>
      new SensorDaemon(defineGraph({ assets: [] }), {
        runStore: new MemoryRunStore(),
        intervalMs: 0,
      }),
    RangeError,
  );
});

Deno.test("sensor daemon: the loop evaluates each sensor at its own interval", async () => {
  // Fake time: each loop sleeps 5 ms of it; the fast sensor stops the daemon
  // on its 12th evaluation, 55 ms in, long before the slow one is due again.
  const counts = { fast: 0, slow: 0 };
  const controller = new AbortController();
  const counting = (name: "fast" | "slow", intervalMs?: number) =>
    defineSensor({
      name,
      ...(intervalMs ? { intervalMs } : {}),
      evaluate: () => {
        if (++counts[name] === 12 && name === "fast") controller.abort();
        return { skipReason: "counting" };
      },
    });
  const graph = defineGraph({ assets: [], sensors: [counting("fast"), counting("slow", 60_000)] });
  const clock = new FakeClock();
  await new SensorDaemon(graph, {
    runStore: new MemoryRunStore(),
    intervalMs: 5,
    clock,
    signal: controller.signal,
  }).run();
  assert.deepEqual(counts, { fast: 12, slow: 1 });
  assert.deepEqual(clock.sleeps, Array(11).fill(5));
});

Deno.test("sensor daemon: a wall clock stepped back an hour holds no sensor back until it catches up", async () => {
  // The fast sensor steps the clock back an hour at its 3rd evaluation: the slow one (every
  // minute) is evaluated again at once, not an hour later (it was once, then never, before).
  const counts = { fast: 0, slow: 0 };
  const controller = new AbortController();
  const clock = new FakeClock();
  const counting = (name: "fast" | "slow", intervalMs?: number) =>
    defineSensor({
      name,
      ...(intervalMs ? { intervalMs } : {}),
      evaluate: () => {
        counts[name]++;
        if (name === "fast" && counts.fast === 3) clock.advance(-3_600_000);
        if (name === "fast" && counts.fast === 12) controller.abort();
        return { skipReason: "counting" };
      },
    });
  const graph = defineGraph({ assets: [], sensors: [counting("fast"), counting("slow", 60_000)] });
  await new SensorDaemon(graph, {
    runStore: new MemoryRunStore(),
    intervalMs: 5,
    clock,
    signal: controller.signal,
  }).run();
  assert.deepEqual(counts, { fast: 12, slow: 2 });
});

Deno.test("sensor daemon: a schedule whose wall clock jumped a day ahead and back loses no tick and runs none twice", async () => {
  const clock = new FakeClock(T0); // 10:30 UTC
  const ran: string[] = [];
  const hourly = defineSchedule({ name: "hourly", cron: "0 * * * *", selection: "report" });
  const report = defineAsset({ key: "report", materialize: () => void ran.push("report") });
  const graph = defineGraph({ assets: [report], schedules: [hourly] });
  const store = new MemoryRunStore();
  await using d = daemon(graph, { runStore: store, clock });
  const keys = async () =>
    (await store.listRuns({ limit: 50 })).map((r) => r.tags.run_key ?? "").sort();
  await d.tick(); // starts counting at 10:30
  clock.advance(86_400_000); // the clock is stepped a day ahead: tomorrow's 10:00 runs
  await d.tick();
  await d.drain();
  assert.deepEqual(await keys(), ["hourly:2024-03-11T10:00:00.000Z"]);
  clock.advance(-86_400_000 + 29 * 60_000 + 59_000); // corrected: 10:59:59 today
  assert.deepEqual((await d.tick())[0]?.launched, []);
  assert.ok(d.logs.some((l) => /schedule hourly: the clock went back/.test(l.message)));
  clock.advance(1_000); // 11:00 today: it fires (it waited for tomorrow 10:00 before)
  assert.equal((await d.tick())[0]?.launched.length, 1);
  clock.advance(3_600_000); // 12:00
  assert.equal((await d.tick())[0]?.launched.length, 1);
  clock.advance(22 * 3_600_000); // tomorrow 10:00 again: it ran already, never twice
  const [again] = await d.tick();
  assert.deepEqual([again?.launched, again?.duplicates], [[], ["hourly:2024-03-11T10:00:00.000Z"]]);
  await d.drain();
  assert.deepEqual(await keys(), [
    "hourly:2024-03-10T11:00:00.000Z",
    "hourly:2024-03-10T12:00:00.000Z",
    "hourly:2024-03-11T10:00:00.000Z",
  ]);
  assert.equal(ran.length, 3);
});

Deno.test("sensor daemon: one request that cannot be launched never stops the others, nor another sensor", async () => {
  const world = inboxWorld();
  const second = inboxWorld({ sensorName: "second" });
  const graph = defineGraph({
    assets: [...world.graph.assets.values()],
    sensors: [world.sensor, second.sensor],
  });
  // The run store refuses to claim run key "b" (once), as a store under a fault would.
  let refused = 0;
  const store = instrumented(new MemoryRunStore(), (method, args) => {
    if (method === "claimRunKey" && args[1] === "b" && refused === 0) return ++refused === 1;
    if (method === "getCursor" && args[0] === "second") return true; // the other sensor fails whole
    return false;
  });
  await using d = daemon(graph, { runStore: store });
  world.inbox.push("a", "b", "c");
  const reports = await d.tick();
  await d.drain();
  const inbox = reports.find((r) => r.name === "inbox");
  assert.equal(inbox?.status, "requested");
  assert.equal(inbox?.launched.length, 2, "a and c ran");
  assert.deepEqual(inbox?.requestErrors?.map((e) => [e.runKey, e.error.message]), [
    ["b", "injected failure in claimRunKey"],
  ]);
  assert.equal(inbox?.cursor, undefined, "the cursor stays, so b is asked again");
  assert.equal(await store.getCursor("inbox"), undefined);
  assert.equal(reports.find((r) => r.name === "second")?.status, "failed");
  assert.ok(d.logs.some((l) => /run key b not launched: injected failure/.test(l.message)));
  assert.deepEqual(world.executed.sort(), ["a", "c"]);

  // Next tick: b is launched, a and c are duplicates, the cursor moves on.
  const [again] = (await d.tick()).filter((r) => r.name === "inbox");
  await d.drain();
  assert.equal(again?.launched.length, 1);
  assert.deepEqual([...(again?.duplicates ?? [])].sort(), ["a", "c"]);
  assert.equal(await store.getCursor("inbox"), "3");
  assert.deepEqual(world.executed.sort(), ["a", "b", "c"]);
});

Deno.test("sensor daemon: stops with the run store's error when its SQLite file is deleted under it, instead of failing every tick for ever", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "runs.db");
  const store = SqliteRunStore.open(path, { fileCheckIntervalMs: 0 });
  const controller = new AbortController();
  const logs: LogRecord[] = [];
  const world = inboxWorld();
  try {
    let ticked = 0;
    const running = new SensorDaemon(world.graph, {
      runStore: store,
      intervalMs: 5,
      signal: controller.signal,
      log: createLogger((record) => {
        logs.push(record);
        if (/sensor inbox/.test(record.message)) ticked++;
      }),
    }).run();
    // Handled from the start: the daemon may stop before Deno.remove's own
    // promise resolves (under load), and a rejection with no handler yet fails
    // the test file as an uncaught error.
    const ended = running.then(() => "ended without an error", (error: unknown) => error);
    while (ticked === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    await Deno.remove(path);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      ended,
      new Promise((
        resolve,
      ) => (timer = setTimeout(() => resolve("still running after 5 s"), 5_000))),
    ]).finally(() => clearTimeout(timer));
    controller.abort();
    await running.catch(() => {});
    assert.ok(outcome instanceof PlatformError, String(outcome));
    assert.equal(outcome.code, "run_store.file_replaced");
    assert.match(outcome.message, /runs\.db: the file was deleted .* restart this process/);
    assert.equal(logs.filter((l) => /^stopping: .*deleted/.test(l.message)).length, 1);
    // Said once: the rest of the tick does not repeat the same error line after line.
    const stopping = logs.findIndex((l) => /^stopping: /.test(l.message));
    assert.deepEqual(
      logs.slice(stopping + 1).filter((l) => l.level === "error" || l.level === "warn")
        .map((l) => l.message),
      [],
    );
  } finally {
    await store[Symbol.asyncDispose]().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sensor daemon: a tick that asks for no run is recorded as skipped ('no run requested'), its cursor still kept", async () => {
  // Before: recorded as 'requested' with no run and no reason, a green badge on every
  // evaluation of the UI's automation page (the automation sensor's ticks too).
  const world = inboxWorld();
  const store = new MemoryRunStore();
  await using d = daemon(world.graph, { runStore: store });
  await d.tick();
  const [tick] = await store.listTicks("inbox", { limit: 1 });
  assert.equal(tick?.status, "skipped");
  assert.equal(tick?.reason, "no run requested");
  assert.deepEqual(tick?.runIds, []);
  assert.equal(await store.getCursor("inbox"), "0");
  world.inbox.push("a");
  await d.tick();
  await d.drain();
  const [launched] = await store.listTicks("inbox", { limit: 1 });
  assert.equal(launched?.status, "requested");
  assert.equal(launched?.runIds.length, 1);
});
