/**
 * kill -9 of `materialize` on the embedded defaults (SQLite run store, local
 * lake, SQLite ledger, PGlite, the sample spatial batch and the dbt marts),
 * at named crash points (`core/crash_point.ts`, `PLATFORM_CRASH_AT`) in every
 * phase where a kill may leave a half state: a PGlite statement, the ledger
 * write of a spatial output (before and after its commit), its publication
 * (the object renamed into place before its metadata), the archive of the
 * landing files (a move half-done, between two files, after the manifest),
 * the STAC documents written after the archive, the run's end in the run
 * store (before and after it is recorded), PGlite's checkpoint at close and
 * SQLite's WAL checkpoint at the run store's close. A random moment almost
 * never hit the archive (it lasts about 12 ms of a 20 s run).
 *
 * The kills are chained in one world, in the order the phases come: each
 * `materialize` is killed at its point, the next one is killed at the next
 * point (it first redoes what the killed one left half-done), and a last one
 * runs to the end. After every kill, before anything repairs it:
 *
 * - no landing file is archived without every output of its batch published
 *   with its ledger document.
 *
 * After the last run:
 *
 * - every killed run is recorded failed ("owner process died", reaped by the
 *   next process) or ended, none is left running, and the last run succeeded;
 *   every run's locks were released (each next run started and the last one
 *   ended);
 * - no temporary (half-written) object is visible in the lake, and no
 *   object has two ledger documents for the same content;
 * - lake and ledger agree (the reconciler finds nothing to report);
 * - the batch is done: its landing files archived, its outputs published
 *   with their ledger documents;
 * - the warehouse opens, and the final state equals an uninterrupted run's:
 *   the same lake objects with the same SHA-256 (STAC documents without the
 *   times and run ids of the run that wrote them), and the same row count in
 *   every warehouse table;
 * - no process of the world is left.
 *
 * Counts: one crash point in each of `RELIABILITY_KILL_POINTS` phases
 * (publish, ledger write, archive, run store end, PGlite, SQLite WAL): all
 * six under CI=true (about 2 min on 2 loaded cores), three chosen by the
 * seed by default (a newcomer's `deno task test`, the README test); the
 * point within the phase and its arrival are chosen by the seed too.
 * `RELIABILITY_SOAK=1` chains all twelve points. Replay a failure with its
 * `RELIABILITY_SEED`.
 *
 * A second test starts two `materialize` at once in one world: both end,
 * and the world is what one run leaves.
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
const BATCH = { batchId: "montana-sample", manifestKey: "manifests/montana-sample.json" };
const PROJECT = "montana";
const ARGS = ["materialize", "--json"] as const;

/** The phases a kill must cover. */
type Phase = "PGlite" | "ledger write" | "publish" | "archive" | "run store end" | "SQLite WAL";

/** A crash point: its phase, what it is, and its `PLATFORM_CRASH_AT` given the buckets. */
interface CrashPlan {
  readonly phase: Phase;
  readonly what: string;
  at(rng: Random, buckets: { lake: string; landing: string }): string;
  /** Why the point may not be reached by a run that redoes nothing there. */
  readonly mayBeSkipped?: string;
}

const OUT = `${PROJECT}/${BATCH.batchId}/`;

