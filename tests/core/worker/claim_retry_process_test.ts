/**
 * A worker whose claims of a run fail a few times in a row (its queue row
 * locked by a long transaction past `lock_timeout`; a statement timeout or a
 * server restart fail them alike): once the row is free, the run starts
 * within a coordinator tick or two. Before, each failed claim went back to
 * graphile-worker, which delivers a failed job again only after e^attempts
 * seconds (2.7, 7.4, 20, 55 s... up to 6 hours), so the run waited long after
 * nothing was wrong any more.
 *
 * @module
 */

import assert from "node:assert/strict";
import { untilValue } from "../../_helpers/main_process.ts";
import { needs } from "../../_helpers/tools.ts";
import { heldCluster } from "./_held_cluster.ts";

Deno.test({
  name: "claims that fail a few times (row locked past lock_timeout): the run starts soon " +
    "after the lock goes, not after the dispatch library's backoff",
  ignore: await needs("postgres"),
}, async () => {
  await using cluster = await heldCluster(1000);
  const { queue, sql } = cluster;
  // For the processes started from now on: a statement waiting on a lock fails after 500 ms.
  await sql.unsafe("ALTER DATABASE postgres SET lock_timeout = '500ms'");
  const daemon = cluster.spawn(["sensor"]);
  await daemon.waitFor(/holding the daemon lock/);
  const runId = crypto.randomUUID();
  await queue.enqueue([{ runId, selection: "held", partitions: null, tags: {} }], Date.now());
  await untilValue(
    "the run to be admitted",
    async () => (await queue.get(runId))?.state === "launched" ? true : undefined,
  );

  const locker = await sql.reserve();
  let unlockedAt = 0;
  const worker = cluster.spawn(["worker", "--no-coordinator"]);
  try {
    await locker.unsafe("BEGIN");
    await locker.unsafe("SELECT 1 FROM ops.run_queue WHERE run_id = $1 FOR UPDATE", [runId]);
    const failed = new RegExp(`(cannot claim run ${runId}[\\s\\S]*){3}`);
    await worker.waitFor(failed);
  } finally {
    await locker.unsafe("COMMIT").catch(() => {});
    locker.release();
    unlockedAt = Date.now();
  }
  await untilValue(`run ${runId} to start`, async () => {
    const rows = await sql`SELECT 1 FROM held_started WHERE run_id = ${runId}`;
    return rows.length > 0 ? true : undefined;
  });
  const waitedMs = Date.now() - unlockedAt;
  assert.ok(waitedMs < 10_000, `started ${waitedMs} ms after its row was free`);
  await cluster.releaseAndCheckOnce(runId);
  for (const p of [worker, daemon]) p.kill("SIGTERM");
  for (const p of [worker, daemon]) {
    const end = await p.finish();
    assert.equal(end.code, 0, end.stdout + end.stderr);
  }
});
