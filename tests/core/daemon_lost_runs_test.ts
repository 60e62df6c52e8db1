/**
 * The daemon and runs whose process died: each tick reaps them (failed,
 * "owner process died") and relaunches a sensor or schedule run whose work
 * was not done, once by default, never twice, never past the policy.
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../core/asset.ts";
import { SensorDaemon } from "../../core/daemon.ts";
import { defineGraph } from "../../core/definitions.ts";
import { createLogger, type LogRecord } from "../../core/logger.ts";
import type { HostView } from "../../core/owner.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { type NewRun, OWNER_LOST_TAG, type RunOwner } from "../../core/run_store/types.ts";
import { defineSensor } from "../../core/sensor.ts";
import { FakeClock } from "../../core/testing.ts";

const T0 = Date.parse("2024-03-10T10:30:00Z");
const DEAD: RunOwner = { instanceId: "dead-1", host: "other-host", pid: 77 };
const SELF: RunOwner = { instanceId: "self-1", host: "this-host", pid: 10 };
/** This host as the daemon sees it: no process has pid 55. */
const HOST: HostView = { self: SELF, pidExists: (pid) => pid !== 55 };

/** A graph whose `batches` sensor never asks for anything itself; `work` records its partitions. */
function world() {
  const executed: string[] = [];
  const sensor = defineSensor({ name: "batches", evaluate: () => ({ skipReason: "idle" }) });
  const work = defineAsset({ key: "work", materialize: (ctx) => void executed.push(ctx.runId) });
  const other = defineAsset({ key: "other", materialize: () => {} });
  return { executed, graph: defineGraph({ assets: [work, other], sensors: [sensor] }) };
}

/** A run the dead process left `running`, with one step still running. */
async function lostRun(store: MemoryRunStore, runId: string, fields: Partial<NewRun> = {}) {
  await store.createRun({
    runId,
    status: "running",
    selection: "work",
    partitions: null,
    tags: { sensor: "batches", run_key: "b1:etag1" },
    startedAt: T0,
    finishedAt: null,
    errorSummary: null,
    owner: DEAD,
    heartbeatTimeoutMs: 40_000,
    ...fields,
  });
  await store.putStep({
    runId,
    assetKey: "work",
    partition: null,
    status: "running",
    attempts: 1,
    startedAt: T0,
    finishedAt: null,
    reason: null,
  });
}

function daemon(store: MemoryRunStore, clock: FakeClock, options: { maxRelaunches?: number } = {}) {
  const logs: LogRecord[] = [];
  const w = world();
  const d = new SensorDaemon(w.graph, {
    runStore: store,
    clock,
    host: HOST,
    owner: SELF,
    log: createLogger((record) => logs.push(record)),
    ...options,
  });
  return Object.assign(d, { logs, executed: w.executed });
}

Deno.test("a tick reaps a run whose owner stopped heartbeating, and relaunches it once", async () => {
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0 + 39_000);
  await lostRun(store, "lost-1");
  await using d = daemon(store, clock);

  assert.deepEqual((await d.tick()).filter((r) => r.relaunchOf), [], "the lease has not lapsed");
  assert.equal((await store.getRun("lost-1"))?.status, "running");

  clock.advance(1_001);
  const reports = await d.tick();
  const relaunch = reports.find((r) => r.relaunchOf === "lost-1");
  assert.equal(relaunch?.kind, "sensor");
  assert.equal(relaunch?.name, "batches");
  assert.equal(relaunch?.launched.length, 1);
  const [newId] = relaunch?.launched ?? [];
  await d.drain();
  assert.deepEqual(d.executed, [newId]);

  const lost = await store.getRun("lost-1");
  assert.equal(lost?.status, "failed");
  assert.match(
    lost?.errorSummary ?? "",
    /^owner process died \(no heartbeat from other-host pid 77/,
  );
  assert.equal(lost?.tags[OWNER_LOST_TAG], `relaunched as ${newId} (attempt 2)`);
  assert.deepEqual((await store.listSteps("lost-1")).map((s) => s.status), ["failed"]);

  const again = await store.getRun(newId ?? "");
  assert.equal(again?.status, "success");
  assert.deepEqual(again?.tags, {
    sensor: "batches",
    run_key: "b1:etag1",
    attempt: "2",
    relaunch_of: "lost-1",
    root_run_id: "lost-1",
  });
  assert.deepEqual(again?.owner, SELF);
  assert.ok(d.logs.some((l) => /relaunched lost run lost-1 as /.test(l.message)));

  // Later ticks neither reap nor relaunch anything more.
  clock.advance(120_000);
  assert.deepEqual((await d.tick()).filter((r) => r.relaunchOf), []);
  assert.equal((await store.listRuns({ limit: 10 })).length, 2);
});

Deno.test("two daemons ticking at once relaunch a lost run exactly once", async () => {
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0 + 60_000);
  for (let i = 0; i < 5; i++) {
    await lostRun(store, `lost-${i}`, { tags: { sensor: "batches", run_key: `b${i}` } });
  }
  await using a = daemon(store, clock);
  await using b = daemon(store, clock);
  const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
  await Promise.all([a.drain(), b.drain()]);
  const launched = [...ra, ...rb].flatMap((r) => r.relaunchOf ? r.launched : []);
  assert.equal(launched.length, 5, JSON.stringify([ra, rb]));
  const runs = await store.listRuns({ limit: 100 });
  assert.equal(runs.length, 10);
  for (let i = 0; i < 5; i++) {
    const relaunched = runs.filter((r) => r.tags.relaunch_of === `lost-${i}`);
    assert.equal(relaunched.length, 1, `lost-${i}`);
    assert.equal(relaunched[0]?.status, "success");
  }
});

