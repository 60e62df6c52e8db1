/**
 * Activity CSV load: a Fitbit-style `daily_activity` CSV loaded into a
 * throwaway PostgreSQL cluster (or a database on `DATABASE_URL`) two ways in
 * the same run:
 *
 * - through the `bronze_activity` asset (local object store -> streaming
 *   UTF-8 + CSV parse -> typed row validation -> COPY, in one transaction
 *   with the manifest row);
 * - by `psql \copy` of the same file into an identical table (same columns,
 *   constraints and indexes; `source_file`/`loaded_at` filled by defaults).
 *
 * Prints rows/s of both and psql_time / asset_time (target >= 0.8), then the
 * peak RSS of a child process that loads the file through the asset alone
 * (VmHWM from /proc), which shows memory does not grow with the file.
 *
 *     deno run -A bench/activity.ts                 # 1,000,000 rows (~70 MB)
 *     deno run -A bench/activity.ts --rows 200000   # quicker
 *     deno run -A bench/activity.ts --bytes 2e9     # a ~2 GB file (slow: minutes)
 *     ACTIVITY_BENCH_BYTES=2e9 deno run -A bench/activity.ts
 *     deno run -A bench/activity.ts --bytes 2e9 --rss-only   # peak RSS only, no psql rounds
 *
 * @module
 */

import { parseArgs } from "node:util";
import { bronzeActivityAsset, ensureActivityTables } from "../assets/activity/mod.ts";
import { buildAssetContext } from "../core/testing.ts";
import { systemClock } from "../core/clock.ts";
import { ConfigSchema } from "../resources/config.ts";
import { LocalObjectStore } from "../resources/object_store/mod.ts";
import { openWarehouse, type Warehouse } from "../resources/warehouse/mod.ts";
import { findPostgresBinDir, startPostgres } from "../tests/_helpers/postgres.ts";
import { best, list, median, seconds, timed, type Timing } from "./_timing.ts";

const FILE = "daily_activity_bench.csv";
const HEADER = "Id,ActivityDate,TotalSteps,TotalDistance,VeryActiveMinutes,FairlyActiveMinutes," +
  "LightlyActiveMinutes,SedentaryMinutes,Calories";
const CSV_COLUMNS = [
  "user_id",
  "activity_date",
  "total_steps",
  "total_distance_km",
  "very_active_minutes",
  "fairly_active_minutes",
  "lightly_active_minutes",
  "sedentary_minutes",
  "calories",
];
/** Users per day in the generated file: (user, day) stays unique as the file grows. */
const USERS = 5_000;
/** Rounds per loader, alternating; best and median are reported. */
const ROUNDS = 3;

/** One timed load. */

