/**
 * The Postgres run store when the server's disk is full (SQLSTATE 53100): a
 * throwaway cluster whose run store tables live in a tablespace on a small
 * tmpfs of their own. A run's end is recorded whatever else does not fit, a
 * heartbeat too, errors say the disk is full naming RUNS_URL's server, and
 * what waited is written once there is room again.
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import {
  defineAsset,
  defineGraph,
  DiskFullError,
  materialize,
  ResourceError,
  type RunOwner,
} from "../../../core/mod.ts";
import { PostgresRunStore } from "../../../resources/run_store/mod.ts";
import { rejected } from "../../_helpers/assert_errors.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { mountTmpfs, type Tmpfs, tmpfsSkip } from "../../_helpers/tmpfs.ts";
import { needs } from "../../_helpers/tools.ts";

const MiB = 1024 * 1024;
// A tablespace needs a cluster of our own (not DATABASE_URL's server) and a tmpfs (root).
const IGNORE = (await needs("postgres-binaries")) || Boolean(await tmpfsSkip());

/**
 * A cluster whose role creates its tables in a tablespace on `disk`; returns
 * its URL and a way to stop it.
 */
async function clusterOnDisk(disk: Tmpfs): Promise<{ url: string } & AsyncDisposable> {
  const pg = await startPostgres({ databaseUrl: undefined });
  const folder = `${disk.path}/tablespace`;
  await Deno.mkdir(folder);
  if (Deno.uid() === 0) {
    const chown = await new Deno.Command("chown", { args: ["postgres:postgres", folder] }).output();
    assert.ok(chown.success, new TextDecoder().decode(chown.stderr));
  }
  const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE TABLESPACE small_disk LOCATION '${folder}'`);
    await admin.unsafe("ALTER ROLE CURRENT_USER SET default_tablespace = 'small_disk'");
  } finally {
    await admin.end({ timeout: 5 });
  }
  return {
    url: pg.url,
    async [Symbol.asyncDispose]() {
      await pg.stop();
    },
  };
}

/** `count` log events of `bytes` each: more than the free pages of the tables hold. */
function logs(runId: string, count: number, bytes: number) {
  return Array.from({ length: count }, (_, i) => ({
    runId,
    type: "log" as const,
    time: Date.now() + i,
    assetKey: "a",
    partition: null,
    data: { message: `${i}:${crypto.randomUUID().repeat(bytes / 36)}` },
  }));
}

Deno.test({
  name: "PostgresRunStore on a full disk: a run ends failed, recorded, and its heartbeat goes on",
  ignore: IGNORE,
  async fn() {
    await using disk = await mountTmpfs(24 * MiB);
    await using pg = await clusterOnDisk(disk);
    await using store = await PostgresRunStore.open(pg.url, { flushIntervalMs: 600_000 });
    await using other = await PostgresRunStore.open(pg.url);
    const owner: RunOwner = { instanceId: "me", host: "h", pid: 1 };

    // A heartbeat while the buffer cannot be committed.
    const t0 = Date.now();
    await store.createRun({
      runId: "r1",
      status: "running",
      selection: "*",
      partitions: null,
      tags: {},
      startedAt: t0,
      finishedAt: null,
      errorSummary: null,
      owner,
      heartbeatAt: t0,
      heartbeatTimeoutMs: 40_000,
    });
    await store.putStep({
      runId: "r1",
      assetKey: "a",
      partition: null,
      status: "pending",
      attempts: 0,
      startedAt: null,
      finishedAt: null,
      reason: null,
    });
    await store.flush();
    await disk.fill(0);
    await store.appendEvents(logs("r1", 40, 64 * 1024));
    const full = await rejected(() => store.flush(), DiskFullError);
    assert.equal(full.code, "disk_full");
    assert.match(
      full.message,
      /^no space left on device writing the run store postgres .*RUNS_URL/,
    );
    assert.match(full.message, /could not extend file/);
    assert.deepEqual(await store.heartbeat(owner, ["r1"], t0 + 30_000), {
      cancelRequested: [],
      lost: [],
    });
    assert.equal((await other.getRun("r1"))?.heartbeatAt, t0 + 30_000);
    assert.deepEqual(await other.reapRuns({ now: t0 + 60_000 }), []);
    // The end: written alone, its pending step settled as not recorded.
    await store.updateRun("r1", {
      status: "failed",
      finishedAt: t0 + 31_000,
      errorSummary: "full",
    });
    const ended = await other.getRun("r1");
    assert.deepEqual([ended?.status, ended?.finishedAt, ended?.errorSummary], [
      "failed",
      t0 + 31_000,
      "full",
    ]);
    const steps = await other.listSteps("r1");
    assert.deepEqual(steps.map((s) => [s.assetKey, s.status]), [["a", "canceled"]]);
    assert.match(steps[0]?.reason ?? "", /not recorded: the run store's disk was full/);
    // What waited is written once there is room.
    await disk.free();
    await store.flush();
    assert.equal((await other.listEvents("r1", { types: ["log"] })).length, 40);
  },
});

Deno.test({
  name:
    "materialize on a Postgres run store whose disk is full: the run ends failed naming RUNS_URL, never left running",
  ignore: IGNORE,
  async fn() {
    await using disk = await mountTmpfs(24 * MiB);
    await using pg = await clusterOnDisk(disk);
    const graph = defineGraph({
      assets: [
        defineAsset({
          key: "fills",
          materialize: async (ctx) => {
            await disk.fill(0);
            // More than the tables' free pages hold (TOAST must grow).
            for (const event of logs(ctx.runId, 24, 64 * 1024)) {
              ctx.log.info(String(event.data.message));
            }
            return {};
          },
        }),
        defineAsset({ key: "after", deps: ["fills"], materialize: () => ({}) }),
      ],
    });
    let runId = "";
    {
      await using store = await PostgresRunStore.open(pg.url);
      const error = await rejected(
        () => materialize(graph, { runStore: store, onEvent: (e) => void (runId = e.runId) }),
        ResourceError,
      );
      assert.equal(error.code, "disk_full");
      assert.match(
        error.message,
        new RegExp(
          `^Run '${runId}' failed: no space left on device writing the run store postgres`,
        ),
      );
      assert.match(error.message, /RUNS_URL/);
      // Closing cannot write what waits either: it says so.
      await rejected(() => store.close(), DiskFullError);
    }
    await disk.free();
    await using store = await PostgresRunStore.open(pg.url);
    // The next start finds the run ended: nothing for the reaper to call a dead owner's.
    assert.deepEqual(await store.reapRuns({ now: Date.now() + 3_600_000 }), []);
    const run = await store.getRun(runId);
    assert.equal(run?.status, "failed");
    assert.match(run?.errorSummary ?? "", /not all of it was recorded: no space left on device/);
    const rerun = await materialize(graph, { runStore: store, selection: "after" });
    assert.equal(rerun.status, "success");
  },
});
