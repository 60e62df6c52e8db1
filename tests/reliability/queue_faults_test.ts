/**
 * Seeded faults on a cluster sharing one PostgreSQL queue and run store
 * (real processes): a sensor daemon (the coordinator), three workers, runs of
 * two steps; at seeded moments a worker is killed with -9, stopped
 * (SIGSTOP) for longer than its lease then resumed, stopped with SIGTERM
 * (graceful), every platform connection is cut (`pg_terminate_backend`),
 * PostgreSQL crashes and restarts (`pg_ctl -m immediate`), or a running run
 * is canceled from the CLI. A killed or stopped worker is replaced, as an
 * orchestrator would. The web UI is left open all along. After each case:
 *
 * - every requested run's chain (the run and its retries) ends in exactly
 *   one final entry, finished or canceled; nothing queued, admitted or
 *   started is left;
 * - no run record is left `running`;
 * - no step started on a run after another process failed it (a resumed
 *   worker does not go on with a run that was taken over);
 * - every chain that succeeded has both steps' effects;
 * - once every process stopped: no worker record, pool slot or locked job
 *   left; a worker stopped with SIGTERM exits 0, one killed -9 exits 137,
 *   a `cancel` exits 0 (requested) or 1 (it had ended);
 * - the UI left open answers after every fault and shows that end: no run
 *   running, nothing waiting.
 *
 * Counts: `RELIABILITY_QUEUE_FAULTS` (default and CI 6, each kind once; soak 24) from
 * `RELIABILITY_SEED` (tests/_helpers/reliability.ts); `RELIABILITY_QUEUE_WORKERS` workers
 * (default and CI 3, soak 4).
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { PostgresRunQueue } from "../../resources/queue/postgres.ts";
import { PostgresRunStore } from "../../resources/run_store/postgres.ts";
import type { QueuedRun } from "../../core/worker/queue.ts";
import { startPostgres } from "../_helpers/postgres.ts";
import { type MainProcess, sandbox, spawnMain, untilValue } from "../_helpers/main_process.ts";
import { needs } from "../_helpers/tools.ts";
import { Random, reliabilitySettings, reportCounts } from "../_helpers/reliability.ts";

const settings = reliabilitySettings();
type Fault = "kill" | "stop" | "term" | "cut" | "restart" | "cancel";
const FAULT_KINDS: readonly Fault[] = ["kill", "stop", "term", "cut", "restart", "cancel"];
const FAULTS = (() => {
  const text = Deno.env.get("RELIABILITY_QUEUE_FAULTS")?.trim();
  if (text) {
    if (!/^\d+$/.test(text) || Number(text) < 1) {
      throw new RangeError(`RELIABILITY_QUEUE_FAULTS must be a whole number >= 1, got '${text}'`);
    }
    return Number(text);
  }
  return settings.profile === "soak" ? 4 * FAULT_KINDS.length : FAULT_KINDS.length;
})();
const WORKERS = (() => {
  const text = Deno.env.get("RELIABILITY_QUEUE_WORKERS")?.trim();
  if (text) {
    if (!/^\d+$/.test(text) || Number(text) < 1) {
      throw new RangeError(`RELIABILITY_QUEUE_WORKERS must be a whole number >= 1, got '${text}'`);
    }
    return Number(text);
  }
  return settings.profile === "soak" ? 4 : 3;
})();
const HEARTBEAT_MS = 1000;
/** A run per worker: each is busy when the fault hits, and their claims race. */
const RUNS_PER_FAULT = WORKERS;

const GRAPH = `
import postgres from "postgres";
const sql = postgres(Deno.env.get("PROBE_URL") ?? "", { max: 2, onnotice: () => {} });
const step = async (ctx: { runId: string; assetKey: string; signal: AbortSignal }, ms: number) => {
  await sql\`INSERT INTO executions (run_id, asset, pid) VALUES (\${ctx.runId}, \${ctx.assetKey}, \${Deno.pid})\`;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    await new Promise((r) => setTimeout(r, 25));
  }
  await sql\`INSERT INTO effects (run_id, asset) VALUES (\${ctx.runId}, \${ctx.assetKey})\`;
  return { ms };
};
export const graph = defineGraph({ assets: [
  defineAsset({ key: "a", materialize: (ctx) => step(ctx, 1200) }),
  defineAsset({ key: "b", deps: ["a"], materialize: (ctx) => step(ctx, 1200) }),
]});
`;

