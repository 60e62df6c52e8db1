/**
 * The `wasm` {@linkcode GdalEngine}: GDAL in process, through gdal3.js (GDAL
 * 3.x compiled to WebAssembly, with PROJ, GEOS and SpatiaLite), the
 * zero-install default.
 *
 * gdal3.js keeps global state (one WebAssembly heap, one mounted folder) and
 * runs a call to its end on the thread that made it, so each instance lives
 * in a worker thread (`_gdal_wasm_worker.ts`) and runs one call at a time.
 * The engine keeps up to one instance per core (at most two, each heap may
 * grow to 2 GiB): calls made one after another only ever start one; calls
 * made at once (the parts of a large Shapefile, see
 * `assets/spatial/_chunks.ts`) run at once. An idle instance does not keep
 * the process alive; one whose runtime aborted is replaced.
 *
 * Files are exchanged through one real temporary folder mounted in every
 * instance at `/output` (Emscripten's NODEFS: GDAL reads and writes the real
 * files through system calls, nothing is copied into the heap, so inputs
 * larger than the heap are read as native GDAL reads them): each
 * {@linkcode GdalScratch} is a folder in it.
 *
 * Speed against native GDAL (issue 11's goal: the wasm engine >= 0.5x
 * native on a ~1 GB Shapefile and a ~2 GB GeoTIFF; bench/spatial.ts, large
 * inputs, on the 2-core machine shared with others):
 *
 * - 1.02 GB Shapefile, 1.77M polygons (load 3-5): 51.0 s (51.7 s of CPU on
 *   both cores) against 23.1 s (16.1 s of CPU) for native `ogr2ogr
 *   -makevalid` to FlatGeobuf: 2.21x the time, 0.45x speed, MISSED narrowly
 *   (0.27x before at 0.60 GB). Phases: convert 33.1 s (in two parts at once,
 *   `assets/spatial/_chunks.ts`), GeoParquet write 13.7 s, the rest ~4 s.
 *   What changed: the make-valid scan no longer asks GEOS about every row
 *   (1.7 s of CPU per 100k polygons): rows proven valid in JavaScript
 *   (`formats/valid_geometry.ts`) skip it, GEOS judges only the others
 *   (`assets/spatial/_make_valid.ts`); and vector files are read through
 *   GDAL's read cache (`VSI_CACHE`, `_gdal_wasm_worker.ts`), which took the
 *   conversion from 1.2-1.3 s to 0.7-0.85 s of CPU per 100k polygons. What
 *   is left: the writer (one thread, after the parts) and gdal3.js's
 *   conversion itself; writing the first parts to GeoParquet while the last
 *   ones convert (tried, two parts per instance, not kept) showed no gain
 *   measurable at load 6-9. Since (2026-12-06 (5)) such a Shapefile is
 *   streamed into a FlatGeobuf that the writer follows, as on the native
 *   engine, its rows needing `-makevalid` made valid apart while GDAL
 *   writes (`assets/spatial/_stream_valid.ts`): on 350k polygons the
 *   GeoPackage route took 13.5 s of CPU (parts 6.3 s, make-valid in place
 *   2.6 s, append 0.5 s, write 4.1 s), the stream 9.4 s at load 13 (GDAL
 *   2.8 s and the writer 2.5 s of it measured alone); not yet measured at
 *   full size (bench/spatial.ts);
 * - 2.08 GB float32 GeoTIFF (22627²), session of 2026-12-06 (4), A/B in one
 *   heavy run, load 4-7 (others' tests running): before, 191.4 s (164.6 s of
 *   CPU) against native gdal_translate to COG's 106.5 s (69.4 s of CPU);
 *   after, 82.4 s (78.8 s of CPU) against 113.1 s (78.7 s of CPU). The
 *   native wall times were inflated by the load, so the fair figure is CPU:
 *   2.37x native's CPU before, 1.00x after; against last session's quieter
 *   native run (63.2 s) 82.4 s is 0.77x speed: met. What changed: a COG with
 *   `COMPRESS=DEFLATE` (single band) is written by GDAL uncompressed and its
 *   tiles deflated with the predictor by the runtime's native zlib on two
 *   worker threads (`formats/tiff_deflate.ts`, `_cog_deflate.ts`): this
 *   build's WebAssembly zlib was ~70% of the CPU (128 MB float32: 10.9 s of
 *   CPU, 3.1 s with `COMPRESS=NONE`; Debian's GDAL with libdeflate 4.6 s);
 *   and the COG driver's temporary overviews are no longer LZW-compressed
 *   (`COG_TMP_COMPRESSION=NONE`: 2.8 s -> 2.1 s of the uncompressed 128 MB
 *   COG). Pixels, overviews, tags and layout are GDAL's own deflate's
 *   (tests/formats/tiff_deflate_test.ts); `GDAL_CACHEMAX` 1 GB instead of
 *   256 MB changed nothing measurable. Multi-band COGs stay wholly GDAL's
 *   (its uncompressed COG interleaves by band, the compressed one by pixel).
 *   Before that, at 0.51 GB:
 * - 0.51 GB float32 GeoTIFF: 41.8 s (41.3 s of CPU) against 22.3 s (20.9 s)
 *   for native gdal_translate to COG: 1.87x the time, 0.53x speed (before
 *   the deflate moved out of GDAL);
 * - starting an instance costs ~2.4 s of CPU (compiling 28 MB of
 *   WebAssembly), a second one ~1.4 s more;
 * - inputs larger than 2 GiB are read through the mount, never the heap
 *   (a raster read at a 3 GB offset in a sparse file gives its pixels).
 *
 * This build lacks some codecs (JPEG-in-TIFF among them): a file that needs
 * one fails with `spatial.codec_missing`, naming the codec and the remedy
 * (the native engine), never as a bad file.
 *
 * @example
 * ```ts
 * import { wasmGdal } from "./gdal_wasm.ts";
 * await using scratch = await wasmGdal.createScratch();
 * console.log(scratch.hostDir);
 * ```
 *
 * @module
 */

