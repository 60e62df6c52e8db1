/**
 * A small cluster for process tests of the queue: a throwaway PostgreSQL
 * (queue and run store), a sandbox, and a graph of one asset `held` that
 * records where it runs and then holds its run until the test releases it.
 * Children can play another machine: a clock that is off
 * (tests/_helpers/skewed_clock.ts) or a program wrapping `deno`
 * (`unshare --pid` for another container).
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
import { taskCommand } from "../../_helpers/deno_tasks.ts";

const MAIN = fileURLToPath(new URL("../../../main.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../../deno.json", import.meta.url));
const SKEW = fileURLToPath(new URL("../../_helpers/skewed_clock.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../..", import.meta.url));

/** The `deno` arguments of `deno task NAME` (deno.json). */
function taskArgs(name: string): string[] {
  return taskCommand(name).split(/\s+/).slice(1);
}

const GRAPH = `
import postgres from "postgres";
const db = postgres(Deno.env.get("PROBE_URL") ?? "", { max: 1, onnotice: () => {} });
export const graph = defineGraph({ assets: [
  defineAsset({ key: "held", materialize: async (ctx) => {
    await db\`INSERT INTO held_started (run_id, pid) VALUES (\${ctx.runId}, \${Deno.pid})\`;
    for (;;) {
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const open = await db\`SELECT 1 FROM held_released WHERE run_id = \${ctx.runId}\`;
      if (open.length > 0) return { released: true };
      await new Promise((r) => setTimeout(r, 50));
    }
  }}),
]});
`;

/** How a child plays another machine. */
export interface ElsewhereOptions {
  /** Its clock is off by this much (milliseconds, either way). @default {0} */
  readonly skewMs?: number;
  /** Its clock is off by the number in this file, read as it runs (steps it). */
  readonly skewFile?: string;
  /** A program running `deno` in turn (e.g. `unshare --pid ...`). @default {[]} */
  readonly wrapper?: readonly string[];
  /**
   * Run as `deno task NAME ARGS` (through launch.ts, least privilege) rather than
   * `deno run -A main.ts ARGS`; no clock skew then.
   */
  readonly task?: string;
}

/** See the module doc; `await using` stops every child and the server. */
export interface HeldCluster extends AsyncDisposable {
  /** The queue, as the test sees it. */
  readonly queue: PostgresRunQueue;
  /** The run store, as the test sees it. */
  readonly store: PostgresRunStore;
  /** A connection of the test's own to the server. */
  readonly sql: postgres.Sql;
  /** The sandbox folder (removed with the cluster). */
  readonly dir: string;
  /** Spawns `main.ts ARGS` on the cluster's settings. */
  spawn(args: string[], elsewhere?: ElsewhereOptions): MainProcess;
  /** Queues a run of `held` and waits until it executes; returns its id. */
  startHeld(): Promise<string>;
  /**
   * Waits until the run's heartbeat was written `beats` times (several
   * leases, whoever reaps in between), or the run ended; returns `running`,
   * or the status and error summary it ended with.
   */
  afterBeats(runId: string, beats?: number): Promise<string>;
  /** Releases the run and checks it succeeded, executed once, with no retry queued. */
  releaseAndCheckOnce(runId: string): Promise<void>;
}

/**
 * Default heartbeat interval of a cluster's runs: a worker's lease is 1.5 of them, so a loaded
 * machine (load 25+) has a second of margin before a live worker is taken for dead.
 */
export const HELD_HEARTBEAT_MS = 2000;

/** Starts a {@linkcode HeldCluster} whose runs heartbeat every `heartbeatMs`. */
export async function heldCluster(heartbeatMs = HELD_HEARTBEAT_MS): Promise<HeldCluster> {
  const pg = await startPostgres();
  const procs: MainProcess[] = [];
  const db = postgres(pg.url, { max: 2, onnotice: () => {} });
  const box = await sandbox();
  let queue: PostgresRunQueue | undefined;
  let store: PostgresRunStore | undefined;
  const dispose = async () => {
    for (const p of procs) p.kill("SIGKILL");
    for (const p of procs) await p.finish();
    await store?.[Symbol.asyncDispose]();
    await queue?.[Symbol.asyncDispose]();
    await db.end();
    await box[Symbol.asyncDispose]();
    await pg.stop();
  };
  try {
    await db.unsafe(`CREATE TABLE held_started (run_id text, pid int);
      CREATE TABLE held_released (run_id text)`);
    queue = await PostgresRunQueue.open(pg.url);
    store = await PostgresRunStore.open(pg.url);
  } catch (error) {
    await dispose();
    throw error;
  }
  const env = {
    ...box.env,
    RUNS_URL: pg.url,
    PROBE_URL: pg.url,
    PLATFORM_GRAPH: await box.graph("held_graph", GRAPH),
    RUN_HEARTBEAT_INTERVAL_MS: String(heartbeatMs),
  };
  const q = queue;
  const s = store;
  return {
    queue: q,
    store: s,
    sql: db,
    dir: box.dir,
    spawn(args, { skewMs = 0, skewFile, wrapper = [], task } = {}) {
      const p = spawnMain(args, {
        cwd: task ? ROOT : box.dir,
        env: {
          ...env,
          TEST_CLOCK_SKEW_MS: String(skewMs),
          ...(skewFile ? { TEST_CLOCK_SKEW_FILE: skewFile } : {}),
          PLATFORM_ALLOW_ENV: "PROBE_URL",
        },
        denoArgs: task
          ? taskArgs(task)
          : ["run", "-A", `--config=${CONFIG}`, `--preload=${SKEW}`, MAIN],
        wrapper,
      });
      procs.push(p);
      return p;
    },
    async startHeld() {
      const runId = crypto.randomUUID();
      await q.enqueue([{ runId, selection: "held", partitions: null, tags: {} }], Date.now());
      await untilValue(`run ${runId} to start`, async () => {
        const rows = await db`SELECT 1 FROM held_started WHERE run_id = ${runId}`;
        return rows.length > 0 ? true : undefined;
      });
      return runId;
    },
    afterBeats(runId, beats = 4) {
      const seen = new Set<number>();
      return untilValue(`${beats} heartbeats of run ${runId}, or its end`, async () => {
        const run = await s.getRun(runId);
        if (run?.heartbeatAt) seen.add(run.heartbeatAt);
        if (run?.status !== "running") return `${run?.status}: ${run?.errorSummary}`;
        return seen.size >= beats ? "running" : undefined;
      });
    },
    async releaseAndCheckOnce(runId) {
      await db`INSERT INTO held_released (run_id) VALUES (${runId})`;
      const entry = await untilValue(`run ${runId}'s entry to finish`, async () => {
        const e = await q.get(runId);
        return e?.state === "finished" ? e : undefined;
      });
      assert.match(entry.outcome ?? "", /^success/);
      assert.equal((await s.getRun(runId))?.status, "success");
      const executions = await db`SELECT pid FROM held_started WHERE run_id = ${runId}`;
      assert.equal(executions.length, 1, `run ${runId} executed once`);
      const retries = (await q.list({ limit: 1000 })).filter((e) => e.retryOf === runId);
      assert.deepEqual(retries.map((e) => e.runId), [], "no retry was queued");
    },
    [Symbol.asyncDispose]: dispose,
  };
}
