/**
 * GDAL in process, through gdal3.js (GDAL 3.x compiled to WebAssembly, with
 * PROJ, GEOS and SpatiaLite). The runtime is loaded once per process and every
 * call is serialised, because gdal3.js keeps global state (one WebAssembly
 * heap, one mounted folder).
 *
 * Files are exchanged through one real temporary folder mounted inside
 * gdal3.js at `/output`: callers get a {@linkcode GdalScratch} folder in it,
 * write inputs there with ordinary file APIs, and read GDAL's outputs back the
 * same way, so large files never have to be held in memory by JavaScript.
 *
 * @example
 * ```ts
 * import { withScratch } from "./gdal.ts";
 * await withScratch(async (scratch) => {
 *   const info = await scratch.gdal.vectorInfo(scratch.gdalPath("in.geojson"));
 *   console.log(info.layers.length);
 * });
 * ```
 *
 * @module
 */

import { createRequire } from "node:module";
import path from "node:path";
import initGdalJs from "gdal3.js/node.js";
import { PlatformError } from "../../core/errors.ts";

/** A GDAL call failed; `input` names the file. */
export class GdalError extends PlatformError {}

/** The subset of gdal3.js this module uses (gdal3.js ships no types for its Node entry). */
interface GdalJsDataset {
  pointer: number;
  path: string;
  type: string;
}
interface GdalJsFilePath {
  local: string;
  real: string;
}
interface GdalJs {
  open(
    file: string,
    options?: string[],
    vfsHandlers?: string[],
  ): Promise<{ datasets: GdalJsDataset[]; errors: unknown[] }>;
  close(dataset: GdalJsDataset): Promise<void>;
  ogr2ogr(dataset: GdalJsDataset, options: string[], outputName: string): Promise<GdalJsFilePath>;
  gdal_translate(
    dataset: GdalJsDataset,
    options: string[],
    outputName: string,
  ): Promise<GdalJsFilePath>;
  gdalinfo(dataset: GdalJsDataset, options?: string[]): Promise<unknown>;
  ogrinfo(dataset: GdalJsDataset, options?: string[]): Promise<unknown>;
}

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
  GDAL_CACHEMAX: "256",
};

/** Where gdal3.js sees the shared folder. */
const MOUNT = "/output";

interface Runtime {
  gdal: GdalJs;
  hostDir: string;
}

let runtime: Promise<Runtime> | undefined;
let queue: Promise<unknown> = Promise.resolve();
const stderrLines: string[] = [];

/** Folder of gdal3.js's `.wasm` and `.data` files (also what `deno compile --include` needs). */
export function gdalWasmDir(): string {
  const require = createRequire(import.meta.url);
  return path.dirname(require.resolve("gdal3.js"));
}

const PREFIX = "gdal3js-";
const OWNER_FILE = "owner.pid";

/**
 * Removes the shared folders (and the SpatiaLite workspaces in them) of
 * processes that died without cleaning up, e.g. killed with SIGKILL: each
 * folder records its owner's pid, and a folder whose owner is gone is stale.
 * Returns the folders removed.
 */
export async function removeStaleGdalFolders(tempDir?: string): Promise<string[]> {
  // Deno.makeTempDir creates under TMPDIR, else the system's /tmp.
  const parent = tempDir ?? Deno.env.get("TMPDIR") ?? "/tmp";
  const removed: string[] = [];
  for await (const entry of Deno.readDir(parent)) {
    if (!entry.isDirectory || !entry.name.startsWith(PREFIX)) continue;
    const dir = path.join(parent, entry.name);
    let pid: number;
    try {
      pid = Number((await Deno.readTextFile(path.join(dir, OWNER_FILE))).trim());
    } catch {
      continue; // Being created, or not ours: leave it.
    }
    if (pid === Deno.pid || !Number.isInteger(pid) || await isAlive(pid)) continue;
    try {
      await Deno.remove(dir, { recursive: true });
      removed.push(dir);
    } catch (error) {
      // Another process starting at the same time may have removed it first.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return removed;
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      // Without /proc (not Linux) nothing can be told: keep the folder.
      return !(await Deno.stat("/proc/self").then(() => true, () => false));
    }
    return true;
  }
}