import { createRequire } from "node:module";
import path from "node:path";
import { Worker } from "node:worker_threads";
import {
  CRS_ADVICE,
  type CrsInfo,
  type GdalEngine,
  GdalError,
  gdalFailure,
  type GdalOps,
  type GdalScratch,
  labelOf,
  type OpenOptions,
  unversioned,
  type VectorInfo,
} from "./gdal.ts";
import { deflateTiffTiles, TiffDeflateUnsupported } from "../../formats/tiff_deflate.ts";
import { deflatePlan } from "./_cog_deflate.ts";
import { createOwnedFolder, removeAbandonedFolders } from "../_owned_folders.ts";
import {
  textOf,
  type WorkerAnswer,
  type WorkerCall,
  type WorkerInit,
} from "./_gdal_wasm_worker.ts";

/**
 * GDAL settings for work files: SQLite (GeoPackage) without fsync or a
 * rollback journal, and a larger page cache. Every system call from
 * WebAssembly to the mounted folder is costly, and work files are thrown
 * away if a run fails, so durability buys nothing here.
 */
const GDAL_ENV = {
  OGR_SQLITE_SYNCHRONOUS: "OFF",
  OGR_SQLITE_JOURNAL: "OFF",
  OGR_SQLITE_CACHE: "256",
  OGR_GPKG_NUM_THREADS: "1",
  // ogr2ogr's Arrow path fails in this 32-bit build on dates before 1970 or
  // after 2038 ("Invalid unixTime") and on empty layers (it starts a thread).
  OGR2OGR_USE_ARROW_API: "NO",
  GDAL_CACHEMAX: "256",
  // Emscripten's file system reports a made-up 2 GB free whatever the disk
  // has, so GDAL's check refuses any uncompressed COG larger than that.
  CHECK_DISK_FREE_SPACE: "FALSE",
  // The COG driver's temporary overviews, written and read back once: LZW
  // (GDAL's default) cost a quarter of an uncompressed COG's CPU here (128 MB
  // float32: 2.8 s -> 2.1 s); the disk holds them as they are for a moment.
  COG_TMP_COMPRESSION: "NONE",
};

