/**
 * Spatial benchmark: `deno run -A bench/spatial.ts` (also part of `deno task bench`).
 *
 * - 1M points and 100k polygons through the whole vector pipeline (landing
 *   zone on the local object store -> gdal3.js (make-valid for non-point
 *   layers; no reprojection, as the input is already in EPSG:4326) -> GeoParquet
 *   -> lake with its ledger document), against native Debian
 *   `ogr2ogr -f FlatGeobuf` asked for the same GDAL work, on the same input in
 *   the same run;
 * - a 4096x4096 raster to COG with gdal3.js against native `gdal_translate -of COG`
 *   with the same creation options.
 *
 * Each side runs in its own process under `/usr/bin/time`, so wall time and
 * peak resident memory (max RSS) are measured the same way for both. Prints
 * features/s, peak memory and the ratio (ours / native throughput; 1 = as fast).
 *
 * @module
 */

import process from "node:process";
import { LocalObjectStore } from "../resources/object_store/mod.ts";
import { MemoryLedger } from "../resources/ledger/mod.ts";
import { SpatialiteEngine } from "../resources/spatial/spatialite.ts";
import { wasmGdal } from "../resources/spatial/gdal_wasm.ts";
import { detectNativeGdal } from "../resources/spatial/gdal_native.ts";
import type { GdalEngine } from "../resources/spatial/gdal.ts";

/** The GDAL engine of a child process: `BENCH_GDAL_ENGINE` (wasm or native). */
async function benchGdal(): Promise<GdalEngine> {
  if (Deno.env.get("BENCH_GDAL_ENGINE") !== "native") return wasmGdal;
  const native = await detectNativeGdal();
  if (!native) throw new Error("BENCH_GDAL_ENGINE=native but no GDAL >= 3.6 is installed");
  return native;
}
import { processVectorBatch } from "../assets/spatial/vector.ts";
import { COG_OPTIONS, processRasterBatch } from "../assets/spatial/raster.ts";

const POINTS = Number(Deno.env.get("BENCH_POINTS") ?? 1_000_000);
const POLYGONS = Number(Deno.env.get("BENCH_POLYGONS") ?? 100_000);
const RASTER_SIZE = Number(Deno.env.get("BENCH_RASTER_SIZE") ?? 4096);
/** GDAL engines measured: wasm always, native when GDAL >= 3.6 is installed. */
const ENGINES = (Deno.env.get("BENCH_ENGINES") ?? "wasm,native").split(",").filter((e) =>
  e === "wasm" || (e === "native" && Deno.env.get("BENCH_NO_NATIVE") === undefined)
);

interface Measure {
  seconds: number;
  /** User + system CPU seconds: steadier than wall time on a busy machine. */
  cpuSeconds: number;
  maxRssMiB: number;
}

async function sh(cmd: string, args: string[], cwd?: string): Promise<string> {
  const out = await new Deno.Command(cmd, { args, ...(cwd ? { cwd } : {}) }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${stderr}`);
  return stderr;
}

/** Runs a command under /usr/bin/time and returns wall and CPU seconds and max RSS. */
async function timed(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<Measure> {
  const out = await new Deno.Command("/usr/bin/time", {
    args: ["-f", "TIME %e %M %U %S", cmd, ...args],
    env,
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${stderr}`);
  const match = stderr.match(/TIME ([\d.]+) (\d+) ([\d.]+) ([\d.]+)/);
  if (!match) throw new Error(`no timing in: ${stderr}`);
  return {
    seconds: Number(match[1]),
    cpuSeconds: Number(match[3]) + Number(match[4]),
    maxRssMiB: Number(match[2]) / 1024,
  };
}

async function writeCsv(file: string, header: string, count: number, row: (i: number) => string) {
  using handle = await Deno.open(file, { write: true, create: true, truncate: true });
  const writer = handle.writable.getWriter();
  const encoder = new TextEncoder();
  await writer.write(encoder.encode(`${header}\n`));
  let chunk: string[] = [];
  for (let i = 0; i < count; i++) {
    chunk.push(row(i));
    if (chunk.length === 10_000) {
      await writer.write(encoder.encode(chunk.join("\n") + "\n"));
      chunk = [];
    }
  }
  if (chunk.length) await writer.write(encoder.encode(chunk.join("\n") + "\n"));
  await writer.close();
}