Deno.test("a lost run is relaunched only as far as the policy allows", async (t) => {
  const cases: {
    name: string;
    fields: Partial<NewRun>;
    maxRelaunches?: number;
    allSucceeded?: boolean;
    decision: RegExp;
  }[] = [
    {
      name: "a relaunch that died too is not relaunched again (default: once)",
      fields: { tags: { sensor: "batches", run_key: "b1", attempt: "2", relaunch_of: "x" } },
      decision: /^not relaunched: it was attempt 2, and lost runs are relaunched at most 1 time/,
    },
    {
      name: "maxRelaunches 0 never relaunches",
      fields: {},
      maxRelaunches: 0,
      decision: /^not relaunched: it was attempt 1, .* at most 0 time/,
    },
    {
      name: "maxRelaunches 2 relaunches attempt 2",
      fields: { tags: { sensor: "batches", run_key: "b1", attempt: "2", root_run_id: "first" } },
      maxRelaunches: 2,
      decision: /^relaunched as \S+ \(attempt 3\)$/,
    },
    {
      name: "a run whose every step had succeeded is done",
      fields: {},
      allSucceeded: true,
      decision: /^not relaunched: every step had succeeded$/,
    },
    {
      name: "a run launched by hand is not relaunched",
      fields: { tags: {} },
      decision: /^not relaunched: not launched by a sensor or schedule$/,
    },
    {
      name: "a run of a sensor no longer in the graph is not relaunched",
      fields: { tags: { sensor: "gone", run_key: "k" } },
      decision: /^not relaunched: sensor 'gone' is not in the graph$/,
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const store = new MemoryRunStore();
      const clock = new FakeClock(T0 + 60_000);
      await lostRun(store, "lost", c.fields);
      if (c.allSucceeded) {
        const [step] = await store.listSteps("lost");
        await store.putStep({ ...step!, status: "success", finishedAt: T0 + 1 });
      }
      await using d = daemon(
        store,
        clock,
        c.maxRelaunches === undefined ? {} : { maxRelaunches: c.maxRelaunches },
      );
      await d.tick();
      await d.drain();
      const decision = (await store.getRun("lost"))?.tags[OWNER_LOST_TAG] ?? "";
      assert.match(decision, c.decision);
      const relaunched = (await store.listRuns({ limit: 10 })).filter((r) => r.runId !== "lost");
      assert.equal(relaunched.length, decision.startsWith("relaunched") ? 1 : 0);
      if (relaunched[0]) {
        assert.equal(relaunched[0].tags.root_run_id, c.fields.tags?.root_run_id ?? "lost");
      }
      await d.tick(); // decided once: nothing more
      assert.equal((await store.listRuns({ limit: 10 })).length, relaunched.length + 1);
    });
  }
});

Deno.test("a run whose process is gone from this host is reaped at once, lease or not", async () => {
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0 + 1_000); // well inside the lease
  const gone = { instanceId: "gone-1", host: "this-host", pid: 55 }; // no such pid here
  const alive = { instanceId: "alive-1", host: "this-host", pid: 56 };
  const restarted = { instanceId: "before-restart", host: "this-host", pid: SELF.pid };
  await lostRun(store, "gone", { owner: gone });
  await lostRun(store, "alive", { owner: alive });
  await lostRun(store, "pid-reused", { owner: restarted });
  await using d = daemon(store, clock, { maxRelaunches: 0 });
  await d.tick();
  assert.equal((await store.getRun("gone"))?.status, "failed");
  assert.match(
    (await store.getRun("gone"))?.errorSummary ?? "",
    /^owner process died \(process this-host pid 55 is gone\)/,
  );
  assert.equal((await store.getRun("pid-reused"))?.status, "failed", "its pid is this process now");
  assert.equal((await store.getRun("alive"))?.status, "running", "left to its lease");
});

Deno.test("a failing reap is logged and the sensors still run", async () => {
  const store = new MemoryRunStore();
  store.reapRuns = () => Promise.reject(new Error("database restarting"));
  const clock = new FakeClock(T0);
  await using d = daemon(store, clock);
  const reports = await d.tick();
  assert.deepEqual(reports.map((r) => [r.name, r.status]), [["batches", "skipped"]]);
  assert.ok(
    d.logs.some((l) =>
      l.level === "error" && /cannot reap runs.*database restarting/.test(l.message)
    ),
  );
});

Deno.test("the daemon refuses a negative or fractional maxRelaunches", () => {
  for (const maxRelaunches of [-1, 0.5]) {
    assert.throws(
      () => daemon(new MemoryRunStore(), new FakeClock(T0), { maxRelaunches }),
      RangeError,
    );
  }
});

Deno.test("a wall clock stepped an hour forward fails none of the daemon's own live runs", async () => {
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0 + 1_000);
  const sibling = { instanceId: "worker-1", host: "this-host", pid: 56 }; // a process that exists
  await lostRun(store, "own", { owner: SELF });
  await lostRun(store, "sibling", { owner: sibling });
  await lostRun(store, "remote", { owner: DEAD });
  await using d = daemon(store, clock, { maxRelaunches: 0 });
  // NTP steps the clock, or the VM resumes: every lease looks lapsed before anyone heartbeats.
  clock.advance(3_600_000);
  await d.tick();
  assert.equal((await store.getRun("own"))?.status, "running", "this process is alive");
  // Another process is judged by its lease (it may be hung), here or on another host.
  assert.equal((await store.getRun("sibling"))?.status, "failed");
  assert.equal((await store.getRun("remote"))?.status, "failed");
});
