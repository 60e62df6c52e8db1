/**
 * The fence of a reaped run, on every store (memory, SQLite, Postgres):
 * once a reaper failed a run (tag `owner_lost`), what its owner still sends
 * (a step success, a materialization, a `run_finished`, the run's end) is
 * dropped, and its log lines are kept. The owner was alive after all
 * (stopped, frozen, its event loop blocked) and learns it only at its next
 * heartbeat. tests/resources/run_store/sqlite_fence_process_test.ts and
 * tests/core/worker/blocked_step_process_test.ts show it with real processes.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { RunOwner, RunStore } from "../../../core/run_store/types.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { needs } from "../../_helpers/tools.ts";
import { memoryTarget, postgresTarget, sqliteTarget, type Target } from "./_backends.ts";

const T0 = Date.parse("2024-05-01T12:00:00Z");
const OWNER: RunOwner = { instanceId: "a-0001", host: "host-a", pid: 101 };
const REAPER: RunOwner = { instanceId: "b-0002", host: "host-b", pid: 202 };

async function check(store: RunStore): Promise<void> {
  await store.createRun({
    runId: "stale",
    status: "running",
    selection: "a",
    partitions: null,
    tags: {},
    startedAt: T0,
    finishedAt: null,
    errorSummary: null,
    owner: OWNER,
    heartbeatAt: T0,
    heartbeatTimeoutMs: 30_000,
  });
  await store.putStep({
    runId: "stale",
    assetKey: "a",
    partition: null,
    status: "running",
    attempts: 1,
    startedAt: T0,
    finishedAt: null,
    reason: null,
  });
  await store.flush();
  const reaped = await store.reapRuns({ now: T0 + 60_000, reaper: REAPER });
  assert.deepEqual(reaped.map((r) => r.runId), ["stale"]);
  // The owner, resumed, ends its step and its run as if nothing happened.
  await store.putStep({
    runId: "stale",
    assetKey: "a",
    partition: null,
    status: "success",
    attempts: 1,
    startedAt: T0,
    finishedAt: T0 + 61_000,
    reason: null,
  });
  await store.appendEvents([
    {
      runId: "stale",
      type: "materialization",
      time: T0 + 61_000,
      assetKey: "a",
      partition: null,
      data: { rows: 1 },
    },
    {
      runId: "stale",
      type: "log",
      time: T0 + 61_000,
      assetKey: "a",
      partition: null,
      data: { level: "info", message: "resumed" },
    },
    {
      runId: "stale",
      type: "run_finished",
      time: T0 + 61_000,
      assetKey: null,
      partition: null,
      data: { status: "success" },
    },
  ]);
  await store.flush();
  await store.updateRun("stale", {
    status: "success",
    finishedAt: T0 + 61_000,
    errorSummary: null,
  });

  const run = await store.getRun("stale");
  assert.equal(run?.status, "failed");
  assert.match(run?.errorSummary ?? "", /^owner process died/);
  assert.equal(run?.finishedAt, T0 + 60_000);
  assert.equal((await store.listSteps("stale"))[0]?.status, "failed");
  assert.equal(await store.lastMaterialization("a", null), undefined);
  const events = await store.listEvents("stale");
  assert.deepEqual(events.filter((e) => e.type === "materialization"), []);
  assert.deepEqual(
    events.filter((e) => e.type === "run_finished").map((e) => e.data.status),
    ["failed"],
  );
  assert.equal(events.filter((e) => e.type === "log").length, 1, "its log line is kept");
  // The daemon's decision about the lost run still goes through (no end in it).
  await store.updateRun("stale", { status: "failed", tags: { owner_lost: "relaunched" } });
  assert.equal((await store.getRun("stale"))?.tags.owner_lost, "relaunched");
}

async function onTarget(target: Target): Promise<void> {
  const { store } = await target.open();
  try {
    await check(store);
  } finally {
    await store[Symbol.asyncDispose]();
  }
}

Deno.test("run store fence (memory): a reaped run keeps the reaper's end; its owner's late writes are dropped", async () => {
  await using target = memoryTarget();
  await onTarget(target);
});

Deno.test("run store fence (sqlite): a reaped run keeps the reaper's end; its owner's late writes are dropped", async () => {
  await using target = await sqliteTarget();
  await onTarget(target);
});

Deno.test({
  name:
    "run store fence (postgres): a reaped run keeps the reaper's end; its owner's late writes are dropped",
  ignore: await needs("postgres"),
}, async () => {
  await using pg = await startPostgres();
  await using target = postgresTarget(pg.url);
  await onTarget(target);
});