async function loadRuntime(): Promise<Runtime> {
  if (Deno.build.os === "linux") await removeStaleGdalFolders();
  const hostDir = await Deno.makeTempDir({ prefix: PREFIX });
  await Deno.writeTextFile(path.join(hostDir, OWNER_FILE), String(Deno.pid));
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(hostDir, { recursive: true });
    } catch {
      // Best effort: the OS cleans its temp folder anyway.
    }
  });
  // gdal3.js reads its data package with a path relative to the working
  // directory ("./" + path), so an absolute path must be made relative.
  const wasmDir = path.relative(Deno.cwd(), gdalWasmDir()) || ".";
  const gdal =
    await (initGdalJs as unknown as (config: Record<string, unknown>) => Promise<GdalJs>)(
      {
        path: wasmDir,
        dest: hostDir,
        env: GDAL_ENV,
        useWorker: false,
        // GDAL chatters warnings on stderr; keep the latest for error messages.
        logHandler: () => {},
        errorHandler: (message: string) => {
          stderrLines.push(message);
          if (stderrLines.length > 20) stderrLines.shift();
        },
      },
    );
  return { gdal, hostDir };
}

/** Runs `fn` with exclusive use of gdal3.js. */
async function exclusive<T>(fn: (rt: Runtime) => Promise<T>): Promise<T> {
  runtime ??= loadRuntime();
  const rt = await runtime;
  const run = queue.then(() => fn(rt));
  queue = run.catch(() => undefined);
  return await run;
}

function gdalFailure(action: string, file: string, thrown: unknown): GdalError {
  const detail = typeof thrown === "object" && thrown !== null && "message" in thrown
    ? String((thrown as { message: unknown }).message)
    : String(thrown);
  const recent = stderrLines.filter((line) => !/^Warning/.test(line)).slice(-3).join(" | ");
  stderrLines.length = 0;
  return new GdalError(
    "spatial.gdal_failed",
    `Cannot ${action} '${path.basename(file)}': ${detail || recent || "GDAL gave no reason"}. ` +
      `Check that the file is a valid, complete dataset of the declared format.`,
    { input: file, cause: thrown },
  );
}

/** One vector layer as `ogrinfo -json` describes it. */
export interface VectorLayerInfo {
  /** Layer name. */
  name: string;
  /** Number of features. */
  featureCount: number;
  /** Geometry fields (type name such as `Point`, extent, CRS). */
  geometryFields: {
    name: string;
    type: string;
    extent?: number[];
    coordinateSystem?: { wkt?: string; projjson?: Record<string, unknown> };
  }[];
  /** Attribute fields. */
  fields: { name: string; type: string }[];
}

/** What `ogrinfo -json -so` says about a vector dataset. */
export interface VectorInfo {
  /** GDAL driver short name, e.g. `GeoJSON`, `ESRI Shapefile`, `GPKG`, `FlatGeobuf`. */
  driverShortName: string;
  /** Its layers. */
  layers: VectorLayerInfo[];
}

/** Operations available inside a {@linkcode GdalScratch}; each runs exclusively. */
export interface GdalOps {
  /** Describes a vector dataset; fails if GDAL cannot open it as vector. */
  vectorInfo(file: string, vfs?: string[]): Promise<VectorInfo>;
  /** `gdalinfo -json` with the given extra options (e.g. `-stats`). */
  rasterInfo(file: string, options?: string[]): Promise<Record<string, unknown>>;
  /** `ogr2ogr`: returns the gdal path of the output (extension added by driver). */
  ogr2ogr(file: string, options: string[], outputName: string, vfs?: string[]): Promise<string>;
  /** `gdal_translate`: returns the gdal path of the output. */
  translate(file: string, options: string[], outputName: string): Promise<string>;
}