/** Runs the benchmark and prints its figures. */
export async function main(args: string[] = []): Promise<void> {
  const { values } = parseArgs({
    args,
    options: {
      rows: { type: "string" },
      bytes: { type: "string" },
      "child-load": { type: "string" },
      url: { type: "string" },
      "rss-only": { type: "boolean" },
    },
  });
  if (values["child-load"]) {
    await childLoad(values["child-load"], values.url ?? "");
    return;
  }
  const bytes = Number(values.bytes ?? Deno.env.get("ACTIVITY_BENCH_BYTES") ?? NaN);
  const rows = Number.isFinite(bytes) ? Infinity : Number(values.rows ?? 1_000_000);
  const dir = await Deno.makeTempDir({ prefix: "bench-activity-" });
  try {
    const csv = `${dir}/${FILE}`;
    const started = performance.now();
    const written = await writeCsv(csv, rows, Number.isFinite(bytes) ? bytes : Infinity);
    const size = (await Deno.stat(csv)).size;
    console.log(
      `CSV: ${written.toLocaleString("en-US")} rows, ${mb(size)} MB, written in ` +
        `${seconds(performance.now() - started)} s`,
    );
    await using server = await startPostgres();
    if (!values["rss-only"]) await compare(csv, dir, server.url, size > 500e6 ? 1 : ROUNDS);
    await peakRss(csv, server.url, size);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function compare(csv: string, dir: string, url: string, rounds: number): Promise<void> {
  await using warehouse = await openWarehouse(url, { onNotice: () => {} });
  await using lake = new LocalObjectStore({ root: `${dir}/lake`, durable: false });
  await lake.ensureBucket("landing-zone");
  using file = await Deno.open(csv);
  await lake.put("landing-zone", `activity/${FILE}`, file.readable, { contentType: "text/csv" });
  await createPsqlTable(warehouse);
  const psql = `${await findPostgresBinDir()}/psql`;
  const ours: Timing[] = [];
  const theirs: Timing[] = [];
  for (let round = 0; round < rounds; round++) {
    await warehouse.exec(
      "TRUNCATE raw.daily_activity, ops.raw_ingest_manifest, bench.daily_activity; CHECKPOINT",
    );
    theirs.push(await timed(() => psqlCopy(psql, url, csv)));
    ours.push(await timed(() => assetLoad(lake, warehouse)));
  }
  console.log(`asset path (stream, parse, validate, COPY): ${list(ours)}`);
  console.log(`psql \\copy (server parses the CSV):         ${list(theirs)}`);
  for (const [label, pick] of [["best", best], ["median", median]] as const) {
    const [oursMs, psqlMs] = [pick(ours), pick(theirs)];
    const n = ours[0]?.rows ?? 0;
    console.log(
      `${label}: asset ${rate(n, oursMs)} rows/s (${seconds(oursMs)} s), ` +
        `psql ${rate(n, psqlMs)} rows/s (${seconds(psqlMs)} s), ` +
        `psql_time/asset_time = ${(psqlMs / oursMs).toFixed(2)} (target >= 0.8)`,
    );
  }
  console.log(`tables identical: ${await sameContent(warehouse) ? "yes" : "NO"}`);
}

/** The table `psql \copy` loads: the asset's table, with defaults for the two extra columns. */
async function createPsqlTable(warehouse: Warehouse): Promise<void> {
  await ensureActivityTables(warehouse); // raw.daily_activity exactly as the asset makes it
  await warehouse.exec(`
    CREATE SCHEMA IF NOT EXISTS bench;
    -- Same columns, defaults, constraints and indexes as the asset's table.
    CREATE TABLE IF NOT EXISTS bench.daily_activity (LIKE raw.daily_activity INCLUDING ALL);
    ALTER TABLE bench.daily_activity ALTER COLUMN source_file SET DEFAULT '${FILE}';`);
}

async function assetLoad(lake: LocalObjectStore, warehouse: Warehouse): Promise<number> {
  const ctx = buildAssetContext({
    resources: { config: ConfigSchema.parse({}), lake, warehouse },
    clock: systemClock,
  });
  const metadata = await bronzeActivityAsset().materialize(ctx);
  if (!metadata || metadata.files_loaded !== 1) {
    throw new Error(`the asset did not load the file: ${JSON.stringify(metadata)}`);
  }
  return Number(metadata.rows_loaded);
}

async function psqlCopy(psql: string, url: string, csv: string): Promise<number> {
  const command = `\\copy bench.daily_activity (${CSV_COLUMNS.join(", ")}) FROM '${csv}' ` +
    "WITH (FORMAT csv, HEADER true)";
  const out = await new Deno.Command(psql, { args: [url, "-X", "-c", command] }).output();
  if (!out.success) throw new Error(`psql failed: ${new TextDecoder().decode(out.stderr)}`);
  return Number(/COPY (\d+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? NaN);
}

async function sameContent(warehouse: Warehouse): Promise<boolean> {
  const digest = (table: string) =>
    `SELECT count(*) AS n, md5(string_agg(concat_ws('|', ${CSV_COLUMNS.join(", ")}), E'\\n'
      ORDER BY user_id, activity_date)) AS digest FROM ${table}`;
  const [ours] = await warehouse.query(digest("raw.daily_activity"));
  const [theirs] = await warehouse.query(digest("bench.daily_activity"));
  return ours?.n === theirs?.n && ours?.digest === theirs?.digest;
}

/**
 * Loads the file through the asset in a fresh process and reports its peak
 * RSS, so the figure is the load's alone (not the generator's or psql's).
 */
async function peakRss(csv: string, url: string, size: number): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL(import.meta.url).pathname, "--child-load", csv, "--url", url],
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error("the child load failed");
  const result = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "{}");
  console.log(
    `child process, asset load of the ${mb(size)} MB file: ${result.rows} rows in ` +
      `${seconds(result.ms)} s (${rate(result.rows, result.ms)} rows/s); ` +
      `peak RSS ${mb(result.peakRss)} MB (at start ${mb(result.startRss)} MB, after putting the ` +
      `file in the landing zone ${mb(result.baselineRss)} MB; ` +
      `sampled peaks: V8 heap ${mb(result.peakHeap)} MB, external ${mb(result.peakExternal)} MB)`,
  );
}

