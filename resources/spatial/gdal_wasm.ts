/**
 * The `wasm` {@linkcode GdalEngine}: GDAL in process, through gdal3.js (GDAL
 * 3.x compiled to WebAssembly, with PROJ, GEOS and SpatiaLite), the
 * zero-install default. The runtime is loaded once per process and every call
 * is serialised, because gdal3.js keeps global state (one WebAssembly heap,
 * one mounted folder).
 *
 * Files are exchanged through one real temporary folder mounted inside
 * gdal3.js at `/output`: each {@linkcode GdalScratch} is a folder in it.
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
import initGdalJs from "gdal3.js/node.js";
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
  type VectorInfo,
} from "./gdal.ts";

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
  /** The drivers of the build, by short name. */
  drivers: { raster: Record<string, unknown>; vector: Record<string, unknown> };
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
  // ogr2ogr's Arrow path fails in this 32-bit build on dates before 1970 or
  // after 2038 ("Invalid unixTime") and on empty layers (it starts a thread).
  OGR2OGR_USE_ARROW_API: "NO",
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
async function exclusive<T>(fn: () => Promise<T>): Promise<T> {
  const run = queue.then(fn);
  queue = run.catch(() => undefined);
  return await run;
}

/** The text of what gdal3.js threw: an Error, a string, or its `[{no, message}]` lists. */
function textOf(thrown: unknown): string[] {
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

/** GDAL's reason from what gdal3.js threw plus its recent stderr errors, deduplicated. */
function reasonOf(thrown: unknown, file: string, label: string): string {
  const recent = stderrLines.filter((line) => !/^Warning/i.test(line));
  stderrLines.length = 0;
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

function failure(action: string, file: string, open: OpenOptions | undefined, thrown: unknown) {
  const label = labelOf(file, open);
  const reason = reasonOf(thrown, file, label);
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

async function withDataset<T>(
  rt: Runtime,
  file: string,
  open: OpenOptions | undefined,
  action: string,
  fn: (ds: GdalJsDataset) => Promise<T>,
): Promise<T> {
  let opened: { datasets: GdalJsDataset[]; errors: unknown[] };
  stderrLines.length = 0;
  const vfs = /\.zip$/i.test(file) ? ["vsizip"] : [];
  let target = file;
  let openOptions = [...(open?.openOptions ?? [])];
  if (file.startsWith("CSV:")) {
    // gdal3.js opens only plain paths, so the CSV: prefix (a CSV read as a
    // table, never as an XYZ raster) goes through an OGR VRT of our own.
    target = await csvWrapper(rt, file.slice(4), openOptions);
    openOptions = [];
  }
  try {
    opened = await rt.gdal.open(target, openOptions, vfs);
  } catch (error) {
    throw failure(action, file, open, error);
  }
  const ds = opened.datasets[0];
  if (ds === undefined) {
    throw failure(action, file, open, opened.errors[0] ?? "no dataset could be opened");
  }
  try {
    return await fn(ds);
  } catch (error) {
    throw error instanceof GdalError ? error : failure(action, file, open, error);
  } finally {
    await rt.gdal.close(ds);
  }
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
  const crsCache = new Map<string, CrsInfo>();
  const ops: GdalOps = {
    // This build lacks some drivers Debian's GDAL has (JPEG 2000, netCDF, HDF, LIBKML for KMZ).
    hasDriver: (name) => name in rt.gdal.drivers.raster || name in rt.gdal.drivers.vector,
    // gdal3.js has no gdalsrsinfo: an empty layer assigned the CRS tells what GDAL made of it.
    async crsInfo(crs) {
      const known = crsCache.get(crs);
      if (known) return known;
      const probe = `crs-probe-${crsCache.size}`;
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
      const resolved = { wkt: cs.wkt, projjson: cs.projjson };
      crsCache.set(crs, resolved);
      return resolved;
    },
    vectorInfo: (file, open) =>
      exclusive(() =>
        withDataset(rt, file, open, "read the vector dataset", async (ds) => {
          const where = open?.where === undefined ? [] : ["-where", open.where];
          const info = await rt.gdal.ogrinfo(ds, ["-json", "-so", "-al", ...where]) as Partial<
            VectorInfo
          >;
          if (ds.type !== "vector" || !Array.isArray(info.layers)) {
            throw failure("read the vector dataset", file, open, "it is not a vector dataset");
          }
          // Our own CSV wrapper reads the file with the CSV driver.
          const driver = file.startsWith("CSV:") ? "CSV" : info.driverShortName ?? "";
          return { driverShortName: driver, layers: info.layers };
        })
      ),
    rasterInfo: (file, options = [], open) =>
      exclusive(() =>
        withDataset(rt, file, open, "read the raster", async (ds) => {
          if (ds.type !== "raster") {
            throw failure("read the raster", file, open, "it is not a raster dataset");
          }
          return await rt.gdal.gdalinfo(ds, ["-json", ...options]) as Record<string, unknown>;
        })
      ),
    ogr2ogr: (file, options, outputName, open) => {
      if (Object.keys(open?.config ?? {}).length > 0) {
        throw new RangeError(
          "The wasm GDAL engine (gdal3.js) runs with fixed settings and cannot take " +
            `configuration options per call (${Object.keys(open!.config!).join(", ")})`,
        );
      }
      return exclusive(() =>
        withDataset(rt, file, open, "convert the vector dataset", async (ds) => {
          stderrLines.length = 0;
          const args = [...options, ...(open?.layers ?? [])];
          const written = (await rt.gdal.ogr2ogr(ds, args, out(outputName))).local;
          // gdal3.js resolves even when GDAL gave up half-way; its stderr says so.
          const errors = stderrLines.filter((l) => /^(ERROR|FAILURE)/i.test(l));
          if (errors.length > 0) throw errors.join(" | ");
          return written;
        })
      );
    },
    translate: (file, options, outputName, open) =>
      exclusive(() =>
        withDataset(rt, file, open, "convert the raster", async (ds) => {
          stderrLines.length = 0;
          const written = (await rt.gdal.gdal_translate(ds, options, out(outputName))).local;
          const errors = stderrLines.filter((l) => /^(ERROR|FAILURE)/i.test(l));
          if (errors.length > 0) throw errors.join(" | ");
          return written;
        })
      ),
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

/** GDAL 3.x in gdal3.js: the version its build reports. */
const WASM_GDAL_VERSION = "3.8.4";

/** The `wasm` GDAL engine (gdal3.js); one per process, the runtime is shared. */
export const wasmGdal: GdalEngine = {
  kind: "wasm",
  version: WASM_GDAL_VERSION,
  detail: `gdal3.js (GDAL ${WASM_GDAL_VERSION} in WebAssembly, in this process)`,
  createScratch,
};
