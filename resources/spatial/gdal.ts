/**
 * The `Gdal` role: GDAL as the pipeline sees it, whichever build runs it.
 * Two implementations give the same answers under one contract suite
 * (`tests/resources/spatial/gdal_contract_test.ts`):
 *
 * - `wasm` (`gdal_wasm.ts`): gdal3.js in process, the zero-install default;
 * - `native` (`gdal_native.ts`): the machine's gdal-bin tools as subprocesses,
 *   picked automatically when GDAL >= 3.6 is installed.
 *
 * Work happens in a {@linkcode GdalScratch}: a private local folder where the
 * caller stages inputs with ordinary file APIs and reads GDAL's outputs back,
 * so large files never have to be held in memory by JavaScript.
 *
 * @example
 * ```ts
 * import { openGdal } from "./open.ts";
 * const gdal = await openGdal("auto");
 * await using scratch = await gdal.createScratch();
 * const info = await scratch.gdal.vectorInfo(scratch.gdalPath("in.geojson"));
 * ```
 *
 * @module
 */

import path from "node:path";
import { PlatformError } from "../../core/errors.ts";

/**
 * A GDAL call failed. `input` names the user's file (the name the caller
 * gave, never a scratch path); `gdalMessage` is GDAL's own last error.
 */
export class GdalError extends PlatformError {
  /** GDAL's own message (e.g. `TIFFReadDirectory: ...`), when it gave one. */
  readonly gdalMessage: string;

  /** Creates the error; `gdalMessage` defaults to empty. */
  constructor(
    code: string,
    message: string,
    fields: ConstructorParameters<typeof PlatformError>[2] & { gdalMessage?: string } = {},
  ) {
    const { gdalMessage, ...rest } = fields;
    super(code, message, rest);
    this.gdalMessage = gdalMessage ?? "";
  }
}

/** Which build of GDAL runs the calls. */
export type GdalEngineKind = "wasm" | "native";

