/**
 * The `native` {@linkcode GdalEngine}: the machine's GDAL (Debian `gdal-bin`,
 * >= 3.6) run as subprocesses — `ogrinfo`, `ogr2ogr`, `gdalinfo`,
 * `gdal_translate`, `gdalsrsinfo` — on files in a local scratch folder
 * (zipped inputs through `/vsizip/`).
 *
 * Why subprocesses and not Deno FFI to libgdal: a one-file batch costs a
 * handful of GDAL calls, and a process start is about 15-30 ms of that
 * (measured by `bench/spatial.ts`, where the native engine stays within the
 * issue's 1.5x of bare ogr2ogr/gdal_translate), while FFI would need
 * `--allow-ffi` for the whole app (a compromised dependency could then call
 * any C function), bindings for ~40 C functions with manual memory handling,
 * and would take the daemon down with GDAL whenever a corrupt file makes it
 * crash; a subprocess just fails with GDAL's own message. The CLI tools are
 * also GDAL's most stable interface across versions.
 *
 * GDAL 3.6's `ogrinfo` has no `-json` (3.7 added it), so its `-so -al` text
 * is parsed; that layout has not changed in 20 years.
 *
 * @example
 * ```ts
 * import { detectNativeGdal } from "./gdal_native.ts";
 * const gdal = await detectNativeGdal();
 * if (gdal) console.log(gdal.version);
 * ```
 *
 * @module
 */

import path from "node:path";
import {
  CRS_ADVICE,
  driverExtension,
  type GdalEngine,
  GdalError,
  gdalErrorLines,
  gdalFailure,
  type GdalOps,
  type GdalScratch,
  labelOf,
  type OpenOptions,
  type VectorInfo,
  type VectorLayerInfo,
} from "./gdal.ts";

/** Oldest GDAL the native engine accepts. */
export const MIN_NATIVE_VERSION = [3, 6] as const;

/** Settings for GDAL's work files: see `gdal_wasm.ts` (durability buys nothing in a scratch). */
const GDAL_ENV = {
  OGR_SQLITE_SYNCHRONOUS: "OFF",
  OGR_SQLITE_JOURNAL: "OFF",
  OGR_SQLITE_CACHE: "256",
  GDAL_CACHEMAX: "256",
  CPL_DEBUG: "OFF",
};

interface Output {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string, args: string[]): Promise<Output> {
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(cmd, { args, env: GDAL_ENV, stdin: "null" }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      // The engine broke, not the user's file: never a reason to quarantine a batch.
      throw new GdalError(
        "spatial.native_gdal_missing",
        `Cannot run ${cmd}: it is no longer installed; reinstall gdal-bin or set GDAL_ENGINE=wasm.`,
        { input: "GDAL_ENGINE", cause: error },
      );
    }
    throw error;
  }
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The path GDAL opens for a staged file: zipped inputs through `/vsizip/`. */
function vsiPath(file: string): string {
  return /\.zip$/i.test(file) ? `/vsizip/${file}` : file;
}

function scrub(message: string, file: string, label: string, dir: string): string {
  return message.replaceAll(`/vsizip/${file}`, label).replaceAll(file, label)
    .replaceAll(`${dir}/`, "");
}

