/**
 * `deno task worker` (launch.ts starting main.ts under least privilege) whose
 * launcher is killed with -9 mid-run, as when a terminal or a supervisor
 * dies: the worker notices its launcher is gone, stops as on SIGTERM (its
 * run released: recorded canceled and queued again as a new attempt), leaves
 * no worker record and no locked job, and the next worker runs the retry
 * once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { untilValue } from "../../_helpers/main_process.ts";
import { needs } from "../../_helpers/tools.ts";
import { heldCluster } from "./_held_cluster.ts";

/** Whether a process with this pid exists (`kill -0`). */
async function alive(pid: number): Promise<boolean> {
  const out = await new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "null" })
    .output();
  return out.success;
}

Deno.test({
  name: "launch.ts killed with -9 under `deno task worker`: the worker stops, its run is " +
    "released and queued again, nothing held is left, the next worker runs it once",
  ignore: await needs("postgres"),
}, async () => {
  await using cluster = await heldCluster();
  const { queue, store, sql } = cluster;
  const launcher = cluster.spawn(["--grace", "300"], { task: "worker" });
  await launcher.waitFor(/worker .* started on/);
  const runId = await cluster.startHeld();
  const [record] = await queue.listWorkers();
  const workerPid = record?.pid as number;
  assert.ok(workerPid && workerPid !== launcher.pid, "the worker is the launcher's child");

  launcher.kill("SIGKILL");
  try {
    await untilValue(
      "the worker to stop after its launcher's kill -9",
      async () => (await alive(workerPid)) ? undefined : true,
    );
  } finally {
    if (await alive(workerPid)) Deno.kill(workerPid, "SIGKILL");
  }
  const outcome = await launcher.finish();
  assert.equal(outcome.signal, "SIGKILL");
  assert.match(outcome.stderr, /The launcher \(launch\.ts, pid \d+\) has ended/);

  // Released, not lost: canceled here, queued again as attempt 2; nothing held.
  assert.equal((await store.getRun(runId))?.status, "canceled");
  const entry = await queue.get(runId);
  assert.equal(entry?.state, "finished");
  assert.match(entry?.outcome ?? "", /^released/);
  const [retry] = (await queue.list({ limit: 100 })).filter((e) => e.retryOf === runId);
  assert.equal(retry?.state, "queued");
  assert.deepEqual(await queue.listWorkers(), [], "its worker record is removed");
  const locked =
    await sql`SELECT key FROM graphile_worker._private_jobs WHERE locked_at IS NOT NULL`;
  assert.deepEqual(locked.map((r) => r.key), [], "no job left locked");

  // The next worker runs the retry, once.
  const next = cluster.spawn(["worker"]);
  await next.waitFor(/worker .* started on/);
  await untilValue("the retry to start", async () => {
    const rows = await sql`SELECT 1 FROM held_started WHERE run_id = ${retry!.runId}`;
    return rows.length > 0 ? true : undefined;
  });
  await cluster.releaseAndCheckOnce(retry!.runId);
  next.kill("SIGTERM");
  assert.equal((await next.finish()).code, 0);
});
