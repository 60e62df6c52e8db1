/**
 * The kill -9 sweep (issue 15, "Proof"): real `main.ts materialize` and
 * `main.ts sensor` processes over activity drops, spatial batches and the dbt
 * marts are killed with SIGKILL at seeded random points, each followed by the
 * normal run a user would start next (the same `materialize`, or
 * `sensor --once`). After each: no run left `running`, the killed run failed
 * (or had ended), no duplicate rows, every drop loaded exactly once, every
 * batch done or quarantined (never pending or half-ingested), lake ⇔ ledger
 * after the reconciler, no process of the killed one still alive.
 *
 * Kill points: a `materialize` is killed after its N-th progress line (N
 * drawn from the lines a normal run of it printed) plus 0-250 ms, so the
 * points spread over the run's phases whatever the machine's speed; a sensor
 * daemon after it launched its runs plus a random part of the time a normal
 * batch took. The phase each kill hit (the last line seen) is printed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type MainProcess, spawnMain } from "../_helpers/main_process.ts";
import { ensurePostgis, startPostgres, type ThrowawayPostgres } from "../_helpers/postgres.ts";
import { needs } from "../_helpers/tools.ts";
import { Random, reliabilitySettings, reportCounts } from "../_helpers/reliability.ts";
import { activityDrop, readSampleFiles, type SampleFiles, validGeojson } from "./_corpus.ts";
import {
  batchState,
  createWorld,
  dropState,
  lineageProblems,
  quarantineReports,
  reconcileWorld,
  runsLeftRunning,
  warehouseView,
  type World,
} from "./_world.ts";

const settings = reliabilitySettings();
// The server profile (PostgreSQL warehouse and run store, PostGIS workspaces) needs both;
// under CI=true their absence fails the run (tests/_helpers/tools.ts).
const serverMissing = await needs("postgres", "postgis");

/** Where the platform keeps its state in a world: the profiles users run. */
type Profile = "embedded" | "duckdb" | "server";

/** The dbt marts over activity (the weather marts need the network or sample weather). */
const DBT_SELECTION = "stg_daily_activity,stg_sleep,int_user_days,user_baselines,user_deviations";

/** What one kind of run does, and how a user runs it again. */
interface Scenario {
  readonly name: "activity" | "spatial" | "dbt" | "activity+dbt";
  /** The command killed. */
  readonly args: readonly string[];
  /** The normal run after the kill. */
  readonly recovery: readonly string[];
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: "activity",
    args: ["materialize", "--json", "bronze_activity"],
    recovery: ["materialize", "--json", "bronze_activity"],
  },
  {
    name: "spatial",
    args: ["sensor", "--json", "--interval", "100"],
    recovery: ["sensor", "--once", "--json"],
  },
  {
    name: "dbt",
    args: ["materialize", "--json", DBT_SELECTION],
    recovery: ["materialize", "--json", DBT_SELECTION],
  },
  {
    name: "activity+dbt",
    args: ["materialize", "--json", `bronze_activity,${DBT_SELECTION}`],
    recovery: ["materialize", "--json", `bronze_activity,${DBT_SELECTION}`],
  },
];

/** Inputs the sweep dropped, with what must become of them. */
interface Inputs {
  readonly drops: { name: string; bytes: Uint8Array; rows: number }[];
  readonly batches: { id: string; valid: boolean }[];
}

