/**
 * A worker whose event loop is blocked by a long synchronous step, past its
 * lease, among workers on one PostgreSQL queue: it cannot heartbeat, so the
 * coordinator fails its run as dead and the queue retries it on another
 * worker, as the retry policy says. When the blocked step ends, its owner
 * has not yet heard (its next heartbeat would tell it): what it records then
 * is fenced off. The asset's latest materialization stays the retry's (not
 * one from the failed run, which made every downstream asset look stale),
 * and the failed run keeps the end the reaper gave it (one `run_finished`,
 * no step succeeded, no materialization).
 *
 * @module
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { PostgresRunQueue } from "../../../resources/queue/postgres.ts";
import { PostgresRunStore } from "../../../resources/run_store/postgres.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { sandbox, spawnMain, untilValue } from "../../_helpers/main_process.ts";
import { needs } from "../../_helpers/tools.ts";

/** Heartbeat of the runs; a worker's lease is 1.5 of them. */
const HEARTBEAT_MS = 1000;
/** How long the first execution blocks its event loop: more than two leases. */
const BLOCK_MS = 4000;

const GRAPH = `
import postgres from "postgres";
const db = postgres(Deno.env.get("PROBE_URL") ?? "", { max: 1, onnotice: () => {} });
const note = (ctx: { runId: string }, phase: string) =>
  db\`INSERT INTO probe (run_id, pid, phase) VALUES (\${ctx.runId}, \${Deno.pid}, \${phase})\`;
export const graph = defineGraph({ assets: [
  defineAsset({ key: "blocker", materialize: async (ctx) => {
    await note(ctx, "start");
    const [first] = await db\`SELECT count(*)::int AS n FROM probe WHERE phase = 'start'\`;
    if (first?.n === 1) {
      const end = Date.now() + ${BLOCK_MS};
      while (Date.now() < end) { /* synchronous work: nothing else runs here */ }
    }
    await note(ctx, "end");
    return { execution: first?.n ?? 0 };
  }}),
  defineAsset({ key: "after", deps: ["blocker"], materialize: async (ctx) => {
    await note(ctx, "after");
    return {};
  }}),
]});
`;

Deno.test({
  name: "a step blocking its worker's event loop past the lease: the run is retried " +
    "elsewhere, and what the blocked worker records afterwards is fenced off",
  ignore: await needs("postgres"),
}, async () => {
  await using pg = await startPostgres();
  await using box = await sandbox();
  const sql = postgres(pg.url, { max: 2, onnotice: () => {} });
  try {
    await sql`CREATE TABLE probe (run_id text, pid int, phase text, at timestamptz DEFAULT clock_timestamp())`;
    const env = {
      ...box.env,
      RUNS_URL: pg.url,
      PROBE_URL: pg.url,
      PLATFORM_ALLOW_ENV: "PROBE_URL",
      PLATFORM_GRAPH: await box.graph("blocked_graph", GRAPH),
      RUN_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
    };
    await using queue = await PostgresRunQueue.open(pg.url);
    await using store = await PostgresRunStore.open(pg.url);
    await using daemon = spawnMain(["sensor"], { cwd: box.dir, env });
    await daemon.waitFor(/holding the daemon lock/);
    const workers = [1, 2].map(() =>
      spawnMain(["worker", "--no-coordinator"], { cwd: box.dir, env })
    );
    for (const w of workers) await w.waitFor(/worker .* started on/);

    const first = crypto.randomUUID();
    await queue.enqueue([{
      runId: first,
      selection: "blocker+",
      partitions: null,
      tags: { max_retries: "1" },
      maxRetries: 1,
    }], Date.now());
    // The chain ended, and the blocked execution got past its step (and recorded what it did).
    const entries = await untilValue(
      "the retry to finish and the blocked step to end",
      async () => {
        const all = await queue.list({ limit: 10 });
        const ended = all.length === 2 && all.every((e) => e.state === "finished");
        const ends = await sql`SELECT 1 FROM probe WHERE phase = 'end' AND run_id = ${first}`;
        return ended && ends.length === 1 ? all : undefined;
      },
    );
    const retry = entries.find((e) => e.retryOf === first);
    assert.ok(retry, "retried once, as max_retries says");
    assert.match(retry.outcome ?? "", /^success/);
    assert.match(entries.find((e) => e.runId === first)?.outcome ?? "", /owner process died/);
    // The blocked worker stops its run once it hears, so it has recorded all it will.
    for (const w of workers) w.kill("SIGTERM");
    for (const w of workers) assert.equal((await w.finish()).code, 0);

    const latest = await store.lastMaterialization("blocker", null);
    assert.equal(latest?.runId, retry.runId, "the latest materialization is the retry's");
    assert.equal((await store.lastMaterialization("after", null))?.runId, retry.runId);
    const failed = await store.getRun(first);
    assert.equal(failed?.status, "failed");
    const events = await store.listEvents(first);
    assert.deepEqual(
      events.filter((e) => e.type === "run_finished").map((e) => e.data.status),
      ["failed"],
      "one end, the reaper's",
    );
    assert.deepEqual(events.filter((e) => e.type === "materialization"), []);
    // Failed by the reaper, or never recorded (its start was still in the write buffer when
    // the loop blocked): not a success.
    const step = (await store.listSteps(first)).find((s) => s.assetKey === "blocker");
    assert.notEqual(step?.status, "success", JSON.stringify(step));
    daemon.kill("SIGTERM");
    assert.equal((await daemon.finish()).code, 0);
  } finally {
    await sql.end();
  }
});
