/**
 * How many features of a text file have a geometry in the file itself,
 * counted without trusting GDAL's parse of it, so that geometries GDAL could
 * not read are caught instead of published as NULL:
 *
 * - a CSV's WKT cell that is not WKT (`POINT (abc def)`, `POLYGON ((1 2, 3`)
 *   or X/Y cells that are not numbers: GDAL reads the row with a NULL
 *   geometry and says nothing. The census counts rows whose geometry
 *   column(s) are not empty, reading the file as a plain table through GDAL
 *   (no geometry options, every column as text) with an attribute filter;
 * - a GeoJSON feature whose geometry GDAL could not read (`"coordinates":
 *   [1]`, `"coordinates": "abc"`): GDAL makes it NULL. The census is the
 *   feature count less the features whose `"geometry"` member is `null` in
 *   the text, counted by a streaming scan (a nested object or an escaped
 *   string can only raise that count, so the check errs towards accepting,
 *   never towards a false alarm).
 *
 * An empty coordinate array (`"coordinates": []`) is an EMPTY geometry
 * whatever its type, but GDAL 3.6 reads `Point []` and `Polygon []` as NULL
 * while it reads `LineString []`, `MultiPoint []`... as EMPTY. The census
 * also counts those arrays, so that all of them are told apart from
 * unreadable geometries and treated alike, as EMPTY (quarantined unless
 * `allow_empty_geometries`; then published as GDAL reads them).
 *
 * Other formats carry binary geometries that GDAL either reads or fails on.
 * A Shapefile's Null shapes (features without a geometry) are found in its
 * `.shx`, and a GeoPackage's NULL or EMPTY geometries from its R-tree, so
 * that such a layer is converted once, by the route that keeps them (see
 * vector.ts).
 *
 * @module
 */

import type { GdalScratch, VectorLayerInfo } from "../../resources/spatial/gdal.ts";
import type { ManifestFile } from "./manifest.ts";
import { openSqlite } from "../../resources/_sqlite.ts";

/** Open options that make GDAL build geometries from a CSV's columns, or type its columns. */
const GEOMETRY_OPTIONS = /^(X|Y|Z|GEOM)_POSSIBLE_NAMES=|^AUTODETECT_|^KEEP_GEOM_COLUMNS=/i;

/** Whether a field name matches one of GDAL's `*_POSSIBLE_NAMES` patterns (`*` at either end). */
function matches(name: string, patterns: string[]): boolean {
  const lower = name.toLowerCase();
  return patterns.some((raw) => {
    const p = raw.trim().toLowerCase();
    if (p === "") return false;
    const starts = p.startsWith("*");
    const ends = p.endsWith("*");
    const core = p.replace(/^\*|\*$/g, "");
    if (starts && ends) return lower.includes(core);
    if (starts) return lower.endsWith(core);
    if (ends) return lower.startsWith(core);
    return lower === core;
  });
}

function namesOf(openOptions: readonly string[], key: string): string[] | undefined {
  const option = openOptions.find((o) => o.toUpperCase().startsWith(`${key}=`));
  return option?.slice(key.length + 1).split(",");
}

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
const filled = (name: string) => `${quote(name)} IS NOT NULL AND ${quote(name)} <> ''`;

/** Rows of a CSV whose geometry column(s) hold something, or `undefined` when it has none. */
async function csvCensus(
  scratch: GdalScratch,
  file: ManifestFile,
  gdalPath: string,
  openOptions: readonly string[],
): Promise<number | undefined> {
  const plain = openOptions.filter((o) => !GEOMETRY_OPTIONS.test(o));
  const table = await scratch.gdal.vectorInfo(gdalPath, { label: file.path, openOptions: plain });
  const fields = table.layers[0]?.fields.map((f) => f.name) ?? [];
  const geom = namesOf(openOptions, "GEOM_POSSIBLE_NAMES");
  const wkt = geom ? fields.find((f) => matches(f, geom)) : undefined;
  let where: string | undefined;
  if (wkt !== undefined) where = filled(wkt);
  else {
    const xs = namesOf(openOptions, "X_POSSIBLE_NAMES");
    const ys = namesOf(openOptions, "Y_POSSIBLE_NAMES");
    const x = xs ? fields.find((f) => matches(f, xs)) : undefined;
    const y = ys ? fields.find((f) => matches(f, ys)) : undefined;
    if (x !== undefined && y !== undefined) where = `${filled(x)} AND ${filled(y)}`;
  }
  if (where === undefined) return undefined;
  const counted = await scratch.gdal.vectorInfo(gdalPath, {
    label: file.path,
    openOptions: plain,
    where,
  });
  const count = counted.layers[0]?.featureCount;
  return count === undefined || count < 0 ? undefined : count;
}

