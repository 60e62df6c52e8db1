/**
 * libgdal through Deno FFI: the handful of GDAL C functions the native engine
 * needs (open a dataset and describe its layers, resolve a CRS, and GDAL's
 * "utilities as a library": `GDALVectorTranslate` = ogr2ogr,
 * `GDALTranslate` = gdal_translate, `GDALWarp` = gdalwarp, `GDALInfo` =
 * gdalinfo).
 *
 * This module runs inside the GDAL host process (`_gdal_host.ts`), never in
 * the application's process: a crash of GDAL on a hostile file then kills
 * the host, not the daemon, and only the host needs `--allow-ffi`. It imports
 * nothing, so the host starts in the time Deno takes to start plus loading
 * libgdal (~0.15-0.3 s, the same price every gdal-bin tool pays per call).
 *
 * Every function returns plain JSON-able values; a GDAL failure throws a
 * {@linkcode GdalCallError} carrying GDAL's own messages (CPLError), which
 * the client maps to the user's file name.
 *
 * @module
 */

import { isBenignGdalError } from "./_benign_errors.ts";

/** A GDAL call failed; `messages` are GDAL's own errors, in order. */
export class GdalCallError extends Error {
  /** GDAL's error messages (CE_Failure and CE_Fatal), oldest first. */
  readonly messages: string[];

  /** Creates the error from GDAL's messages and what was being done. */
  constructor(what: string, messages: string[]) {
    super(`${what}: ${messages.join(" | ") || "GDAL gave no reason"}`);
    this.messages = messages;
  }
}

/** One vector layer, as `ogrinfo -so` describes it. */
export interface FfiLayer {
  name: string;
  featureCount: number;
  geometryFields: {
    name: string;
    type: string;
    extent?: number[];
    coordinateSystem?: { wkt: string; projjson?: Record<string, unknown> };
  }[];
  fields: { name: string; type: string }[];
}