async function childLoad(csv: string, url: string): Promise<void> {
  const startRss = vmHwm();
  const dir = await Deno.makeTempDir({ prefix: "bench-activity-child-" });
  try {
    await using warehouse = await openWarehouse(url, { onNotice: () => {} });
    await ensureActivityTables(warehouse);
    await warehouse.exec("TRUNCATE raw.daily_activity, ops.raw_ingest_manifest");
    await using lake = new LocalObjectStore({ root: dir, durable: false });
    await lake.ensureBucket("landing-zone");
    using file = await Deno.open(csv);
    await lake.put("landing-zone", `activity/${FILE}`, file.readable, { contentType: "text/csv" });
    const baselineRss = vmHwm();
    let peakHeap = 0;
    let peakExternal = 0;
    const sampler = setInterval(() => {
      const usage = Deno.memoryUsage();
      peakHeap = Math.max(peakHeap, usage.heapTotal);
      peakExternal = Math.max(peakExternal, usage.external);
    }, 50);
    const load = await timed(() => assetLoad(lake, warehouse)).finally(() =>
      clearInterval(sampler)
    );
    console.log(
      JSON.stringify({ ...load, peakRss: vmHwm(), startRss, baselineRss, peakHeap, peakExternal }),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Peak resident set size of this process so far, in bytes (Linux). */
function vmHwm(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
}

/** Writes rows until `maxRows` or `maxBytes`, streaming in 1 MB pieces; returns the rows. */
async function writeCsv(path: string, maxRows: number, maxBytes: number): Promise<number> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const writer = file.writable.getWriter();
  const encoder = new TextEncoder();
  let piece = `${HEADER}\n`;
  let bytes = 0;
  let i = 0;
  const day0 = Date.UTC(2010, 0, 1);
  let date = "";
  for (; i < maxRows && bytes + piece.length < maxBytes; i++) {
    if (i % USERS === 0) {
      const d = new Date(day0 + (i / USERS) * 86_400_000);
      date = `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
    }
    const steps = (i * 7919) % 25_000;
    piece += `${1_000_000_000 + (i % USERS)},${date},${steps},${(steps * 0.00074).toFixed(2)},` +
      `${i % 90},${i % 45},${120 + (i % 300)},${400 + (i % 600)},${1_400 + (i % 2_500)}\n`;
    if (piece.length < 1 << 20) continue;
    await writer.write(encoder.encode(piece));
    bytes += piece.length;
    piece = "";
  }
  await writer.write(encoder.encode(piece));
  await writer.close();
  return i;
}

function rate(rows: number, ms: number): string {
  return Math.round(rows / (ms / 1000)).toLocaleString("en-US");
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

if (import.meta.main) await main(Deno.args);
