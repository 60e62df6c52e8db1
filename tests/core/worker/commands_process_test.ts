/**
 * The queue's commands as a user runs them (`main.ts` processes on a
 * throwaway PostgreSQL): `migrate`, `backfill`, `queue` (why each run waits),
 * `cancel` (a queued run never runs; a bad id is exit 1), usage errors
 * (exit 2), then a `worker` that executes what is left and stops on SIGTERM.
 */
import assert from "node:assert/strict";
import { PostgresRunQueue } from "../../../resources/queue/postgres.ts";
import { PostgresRunStore } from "../../../resources/run_store/postgres.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { sandbox, spawnMain, WAIT_MS } from "../../_helpers/main_process.ts";
import { needs } from "../../_helpers/tools.ts";

const GRAPH = `
import { staticPartitions } from "${new URL("../../../core/partitions.ts", import.meta.url).href}";
export const graph = defineGraph({ assets: [
  defineAsset({ key: "p", group: "g", partitions: staticPartitions(["a", "b", "c"]),
    materialize: () => ({}) }),
]});
`;

Deno.test({
  name: "queue commands: migrate, backfill, queue says why runs wait, cancel, usage errors, worker",
  ignore: await needs("postgres"),
}, async () => {
  await using pg = await startPostgres();
  await using box = await sandbox();
  const env = {
    ...box.env,
    RUNS_URL: pg.url,
    PLATFORM_GRAPH: await box.graph("commands_graph", GRAPH),
    RUN_HEARTBEAT_INTERVAL_MS: "1000",
  };
  const main = (args: string[]) =>
    spawnMain(args, { cwd: box.dir, env, killAfterMs: 120_000 }).finish();

  const migrated = await main(["migrate"]);
  assert.equal(migrated.code, 0, migrated.stderr);

  const backfill = await main(["backfill", "p", "--partition", "a,b,c", "--json"]);
  assert.equal(backfill.code, 0, backfill.stderr);
  await using queue = await PostgresRunQueue.open(pg.url);
  const queued = await queue.list({ states: ["queued"], limit: 10 });
  assert.deepEqual(queued.map((r) => r.partitions?.keys), [["a"], ["b"], ["c"]]);

  // No worker and no coordinator yet: every run waits, and says why.
  const shown = await main(["queue", "--json"]);
  assert.equal(shown.code, 0, shown.stderr);
  const lines = shown.stdout.trim().split("\n").map((l) => JSON.parse(l));
  const waiting = lines.filter((l) => queued.some((r) => r.runId === l.run_id));
  assert.equal(waiting.length, 3, shown.stdout);
  for (const w of waiting) {
    assert.match(String(w.reason), /no coordinator has run yet: start `deno task worker`/);
  }

  // Cancel by a unique prefix: the run leaves the queue and never runs.
  const victim = queued[0]?.runId ?? "";
  const canceled = await main(["cancel", victim.slice(0, 12), "--reason", "not needed"]);
  assert.equal(canceled.code, 0, canceled.stderr);
  assert.equal((await queue.get(victim))?.state, "canceled");
  const again = await main(["cancel", victim]);
  assert.equal(again.code, 1, "an ended run cannot be canceled again");
  const unknown = await main(["cancel", "no-such-run"]);
  assert.equal(unknown.code, 2, "an id that names nothing is a usage error, as for show");
  assert.match(unknown.stdout + unknown.stderr, /no-such-run/);
  const usage = await main(["backfill", "p"]);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--from\/--to or --partition/);

  // A worker (leading the coordinator) runs the two left, then stops cleanly on SIGTERM.
  const worker = spawnMain(["worker", "--concurrency", "2"], { cwd: box.dir, env });
  try {
    // Ends when both runs finished; the deadline leaves a loaded CI machine the worker's
    // cold start (seconds on a quiet one, most of a minute on a busy 2-core one).
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      const c = await queue.counts();
      if (c.finished === 2) break;
      assert.ok(Date.now() < deadline, `runs did not finish: ${JSON.stringify(c)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    worker.kill("SIGTERM");
  }
  const stopped = await worker.finish();
  assert.equal(stopped.code, 0, stopped.stderr);
  await using store = await PostgresRunStore.open(pg.url);
  const runs = await store.listRuns({ limit: 10 });
  assert.deepEqual(runs.map((r) => r.status).sort(), ["success", "success"]);
  assert.ok(!runs.some((r) => r.runId === victim), "the canceled run never ran");
  assert.deepEqual(
    (await store.listEvents(victim)).map((e) => e.type),
    ["run_queued", "run_dequeued"],
  );
});
