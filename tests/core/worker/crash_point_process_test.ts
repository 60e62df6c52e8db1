/**
 * `deno task worker` killed with -9 at the named crash points of a queued
 * run's life (core/crash_point.ts, `PLATFORM_CRASH_AT`), on one PostgreSQL
 * queue and run store: right after its claim committed (no run record yet),
 * just before the run's end is recorded, just after, and after the end with
 * its queue entry not finished yet (the run allows one retry, as
 * QUEUE_MAX_RETRIES=1 gives). A random kill almost never lands in
 * those few milliseconds. A second worker (an orchestrator's replacement)
 * then runs on. After each:
 *
 * - the killed worker exited 137 (SIGKILL), having reached its point;
 * - the run's chain (the run and any retry) ends in exactly one final entry,
 *   a success; nothing queued or started is left, no run record `running`;
 * - the asset's side effect happened once (a run that ended is never run
 *   again to completion; a retry resumes after the steps that succeeded);
 * - the replacement stops with exit 0 on SIGTERM.
 *
 * @module
 */

import assert from "node:assert/strict";
import { untilValue } from "../../_helpers/main_process.ts";
import { needs } from "../../_helpers/tools.ts";
import { type HeldCluster, heldCluster } from "./_held_cluster.ts";

/** Spawns a worker that kills itself at `point` (through `env`, as the cluster's wrapper). */
function armedWorker(cluster: HeldCluster, point: string) {
  return cluster.spawn(["worker"], { wrapper: ["env", `PLATFORM_CRASH_AT=${point}`] });
}

async function started(cluster: HeldCluster, runId: string): Promise<void> {
  await untilValue(`run ${runId} to start`, async () => {
    const rows = await cluster.sql`SELECT 1 FROM held_started WHERE run_id = ${runId}`;
    return rows.length > 0 ? true : undefined;
  }, { timeoutMs: 90_000 });
}

async function chainEnd(cluster: HeldCluster, root: string): Promise<string[]> {
  // The same answer twice: the queue's list reads waiting and other entries in two queries,
  // so one read may see a run finished but not yet the retry queued with it.
  let previous = "";
  return await untilValue(`run ${root}'s chain to end`, async () => {
    const entries = await cluster.queue.list({ limit: 1000 });
    const chain = [root];
    for (let grew = true; grew;) {
      grew = false;
      for (const e of entries) {
        if (e.retryOf !== null && chain.includes(e.retryOf) && !chain.includes(e.runId)) {
          chain.push(e.runId);
          grew = true;
        }
      }
    }
    const mine = entries.filter((e) => chain.includes(e.runId));
    if (mine.some((e) => e.state !== "finished" && e.state !== "canceled")) return undefined;
    const end = mine.map((e) => `${e.runId === root ? "root" : "retry"} ${e.state}: ${e.outcome}`);
    const same = JSON.stringify(end) === previous;
    previous = JSON.stringify(end);
    return same ? end : undefined;
  }, { timeoutMs: 90_000 });
}

async function killedAt(cluster: HeldCluster, point: string): Promise<void> {
  const armed = armedWorker(cluster, point);
  await armed.waitFor(/worker .* started on/);
  // One retry allowed (QUEUE_MAX_RETRIES=1): a run whose worker died before its end was
  // recorded is reaped as failed and retried, resuming after the steps that succeeded.
  const root = crypto.randomUUID();
  await cluster.queue.enqueue(
    [{ runId: root, selection: "held", partitions: null, tags: {}, maxRetries: 1 }],
    Date.now(),
  );
  if (point !== "worker.claimed") {
    await started(cluster, root);
    await cluster.sql`INSERT INTO held_released (run_id) VALUES (${root})`;
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const killed = await Promise.race([
    armed.finish(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        armed.kill("SIGKILL");
        reject(new Error(`the worker did not reach crash point ${point} within 90 s`));
      }, 90_000);
    }),
  ]).finally(() => clearTimeout(timer));
  assert.equal(killed.code, 137, `killed at ${point}: ${killed.stderr.slice(-2000)}`);
  assert.match(killed.stderr, new RegExp(`crash point ${point.replace(".", "\\.")} reached`));

  const replacement = cluster.spawn(["worker"]);
  await replacement.waitFor(/worker .* started on/);
  if (point === "worker.claimed") {
    // The claim was given back; the replacement runs it.
    await started(cluster, root);
    await cluster.sql`INSERT INTO held_released (run_id) VALUES (${root})`;
  }
  const chain = await chainEnd(cluster, root);
  const finals = chain.filter((line) => / finished: success/.test(line));
  assert.equal(finals.length, 1, `one successful end: ${chain.join(" | ")}`);
  assert.ok(
    chain.every((line) => / finished: /.test(line)),
    `every entry of the chain finished: ${chain.join(" | ")}`,
  );
  const executions = await cluster.sql`SELECT run_id FROM held_started`;
  assert.equal(executions.length, 1, `the asset ran once: ${chain.join(" | ")}`);
  const running = await cluster.store.listRuns({ status: "running", limit: 10 });
  assert.deepEqual(running.map((r) => r.runId), [], "no run left running");
  replacement.kill("SIGTERM");
  const stopped = await replacement.finish();
  assert.equal(stopped.code, 0, stopped.stderr.slice(-2000));
}

for (const point of ["worker.claimed", "run.end", "run.ended", "worker.finish"]) {
  Deno.test({
    name: `a worker killed -9 at ${point}: the run ends once, successfully, its effect once`,
    ignore: await needs("postgres"),
    // The children's pipes are ours; the sanitizers would see them.
    sanitizeResources: false,
    sanitizeOps: false,
  }, async () => {
    await using cluster = await heldCluster();
    await killedAt(cluster, point);
  });
}