/** What the census found in a layer's own text. */
export interface GeometryCensus {
  /** Features with a geometry in the file (not `null`, not an empty CSV cell). */
  geometries: number;
  /** Of those, the GeoJSON geometries written as `"coordinates": []` (EMPTY to the user). */
  emptyCoordinates: number;
  /**
   * GeoJSON members holding integers beyond 64 bits (the first few), which
   * GDAL 3.6 reads clamped to INT64_MAX / INT64_MIN on both engines.
   */
  longIntegers?: LongInteger[];
}

/** `"geometry": null` members of a GeoJSON text. */
const NULL_GEOMETRY = /(^|[^\\])"geometry"\s*:\s*null\b/g;
/** `"coordinates": []` members of a GeoJSON text. */
const EMPTY_COORDINATES = /(^|[^\\])"coordinates"\s*:\s*\[\s*\]/g;

/**
 * `"name": 123...` members whose integer has 19 digits or more (the least
 * an integer beyond 64 bits has), outside escaped strings. The name is a
 * JSON string (escapes kept), the value the integer's text.
 */
const LONG_INTEGER = /(?:^|[^\\])"((?:[^"\\]|\\.){0,200})"\s*:\s*(-?\d{19,})(?=\s*[,}\]])/g;

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** A JSON member whose integer is beyond 64 bits: its name and the integer as written. */
export interface LongInteger {
  name: string;
  value: string;
}

/** Integers kept of those beyond 64 bits, for the message (the first of each member name). */
const LONG_INTEGERS_KEPT = 5;

/**
 * Occurrences of each of `patterns` in a JSON text file, outside escaped
 * strings, and the members holding integers beyond 64 bits; one streamed scan.
 */
async function occurrences(
  path: string,
  patterns: readonly RegExp[],
): Promise<{ counts: number[]; longIntegers: LongInteger[] }> {
  // Chunks overlap by the longest match, so one split across two reads is still seen.
  const overlap = 320;
  let carry = "";
  const counts = patterns.map(() => 0);
  const longIntegers: LongInteger[] = [];
  using handle = await Deno.open(path);
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(1 << 20);
  for (;;) {
    const n = await handle.read(buffer);
    const text = carry + (n === null ? decoder.decode() : decoder.decode(buffer.subarray(0, n), {
      stream: true,
    }));
    // A match wholly inside the carried tail was counted with the previous chunk.
    const fresh = (match: RegExpMatchArray) => match.index! + match[0].length > carry.length;
    patterns.forEach((pattern, i) => {
      for (const match of text.matchAll(pattern)) {
        if (fresh(match)) counts[i]!++;
      }
    });
    if (longIntegers.length < LONG_INTEGERS_KEPT) {
      for (const match of text.matchAll(LONG_INTEGER)) {
        const [, name = "", value = ""] = match;
        const big = BigInt(value);
        if (
          fresh(match) && (big < INT64_MIN || big > INT64_MAX) &&
          longIntegers.length < LONG_INTEGERS_KEPT && !longIntegers.some((l) => l.name === name)
        ) longIntegers.push({ name, value });
      }
    }
    if (n === null) break;
    carry = text.slice(-overlap);
  }
  return { counts, longIntegers };
}

/**
 * The census of `layer` of a staged file: how many of its features have a
 * geometry in the file itself (and how many of those are `[]`), or
 * `undefined` when the format gives no such count (or the layer's feature
 * count is unknown).
 */
export async function geometryCensus(
  scratch: GdalScratch,
  file: ManifestFile,
  gdalPath: string,
  openOptions: readonly string[],
  layer: VectorLayerInfo,
): Promise<GeometryCensus | undefined> {
  if (file.type !== "vector") return undefined;
  if (file.format === "csv") {
    const geometries = await csvCensus(scratch, file, gdalPath, openOptions);
    return geometries === undefined ? undefined : { geometries, emptyCoordinates: 0 };
  }
  const plainText = /\.(geo)?json[sl]?$/i.test(gdalPath);
  if (file.format === "geojson" && plainText) {
    if (layer.featureCount < 0) return undefined;
    const { counts: [nulls = 0, empties = 0], longIntegers } = await occurrences(
      scratch.toHost(gdalPath),
      [NULL_GEOMETRY, EMPTY_COORDINATES],
    );
    return {
      geometries: Math.max(0, layer.featureCount - nulls),
      emptyCoordinates: empties,
      longIntegers,
    };
  }
  return undefined;
}