/** Drops new inputs for `scenario` (activity files, spatial batches) into the landing zone. */
async function dropInputs(
  world: World,
  rng: Random,
  samples: SampleFiles,
  scenario: Scenario,
  seq: number,
  inputs: Inputs,
): Promise<void> {
  const lake = await world.lake();
  const landing = world.config.LANDING_BUCKET;
  await lake.ensureBucket(landing);
  if (scenario.name.startsWith("activity")) {
    for (const kind of rng.shuffle(["daily_activity", "sleep"] as const).slice(0, rng.int(1, 2))) {
      const rows = rng.int(300, 6_000);
      const name = `${kind}_kill${String(seq).padStart(3, "0")}.csv`;
      const bytes = activityDrop(rng, kind, rows);
      await lake.put(landing, `activity/${name}`, bytes);
      inputs.drops.push({ name, bytes, rows });
    }
  }
  if (scenario.name === "spatial") {
    for (let b = rng.int(1, 3); b > 0; b--) {
      const id = `kill${String(seq).padStart(3, "0")}-${b}`;
      // One batch in five carries a truncated raster: it must end quarantined, nothing published.
      const valid = !rng.chance(0.2);
      const files: Record<string, unknown>[] = [];
      const put = async (name: string, bytes: Uint8Array) =>
        await lake.put(landing, `${id}/${name}`, bytes);
      await put("points.geojson", validGeojson(rng, rng.int(50, 3000), "points"));
      files.push({
        path: `${id}/points.geojson`,
        type: "vector",
        format: "geojson",
        crs: "EPSG:4326",
      });
      if (rng.chance(0.5)) {
        await put("parcels.geojson", validGeojson(rng, rng.int(20, 800), "polygons"));
        files.push({
          path: `${id}/parcels.geojson`,
          type: "vector",
          format: "geojson",
          crs: "EPSG:4326",
        });
      }
      if (!valid || rng.chance(0.5)) {
        await put(
          "dem.tif",
          valid ? samples.tif : samples.tif.slice(0, rng.int(8, samples.tif.length - 64)),
        );
        files.push({ path: `${id}/dem.tif`, type: "raster", format: "geotiff", crs: "EPSG:32612" });
      }
      if (rng.chance(0.3)) {
        for (const ext of ["shp", "shx", "dbf", "prj"] as const) {
          await put(`counties.${ext}`, samples[ext]);
        }
        files.push({
          path: `${id}/counties.shp`,
          type: "vector",
          format: "shapefile",
          crs: "EPSG:32100",
        });
      }
      const manifest = {
        batch_id: id,
        uploader: "kill-sweep@example.org",
        intent: rng.pick(["publish", "measure"]),
        files,
        metadata: { project: "sweep", description: "kill sweep batch" },
      };
      await lake.put(
        landing,
        `manifests/${id}.json`,
        new TextEncoder().encode(JSON.stringify(manifest)),
      );
      inputs.batches.push({ id, valid });
    }
  }
}

/** Runs `args` to the end (the normal run); returns its exit code and output. */
async function runToEnd(world: World, args: readonly string[]) {
  await world.release();
  await using child = spawnMain(args, { cwd: world.dir, env: world.env, killAfterMs: 300_000 });
  return await child.finish();
}

/**
 * Which phase a kill hit, read from the run store before anything reaps it:
 * the steps the killed runs had running, else the last line it printed.
 */
async function phaseOf(
  world: World,
  text: string,
): Promise<{ phase: string; running: string[] }> {
  const store = await world.runStore();
  const running = await runsLeftRunning(store);
  const ids = running.map((r) => r.runId);
  const steps: string[] = [];
  for (const run of running) {
    for (const step of await store.listSteps(run.runId)) {
      if (step.status === "running") {
        steps.push(`${step.assetKey}${step.partition ? `[${step.partition}]` : ""}`);
      }
    }
  }
  if (steps.length > 0) return { phase: `in ${steps.join(", ")}`, running: ids };
  if (running.length > 0) return { phase: "in a run between steps", running: ids };
  return { phase: `outside a run, after: ${lastLine(text)}`, running: ids };
}

/** The last progress line of `text`, shortened. */
function lastLine(text: string): string {
  const lines = text.trim().split("\n").filter(Boolean);
  const last = lines.at(-1);
  if (!last) return "start-up (no output yet)";
  try {
    const line = JSON.parse(last) as Record<string, unknown>;
    if (line.step === "run") return `run ${line.status}`;
    if (line.asset) return `${line.asset} ${line.step === "log" ? "log" : line.status}`;
    return String(line.message ?? last).slice(0, 60);
  } catch {
    return last.slice(0, 60);
  }
}