const SYMBOLS = {
  GDALAllRegister: { parameters: [], result: "void" },
  GDALVersionInfo: { parameters: ["buffer"], result: "pointer" },
  CPLSetErrorHandler: { parameters: ["function"], result: "pointer" },
  CPLErrorReset: { parameters: [], result: "void" },
  VSIFree: { parameters: ["pointer"], result: "void" },
  CPLGetConfigOption: { parameters: ["buffer", "pointer"], result: "pointer" },
  CPLSetConfigOption: { parameters: ["buffer", "buffer"], result: "void" },
  GDALOpenEx: {
    parameters: ["buffer", "u32", "buffer", "buffer", "pointer"],
    result: "pointer",
  },
  GDALClose: { parameters: ["pointer"], result: "void" },
  GDALGetDatasetDriver: { parameters: ["pointer"], result: "pointer" },
  GDALGetDriverShortName: { parameters: ["pointer"], result: "pointer" },
  GDALDatasetGetLayerCount: { parameters: ["pointer"], result: "i32" },
  GDALDatasetGetLayer: { parameters: ["pointer", "i32"], result: "pointer" },
  OGR_L_GetName: { parameters: ["pointer"], result: "pointer" },
  OGR_L_GetFeatureCount: { parameters: ["pointer", "i32"], result: "i64" },
  OGR_L_GetLayerDefn: { parameters: ["pointer"], result: "pointer" },
  OGR_L_SetAttributeFilter: { parameters: ["pointer", "buffer"], result: "i32" },
  OGR_L_GetExtentEx: { parameters: ["pointer", "i32", "buffer", "i32"], result: "i32" },
  OGR_FD_GetFieldCount: { parameters: ["pointer"], result: "i32" },
  OGR_FD_GetFieldDefn: { parameters: ["pointer", "i32"], result: "pointer" },
  OGR_FD_GetGeomFieldCount: { parameters: ["pointer"], result: "i32" },
  OGR_FD_GetGeomFieldDefn: { parameters: ["pointer", "i32"], result: "pointer" },
  OGR_Fld_GetNameRef: { parameters: ["pointer"], result: "pointer" },
  OGR_Fld_GetType: { parameters: ["pointer"], result: "i32" },
  OGR_Fld_GetSubType: { parameters: ["pointer"], result: "i32" },
  OGR_GetFieldTypeName: { parameters: ["i32"], result: "pointer" },
  OGR_GetFieldSubTypeName: { parameters: ["i32"], result: "pointer" },
  OGR_GFld_GetNameRef: { parameters: ["pointer"], result: "pointer" },
  OGR_GFld_GetType: { parameters: ["pointer"], result: "u32" },
  OGR_GFld_GetSpatialRef: { parameters: ["pointer"], result: "pointer" },
  OGRGeometryTypeToName: { parameters: ["u32"], result: "pointer" },
  OSRNewSpatialReference: { parameters: ["pointer"], result: "pointer" },
  OSRDestroySpatialReference: { parameters: ["pointer"], result: "void" },
  OSRSetFromUserInput: { parameters: ["pointer", "buffer"], result: "i32" },
  OSRExportToWktEx: { parameters: ["pointer", "buffer", "buffer"], result: "i32" },
  OSRExportToPROJJSON: { parameters: ["pointer", "buffer", "pointer"], result: "i32" },
  GDALInfoOptionsNew: { parameters: ["buffer", "pointer"], result: "pointer" },
  GDALInfoOptionsFree: { parameters: ["pointer"], result: "void" },
  GDALInfo: { parameters: ["pointer", "pointer"], result: "pointer" },
  GDALVectorTranslateOptionsNew: { parameters: ["buffer", "pointer"], result: "pointer" },
  GDALVectorTranslateOptionsFree: { parameters: ["pointer"], result: "void" },
  GDALVectorTranslate: {
    parameters: ["buffer", "pointer", "i32", "buffer", "pointer", "buffer"],
    result: "pointer",
  },
  GDALTranslateOptionsNew: { parameters: ["buffer", "pointer"], result: "pointer" },
  GDALTranslateOptionsFree: { parameters: ["pointer"], result: "void" },
  GDALTranslate: { parameters: ["buffer", "pointer", "pointer", "buffer"], result: "pointer" },
  GDALWarpAppOptionsNew: { parameters: ["buffer", "pointer"], result: "pointer" },
  GDALWarpAppOptionsFree: { parameters: ["pointer"], result: "void" },
  GDALWarp: {
    parameters: ["buffer", "pointer", "i32", "buffer", "pointer", "buffer"],
    result: "pointer",
  },
} as const satisfies Deno.ForeignLibraryInterface;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** `void (*CPLErrorHandler)(CPLErr, CPLErrorNum, const char*)`. */
const ERROR_HANDLER = { parameters: ["i32", "i32", "pointer"], result: "void" } as const;

/** GDALOpenEx flags. */
const OF_RASTER = 0x02;
const OF_VECTOR = 0x04;
const OF_VERBOSE_ERROR = 0x40;
/** CPLErr classes: CE_Failure and CE_Fatal are errors, CE_Warning a warning. */
const CE_WARNING = 2;
const CE_FAILURE = 3;

const encoder = new TextEncoder();

/** A NUL-terminated C string. */
function cString(text: string): Uint8Array<ArrayBuffer> {
  return encoder.encode(`${text}\0`);
}

/** A NULL-terminated `char**` list; `keep` holds the strings alive while it is used. */
function cStringList(items: readonly string[]): {
  list: BigUint64Array<ArrayBuffer>;
  keep: Uint8Array[];
} {
  const keep = items.map(cString);
  const list = new BigUint64Array(items.length + 1);
  keep.forEach((item, i) => {
    list[i] = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(item)));
  });
  return { list, keep };
}

/** The one-dataset source list GDALVectorTranslate and GDALWarp take. */
function sourceList(dataset: Deno.PointerObject): BigUint64Array<ArrayBuffer> {
  return new BigUint64Array([BigInt(Deno.UnsafePointer.value(dataset))]);
}