/** Deterministic pseudo-random numbers, so every run converts the same data. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

async function makeInputs(dir: string) {
  const r = rng(42);
  await writeCsv(`${dir}/points.csv`, "id,name,value,x,y", POINTS, (i) => {
    const x = -116 + r() * 12;
    const y = 44.4 + r() * 4.6;
    return `${i},p${i},${(r() * 1000).toFixed(3)},${x.toFixed(6)},${y.toFixed(6)}`;
  });
  await sh("ogr2ogr", [
    "-f",
    "GPKG",
    `${dir}/points.gpkg`,
    `${dir}/points.csv`,
    "-nln",
    "points",
    "-oo",
    "X_POSSIBLE_NAMES=x",
    "-oo",
    "Y_POSSIBLE_NAMES=y",
    "-oo",
    "AUTODETECT_TYPE=YES",
    "-a_srs",
    "EPSG:4326",
    "-lco",
    "SPATIAL_INDEX=NO",
  ]);
  await writeCsv(`${dir}/polygons.csv`, "id,name,wkt", POLYGONS, (i) => {
    const cx = -116 + r() * 12;
    const cy = 44.4 + r() * 4.6;
    const ring: string[] = [];
    for (let k = 0; k < 12; k++) {
      const a = (k / 12) * 2 * Math.PI;
      const radius = 0.01 + r() * 0.02;
      ring.push(
        `${(cx + radius * Math.cos(a)).toFixed(6)} ${(cy + radius * Math.sin(a)).toFixed(6)}`,
      );
    }
    ring.push(ring[0]!);
    return `${i},poly${i},"POLYGON((${ring.join(",")}))"`;
  });
  await sh("ogr2ogr", [
    "-f",
    "GPKG",
    `${dir}/polygons.gpkg`,
    `${dir}/polygons.csv`,
    "-nln",
    "polygons",
    "-oo",
    "GEOM_POSSIBLE_NAMES=wkt",
    "-oo",
    "KEEP_GEOM_COLUMNS=NO",
    "-a_srs",
    "EPSG:4326",
    "-lco",
    "SPATIAL_INDEX=NO",
  ]);
  const dem = new URL("../sample_data/spatial/montana-sample/dem.tif", import.meta.url).pathname;
  await sh("gdal_translate", [
    "-q",
    "-outsize",
    `${RASTER_SIZE}`,
    `${RASTER_SIZE}`,
    "-co",
    "TILED=YES",
    "-co",
    "COMPRESS=DEFLATE",
    dem,
    `${dir}/raster.tif`,
  ]);
}

/** The batch manifest for `file`; `suffix` gives the warm-up copy its own batch id and keys. */
function batchOf(kind: string, file: string, suffix = "") {
  const batchId = `bench-${kind}${suffix}`;
  const isRaster = kind === "raster";
  return {
    batch_id: batchId,
    uploader: "bench",
    intent: "publish",
    files: [{
      path: `${batchId}/${file.split("/").pop()}`,
      type: isRaster ? "raster" : "vector",
      format: isRaster ? "geotiff" : "geopackage",
      // The raster is the sample DEM resampled: UTM zone 12N, as its file says.
      crs: isRaster ? "EPSG:32612" : "EPSG:4326",
    }],
    metadata: { project: "bench", description: "benchmark batch" },
  };
}

/**
 * Parent, before timing: uploads the input and its manifest to the landing
 * zone in `root`. This is the user's upload, not pipeline work, so it is kept
 * out of our time as the native side is not charged for making its input.
 */
async function stageLanding(kind: string, root: string, file: string, suffix = "") {
  await using store = new LocalObjectStore({ root, durable: false });
  const manifest = batchOf(kind, file, suffix);
  await store.ensureBucket("landing-zone");
  await store.put("landing-zone", manifest.files[0]!.path, (await Deno.open(file)).readable);
  await store.put(
    "landing-zone",
    `manifests/${manifest.batch_id}.json`,
    new TextEncoder().encode(JSON.stringify(manifest)),
  );
}

/** Child: one batch through our pipeline, reading the landing zone in `root`. */
async function child(kind: string, root: string, file: string) {
  await using store = new LocalObjectStore({ root, durable: false });
  await using ledger = new MemoryLedger();
  await runBatch(kind, store, ledger, batchOf(kind, file).batch_id);
}

