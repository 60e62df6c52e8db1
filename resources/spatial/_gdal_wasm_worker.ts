/**
 * One gdal3.js instance in a worker thread (see `gdal_wasm.ts`, which keeps a
 * pool of them): it takes one call at a time from the parent, runs it in its
 * own WebAssembly heap and answers with GDAL's result, or with what gdal3.js
 * threw plus GDAL's stderr errors of that call, for the parent to word.
 *
 * The parent sends `{ init }` once (the shared folder to mount, the gdal3.js
 * folder, GDAL's settings), then `{ id, call }` messages; every answer
 * carries the call's `id`. An answer with `fatal` means the WebAssembly
 * runtime aborted: the parent ends this worker and starts another.
 *
 * @module
 */

import { parentPort } from "node:worker_threads";
import { isBenignGdalError } from "./_benign_errors.ts";

/** The subset of gdal3.js this worker uses. */
interface GdalJsDataset {
  pointer: number;
  path: string;
  type: string;
}
interface GdalJs {
  /** The drivers of the build, by short name. */
  drivers: { raster: Record<string, unknown>; vector: Record<string, unknown> };
  open(
    file: string,
    options?: string[],
    vfsHandlers?: string[],
  ): Promise<{ datasets: GdalJsDataset[]; errors: unknown[] }>;
  close(dataset: GdalJsDataset): Promise<void>;
  ogr2ogr(
    dataset: GdalJsDataset,
    options: string[],
    outputName: string,
  ): Promise<{ local: string }>;
  gdal_translate(
    dataset: GdalJsDataset,
    options: string[],
    outputName: string,
  ): Promise<{ local: string }>;
  gdalwarp(
    dataset: GdalJsDataset,
    options: string[],
    outputName: string,
  ): Promise<{ local: string }>;
  gdalinfo(dataset: GdalJsDataset, options?: string[]): Promise<unknown>;
  ogrinfo(dataset: GdalJsDataset, options?: string[]): Promise<unknown>;
  /** The Emscripten module, to call GDAL's C API directly. */
  Module: {
    ccall(name: string, returns: null, types: string[], args: string[]): void;
  };
}

/**
 * `VSI_CACHE` for each kind of call. Vector files are read a record at a
 * time, each read a system call through Emscripten's file system (a seek
 * and a read per Shapefile record): GDAL's read cache (32 KB blocks, 25 MB
 * a file) cut gdal3.js's CPU converting 100k polygons from a Shapefile to a
 * GeoPackage from 1.20-1.34 s to 0.81-0.85 s. Rasters are read in whole
 * tiles already, and the cache's copies cost more than they save (a 268 MB
 * float32 GeoTIFF to COG: 22.1 s of CPU with it, 20.7 s without).
 */
const VSI_CACHE: Record<WorkerCall["op"], string> = {
  vectorInfo: "TRUE",
  ogr2ogr: "TRUE",
  rasterInfo: "FALSE",
  translate: "FALSE",
  warp: "FALSE",
};

/** What the parent sends first. */
export interface WorkerInit {
  /** Real folder mounted at `/output`. */
  hostDir: string;
  /** gdal3.js's folder, relative to the working directory (gdal3.js's own rule). */
  wasmDir: string;
  /** GDAL configuration options. */
  env: Record<string, string>;
}

/** One GDAL call. */
export interface WorkerCall {
  op: "vectorInfo" | "rasterInfo" | "ogr2ogr" | "translate" | "warp";
  /** Path GDAL opens (under `/output`). */
  target: string;
  openOptions: string[];
  vfs: string[];
  /** The application's arguments (ogrinfo / gdalinfo / ogr2ogr / gdal_translate). */
  args: string[];
  /** Output name (ogr2ogr / translate): relative to `/output`, without extension. */
  outputName?: string;
}

/** A call's answer. */
export type WorkerAnswer =
  & { id: number; stderr: string[] }
  & (
    | { ok: { type: string; value: unknown } }
    | { error: string[]; fatal?: boolean }
  );

/** The text of what gdal3.js threw: an Error, a string, or its `[{no, message}]` lists. */
export function textOf(thrown: unknown): string[] {
  if (thrown === undefined || thrown === null) return [];
  if (typeof thrown === "string") return [thrown];
  if (thrown instanceof Error) return [thrown.message];
  if (Array.isArray(thrown)) return thrown.flatMap(textOf);
  if (typeof thrown === "object") {
    const message = (thrown as Record<string, unknown>).message;
    return typeof message === "string" ? [message] : [JSON.stringify(thrown)];
  }
  return [String(thrown)];
}

let gdal: GdalJs | undefined;
/** Id of the call running, until it is answered. */
let current: number | undefined;
const stderr: string[] = [];

