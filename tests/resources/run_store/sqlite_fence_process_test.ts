/**
 * The fence of a reaped run in the embedded (SQLite) run store, with two
 * real processes: a `materialize` paused with SIGSTOP in the middle of a step
 * (a laptop's lid closed, a VM frozen, a process stopped by a debugger) past
 * its heartbeat lease, a second `materialize` that takes its run for dead
 * (fails it at start) and runs the asset again, then the first one resumed.
 * It resumes inside its step, which ends before its next heartbeat can tell
 * it that its run was taken over: what it records then (step success,
 * materialization, run end) must be dropped, so the asset's latest
 * materialization stays the second run's, and the failed run keeps the end
 * the reaper gave it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { SqliteRunStore } from "../../../resources/run_store/sqlite.ts";
import { sandbox, spawnMain, until } from "../../_helpers/main_process.ts";

/** Heartbeat of the runs; the lease is 4 of them. */
const HEARTBEAT_MS = 200;

// The first execution waits, without yielding to the event loop (so that, resumed, it ends its
// step before any timer runs), until the test lets it go; later executions do not wait.
const GRAPH = `
const dir = Deno.env.get("PROBE_DIR") ?? "";
const exists = (path: string) => { try { Deno.statSync(path); return true; } catch { return false; } };
const nap = new Int32Array(new SharedArrayBuffer(4));
export const graph = defineGraph({ assets: [
  defineAsset({ key: "slow", materialize: (ctx) => {
    const first = !exists(dir + "/started");
    Deno.writeTextFileSync(dir + (first ? "/started" : "/again"), ctx.runId);
    while (first && !exists(dir + "/go")) Atomics.wait(nap, 0, 0, 20);
    return Promise.resolve({ first });
  }}),
  defineAsset({ key: "after", deps: ["slow"], materialize: () => Promise.resolve({}) }),
]});
`;

Deno.test({
  name: "SQLite run store: a run taken over while its process was stopped (SIGSTOP past its " +
    "lease) keeps the reaper's end, and what its resumed process records is dropped",
  // The children's pipes are ours; the sanitizers would see them.
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  await using box = await sandbox();
  const probe = `${box.dir}/probe`;
  await Deno.mkdir(probe);
  const env = {
    ...box.env,
    PROBE_DIR: probe,
    PLATFORM_ALLOW_ENV: "PROBE_DIR",
    PLATFORM_GRAPH: await box.graph("fence_graph", GRAPH),
    RUN_HEARTBEAT_INTERVAL_MS: String(HEARTBEAT_MS),
  };
  await using stale = spawnMain(["materialize", "--json", "slow+"], { cwd: box.dir, env });
  await until("the first run is inside its step", async () => {
    try {
      await Deno.stat(`${probe}/started`);
      return true;
    } catch {
      return false;
    }
  }, { timeoutMs: 120_000 });
  const staleRun = (await Deno.readTextFile(`${probe}/started`)).trim();
  stale.kill("SIGSTOP");
  try {
    // Past its lease (4 heartbeats), the next start takes it for dead and runs the asset again.
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_MS * 4 + 400));
    await using next = spawnMain(["materialize", "--json", "slow+"], { cwd: box.dir, env });
    const second = await next.finish();
    assert.equal(second.code, 0, second.stderr);
    await Deno.writeTextFile(`${probe}/go`, "");
  } finally {
    stale.kill("SIGCONT");
  }
  const resumed = await stale.finish();
  const takenOver = (await Deno.readTextFile(`${probe}/again`)).trim();
  assert.notEqual(takenOver, staleRun);

  await using store = SqliteRunStore.open(box.runsDb);
  const failed = await store.getRun(staleRun);
  assert.equal(failed?.status, "failed", `resumed process said: ${resumed.stderr.slice(-600)}`);
  assert.match(failed?.errorSummary ?? "", /owner process died/);
  assert.equal((await store.lastMaterialization("slow", null))?.runId, takenOver);
  assert.equal((await store.lastMaterialization("after", null))?.runId, takenOver);
  const events = await store.listEvents(staleRun);
  assert.deepEqual(events.filter((e) => e.type === "materialization"), []);
  assert.deepEqual(
    events.filter((e) => e.type === "run_finished").map((e) => e.data.status),
    ["failed"],
    "one end, the reaper's",
  );
  const step = (await store.listSteps(staleRun)).find((s) => s.assetKey === "slow");
  assert.notEqual(step?.status, "success", JSON.stringify(step));
});