// In the order a run reaches them (the spatial outputs are published after the dbt models).
const PLANS: readonly CrashPlan[] = [
  {
    phase: "PGlite",
    what: "a PGlite statement (load or dbt model), killed from outside a few ms later",
    at: (rng) => `warehouse.statement#${rng.int(2, 40)}@${rng.int(0, 40)}`,
  },
  {
    phase: "ledger write",
    what: "a spatial output's ledger document, before its commit",
    at: (rng, b) => `ledger.write~${b.lake}/${OUT}#${rng.int(1, 4)}`,
  },
  {
    phase: "ledger write",
    what: "a spatial output's ledger document, just committed",
    at: (rng, b) => `ledger.written~${b.lake}/${OUT}#${rng.int(1, 4)}`,
  },
  {
    phase: "publish",
    what: "a spatial output renamed into place, its metadata not yet",
    at: (rng, b) => `lake.put.renamed~${b.lake}/${OUT}#${rng.int(1, 4)}`,
  },
  {
    phase: "archive",
    what: "a landing file moved to the archive, its metadata and source not yet",
    at: (rng, b) => `lake.move.renamed~${b.landing}/archive/${BATCH.batchId}/#${rng.int(1, 6)}`,
  },
  {
    phase: "archive",
    what: "between two landing files archived",
    at: (rng) => `archive.file#${rng.int(1, 5)}`,
  },
  {
    phase: "archive",
    what: "the manifest archived, the run not yet recorded",
    at: () => "archive.manifest",
  },
  {
    phase: "publish",
    what: "a STAC document renamed into place after the archive",
    mayBeSkipped: "a STAC document is written only when its content changed",
    at: (rng, b) => `lake.put.renamed~${b.lake}/stac/#${rng.int(1, 6)}`,
  },
  {
    phase: "run store end",
    what: "the run's end, before it is recorded",
    at: () => "run.end",
  },
  {
    phase: "run store end",
    what: "the run's end, just recorded",
    at: () => "run.ended",
  },
  {
    phase: "PGlite",
    what: "PGlite's close and checkpoint",
    at: (rng) => `warehouse.close@${rng.int(0, 10)}`,
  },
  {
    phase: "SQLite WAL",
    what: "the run store's close and WAL checkpoint",
    at: (rng) => `runs.close@${rng.int(0, 3)}`,
  },
];

/**
 * The plans of this run, in the run's order: every one when soaking, else
 * one point in each of `RELIABILITY_KILL_POINTS` phases (all six under
 * CI=true, three seeded ones by default).
 */
function chosenPlans(rng: Random): CrashPlan[] {
  if (settings.profile === "soak") return [...PLANS];
  const byPhase = new Map<Phase, CrashPlan[]>();
  for (const plan of PLANS) byPhase.set(plan.phase, [...byPhase.get(plan.phase) ?? [], plan]);
  const phases = rng.shuffle([...byPhase.values()]).slice(0, Math.max(1, settings.killPoints));
  const chosen = new Set(phases.map((plans) => rng.pick(plans)));
  return PLANS.filter((plan) => chosen.has(plan));
}

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

/** Every landing file of the batch archived although an output of it is not published and recorded. */
async function archivedBeforePublished(
  world: World,
  outputs: readonly string[],
): Promise<string[]> {
  const lake = await world.lake();
  const archived: string[] = [];
  for await (
    const object of lake.listAll(world.config.LANDING_BUCKET, {
      prefix: `archive/${BATCH.batchId}/`,
    })
  ) {
    if (!object.key.endsWith("/manifest.json")) archived.push(object.key);
  }
  if (archived.length === 0) return [];
  const documented = new Set(
    (await (await world.ledger()).findByBatch(BATCH.batchId)).map((d) => `${d.bucket}/${d.key}`),
  );
  const missing: string[] = [];
  for (const key of outputs) {
    const head = await lake.head(world.config.LAKE_BUCKET, key);
    if (head === undefined) missing.push(`${key} not published`);
    else if (!documented.has(`${world.config.LAKE_BUCKET}/${key}`)) {
      missing.push(`${key} without its ledger document`);
    }
  }
  return missing.length === 0
    ? []
    : [`${archived.join(", ")} archived while ${missing.join(", ")}`];
}

let normal: Promise<{ fingerprint: Fingerprint; outputs: string[] }> | undefined;

/**
 * An uninterrupted run's fingerprint (what every world here must end equal
 * to) and the sample batch's outputs, computed once for the tests of this file.
 */
function uninterrupted(): Promise<{ fingerprint: Fingerprint; outputs: string[] }> {
  return normal ??= (async () => {
    await using world = await newWorld("mkill_base");
    const out = await runToEnd(world);
    assert.equal(out.code, 0, `the uninterrupted run failed:\n${out.stderr.slice(-3000)}`);
    const print = await fingerprint(world);
    const outputs = [...print.objects.keys()]
      .filter((key) => key.startsWith(`${world.config.LAKE_BUCKET}/${OUT}`))
      .map((key) => key.slice(world.config.LAKE_BUCKET.length + 1));
    assert.ok(outputs.length > 0, "the uninterrupted run published the sample batch");
    return { fingerprint: print, outputs };
  })();
}