/** The `pbUsageError` out-parameter of the GDAL utilities. */
function usage(): Int32Array<ArrayBuffer> {
  return new Int32Array(1);
}

function read(pointer: Deno.PointerValue): string {
  return pointer === null ? "" : Deno.UnsafePointerView.getCString(pointer);
}

/** Candidate file names of libgdal, most specific first. */
export function libraryCandidates(): string[] {
  const override = Deno.env.get("GDAL_LIBRARY_PATH");
  if (override) return [override];
  const found: string[] = [];
  const dirs = [
    "/usr/lib/x86_64-linux-gnu",
    "/usr/lib/aarch64-linux-gnu",
    "/usr/lib64",
    "/usr/lib",
    "/usr/local/lib",
    "/opt/homebrew/lib",
  ];
  for (const dir of dirs) {
    try {
      for (const entry of Deno.readDirSync(dir)) {
        if (/^libgdal\.(so(\.\d+)*|\d+\.dylib|dylib)$/.test(entry.name)) {
          found.push(`${dir}/${entry.name}`);
        }
      }
    } catch {
      // A folder that does not exist on this system.
    }
  }
  // The plain soname first (a -dev symlink), then the highest versioned file.
  found.sort((a, b) => a.length - b.length || b.localeCompare(a));
  return [...found, "libgdal.so", "libgdal.dylib"];
}

/** libgdal, loaded once per host process. */
export class GdalLibrary {
  readonly #lib: Lib;
  readonly #errors: { level: number; message: string }[] = [];
  readonly #handler: Deno.UnsafeCallback<typeof ERROR_HANDLER>;
  /** Full path of the library that was loaded. */
  readonly path: string;

  /** Loads the first candidate that opens; throws with every candidate's reason. */
  constructor(candidates: readonly string[] = libraryCandidates()) {
    const reasons: string[] = [];
    let lib: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;
    let path = "";
    for (const candidate of candidates) {
      try {
        lib = Deno.dlopen(candidate, SYMBOLS);
        path = candidate;
        break;
      } catch (error) {
        reasons.push(`${candidate}: ${error instanceof Error ? error.message : error}`);
      }
    }
    if (lib === undefined) {
      throw new GdalCallError("Cannot load libgdal", reasons.slice(0, 3));
    }
    this.#lib = lib.symbols;
    this.path = path;
    this.#lib.GDALAllRegister();
    // GDAL reports through CPLError; collect instead of printing on stderr.
    this.#handler = new Deno.UnsafeCallback(
      ERROR_HANDLER,
      (level, _code, message) => {
        this.#errors.push({ level, message: read(message) });
        if (this.#errors.length > 50) this.#errors.shift();
      },
    );
    this.#lib.CPLSetErrorHandler(this.#handler.pointer);
  }

  /** GDAL's version, e.g. `3.6.2`. */
  version(): string {
    return read(this.#lib.GDALVersionInfo(cString("RELEASE_NAME")));
  }

  /** Runs `fn` with a fresh error list; throws with GDAL's errors when `fn` says it failed. */
  #call<T>(what: string, fn: () => T | undefined): T {
    this.#errors.length = 0;
    this.#lib.CPLErrorReset();
    const result = fn();
    if (result === undefined) {
      const errors = this.#errors.filter((e) => e.level >= CE_FAILURE).map((e) => e.message);
      throw new GdalCallError(what, errors.length > 0 ? errors : this.warnings());
    }
    return result;
  }

  /**
   * Runs `fn` with GDAL configuration options set (as `--config KEY VALUE`
   * would), restoring the previous values afterwards.
   */
  withConfig<T>(config: Readonly<Record<string, string>>, fn: () => T): T {
    const previous = Object.keys(config).map((key) => {
      const value = this.#lib.CPLGetConfigOption(cString(key), null);
      return [key, value === null ? null : read(value)] as const;
    });
    for (const [key, value] of Object.entries(config)) {
      this.#lib.CPLSetConfigOption(cString(key), cString(value));
    }
    try {
      return fn();
    } finally {
      for (const [key, value] of previous) {
        this.#lib.CPLSetConfigOption(cString(key), value === null ? null : cString(value));
      }
    }
  }

