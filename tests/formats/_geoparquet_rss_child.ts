/**
 * Child of geoparquet_memory_test.ts and bench/spatial.ts: makes a SQLite
 * layer of N points with a text attribute, then writes it as GeoParquet in a
 * process of its own (run with the commands' V8 flags, core/cli/v8_flags.ts)
 * and prints `{"rows":N,"peakRssMiB":...,"seconds":...,"bytes":...}`: the
 * writing process's peak RSS (Linux: /proc/self/status VmHWM).
 *
 * The layer is made in another process (`--make`): made in the writing one,
 * its garbage (~50 MiB more V8 heap at 1.2M rows than at 300k) was resident
 * when the writer started and counted in the writer's peak.
 *
 * With `--live`, the writing process also prints `peakLiveMiB`: the most
 * memory the writer kept reachable, sampled every {@linkcode LIVE_SAMPLE_MS}
 * ms during the write and once at its end, each sample after a full
 * garbage collection (`gc()`, run with `--expose-gc`): V8 heap used, plus
 * external memory (ArrayBuffers: Arrow and IPC buffers, SQLite blobs,
 * output chunks; swept at once with `--no-concurrent-array-buffer-sweeping`
 * so that the figure is not lagging), plus parquet-wasm's WebAssembly memory.
 * Unlike the peak RSS, it does not depend on when V8 collects, so not on
 * the machine's load (geoparquet_memory_test.ts).
 *
 * Usage: deno run -A tests/formats/_geoparquet_rss_child.ts ROWS DIR [--live]
 */

import { DatabaseSync } from "node:sqlite";
import process from "node:process";
import * as parquet from "parquet-wasm";
import { sqliteToGeoParquet } from "../../formats/geoparquet.ts";
import { V8_FLAGS, v8FlagsOption } from "../../core/cli/v8_flags.ts";

/** Milliseconds between two samples of the live memory (`--live`). */
const LIVE_SAMPLE_MS = 20;

/** V8 flags `--live` adds to the commands' ones: a `gc()` to call, ArrayBuffers freed by it. */
const LIVE_V8_FLAGS = ["--expose-gc", "--no-concurrent-array-buffer-sweeping"];

function peakRssMiB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

/** Writes the layer of `rows` points into `dir`/layer.sqlite. */
function makeLayer(rows: number, dir: string): void {
  const db = new DatabaseSync(`${dir}/layer.sqlite`);
  db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
  db.exec("CREATE TABLE layer (fid INTEGER PRIMARY KEY, name TEXT, value REAL, geom BLOB)");
  const insert = db.prepare("INSERT INTO layer (name, value, geom) VALUES (?, ?, ?)");
  const wkb = new Uint8Array(21);
  const view = new DataView(wkb.buffer);
  view.setUint8(0, 1);
  view.setUint32(1, 1, true);
  db.exec("BEGIN");
  for (let i = 0; i < rows; i++) {
    view.setFloat64(5, -180 + ((i * 0.6180339887498949) % 360), true);
    view.setFloat64(13, -85 + ((i * 0.41421356237309515) % 170), true);
    insert.run(`feature ${i} `.padEnd(48, "."), i / 7, wkb);
    if (i % 100_000 === 99_999) db.exec("COMMIT; BEGIN");
  }
  db.exec("COMMIT");
  db.close();
}

/** The memory reachable now (MiB), after a full collection: see the module doc. */
function liveMiB(): number {
  (globalThis as unknown as { gc(): void }).gc();
  const { heapUsed, external } = process.memoryUsage();
  return (heapUsed + external + parquet.wasmMemory().buffer.byteLength) / 2 ** 20;
}

/** Writes `dir`/layer.sqlite as GeoParquet and prints the figures. */
async function writeLayer(dir: string, live: boolean): Promise<void> {
  let peakLive = 0;
  const sample = () => (peakLive = Math.max(peakLive, liveMiB()));
  const timer = live ? setInterval(sample, LIVE_SAMPLE_MS) : undefined;
  const start = performance.now();
  const result = await sqliteToGeoParquet(`${dir}/layer.sqlite`, "layer", `${dir}/layer.parquet`, {
    crs: { type: "GeographicCRS", name: "WGS 84" },
  });
  const seconds = (performance.now() - start) / 1000;
  clearInterval(timer);
  if (live) sample();
  console.log(JSON.stringify({
    rows: result.rows,
    peakRssMiB: Math.round(peakRssMiB()),
    seconds,
    bytes: (await Deno.stat(`${dir}/layer.parquet`)).size,
    ...(live ? { peakLiveMiB: Math.round(peakLive) } : {}),
  }));
}

async function run(args: string[], flags: readonly string[] = V8_FLAGS): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", v8FlagsOption(flags), import.meta.filename!, ...args],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!out.success) Deno.exit(out.code || 1);
}

if (Deno.args[0] === "--make") makeLayer(Number(Deno.args[1]), Deno.args[2]!);
else if (Deno.args[0] === "--write") await writeLayer(Deno.args[1]!, Deno.args[2] === "--live");
else {
  const [rows, dir, mode] = Deno.args;
  const live = mode === "--live";
  await run(["--make", rows!, dir!]);
  await run(
    ["--write", dir!, ...(live ? ["--live"] : [])],
    live ? [...V8_FLAGS, ...LIVE_V8_FLAGS] : V8_FLAGS,
  );
}
