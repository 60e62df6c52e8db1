/**
 * kill -9 of `materialize` on the embedded defaults (SQLite run store, local
 * lake, SQLite ledger, PGlite, the sample spatial batch and the dbt marts),
 * at seeded moments chosen from its event stream (`--json`): while a spatial
 * output is published (lake put, then ledger write), while the landing files
 * are archived, while a dbt model builds, at the run's end (the warehouse's
 * close and checkpoint), or at any moment from 50 ms to the length of a
 * normal run. The killed process's children go with it. Then the same
 * `materialize` again, to the end. Afterwards:
 *
 * - the killed run is recorded failed ("owner process died") or ended, none
 *   is left running, and the rerun succeeded, once;
 * - no temporary (half-written) object is visible in the lake;
 * - lake and ledger agree (the reconciler finds nothing to report);
 * - the batch is done: its landing files archived, its outputs published
 *   with their ledger documents (never archived without them);
 * - the warehouse opens, and the final state equals an uninterrupted run's:
 *   the same lake objects with the same SHA-256 (STAC documents without the
 *   times and run ids of the run that wrote them), and the same row count in
 *   every warehouse table.
 *
 * One kill by default (a cold `materialize` takes tens of seconds on a loaded
 * machine); `RELIABILITY_SOAK=1` kills `RELIABILITY_KILL_POINTS` times.
 * Replay a failure with its `RELIABILITY_SEED`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { spawnMain } from "../_helpers/main_process.ts";
import { Random, reliabilitySettings, reportCounts } from "../_helpers/reliability.ts";
import {
  batchState,
  createWorld,
  lineageProblems,
  quarantineReports,
  reconcileWorld,
  runsLeftRunning,
  type World,
} from "./_world.ts";

const settings = reliabilitySettings();
const KILLS = settings.profile === "soak" ? settings.killPoints : 1;
const BATCH = { batchId: "montana-sample", manifestKey: "manifests/montana-sample.json" };
const ARGS = ["materialize", "--json"] as const;

/** A moment to kill at: after the first stdout line matching `line`, plus a seeded jitter. */
interface Phase {
  readonly name: string;
  readonly line?: RegExp;
  readonly jitterMs: readonly [number, number];
}

// Weighted to the write and publish phases: each appears as often as it is listed.
const PHASES: readonly Phase[] = [
  {
    name: "spatial publish (lake put, ledger write)",
    line: /"asset":"spatial\/(?:vector_geoparquet|raster_cog)".*"status":"running"/,
    jitterMs: [0, 1_500],
  },
  {
    name: "spatial publish (lake put, ledger write)",
    line: /"asset":"spatial\/(?:vector_geoparquet|raster_cog)".*"status":"success"/,
    jitterMs: [0, 50],
  },
  {
    name: "archive of the landing files",
    line: /"asset":"spatial\/batch_archive".*"status":"running"/,
    jitterMs: [0, 300],
  },
  {
    name: "dbt model build",
    line: /"asset":"stg_[a-z_]+".*"status":"running"/,
    jitterMs: [0, 400],
  },
  {
    name: "dbt model build",
    line: /"asset":"(?:int|fct|dim|user)_[a-z_]+".*"status":"running"/,
    jitterMs: [0, 400],
  },
  {
    name: "run end (warehouse close, PGlite checkpoint)",
    line: /"step":"run","status":"(?:success|failed)"/,
    jitterMs: [0, 400],
  },
  { name: "any moment", jitterMs: [50, 0] },
];

