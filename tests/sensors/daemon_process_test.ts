// `deno run -A main.ts sensor` as a real process: two daemons on one landing
// zone folder and one SQLite run store, and shutdown on SIGTERM.

import assert from "node:assert/strict";
import { join } from "node:path";
import { openObjectStore } from "../../resources/object_store/mod.ts";
import { SqliteRunStore } from "../../resources/run_store/sqlite.ts";
import { until } from "../_helpers/main_process.ts";
import type { RunRecord } from "../../core/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const LANDING = "landing-zone";

interface World {
  dir: string;
  marker: string;
  spawn(env?: Record<string, string>): Deno.ChildProcess;
  commit(batchId: string, extra?: Record<string, unknown>): Promise<void>;
  lines(): Promise<string[]>;
  runs(): Promise<RunRecord[]>;
}

async function world(): Promise<World & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "daemon_process_" });
  const marker = join(dir, "marker.txt");
  await Deno.writeTextFile(marker, "");
  const lake = openObjectStore(`file://${dir}/lake`);
  await lake.ensureBucket(LANDING);
  return {
    dir,
    marker,
    spawn: (env = {}) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", "main.ts", "sensor", "--interval", "50"],
        cwd: ROOT,
        env: {
          PLATFORM_GRAPH: "tests/sensors/_daemon_graph.ts",
          RUNS_URL: `sqlite:${dir}/runs.db`,
          LAKE_URL: `file://${dir}/lake`,
          LEDGER_URL: "memory:",
          FIXTURE_MARKER_FILE: marker,
          NO_COLOR: "1",
          ...env,
        },
        stdout: "piped",
        stderr: "piped",
      }).spawn(),
    async commit(batchId, extra = {}) {
      const body = { batch_id: batchId, uploader: "ana", intent: "load", ...extra };
      await lake.put(
        LANDING,
        `manifests/${batchId}.json`,
        new TextEncoder().encode(JSON.stringify(body)),
      );
    },
    lines: async () => (await Deno.readTextFile(marker)).split("\n").filter(Boolean),
    async runs() {
      await using store = SqliteRunStore.open(join(dir, "runs.db"));
      return await store.listRuns({ limit: 1000 });
    },
    async [Symbol.asyncDispose]() {
      await lake[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function stop(
  child: Deno.ChildProcess,
): Promise<{ code: number; stdout: string; stderr: string }> {
  child.kill("SIGTERM");
  const out = await child.output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { code: out.code, stdout: decode(out.stdout), stderr: decode(out.stderr) };
}

Deno.test("two sensor daemon processes on one landing zone run each manifest exactly once", async () => {
  await using w = await world();
  for (let i = 0; i < 6; i++) await w.commit(`b${i}`);
  const a = w.spawn();
  const b = w.spawn();
  let outputs: { code: number; stdout: string; stderr: string }[] = [];
  try {
    const finished = async (n: number) => {
      const runs = await w.runs().catch(() => []);
      return runs.length >= n && runs.every((run) => run.status !== "running");
    };
    await until("the first six batches ran", () => finished(6));
    // More commits while both run: three new batches, one re-commit with the same
    // content (no new run) and one with changed content (a new run).
    for (let i = 6; i < 9; i++) await w.commit(`b${i}`);
    await w.commit("b1");
    await w.commit("b0", { metadata: { project: "again" } });
    await until("the new batches ran", () => finished(10));
    // A last batch committed after all the others: once it has run, the daemons
    // have evaluated the landing zone again with every earlier manifest in it,
    // so a manifest that was going to run twice would have by now.
    await w.commit("b9");
    await until("the last batch ran", () => finished(11));
  } finally {
    outputs = await Promise.all([stop(a), stop(b)]);
  }
  for (const out of outputs) assert.equal(out.code, 0, out.stderr + out.stdout);
  const lines = await w.lines();
  const batches = lines.map((line) => line.split(" ")[0]).sort();
  assert.deepEqual(batches, ["b0", "b0", "b1", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9"]);
  const runs = await w.runs();
  assert.equal(runs.length, 11);
  assert.ok(runs.every((run) => run.status === "success"), JSON.stringify(runs));
  assert.equal(new Set(runs.map((run) => run.tags.run_key)).size, 11);
  const pids = new Set(lines.map((line) => line.split(" ")[2]));
  assert.ok(pids.size >= 1);
  for (const out of outputs) assert.match(out.stdout, /sensor daemon .* stopped/);
});

Deno.test("SIGTERM stops `deno run -A main.ts sensor` cleanly and records the run in flight as canceled", async () => {
  await using w = await world();
  await w.commit("slow");
  const child = w.spawn({ FIXTURE_HOLD: "1" });
  let out: { code: number; stdout: string; stderr: string } | undefined;
  try {
    await until("the run started", async () => (await w.lines()).length === 1);
  } finally {
    out = await stop(child);
  }
  assert.equal(out.code, 0, out.stderr + out.stdout);
  assert.match(out.stdout, /sensor spatial_manifests: launched 1/);
  assert.match(out.stdout, /shutting down: canceling 1 run\(s\) in flight/);
  assert.match(out.stdout, /run .* canceled in/);
  const runs = await w.runs();
  assert.equal(runs.length, 1);
  assert.equal(runs[0]?.status, "canceled");
  assert.equal(runs[0]?.tags.run_key?.startsWith("slow:"), true);
});

Deno.test("a daemon killed with -9 mid-run: the next daemon fails its run and relaunches it once; nothing stays running", async () => {
  await using w = await world();
  await w.commit("held");
  const env = { RUN_HEARTBEAT_INTERVAL_MS: "100" };
  const first = w.spawn({ ...env, FIXTURE_HOLD: "1" });
  let firstPid = 0;
  try {
    await until("the run started", async () => (await w.lines()).length === 1);
    firstPid = first.pid;
    first.kill("SIGKILL");
  } finally {
    await first.output(); // waits for it (and reaps the process)
  }
  const [lost] = await w.runs();
  assert.equal(lost?.status, "running", "killed with -9: nobody recorded its end");
  assert.equal(lost?.owner?.pid, firstPid);

  const second = w.spawn(env);
  let out: { code: number; stdout: string; stderr: string } | undefined;
  try {
    await until("the relaunch finished", async () => {
      const runs = await w.runs().catch(() => []);
      return runs.length === 2 && runs.every((run) => run.status !== "running");
    });
  } finally {
    out = await stop(second);
  }
  assert.equal(out.code, 0, out.stderr + out.stdout);
  const runs = await w.runs();
  const reaped = runs.find((run) => run.runId === lost.runId);
  const relaunch = runs.find((run) => run.runId !== lost.runId);
  assert.equal(reaped?.status, "failed");
  assert.match(reaped?.errorSummary ?? "", /^owner process died \(process .* pid \d+ is gone\)/);
  assert.equal(reaped?.tags.owner_lost, `relaunched as ${relaunch?.runId} (attempt 2)`);
  assert.equal(relaunch?.status, "success");
  assert.equal(relaunch?.tags.attempt, "2");
  assert.equal(relaunch?.tags.relaunch_of, lost.runId);
  assert.equal(relaunch?.tags.run_key, lost.tags.run_key, "the same run key lineage");
  assert.match(out.stdout, /relaunched lost run .* as /);
  // The batch ran twice: cut short by the kill, then to the end.
  assert.deepEqual((await w.lines()).map((line) => line.split(" ")[0]), ["held", "held"]);
  assert.equal((await w.runs()).length, 2);
});
