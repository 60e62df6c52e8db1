/**
 * The SQLite run store on a full disk (its own small tmpfs): a run's end is
 * recorded whatever else does not fit, errors name the file and say what to
 * do, and what waited is written once there is room again.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  defineAsset,
  defineGraph,
  DiskFullError,
  materialize,
  ResourceError,
} from "../../../core/mod.ts";
import type { RunRecord, StepRecord } from "../../../core/run_store/types.ts";
import { SqliteRunStore } from "../../../resources/run_store/mod.ts";
import { RESERVE_BYTES } from "../../../resources/_space_reserve.ts";
import { FakeClock } from "../../../core/testing.ts";
import { rejected } from "../../_helpers/assert_errors.ts";
import { caught } from "../../_helpers/assert_errors.ts";
import { mountTmpfs, tmpfsSkip } from "../../_helpers/tmpfs.ts";

const MiB = 1024 * 1024;
const NO_TMPFS = await tmpfsSkip();

function running(runId: string): RunRecord {
  return {
    runId,
    status: "running",
    selection: "*",
    partitions: null,
    tags: {},
    startedAt: 1,
    finishedAt: null,
    errorSummary: null,
    owner: null,
    heartbeatAt: 1,
    heartbeatTimeoutMs: null,
    cancelRequestedAt: null,
    cancelReason: null,
  };
}

/** A pending step of run `r1`. */
function pending(assetKey: string): StepRecord {
  return {
    runId: "r1",
    assetKey,
    partition: null,
    status: "pending",
    attempts: 0,
    startedAt: null,
    finishedAt: null,
    reason: null,
  };
}