/** Where gdal3.js sees the shared folder. */
const MOUNT = "/output";

/**
 * Most gdal3.js instances (worker threads) running at once: one per core, at
 * most two. Each has its own WebAssembly heap (up to 2 GiB), so more would
 * cost memory for no gain on a 2-core machine.
 */
const MAX_INSTANCES = Math.max(1, Math.min(2, navigator.hardwareConcurrency || 1));

/** One gdal3.js instance in a worker thread, running one call at a time. */
interface Instance {
  worker: Worker;
  /** Resolves to the build's driver names once the instance runs. */
  ready: Promise<Set<string>>;
  busy: boolean;
  pending: Map<number, { resolve: (a: WorkerAnswer) => void; reject: (e: Error) => void }>;
}

interface Runtime {
  hostDir: string;
  /** Short names of the build's drivers (raster and vector), as its first instance listed them. */
  drivers: Set<string>;
  instances: Instance[];
  /** Calls waiting for a free instance. */
  waiting: (() => void)[];
}

let runtime: Promise<Runtime> | undefined;
let nextId = 1;

/** Folder of gdal3.js's `.wasm` and `.data` files (also what `deno compile --include` needs). */
export function gdalWasmDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve("gdal3.js"));
}

const PREFIX = "gdal3js-";

/**
 * Removes the shared folders (and the SpatiaLite workspaces in them) of
 * processes that died without cleaning up, e.g. killed with SIGKILL: each
 * folder is locked by its owner for its whole life (`resources/_owned_folders.ts`),
 * and one whose lock nobody holds is stale. Returns the folders removed.
 */
export function removeStaleGdalFolders(tempDir?: string): Promise<string[]> {
  return removeAbandonedFolders(PREFIX, tempDir);
}

async function loadRuntime(): Promise<Runtime> {
  await removeStaleGdalFolders();
  const owned = await createOwnedFolder(PREFIX);
  const hostDir = owned.path;
  globalThis.addEventListener("unload", () => {
    try {
      owned.removeSync();
    } catch {
      // Best effort: a folder left here is removed by the next process's janitor.
    }
  });
  const rt: Runtime = { hostDir, drivers: new Set(), instances: [], waiting: [] };
  // The first instance starts now: it lists the build's drivers.
  const first = spawn(rt);
  rt.instances.push(first);
  rt.drivers = await first.ready;
  return rt;
}

/** Starts a gdal3.js instance in a worker thread, mounting the shared folder. */
function spawn(rt: Runtime): Instance {
  const worker = new Worker(new URL("./_gdal_wasm_worker.ts", import.meta.url));
  const instance: Instance = {
    worker,
    ready: Promise.resolve(new Set()),
    busy: false,
    pending: new Map(),
  };
  worker.on("message", (answer: WorkerAnswer) => {
    const waiter = instance.pending.get(answer.id);
    instance.pending.delete(answer.id);
    waiter?.resolve(answer);
  });
  const lost = (error: Error) => {
    retire(rt, instance);
    for (const waiter of instance.pending.values()) waiter.reject(error);
    instance.pending.clear();
  };
  worker.on("error", (error: Error) => lost(error));
  worker.on(
    "exit",
    (code: number) => lost(new Error(`the gdal3.js worker stopped (exit code ${code})`)),
  );
  // gdal3.js reads its data package with a path relative to the working
  // directory ("./" + path), so an absolute path must be made relative.
  const init: WorkerInit = {
    hostDir: rt.hostDir,
    wasmDir: path.relative(Deno.cwd(), gdalWasmDir()) || ".",
    env: GDAL_ENV,
  };
  instance.ready = send(instance, { id: 0, init }).then((answer) => {
    if ("error" in answer) {
      throw new Error(`Cannot start gdal3.js: ${answer.error.join(" | ") || "no reason given"}`);
    }
    return new Set(answer.ok.value as string[]);
  });
  // Started, it keeps the process alive only while it runs a call (see
  // acquire); a failed start is reported by the call that waits on it.
  instance.ready.then(() => {
    if (!instance.busy) worker.unref();
  }, () => {});
  return instance;
}

