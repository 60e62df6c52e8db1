/**
 * A world for the reliability suite: a temp folder holding every state path
 * of the platform (run store, local lake, ledger, warehouse, dbt target,
 * temp files), the environment that points a `main.ts` process at it, and
 * the checks of the invariants issue 15 names, read from the stores
 * themselves after the processes are gone:
 *
 * - no run left `running`;
 * - no duplicate rows in the warehouse (each activity file's rows once,
 *   matching its ingest manifest row);
 * - lake ⇔ ledger: after the lineage reconciler (as DESIGN.md says: it
 *   repairs what a crash between the ledger write and the object write left),
 *   every object of the lake has its ledger document and every document its
 *   object, with the same SHA-256;
 * - every landing file pending, archived with its outputs, or quarantined
 *   with a report (spatial batches and activity drops).
 *
 * @module
 */

import { join } from "node:path";
import { createLogger } from "../../core/logger.ts";
import type { RunRecord, RunStore } from "../../core/run_store/types.ts";
import { reconcileLineage, type ReconcileReport } from "../../assets/ops/reconcile_lineage.ts";
import { type Config, loadConfig } from "../../resources/config.ts";
import { openLake } from "../../resources/lake.ts";
import { openLedger } from "../../resources/ledger/open.ts";
import type { Ledger } from "../../resources/ledger/types.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import { openRunStore } from "../../resources/run_store/open.ts";
import { openWarehouse } from "../../resources/warehouse/open.ts";
import type { Warehouse } from "../../resources/warehouse/types.ts";

const REPO = new URL("../../", import.meta.url).pathname;

/** Where a world keeps its state and which implementations it uses. */
export interface WorldOptions {
  /** Prefix of the temp folder. */
  readonly name: string;
  /**
   * `GDAL_ENGINE` of the world.
   * @default {"auto"}
   */
  readonly gdalEngine?: "auto" | "native" | "wasm";
  /**
   * URLs replacing the embedded defaults (the server profile, a DuckDB
   * warehouse), given the world's folder.
   */
  readonly urls?: (
    dir: string,
  ) => { WAREHOUSE_URL?: string; RUNS_URL?: string; SPATIAL_URL?: string };
  /** More environment for the processes. */
  readonly env?: Record<string, string>;
}

/** A temp folder with the platform's whole state in it. */
export interface World extends AsyncDisposable {
  /** The folder. */
  readonly dir: string;
  /** The environment a `main.ts` of this world runs with (cwd = {@linkcode World.dir}). */
  readonly env: Record<string, string>;
  /** The configuration that environment gives. */
  readonly config: Config;
  /** The temp folder the world's processes use (TMPDIR). */
  readonly tmpDir: string;
  /** The lake (landing zone and data lake buckets), opened once. */
  lake(): Promise<ObjectStore>;
  /** The ledger, opened once. */
  ledger(): Promise<Ledger>;
  /** The run store, opened once. */
  runStore(): Promise<RunStore>;
  /** Opens the warehouse for `fn` and closes it again (the embedded one admits one process). */
  withWarehouse<T>(fn: (warehouse: Warehouse) => Promise<T>): Promise<T>;
  /** Closes what {@linkcode World.lake}, `ledger` and `runStore` opened (before a process runs). */
  release(): Promise<void>;
}