/** The state a run leaves that must not depend on being killed: objects and table sizes. */
interface Fingerprint {
  /** `bucket/key` -> SHA-256 of every lake object but the landing zone's working files. */
  readonly objects: Map<string, string>;
  /** `schema.table` -> rows, every warehouse table. */
  readonly rows: Map<string, number>;
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(hash)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

async function fingerprint(world: World): Promise<Fingerprint> {
  const lake = await world.lake();
  const objects = new Map<string, string>();
  for (const bucket of [world.config.LAKE_BUCKET, world.config.LANDING_BUCKET]) {
    for await (const object of lake.listAll(bucket, {})) {
      const bytes = await lake.getBytes(bucket, object.key);
      objects.set(
        `${bucket}/${object.key}`,
        await sha256(object.key.startsWith("stac/") ? withoutRunFields(bytes) : bytes),
      );
    }
  }
  await world.release();
  const rows = await world.withWarehouse(async (wh) => {
    const out = new Map<string, number>();
    const tables = await wh.query<{ s: string; t: string }>(
      `SELECT table_schema AS s, table_name AS t FROM information_schema.tables
       WHERE table_type = 'BASE TABLE'
         AND table_schema NOT IN ('pg_catalog', 'information_schema')
       ORDER BY 1, 2`,
    );
    for (const { s, t } of tables) {
      const [row] = await wh.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${s}"."${t}"`);
      out.set(`${s}.${t}`, row?.n ?? -1);
    }
    return out;
  });
  return { objects, rows };
}

/**
 * A STAC document without what names the run that wrote it (its times, run
 * id): two uninterrupted runs differ there too.
 */
function withoutRunFields(bytes: Uint8Array): Uint8Array {
  const strip = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(strip);
    if (typeof value !== "object" || value === null) return value;
    return Object.fromEntries(
      Object.entries(value).filter(([key]) => !RUN_FIELDS.test(key)).map(([k, v]) => [k, strip(v)]),
    );
  };
  return new TextEncoder().encode(
    JSON.stringify(strip(JSON.parse(new TextDecoder().decode(bytes)))),
  );
}

const RUN_FIELDS = /datetime|^created$|^updated$|run_id|^interval$/;

/** How `after` differs from `before`, one line each. */
function differences(before: Fingerprint, after: Fingerprint): string[] {
  const out: string[] = [];
  const compare = <V>(what: string, a: Map<string, V>, b: Map<string, V>) => {
    for (const [key, value] of a) {
      if (!b.has(key)) out.push(`${what} ${key} missing`);
      else if (b.get(key) !== value) out.push(`${what} ${key}: ${b.get(key)} instead of ${value}`);
    }
    for (const key of b.keys()) if (!a.has(key)) out.push(`${what} ${key} not in a normal run`);
  };
  compare("object", before.objects, after.objects);
  compare("table", before.rows, after.rows);
  return out;
}

/** Processes whose working folder is the world's (a killed run's children). */
async function processesOf(world: World): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      if (await Deno.readLink(`/proc/${entry.name}/cwd`) === world.dir) {
        found.push(Number(entry.name));
      }
    } catch {
      // Gone meanwhile.
    }
  }
  return found;
}

async function runToEnd(world: World) {
  await world.release();
  await using child = spawnMain(ARGS, { cwd: world.dir, env: world.env, killAfterMs: 600_000 });
  return await child.finish();
}

function newWorld(name: string): Promise<World> {
  return createWorld({ name, env: { SAMPLE_DATA: "true" } });
}

