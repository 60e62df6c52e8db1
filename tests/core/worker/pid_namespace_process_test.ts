/**
 * Workers in containers that share a host name but not a pid namespace
 * (`network_mode: host`, a fixed `hostname:` in compose, pods with
 * `hostNetwork`), all on one PostgreSQL queue and run store: a process whose
 * pid does not exist in this namespace is not dead, it lives in another one.
 * Real processes; "another container" is `unshare --pid` (same host name,
 * own pids, so the worker there is pid 1 with its own /proc).
 *
 * @module
 */

import assert from "node:assert/strict";
import { needs } from "../../_helpers/tools.ts";
import { heldCluster } from "./_held_cluster.ts";

const OWN_PID_NAMESPACE = ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"];

/** Whether this machine lets a test start a process in its own pid namespace (root). */
async function pidNamespaces(): Promise<boolean> {
  try {
    const out = await new Deno.Command(OWN_PID_NAMESPACE[0] as string, {
      args: [...OWN_PID_NAMESPACE.slice(1), "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    if (out.success) return true;
  } catch {
    // No unshare program.
  }
  console.log("SKIP pid_namespace_process_test: needs `unshare --pid` (util-linux, as root)");
  return false;
}

Deno.test({
  name: "pid namespaces: a worker in another container with the same host name is not " +
    "taken for dead, by a worker, a coordinator or a command started there",
  ignore: (await needs("postgres")) || !(await pidNamespaces()),
}, async () => {
  await using cluster = await heldCluster();
  const daemon = cluster.spawn(["sensor"]);
  await daemon.waitFor(/holding the daemon lock/);
  const here = cluster.spawn(["worker", "--no-coordinator"]);
  await here.waitFor(/worker .* started on/);
  const runId = await cluster.startHeld();

  // A worker in another container: it reaps at start, and its coordinator leads once the
  // daemon is gone; a command started there reaps at start too.
  const there = cluster.spawn(["worker"], { wrapper: OWN_PID_NAMESPACE });
  await there.waitFor(/worker .* started on/);
  const command = await cluster.spawn(["runs"], { wrapper: OWN_PID_NAMESPACE }).finish();
  assert.equal(command.code, 0, command.stderr);
  daemon.kill("SIGKILL");
  await daemon.finish();
  await there.waitFor(/coordinator: leading/);
  assert.equal(await cluster.afterBeats(runId), "running", "kept by its live worker");
  await cluster.releaseAndCheckOnce(runId);
});