/** Makes a world; `await using` removes it (unless RELIABILITY_KEEP=1, for post-mortems). */
export async function createWorld(options: WorldOptions): Promise<World> {
  const dir = await Deno.makeTempDir({ prefix: `reliability_${options.name}_` });
  const tmpDir = `${dir}/tmp`;
  await Deno.mkdir(tmpDir, { recursive: true });
  const env: Record<string, string> = {
    STATE_DIR: `${dir}/state`,
    RUNS_URL: `sqlite:${dir}/state/runs.db`,
    LAKE_URL: `file://${dir}/data_lake`,
    LEDGER_URL: `sqlite:${dir}/state/ledger.db`,
    WAREHOUSE_URL: `pglite:${dir}/state/warehouse`,
    SPATIAL_URL: "spatialite:",
    GDAL_ENGINE: options.gdalEngine ?? "auto",
    SAMPLE_DATA: "false",
    DBT_PROJECT_DIR: `${REPO}dbt`,
    TMPDIR: tmpDir,
    NO_COLOR: "1",
    ...options.urls?.(dir),
    ...options.env,
  };
  const config = loadConfig({ env, dotenvPath: null });
  let lake: Promise<ObjectStore> | undefined;
  let ledger: Promise<Ledger> | undefined;
  let runs: Promise<RunStore> | undefined;
  const release = async () => {
    const open = [lake, ledger, runs];
    lake = ledger = runs = undefined;
    for (const handle of open) await (await handle)?.[Symbol.asyncDispose]();
  };
  return {
    dir,
    env,
    config,
    tmpDir,
    lake: () => (lake ??= openLake(config)),
    ledger: () => (ledger ??= openLedger(config.LEDGER_URL)),
    runStore: () => (runs ??= openRunStore(config.RUNS_URL)),
    async withWarehouse(fn) {
      await using warehouse = await openWarehouse(config.WAREHOUSE_URL);
      return await fn(warehouse);
    },
    release,
    async [Symbol.asyncDispose]() {
      await release();
      if (Deno.env.get("RELIABILITY_KEEP") === "1") {
        console.log(`RELIABILITY_KEEP: world kept in ${dir}`);
        return;
      }
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

// ---------------------------------------------------------------- runs

/** Runs still `running` (none may be, once no process of the world is alive). */
export async function runsLeftRunning(store: RunStore): Promise<RunRecord[]> {
  return await store.listRuns({ status: "running", limit: 1000 });
}

// ---------------------------------------------------------------- lake and ledger

/** The reconciler's report, run with no grace period (no writer is alive). */
export async function reconcileWorld(world: World): Promise<ReconcileReport> {
  return await reconcileLineage(
    { lake: await world.lake(), ledger: await world.ledger() },
    {
      lakeBucket: world.config.LAKE_BUCKET,
      now: Date.now(),
      graceMs: 0,
      log: createLogger(() => {}),
    },
  );
}

/** What still disagrees after the reconciler repaired what it may. */
export function lineageProblems(report: ReconcileReport): string[] {
  const out: string[] = [];
  if (report.mismatches > 0) {
    out.push(
      `${report.mismatches} object(s) whose SHA-256 differs from their ledger document: ` +
        report.mismatch_samples.map((m) => m.key).join(", "),
    );
  }
  if (report.objects_without_lineage > 0) {
    out.push(
      `${report.objects_without_lineage} object(s) without a ledger document: ` +
        report.unlineaged_samples.join(", "),
    );
  }
  const orphansLeft = report.orphan_documents - report.orphans_removed;
  if (orphansLeft > 0) out.push(`${orphansLeft} ledger document(s) without their object`);
  return out;
}

// ---------------------------------------------------------------- spatial batches

/** Where a spatial batch stands. */
export type BatchState =
  | { readonly state: "done"; readonly outputs: readonly string[] }
  | { readonly state: "quarantined"; readonly report: QuarantineReport }
  | { readonly state: "pending" }
  | { readonly state: "half"; readonly why: string };

/** A spatial quarantine report, as far as the checks read it. */
export interface QuarantineReport {
  readonly key: string;
  readonly text: string;
  readonly manifest_key?: string;
  readonly problems: readonly { code: string; message: string; file?: string }[];
}

async function exists(lake: ObjectStore, bucket: string, key: string): Promise<boolean> {
  return await lake.head(bucket, key) !== undefined;
}

async function keys(lake: ObjectStore, bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const object of lake.listAll(bucket, { prefix })) out.push(object.key);
  } catch (error) {
    if ((error as { code?: string }).code === "object_store.bucket_not_found") return [];
    throw error;
  }
  return out;
}

/** Every spatial quarantine report of the landing zone, by the manifest key it names. */
export async function quarantineReports(world: World): Promise<Map<string, QuarantineReport>> {
  const lake = await world.lake();
  const bucket = world.config.LANDING_BUCKET;
  const out = new Map<string, QuarantineReport>();
  for (const key of await keys(lake, bucket, "quarantine/")) {
    if (!key.endsWith(".error.json") || key.startsWith("quarantine/activity/")) continue;
    const text = new TextDecoder().decode(await lake.getBytes(bucket, key));
    const parsed = JSON.parse(text) as Omit<QuarantineReport, "key" | "text">;
    out.set(parsed.manifest_key ?? key, { ...parsed, key, text });
  }
  return out;
}

/**
 * Where batch `batchId` (committed at `manifestKey`, outputs under
 * `<project>/<batchId>/` in the lake) stands, judged from the landing zone,
 * the lake and the ledger together:
 *
 * - `done`: manifest and every listed file archived, nothing left in the
 *   landing zone, outputs in the lake each with its ledger document, no report;
 * - `quarantined`: manifest set aside beside its report, no output and no
 *   ledger document of the batch;
 * - `pending`: manifest still committed, no report, no archived manifest;
 * - `half`: anything else (what a crash may leave, and no normal run may).
 */
export async function batchState(
  world: World,
  reports: Map<string, QuarantineReport>,
  batch: { batchId: string; manifestKey: string; project: string },
): Promise<BatchState> {
  const lake = await world.lake();
  const ledger = await world.ledger();
  const landing = world.config.LANDING_BUCKET;
  const lakeBucket = world.config.LAKE_BUCKET;
  const committed = await exists(lake, landing, batch.manifestKey);
  const archivedManifest = `archive/${batch.batchId}/manifest.json`;
  const archived = await exists(lake, landing, archivedManifest);
  const report = reports.get(batch.manifestKey);
  const outputs = await keys(lake, lakeBucket, `${batch.project}/${batch.batchId}/`);
  const docs = await ledger.findByBatch(batch.batchId);
  const landed = await keys(lake, landing, `${batch.batchId}/`);
  if (report && !committed && !archived) {
    if (outputs.length > 0 || docs.length > 0) {
      return {
        state: "half",
        why: `quarantined but published ${outputs.join(", ")} (${docs.length} ledger document(s))`,
      };
    }
    return { state: "quarantined", report };
  }
  if (archived && !committed) {
    if (report) return { state: "half", why: `archived but also quarantined (${report.key})` };
    const manifest = JSON.parse(
      new TextDecoder().decode(await lake.getBytes(landing, archivedManifest)),
    ) as { files: { path: string }[] };
    const missing: string[] = [];
    for (const file of manifest.files) {
      if (!await exists(lake, landing, `archive/${file.path}`)) missing.push(file.path);
    }
    if (missing.length > 0) return { state: "half", why: `archived without ${missing.join(", ")}` };
    if (landed.length > 0) {
      return { state: "half", why: `archived, but ${landed.join(", ")} still in the landing zone` };
    }
    if (outputs.length === 0) return { state: "half", why: "archived without any output" };
    const documented = new Set(docs.map((d) => `${d.bucket}/${d.key}`));
    const undocumented = outputs.filter((key) => !documented.has(`${lakeBucket}/${key}`));
    if (undocumented.length > 0) {
      return { state: "half", why: `outputs without ledger documents: ${undocumented.join(", ")}` };
    }
    return { state: "done", outputs };
  }
  if (committed && !archived && !report) return { state: "pending" };
  return {
    state: "half",
    why: `manifest committed=${committed}, archived=${archived}, report=${report?.key ?? "none"}`,
  };
}

// ---------------------------------------------------------------- activity drops

/** Where an activity drop stands. */
export type DropState =
  | { readonly state: "loaded"; readonly rows: number }
  | { readonly state: "rejected"; readonly report: DropReport }
  | { readonly state: "pending" }
  | { readonly state: "half"; readonly why: string };

/** An activity rejection report, as far as the checks read it. */
export interface DropReport {
  readonly text: string;
  readonly file: string;
  readonly source_filename: string;
  readonly reason: string;
  readonly message: string;
  readonly bad_rows: number;
}

/** Rows per source file and the ingest manifest, read once per check. */
export interface WarehouseView {
  /** `source_file` -> rows, per table. */
  readonly rows: Map<string, number>;
  /** Rows loaded twice: (file, user, day) seen more than once. */
  readonly duplicates: string[];
  /** The ingest manifest by file name. */
  readonly manifest: Map<string, { sha256: string; rows: number; status: string }>;
}

/** Reads what the activity loader wrote. */
export async function warehouseView(world: World): Promise<WarehouseView> {
  return await world.withWarehouse(async (wh) => {
    const [table] = await wh.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM information_schema.tables " +
        "WHERE table_schema = 'ops' AND table_name = 'raw_ingest_manifest'",
    );
    const rows = new Map<string, number>();
    const duplicates: string[] = [];
    const manifest = new Map<string, { sha256: string; rows: number; status: string }>();
    if (!table || table.n === 0) return { rows, duplicates, manifest };
    for (const [name, date] of [["daily_activity", "activity_date"], ["sleep", "sleep_date"]]) {
      for (
        const r of await wh.query<{ source_file: string; n: number }>(
          `SELECT source_file, count(*)::int AS n FROM raw.${name} GROUP BY source_file`,
        )
      ) rows.set(r.source_file, r.n);
      for (
        const r of await wh.query<{ source_file: string; user_id: string; d: string; n: number }>(
          `SELECT source_file, user_id, ${date}::text AS d, count(*)::int AS n FROM raw.${name}
           GROUP BY source_file, user_id, ${date} HAVING count(*) > 1`,
        )
      ) duplicates.push(`${name}: ${r.source_file} user ${r.user_id} on ${r.d} x${r.n}`);
    }
    for (
      const r of await wh.query<
        { source_filename: string; checksum_sha256: string; row_count: number; status: string }
      >("SELECT source_filename, checksum_sha256, row_count, status FROM ops.raw_ingest_manifest")
    ) {
      manifest.set(r.source_filename, {
        sha256: r.checksum_sha256,
        rows: Number(r.row_count),
        status: r.status,
      });
    }
    return { rows, duplicates, manifest };
  });
}

