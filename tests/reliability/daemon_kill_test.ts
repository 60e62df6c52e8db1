/**
 * `deno task sensor` (the daemon) killed with -9 at seeded random moments
 * while its sensors fire and its runs execute, on embedded defaults (local
 * lake folders, SQLite run store and ledger, PGlite warehouse), then started
 * again as a daemon: what a container restarted by its orchestrator does.
 * Before each start, new inputs land: an activity CSV drop and a spatial
 * batch (one batch in five with a truncated raster, to be quarantined). Each
 * kill takes the launcher and its command together (the process group) or the
 * launcher alone (its command must notice and stop by itself).
 *
 * After the last kill, a daemon runs until every input is settled, then is
 * stopped with SIGTERM, and:
 *
 * - no run is left `running`, and none stayed so longer than a bound after
 *   the restart (the killed daemon's runs are failed, "owner process died");
 *   every input settles within 120 s of the restart, or, for a batch whose
 *   runs died with their daemon in two attempts or more in a row (a batch
 *   that kills its daemon must not crash-loop it; a first death is retried
 *   at once, see DESIGN.md "Sensor retries after deaths"), within a minute of
 *   the retry its sensor announced (backoff 30 s doubling per death in a row);
 * - no sensor skipped a landing file: every drop loaded, every batch done
 *   (or quarantined when its raster is truncated);
 * - none processed one twice: each drop's rows once, one ledger document per
 *   published object, one successful run per run key;
 * - no temporary object in the lake, and lake and ledger agree;
 * - the daemon exits 0 on SIGTERM.
 *
 * How many kills: `RELIABILITY_DAEMON_KILLS` (default 2, also under CI;
 * `RELIABILITY_SOAK=1`: 10), from `RELIABILITY_SEED`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type MainProcess, spawnMain, until } from "../_helpers/main_process.ts";
import { taskCommand } from "../_helpers/deno_tasks.ts";
import { Random, reliabilitySettings, reportCounts } from "../_helpers/reliability.ts";
import { activityDrop, readSampleFiles, type SampleFiles, validGeojson } from "./_corpus.ts";
import {
  alive,
  batchState,
  childrenOf,
  createWorld,
  dropState,
  lineageProblems,
  quarantineReports,
  reconcileWorld,
  runsLeftRunning,
  tempFiles,
  warehouseView,
  type World,
} from "./_world.ts";

const settings = reliabilitySettings();
const KILLS = (() => {
  const text = Deno.env.get("RELIABILITY_DAEMON_KILLS")?.trim();
  if (!text) return settings.profile === "soak" ? 10 : 2;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new RangeError(`RELIABILITY_DAEMON_KILLS must be a whole number >= 1, got '${text}'`);
  }
  return Number(text);
})();
/** How long after a restart every run of a killed daemon must have ended (ms). */
const SETTLE_MS = 120_000;

const ARGS = ["sensor", "--json", "--interval", "100"];
/** `deno run ... launch.ts`: what `deno task sensor` runs. */
const LAUNCHER = taskCommand("sensor").split(/\s+/).slice(1, -1).map((arg) =>
  arg === "launch.ts" ? fileURLToPath(new URL("../../launch.ts", import.meta.url)) : arg
);

/** Inputs landed, with what must become of them. */
interface Inputs {
  readonly drops: { name: string; bytes: Uint8Array; rows: number }[];
  readonly batches: { id: string; valid: boolean }[];
}

/** Lands one activity drop and one spatial batch, numbered `seq`. */
async function land(
  world: World,
  rng: Random,
  samples: SampleFiles,
  seq: number,
  inputs: Inputs,
): Promise<void> {
  const lake = await world.lake();
  const landing = world.config.LANDING_BUCKET;
  await lake.ensureBucket(landing);
  const tag = String(seq).padStart(3, "0");
  const kind = rng.pick(["daily_activity", "sleep"] as const);
  const rows = rng.int(200, 3_000);
  const name = `${kind}_daemon${tag}.csv`;
  const bytes = activityDrop(rng, kind, rows);
  await lake.put(landing, `activity/${name}`, bytes);
  inputs.drops.push({ name, bytes, rows });

  const id = `daemon${tag}`;
  const valid = !rng.chance(0.2);
  const files: Record<string, unknown>[] = [];
  await lake.put(landing, `${id}/points.geojson`, validGeojson(rng, rng.int(50, 1500), "points"));
  files.push({ path: `${id}/points.geojson`, type: "vector", format: "geojson", crs: "EPSG:4326" });
  if (!valid || rng.chance(0.4)) {
    await lake.put(
      landing,
      `${id}/dem.tif`,
      valid ? samples.tif : samples.tif.slice(0, rng.int(8, samples.tif.length - 64)),
    );
    files.push({ path: `${id}/dem.tif`, type: "raster", format: "geotiff", crs: "EPSG:32612" });
  }
  const manifest = {
    batch_id: id,
    uploader: "daemon-kill@example.org",
    intent: "publish",
    files,
    metadata: { project: "daemonkill", description: "daemon kill batch" },
  };
  await lake.put(
    landing,
    `manifests/${id}.json`,
    new TextEncoder().encode(JSON.stringify(manifest)),
  );
  inputs.batches.push({ id, valid });
}