/**
 * Everything that is not as the design promises, after a recovery. The
 * warehouse (opened in this process: seconds for PGlite) is read when the
 * scenario wrote to it; a spatial run never does, and the drops it would
 * check were checked after the run that loaded them.
 */
async function check(
  world: World,
  inputs: Inputs,
  killedRuns: readonly string[],
  warehouse = true,
): Promise<{
  lost: string[];
  leaked: string[];
}> {
  const lost: string[] = [];
  const leaked: string[] = [];
  const store = await world.runStore();
  for (const run of await runsLeftRunning(store)) lost.push(`run ${run.runId} left running`);
  for (const runId of killedRuns) {
    const run = await store.getRun(runId);
    if (run && run.status !== "running" && run.status !== "success" && run.status !== "failed") {
      lost.push(`killed run ${runId} ended ${run.status}`);
    } else if (run?.status === "failed" && !/owner process died/.test(run.errorSummary ?? "")) {
      lost.push(`killed run ${runId} failed without saying its process died: ${run.errorSummary}`);
    }
  }
  if (world.config.SPATIAL_URL.startsWith("postgres")) {
    const [left] = await world.withWarehouse((wh) =>
      wh.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_namespace WHERE nspname LIKE 'proc\\_%'",
      )
    );
    if (left && left.n > 0) leaked.push(`${left.n} PostGIS scratch schema(s) left (proc_*)`);
  }
  const view = warehouse ? await warehouseView(world) : undefined;
  leaked.push(...(view?.duplicates ?? []).map((d) => `duplicate rows: ${d}`));
  for (const drop of view ? inputs.drops : []) {
    const state = await dropState(world, view!, drop.name, drop.bytes);
    if (state.state !== "loaded") {
      lost.push(`${drop.name}: ${state.state}${"why" in state ? ` (${state.why})` : ""}`);
    } else if (state.rows !== drop.rows) {
      (state.rows > drop.rows ? leaked : lost).push(
        `${drop.name}: ${state.rows} row(s) loaded of ${drop.rows}`,
      );
    }
  }
  const reports = await quarantineReports(world);
  for (const batch of inputs.batches) {
    const state = await batchState(world, reports, {
      batchId: batch.id,
      manifestKey: `manifests/${batch.id}.json`,
      project: "sweep",
    });
    const want = batch.valid ? "done" : "quarantined";
    if (state.state !== want) {
      const why = state.state === "half"
        ? state.why
        : state.state === "quarantined"
        ? state.report.problems.map((p) => p.message).join(" | ").slice(0, 300)
        : "";
      (state.state === "done" || state.state === "half" ? leaked : lost).push(
        `batch ${batch.id}: ${state.state}, expected ${want}${why ? ` (${why})` : ""}`,
      );
    }
  }
  leaked.push(...lineageProblems(await reconcileWorld(world)));
  return { lost, leaked };
}

/** Processes whose working folder is the world's: what a killed process may leave running. */
async function processesOf(world: World): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const cwd = await Deno.readLink(`/proc/${entry.name}/cwd`);
      if (cwd !== world.dir) continue;
      const cmd = (await Deno.readTextFile(`/proc/${entry.name}/cmdline`)).replaceAll("\0", " ");
      found.push(`${entry.name}: ${cmd.slice(0, 120)}`);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}

/** A world of one profile, with what the sweep learnt from its calibration runs. */
interface Sweep {
  readonly profile: Profile;
  readonly world: World;
  readonly inputs: Inputs;
  /** Progress lines a normal run of each scenario printed. */
  readonly lines: Map<string, number>;
  /** How long a normal run of each scenario took (ms). */
  readonly durations: Map<string, number>;
}