function send(
  instance: Instance,
  message: { id: number; init: WorkerInit } | { id: number; call: WorkerCall },
): Promise<WorkerAnswer> {
  return new Promise((resolve, reject) => {
    instance.pending.set(message.id, { resolve, reject });
    instance.worker.postMessage(message);
  });
}

/** Ends an instance (crashed, or its runtime aborted); the next call starts another. */
function retire(rt: Runtime, instance: Instance): void {
  const at = rt.instances.indexOf(instance);
  if (at < 0) return;
  rt.instances.splice(at, 1);
  void instance.worker.terminate();
  rt.waiting.shift()?.();
}

/**
 * A free instance for one call: an idle one, else a new one while fewer than
 * {@linkcode MAX_INSTANCES} run, else the first to finish. Calls made one
 * after another therefore only ever start one instance.
 */
async function acquire(rt: Runtime): Promise<Instance> {
  for (;;) {
    let instance = rt.instances.find((i) => !i.busy);
    if (instance === undefined && rt.instances.length < MAX_INSTANCES) {
      instance = spawn(rt);
      rt.instances.push(instance);
    }
    if (instance !== undefined) {
      instance.busy = true;
      // A working instance keeps the process alive; an idle one must not.
      instance.worker.ref();
      return instance;
    }
    await new Promise<void>((resume) => rt.waiting.push(resume));
  }
}

function release(rt: Runtime, instance: Instance): void {
  instance.busy = false;
  instance.worker.unref();
  rt.waiting.shift()?.();
}

/**
 * Runs one GDAL call on a free instance; throws a {@linkcode GdalError}
 * with GDAL's reason when it fails.
 */
async function gdalCall(
  rt: Runtime,
  call: WorkerCall,
  file: string,
  open: OpenOptions | undefined,
  action: string,
): Promise<{ type: string; value: unknown }> {
  const instance = await acquire(rt);
  let answer: WorkerAnswer;
  try {
    await instance.ready;
    answer = await send(instance, { id: nextId++, call });
  } catch (error) {
    retire(rt, instance);
    throw failure(action, file, open, error, []);
  } finally {
    release(rt, instance);
  }
  if ("error" in answer) {
    if (answer.fatal) retire(rt, instance);
    throw failure(action, file, open, answer.error, answer.stderr);
  }
  const label = open?.label ?? file;
  const words = (line: string) => line.replace(/^\w+ \d+:\s*/, "").replaceAll(file, label);
  open?.warnings?.push(...answer.stderr.filter((l) => /^Warning/i.test(l)).map(words));
  open?.errors?.push(...answer.stderr.filter((l) => /^ERROR/i.test(l)).map(words));
  return answer.ok;
}

/** GDAL's reason from what gdal3.js threw plus the call's stderr errors, deduplicated. */
function reasonOf(thrown: unknown, stderr: readonly string[], file: string, label: string): string {
  const recent = stderr.filter((line) => !/^Warning/i.test(line));
  // gdal3.js's own wrapper messages say nothing GDAL did not.
  const generic = /^(Pointer '\w+' is NULL|no dataset could be opened)/i;
  const parts = [...textOf(thrown), ...recent].flatMap((p) => p.split(" | "))
    .map((p) =>
      p.replace(/^ERROR \d+:\s*/i, "").replaceAll(file, label)
        .replace(/\/output\/job-[0-9a-f-]+\/(?:in\d+\/)?/g, "").trim()
    )
    .filter((p) => p !== "" && !generic.test(p));
  return [...new Set(parts)].slice(0, 4).join(" | ") ||
    textOf(thrown).join(" | ") || "GDAL gave no reason";
}

