/**
 * Workers and commands on machines whose clocks disagree, sharing one
 * PostgreSQL queue and run store (real processes; a machine's clock is played
 * by shifting `Date.now()` in the child, tests/_helpers/skewed_clock.ts). A
 * lease is judged by comparing times different machines wrote, so without
 * one clock:
 *
 * - a worker whose clock is behind by more than a lease has its live run
 *   failed as dead by the coordinator (and the retry runs it a second time);
 * - a command started on a machine whose clock is ahead (`runs` from a
 *   laptop) fails every running run of the cluster as dead;
 * - a worker whose clock is ahead and that is killed with -9 leaves its run
 *   `running` for as long as its clock was ahead.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { PostgresRunQueue } from "../../../resources/queue/postgres.ts";
import { PostgresRunStore } from "../../../resources/run_store/postgres.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { type MainProcess, sandbox, spawnMain, untilValue } from "../../_helpers/main_process.ts";
import { needs } from "../../_helpers/tools.ts";

const MAIN = fileURLToPath(new URL("../../../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../../deno.json", import.meta.url));
const SKEW = fileURLToPath(new URL("../../_helpers/skewed_clock.ts", import.meta.url));
const HEARTBEAT_MS = 500;
/** Far more than any lease here (750 ms), so only the clocks decide. */
const SKEW_MS = 10 * 60_000;

const GRAPH = `
import postgres from "postgres";
const sql = postgres(Deno.env.get("PROBE_URL") ?? "", { max: 2, onnotice: () => {} });
export const graph = defineGraph({ assets: [
  defineAsset({ key: "hold", materialize: async (ctx) => {
    await sql\`INSERT INTO probe (run_id, pid) VALUES (\${ctx.runId}, \${Deno.pid})\`;
    // Runs until the test opens the gate (or the run is canceled).
    while (!ctx.signal.aborted) {
      const [row] = await sql\`SELECT count(*)::int AS n FROM gate WHERE run_id = \${ctx.runId}\`;
      if (row.n > 0) return { held: true };
      await new Promise((r) => setTimeout(r, 50));
    }
    throw ctx.signal.reason;
  }}),
]});
`;

Deno.test({
  name: "clock skew: a worker whose clock is behind keeps its run, a command from a clock " +
    "ahead fails none, a killed worker whose clock is ahead has its run reaped within its lease",
  ignore: await needs("postgres"),
}, async () => {
  await using pg = await startPostgres();
  await using box = await sandbox();
  const probe = postgres(pg.url, { max: 2, onnotice: () => {} });
  await probe.unsafe(`CREATE TABLE probe (run_id text, pid int);
    CREATE TABLE gate (run_id text)`);
  const env = {
    ...box.env,
    RUNS_URL: pg.url,
    PROBE_URL: pg.url,
    PLATFORM_GRAPH: await box.graph("skew_graph", GRAPH),
    RUN_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
  };
  const procs: MainProcess[] = [];
  const spawn = (args: string[], skewMs = 0) => {
    const p = spawnMain(args, {
      cwd: box.dir,
      env: { ...env, TEST_CLOCK_SKEW_MS: String(skewMs) },
      denoArgs: ["run", "-A", `--config=${CONFIG}`, `--preload=${SKEW}`, MAIN],
    });
    procs.push(p);
    return p;
  };
  await using queue = await PostgresRunQueue.open(pg.url);
  await using store = await PostgresRunStore.open(pg.url);
  const enqueue = async () => {
    const runId = crypto.randomUUID();
    await queue.enqueue([{ runId, selection: "hold", partitions: null, tags: {} }], Date.now());
    await untilValue(`run ${runId} to start`, async () => {
      const rows = await probe`SELECT 1 FROM probe WHERE run_id = ${runId}`;
      return rows.length > 0 ? true : undefined;
    });
    return runId;
  };
  try {
    // The coordinator on a machine with the right time.
    const daemon = spawn(["sensor"]);
    await daemon.waitFor(/holding the daemon lock/);

    // 1. A worker whose clock is 10 minutes behind: its run lives through many leases.
    const behind = spawn(["worker", "--no-coordinator"], -SKEW_MS);
    await behind.waitFor(/worker .* started on/);
    const first = await enqueue();
    const beats = new Set<number>();
    const status = await untilValue("several leases of heartbeats, or the run's end", async () => {
      const run = await store.getRun(first);
      if (run?.heartbeatAt) beats.add(run.heartbeatAt);
      if (run?.status !== "running") return run?.status ?? "missing";
      return beats.size >= 6 ? "running" : undefined;
    });
    assert.equal(status, "running", "a live worker's run is not failed for its clock");

    // 2. A command on a machine whose clock is 10 minutes ahead fails no running run.
    const laptop = await spawn(["runs"], SKEW_MS).finish();
    assert.equal(laptop.code, 0, laptop.stderr);
    assert.doesNotMatch(laptop.stderr, /owner process died|failed/, laptop.stderr);
    assert.equal((await store.getRun(first))?.status, "running");

    await probe`INSERT INTO gate (run_id) VALUES (${first})`;
    const done = await untilValue("the first run's entry to finish", async () => {
      const entry = await queue.get(first);
      return entry?.state === "finished" ? entry : undefined;
    });
    assert.match(done.outcome ?? "", /^success/);
    assert.equal((await store.getRun(first))?.status, "success");
    assert.equal(
      (await probe`SELECT count(*)::int AS n FROM probe WHERE run_id = ${first}`)[0]?.n,
      1,
      "executed once",
    );
    assert.equal((await queue.list({ limit: 100 })).length, 1, "no retry was queued");
    behind.kill("SIGTERM");
    assert.equal((await behind.finish()).code, 0);

    // 3. A worker whose clock is 10 minutes ahead, killed with -9 mid-run: its run is failed
    // and retried within a few leases, not 10 minutes. The bound is 120 s: 160 leases, and
    // still far under the skew.
    const ahead = spawn(["worker", "--no-coordinator"], SKEW_MS);
    await ahead.waitFor(/worker .* started on/);
    const second = await enqueue();
    ahead.kill("SIGKILL");
    await ahead.finish();
    const killedAt = Date.now();
    const reaped = await untilValue("the killed worker's run to be failed", async () => {
      const run = await store.getRun(second);
      return run?.status === "running" ? undefined : run;
    });
    const reapMs = Date.now() - killedAt;
    assert.equal(reaped?.status, "failed");
    assert.match(reaped?.errorSummary ?? "", /owner process died/);
    assert.ok(reapMs < 120_000, `reaped ${reapMs} ms after the kill (clock ahead by ${SKEW_MS})`);
    const entry = await untilValue("the killed run's entry to finish", async () => {
      const e = await queue.get(second);
      return e?.state === "finished" ? e : undefined;
    });
    assert.match(entry.outcome ?? "", /^failed/);
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    for (const p of procs) await p.finish();
    await probe.end();
  }
});
