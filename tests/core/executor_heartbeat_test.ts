/**
 * The executor as a run owner: the run records its owner and lease, the owner
 * heartbeats on the run's clock while the run goes on, a cancel asked from
 * another process stops it, and a run another process failed (taking this one
 * for dead) is stopped here without its record being overwritten.
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { materialize } from "../../core/executor.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import type { RunOwner, StepRecord } from "../../core/run_store/types.ts";
import { FakeClock } from "../../core/testing.ts";
import { deferred } from "./_helpers.ts";
import { T0 } from "./_executor.ts";

const OWNER: RunOwner = { instanceId: "me", host: "test-host", pid: 4242 };

/** A memory store that counts heartbeats, and can be made to fail them. */
class WatchedStore extends MemoryRunStore {
  beats: number[] = [];
  failBeats = false;
  override heartbeat(owner: RunOwner, runIds: readonly string[], time: number) {
    this.beats.push(time);
    if (this.failBeats) return Promise.reject(new Error("database restarting"));
    return super.heartbeat(owner, runIds, time);
  }
}

/** An asset that runs until its signal aborts; `started` resolves when it runs. */
function waitingGraph() {
  const started = deferred();
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "long",
        materialize: (ctx) =>
          new Promise<void>((_, reject) => {
            ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason), { once: true });
            started.resolve();
          }),
      }),
      defineAsset({ key: "after", deps: ["long"], materialize: () => {} }),
    ],
  });
  return { graph, started };
}

Deno.test("the run records its owner and lease, and heartbeats on the run's clock", async () => {
  const clock = new FakeClock(T0);
  const store = new WatchedStore();
  const seen: (number | null | undefined)[] = [];
  const graph = defineGraph({
    assets: [defineAsset({
      key: "slow",
      materialize: async (ctx) => {
        for (let i = 0; i < 3; i++) {
          await ctx.clock.sleep(10_000); // the heartbeat waits for time the work spends
          for (let j = 0; j < 20; j++) await Promise.resolve(); // let the beat be written
          seen.push((await store.getRun(ctx.runId))?.heartbeatAt);
        }
      },
    })],
  });
  const result = await materialize(graph, {
    runStore: store,
    clock,
    owner: OWNER,
    runId: "r1",
    heartbeatIntervalMs: 10_000,
  });
  assert.equal(result.status, "success");
  assert.deepEqual(store.beats, [T0 + 10_000, T0 + 20_000, T0 + 30_000]);
  assert.deepEqual(seen, [T0 + 10_000, T0 + 20_000, T0 + 30_000]);
  const run = await store.getRun("r1");
  assert.deepEqual([run?.owner, run?.heartbeatTimeoutMs], [OWNER, 40_000]);
  assert.deepEqual(clock.sleeps, [10_000, 10_000, 10_000], "heartbeats spend no time");
  assert.equal(clock.waiting, 0, "the heartbeat stops with the run");
});

Deno.test("a cancel asked from another process stops the run at the next heartbeat", async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryRunStore();
  const { graph, started } = waitingGraph();
  const running = materialize(graph, {
    runStore: store,
    clock,
    owner: OWNER,
    runId: "r1",
    heartbeatIntervalMs: 5_000,
  });
  await started.promise;
  assert.equal(
    await store.requestCancel("r1", { time: clock.now(), reason: "from the UI by ana" }),
    true,
  );
  clock.advance(4_999);
  await Promise.resolve();
  assert.equal((await store.getRun("r1"))?.status, "running", "not before the next heartbeat");
  clock.advance(1);
  const result = await running;
  assert.equal(result.status, "canceled");
  assert.match(result.errorSummary ?? "", /^canceled: cancel requested: from the UI by ana; /);
  assert.deepEqual(result.steps.map((s) => [s.assetKey, s.status]), [
    ["long", "canceled"],
    ["after", "canceled"],
  ]);
  const run = await store.getRun("r1");
  assert.equal(run?.status, "canceled");
  assert.match(run?.errorSummary ?? "", /cancel requested: from the UI by ana/);
  const logs = await store.listEvents("r1", { types: ["log"] });
  assert.ok(logs.some((e) => /Run canceled: cancel requested/.test(String(e.data.message))));
});