async function sha256(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * Where drop `name` (whose bytes were `bytes`) stands: loaded (the manifest
 * row has its SHA-256 and the table holds exactly the rows it counts),
 * rejected (moved to `quarantine/activity/` beside its report, no rows), or
 * pending (still in `activity/`, never loaded).
 */
export async function dropState(
  world: World,
  view: WarehouseView,
  name: string,
  bytes: Uint8Array,
): Promise<DropState> {
  const lake = await world.lake();
  const bucket = world.config.LANDING_BUCKET;
  const inLanding = await exists(lake, bucket, `activity/${name}`);
  const moved = await exists(lake, bucket, `quarantine/activity/${name}`);
  const reportKey = `quarantine/activity/${name}.error.json`;
  const hasReport = await exists(lake, bucket, reportKey);
  const entry = view.manifest.get(name);
  const rows = view.rows.get(name) ?? 0;
  const sha = await sha256(bytes);
  if (moved && hasReport && !inLanding) {
    if (rows > 0) return { state: "half", why: `rejected, but ${rows} row(s) loaded` };
    const text = new TextDecoder().decode(await lake.getBytes(bucket, reportKey));
    return { state: "rejected", report: { ...JSON.parse(text), text } };
  }
  if (inLanding && !moved && entry?.status === "loaded" && entry.sha256 === sha) {
    if (rows !== entry.rows) {
      return { state: "half", why: `manifest says ${entry.rows} row(s), the table holds ${rows}` };
    }
    return { state: "loaded", rows };
  }
  if (inLanding && !moved && (entry === undefined || entry.sha256 !== sha) && rows === 0) {
    return { state: "pending" };
  }
  return {
    state: "half",
    why: `in landing=${inLanding}, quarantined=${moved}, report=${hasReport}, ` +
      `manifest=${entry ? `${entry.status} ${entry.rows}` : "none"}, rows=${rows}`,
  };
}

/** Text a report must never hold: internal names and unreadable errors. */
export const INTERNAL_TEXT = [
  /\[object Object\]/,
  /Pointer '\w+' is NULL/,
  /src_input/,
  /\/tmp\//,
  /gdal-(?:native|wasm)-/,
  /\bundefined\b/,
];

/** Whether process `pid` still exists. */
export function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** The children of process `pid` (the launcher's command). */
export function childrenOf(pid: number): number[] {
  try {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${pid}/children`);
    return text.trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Every file under `dir`, relative to it (none when it does not exist). */
export async function files(dir: string, prefix = ""): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(join(dir, prefix))) {
      const path = prefix ? `${prefix}/${entry.name}` : entry.name;
      if (entry.isDirectory) out.push(...await files(dir, path));
      else out.push(path);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out;
}

/** The lake's temporary files: a writer's `.partial`, a staging folder's files. */
export async function tempFiles(world: World): Promise<string[]> {
  return (await files(join(world.dir, "data_lake"))).filter((path) =>
    /(^|\/)\.objstore-|\.partial$|\.tmp$|\.creating-/.test(path)
  );
}