Deno.test({
  name: "kill -9 of materialize on the embedded defaults at a crash point of every phase: " +
    "nothing archived before it is published, the last run completes and leaves what an " +
    "uninterrupted run leaves",
  async fn() {
    const rng = new Random(settings.seed).fork("materialize-kill");
    const started = performance.now();
    const { fingerprint: baseline, outputs } = await uninterrupted();
    const plans = chosenPlans(rng);
    await using world = await newWorld("mkill");
    const buckets = { lake: world.config.LAKE_BUCKET, landing: world.config.LANDING_BUCKET };
    const outcomes: { plan: CrashPlan; at: string; hit: boolean; problems: string[] }[] = [];
    const killedRuns: string[] = [];
    for (const plan of plans) {
      const at = plan.at(rng, buckets);
      await world.release();
      let hit: boolean;
      {
        await using child = spawnMain(ARGS, {
          cwd: world.dir,
          env: { ...world.env, PLATFORM_CRASH_AT: at },
          killAfterMs: 600_000,
        });
        const out = await child.finish();
        for (const pid of await processesOf(world)) Deno.kill(pid, "SIGKILL");
        hit = out.signal === "SIGKILL" && /crash point \S+ reached/.test(out.stderr);
        const runId = /"run_id":"([^"]+)"/.exec(out.stdout)?.[1];
        if (hit && runId) killedRuns.push(runId);
        if (!hit && out.code !== 0) {
          outcomes.push({
            plan,
            at,
            hit,
            problems: [`not killed, and exited ${out.code}: ${out.stderr.slice(-800)}`],
          });
          continue;
        }
      }
      const problems = hit ? await archivedBeforePublished(world, outputs) : [];
      outcomes.push({ plan, at, hit, problems });
      console.log(
        `  ${plan.phase}: ${plan.what} (${at}): ${hit ? "killed there" : "not reached"}${
          problems.length ? `: ${problems.join("; ")}` : ""
        }`,
      );
    }

    // The last run, to the end.
    const problems: string[] = [];
    const rerun = await runToEnd(world);
    if (rerun.code !== 0) {
      problems.push(`last run exited ${rerun.code}: ${rerun.stderr.slice(-800)}`);
    }
    const rerunId = /"run_id":"([^"]+)"/.exec(rerun.stdout)?.[1];
    const store = await world.runStore();
    for (const run of await runsLeftRunning(store)) problems.push(`run ${run.runId} running`);
    for (const runId of killedRuns) {
      const killed = await store.getRun(runId);
      if (killed === undefined) problems.push(`killed run ${runId} not recorded`);
      else if (killed.status !== "success" && killed.status !== "failed") {
        problems.push(`killed run ${runId} ${killed.status}`);
      } else if (killed.status === "failed" && !killed.errorSummary) {
        problems.push(`killed run ${runId} failed without saying why`);
      }
    }
    if (rerunId === undefined || (await store.getRun(rerunId))?.status !== "success") {
      problems.push(`the last run ${rerunId ?? "(no id)"} did not succeed`);
    }
    const lake = await world.lake();
    for (const bucket of [world.config.LAKE_BUCKET, world.config.LANDING_BUCKET]) {
      for await (const object of lake.listAll(bucket, {})) {
        if (/\.partial$|(^|\/)\.objstore-/.test(object.key)) {
          problems.push(`half-written object visible: ${bucket}/${object.key}`);
        }
      }
    }
    const perContent = new Map<string, number>();
    for (const doc of await (await world.ledger()).findByBatch(BATCH.batchId)) {
      const content = `${doc.bucket}/${doc.key}@${doc.sha256}`;
      perContent.set(content, (perContent.get(content) ?? 0) + 1);
    }
    for (const [content, n] of perContent) {
      if (n > 1) problems.push(`published twice: ${content} has ${n} ledger documents`);
    }
    const state = await batchState(world, await quarantineReports(world), {
      ...BATCH,
      project: PROJECT,
    });
    if (state.state !== "done") {
      problems.push(`batch ${state.state}${"why" in state ? `: ${state.why}` : ""}`);
    }
    problems.push(...lineageProblems(await reconcileWorld(world)));
    problems.push(...differences(baseline, await fingerprint(world)));
    const left = await processesOf(world);
    if (left.length > 0) problems.push(`processes left: ${left.join(", ")}`);

    const hits = outcomes.filter((o) => o.hit);
    const phases = [...new Set(hits.map((o) => o.plan.phase))];
    const failedKills = outcomes.filter((o) => o.problems.length > 0);
    await reportCounts("materialize_kill", {
      tried: outcomes.length,
      handled: problems.length === 0 ? outcomes.length - failedKills.length : 0,
      lost: problems.length === 0 ? 0 : outcomes.length,
      leaked: failedKills.length,
    }, {
      seed: settings.seed,
      detail: `${hits.length} killed at their point (${phases.join(", ")}), ` +
        `${outcomes.length - hits.length} not reached, ` +
        `${Math.round((performance.now() - started) / 1000)} s`,
    });
    const failed = [
      ...failedKills.map((o) => `${o.plan.phase} (${o.at}): ${o.problems.join("; ")}`),
      ...problems.map((p) => `after the last run: ${p}`),
    ];
    assert.deepEqual(failed, [], `replay with RELIABILITY_SEED=${settings.seed}`);
    // A point killed from a worker after a delay (`@ms`) may see its process end first: a
    // close takes ms. The others are reached whenever their phase runs.
    const unreached = outcomes.filter((o) =>
      !o.hit && !o.at.includes("@") && o.plan.mayBeSkipped === undefined
    );
    assert.deepEqual(
      unreached.map((o) => `${o.plan.phase}: ${o.plan.what} (${o.at})`),
      [],
      "every chosen crash point was reached",
    );
  },
});