/**
 * Warm child: like the long-running sensor daemon, one process converts the
 * warm-up copy first (gdal3.js initialisation, first projection lookup, JIT),
 * then the measured batch, whose conversion alone is timed end to end
 * (staging, conversion, GeoParquet/COG write, hashing, upload, ledger).
 * Prints `{"seconds": ..., "cpuSeconds": ...}` for the measured batch.
 */
async function warmChild(kind: string, root: string, file: string) {
  await using store = new LocalObjectStore({ root, durable: false });
  await using ledger = new MemoryLedger();
  await runBatch(kind, store, ledger, batchOf(kind, file, WARMUP_SUFFIX).batch_id);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await runBatch(kind, store, ledger, batchOf(kind, file).batch_id);
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  console.log(`WARM ${JSON.stringify({ seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}`);
}

/** Batch id suffix of the warm-up copy converted before the measured batch. */
const WARMUP_SUFFIX = "-warmup";

/** One batch through the same code path the asset uses. */
async function runBatch(
  kind: string,
  store: LocalObjectStore,
  ledger: MemoryLedger,
  batchId: string,
) {
  const isRaster = kind === "raster";
  const common = {
    lake: store,
    ledger,
    gdal: await benchGdal(),
    engine: new SpatialiteEngine(),
    targetCrs: "EPSG:4326",
    landingBucket: "landing-zone",
    lakeBucket: "data-lake",
    batchId,
    runId: batchId,
  };
  if (isRaster) {
    await processRasterBatch(common);
  } else {
    const [out] = await processVectorBatch(common);
    console.log(JSON.stringify({ rows: out?.rows }));
  }
}

function line(label: string, ours: Measure, native: Measure, features?: number) {
  const rate = (m: Measure) =>
    features
      ? `${Math.round(features / m.seconds).toLocaleString("en")} features/s`
      : `${m.seconds.toFixed(2)} s`;
  console.log(
    `${label.padEnd(22)} ours ${ours.seconds.toFixed(2)} s (${rate(ours)}, peak ${
      ours.maxRssMiB.toFixed(0)
    } MiB)` +
      ` | native ${native.seconds.toFixed(2)} s (${rate(native)}, peak ${
        native.maxRssMiB.toFixed(0)
      } MiB)` +
      ` | ratio ${(native.seconds / ours.seconds).toFixed(2)}` +
      ` (ours/native ${(ours.seconds / native.seconds).toFixed(2)}x,` +
      ` memory ${(ours.maxRssMiB / native.maxRssMiB).toFixed(2)}x)` +
      ` (cpu ${ours.cpuSeconds.toFixed(2)} s vs ${native.cpuSeconds.toFixed(2)} s: ${
        (native.cpuSeconds / ours.cpuSeconds).toFixed(2)
      })`,
  );
}

/**
 * Warm measurement of one case: our side in one process after a warm-up
 * batch (the child times only the measured batch; peak RSS is the whole
 * process's), native's second run of the same command (OS cache warm; native
 * stays one process per conversion, as in a Python/GDAL pipeline).
 */