/** Parses `ogrinfo -ro -so -al` text into layers (without PROJJSON). */
export function parseOgrinfo(text: string): VectorInfo {
  const driver = /using driver `([^']+)' successful/.exec(text)?.[1] ?? "";
  const layers: VectorLayerInfo[] = [];
  const blocks = text.split(/^Layer name: /m).slice(1);
  for (const block of blocks) {
    const lines = block.split(/\r?\n/);
    const layer: VectorLayerInfo = {
      name: lines[0]!.trim(),
      featureCount: -1,
      geometryFields: [],
      fields: [],
    };
    let i = 1;
    let wktFor: number | undefined;
    let wkt: string[] = [];
    const flushWkt = () => {
      if (wktFor === undefined) return;
      const text = wkt.join("\n").trim();
      const field = layer.geometryFields[wktFor];
      if (field && text !== "" && text !== "(unknown)") field.coordinateSystem = { wkt: text };
      wktFor = undefined;
      wkt = [];
    };
    for (; i < lines.length; i++) {
      const line = lines[i]!;
      if (wktFor !== undefined) {
        if (/^\s/.test(line) || /^[A-Z]+\[/.test(line) || line.trim() === "(unknown)") {
          wkt.push(line);
          continue;
        }
        flushWkt();
      }
      let m: RegExpExecArray | null;
      if ((m = /^Geometry(?: \(([^)]*)\))?: (.+)$/.exec(line))) {
        layer.geometryFields.push({ name: m[1] ?? "", type: m[2]!.replace(/ /g, "") });
      } else if ((m = /^Feature Count: (-?\d+)/.exec(line))) {
        layer.featureCount = Number(m[1]);
      } else if (
        (m = /^Extent(?: \(([^)]*)\))?: \(([^,]+), ([^)]+)\) - \(([^,]+), ([^)]+)\)/.exec(line))
      ) {
        const field = m[1] === undefined
          ? layer.geometryFields[0]
          : layer.geometryFields.find((f) => f.name === m![1]);
        if (field) field.extent = [m[2], m[3], m[4], m[5]].map(Number);
      } else if ((m = /^(?:Layer )?SRS WKT(?: \(([^)]*)\))?:\s*(.*)$/.exec(line))) {
        const name = m[1];
        wktFor = name === undefined
          ? 0
          : Math.max(0, layer.geometryFields.findIndex((f) => f.name === name));
        if (m[2]) wkt.push(m[2]);
      } else if ((m = /^([^\s].*): (\w+(?:\(\w+\))?) \(\d+(?:\.\d+)?\)/.exec(line))) {
        if (!/^(Geometry Column|FID Column|Data axis to CRS axis mapping)/.test(line)) {
          layer.fields.push({ name: m[1]!, type: m[2]! });
        }
      }
    }
    flushWkt();
    // A layer without geometry says `Geometry: None`.
    layer.geometryFields = layer.geometryFields.filter((f) => f.type !== "None");
    layers.push(layer);
  }
  return { driverShortName: driver, layers };
}

/**
 * PROJJSON and WKT of the CRSs resolved so far, for the whole process: each
 * `gdalsrsinfo` costs a process start (~0.1-0.2 s), and a batch asks for the
 * same few CRSs again and again.
 */
const projjsonCache = new Map<string, Record<string, unknown> | undefined>();
const wktCache = new Map<string, string>();

function opsOf(dir: string): GdalOps {
  const projjsonOf = async (wkt: string) => {
    if (!projjsonCache.has(wkt)) {
      const out = await run("gdalsrsinfo", ["-o", "PROJJSON", wkt]);
      let json: Record<string, unknown> | undefined;
      try {
        json = out.code === 0 ? JSON.parse(out.stdout) : undefined;
      } catch {
        json = undefined;
      }
      projjsonCache.set(wkt, json);
    }
    return projjsonCache.get(wkt);
  };
  const outputOf = (name: string, options: readonly string[]) =>
    path.join(dir, `${name}${driverExtension(options)}`);
  const fail = (action: string, file: string, open: OpenOptions | undefined, stderr: string) => {
    const label = labelOf(file, open);
    return gdalFailure(action, label, scrub(gdalErrorLines(stderr), file, label, dir));
  };
  const oo = (open?: OpenOptions) => (open?.openOptions ?? []).flatMap((o) => ["-oo", o]);
  return {
    async crsInfo(crs) {
      const projjson = await projjsonOf(crs);
      const known = wktCache.get(crs);
      if (projjson !== undefined && known !== undefined) return { projjson, wkt: known };
      const wkt = await run("gdalsrsinfo", ["-o", "WKT2_2019", "--single-line", crs]);
      if (wkt.code === 0) wktCache.set(crs, wkt.stdout.trim());
      if (projjson === undefined || wkt.code !== 0) {
        throw gdalFailure(
          "resolve the CRS",
          crs,
          gdalErrorLines(wkt.stderr),
          undefined,
          CRS_ADVICE,
        );
      }
      return { projjson, wkt: wkt.stdout.trim() };
    },
    async vectorInfo(file, open) {
      const out = await run("ogrinfo", ["-ro", "-so", "-al", ...oo(open), vsiPath(file)]);
      if (out.code !== 0 || !/using driver/.test(out.stdout)) {
        throw fail("read the vector dataset", file, open, out.stderr || out.stdout);
      }
      const info = parseOgrinfo(out.stdout);
      for (const layer of info.layers) {
        for (const field of layer.geometryFields) {
          const wkt = field.coordinateSystem?.wkt;
          const projjson = wkt === undefined ? undefined : await projjsonOf(wkt);
          if (wkt !== undefined && projjson) field.coordinateSystem = { wkt, projjson };
        }
      }
      return info;
    },
    async rasterInfo(file, options = [], open) {
      const out = await run("gdalinfo", ["-json", ...options, ...oo(open), vsiPath(file)]);
      if (out.code !== 0) throw fail("read the raster", file, open, out.stderr);
      try {
        return JSON.parse(out.stdout) as Record<string, unknown>;
      } catch (error) {
        throw fail("read the raster", file, open, `gdalinfo printed no JSON: ${error}`);
      }
    },
    async ogr2ogr(file, options, outputName, open) {
      const target = outputOf(outputName, options);
      const out = await run("ogr2ogr", [
        ...options,
        target,
        ...oo(open),
        vsiPath(file),
        ...(open?.layers ?? []),
      ]);
      if (out.code !== 0 || /^(ERROR|FAILURE)/m.test(out.stderr)) {
        throw fail("convert the vector dataset", file, open, out.stderr);
      }
      return target;
    },
    async translate(file, options, outputName, open) {
      const target = outputOf(outputName, options);
      const out = await run("gdal_translate", [
        "-q",
        ...options,
        ...oo(open),
        vsiPath(file),
        target,
      ]);
      if (out.code !== 0 || /^(ERROR|FAILURE)/m.test(out.stderr)) {
        throw fail("convert the raster", file, open, out.stderr);
      }
      return target;
    },
  };
}

async function createScratch(): Promise<GdalScratch & AsyncDisposable> {
  const hostDir = await Deno.makeTempDir({ prefix: "gdal-native-" });
  return {
    hostDir,
    gdalPath: (relative) => path.join(hostDir, relative),
    hostPath: (relative) => path.join(hostDir, relative),
    toHost: (gdalPath) => gdalPath,
    gdal: opsOf(hostDir),
    [Symbol.asyncDispose]: () => Deno.remove(hostDir, { recursive: true }),
  };
}

/** The GDAL version `gdalinfo --version` prints, or `undefined` when GDAL is not installed. */
export async function nativeGdalVersion(): Promise<string | undefined> {
  const out = await run("gdalinfo", ["--version"]).catch((error) => {
    if (error instanceof GdalError && error.code === "spatial.native_gdal_missing") {
      return undefined;
    }
    throw error;
  });
  if (out === undefined || out.code !== 0) return undefined;
  return /GDAL (\d+\.\d+(?:\.\d+)?)/.exec(out.stdout)?.[1];
}

/** Whether `version` is at least {@linkcode MIN_NATIVE_VERSION}. */
export function supportedVersion(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map(Number);
  return major > MIN_NATIVE_VERSION[0] ||
    (major === MIN_NATIVE_VERSION[0] && minor >= MIN_NATIVE_VERSION[1]);
}

/** A native engine over GDAL `version` (see {@linkcode detectNativeGdal}). */
export function nativeGdal(version: string): GdalEngine {
  return { kind: "native", version, createScratch };
}

/** The native engine when GDAL >= 3.6 is installed, else `undefined`. */
export async function detectNativeGdal(): Promise<GdalEngine | undefined> {
  const version = await nativeGdalVersion();
  return version !== undefined && supportedVersion(version) ? nativeGdal(version) : undefined;
}