/** Whether every input has reached its end state (read while the daemon runs). */
async function spatialSettled(world: World, inputs: Inputs): Promise<boolean> {
  const reports = await quarantineReports(world);
  for (const batch of inputs.batches) {
    const state = await batchState(world, reports, {
      batchId: batch.id,
      manifestKey: `manifests/${batch.id}.json`,
      project: "daemonkill",
    });
    if (state.state !== (batch.valid ? "done" : "quarantined")) return false;
  }
  return true;
}

/** Whether every drop has its ingest manifest row (read without the warehouse: via the runs). */
async function dropsSettled(world: World, inputs: Inputs): Promise<boolean> {
  const store = await world.runStore();
  const runs = await store.listRuns({ limit: 1000 });
  const loaded = new Set<string>();
  for (const run of runs) {
    if (run.status !== "success") continue;
    for (const event of await store.listEvents(run.runId, { types: ["materialization"] })) {
      const text = JSON.stringify(event.data);
      for (const drop of inputs.drops) if (text.includes(drop.name)) loaded.add(drop.name);
    }
  }
  return inputs.drops.every((drop) => loaded.has(drop.name));
}

/** What is not as the design promises, once the last daemon has stopped. */
async function check(world: World, inputs: Inputs): Promise<string[]> {
  const problems: string[] = [];
  const store = await world.runStore();
  for (const run of await runsLeftRunning(store)) problems.push(`run ${run.runId} left running`);
  const byKey = new Map<string, string[]>();
  for (const run of await store.listRuns({ limit: 1000 })) {
    const key = run.tags.run_key;
    if (run.status !== "success" || key === undefined) continue;
    byKey.set(key, [...(byKey.get(key) ?? []), run.runId]);
  }
  for (const [key, ids] of byKey) {
    if (ids.length > 1) problems.push(`run key ${key} succeeded ${ids.length} times: ${ids}`);
  }
  const view = await warehouseView(world);
  problems.push(...view.duplicates.map((d) => `duplicate rows: ${d}`));
  for (const drop of inputs.drops) {
    const state = await dropState(world, view, drop.name, drop.bytes);
    if (state.state !== "loaded") {
      problems.push(`${drop.name}: ${state.state}${"why" in state ? ` (${state.why})` : ""}`);
    } else if (state.rows !== drop.rows) {
      problems.push(`${drop.name}: ${state.rows} row(s) loaded of ${drop.rows}`);
    }
  }
  const reports = await quarantineReports(world);
  const ledger = await world.ledger();
  for (const batch of inputs.batches) {
    const state = await batchState(world, reports, {
      batchId: batch.id,
      manifestKey: `manifests/${batch.id}.json`,
      project: "daemonkill",
    });
    const want = batch.valid ? "done" : "quarantined";
    if (state.state !== want) {
      problems.push(
        `batch ${batch.id}: ${state.state}, expected ${want}` +
          (state.state === "half" ? ` (${state.why})` : ""),
      );
    }
    const docs = new Map<string, number>();
    for (const doc of await ledger.findByBatch(batch.id)) {
      docs.set(`${doc.bucket}/${doc.key}`, (docs.get(`${doc.bucket}/${doc.key}`) ?? 0) + 1);
    }
    for (const [key, n] of docs) {
      if (n > 1) problems.push(`batch ${batch.id}: ${n} ledger documents for ${key}`);
    }
  }
  const temps = await tempFiles(world);
  if (temps.length > 0) problems.push(`temporary files in the lake: ${temps.join(", ")}`);
  problems.push(...lineageProblems(await reconcileWorld(world)));
  return problems;
}

/** Starts the daemon through the launcher, as `deno task sensor` does. */
function startDaemon(world: World): MainProcess {
  return spawnMain(ARGS, {
    cwd: world.dir,
    env: world.env,
    denoArgs: LAUNCHER,
    killAfterMs: 300_000,
  });
}