/** Bytes of a .shx header, and of each of its records (offset, content length: 16-bit words). */
const SHX_HEADER = 100;
const SHX_RECORD = 8;
/** The content length, in 16-bit words, of a Null shape record (its shape type alone). */
const NULL_SHAPE_WORDS = 2;

/**
 * Whether the Shapefile at `host` (a staged `.shp`) has a Null shape record,
 * found in its `.shx` (8 bytes a record, read in 1 MiB steps): GDAL reads it
 * as a feature without a geometry, which GDAL's FlatGeobuf writer leaves
 * out. `undefined` when there is no plain `.shp` with a `.shx` to read.
 */
export async function shapefileHasNullShapes(host: string): Promise<boolean | undefined> {
  // A Shapefile in a zip is read by GDAL inside it: not looked at here.
  if (!/\.shp$/i.test(host) || /\.zip\//i.test(host)) return undefined;
  const stem = host.slice(0, -4);
  let handle: Deno.FsFile | undefined;
  for (const ext of ["shx", "SHX"]) {
    handle = await Deno.open(`${stem}.${ext}`).catch((error) => {
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
        return undefined;
      }
      throw error;
    });
    if (handle !== undefined) break;
  }
  if (handle === undefined) return undefined;
  using file = handle;
  await file.seek(SHX_HEADER, Deno.SeekMode.Start);
  const buffer = new Uint8Array(1 << 20);
  let filled = 0;
  for (;;) {
    const n = await file.read(buffer.subarray(filled));
    if (n !== null) filled += n;
    const whole = filled - (filled % SHX_RECORD);
    const view = new DataView(buffer.buffer, 0, whole);
    for (let at = 0; at < whole; at += SHX_RECORD) {
      if (view.getInt32(at + 4, false) === NULL_SHAPE_WORDS) return true;
    }
    if (n === null) return false;
    // A record cut by the read is completed by the next one.
    buffer.copyWithin(0, whole, filled);
    filled -= whole;
  }
}

/**
 * Whether GeoPackage layer `table` (geometry column `column`, `featureCount`
 * features as GDAL counts them) has features whose geometry is NULL or
 * EMPTY, which GDAL's FlatGeobuf writer leaves out: such a layer takes the
 * GeoPackage route at once instead of being converted twice (see
 * vector.ts). A point layer gets no other look at its geometries before
 * the conversion, so it was always converted twice.
 *
 * Counted from the layer's R-tree: GDAL's and the specification's triggers
 * index exactly the rows whose geometry is neither NULL nor EMPTY, and
 * counting the index's `_rowid` table reads 16 bytes a feature. Measured
 * through the benchmark lock at load 14 on 1M points: 4-41 ms (GDAL's
 * `ST_IsEmpty` scan: 0.21-0.28 s; a scan of the blobs' NULLs and EMPTY flags
 * here: 0.34-0.55 s). A layer without an R-tree is not scanned: that would
 * cost every such layer more than the second conversion costs the rare one
 * with NULLs. An index out of step with its table only costs the second
 * conversion again: the caller still compares the rows written with the
 * feature count.
 *
 * `undefined` when `host` is not a plain GeoPackage file (in a zip), the
 * layer has no R-tree, or SQLite cannot read it: the caller then converts
 * as before.
 */
export function gpkgHasRowsWithoutGeometry(
  host: string,
  table: string,
  column: string,
  featureCount: number,
): boolean | undefined {
  if (!/\.gpkg$/i.test(host) || /\.zip\//i.test(host) || featureCount < 0 || column === "") {
    return undefined;
  }
  let db;
  try {
    db = openSqlite(host, { mode: "read" });
  } catch (error) {
    if (isSqliteError(error)) return undefined;
    throw error;
  }
  try {
    const rtree = `rtree_${table}_${column}`;
    const indexed = db.prepare(
          "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
        ).get(`${rtree}_rowid`) !== undefined &&
      db.prepare(
          "SELECT 1 FROM gpkg_extensions WHERE extension_name = 'gpkg_rtree_index' AND " +
            "table_name = ? COLLATE NOCASE AND column_name = ? COLLATE NOCASE",
        ).get(table, column) !== undefined;
    if (!indexed) return undefined;
    const row = db.prepare(`SELECT COUNT(*) AS n FROM ${quote(`${rtree}_rowid`)}`).get();
    return Number(row?.n) < featureCount;
  } catch (error) {
    // A table GDAL reads through a view or another layout than plain GeoPackage.
    if (isSqliteError(error)) return undefined;
    throw error;
  } finally {
    db.close();
  }
}

/** An error node:sqlite raised for the database (not a bug of this module). */
function isSqliteError(error: unknown): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === "ERR_SQLITE_ERROR";
}