/** Codecs this gdal3.js build lacks, as GDAL names them in its errors. */
const MISSING_CODEC = /missing codec (\w+)|(\w+) compression support is not configured/i;

function failure(
  action: string,
  file: string,
  open: OpenOptions | undefined,
  thrown: unknown,
  stderr: readonly string[] = [],
) {
  const label = labelOf(file, open);
  const reason = reasonOf(thrown, stderr, file, label);
  const codec = MISSING_CODEC.exec(reason);
  if (codec) {
    const name = codec[1] ?? codec[2] ?? "a codec";
    return new GdalError(
      "spatial.codec_missing",
      `Cannot ${action} '${label}': the embedded GDAL (gdal3.js) lacks the ${name} codec ` +
        `this file uses (GDAL: ${reason}). The file may well be valid: install GDAL >= 3.6 ` +
        "(Debian: apt-get install gdal-bin) and run with GDAL_ENGINE=native (or unset, to " +
        "pick it automatically).",
      { input: label, gdalMessage: reason, cause: thrown },
    );
  }
  return gdalFailure(action, label, reason, thrown);
}

/** A call on `file`: what gdal3.js opens (a CSV through our wrapper), with which options. */
async function callOn(
  rt: Runtime,
  op: WorkerCall["op"],
  file: string,
  open: OpenOptions | undefined,
  args: string[],
  outputName?: string,
): Promise<WorkerCall> {
  if (/^GTIFF_DIR:\d+:/.test(file)) {
    // gdal3.js opens plain paths only: a page of a multi-page TIFF is out of its reach.
    const label = labelOf(file, open);
    const reason = "gdal3.js opens a multi-page TIFF as its first page only (GTIFF_DIR:)";
    throw new GdalError(
      "spatial.codec_missing",
      `Cannot read '${label}': the embedded GDAL (gdal3.js) cannot open the pages of a ` +
        `multi-page TIFF one by one (GDAL: ${reason}). The file may well be valid: install ` +
        "GDAL >= 3.6 (Debian: apt-get install gdal-bin) and run with GDAL_ENGINE=native " +
        "(or unset, to pick it automatically).",
      { input: label, gdalMessage: reason },
    );
  }
  // A KMZ's KML document is read inside it (assets/spatial/_kml.ts).
  const vfs = /\.zip(\/|$)|\.kmz\//i.test(file) ? ["vsizip"] : [];
  let target = file;
  let openOptions = [...(open?.openOptions ?? [])];
  if (file.startsWith("CSV:")) {
    // gdal3.js opens only plain paths, so the CSV: prefix (a CSV read as a
    // table, never as an XYZ raster) goes through an OGR VRT of our own.
    target = await csvWrapper(rt, file.slice(4), openOptions);
    openOptions = [];
  }
  return { op, target, openOptions, vfs, args, ...(outputName ? { outputName } : {}) };
}

const xml = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll(
    '"',
    "&quot;",
  );

/** Writes an OGR VRT beside the CSV at `gdalPath` that opens it with the CSV driver. */
async function csvWrapper(rt: Runtime, gdalPath: string, openOptions: string[]): Promise<string> {
  const layer = path.basename(gdalPath).replace(/\.[^.]*$/, "");
  const options = openOptions.map((o) => {
    const at = o.indexOf("=");
    return `<OOI key="${xml(o.slice(0, at))}">${xml(o.slice(at + 1))}</OOI>`;
  }).join("");
  const vrt = `<OGRVRTDataSource><OGRVRTLayer name="${xml(layer)}">` +
    `<SrcDataSource>CSV:${xml(gdalPath)}</SrcDataSource>` +
    `<OpenOptions>${options}</OpenOptions></OGRVRTLayer></OGRVRTDataSource>`;
  const wrapper = `${gdalPath.replace(/\.[^.]*$/, "")}.csv-table.vrt`;
  await Deno.writeTextFile(path.join(rt.hostDir, wrapper.slice(MOUNT.length + 1)), vrt);
  return wrapper;
}