/** Opens the world of `profile` and runs each scenario once normally (calibration). */
async function openSweep(
  profile: Profile,
  rng: Random,
  samples: SampleFiles,
  pg: ThrowawayPostgres | undefined,
): Promise<Sweep> {
  const world = await createWorld({
    name: `kill_${profile}`,
    urls: (dir) =>
      profile === "server"
        ? { WAREHOUSE_URL: pg!.url, RUNS_URL: pg!.url, SPATIAL_URL: pg!.url }
        : profile === "duckdb"
        ? { WAREHOUSE_URL: `duckdb:${dir}/state/warehouse.duckdb` }
        : {},
  });
  const sweep: Sweep = {
    profile,
    world,
    inputs: { drops: [], batches: [] },
    lines: new Map(),
    durations: new Map(),
  };
  for (const [i, scenario] of SCENARIOS.entries()) {
    const known = sweep.inputs.batches.length;
    await dropInputs(world, rng, samples, scenario, i, sweep.inputs);
    const t0 = performance.now();
    const out = await runToEnd(world, scenario.recovery);
    // `sensor --once` exits 1 when the run of a batch that must be quarantined failed.
    const invalid = sweep.inputs.batches.slice(known).some((batch) => !batch.valid);
    assert.equal(
      out.code,
      scenario.name === "spatial" && invalid && out.code === 1 ? 1 : 0,
      `calibration run of ${scenario.name} (${profile}):\n${out.stderr.slice(-3000)}`,
    );
    sweep.durations.set(scenario.name, performance.now() - t0);
    sweep.lines.set(scenario.name, out.stdout.split("\n").filter(Boolean).length);
  }
  return sweep;
}