/** `count` log events of `bytes` each: what a run's steps buffer. */
function logs(runId: string, count: number, bytes: number) {
  return Array.from({ length: count }, (_, i) => ({
    runId,
    type: "log" as const,
    time: 2 + i,
    assetKey: "a",
    partition: null,
    data: { message: `${i}:${"x".repeat(bytes)}` },
  }));
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

Deno.test(
  "SqliteRunStore on a full disk: the run's end is recorded alone, the rest once there is room",
  {
    ignore: NO_TMPFS,
  },
  async () => {
    await using disk = await mountTmpfs(8 * MiB);
    const path = `${disk.path}/state/runs.db`;
    await using store = SqliteRunStore.open(path, { flushIntervalMs: 600_000 });
    assert.equal((await Deno.stat(`${path}-reserve`)).size, RESERVE_BYTES);
    await store.createRun(running("r1"));
    for (const asset of ["a", "b"]) await store.putStep(pending(asset));
    await store.flush();
    await disk.fill(0);
    // More than the reserve: giving it back does not make room for these.
    await store.putStep({ ...pending("a"), status: "success", attempts: 1, startedAt: 2 });
    await store.appendEvents(logs("r1", 40, 64 * 1024));
    const full = await rejected(() => store.flush(), DiskFullError);
    assert.equal(full.code, "disk_full");
    assert.equal(full.input, path);
    assert.match(full.message, /^no space left on device writing the run store '.*runs\.db'/);
    assert.match(full.message, /free space on the disk holding '.*\/state'/);
    assert.equal(await exists(`${path}-reserve`), false, "the reserve was given back");

    await store.updateRun("r1", {
      status: "failed",
      finishedAt: 10,
      errorSummary: "no space left on device",
    });
    // What the next start (another process) reads: the run ended, nothing left
    // running or pending for a reaper to take for a dead owner's.
    const reader = new DatabaseSync(path, { readOnly: true });
    try {
      assert.deepEqual(
        { ...reader.prepare("SELECT status, finished_at, error_summary FROM pipeline_runs").get() },
        { status: "failed", finished_at: 10, error_summary: "no space left on device" },
      );
      assert.deepEqual(
        reader.prepare("SELECT asset_key, status FROM run_steps ORDER BY asset_key").all()
          .map((row) => [row.asset_key, row.status]),
        [["a", "canceled"], ["b", "canceled"]],
      );
    } finally {
      reader.close();
    }
    // This store's reads commit its buffer first: they say the disk is full.
    await rejected(() => store.listSteps("r1"), DiskFullError);

    await disk.free();
    await store.flush();
    const written = await store.listSteps("r1");
    assert.deepEqual(written.map((s) => [s.assetKey, s.status]), [["a", "success"], [
      "b",
      "canceled",
    ]]);
    assert.match(written[1]?.reason ?? "", /not recorded: the run store's disk was full/);
    assert.equal((await store.listEvents("r1", { types: ["log"] })).length, 40);
    assert.equal((await store.getRun("r1"))?.status, "failed");
  },
);

Deno.test(
  "SqliteRunStore on a full disk: the reserve makes room for a run's end and what it buffered",
  {
    ignore: NO_TMPFS,
  },
  async () => {
    await using disk = await mountTmpfs(8 * MiB);
    const path = `${disk.path}/runs.db`;
    {
      await using store = SqliteRunStore.open(path, { flushIntervalMs: 600_000 });
      await store.createRun(running("r1"));
      await store.flush();
      await disk.fill(0);
      await store.appendEvents(logs("r1", 20, 4096));
      await store.updateRun("r1", { status: "success", finishedAt: 10, errorSummary: null });
      assert.equal((await store.getRun("r1"))?.status, "success");
      assert.equal((await store.listEvents("r1", { types: ["log"] })).length, 20);
      assert.equal(await exists(`${path}-reserve`), false);
    }
    // The next open on a disk with room makes the reserve again.
    await disk.free();
    {
      await using _store = SqliteRunStore.open(path);
      assert.equal((await Deno.stat(`${path}-reserve`)).size, RESERVE_BYTES);
    }
  },
);

Deno.test(
  "SqliteRunStore on a full disk: an open that cannot make its files says the disk is full",
  {
    ignore: NO_TMPFS,
  },
  async () => {
    await using disk = await mountTmpfs(1 * MiB);
    await disk.fill(0);
    const path = `${disk.path}/state/runs.db`;
    const error = caught(() => SqliteRunStore.open(path), DiskFullError);
    assert.equal(error.code, "disk_full");
    assert.match(error.message, /no space left on device writing the run store '.*runs\.db'/);
    // A disk without room for the reserve still opens, without one, once the database fits.
    await disk.free();
    await disk.fill(256 * 1024);
    await using store = SqliteRunStore.open(path);
    assert.equal(await exists(`${path}-reserve`), false);
    await store.createRun(running("r1"));
    assert.equal((await store.getRun("r1"))?.status, "running");
  },
);

Deno.test(
  "materialize on a full disk: the run ends failed naming the run store, and the rerun does what is missing once",
  {
    ignore: NO_TMPFS,
  },
  async () => {
    await using disk = await mountTmpfs(8 * MiB);
    const path = `${disk.path}/state/runs.db`;
    const made: string[] = [];
    // `fills` writes its output, then the disk is full (as a lake on the same disk would
    // leave it), and it logs more than the store's reserve holds.
    const graph = defineGraph({
      assets: [
        defineAsset({
          key: "fills",
          materialize: async (ctx) => {
            made.push("fills");
            await Deno.writeTextFile(`${disk.path}/fills.txt`, ctx.runId);
            if (made.length === 1) await disk.fill(0);
            for (let i = 0; i < 24; i++) ctx.log.info(`${i}: ${"x".repeat(64 * 1024)}`);
            return {};
          },
        }),
        defineAsset({
          key: "after",
          deps: ["fills"],
          materialize: () => {
            made.push("after");
            return {};
          },
        }),
      ],
    });
    let runId = "";
    {
      await using store = SqliteRunStore.open(path);
      const error = await rejected(
        () => materialize(graph, { runStore: store, onEvent: (e) => void (runId = e.runId) }),
        ResourceError,
      );
      assert.equal(error.code, "disk_full");
      assert.match(
        error.message,
        new RegExp(
          `^Run '${runId}' failed: no space left on device writing the run store '${path}'`,
        ),
      );
      assert.match(error.message, /free space on the disk holding/);
      // Closing cannot write what waits either: it says so, with the same file.
      await rejected(() => store[Symbol.asyncDispose](), DiskFullError);
    }
    await disk.free();
    await using store = SqliteRunStore.open(path);
    // The next start finds the run ended: nothing for the reaper to call a dead owner's.
    assert.deepEqual(await store.reapRuns({ now: Date.now() + 3_600_000 }), []);
    const run = await store.getRun(runId);
    assert.equal(run?.status, "failed");
    assert.match(run?.errorSummary ?? "", /not all of it was recorded: no space left on device/);
    // No materialization of the first run reached the store: the rerun makes both, once.
    made.length = 0;
    const rerun = await materialize(graph, { runStore: store, selection: "*" });
    assert.equal(rerun.status, "success");
    assert.deepEqual(made, ["fills", "after"]);
    assert.equal((await store.getRun(rerun.runId))?.status, "success");
  },
);

Deno.test(
  "SqliteRunStore on a full disk: a heartbeat is recorded while the buffer cannot be",
  {
    ignore: NO_TMPFS,
  },
  async () => {
    await using disk = await mountTmpfs(8 * MiB);
    const path = `${disk.path}/runs.db`;
    await using store = SqliteRunStore.open(path, { flushIntervalMs: 600_000 });
    const owner = { instanceId: "me", host: "h", pid: 1 };
    await store.createRun({ ...running("r1"), owner, heartbeatTimeoutMs: 40_000 });
    await store.flush();
    await disk.fill(0);
    await store.appendEvents(logs("r1", 40, 64 * 1024));
    await rejected(() => store.flush(), DiskFullError);
    // The reserve went to that flush: not a byte left for the heartbeat's own write.
    await disk.fill(0);
    assert.deepEqual(await store.heartbeat(owner, ["r1"], 5_000), {
      cancelRequested: [],
      lost: [],
    });
    const reader = new DatabaseSync(path, { readOnly: true });
    try {
      assert.equal(
        reader.prepare("SELECT heartbeat_at FROM pipeline_runs").get()?.heartbeat_at,
        5_000,
      );
    } finally {
      reader.close();
    }
    // The buffered events are still waiting for room, not lost.
    await disk.free();
    await store.flush();
    assert.equal((await store.listEvents("r1", { types: ["log"] })).length, 40);
  },
);

Deno.test(
  "materialize on a full disk for longer than the lease: the live owner is never taken for dead, the run ends failed once",
  {
    ignore: NO_TMPFS,
  },
  async () => {
    await using disk = await mountTmpfs(8 * MiB);
    const path = `${disk.path}/state/runs.db`;
    const clock = new FakeClock(Date.parse("2026-01-01T00:00:00Z"));
    const owner = { instanceId: "long-run", host: "h", pid: 1 };
    const leases: { now: number; heartbeatAt: number; reaped: number }[] = [];
    await using store = SqliteRunStore.open(path);
    // Another process's handle on the same file, reaping as a daemon's tick does.
    await using other = SqliteRunStore.open(path);
    const graph = defineGraph({
      assets: [
        defineAsset({
          key: "long",
          materialize: async (ctx) => {
            await disk.fill(0);
            // More than the reserve holds: nothing of this can be committed.
            for (let i = 0; i < 24; i++) ctx.log.info(`${i}: ${"x".repeat(64 * 1024)}`);
            for (let i = 0; i < 8; i++) {
              await ctx.clock.sleep(10_000);
              await new Promise((resolve) => setTimeout(resolve, 30)); // the beat is written
              const reaped = await other.reapRuns({ now: ctx.clock.now() });
              const reader = new DatabaseSync(path, { readOnly: true });
              try {
                const row = reader.prepare("SELECT heartbeat_at FROM pipeline_runs").get();
                leases.push({
                  now: ctx.clock.now(),
                  heartbeatAt: Number(row?.heartbeat_at),
                  reaped: reaped.length,
                });
              } finally {
                reader.close();
              }
            }
            return {};
          },
        }),
      ],
    });
    let runId = "";
    const error = await rejected(
      () =>
        materialize(graph, {
          runStore: store,
          clock,
          owner,
          heartbeatIntervalMs: 10_000,
          onEvent: (e) => void (runId = e.runId),
        }),
      ResourceError,
    );
    assert.equal(error.code, "disk_full");
    assert.match(error.message, new RegExp(`^Run '${runId}' failed: no space left on device`));
    assert.equal(leases.length, 8, "the run went on for 80 s, twice its lease");
    for (const lease of leases) {
      assert.equal(lease.reaped, 0, `reaped at ${lease.now}`);
      assert.ok(lease.now - lease.heartbeatAt < 40_000, JSON.stringify(lease));
    }
    await disk.free();
    const run = await other.getRun(runId);
    assert.equal(run?.status, "failed");
    assert.match(run?.errorSummary ?? "", /not all of it was recorded: no space left on device/);
    assert.deepEqual(run?.tags, {}, "never taken for a lost run");
    assert.deepEqual(await other.reapRuns({ now: clock.now() + 3_600_000 }), []);
  },
);