function opsOf(rt: Runtime, scratchName: string): GdalOps {
  const out = (name: string) => `${scratchName}/${name}`;
  const hostOf = (gdalPath: string) => path.join(rt.hostDir, gdalPath.slice(MOUNT.length + 1));
  const crsCache = new Map<string, CrsInfo>();
  const ops: GdalOps = {
    // This build lacks some drivers Debian's GDAL has (JPEG 2000, netCDF, HDF, LIBKML for KMZ).
    hasDriver: (name) => rt.drivers.has(name),
    // gdal3.js has no gdalsrsinfo: an empty layer assigned the CRS tells what GDAL made of it.
    async crsInfo(crs) {
      const known = crsCache.get(crs);
      if (known) return known;
      const probe = `crs-probe-${crypto.randomUUID()}`;
      await Deno.writeTextFile(
        path.join(rt.hostDir, scratchName, `${probe}.geojson`),
        '{"type":"FeatureCollection","features":[]}',
      );
      const written = await ops.ogr2ogr(
        `${MOUNT}/${scratchName}/${probe}.geojson`,
        ["-f", "GPKG", "-a_srs", crs, "-nln", "probe"],
        `${probe}_out`,
        { label: crs },
      ).catch((error) => {
        throw error instanceof GdalError
          ? gdalFailure("resolve the CRS", crs, error.gdalMessage, error, CRS_ADVICE)
          : error;
      });
      const info = await ops.vectorInfo(written, { label: crs });
      const cs = info.layers[0]?.geometryFields[0]?.coordinateSystem;
      if (cs?.wkt === undefined || cs.projjson === undefined) {
        throw gdalFailure("resolve the CRS", crs, "GDAL assigned no CRS", undefined, CRS_ADVICE);
      }
      const resolved = { wkt: cs.wkt, projjson: unversioned(cs.projjson) };
      crsCache.set(crs, resolved);
      return resolved;
    },
    async vectorInfo(file, open) {
      const action = "read the vector dataset";
      const where = open?.where === undefined ? [] : ["-where", open.where];
      const call = await callOn(rt, "vectorInfo", file, open, ["-json", "-so", "-al", ...where]);
      const { type, value } = await gdalCall(rt, call, file, open, action);
      const info = value as Partial<VectorInfo>;
      // gdal3.js calls a dataset with bands "raster" even when it has layers too (a
      // GeoPackage of vector layers and a tile table, as QGIS users make): its layers count.
      if (
        !Array.isArray(info.layers) || (type !== "vector" && info.layers.length === 0)
      ) {
        throw failure(action, file, open, "it is not a vector dataset");
      }
      // Our own CSV wrapper reads the file with the CSV driver.
      const driver = file.startsWith("CSV:") ? "CSV" : info.driverShortName ?? "";
      // gdal3.js opens with every driver it has: a restriction is checked after.
      if (open?.drivers?.length && !open.drivers.includes(driver)) {
        throw failure(
          action,
          file,
          open,
          `it is read by ${driver}, not ${open.drivers.join(" or ")}`,
        );
      }
      return { driverShortName: driver, layers: info.layers };
    },
    async rasterInfo(file, options = [], open) {
      const action = "read the raster";
      const call = await callOn(rt, "rasterInfo", file, open, ["-json", ...options]);
      const { type, value } = await gdalCall(rt, call, file, open, action);
      if (type !== "raster") throw failure(action, file, open, "it is not a raster dataset");
      return value as Record<string, unknown>;
    },
    async ogr2ogr(file, options, outputName, open) {
      if (Object.keys(open?.config ?? {}).length > 0) {
        throw new RangeError(
          "The wasm GDAL engine (gdal3.js) runs with fixed settings and cannot take " +
            `configuration options per call (${Object.keys(open!.config!).join(", ")})`,
        );
      }
      const args = [...options, ...(open?.layers ?? [])];
      const call = await callOn(rt, "ogr2ogr", file, open, args, out(outputName));
      return (await gdalCall(rt, call, file, open, "convert the vector dataset")).value as string;
    },
    async translate(file, options, outputName, open) {
      const plan = deflatePlan(options);
      const bands = plan === undefined
        ? 0
        : ((await ops.rasterInfo(file, [], open)).bands as unknown[] | undefined)?.length;
      if (plan !== undefined && bands === 1) {
        // GDAL writes the COG uncompressed; its tiles are deflated outside the WebAssembly.
        const rawName = `${outputName}.uncompressed`;
        const rawCall = await callOn(rt, "translate", file, open, plan.gdalOptions, out(rawName));
        const raw = (await gdalCall(rt, rawCall, file, open, "convert the raster")).value as string;
        const final = raw.replace(`${rawName}.`, `${outputName}.`);
        try {
          await deflateTiffTiles(hostOf(raw), hostOf(final), plan.deflate);
          return final;
        } catch (error) {
          // A layout the deflater does not rewrite faithfully: GDAL compresses it, as before.
          if (!(error instanceof TiffDeflateUnsupported)) throw error;
          await Deno.remove(hostOf(final)).catch((e) => {
            if (!(e instanceof Deno.errors.NotFound)) throw e;
          });
        } finally {
          await Deno.remove(hostOf(raw));
        }
      }
      const call = await callOn(rt, "translate", file, open, [...options], out(outputName));
      return (await gdalCall(rt, call, file, open, "convert the raster")).value as string;
    },
    async warp(file, options, outputName, open) {
      const call = await callOn(rt, "warp", file, open, [...options], out(outputName));
      return (await gdalCall(rt, call, file, open, "warp the raster")).value as string;
    },
  };
  return ops;
}