/** One vector layer as `ogrinfo` describes it. */
export interface VectorLayerInfo {
  /** Layer name. */
  name: string;
  /** Number of features (-1 when the driver cannot tell without reading them all). */
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

/** What `ogrinfo -so` says about a vector dataset. */
export interface VectorInfo {
  /** GDAL driver short name, e.g. `GeoJSON`, `ESRI Shapefile`, `GPKG`, `FlatGeobuf`. */
  driverShortName: string;
  /** Its layers. */
  layers: VectorLayerInfo[];
}

/** A coordinate reference system as GDAL resolved it. */
export interface CrsInfo {
  /** WKT2 of the CRS. */
  wkt: string;
  /** PROJJSON of the CRS (with its `id` and area-of-use `bbox` when PROJ's database has them). */
  projjson: Record<string, unknown>;
}

/**
 * `projjson` without its `$schema`: the PROJ of each engine names another
 * PROJJSON schema version for the same CRS (v0.5 from Debian's PROJ 9.1,
 * v0.7 from gdal3.js's), so one file's GeoParquet `geo` CRS differed with the
 * engine. The member is optional in PROJJSON.
 */
export function unversioned(projjson: Record<string, unknown>): Record<string, unknown> {
  const { $schema: _version, ...rest } = projjson;
  return rest;
}

/** Operations available inside a {@linkcode GdalScratch}. */
export interface GdalOps {
  /**
   * Resolves a CRS given as `AUTHORITY:CODE` (or WKT) with GDAL's PROJ
   * database; throws a {@linkcode GdalError} when GDAL does not know it.
   */
  crsInfo(crs: string): Promise<CrsInfo>;
  /**
   * Describes a vector dataset; fails if GDAL cannot open it as vector. With
   * `where` (an OGR SQL attribute filter), each layer's feature count is of
   * the features that match it.
   */
  vectorInfo(file: string, options?: OpenOptions & { where?: string }): Promise<VectorInfo>;
  /**
   * Whether this build has the GDAL driver `name` (short name, e.g.
   * `JP2OpenJPEG`). Optional: a build that does not say (the native one, with
   * the drivers its packager built) is taken to have it, and GDAL's own error
   * tells when not.
   */
  hasDriver?(name: string): boolean;
  /** `gdalinfo -json` with the given extra options (e.g. `-stats`). */
  rasterInfo(
    file: string,
    options?: string[],
    open?: OpenOptions,
  ): Promise<Record<string, unknown>>;
  /**
   * `ogr2ogr` into `outputName` (relative to the scratch folder, without
   * extension: the driver's is added). Returns the GDAL path of the output.
   */
  ogr2ogr(file: string, options: string[], outputName: string, open?: OpenOptions): Promise<string>;
  /**
   * The features of layer `layer` of `file`, as they are (no reprojection,
   * no repair), written to `outputName` (relative to the scratch folder) by
   * GDAL's Arrow stream: a file for formats/gdal_arrow_pages.ts, cheaper
   * for GDAL to write than ogr2ogr's FlatGeobuf and for us to read. Returns
   * its GDAL path and rows, or `{ unsupported }` (nothing written) when a
   * column is of a type the file does not carry. Optional: only the native
   * engine has it (gdal3.js has no Arrow stream through its API).
   */
  arrowDump?(
    file: string,
    layer: string,
    outputName: string,
    open?: OpenOptions,
  ): Promise<{ path: string; rows: number } | { unsupported: string }>;
  /** `gdal_translate` into `outputName` (as for `ogr2ogr`). Returns the GDAL path of the output. */
  translate(
    file: string,
    options: string[],
    outputName: string,
    open?: OpenOptions,
  ): Promise<string>;
  /**
   * `gdalwarp` into `outputName` (as for `ogr2ogr`), e.g. a scan placed by
   * its ground control points. Returns the GDAL path of the output.
   */
  warp(
    file: string,
    options: string[],
    outputName: string,
    open?: OpenOptions,
  ): Promise<string>;
}

/** How to open an input. */
export interface OpenOptions {
  /** GDAL open options (`-oo NAME=VALUE`), e.g. `X_POSSIBLE_NAMES=lon` for a CSV. */
  openOptions?: readonly string[];
  /** Name of the input in messages (the user's landing key, not the scratch path). */
  label?: string;
  /**
   * The only GDAL drivers that may open the input (GDALOpenEx's allowed
   * drivers), e.g. `["KML"]` where GDAL would prefer LIBKML: all when omitted.
   * The wasm engine, which cannot restrict its open, fails `vectorInfo` when
   * another driver read the file (its `ogr2ogr` then detects the same one).
   */
  drivers?: readonly string[];
  /**
   * Where the warnings (CE_Warning) GDAL gave during a successful call are
   * appended, in GDAL's words (`ogr2ogr` only): GDAL converts some values it
   * cannot read into something else with only a warning (a .dbf number
   * `2,25` read as 2), which the caller may refuse.
   */
  warnings?: string[];
  /**
   * Where the errors (CE_Failure) GDAL reported during a call that still
   * succeeded are appended, in GDAL's words: a truncated file may open with
   * "Failed to read header" and look merely empty or unplaced.
   */
  errors?: string[];
  /** Layers to read (`ogr2ogr` only): all when omitted. */
  layers?: readonly string[];
  /**
   * GDAL configuration options for this call only (`ogr2ogr` only; what
   * `--config KEY VALUE` sets), e.g. `OGR_SQLITE_JOURNAL: "WAL"` so that
   * another reader can follow a GeoPackage while it is written. The native
   * engine only: the wasm engine runs with fixed settings and refuses them.
   */
  config?: Readonly<Record<string, string>>;
}

/** A private folder shared between the host and GDAL, removed after use. */
export interface GdalScratch {
  /** Real path of the folder, for Deno file APIs. */
  readonly hostDir: string;
  /** The path GDAL sees for a file `relative` inside the folder. */
  gdalPath(relative: string): string;
  /** The real path of a file `relative` inside the folder. */
  hostPath(relative: string): string;
  /** The real path of a path GDAL returned. */
  toHost(gdalPath: string): string;
  /** GDAL operations. */
  readonly gdal: GdalOps;
}

/** GDAL, as a resource: creates scratch folders whose operations run on one build. */
export interface GdalEngine {
  /** Which build this is. */
  readonly kind: GdalEngineKind;
  /** GDAL's version, e.g. `3.6.2`. */
  readonly version: string;
  /**
   * What runs the calls, for people: e.g. `libgdal 3.6.2
   * (/usr/lib/x86_64-linux-gnu/libgdal.so.32) in a GDAL host process`.
   */
  readonly detail: string;
  /**
   * How many calls it runs at once at most (calls beyond wait): the wasm
   * engine's gdal3.js instances. Undefined: as many as are made.
   */
  readonly parallelism?: number;
  /** Creates a scratch folder; remove it with `await using`. */
  createScratch(): Promise<GdalScratch & AsyncDisposable>;
}

/** Extension GDAL gives the output of a driver (`-f`/`-of`), as gdal3.js does. */
export function driverExtension(options: readonly string[]): string {
  const at = options.findIndex((o) => o === "-f" || o === "-of");
  const driver = (at >= 0 ? options[at + 1] : undefined)?.toUpperCase() ?? "GTIFF";
  const known: Record<string, string> = {
    GPKG: ".gpkg",
    CSV: ".csv",
    GEOJSON: ".geojson",
    FLATGEOBUF: ".fgb",
    "ESRI SHAPEFILE": ".shp",
    SQLITE: ".sqlite",
    GTIFF: ".tif",
    COG: ".tif",
    PNG: ".png",
    JPEG: ".jpg",
  };
  return known[driver] ?? "";
}

/** The last lines of GDAL's stderr that are errors, for a message (warnings are left out). */
export function gdalErrorLines(stderr: string): string {
  const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== "");
  const errors = lines.filter((l) => /^(ERROR|FAILURE)\b/i.test(l) || !/^Warning/i.test(l));
  return errors.slice(-3).map((l) => l.replace(/^ERROR \d+:\s*/i, "")).join(" | ");
}