Deno.test({
  name: "random kill -9 of `deno task sensor` (embedded): the restarted daemon fails the " +
    "killed runs, loads every landing file once, and leaves nothing stuck or half-written",
  // The world's processes are ours; the sanitizers would see their pipes.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rng = new Random(settings.seed).fork("daemon-kill");
    const samples = await readSampleFiles();
    await using world = await createWorld({ name: "daemon_kill" });
    const inputs: Inputs = { drops: [], batches: [] };
    const phases: string[] = [];
    const killedRuns = new Set<string>();
    // A kill falls anywhere from the cold start to the end of the inputs' runs (a daemon on
    // this machine settles a round's inputs in about 4-6 s).
    const spanMs = 7_000;
    for (let round = 1; round <= KILLS; round++) {
      await land(world, rng, samples, round, inputs);
      await world.release();
      const atMs = rng.int(200, spanMs);
      const whole = rng.chance(0.5);
      const daemon = startDaemon(world);
      await new Promise((resolve) => setTimeout(resolve, atMs));
      const command = childrenOf(daemon.pid);
      if (whole) { for (const pid of command) Deno.kill(pid, "SIGKILL"); }
      daemon.kill("SIGKILL");
      const outcome = await daemon.finish();
      await until("the killed daemon is gone", () => Promise.resolve(!command.some(alive)), {
        timeoutMs: 120_000,
      });
      const running = await runsLeftRunning(await world.runStore());
      for (const run of running) killedRuns.add(run.runId);
      const launched = (outcome.stdout.match(/launched [1-9]/g) ?? []).length;
      phases.push(
        `${atMs}ms ${whole ? "group" : "launcher"}: ${launched} launch line(s), ` +
          `${running.length} run(s) running`,
      );
    }

    // The restart: it must settle everything, and fail the killed runs, within SETTLE_MS.
    await world.release();
    const startedAt = Date.now();
    const problems: string[] = [];
    const backoffs: string[] = [];
    const settled = async () =>
      await spatialSettled(world, inputs) && await dropsSettled(world, inputs) &&
      (await runsLeftRunning(await world.runStore())).length === 0;
    {
      const daemon = startDaemon(world);
      try {
        await until("every input is settled and no run is running", settled, {
          timeoutMs: SETTLE_MS,
          pollMs: 250,
        });
      } catch (error) {
        // A batch whose runs died with their daemon again and again waits out the sensor's
        // backoff (from the second attempt in a row that died, 30 s doubling, at most 1 h: a
        // batch that kills its daemon must not crash-loop it), which the daemon announces. It is
        // waited for when due soon.
        const text = await daemon.waitFor(/[\s\S]*/);
        const due = Math.max(
          0,
          ...[...text.matchAll(/attempt \d+ at (\S+Z) \(backoff/g)].map((m) => Date.parse(m[1]!)),
        );
        const waitMs = due - Date.now() + 60_000;
        const why = error instanceof Error ? error.message : String(error);
        if (due > 0 && waitMs > 0 && waitMs < 600_000) {
          backoffs.push(new Date(due).toISOString());
          try {
            await until("every input is settled after the announced backoff", settled, {
              timeoutMs: waitMs,
              pollMs: 500,
            });
          } catch (again) {
            problems.push(
              `not settled a minute after the backoff announced for ${
                new Date(due).toISOString()
              }: ${again instanceof Error ? again.message : String(again)}`,
            );
          }
        } else problems.push(`after the restart, not settled in ${SETTLE_MS} ms: ${why}`);
      }
      daemon.kill("SIGTERM");
      const stopped = await daemon.finish();
      // For a post-mortem with RELIABILITY_KEEP=1.
      await Deno.writeTextFile(join(world.dir, "daemon.log"), stopped.stdout + stopped.stderr);
      if (stopped.code !== 0) {
        problems.push(
          `the daemon exited ${stopped.code} on SIGTERM: ${stopped.stderr.slice(-800)}`,
        );
      }
    }
    const settleMs = Date.now() - startedAt;
    await world.release();
    const store = await world.runStore();
    for (const runId of killedRuns) {
      const run = await store.getRun(runId);
      if (run?.status === "failed" && !/owner process died/.test(run.errorSummary ?? "")) {
        problems.push(
          `killed run ${runId} failed without saying its owner died: ${run.errorSummary}`,
        );
      } else if (run && run.status !== "failed" && run.status !== "success") {
        problems.push(`killed run ${runId} ended ${run.status}`);
      }
    }
    problems.push(...await check(world, inputs));
    await world.release();
    await reportCounts("daemon_kill", {
      tried: KILLS,
      handled: problems.length === 0 ? KILLS : 0,
      lost: problems.length,
      leaked: 0,
    }, {
      seed: settings.seed,
      detail: `${phases.join(" | ")}; ${killedRuns.size} killed run(s); settled in ${settleMs} ms` +
        (backoffs.length > 0 ? ` (waited out a sensor backoff due ${backoffs.join(", ")})` : ""),
    });
    assert.deepEqual(
      problems,
      [],
      `replay with RELIABILITY_SEED=${settings.seed}\n${phases.join("\n")}`,
    );
  },
});