/** Creates a scratch folder visible to gdal3.js; remove it with `await using`. */
async function createScratch(): Promise<GdalScratch & AsyncDisposable> {
  runtime ??= loadRuntime();
  const rt = await runtime;
  const name = `job-${crypto.randomUUID()}`;
  const hostDir = path.join(rt.hostDir, name);
  await Deno.mkdir(hostDir);
  return {
    hostDir,
    gdalPath: (relative) => `${MOUNT}/${name}/${relative}`,
    hostPath: (relative) => path.join(hostDir, relative),
    toHost: (gdalPath) => path.join(rt.hostDir, gdalPath.slice(MOUNT.length + 1)),
    gdal: opsOf(rt, name),
    [Symbol.asyncDispose]: () => Deno.remove(hostDir, { recursive: true }),
  };
}

/**
 * Ends every gdal3.js instance of this process at once, as a crash of their
 * worker threads would: each running call fails, and the next call starts a
 * new instance. Returns how many were ended. For tests of a lost worker
 * (a conversion killed while its output is read).
 */
export async function stopWasmInstances(): Promise<number> {
  if (runtime === undefined) return 0;
  const rt = await runtime;
  const instances = [...rt.instances];
  await Promise.all(instances.map((instance) => instance.worker.terminate()));
  return instances.length;
}

/** GDAL 3.x in gdal3.js: the version its build reports. */
const WASM_GDAL_VERSION = "3.8.4";

/** The `wasm` GDAL engine (gdal3.js); one per process, the runtime is shared. */
export const wasmGdal: GdalEngine = {
  kind: "wasm",
  version: WASM_GDAL_VERSION,
  detail: `gdal3.js (GDAL ${WASM_GDAL_VERSION} in WebAssembly, in worker threads of this process)`,
  parallelism: MAX_INSTANCES,
  createScratch,
};