Deno.test({
  name: "two materialize at once on the embedded defaults: both end, none left running, and " +
    "the world is what one run leaves",
  async fn() {
    const { fingerprint: baseline } = await uninterrupted();
    await using world = await newWorld("mtwice");
    await world.release();
    const started = performance.now();
    const spawn = () => spawnMain(ARGS, { cwd: world.dir, env: world.env, killAfterMs: 600_000 });
    await using first = spawn();
    // The second starts while the first holds the warehouse and the lake's writers.
    await first.waitFor(/"status":"running"/, { timeoutMs: 300_000 });
    await using second = spawn();
    const outs = await Promise.all([first.finish(), second.finish()]);
    const problems: string[] = [];
    for (const [i, out] of outs.entries()) {
      // Either both succeed (the second waited for the first's locks), or one says clearly why not.
      if (out.code !== 0 && !/warehouse|lock|another process/i.test(out.stderr)) {
        problems.push(`materialize #${i + 1} exited ${out.code}: ${out.stderr.slice(-800)}`);
      }
    }
    if (outs.every((out) => out.code !== 0)) problems.push("neither materialize succeeded");
    const store = await world.runStore();
    for (const run of await runsLeftRunning(store)) problems.push(`run ${run.runId} running`);
    const state = await batchState(world, await quarantineReports(world), {
      ...BATCH,
      project: PROJECT,
    });
    if (state.state !== "done") {
      problems.push(`batch ${state.state}${"why" in state ? `: ${state.why}` : ""}`);
    }
    problems.push(...lineageProblems(await reconcileWorld(world)));
    problems.push(...differences(baseline, await fingerprint(world)));
    await reportCounts("materialize_twice", {
      tried: 2,
      handled: problems.length === 0 ? 2 : 0,
      lost: problems.length === 0 ? 0 : 2,
      leaked: 0,
    }, {
      seed: settings.seed,
      detail: `exits ${outs.map((o) => o.code).join(", ")}, ${
        Math.round((performance.now() - started) / 1000)
      } s`,
    });
    assert.deepEqual(problems, []);
  },
});