Deno.test("a run another process failed as lost is stopped here, its record left as the reaper wrote it", async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryRunStore();
  const { graph, started } = waitingGraph();
  const running = materialize(graph, {
    runStore: store,
    clock,
    owner: OWNER,
    runId: "r1",
    heartbeatIntervalMs: 1_000,
    heartbeatTimeoutMs: 3_000,
  });
  await started.promise;
  // This process stalls (no heartbeat for longer than its lease): another reaps the run.
  const [reaped] = await store.reapRuns({ now: T0 + 3_001 });
  assert.equal(reaped?.runId, "r1");
  clock.advance(3_001); // the stall ends: the next heartbeat learns the run is lost
  const result = await running;
  assert.equal(result.status, "canceled");
  assert.match(result.errorSummary ?? "", /another process failed this run/);
  const run = await store.getRun("r1");
  assert.equal(run?.status, "failed");
  assert.equal(run?.errorSummary, reaped?.errorSummary, "not overwritten by the stopped owner");
  assert.deepEqual((await store.listSteps("r1")).map((s) => [s.assetKey, s.status]), [
    ["long", "failed"],
    ["after", "canceled"],
  ]);
});

Deno.test("a heartbeat that cannot be written is logged, and the run goes on", async () => {
  const clock = new FakeClock(T0);
  const store = new WatchedStore();
  store.failBeats = true;
  const graph = defineGraph({
    assets: [defineAsset({
      key: "a",
      materialize: async (ctx) => {
        await ctx.clock.sleep(2_500);
        for (let j = 0; j < 20; j++) await Promise.resolve();
      },
    })],
  });
  const result = await materialize(graph, {
    runStore: store,
    clock,
    runId: "r1",
    heartbeatIntervalMs: 1_000,
  });
  assert.equal(result.status, "success");
  assert.ok(store.beats.length >= 1);
  const logs = await store.listEvents("r1", { types: ["log"] });
  assert.ok(
    logs.some((e) =>
      e.data.level === "warn" && /heartbeat: database restarting/.test(String(e.data.message))
    ),
    JSON.stringify(logs),
  );
});

Deno.test("heartbeats failing until the lease would lapse stop the run before it does, recorded with why", async () => {
  const clock = new FakeClock(T0);
  const store = new WatchedStore();
  store.failBeats = true;
  const { graph, started } = waitingGraph();
  const running = materialize(graph, {
    runStore: store,
    clock,
    owner: OWNER,
    runId: "r1",
    heartbeatIntervalMs: 1_000,
  });
  await started.promise;
  const settle = async () => {
    for (let j = 0; j < 50; j++) await Promise.resolve();
  };
  for (const at of [1_000, 2_000]) {
    clock.advance(1_000);
    await settle();
    assert.equal((await store.getRun("r1"))?.status, "running", `still running at +${at} ms`);
  }
  // The beat at +3 s fails too: the next one (+4 s) would come when the 4 s lease lapsed.
  clock.advance(1_000);
  const result = await running;
  assert.deepEqual(store.beats, [T0 + 1_000, T0 + 2_000, T0 + 3_000]);
  assert.equal(result.status, "canceled");
  assert.match(
    result.errorSummary ?? "",
    /^canceled: its heartbeat could not be recorded for 3000 ms \(database restarting\); stopped before its lease of 4000 ms lapsed/,
  );
  const run = await store.getRun("r1");
  assert.equal(run?.status, "canceled");
  assert.equal(run?.finishedAt, T0 + 3_000);
  // Recorded by its owner, before the lease lapsed: a reaper finds nothing to take.
  assert.deepEqual(await store.reapRuns({ now: T0 + 3_999 }), []);
  assert.deepEqual(await store.reapRuns({ now: T0 + 3_600_000 }), []);
});

