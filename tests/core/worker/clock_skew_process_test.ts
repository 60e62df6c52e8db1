/**
 * Workers and commands on machines whose clocks disagree, sharing one
 * PostgreSQL queue and run store (real processes; a machine's clock is played
 * by shifting `Date.now()` in the child, tests/_helpers/skewed_clock.ts). A
 * lease is judged by comparing times different machines wrote, so without
 * one clock:
 *
 * - a worker whose clock is behind by more than a lease has its live run
 *   failed as dead by the coordinator (and the retry runs it a second time);
 * - a command started on a machine whose clock is ahead (`runs` from a
 *   laptop) fails every running run of the cluster as dead;
 * - a worker whose clock is ahead and that is killed with -9 leaves its run
 *   `running` for as long as its clock was ahead;
 * - a worker whose clock is stepped while it runs (NTP after a VM resumed)
 *   writes heartbeats the coordinator reads as a lease ago.
 *
 * @module
 */

import assert from "node:assert/strict";
import { untilValue } from "../../_helpers/main_process.ts";
import { needs } from "../../_helpers/tools.ts";
import { heldCluster } from "./_held_cluster.ts";

/** Far more than any lease here (3 s), so only the clocks decide. */
const SKEW_MS = 10 * 60_000;

Deno.test({
  name: "clock skew: a worker whose clock is behind keeps its run, a command from a clock " +
    "ahead fails none, a killed worker whose clock is ahead has its run reaped within its lease",
  ignore: await needs("postgres"),
}, async () => {
  await using cluster = await heldCluster();
  const { queue, store } = cluster;
  // The coordinator on a machine with the right time.
  const daemon = cluster.spawn(["sensor"]);
  await daemon.waitFor(/holding the daemon lock/);

  // 1. A worker whose clock is 10 minutes behind: its run lives through many leases.
  const behind = cluster.spawn(["worker", "--no-coordinator"], { skewMs: -SKEW_MS });
  await behind.waitFor(/worker .* started on/);
  const first = await cluster.startHeld();
  assert.equal(await cluster.afterBeats(first), "running", "not failed for its clock");

  // 2. A command on a machine whose clock is 10 minutes ahead fails no running run.
  const laptop = await cluster.spawn(["runs"], { skewMs: SKEW_MS }).finish();
  assert.equal(laptop.code, 0, laptop.stderr);
  assert.doesNotMatch(laptop.stderr, /owner process died|failed/, laptop.stderr);
  assert.equal((await store.getRun(first))?.status, "running");
  await cluster.releaseAndCheckOnce(first);
  behind.kill("SIGTERM");
  assert.equal((await behind.finish()).code, 0);

  // 3. A worker whose clock is 10 minutes ahead, killed with -9 mid-run: its run is failed
  // and retried within a few leases, not 10 minutes. The bound is 120 s: 40 leases, and
  // still far under the skew.
  const ahead = cluster.spawn(["worker", "--no-coordinator"], { skewMs: SKEW_MS });
  await ahead.waitFor(/worker .* started on/);
  const second = await cluster.startHeld();
  ahead.kill("SIGKILL");
  await ahead.finish();
  const killedAt = Date.now();
  const reaped = await untilValue("the killed worker's run to be failed", async () => {
    const run = await store.getRun(second);
    return run?.status === "running" ? undefined : run;
  });
  const reapMs = Date.now() - killedAt;
  assert.equal(reaped?.status, "failed");
  assert.match(reaped?.errorSummary ?? "", /owner process died/);
  assert.ok(reapMs < 120_000, `reaped ${reapMs} ms after the kill (clock ahead by ${SKEW_MS})`);
  const entry = await untilValue("the killed run's entry to finish", async () => {
    const e = await queue.get(second);
    return e?.state === "finished" ? e : undefined;
  });
  assert.match(entry.outcome ?? "", /^failed/);

  // 4. A worker whose clock is stepped back 10 minutes mid-run keeps its run.
  const skewFile = `${cluster.dir}/stepped_clock`;
  await Deno.writeTextFile(skewFile, "0");
  const stepped = cluster.spawn(["worker", "--no-coordinator"], { skewFile });
  await stepped.waitFor(/worker .* started on/);
  const third = await cluster.startHeld();
  await Deno.writeTextFile(skewFile, String(-SKEW_MS));
  assert.equal(await cluster.afterBeats(third), "running", "not failed for a stepped clock");
  await cluster.releaseAndCheckOnce(third);
});