/** A private folder shared between the host and gdal3.js, removed after use. */
export interface GdalScratch {
  /** Real path of the folder, for Deno file APIs. */
  readonly hostDir: string;
  /** Relative name of the folder under the gdal3.js mount. */
  readonly name: string;
  /** The path GDAL sees for a file `relative` inside the folder. */
  gdalPath(relative: string): string;
  /** The real path of a file `relative` inside the folder. */
  hostPath(relative: string): string;
  /** The real path of a path GDAL returned. */
  toHost(gdalPath: string): string;
  /** GDAL operations. */
  readonly gdal: GdalOps;
}

async function withDataset<T>(
  rt: Runtime,
  file: string,
  vfs: string[],
  action: string,
  fn: (ds: GdalJsDataset) => Promise<T>,
): Promise<T> {
  let opened: { datasets: GdalJsDataset[]; errors: unknown[] };
  try {
    opened = await rt.gdal.open(file, [], vfs);
  } catch (error) {
    throw gdalFailure(action, file, error);
  }
  const ds = opened.datasets[0];
  if (ds === undefined) {
    throw gdalFailure(action, file, opened.errors[0] ?? "no dataset could be opened");
  }
  try {
    return await fn(ds);
  } catch (error) {
    throw error instanceof GdalError ? error : gdalFailure(action, file, error);
  } finally {
    await rt.gdal.close(ds);
  }
}

const ops: GdalOps = {
  vectorInfo: (file, vfs = []) =>
    exclusive((rt) =>
      withDataset(rt, file, vfs, "read the vector dataset", async (ds) => {
        const info = await rt.gdal.ogrinfo(ds, ["-json", "-so", "-al"]) as Partial<VectorInfo>;
        if (ds.type !== "vector" || !Array.isArray(info.layers)) {
          throw gdalFailure("read the vector dataset", file, "it is not a vector dataset");
        }
        return { driverShortName: info.driverShortName ?? "", layers: info.layers };
      })
    ),
  rasterInfo: (file, options = []) =>
    exclusive((rt) =>
      withDataset(rt, file, [], "read the raster", async (ds) => {
        if (ds.type !== "raster") {
          throw gdalFailure("read the raster", file, "it is not a raster dataset");
        }
        return await rt.gdal.gdalinfo(ds, ["-json", ...options]) as Record<string, unknown>;
      })
    ),
  ogr2ogr: (file, options, outputName, vfs = []) =>
    exclusive((rt) =>
      withDataset(rt, file, vfs, "convert the vector dataset", async (ds) => {
        stderrLines.length = 0;
        return (await rt.gdal.ogr2ogr(ds, options, outputName)).local;
      })
    ),
  translate: (file, options, outputName) =>
    exclusive((rt) =>
      withDataset(rt, file, [], "convert the raster", async (ds) => {
        stderrLines.length = 0;
        return (await rt.gdal.gdal_translate(ds, options, outputName)).local;
      })
    ),
};

/**
 * Creates a scratch folder visible to gdal3.js; remove it with
 * `await using` or {@linkcode withScratch}.
 */
export async function createScratch(): Promise<GdalScratch & AsyncDisposable> {
  runtime ??= loadRuntime();
  const rt = await runtime;
  const name = `job-${crypto.randomUUID()}`;
  const hostDir = path.join(rt.hostDir, name);
  await Deno.mkdir(hostDir);
  return {
    hostDir,
    name,
    gdalPath: (relative) => `${MOUNT}/${name}/${relative}`,
    hostPath: (relative) => path.join(hostDir, relative),
    toHost: (gdalPath) => path.join(rt.hostDir, gdalPath.slice(MOUNT.length + 1)),
    gdal: ops,
    [Symbol.asyncDispose]: () => Deno.remove(hostDir, { recursive: true }),
  };
}

/**
 * Creates a scratch folder visible to gdal3.js, runs `fn`, and removes the
 * folder afterwards whatever happens.
 */
export async function withScratch<T>(fn: (scratch: GdalScratch) => Promise<T>): Promise<T> {
  await using scratch = await createScratch();
  return await fn(scratch);
}