Deno.test("bad heartbeat settings are refused before the run", async (t) => {
  const graph = defineGraph({ assets: [defineAsset({ key: "a", materialize: () => {} })] });
  const cases: [string, { heartbeatIntervalMs?: number; heartbeatTimeoutMs?: number }][] = [
    ["a zero interval", { heartbeatIntervalMs: 0 }],
    ["a fractional interval", { heartbeatIntervalMs: 1.5 }],
    ["a lease no longer than the interval", {
      heartbeatIntervalMs: 1_000,
      heartbeatTimeoutMs: 1_000,
    }],
  ];
  for (const [name, options] of cases) {
    await t.step(name, async () => {
      const store = new MemoryRunStore();
      await assert.rejects(() => materialize(graph, { runStore: store, ...options }), RangeError);
      assert.deepEqual(await store.listRuns(), []);
    });
  }
});

Deno.test("a process resumed after its run was taken over starts no further step (split brain after SIGSTOP)", async () => {
  // The process was stopped (SIGSTOP, a VM paused) mid-step for longer than its lease; another
  // process reaped the run and queued its retry, which runs every step not yet done. When this
  // process resumes, its step ends at once, while the heartbeat that would tell it the run is
  // lost is still on the wire: the executor must not start the next step on a run that is no
  // longer its own, or that step runs twice with its visible effects.
  const clock = new FakeClock(T0);
  const replies = deferred();
  let beatsAsked = 0;
  const stepsSent: StepRecord[] = [];
  class SlowStore extends MemoryRunStore {
    override async heartbeat(owner: RunOwner, runIds: readonly string[], time: number) {
      beatsAsked++;
      await replies.promise; // the round trip of a process that just resumed
      return await super.heartbeat(owner, runIds, time);
    }
    // What the owner sends, kept or not: the store's fence drops a reaped run's step ends.
    override putStep(step: StepRecord) {
      stepsSent.push({ ...step });
      return super.putStep(step);
    }
  }
  const store = new SlowStore();
  const started = deferred();
  const resume = deferred();
  const ranAfter: string[] = [];
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "first",
        materialize: async () => {
          started.resolve();
          await resume.promise;
        },
      }),
      defineAsset({
        key: "second",
        deps: ["first"],
        materialize: (ctx) => void ranAfter.push(ctx.runId),
      }),
    ],
  });
  const running = materialize(graph, {
    runStore: store,
    clock,
    owner: OWNER,
    runId: "r1",
    heartbeatIntervalMs: 1_000,
    heartbeatTimeoutMs: 3_000,
  });
  await started.promise;
  const [reaped] = await store.reapRuns({ now: T0 + 3_001 });
  assert.equal(reaped?.runId, "r1");
  clock.advance(3_001); // resumed: the heartbeat is due, its reply not in yet
  resume.resolve(); // and the stopped step ends at once
  // Until the stopped step's end is sent to the store (observable state, not a delay), then a
  // few more turns: the memory store does no I/O, so each turn runs every continuation that is
  // ready, and the next step has started by then unless the executor waits on the store first.
  const turn = () => new Promise((r) => setTimeout(r, 0));
  const firstDone = () => stepsSent.some((s) => s.assetKey === "first" && s.status === "success");
  while (!firstDone()) await turn();
  for (let i = 0; i < 20 && ranAfter.length === 0; i++) await turn();
  assert.equal(beatsAsked, 1, "the step waited for the heartbeat on the wire, not a new one");
  replies.resolve();
  const result = await running;
  assert.deepEqual(ranAfter, [], "no step started on a run taken over by another process");
  assert.equal(result.status, "canceled");
  assert.match(result.errorSummary ?? "", /another process failed this run/);
  const run = await store.getRun("r1");
  assert.equal(run?.status, "failed");
  assert.equal(run?.errorSummary, reaped?.errorSummary, "not overwritten by the resumed owner");
  const second = (await store.listSteps("r1")).find((s) => s.assetKey === "second");
  assert.notEqual(second?.status, "success");
  assert.notEqual(second?.status, "running");
  const first = (await store.listSteps("r1")).find((s) => s.assetKey === "first");
  assert.equal(first?.status, "failed", "the reaper's step end stands (the store's fence)");
});
