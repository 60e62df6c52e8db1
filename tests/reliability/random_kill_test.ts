/**
 * `deno task materialize` killed with -9 at seeded random moments (not at
 * named crash points, nor after a chosen progress line): the weather and
 * spatial pipelines on embedded defaults (SQLite run store and ledger, PGlite
 * warehouse, local-folder lake, the sample inputs of SAMPLE_DATA=true), run
 * through the launcher as a user starts them. Each kill takes the launcher
 * and its command together (the whole process group, as a terminal's
 * `kill -9 -PGID` or the OOM killer of a container does) or the launcher
 * alone (its command must notice and stop by itself). The same command is
 * then run again, and after each:
 *
 * - it exits 0, and no process of the killed one is left;
 * - no run is left `running`;
 * - no temporary or partial file is in the lake;
 * - lake and ledger agree (the reconciler finds nothing to repair);
 * - the sample batch is done: outputs published with their ledger documents,
 *   landing files archived (never archived without its outputs);
 * - the published outputs are the same bytes after every recovery (a re-run
 *   converges; STAC items carry times and are left out).
 *
 * How many kills: `RELIABILITY_FUZZ_RUNS` (default 2, also under CI;
 * `RELIABILITY_SOAK=1`: 12), from `RELIABILITY_SEED`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { spawnMain, until } from "../_helpers/main_process.ts";
import { taskCommand } from "../_helpers/deno_tasks.ts";
import { Random, reliabilitySettings, reportCounts } from "../_helpers/reliability.ts";
import {
  alive,
  batchState,
  childrenOf,
  createWorld,
  files,
  lineageProblems,
  quarantineReports,
  reconcileWorld,
  runsLeftRunning,
  tempFiles,
  type World,
} from "./_world.ts";

const settings = reliabilitySettings();
const RUNS = (() => {
  const text = Deno.env.get("RELIABILITY_FUZZ_RUNS")?.trim();
  if (!text) return settings.profile === "soak" ? 12 : 2;
  if (!/^\d+$/.test(text) || Number(text) < 1) {
    throw new RangeError(`RELIABILITY_FUZZ_RUNS must be a whole number >= 1, got '${text}'`);
  }
  return Number(text);
})();

const SELECTION = [
  "raw_weather",
  "bronze_weather",
  "spatial/sample_batch",
  "spatial/vector_geoparquet",
  "spatial/raster_cog",
  "spatial/batch_archive",
].join(",");
const ARGS = ["materialize", "--json", SELECTION];
/** `deno run ... launch.ts`: what `deno task materialize` runs. */
const LAUNCHER = taskCommand("materialize").split(/\s+/).slice(1, -1).map((arg) =>
  arg === "launch.ts" ? fileURLToPath(new URL("../../launch.ts", import.meta.url)) : arg
);
const SAMPLE = { batchId: "montana-sample", manifestKey: "manifests/montana-sample.json" };

/** SHA-256 of every published output of the data lake but the STAC items (they carry times). */
async function outputs(world: World): Promise<Map<string, string>> {
  const root = join(world.dir, "data_lake", world.config.LAKE_BUCKET);
  const out = new Map<string, string>();
  for (const path of (await files(root)).sort()) {
    if (path.startsWith("stac/") || path.startsWith(".")) continue;
    const digest = await crypto.subtle.digest("SHA-256", await Deno.readFile(join(root, path)));
    out.set(
      path,
      Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join(""),
    );
  }
  return out;
}

Deno.test({
  name:
    "random kill -9 of `deno task materialize` (weather + spatial, embedded): the next run completes, converges, and leaves nothing stuck or half-written",
  // The world's processes are ours; the sanitizers would see their pipes.
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const rng = new Random(settings.seed);
    await using world = await createWorld({
      name: "random_kill",
      env: { SAMPLE_DATA: "true", WEATHER_START_DATE: "2026-11-01" },
    });
    const problems: string[] = [];
    const phases: string[] = [];
    let expected: Map<string, string> | undefined;
    // The first kill falls anywhere in a cold start; later ones within the last normal run.
    let spanMs = 8_000;
    for (let round = 1; round <= RUNS; round++) {
      await world.release();
      const atMs = rng.int(150, Math.max(300, Math.round(spanMs * 0.9)));
      const whole = rng.chance(0.5);
      const killed = spawnMain(ARGS, {
        cwd: world.dir,
        env: world.env,
        denoArgs: LAUNCHER,
        killAfterMs: 300_000,
      });
      await new Promise((resolve) => setTimeout(resolve, atMs));
      const command = childrenOf(killed.pid);
      if (whole) { for (const pid of command) Deno.kill(pid, "SIGKILL"); }
      killed.kill("SIGKILL");
      // The command's pipes are ours: finish() waits for it to end (the launcher alone killed,
      // it notices and stops by itself).
      const outcome = await killed.finish();
      await until(
        "the killed command is gone",
        async () => await Promise.resolve(!command.some(alive)),
        {
          timeoutMs: 120_000,
        },
      );
      const last = outcome.stdout.trim().split("\n").at(-1) ?? "";
      phases.push(
        `${atMs}ms ${whole ? "group" : "launcher"}: ${last.slice(0, 160) || "(no output)"}`,
      );

      const startedAt = Date.now();
      await using recovery = spawnMain(ARGS, {
        cwd: world.dir,
        env: world.env,
        denoArgs: LAUNCHER,
        killAfterMs: 300_000,
      });
      const result = await recovery.finish();
      spanMs = Math.max(1_000, Date.now() - startedAt);
      const at = `round ${round} (killed at ${atMs} ms, ${whole ? "group" : "launcher only"})`;
      if (result.code !== 0) {
        problems.push(`${at}: the next run exited ${result.code}: ${result.stderr.slice(-800)}`);
        continue;
      }
      const store = await world.runStore();
      const running = await runsLeftRunning(store);
      if (running.length > 0) {
        problems.push(`${at}: runs left running: ${running.map((r) => r.runId).join(", ")}`);
      }
      const temps = await tempFiles(world);
      if (temps.length > 0) {
        problems.push(`${at}: temporary files in the lake: ${temps.join(", ")}`);
      }
      for (const problem of lineageProblems(await reconcileWorld(world))) {
        problems.push(`${at}: ${problem}`);
      }
      const state = await batchState(world, await quarantineReports(world), {
        ...SAMPLE,
        project: "montana",
      });
      if (state.state !== "done") {
        problems.push(`${at}: the sample batch is ${state.state}: ${JSON.stringify(state)}`);
      }
      const published = await outputs(world);
      if (published.size === 0) problems.push(`${at}: nothing published`);
      if (expected === undefined) expected = published;
      else {
        assert.deepEqual(
          [...published],
          [...expected],
          `${at}: the outputs differ from the first recovery's`,
        );
      }
    }
    await reportCounts("random_kill", {
      tried: RUNS,
      handled: RUNS - new Set(problems.map((p) => p.split(":")[0])).size,
      lost: problems.length,
      leaked: 0,
    }, { seed: settings.seed, detail: phases.join(" | ") });
    assert.deepEqual(problems, [], phases.join("\n"));
  },
});
