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
  GDALDatasetGetLayerByName: { parameters: ["pointer", "buffer"], result: "pointer" },
  VSIFOpenL: { parameters: ["buffer", "buffer"], result: "pointer" },
  VSIFWriteL: { parameters: ["pointer", "usize", "usize", "pointer"], result: "usize" },
  VSIFCloseL: { parameters: ["pointer"], result: "i32" },
  OGR_L_GetArrowStream: { parameters: ["pointer", "buffer", "buffer"], result: "bool" },
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

/** Arrow C stream interface callbacks (`struct ArrowArrayStream`). */
const ARROW_GET = { parameters: ["pointer", "buffer"], result: "i32" } as const;
const ARROW_LAST_ERROR = { parameters: ["pointer"], result: "pointer" } as const;
const ARROW_RELEASE = { parameters: ["pointer"], result: "void" } as const;

/**
 * Magic bytes of the features file {@linkcode GdalLibrary.arrowDump} writes
 * (read by formats/gdal_arrow_pages.ts, which documents the layout).
 */
export const ARROW_DUMP_MAGIC = "OGRARW01";

/**
 * Arrow formats of the attribute columns the features file carries, with
 * the bytes a row takes: boolean (`b`, bit-packed: -1), int16, int32,
 * int64, double, UTF-8 (0: offsets and bytes).
 */
const ARROW_DUMP_FORMATS: Readonly<Record<string, number>> = {
  b: -1,
  s: 2,
  i: 4,
  l: 8,
  g: 8,
  u: 0,
};

/** GDALOpenEx flags. */
const OF_RASTER = 0x02;
const OF_VECTOR = 0x04;
const OF_VERBOSE_ERROR = 0x40;
/** CPLErr classes: CE_Failure and CE_Fatal are errors, CE_Warning a warning. */
const CE_WARNING = 2;
const CE_FAILURE = 3;