  /** Warnings GDAL gave during the last call. */
  warnings(): string[] {
    return this.#errors.filter((e) => e.level === CE_WARNING).map((e) => e.message);
  }

  /** Errors (CE_Failure) GDAL reported during the last call even though it returned a result. */
  errors(): string[] {
    return this.#errors.filter((e) => e.level >= CE_FAILURE).map((e) => e.message);
  }

  #open(
    file: string,
    flags: number,
    openOptions: readonly string[],
    drivers: readonly string[] = [],
  ): Deno.PointerValue {
    const oo = cStringList(openOptions);
    const allowed = cStringList(drivers);
    const ds = this.#lib.GDALOpenEx(
      cString(file),
      flags | OF_VERBOSE_ERROR,
      drivers.length > 0 ? allowed.list : null,
      openOptions.length > 0 ? oo.list : null,
      null,
    );
    return ds;
  }

  #withDataset<T>(
    what: string,
    file: string,
    flags: number,
    openOptions: readonly string[],
    fn: (ds: Deno.PointerObject) => T | undefined,
    drivers: readonly string[] = [],
  ): T {
    return this.#call(what, () => {
      const ds = this.#open(file, flags, openOptions, drivers);
      if (ds === null) return undefined;
      try {
        return fn(ds);
      } finally {
        this.#lib.GDALClose(ds);
      }
    });
  }

  /**
   * `use` of the options of a GDAL utility (gdalinfo, ogr2ogr, gdal_translate,
   * gdalwarp) built from `args`, freed after; undefined when GDAL refuses them
   * (GDAL copies the argument strings while it builds the options).
   */
  #withAppOptions<T>(
    args: readonly string[],
    make: (argv: BigUint64Array<ArrayBuffer>, extra: null) => Deno.PointerValue,
    free: (options: Deno.PointerObject) => void,
    use: (options: Deno.PointerObject) => T | undefined,
  ): T | undefined {
    const argv = cStringList(args);
    const options = make(argv.list, null);
    if (options === null) return undefined;
    try {
      return use(options);
    } finally {
      free(options);
    }
  }

  /** Whether GDAL reported an error other than a benign one since the call began. */
  #reportedRealError(): boolean {
    return this.errors().some((e) => !isBenignGdalError(e));
  }

  /** WKT2 (one line) and PROJJSON of a spatial reference handle. */
  #describeSrs(srs: Deno.PointerObject): { wkt: string; projjson?: Record<string, unknown> } {
    const out = new BigUint64Array(1);
    const options = cStringList(["FORMAT=WKT2_2019", "MULTILINE=NO"]);
    let wkt = "";
    if (this.#lib.OSRExportToWktEx(srs, out, options.list) === 0) wkt = this.#take(out);
    let projjson: Record<string, unknown> | undefined;
    out[0] = 0n;
    if (this.#lib.OSRExportToPROJJSON(srs, out, null) === 0) {
      try {
        projjson = JSON.parse(this.#take(out));
      } catch {
        projjson = undefined;
      }
    }
    return projjson === undefined ? { wkt } : { wkt, projjson };
  }

  /** Reads and frees a `char*` GDAL allocated into `out[0]`. */
  #take(out: BigUint64Array): string {
    const pointer = Deno.UnsafePointer.create(out[0]!);
    const text = read(pointer);
    if (pointer !== null) this.#lib.VSIFree(pointer);
    return text;
  }

  /** Resolves `crs` (`EPSG:4326`, WKT, PROJ string...) with PROJ's database. */
  crsInfo(crs: string): { wkt: string; projjson: Record<string, unknown> } {
    return this.#call(`Cannot resolve the CRS ${crs}`, () => {
      const srs = this.#lib.OSRNewSpatialReference(null);
      if (srs === null) return undefined;
      try {
        if (this.#lib.OSRSetFromUserInput(srs, cString(crs)) !== 0) return undefined;
        const { wkt, projjson } = this.#describeSrs(srs);
        return projjson === undefined || wkt === "" ? undefined : { wkt, projjson };
      } finally {
        this.#lib.OSRDestroySpatialReference(srs);
      }
    });
  }

  /** The driver and layers of a vector dataset (`ogrinfo -ro -so -al`). */
  vectorInfo(
    file: string,
    openOptions: readonly string[],
    where?: string,
    drivers: readonly string[] = [],
  ): { driverShortName: string; layers: FfiLayer[] } {
    return this.#withDataset(
      "Cannot open the vector dataset",
      file,
      OF_VECTOR,
      openOptions,
      (ds) => {
        const driver = read(this.#lib.GDALGetDriverShortName(this.#lib.GDALGetDatasetDriver(ds)));
        const layers: FfiLayer[] = [];
        const count = this.#lib.GDALDatasetGetLayerCount(ds);
        for (let i = 0; i < count; i++) {
          const layer = this.#lib.GDALDatasetGetLayer(ds, i);
          if (layer === null) continue;
          const filter = where === undefined ? 0 : this.#lib.OGR_L_SetAttributeFilter(
            layer,
            cString(where),
          );
          if (filter !== 0) return undefined;
          layers.push(this.#describeLayer(layer));
        }
        return { driverShortName: driver, layers };
      },
      drivers,
    );
  }

  #describeLayer(layer: Deno.PointerObject): FfiLayer {
    const defn = this.#lib.OGR_L_GetLayerDefn(layer);
    const fields: FfiLayer["fields"] = [];
    const geometryFields: FfiLayer["geometryFields"] = [];
    if (defn !== null) {
      for (let f = 0; f < this.#lib.OGR_FD_GetFieldCount(defn); f++) {
        const field = this.#lib.OGR_FD_GetFieldDefn(defn, f);
        if (field === null) continue;
        const type = read(this.#lib.OGR_GetFieldTypeName(this.#lib.OGR_Fld_GetType(field)));
        const subtype = this.#lib.OGR_Fld_GetSubType(field);
        fields.push({
          name: read(this.#lib.OGR_Fld_GetNameRef(field)),
          type: subtype === 0
            ? type
            : `${type}(${read(this.#lib.OGR_GetFieldSubTypeName(subtype))})`,
        });
      }
      for (let g = 0; g < this.#lib.OGR_FD_GetGeomFieldCount(defn); g++) {
        const field = this.#lib.OGR_FD_GetGeomFieldDefn(defn, g);
        if (field === null) continue;
        const type = read(this.#lib.OGRGeometryTypeToName(this.#lib.OGR_GFld_GetType(field)));
        const srs = this.#lib.OGR_GFld_GetSpatialRef(field);
        const envelope = new Float64Array(4); // MinX, MaxX, MinY, MaxY
        const hasExtent = this.#lib.OGR_L_GetExtentEx(layer, g, envelope, 1) === 0;
        geometryFields.push({
          name: read(this.#lib.OGR_GFld_GetNameRef(field)),
          // ogrinfo's spelling without spaces: "Multi Polygon" -> "MultiPolygon", "3D Point" -> "3DPoint".
          type: type.replace(/ /g, ""),
          ...(hasExtent
            ? { extent: [envelope[0]!, envelope[2]!, envelope[1]!, envelope[3]!] }
            : {}),
          ...(srs === null ? {} : { coordinateSystem: this.#describeSrs(srs) }),
        });
      }
    }
    return {
      name: read(this.#lib.OGR_L_GetName(layer)),
      featureCount: Number(this.#lib.OGR_L_GetFeatureCount(layer, 1)),
      geometryFields,
      fields,
    };
  }

  /** `gdalinfo -json OPTIONS` of a raster dataset. */
  rasterInfo(
    file: string,
    options: readonly string[],
    openOptions: readonly string[],
  ): Record<string, unknown> {
    const lib = this.#lib;
    return this.#withDataset(
      "Cannot open the raster",
      file,
      OF_RASTER,
      openOptions,
      (ds) =>
        this.#withAppOptions(
          ["-json", ...options],
          lib.GDALInfoOptionsNew,
          lib.GDALInfoOptionsFree,
          (opts) => {
            const text = lib.GDALInfo(ds, opts);
            if (text === null) return undefined;
            const json = read(text);
            lib.VSIFree(text);
            return JSON.parse(json) as Record<string, unknown>;
          },
        ),
    );
  }

  /**
   * `ogr2ogr OPTIONS target file LAYERS`; fails when GDAL reports an error
   * even if it produced an output (it may have stopped half-way).
   */
  vectorTranslate(
    file: string,
    options: readonly string[],
    target: string,
    openOptions: readonly string[],
    layers: readonly string[],
    drivers: readonly string[] = [],
  ): void {
    const lib = this.#lib;
    this.#convert("Cannot convert the vector dataset", file, OF_VECTOR, openOptions, {
      args: [...options, ...layers],
      make: lib.GDALVectorTranslateOptionsNew,
      free: lib.GDALVectorTranslateOptionsFree,
      run: (src, opts) =>
        lib.GDALVectorTranslate(cString(target), null, 1, sourceList(src), opts, usage()),
      failed: () => this.errors().length > 0,
    }, drivers);
  }

  /** `gdal_translate OPTIONS file target`; fails when GDAL reports an error (but a benign one). */
  translate(
    file: string,
    options: readonly string[],
    target: string,
    openOptions: readonly string[],
  ): void {
    const lib = this.#lib;
    this.#convert("Cannot convert the raster", file, OF_RASTER, openOptions, {
      args: options,
      make: lib.GDALTranslateOptionsNew,
      free: lib.GDALTranslateOptionsFree,
      run: (src, opts) => lib.GDALTranslate(cString(target), src, opts, usage()),
      failed: () => this.#reportedRealError(),
    });
  }

  /** `gdalwarp OPTIONS file target`; fails when GDAL reports an error (but a benign one). */
  warp(
    file: string,
    options: readonly string[],
    target: string,
    openOptions: readonly string[],
  ): void {
    const lib = this.#lib;
    this.#convert("Cannot warp the raster", file, OF_RASTER, openOptions, {
      args: options,
      make: lib.GDALWarpAppOptionsNew,
      free: lib.GDALWarpAppOptionsFree,
      run: (src, opts) => lib.GDALWarp(cString(target), null, 1, sourceList(src), opts, usage()),
      failed: () => this.#reportedRealError(),
    });
  }

  /**
   * Runs a GDAL utility that writes a dataset (ogr2ogr, gdal_translate,
   * gdalwarp) on `file`: its options built from `utility.args`, its output
   * closed; fails (as `#withDataset` reports it) when there is no
   * output or `utility.failed()`.
   */
  #convert(
    what: string,
    file: string,
    flags: number,
    openOptions: readonly string[],
    utility: {
      args: readonly string[];
      make: (argv: BigUint64Array<ArrayBuffer>, extra: null) => Deno.PointerValue;
      free: (options: Deno.PointerObject) => void;
      run: (src: Deno.PointerObject, options: Deno.PointerObject) => Deno.PointerValue;
      failed: () => boolean;
    },
    drivers: readonly string[] = [],
  ): void {
    this.#withDataset(
      what,
      file,
      flags,
      openOptions,
      (src) =>
        this.#withAppOptions(utility.args, utility.make, utility.free, (options) => {
          const out = utility.run(src, options);
          if (out === null) return undefined;
          this.#lib.GDALClose(out);
          return utility.failed() ? undefined : true;
        }),
      drivers,
    );
  }
}
