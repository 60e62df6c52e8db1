/**
 * The sensor daemon launching into the Postgres queue, killed with -9 at
 * seeded moments while it claims run keys and queues their runs (and started
 * again, as a supervisor would): every run key a sensor requested is queued
 * exactly once, under one run id, and executed exactly once by the workers;
 * none is lost between its claim and its enqueue, and no run stays `running`.
 *
 * Counts: one kill per round, `RELIABILITY_KILL_POINTS` rounds, at most 3
 * (12 with `RELIABILITY_SOAK=1`; tests/_helpers/reliability.ts), from
 * `RELIABILITY_SEED`.
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { PostgresRunQueue } from "../../../resources/queue/postgres.ts";
import { PostgresRunStore } from "../../../resources/run_store/postgres.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { type MainProcess, sandbox, spawnMain, untilValue } from "../../_helpers/main_process.ts";
import { Random, reliabilitySettings, reportCounts } from "../../_helpers/reliability.ts";
import { needs } from "../../_helpers/tools.ts";

const settings = reliabilitySettings();
/** Rounds of kills; a few in the default and CI runs (each round restarts a daemon). */
const ROUNDS = Math.min(settings.killPoints, settings.profile === "soak" ? 12 : 3);
const KEYS_PER_ROUND = 8;
const CORE = new URL("../../../core/mod.ts", import.meta.url).href;

const GRAPH = `
import postgres from "postgres";
import { defineSensor } from "${CORE}";
const db = postgres(Deno.env.get("PROBE_URL") ?? "", { max: 2, onnotice: () => {} });
const inbox = defineSensor({
  name: "inbox",
  intervalMs: 30,
  async evaluate(ctx) {
    const after = Number(ctx.cursor ?? 0);
    const rows = await db\`SELECT id, key FROM inbox WHERE id > \${after} ORDER BY id LIMIT 4\`;
    if (rows.length === 0) return { skipReason: "nothing new" };
    return {
      runRequests: rows.map((r) => ({ runKey: r.key, selection: "work", tags: { item: r.key } })),
      cursor: String(rows.at(-1).id),
    };
  },
});
export const graph = defineGraph({
  assets: [defineAsset({ key: "work", materialize: async (ctx) => {
    await db\`INSERT INTO effects (run_id) VALUES (\${ctx.runId})\`;
    return { ok: true };
  }})],
  sensors: [inbox],
});
`;

Deno.test({
  name: "sensor daemon killed -9 while launching into the queue: every run key queued once, " +
    "executed once, none lost",
  ignore: await needs("postgres"),
}, async () => {
  const random = new Random(settings.seed).fork("sensor_queue_kill");
  await using pg = await startPostgres();
  await using box = await sandbox();
  const db = postgres(pg.url, { max: 2, onnotice: () => {} });
  await db.unsafe(`CREATE TABLE inbox (id serial PRIMARY KEY, key text UNIQUE);
    CREATE TABLE effects (run_id text)`);
  const env = {
    ...box.env,
    RUNS_URL: pg.url,
    PROBE_URL: pg.url,
    PLATFORM_GRAPH: await box.graph("sensor_graph", GRAPH),
    // A lease of 3 s: a loaded machine does not take a live worker for dead (a retry would run
    // its key twice, which this test counts).
    RUN_HEARTBEAT_INTERVAL_MS: "2000",
  };
  const procs: MainProcess[] = [];
  const spawn = (args: string[]) => {
    const p = spawnMain(args, { cwd: box.dir, env });
    procs.push(p);
    return p;
  };
  await using queue = await PostgresRunQueue.open(pg.url);
  await using store = await PostgresRunStore.open(pg.url);
  const keys: string[] = [];
  const kills: string[] = [];
  try {
    const worker = spawn(["worker", "--no-coordinator", "--concurrency", "2"]);
    await worker.waitFor(/worker .* started on/);
    for (let round = 0; round < ROUNDS; round++) {
      const daemon = spawn(["sensor", "--interval", "30"]);
      await daemon.waitFor(/holding the daemon lock/);
      const batch = Array.from({ length: KEYS_PER_ROUND }, (_, i) => `r${round}-k${i}`);
      keys.push(...batch);
      await db`INSERT INTO inbox ${db(batch.map((key) => ({ key })))}`;
      // Killed once a seeded number of this round's keys are queued: mid-batch, between a
      // claim and its enqueue, or just after a cursor.
      const target = random.int(1, KEYS_PER_ROUND - 1);
      await untilValue(`round ${round}: ${target} key(s) queued`, async () => {
        const rows = await db`SELECT count(*)::int AS n FROM ops.run_queue
          WHERE tags->>'item' = ANY(${batch})`;
        return (rows[0]?.n as number) >= target ? true : undefined;
      }, { pollMs: 5 });
      daemon.kill("SIGKILL");
      kills.push(`${(await daemon.finish()).code}`);
    }
    // A last daemon finishes what the killed ones left.
    const last = spawn(["sensor", "--interval", "30"]);
    await last.waitFor(/holding the daemon lock/);
    await untilValue("every key's run to finish", async () => {
      const rows = await db`SELECT count(DISTINCT tags->>'item')::int AS n FROM ops.run_queue
        WHERE state = 'finished'`;
      return (rows[0]?.n as number) >= keys.length ? true : undefined;
    });
    await untilValue("the queue to drain", async () => {
      const c = await queue.counts();
      return c.queued + c.launched + c.started === 0 ? true : undefined;
    });

    const problems: string[] = [];
    const entries = await queue.list({ limit: 10_000 });
    const effects = await db<{ run_id: string }[]>`SELECT run_id FROM effects`;
    for (const key of keys) {
      const mine = entries.filter((e) => e.tags.item === key);
      if (mine.length !== 1) problems.push(`key ${key} queued ${mine.length} time(s)`);
      const done = effects.filter((e) => mine.some((m) => m.runId === e.run_id)).length;
      if (done !== 1) problems.push(`key ${key} executed ${done} time(s)`);
      if (mine[0] && !/^success/.test(mine[0].outcome ?? "")) {
        problems.push(`key ${key} ended '${mine[0].outcome}'`);
      }
    }
    const running = await store.listRuns({ status: "running", limit: 100 });
    for (const run of running) problems.push(`run ${run.runId} left running`);
    await reportCounts("sensor_queue_kill", {
      tried: ROUNDS,
      handled: keys.length - problems.length,
      lost: problems.filter((p) => /queued 0|executed 0|running/.test(p)).length,
      leaked: problems.filter((p) => /queued [2-9]|executed [2-9]/.test(p)).length,
    }, { seed: settings.seed, detail: `${keys.length} keys; kill exits ${kills.join(",")}` });
    assert.deepEqual(problems, []);
    assert.ok(kills.every((code) => code === "137"), kills.join(","));
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    for (const p of procs) await p.finish();
    await db.end();
  }
});