/** A CRS on each datum ensemble of PROJ's database (WGS 84, ETRS89, BI height); see the constructor. */
const ENSEMBLE_CRSS = ["EPSG:4326", "EPSG:4258", "EPSG:9451"];

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
    // A JPEG cut short ("Premature end of JPEG file") is an error, as GDAL
    // >= 3.7 (gdal3.js) has it by default: GDAL 3.6 only warned, and its
    // missing rows were read as grey, so a truncated upload was published.
    // A value set in the environment is kept.
    if (this.#lib.CPLGetConfigOption(cString("GDAL_ERROR_ON_LIBJPEG_WARNING"), null) === null) {
      this.#lib.CPLSetConfigOption(cString("GDAL_ERROR_ON_LIBJPEG_WARNING"), cString("TRUE"));
    }
    // GDAL reports through CPLError; collect instead of printing on stderr.
    this.#handler = new Deno.UnsafeCallback(
      ERROR_HANDLER,
      (level, _code, message) => {
        this.#errors.push({ level, message: read(message) });
        if (this.#errors.length > 50) this.#errors.shift();
      },
    );
    this.#lib.CPLSetErrorHandler(this.#handler.pointer);
    // PROJ 9.1 caches (in GDAL's PROJ context, one per thread) a datum built
    // by code alone: reading a GeoTIFF in UTM on WGS 84, libgeotiff asks for
    // the datum EPSG:6326, and PROJ then built EPSG:4326 (and the GeoTIFF's
    // own CRS) on that plain datum instead of the "World Geodetic System 1984
    // ensemble" a fresh process gives, so the CRS of an output depended on
    // what its host had read before. Built first, the ensembles are cached,
    // and PROJ takes a cached ensemble before a cached datum. A failure here
    // (no proj.db) is reported by the call that needs the CRS.
    for (const crs of ENSEMBLE_CRSS) {
      const srs = this.#lib.OSRNewSpatialReference(null);
      if (srs === null) continue;
      this.#lib.OSRSetFromUserInput(srs, cString(crs));
      this.#lib.OSRDestroySpatialReference(srs);
    }
    this.#errors.length = 0;
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
      // A CRS id PROJ does not know, reported while opening: the caller has already
      // decided the file's CRS (an Esri JSON's ArcGIS wkid, a GeoJSON's "EPSG::102100":
      // assets/spatial/_esri_wkid.ts) or refused it; gdal3.js's conversion, too, counts
      // only what GDAL reports after the open.
      forgetAtOpen: /^PROJ: proj_create(?:_from_database)?: crs not found$/,
    }, drivers);
  }

  /**
   * Writes the features of layer `layerName` of `file` to `target` as GDAL
   * reads them through its Arrow stream (`OGR_L_GetArrowStream`, RFC 86):
   * the attribute columns then the geometry as WKB, a batch of 4,096
   * features at a time, each column's Arrow buffers written as they are
   * (layout: formats/gdal_arrow_pages.ts). No conversion runs: the layer
   * must be wanted as it is (no reprojection, no repair). Measured on 1M
   * points of a GeoPackage: 0.15-0.21 CPU s, against 0.84-0.92 s for
   * ogr2ogr writing the same features to FlatGeobuf (bench/spatial.ts).
   * `{ unsupported }` names a column whose Arrow type the file does not
   * carry (only boolean, int16, int32, int64, double and UTF-8 attributes;
   * no boolean from a GeoPackage), before anything is written.
   */
  arrowDump(
    file: string,
    layerName: string,
    target: string,
    openOptions: readonly string[],
    drivers: readonly string[] = [],
  ): { rows: number } | { unsupported: string } {
    const lib = this.#lib;
    return this.#withDataset(
      "Cannot read the vector dataset",
      file,
      OF_VECTOR,
      openOptions,
      (ds) => {
        const layer = lib.GDALDatasetGetLayerByName(ds, cString(layerName));
        if (layer === null) return undefined;
        const stream = new BigUint64Array(5);
        const streamPointer = Deno.UnsafePointer.of(stream);
        const options = cStringList(["INCLUDE_FID=NO", "MAX_FEATURES_IN_BATCH=4096"]);
        if (!lib.OGR_L_GetArrowStream(layer, stream, options.list)) return undefined;
        const callback = <T extends Deno.UnsafeCallbackDefinition>(slot: number, definition: T) =>
          new Deno.UnsafeFnPointer(Deno.UnsafePointer.create(stream[slot]!)!, definition);
        const failure = (what: string) => {
          const message = callback(2, ARROW_LAST_ERROR).call(streamPointer);
          return new GdalCallError(what, [
            message === null ? "GDAL gave no reason" : read(message),
          ]);
        };
        try {
          const schema = new BigUint64Array(9);
          if (callback(0, ARROW_GET).call(streamPointer, schema) !== 0) {
            throw failure("Cannot read the layer's Arrow schema");
          }
          let columns: { name: string; format: string }[];
          try {
            const children = Number(schema[4]);
            const list = new Deno.UnsafePointerView(Deno.UnsafePointer.create(schema[5]!)!);
            columns = Array.from({ length: children }, (_, c) => {
              const child = new Deno.UnsafePointerView(list.getPointer(c * 8)!);
              return { format: read(child.getPointer(0)), name: read(child.getPointer(8)) };
            });
          } finally {
            new Deno.UnsafeFnPointer(Deno.UnsafePointer.create(schema[7]!)!, ARROW_RELEASE)
              .call(Deno.UnsafePointer.of(schema));
          }
          // The attribute fields, then the one geometry field (as WKB): what
          // else a stream holds (a second geometry) this file does not carry.
          const defn = lib.OGR_L_GetLayerDefn(layer);
          const fields = defn === null ? -1 : lib.OGR_FD_GetFieldCount(defn);
          const geometries = defn === null ? -1 : lib.OGR_FD_GetGeomFieldCount(defn);
          const attributes = columns.slice(0, -1);
          if (
            geometries !== 1 || columns.length !== fields + 1 || columns.at(-1)?.format !== "z"
          ) {
            return { unsupported: "the layer has not one WKB geometry column after its fields" };
          }
          // Names equal but for case: ogr2ogr renames the second ('NAME' to
          // 'NAME2'), which the stream does not; converted by ogr2ogr instead.
          const seen = new Map<string, string>();
          for (const { name } of attributes) {
            const twin = seen.get(name.toLowerCase());
            if (twin !== undefined) {
              return { unsupported: `columns '${twin}' and '${name}' differ only in case` };
            }
            seen.set(name.toLowerCase(), name);
          }
          const odd = attributes.find((c) => ARROW_DUMP_FORMATS[c.format] === undefined);
          if (odd !== undefined) {
            return { unsupported: `column '${odd.name}' is of Arrow type '${odd.format}'` };
          }
          // GDAL 3.6's GeoPackage stream misplaces the bits of a boolean's
          // values (row i's true sets bit i / 8 of byte i / 8: measured,
          // tests/formats/gdal_arrow_pages_test.ts); other drivers' are right.
          const driver = read(lib.GDALGetDriverShortName(lib.GDALGetDatasetDriver(ds)));
          const flag = attributes.find((c) => c.format === "b");
          if (driver === "GPKG" && flag !== undefined) {
            return {
              unsupported: `column '${flag.name}' is a boolean, which GDAL's GeoPackage Arrow ` +
                "stream gives wrong",
            };
          }
          const rows = this.#writeArrowBatches(
            target,
            attributes,
            callback(1, ARROW_GET),
            stream,
            failure,
          );
          return rows === undefined
            ? { unsupported: "GDAL's Arrow stream gave an empty batch before its end" }
            : { rows };
        } finally {
          callback(3, ARROW_RELEASE).call(streamPointer);
        }
      },
      drivers,
    );
  }

  /**
   * The batches of an Arrow stream written to `target` (see
   * {@linkcode arrowDump}); returns the rows, or `undefined` at an empty
   * batch (the file then incomplete).
   */
  #writeArrowBatches(
    target: string,
    attributes: readonly { name: string; format: string }[],
    getNext: Deno.UnsafeFnPointer<typeof ARROW_GET>,
    stream: BigUint64Array<ArrayBuffer>,
    failure: (what: string) => GdalCallError,
  ): number | undefined {
    // Written through GDAL (VSI), as GDAL writes every other output: the
    // host has no --allow-write of its own, and C memory goes out uncopied.
    const lib = this.#lib;
    const file = lib.VSIFOpenL(cString(target), cString("wb"));
    if (file === null) throw new GdalCallError(`Cannot create ${target}`, this.errors());
    let closed = false;
    try {
      const writeFrom = (pointer: Deno.PointerValue, bytes: number) => {
        if (bytes > 0 && Number(lib.VSIFWriteL(pointer, 1n, BigInt(bytes), file)) !== bytes) {
          throw new GdalCallError(`Cannot write ${target}`, ["the disk is full or gone"]);
        }
      };
      const write = (bytes: Uint8Array) => writeFrom(Deno.UnsafePointer.of(bytes), bytes.length);
      const u32 = (value: number) => write(new Uint8Array(new Uint32Array([value]).buffer));
      const header = encoder.encode(JSON.stringify({ columns: attributes }));
      write(encoder.encode(ARROW_DUMP_MAGIC));
      u32(header.length);
      write(header);
      const widths = [...attributes.map((c) => ARROW_DUMP_FORMATS[c.format]!), 0];
      const array = new BigUint64Array(10);
      const arrayPointer = Deno.UnsafePointer.of(array);
      let rows = 0;
      for (;;) {
        if (getNext.call(Deno.UnsafePointer.of(stream), array) !== 0) {
          throw failure("Cannot read the layer's features");
        }
        if (array[8] === 0n) {
          // GDAL's generic stream ends, without an error of its own, where a
          // feature could not be read (a GeoJSONSeq cut off mid-feature: "JSON
          // parsing error"), so the features before it looked like the whole
          // layer; ogr2ogr fails on the same error.
          if (this.#reportedRealError()) {
            throw new GdalCallError("Cannot read the layer's features", this.errors());
          }
          break; // Released: the stream's end.
        }
        try {
          const length = Number(array[0]);
          // GDAL 3.6 gives empty batches without end on a layer of 500
          // columns (the matrix's v_gpkg_wide): taken as a stream it cannot read.
          if (length === 0) return undefined;
          const children = new Deno.UnsafePointerView(Deno.UnsafePointer.create(array[6]!)!);
          u32(length);
          widths.forEach((width, c) => {
            const child = new Deno.UnsafePointerView(children.getPointer(c * 8)!);
            const nulls = Number(child.getBigInt64(8));
            if (Number(child.getBigInt64(16)) !== 0) {
              throw new GdalCallError("Cannot read the layer's features", [
                "an Arrow array with an offset",
              ]);
            }
            const buffers = new Deno.UnsafePointerView(child.getPointer(40)!);
            const validity = nulls > 0 ? buffers.getPointer(0) : null;
            u32(validity === null ? 0 : Math.ceil(length / 8));
            if (validity !== null) writeFrom(validity, Math.ceil(length / 8));
            if (width > 0) {
              writeFrom(buffers.getPointer(8), length * width);
              return;
            }
            if (width < 0) {
              // Booleans, one bit a row (bits past the last row are not rows).
              writeFrom(buffers.getPointer(8), Math.ceil(length / 8));
              return;
            }
            // Offsets and bytes (text, WKB), the offsets rebased on the first.
            const offsets = new Int32Array(length + 1);
            new Deno.UnsafePointerView(buffers.getPointer(8)!).copyInto(
              new Uint8Array(offsets.buffer),
            );
            const first = offsets[0]!;
            const bytes = offsets[length]! - first;
            if (first !== 0) { for (let i = 0; i <= length; i++) offsets[i] = offsets[i]! - first; }
            write(new Uint8Array(offsets.buffer));
            u32(bytes);
            if (bytes > 0) {
              writeFrom(Deno.UnsafePointer.offset(buffers.getPointer(16)!, first), bytes);
            }
          });
          rows += length;
        } finally {
          new Deno.UnsafeFnPointer(Deno.UnsafePointer.create(array[8]!)!, ARROW_RELEASE).call(
            arrayPointer,
          );
        }
      }
      u32(0);
      closed = true;
      if (lib.VSIFCloseL(file) !== 0) {
        throw new GdalCallError(`Cannot write ${target}`, ["the disk is full or gone"]);
      }
      return rows;
    } finally {
      if (!closed) lib.VSIFCloseL(file);
    }
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
      /** Errors GDAL reported while opening `file` that do not fail the call. */
      forgetAtOpen?: RegExp;
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
          const forget = utility.forgetAtOpen;
          if (forget !== undefined) {
            const kept = this.#errors.filter((e) =>
              e.level < CE_FAILURE || !forget.test(e.message)
            );
            this.#errors.length = 0;
            this.#errors.push(...kept);
          }
          const out = utility.run(src, options);
          if (out === null) return undefined;
          this.#lib.GDALClose(out);
          return utility.failed() ? undefined : true;
        }),
      drivers,
    );
  }
}