Deno.test({
  name: "kill -9 of materialize on the embedded defaults: the rerun completes once and " +
    "leaves what an uninterrupted run leaves",
  async fn() {
    const rng = new Random(settings.seed).fork("materialize-kill");
    const started = performance.now();
    // The uninterrupted run: what every killed-then-rerun world must end equal to.
    let baseline: Fingerprint;
    let normalMs: number;
    {
      await using world = await newWorld("mkill_base");
      const t0 = performance.now();
      const out = await runToEnd(world);
      normalMs = performance.now() - t0;
      assert.equal(out.code, 0, `the uninterrupted run failed:\n${out.stderr.slice(-3000)}`);
      baseline = await fingerprint(world);
    }
    const outcomes: { phase: string; problems: string[] }[] = [];
    for (let k = 0; k < KILLS; k++) {
      const phase = rng.pick(PHASES);
      await using world = await newWorld("mkill");
      let killedRun: string | undefined;
      let hit = phase.name;
      {
        await using child = spawnMain(ARGS, {
          cwd: world.dir,
          env: world.env,
          killAfterMs: 600_000,
        });
        if (phase.line) {
          const seen = await child.waitFor(phase.line, { timeoutMs: 300_000 }).catch(() => "");
          if (seen === "") hit = `${phase.name}: not reached, killed at the end`;
          await delay(rng.float(phase.jitterMs[0], phase.jitterMs[1]));
        } else {
          await delay(rng.float(phase.jitterMs[0], normalMs));
        }
        child.kill("SIGKILL");
        for (const pid of await processesOf(world)) Deno.kill(pid, "SIGKILL");
        const out = await child.finish();
        killedRun = /"run_id":"([^"]+)"/.exec(out.stdout)?.[1];
        if (out.signal !== "SIGKILL") hit = `${hit} (it had ended on its own)`;
      }
      const problems: string[] = [];
      const rerun = await runToEnd(world);
      if (rerun.code !== 0) {
        problems.push(`rerun exited ${rerun.code}: ${rerun.stderr.slice(-800)}`);
      }
      const rerunId = /"run_id":"([^"]+)"/.exec(rerun.stdout)?.[1];
      const store = await world.runStore();
      for (const run of await runsLeftRunning(store)) problems.push(`run ${run.runId} running`);
      const killed = killedRun === undefined ? undefined : await store.getRun(killedRun);
      if (killed && killed.status !== "success" && killed.status !== "failed") {
        problems.push(`killed run ${killedRun} ${killed.status}`);
      }
      const succeeded = (await store.listRuns({ status: "success", limit: 100 }))
        .filter((run) => run.runId !== killedRun).map((run) => run.runId);
      if (succeeded.length !== 1 || succeeded[0] !== rerunId) {
        problems.push(`runs succeeded besides the killed one: ${succeeded.join(", ") || "none"}`);
      }
      const lake = await world.lake();
      for (const bucket of [world.config.LAKE_BUCKET, world.config.LANDING_BUCKET]) {
        for await (const object of lake.listAll(bucket, {})) {
          if (/\.partial$|(^|\/)\.objstore-/.test(object.key)) {
            problems.push(`half-written object visible: ${bucket}/${object.key}`);
          }
        }
      }
      const state = await batchState(world, await quarantineReports(world), {
        ...BATCH,
        project: "montana",
      });
      if (state.state !== "done") {
        problems.push(`batch ${state.state}${"why" in state ? `: ${state.why}` : ""}`);
      }
      problems.push(...lineageProblems(await reconcileWorld(world)));
      problems.push(...differences(baseline, await fingerprint(world)));
      const left = await processesOf(world);
      if (left.length > 0) problems.push(`processes left: ${left.join(", ")}`);
      outcomes.push({ phase: hit, problems });
      console.log(
        `  kill #${k + 1} (seed ${settings.seed}) ${hit}: ${
          problems.length === 0 ? "ok" : problems.join("; ")
        }`,
      );
    }
    await reportCounts("materialize_kill", {
      tried: outcomes.length,
      handled: outcomes.filter((o) => o.problems.length === 0).length,
      lost: outcomes.filter((o) => o.problems.length > 0).length,
      leaked: 0,
    }, {
      seed: settings.seed,
      detail: `${Math.round((performance.now() - started) / 1000)} s`,
    });
    const failed = outcomes.flatMap((o, i) =>
      o.problems.length === 0 ? [] : [`kill #${i + 1} (${o.phase}): ${o.problems.join("; ")}`]
    );
    assert.deepEqual(failed, [], `replay with RELIABILITY_SEED=${settings.seed}`);
  },
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