Deno.test({
  name: "queue faults: workers killed, stopped past their lease, terminated, connections cut " +
    "and runs canceled: every run ends once, no step after a takeover, nothing leaked",
  ignore: await needs("postgres"),
}, async () => {
  const random = new Random(settings.seed).fork("queue_faults");
  // Every kind once in each round, in a seeded order.
  const plan: Fault[] = [];
  while (plan.length < FAULTS) plan.push(...random.shuffle(FAULT_KINDS));
  plan.length = FAULTS;
  await using pg = await startPostgres({ durable: true });
  await using box = await sandbox();
  const probe = postgres(pg.url, { max: 2, onnotice: () => {} });
  await probe.unsafe(`CREATE TABLE executions (run_id text, asset text, pid int,
      started_at timestamptz DEFAULT clock_timestamp());
    CREATE TABLE effects (run_id text, asset text, PRIMARY KEY (run_id, asset))`);
  const env = {
    ...box.env,
    RUNS_URL: pg.url,
    PROBE_URL: pg.url,
    PLATFORM_GRAPH: await box.graph("faults_graph", GRAPH),
    RUN_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
  };
  const procs: MainProcess[] = [];
  const spawn = (args: string[]) => {
    const p = spawnMain(args, { cwd: box.dir, env, killAfterMs: 600_000 });
    procs.push(p);
    return p;
  };
  const startWorker = async () => {
    const w = spawn(["worker", "--no-coordinator", "--grace", "200"]);
    await w.waitFor(/worker .* started on/);
    return w;
  };
  await using queue = await PostgresRunQueue.open(pg.url);
  await using store = await PostgresRunStore.open(pg.url);
  const exits: string[] = [];
  const canceled: string[] = [];
  const roots: string[] = [];
  const problems: string[] = [];
  try {
    const daemon = spawn(["sensor"]);
    await daemon.waitFor(/holding the daemon lock/);
    const ui = spawn(["ui", "--port", "0"]);
    const uiUrl = (await ui.waitFor(/UI_URL=(\S+)/)).match(/UI_URL=(\S+)/)?.[1] as string;
    /** What the UI left open shows: it must answer after every fault (the server may be back
     * a moment later than the fault's end, so a few tries). */
    const uiSays = (path: string) =>
      untilValue(`the UI to answer ${path}`, async () => {
        const response = await fetch(`${uiUrl}${path}`);
        if (response.status !== 200) {
          await response.body?.cancel();
          return undefined;
        }
        return await response.json();
      });
    const workers = await Promise.all(Array.from({ length: WORKERS }, () => startWorker()));
    const workerOf = async (runId: string) => {
      const entry = await queue.get(runId);
      const record = (await queue.listWorkers()).find((w) => w.workerId === entry?.workerId);
      return workers.findIndex((w) => w.pid === record?.pid);
    };
    for (const [i, fault] of plan.entries()) {
      const batch = Array.from({ length: RUNS_PER_FAULT }, () => crypto.randomUUID());
      roots.push(...batch);
      await untilValue(`case ${i}: its runs queued`, () =>
        queue.enqueue(
          batch.map((runId) => ({
            runId,
            selection: "a+",
            partitions: null,
            tags: { case: String(i) },
            maxRetries: 3,
          })),
          Date.now(),
        ));
      // The fault hits a run mid-step: once one of this batch is executing step a or b.
      const victim = await untilValue(`case ${i}: a run of the batch executing`, async () => {
        // The run that started most recently (a cancel then finds it still running).
        const rows = await probe<{ run_id: string }[]>`
          SELECT e.run_id FROM executions e WHERE e.run_id = ANY(${batch}) AND e.asset = 'a'
          ORDER BY e.started_at DESC LIMIT 1`;
        const started = await queue.list({ states: ["started"], limit: 100 });
        const runId = rows[0]?.run_id;
        return runId && started.some((r) => r.runId === runId) ? runId : undefined;
      });
      await new Promise((r) => setTimeout(r, random.int(0, 500)));
      const w = await untilValue(`case ${i}: the victim's worker`, () => workerOf(victim));
      const target = w >= 0 ? workers[w] : undefined;
      console.log(`case ${i}: ${fault} (run ${victim}, worker ${w} pid ${target?.pid})`);
      if (fault === "kill" && target) {
        target.kill("SIGKILL");
        const out = await target.finish();
        exits.push(`kill:${out.code}`);
        if (out.code !== 137) problems.push(`a worker killed -9 exited ${out.code}`);
        workers[w] = await startWorker();
      } else if (fault === "stop" && target) {
        target.kill("SIGSTOP");
        // Stopped until another process failed the run (its lease lapsed), then resumed.
        await untilValue(`case ${i}: the stopped worker's run to be failed`, async () => {
          const run = await store.getRun(victim);
          return run && run.status !== "running" ? true : undefined;
        });
        target.kill("SIGCONT");
      } else if (fault === "term" && target) {
        target.kill("SIGTERM");
        const out = await target.finish();
        exits.push(`term:${out.code}`);
        if (out.code !== 0) problems.push(`a worker stopped with SIGTERM exited ${out.code}`);
        workers[w] = await startWorker();
      } else if (fault === "cut") {
        // Every connection but this one: the workers', the daemon's, graphile-worker's, and
        // this test's own queue and store (they reconnect, as the processes must).
        await probe`SELECT pg_terminate_backend(pid) FROM pg_stat_activity
          WHERE pid <> pg_backend_pid() AND backend_type = 'client backend'`;
      } else if (fault === "restart") {
        await pg.restart!({ downMs: random.int(100, 1500) });
      } else if (fault === "cancel") {
        const out = await spawn(["cancel", victim]).finish();
        exits.push(`cancel:${out.code}`);
        if (out.code === 0) canceled.push(victim);
        else if (out.code !== 1) problems.push(`cancel exited ${out.code}: ${out.stderr}`);
      }
      await uiSays("/api/runs?limit=5");
    }

    // Every chain ends: nothing waiting or started.
    await untilValue("the queue to drain", async () => {
      const c = await queue.counts();
      return c.queued + c.launched + c.started === 0 ? c : undefined;
    });
    const entries: QueuedRun[] = await untilValue("the queue", () => queue.list({ limit: 10_000 }));
    for (const root of roots) {
      const chain = entries.filter((e) => e.rootRunId === root);
      const ends = chain.filter((e) => !chain.some((n) => n.retryOf === e.runId));
      if (ends.length !== 1) {
        problems.push(`chain ${root} has ${ends.length} final entries`);
        continue;
      }
      const end = ends[0] as QueuedRun;
      if (end.state !== "finished" && end.state !== "canceled") {
        problems.push(`chain ${root} ends ${end.state}`);
      }
      if (/^success/.test(end.outcome ?? "")) {
        const done = await probe<{ asset: string }[]>`
          SELECT DISTINCT asset FROM effects WHERE run_id = ANY(${chain.map((e) => e.runId)})`;
        if (done.length !== 2) problems.push(`chain ${root} succeeded with ${done.length} effects`);
      }
      if (canceled.includes(root) && !/^(canceled|success)/.test(end.outcome ?? "")) {
        problems.push(`chain ${root} was canceled but ends '${end.outcome}'`);
      }
    }
    const shownQueue = await uiSays("/api/queue") as { counts: Record<string, number> };
    const shownWaiting = (shownQueue.counts.queued ?? 0) + (shownQueue.counts.launched ?? 0) +
      (shownQueue.counts.started ?? 0);
    if (shownWaiting > 0) problems.push(`the UI shows ${shownWaiting} run(s) still in the queue`);
    const shownRuns = await uiSays("/api/runs?limit=500") as { runs: { status: string }[] };
    const shownRunning = shownRuns.runs.filter((r) => r.status === "running").length;
    if (shownRunning > 0) problems.push(`the UI shows ${shownRunning} run(s) running`);
    const running = await store.listRuns({ status: "running", limit: 100 });
    for (const run of running) problems.push(`run ${run.runId} left running`);
    // No step started on a run after another process failed it (1 s for the clocks).
    for (const e of entries) {
      const run = await store.getRun(e.runId);
      if (!run || run.finishedAt === null || !/owner process died/.test(run.errorSummary ?? "")) {
        continue;
      }
      const late = await probe<{ asset: string }[]>`
        SELECT asset FROM executions WHERE run_id = ${e.runId}
          AND started_at > to_timestamp(${run.finishedAt + 1000}::float8 / 1000)`;
      for (const l of late) {
        problems.push(`step ${l.asset} started on ${e.runId} after its takeover`);
      }
    }

    // Stop everything gracefully: nothing held is left behind.
    for (const w of workers) w.kill("SIGTERM");
    for (const w of workers) {
      const out = await w.finish();
      if (out.code !== 0) problems.push(`a worker stopped with SIGTERM exited ${out.code}`);
    }
    daemon.kill("SIGTERM");
    await daemon.finish();
    const leftWorkers = await untilValue("dead workers' records to be forgotten", async () => {
      // A killed worker's record is forgotten by a coordinator; with all stopped, count them.
      const rows = await probe`SELECT count(*)::int AS n FROM ops.queue_workers`;
      return rows[0]?.n as number;
    });
    const slots = (await probe`SELECT count(*)::int AS n FROM ops.pool_slots`)[0]?.n;
    const lockedJobs = await probe<{ key: string; locked_by: string; attempts: number }[]>`
      SELECT key, locked_by, attempts FROM graphile_worker._private_jobs
      WHERE locked_at IS NOT NULL`;
    const locked = lockedJobs.length;
    for (const job of lockedJobs) {
      const entry = entries.find((e) => e.runId === job.key);
      console.log(
        `locked job ${job.key} by ${job.locked_by} (attempts ${job.attempts}): entry ` +
          `${entry?.state} ${entry?.outcome} worker ${entry?.workerId}`,
      );
    }
    const killedRecords = exits.filter((e) => e.startsWith("kill")).length;
    if (leftWorkers > killedRecords) problems.push(`${leftWorkers} worker record(s) left`);
    if (slots !== 0) problems.push(`${slots} pool slot(s) left`);
    if (locked !== 0) problems.push(`${locked} job(s) left locked`);
    await reportCounts("queue_faults", {
      tried: plan.length,
      handled: plan.length - Math.min(plan.length, problems.length),
      lost: problems.filter((p) => /final|ends|left running|drain/.test(p)).length,
      leaked: problems.filter((p) => /after its takeover|left|effects/.test(p)).length,
    }, { seed: settings.seed, detail: `faults ${plan.join(",")}; exits ${exits.join(",")}` });
    assert.deepEqual(problems, []);
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    for (const p of procs) await p.finish();
    await probe.end();
  }
});