async function start(init: WorkerInit): Promise<void> {
  // gdal3.js's Node build assigns `global.location`, a getter-only property
  // of a worker's global scope: give it a plain one first.
  Object.defineProperty(globalThis, "location", {
    value: { pathname: "./" },
    writable: true,
    configurable: true,
  });
  const { default: initGdalJs } = await import("gdal3.js/node.js");
  gdal = await (initGdalJs as unknown as (config: Record<string, unknown>) => Promise<GdalJs>)({
    path: init.wasmDir,
    dest: init.hostDir,
    env: init.env,
    useWorker: false,
    // GDAL chatters warnings on stderr; the parent keeps the errors for its messages.
    logHandler: () => {},
    errorHandler: (message: string) => {
      stderr.push(message);
      if (stderr.length > 20) stderr.shift();
    },
  });
}

async function run(call: WorkerCall): Promise<{ type: string; value: unknown }> {
  const g = gdal!;
  // Read when a file is opened (set per call: one instance serves both kinds).
  g.Module.ccall("CPLSetConfigOption", null, ["string", "string"], [
    "VSI_CACHE",
    VSI_CACHE[call.op],
  ]);
  const opened = await g.open(call.target, call.openOptions, call.vfs);
  const ds = opened.datasets[0];
  if (ds === undefined) {
    throw opened.errors.length > 0 ? opened.errors : "no dataset could be opened";
  }
  // An info call's caller is told what GDAL reported while opening (a truncated
  // file's real cause); a conversion's errors are its own only.
  const atOpen = stderr.filter((l) => /^ERROR/i.test(l));
  try {
    stderr.length = 0;
    let value: unknown;
    if (call.op === "vectorInfo") {
      value = await g.ogrinfo(ds, call.args).catch((error: unknown) => {
        // A layer with an infinite or NaN coordinate has an extent ogrinfo writes as
        // `Infinity`/`nan`, which is no JSON: read it again without extents, so that the
        // geometry checks name the file's problem (as the native engine, which reads
        // its layers' facts without JSON, does).
        if (!(error instanceof SyntaxError)) throw error;
        return g.ogrinfo(ds, [...call.args, "-noextent"]);
      });
    } else if (call.op === "rasterInfo") value = await g.gdalinfo(ds, call.args);
    else {
      const written = call.op === "ogr2ogr"
        ? await g.ogr2ogr(ds, call.args, call.outputName!)
        : call.op === "warp"
        ? await g.gdalwarp(ds, call.args, call.outputName!)
        : await g.gdal_translate(ds, call.args, call.outputName!);
      // gdal3.js resolves even when GDAL gave up half-way; its stderr says so.
      const errors = stderr.filter((l) => /^(ERROR|FAILURE)/i.test(l) && !isBenignGdalError(l));
      if (errors.length > 0) throw errors.join(" | ");
      value = written.local;
    }
    if (call.op === "vectorInfo" || call.op === "rasterInfo") stderr.unshift(...atOpen);
    return { type: ds.type, value };
  } finally {
    await g.close(ds);
  }
}

/** Whether the WebAssembly runtime itself failed (it cannot be trusted afterwards). */
function isFatal(thrown: unknown): boolean {
  return thrown instanceof WebAssembly.RuntimeError ||
    (thrown instanceof Error && /^Aborted\(|RuntimeError/.test(thrown.message));
}

// Imported by the parent for its types and textOf: only a worker listens.
if (parentPort !== null) {
  parentPort.on(
    "message",
    async (message: { init?: WorkerInit; id?: number; call?: WorkerCall }) => {
      if (message.init !== undefined) {
        try {
          await start(message.init);
          const drivers = [
            ...Object.keys(gdal!.drivers.raster),
            ...Object.keys(gdal!.drivers.vector),
          ];
          parentPort!.postMessage({ id: 0, stderr: [], ok: { type: "init", value: drivers } });
        } catch (error) {
          parentPort!.postMessage({
            id: 0,
            stderr: [...stderr],
            error: textOf(error),
            fatal: true,
          });
        }
        return;
      }
      const id = message.id!;
      current = id;
      stderr.length = 0;
      let answer: WorkerAnswer;
      try {
        const ok = await run(message.call!);
        // The warnings and errors of a call that succeeded, for the caller (see
        // OpenOptions.warnings and errors).
        answer = { id, stderr: stderr.filter((l) => /^(Warning|ERROR)/i.test(l)), ok };
      } catch (error) {
        answer = { id, stderr: [...stderr], error: textOf(error), fatal: isFatal(error) };
      }
      if (current !== id) return; // Already answered as failed (see below).
      current = undefined;
      stderr.length = 0;
      parentPort!.postMessage(answer);
    },
  );
  // gdal3.js lets some failures escape its promises (a file system error
  // while it mounts a file): that is the running call's failure, with its
  // message, and this runtime is not trusted again. With no call running
  // the error stays unhandled and ends the worker.
  globalThis.addEventListener("unhandledrejection", (event) => {
    if (current === undefined) return;
    event.preventDefault();
    parentPort!.postMessage(
      {
        id: current,
        stderr: [...stderr],
        error: textOf(event.reason),
        fatal: true,
      } satisfies WorkerAnswer,
    );
    current = undefined;
  });
}
