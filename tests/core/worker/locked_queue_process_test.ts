/**
 * The queue table locked by a long transaction (a migration, `VACUUM FULL`,
 * an operator's `LOCK TABLE` left open) for several leases, while workers
 * end runs and runs are being queued: the workers' heartbeats go on all
 * along, so no live worker is taken for dead and forgotten (its deliveries
 * and pool slots freed under it) when the lock goes; nothing is wedged
 * after it, and every run executes once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { untilValue } from "../../_helpers/main_process.ts";
import { needs } from "../../_helpers/tools.ts";
import { heldCluster } from "./_held_cluster.ts";

const HEARTBEAT_MS = 1000;
/** The workers' lease is 1.5 heartbeats: the lock is held for more than three leases. */
const LOCKED_MS = 5 * HEARTBEAT_MS;

Deno.test({
  name: "queue table locked by a long transaction: worker heartbeats go on, no live worker " +
    "is forgotten, runs ended or queued meanwhile are finished once after",
  ignore: await needs("postgres"),
}, async () => {
  await using cluster = await heldCluster(HEARTBEAT_MS);
  const { queue, sql } = cluster;
  const daemon = cluster.spawn(["sensor"]);
  await daemon.waitFor(/holding the daemon lock/);
  // A worker with four runs that all end while the table is locked: their four `finish`
  // statements wait on the lock, as many as its pool has connections.
  const busy = cluster.spawn(["worker", "--concurrency", "4", "--no-coordinator"]);
  await busy.waitFor(/worker .* started on/);
  const held: string[] = [];
  for (let i = 0; i < 4; i++) held.push(await cluster.startHeld());
  // A second worker, standing by as a coordinator too.
  const other = cluster.spawn(["worker"]);
  await other.waitFor(/worker .* started on/);
  const workers = [busy, other];

  const locker = await sql.reserve();
  let queued: Promise<string[]> | undefined;
  try {
    await locker.unsafe("BEGIN");
    await locker.unsafe("LOCK TABLE ops.run_queue IN ACCESS EXCLUSIVE MODE");
    const [locked] = await locker.unsafe<{ at: number }[]>(
      "SELECT (extract(epoch FROM now()) * 1000)::float8 AS at",
    );
    const at = locked?.at ?? Infinity;
    // Waits on the lock, as a launch from the UI or a sensor would.
    queued = queue.enqueue(
      [1, 2].map(() => ({
        runId: crypto.randomUUID(),
        selection: "held",
        partitions: null,
        tags: {},
      })),
      Date.now(),
    );
    await sql`INSERT INTO held_released (run_id) SELECT unnest(${held}::text[])`;
    await untilValue("the four runs to end (their queue entries wait on the lock)", async () => {
      const runs = await Promise.all(held.map((id) => cluster.store.getRun(id)));
      return runs.every((r) => r?.status === "success") ? true : undefined;
    });
    // Both workers keep heartbeating while the lock is held, past three leases.
    await untilValue("both workers to heartbeat through the lock", async () => {
      const rows = await sql.unsafe<{ at: number }[]>(
        `SELECT (extract(epoch FROM heartbeat_at) * 1000)::float8 AS at FROM ops.queue_workers`,
      );
      return rows.length === 2 && rows.every((r) => r.at >= at + LOCKED_MS) ? true : undefined;
    }, { timeoutMs: 60_000 });
  } finally {
    await locker.unsafe("COMMIT").catch(() => {});
    locker.release();
  }
  const during = await queued;
  assert.equal(during?.length, 2);
  for (const runId of held) await cluster.releaseAndCheckOnce(runId);
  for (const runId of during ?? []) {
    await untilValue(`run ${runId} to start`, async () => {
      const rows = await sql`SELECT 1 FROM held_started WHERE run_id = ${runId}`;
      return rows.length > 0 ? true : undefined;
    });
    await cluster.releaseAndCheckOnce(runId);
  }
  for (const p of [...workers, daemon]) p.kill("SIGTERM");
  const ends = await Promise.all([...workers, daemon].map((p) => p.finish()));
  for (const end of ends) assert.equal(end.code, 0, end.stdout + end.stderr);
  const log = ends.map((e) => e.stdout).join("\n");
  assert.doesNotMatch(log, /forgot dead worker/, "no live worker was taken for dead");
});