async function warm(
  kind: string,
  root: string,
  file: string,
  native: () => Promise<Measure>,
  expectedRows: number | undefined,
  engine: string,
): Promise<{ ours: Measure; native: Measure }> {
  await stageLanding(kind, root, file, WARMUP_SUFFIX);
  await stageLanding(kind, root, file);
  const self = new URL(import.meta.url).pathname;
  const out = await new Deno.Command("/usr/bin/time", {
    args: [
      "-f",
      "TIME %e %M %U %S",
      Deno.execPath(),
      "run",
      "-A",
      self,
      "--warm-child",
      kind,
      root,
      file,
    ],
    env: { BENCH_GDAL_ENGINE: engine },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (out.code !== 0) throw new Error(`warm ${kind} child failed: ${stderr}`);
  const json = stdout.match(/^WARM (.*)$/m)?.[1];
  const rss = stderr.match(/TIME [\d.]+ (\d+) /)?.[1];
  if (!json || !rss) throw new Error(`no warm timing in: ${stdout}\n${stderr}`);
  const measured = JSON.parse(json) as { seconds: number; cpuSeconds: number };
  // Both vector batches must have converted every feature, or the timing is meaningless.
  const rows = [...stdout.matchAll(/^\{"rows":(\d+)\}$/gm)].map((m) => Number(m[1]));
  if (expectedRows !== undefined && (rows.length !== 2 || rows.some((r) => r !== expectedRows))) {
    throw new Error(`warm ${kind}: expected 2 batches of ${expectedRows} rows, got ${rows}`);
  }
  return {
    ours: { ...measured, maxRssMiB: Number(rss) / 1024 },
    native: await native(),
  };
}

/** Runs the benchmark and prints its figures. */
export async function main(): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench-spatial-" });
  try {
    console.log(`generating ${POINTS} points, ${POLYGONS} polygons, ${RASTER_SIZE}² raster...`);
    await makeInputs(dir);
    const self = new URL(import.meta.url).pathname;
    for (
      const [label, kind, file, count] of [
        [`${POINTS} points`, "points", `${dir}/points.gpkg`, POINTS],
        [`${POLYGONS} polygons`, "polygons", `${dir}/polygons.gpkg`, POLYGONS],
      ] as const
    ) {
      // The same GDAL work our pipeline asks for: the input is already in the
      // target CRS (no reprojection), and only non-point layers are made valid.
      const validity = kind === "points" ? [] : ["-makevalid"];
      const runNative = async () => {
        // Same state as the cold run: no output file yet (the warm repeat only
        // has the input and GDAL's files in the OS cache).
        await Deno.remove(`${dir}/${kind}.fgb`).catch((e) => {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        });
        return await timed("ogr2ogr", [
          "-f",
          "FlatGeobuf",
          ...validity,
          `${dir}/${kind}.fgb`,
          file,
        ]);
      };
      for (const engine of ENGINES) {
        const root = `${dir}/store-${kind}-${engine}`;
        await stageLanding(kind, root, file);
        const ours = await timed(
          Deno.execPath(),
          ["run", "-A", self, "--child", kind, root, file],
          { BENCH_GDAL_ENGINE: engine },
        );
        const native = await runNative();
        line(`${label} -> GeoParquet [${engine}]`, ours, native, count);
        const w = await warm(kind, `${dir}/warm-${kind}-${engine}`, file, runNative, count, engine);
        line(`  warm [${engine}]`, w.ours, w.native, count);
      }
    }
    const runNative = async () => {
      await Deno.remove(`${dir}/native_cog.tif`).catch((e) => {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      });
      return await timed("gdal_translate", [
        ...COG_OPTIONS,
        `${dir}/raster.tif`,
        `${dir}/native_cog.tif`,
      ]);
    };
    for (const engine of ENGINES) {
      const root = `${dir}/store-raster-${engine}`;
      await stageLanding("raster", root, `${dir}/raster.tif`);
      const ours = await timed(
        Deno.execPath(),
        ["run", "-A", self, "--child", "raster", root, `${dir}/raster.tif`],
        { BENCH_GDAL_ENGINE: engine },
      );
      const native = await runNative();
      line(`${RASTER_SIZE}² raster -> COG [${engine}]`, ours, native);
      const w = await warm(
        "raster",
        `${dir}/warm-raster-${engine}`,
        `${dir}/raster.tif`,
        runNative,
        undefined,
        engine,
      );
      line(`  warm [${engine}]`, w.ours, w.native);
    }
    console.log(
      "(ratio = native time / our time; ours includes process and gdal3.js start-up, staging " +
        "from the landing zone, hashing, upload and ledger; the landing upload is done before timing)",
    );
    console.log(
      "(cold = each side in a fresh process; warm = ours is the second batch converted in one " +
        "process after a warm-up batch (other batch id/keys), timed inside the process end to end " +
        "(staging, conversion, write, hashing, upload, ledger) with peak RSS of the whole process; " +
        "native warm = second run of the same one-process-per-conversion command, OS cache warm)",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  if (Deno.args[0] === "--child") {
    await child(Deno.args[1]!, Deno.args[2]!, Deno.args[3]!);
  } else if (Deno.args[0] === "--warm-child") {
    await warmChild(Deno.args[1]!, Deno.args[2]!, Deno.args[3]!);
  } else {
    await main();
  }
}
