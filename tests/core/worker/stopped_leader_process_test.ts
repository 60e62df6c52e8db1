/**
 * A leader stopped (SIGSTOP, a paused VM, a process stuck in a long GC)
 * while it holds the daemon lock and leads the coordinator: its Postgres
 * session stays open (the kernel still answers for it), so a lock held by
 * the session alone would be held for as long as it is stopped, and no other
 * process could admit a run or launch a sensor's. A standby takes over within
 * the lead's lease; the stopped leader, resumed, finds it lost the lead and
 * stands by.
 *
 * @module
 */

import assert from "node:assert/strict";
import { needs } from "../../_helpers/tools.ts";
import { heldCluster } from "./_held_cluster.ts";

Deno.test({
  name: "a leader stopped with SIGSTOP: a standby daemon takes the lock and admits runs; " +
    "resumed, the old leader stands by",
  ignore: await needs("postgres"),
}, async () => {
  await using cluster = await heldCluster();
  const leader = cluster.spawn(["sensor"]);
  await leader.waitFor(/holding the daemon lock/);
  const standby = cluster.spawn(["sensor"]);
  await standby.waitFor(/another sensor daemon holds the daemon lock; standing by/);
  const worker = cluster.spawn(["worker", "--no-coordinator"]);
  await worker.waitFor(/worker .* started on/);
  const before = await cluster.startHeld(); // admitted by the leader
  await cluster.releaseAndCheckOnce(before);

  leader.kill("SIGSTOP");
  try {
    // Waits end when their condition holds; before the lease, nothing else can lead.
    await standby.waitFor(/holding the daemon lock/);
    const after = await cluster.startHeld(); // admitted by the new leader
    await cluster.releaseAndCheckOnce(after);
  } finally {
    leader.kill("SIGCONT");
  }
  await leader.waitFor(/lost the daemon lock/);
  await leader.waitFor(/standing by/);
  // The new leader goes on admitting while the old one stands by.
  const third = await cluster.startHeld();
  await cluster.releaseAndCheckOnce(third);
  for (const p of [leader, standby, worker]) p.kill("SIGTERM");
  const [old, current] = [await leader.finish(), await standby.finish()];
  assert.equal((await worker.finish()).code, 0);
  assert.equal(old.code, 0, old.stderr);
  assert.equal(current.code, 0, current.stderr);
  assert.doesNotMatch(current.stdout, /lost the daemon lock/, "the new leader kept the lock");
});