Deno.test({
  name: "kill -9 sweep: a run killed at any point leaves nothing running, lost, duplicated " +
    "or unlineaged once the next normal run is done",
  async fn() {
    const rng = new Random(settings.seed).fork("kill-sweep");
    const samples = await readSampleFiles();
    const started = performance.now();
    // The bounded sample (default, CI) sweeps one profile, drawn from the seed, so that it
    // calibrates one world; the soak sweeps all three.
    const all: Profile[] = ["embedded", "duckdb", ...(serverMissing ? [] : ["server" as const])];
    const profiles: Profile[] = settings.profile === "soak"
      ? all
      : [all[settings.seed % all.length]!];
    await using pg = profiles.includes("server") ? await startPostgres() : undefined;
    if (pg) await ensurePostgis(pg.url);
    const sweeps = new Map<Profile, Sweep>();
    try {
      const outcomes: {
        profile: Profile;
        scenario: string;
        phase: string;
        ok: boolean;
        problems: string[];
      }[] = [];
      const lost: string[] = [];
      const leaked: string[] = [];
      let attempts = 0;
      // Every (profile, scenario) pair in turn, in a seeded order.
      const order = rng.shuffle(profiles.flatMap((p) => SCENARIOS.map((s) => [p, s] as const)));
      while (outcomes.length < settings.killPoints && attempts < settings.killPoints * 3) {
        const [profile, scenario] = order[attempts % order.length]!;
        attempts++;
        let sweep = sweeps.get(profile);
        if (!sweep) {
          sweep = await openSweep(profile, rng.fork(profile), samples, pg);
          sweeps.set(profile, sweep);
        }
        const { world, inputs } = sweep;
        const known = inputs.batches.length;
        await dropInputs(world, rng, samples, scenario, 100 + attempts, inputs);
        // `sensor --once` exits 1 when a run it launched failed, as the run of a batch that must
        // be quarantined does (the checks below still judge every batch).
        const failingRunOk = scenario.name === "spatial" &&
          inputs.batches.slice(known).some((batch) => !batch.valid);
        await world.release();
        let phase: { phase: string; running: string[] };
        {
          await using child: MainProcess = spawnMain(scenario.args, {
            cwd: world.dir,
            env: world.env,
            killAfterMs: 300_000,
          });
          if (scenario.name === "spatial") {
            await child.waitFor(/launched [1-9]/); // spawnMain's WAIT_MS: a loaded machine's cold start
            await delay(rng.float(0, 0.8) * sweep.durations.get("spatial")!);
          } else {
            const n = rng.int(1, Math.max(1, sweep.lines.get(scenario.name)! - 1));
            await child.waitFor(new RegExp(`(?:.*\\n){${n}}`), { timeoutMs: 120_000 })
              .catch(() => {});
            await delay(rng.float(0, 250));
          }
          child.kill("SIGKILL");
          const out = await child.finish();
          // It had ended on its own: not a kill point; the next attempt draws another.
          if (out.signal !== "SIGKILL") continue;
          phase = await phaseOf(world, out.stdout);
        }
        await world.release();
        const t1 = performance.now();
        const recovery = await runToEnd(world, scenario.recovery);
        const t2 = performance.now();
        const problems: string[] = [];
        const recovered = recovery.code === 0 || (recovery.code === 1 && failingRunOk);
        if (!recovered) {
          problems.push(
            `the normal run after the kill exited ${recovery.code}: ${
              recovery.stderr.slice(-1500)
            }`,
          );
        }
        const found = await check(world, inputs, phase.running, scenario.name !== "spatial");
        const alive = await processesOf(world);
        problems.push(...found.lost, ...found.leaked, ...alive.map((p) => `process left: ${p}`));
        const n = outcomes.length + 1;
        lost.push(...found.lost.map((p) => `#${n}: ${p}`));
        leaked.push(...[...found.leaked, ...alive].map((p) => `#${n}: ${p}`));
        if (!recovered) lost.push(`#${n}: recovery exited ${recovery.code}`);
        outcomes.push({
          profile,
          scenario: scenario.name,
          phase: phase.phase,
          ok: problems.length === 0,
          problems,
        });
        console.log(
          `  kill #${n} ${profile}/${scenario.name} ${phase.phase}: ` +
            `${problems.length === 0 ? "ok" : problems.join("; ")} ` +
            `(recovery ${Math.round(t2 - t1)} ms, checks ${Math.round(performance.now() - t2)} ms)`,
        );
        // What is lost stays lost: the next kill of this world starts from new inputs only.
        if (problems.length > 0) inputs.drops.length = inputs.batches.length = 0;
      }

      const tally = (key: (o: (typeof outcomes)[number]) => string) => {
        const counts = new Map<string, number>();
        for (const o of outcomes) counts.set(key(o), (counts.get(key(o)) ?? 0) + 1);
        return [...counts].map(([k, n]) => `${k} ${n}`).join(", ");
      };
      await reportCounts("kill_sweep", {
        tried: outcomes.length,
        handled: outcomes.filter((o) => o.ok).length,
        lost: lost.length,
        leaked: leaked.length,
      }, {
        seed: settings.seed,
        detail: `kills by scenario: ${
          tally((o) => o.scenario)
        }; by profile: ${tally((o) => o.profile)}; ` +
          `${Math.round((performance.now() - started) / 1000)} s`,
      });
      assert.ok(
        outcomes.length >= settings.killPoints,
        `only ${outcomes.length} of ${settings.killPoints} kill points landed in ${attempts} attempts`,
      );
      const failed = outcomes.flatMap((o, i) =>
        o.ok
          ? []
          : [`kill #${i + 1} (${o.profile}/${o.scenario} ${o.phase}): ${o.problems.join("; ")}`]
      );
      assert.deepEqual(
        failed,
        [],
        `replay with RELIABILITY_SEED=${settings.seed}:\n${failed.join("\n")}`,
      );
    } finally {
      for (const sweep of sweeps.values()) await sweep.world[Symbol.asyncDispose]();
    }
  },
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