/**
 * A {@linkcode GdalError} saying what could not be done to the user's file
 * and GDAL's own reason.
 */
export function gdalFailure(
  action: string,
  label: string,
  gdalMessage: string,
  cause?: unknown,
  advice = "Check that the file is a valid, complete dataset of the declared format.",
): GdalError {
  // "Error occurred in <GDAL's source file> at line N" (its File Geodatabase reader on a
  // damaged table) names GDAL's code, and a build machine's folder, nothing of the user's.
  const reason = gdalMessage.trim().replace(
    /Error occurred in \S+ at line \d+/g,
    "GDAL found a damaged part in it",
  ) || "GDAL gave no reason";
  return new GdalError(
    "spatial.gdal_failed",
    `Cannot ${action} '${label}': ${reason}. ${advice}`,
    { input: label, gdalMessage: reason, ...(cause === undefined ? {} : { cause }) },
  );
}

/** The user-facing name of a staged file: the label given, else its base name. */
export function labelOf(file: string, open?: OpenOptions): string {
  return open?.label ?? path.basename(file);
}

/** What to do about a CRS GDAL does not know. */
export const CRS_ADVICE =
  "Declare a CRS from the EPSG registry (e.g. EPSG:4326) that PROJ knows, as AUTHORITY:CODE.";

/** The feature id column of a scratch GeoPackage (see {@linkcode SCRATCH_GPKG_OPTIONS}). */
export const SCRATCH_FID = "ogr_scratch_fid";

/**
 * The geometry column of a scratch GeoPackage: a name no GIS file gives an
 * attribute. It was `geom`, which PostGIS exports and CSVs give an
 * attribute (a text copy of the geometry): GDAL's GeoPackage writer refused
 * that attribute (native: "duplicate column name"), gdal3.js dropped it
 * without a word, where GDAL's Parquet writer (geometry column `geometry`)
 * keeps it as it is.
 */
export const SCRATCH_GEOM = "ogr_scratch_geom";

/**
 * ogr2ogr options for a scratch GeoPackage: the geometry column is
 * {@linkcode SCRATCH_GEOM} and no spatial index, which a table read once
 * from start to end never pays back. The feature id column
 * is {@linkcode SCRATCH_FID}, not GDAL's default `fid`: a source attribute
 * named `fid` (every GeoJSON exported from a GeoPackage by QGIS has one) is
 * taken by GDAL's GeoPackage writer as the feature id, and failed the
 * conversion ("UNIQUE constraint failed") when two features shared a value.
 */
export const SCRATCH_GPKG_OPTIONS: readonly string[] = scratchGpkgOptions();

/**
 * {@linkcode SCRATCH_GPKG_OPTIONS} with the geometry column named
 * `geometryName` (a SpatiaLite workspace's tables name theirs `geom`, which
 * the recipes' SQL names).
 */
export function scratchGpkgOptions(geometryName = SCRATCH_GEOM): readonly string[] {
  return [
    "-f",
    "GPKG",
    "-lco",
    `GEOMETRY_NAME=${geometryName}`,
    "-lco",
    "SPATIAL_INDEX=NO",
    "-lco",
    `FID=${SCRATCH_FID}`,
  ];
}
