/**
 * GeoParquet 1.1 writer: streams pages of features into a Parquet file with
 * apache-arrow and parquet-wasm ({@linkcode writeGeoParquet}). The pages come
 * from a SQLite table (a GeoPackage layer written by GDAL, or a dump of a
 * PostGIS table: {@linkcode sqliteToGeoParquet}) or from a FlatGeobuf GDAL
 * is writing (`flatgeobuf_pages.ts`, the native engine's Shapefiles); both
 * give the same bytes for the same layer.
 *
 * The file has a WKB `geometry` column, a `bbox` struct column declared as
 * its covering, the `geo` key-value metadata (version, primary column,
 * encoding, geometry types, PROJJSON CRS, bbox), Snappy compression
 * ({@linkcode COMPRESSION}: why not zstd) and row
 * groups of {@linkcode GeoParquetOptions.rowGroupSize} rows (and at most
 * {@linkcode GeoParquetOptions.rowGroupBytes}). Memory stays bounded: rows
 * are read, scanned and written one page at a time, in one pass.
 *
 * One pass needs one trick: parquet-wasm takes the key-value metadata before
 * the first row, but the `geo` summary (exact bbox, geometry types) is known
 * only after the last. The writer reserves it: it writes a `geo` JSON padded
 * with spaces to the longest the summary can become, then overwrites those
 * bytes in the footer with the real JSON padded to the same length (JSON
 * allows trailing whitespace; Parquet stores the value as plain bytes with
 * its length in front, which does not change), before the footer reaches the
 * disk, hashing the file as it goes (see parquet_output.ts): the result
 * carries the file's SHA-256 for the ledger. Measured on 100k polygons:
 * the former separate summary pass over every geometry was 35 % of the
 * write's CPU time (bench/spatial.ts).
 *
 * The source may still be growing: with {@linkcode GeoParquetOptions.follow}
 * the writer reads rows while GDAL appends them (a GeoPackage in WAL mode,
 * or a FlatGeobuf) until the producer settles, so conversion and writing
 * overlap.
 *
 * @example
 * ```ts
 * import { sqliteToGeoParquet } from "./geoparquet.ts";
 * const result = await sqliteToGeoParquet("layer.gpkg", "roads", "roads.parquet", {
 *   crs: { type: "GeographicCRS", name: "WGS 84" },
 * });
 * console.log(result.rows, result.bbox);
 * ```
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import {
  Binary,
  Bool,
  Field,
  Float64,
  Int64,
  makeData,
  makeVector,
  Struct,
  Table,
  tableToIPC,
  Utf8,
  type Vector,
} from "apache-arrow";
import * as parquet from "parquet-wasm";
import { GeoParquetError } from "./geoparquet_errors.ts";
import {
  type Box,
  emptyBox,
  extendBox,
  GEOMETRY_TYPE_NAMES,
  gpkgToWkb,
  inspectBlob,
  scanBlob,
  withoutM,
  WkbTypeError,
} from "./wkb.ts";
import { LongitudeExtent } from "./lon_extent.ts";
import { writeParquetPatched, type WrittenFile } from "./parquet_output.ts";

/**
 * Logical type of an attribute column in the output: `binary` is an OGR
 * binary field (a GeoPackage BLOB column, FlatGeobuf's Binary: photos,
 * attachments), written as Parquet bytes without the UTF-8 annotation, as
 * GDAL's own Parquet driver writes it.
 */
export type ColumnType = "string" | "int64" | "float64" | "boolean" | "binary";

/** One attribute column of a feature table. */
export interface ColumnSchema {
  /** Column name in the output file. */
  name: string;
  /** Arrow/Parquet type. */
  type: ColumnType;
}

/** Options of {@linkcode sqliteToGeoParquet}. */
export interface GeoParquetOptions {
  /** CRS of the geometries, as PROJJSON (written into the `geo` metadata). */
  crs: Record<string, unknown>;
  /**
   * Geometry column of the source table.
   *
   * @default {from gpkg_geometry_columns, else "geom"}
   */
  geometryColumn?: string;
  /**
   * Rows per Parquet row group: large enough for efficient scans, small
   * enough for readers that filter on the bbox statistics.
   *
   * @default {about {@linkcode ROW_GROUP_TARGET_BYTES} of rows, as measured on the first page; 1024 to 65536}
   */
  rowGroupSize?: number;
  /**
   * Most bytes of a row group: a table of huge attributes (long texts, big
   * geometries) closes its row groups earlier, so memory stays bounded
   * whatever the row width.
   *
   * @default {134217728 (128 MiB)}
   */
  rowGroupBytes?: number;
  /**
   * Rows read from SQLite and handed to the writer at a time. Small pages
   * keep the garbage of each (a JS array and a blob per row, then the Arrow
   * and IPC copies) in V8's young generation: on 388k polygons, 4096 rows
   * peaked 60-100 MiB lower than 16384 for the same CPU time
   * (bench/spatial.ts). Row groups are unaffected (`rowGroupSize`).
   *
   * @default {4096}
   */
  batchSize?: number;
  /**
   * A producer still appending rows to the table (GDAL converting into a
   * GeoPackage in WAL mode): the writer waits for the table to appear,
   * writes rows as they are committed, and ends once the producer settled
   * and every row is written. Rows must be appended in rowid order.
   *
   * @default {undefined: the table is complete}
   */
  follow?: PromiseLike<unknown>;
  /**
   * While following, how long to wait before looking for new rows again
   * (milliseconds of real time: the producer is another process).
   *
   * @default {25}
   */
  pollMs?: number;
  /**
   * Float64 columns computed from each row's WKB (e.g. geodesic `area_m2`),
   * written after the attributes; `null` values are nulls.
   *
   * @default {[]}
   */
  compute?: readonly ComputedColumn[];
  /**
   * Area of use `[xmin, ymin, xmax, ymax]` of the CRS: geometries with a
   * coordinate outside it are counted in `stats.outsideGeometries`.
   *
   * @default {undefined, no check}
   */
  validBox?: readonly [number, number, number, number];
  /**
   * Order of the rows: as stored, or along a Hilbert curve through the
   * centres of their bboxes (over the layer's extent, 2^16 cells a side), so
   * that neighbours share row groups and readers filtering on the bbox
   * columns skip most of them.
   *
   * @default {"none"}
   */
  sort?: "none" | "hilbert";
  /**
   * The user's file the rows come from, named in messages instead of the
   * scratch paths and table this writer reads and writes.
   *
   * @default {undefined: the paths and table themselves}
   */
  label?: string;
}

/**
 * Uncompressed bytes a row group holds by default. parquet-wasm keeps the
 * row group being written in its WebAssembly memory several times over
 * (column pages, the finished chunks, the output buffer), and that memory
 * never shrinks: on 200k polygons of ~330 bytes, 65,536-row groups grew it
 * to 117 MiB and the writer's peak RSS to 356-388 MiB; 16,384-row groups
 * (~5 MiB) to 36-44 MiB and 241-276 MiB (bench/spatial.ts). Points (~100
 * bytes a row) keep row groups of tens of thousands of rows.
 */
export const ROW_GROUP_TARGET_BYTES = 4 * 2 ** 20;

/**
 * The codec of every column: Snappy, the default of GDAL's Parquet driver,
 * pyarrow and DuckDB, which every Parquet reader takes. It was zstd (the
 * level parquet-wasm 0.8 picks; it offers no other): measured with the
 * writer alone (bench/spatial.ts module doc, 2026-12-07, two rounds at load
 * 8-14), Snappy costs 1.35-1.42 CPU s instead of 1.68-1.88 on 1M points and
 * 0.46-0.47 instead of 0.57-0.59 on 100k polygons, for files 26 % (points:
 * 80.1 MB instead of 63.6) and 13 % (22.6 MB instead of 20.0) larger. On
 * this loaded two-core machine a batch's time follows its CPU time, and the
 * writer's CPU is what keeps the one-file batch above issue 11's 1.5x of
 * native. LZ4_RAW was as fast (1.30-1.36 s, 78.9 MB) but older readers
 * lack it.
 */
export const COMPRESSION: parquet.Compression = parquet.Compression.SNAPPY;

/** Rows a row group gets when a row is `rowBytes` on average (see {@linkcode ROW_GROUP_TARGET_BYTES}). */
export function defaultRowGroupSize(rowBytes: number): number {
  const rows = Math.floor(ROW_GROUP_TARGET_BYTES / Math.max(1, rowBytes) / 1024) * 1024;
  return Math.min(65_536, Math.max(1_024, rows));
}

/** Average uncompressed bytes of a page's rows (WKB and attributes as written). */
function averageRowBytes(page: FeaturePage): number {
  if (page.length === 0) return 0;
  let bytes = 0;
  // Geometries as written: the WKB of a GeoPackage blob (its header left out).
  const wkbs = page.wkbs.map((blob) => (blob === null ? null : gpkgToWkb(blob)));
  // Counted as the same values in an array would be (8 bytes for a number or a null).
  for (const column of page.columns) {
    if (Array.isArray(column)) continue;
    const { offsets, validity } = column;
    for (let i = 0; i < column.length; i++) {
      const valid = validity === null || (validity[i >> 3]! & (1 << (i & 7))) !== 0;
      bytes += offsets !== undefined && valid ? offsets[i + 1]! - offsets[i]! + 4 : 8;
    }
  }
  for (const values of [...page.columns.filter((c) => Array.isArray(c)), wkbs]) {
    for (const value of values) {
      if (value instanceof Uint8Array) bytes += value.length + 4;
      // UTF-8 bytes, as written (and as a FlatGeobuf source hands them).
      else if (typeof value === "string") bytes += encoder.encode(value).length + 4;
      else bytes += 8;
    }
  }
  // The bbox columns: four doubles a row.
  return bytes / page.length + 32;
}

/**
 * Rows of a first page from which {@linkcode repeats} judges a text column:
 * fewer say too little, and the column keeps its dictionary.
 */
const DICTIONARY_SAMPLE = 1_024;

/**
 * Whether a text column's dictionary may pay, judged from the first page's
 * values `column`: `false` when at least {@linkcode DICTIONARY_SAMPLE}
 * of them are there and every one is distinct (a name or key per feature).
 * Such a column costs the dictionary's hashing for nothing: parquet-wasm
 * gives up a dictionary only once it outgrows its page limit (1 MiB), which
 * a row group of short unique texts never does, so every value was hashed
 * and stored twice. Measured (the writer alone, 1M points of a unique
 * `name`, bench/spatial.ts): 0.07-0.12 CPU s of ~0.7. The values read back
 * the same either way; only the file's encoding differs.
 */
function repeats(column: unknown[] | PackedColumn): boolean {
  const seen = new Set<string>();
  let values = 0;
  const add = (value: string) => {
    values++;
    seen.add(value);
  };
  if (Array.isArray(column)) {
    for (const value of column) {
      if (value === null || value === undefined) continue;
      add(value instanceof Uint8Array ? decoder.decode(value) : String(value));
    }
  } else if (column.offsets !== undefined) {
    const { offsets, validity } = column;
    const bytes = column.values as Uint8Array;
    for (let i = 0; i < column.length; i++) {
      if (validity !== null && (validity[i >> 3]! & (1 << (i & 7))) === 0) continue;
      add(decoder.decode(bytes.subarray(offsets[i]!, offsets[i + 1]!)));
    }
  }
  return values < DICTIONARY_SAMPLE || seen.size < values;
}

/** Position of cell (x, y) on the Hilbert curve filling a 2^16 x 2^16 grid. */
export function hilbertIndex(x: number, y: number): number {
  const n = 65_536;
  let d = 0;
  for (let s = n / 2; s >= 1; s /= 2) {
    const rx = (x & s) > 0 ? 1 : 0;
    const ry = (y & s) > 0 ? 1 : 0;
    d += s * s * ((3 * rx) ^ ry);
    if (ry === 0) {
      if (rx === 1) {
        x = s - 1 - x;
        y = s - 1 - y;
      }
      [x, y] = [y, x];
    }
  }
  return d;
}

/** A column computed from each geometry. */
export interface ComputedColumn {
  /** Output column name. */
  name: string;
  /**
   * The value of the row with SQLite `rowid` whose WKB is `wkb`; `null` for
   * a null geometry or where the value does not apply.
   */
  fn(wkb: Uint8Array | null, rowid: number): number | null;
}

/** What the first pass over the geometries found, for validation before publishing. */
export interface GeometryStats {
  /** Rows whose geometry is NULL. */
  nullGeometries: number;
  /** Rows whose geometry is EMPTY. */
  emptyGeometries: number;
  /** Rows with a NaN or infinite coordinate. */
  nonFiniteGeometries: number;
  /** Rows with a coordinate outside `validBox` (0 without one). */
  outsideGeometries: number;
}

/** What {@linkcode sqliteToGeoParquet} wrote. */
export interface GeoParquetResult {
  /** Number of features. */
  rows: number;
  /** Bounding box [xmin, ymin, xmax, ymax], or `null` when every geometry is empty or null. */
  bbox: [number, number, number, number] | null;
  /** Distinct geometry types (`Point`, `MultiPolygon Z`...), sorted. */
  geometryTypes: string[];
  /** Attribute columns, in order (the geometry and bbox columns come after them). */
  columns: ColumnSchema[];
  /** The `geo` metadata written into the file. */
  geo: GeoMetadata;
  /** Null, empty, non-finite and out-of-range geometries found. */
  stats: GeometryStats;
  /** Rows in each row group. */
  rowGroupSize: number;
  /** Bytes in the file written. */
  size: number;
  /** Lowercase hex SHA-256 of the file, computed as it was written (publishing needs no re-read). */
  sha256: string;
}

/** The GeoParquet `geo` file metadata. */
export interface GeoMetadata {
  version: "1.1.0";
  primary_column: "geometry";
  columns: {
    geometry: {
      encoding: "WKB";
      geometry_types: string[];
      crs: Record<string, unknown>;
      bbox?: number[];
      covering: { bbox: Record<"xmin" | "ymin" | "xmax" | "ymax", [string, string]> };
    };
  };
}

export { GeoParquetError } from "./geoparquet_errors.ts";

const GEOMETRY = "geometry";
const BBOX = "bbox";

/**
 * The output name of each source attribute column (`names`, in order): its
 * own, except where it is one of the `reserved` names the writer adds
 * (`geometry`, `bbox`, a computed column such as `area_m2`), which gets
 * `_attr` appended (again, until the name is free). A name is never taken
 * from a later source column: with `bbox` and `bbox_attr` both in the
 * source, `bbox` becomes `bbox_attr_attr` and `bbox_attr` keeps its own.
 */
export function outputNames(names: readonly string[], reserved: readonly string[]): string[] {
  const taken = new Set([...reserved, ...names]);
  const clash = new Set(reserved);
  return names.map((name) => {
    if (!clash.has(name)) return name;
    let renamed = `${name}_attr`;
    while (taken.has(renamed)) renamed = `${renamed}_attr`;
    taken.add(renamed);
    return renamed;
  });
}

/** Quotes an SQLite identifier. */
function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function columnTypeOf(declared: string): ColumnType {
  const t = declared.toUpperCase();
  if (t === "BOOLEAN") return "boolean";
  if (/INT/.test(t)) return "int64";
  if (/REAL|FLOA|DOUB|NUMERIC|DECIMAL/.test(t)) return "float64";
  // GDAL declares an OFTBinary field BLOB (GeoPackage, SQLite): bytes, not text.
  if (t === "BLOB") return "binary";
  return "string";
}

interface SourceShape {
  geometryColumn: string;
  sourceColumns: { source: string; output: ColumnSchema }[];
}

/** ` of '<label>'` for a message, or nothing without a label. */
const of = (label: string | undefined) => label === undefined ? "" : ` of '${label}'`;

function describeSource(
  db: DatabaseSync,
  table: string,
  geometryColumn?: string,
  label?: string,
): SourceShape {
  let geom = geometryColumn;
  if (geom === undefined) {
    const hasGpkg = db.prepare(
      "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_geometry_columns'",
    ).get();
    const row = hasGpkg
      ? db.prepare("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?").get(table)
      : undefined;
    geom = typeof row?.column_name === "string" ? row.column_name : "geom";
  }
  const info = db.prepare(`PRAGMA table_info(${ident(table)})`).all() as {
    name: string;
    type: string;
    pk: number;
  }[];
  if (info.length === 0) {
    throw new GeoParquetError(
      "spatial.geoparquet_no_table",
      `Cannot write GeoParquet${of(label)}: table '${table}' does not exist in the source.`,
      { input: label ?? table },
    );
  }
  if (!info.some((c) => c.name === geom)) {
    throw new GeoParquetError(
      "spatial.geoparquet_no_geometry",
      `Cannot write GeoParquet${of(label)}: table '${table}' has no geometry column '${geom}'.`,
      { input: label ?? table },
    );
  }
  const sourceColumns = info
    // The integer primary key is GDAL's feature id, an artefact of the container.
    .filter((c) => c.name !== geom && !(c.pk === 1 && /INT/i.test(c.type)))
    // Named as in the source: writeGeoParquet renames those its own columns take.
    .map((c) => ({ source: c.name, output: { name: c.name, type: columnTypeOf(c.type) } }));
  return { geometryColumn: geom, sourceColumns };
}

/**
 * The order of a Hilbert sort: rowids sorted by the curve position of the
 * centres of their geometries' bboxes over the layer's extent (rows without
 * a finite centre last, in rowid order). A pass over the geometry column only.
 */
function hilbertOrder(db: DatabaseSync, table: string, geom: string): number[] {
  const rowids: number[] = [];
  const centres: number[] = [];
  const box = emptyBox();
  const stmt = db.prepare(`SELECT ${ident(geom)} AS g, rowid FROM ${ident(table)}`);
  stmt.setReturnArrays(true);
  for (const row of stmt.iterate() as unknown as Iterable<unknown[]>) {
    rowids.push(Number(row[1]));
    const blob = row[0];
    if (!(blob instanceof Uint8Array)) {
      centres.push(NaN, NaN);
      continue;
    }
    const { box: b } = inspectBlob(blob);
    centres.push((b[0] + b[2]) / 2, (b[1] + b[3]) / 2);
    if (Number.isFinite(b[0])) extendBox(box, b);
  }
  const [x0, y0, x1, y1] = box;
  const sx = 65_535 / Math.max(x1 - x0, Number.MIN_VALUE);
  const sy = 65_535 / Math.max(y1 - y0, Number.MIN_VALUE);
  const keys = new Float64Array(rowids.length);
  rowids.forEach((_, i) => {
    const cx = centres[2 * i]!;
    const cy = centres[2 * i + 1]!;
    keys[i] = Number.isFinite(cx) && Number.isFinite(cy)
      ? hilbertIndex(Math.round((cx - x0) * sx), Math.round((cy - y0) * sy))
      : Number.MAX_VALUE;
  });
  return rowids.map((_, i) => i).sort((a, b) => keys[a]! - keys[b]! || a - b)
    .map((i) => rowids[i]!);
}

/** What the writing pass learns about the geometries, for the `geo` metadata and validation. */
class GeometrySummary {
  rows = 0;
  readonly box: Box = emptyBox();
  readonly types = new Set<string>();
  readonly stats: GeometryStats = {
    nullGeometries: 0,
    emptyGeometries: 0,
    nonFiniteGeometries: 0,
    outsideGeometries: 0,
  };

  /** Longitudes of the geometries, when the CRS is geographic (see lon_extent.ts). */
  readonly #longitudes: LongitudeExtent | undefined;

  constructor(readonly validBox: readonly number[] | undefined, geographic = false) {
    this.#longitudes = geographic ? new LongitudeExtent() : undefined;
  }

  /**
   * The exact bbox of the geometries; in a geographic CRS, `west > east`
   * when they lie across the antimeridian (GeoParquet 1.1, RFC 7946 §5).
   */
  bbox(): Box {
    // Longitudes past ±180 are not on the circle the extent is taken on: plain min/max.
    const onCircle = this.box[0] >= -180 && this.box[2] <= 180;
    const extent = onCircle ? this.#longitudes?.extent() : undefined;
    if (extent === undefined) return [...this.box];
    return [extent[0], this.box[1], extent[1], this.box[3]];
  }

  /** Whether the geometry {@linkcode add} saw last carries M values. */
  measured = false;

  /** The coordinates of the point {@linkcode addPoint} counted last. */
  x = NaN;
  y = NaN;
  #pointSeen = false;
  #view: DataView = new DataView(new ArrayBuffer(0));

  /**
   * Counts `blob` when it is a little-endian 2D point of finite coordinates
   * in plain WKB (a FlatGeobuf's points: a 21-byte row), its coordinates
   * left in {@linkcode x} and {@linkcode y}; `false` for anything else,
   * counted by {@linkcode add} instead. The same counts as `add`, without
   * its scan's objects per row (on 1M points, the scan and its garbage were
   * ~0.2-0.3 s of the writer's thread, bench/spatial.ts).
   */
  addPoint(blob: Uint8Array): boolean {
    return this.addPointAt(blob, 0, blob.length);
  }

  /** {@linkcode addPoint} of the `length` bytes of `bytes` from `at` (no view of them needed). */
  addPointAt(bytes: Uint8Array, at: number, length: number): boolean {
    if (
      length !== 21 || bytes[at] !== 1 || bytes[at + 1] !== 1 || bytes[at + 2] !== 0 ||
      bytes[at + 3] !== 0 || bytes[at + 4] !== 0
    ) return false;
    let view = this.#view;
    if (view.buffer !== bytes.buffer) view = this.#view = new DataView(bytes.buffer);
    const x = view.getFloat64(bytes.byteOffset + at + 5, true);
    const y = view.getFloat64(bytes.byteOffset + at + 13, true);
    // POINT EMPTY and non-finite coordinates take the scan's path.
    if (!Number.isFinite(x) || !Number.isFinite(y)) return false;
    this.rows++;
    this.measured = false;
    if (!this.#pointSeen) {
      this.types.add("Point");
      this.#pointSeen = true;
    }
    const v = this.validBox;
    if (v !== undefined && (x < v[0]! || y < v[1]! || x > v[2]! || y > v[3]!)) {
      this.stats.outsideGeometries++;
    }
    const box = this.box;
    if (x < box[0]) box[0] = x;
    if (y < box[1]) box[1] = y;
    if (x > box[2]) box[2] = x;
    if (y > box[3]) box[3] = y;
    this.#longitudes?.addInterval(x, x);
    this.x = x;
    this.y = y;
    return true;
  }

  /** Counts one geometry (or a null) and returns its exact bbox, or `undefined`. */
  add(blob: Uint8Array | null): Box | undefined {
    this.rows++;
    this.measured = false;
    if (blob === null) {
      this.stats.nullGeometries++;
      return undefined;
    }
    let scan;
    try {
      scan = scanBlob(blob);
    } catch (error) {
      if (!(error instanceof WkbTypeError)) throw error;
      throw new GeoParquetError(
        "spatial.geoparquet_geometry_type",
        `Cannot write GeoParquet: feature ${this.rows} holds a ${error.typeName} geometry, ` +
          "which GeoParquet cannot hold (its geometries are points, lines, polygons, their " +
          "multi-parts and collections)",
        { input: error.typeName },
      );
    }
    this.measured = scan.hasM;
    this.types.add(scan.type);
    if (scan.empty) this.stats.emptyGeometries++;
    if (scan.nonFinite) this.stats.nonFiniteGeometries++;
    const v = this.validBox;
    if (
      v !== undefined && !scan.empty &&
      (scan.box[0] < v[0]! || scan.box[1] < v[1]! || scan.box[2] > v[2]! || scan.box[3] > v[3]!)
    ) this.stats.outsideGeometries++;
    if (!Number.isFinite(scan.box[0])) return undefined;
    extendBox(this.box, scan.box);
    if (this.#longitudes !== undefined) {
      if (scan.box[2] - scan.box[0] <= 180) {
        this.#longitudes.addInterval(scan.box[0], scan.box[2]);
      } else this.#longitudes.addGeometry(gpkgToWkb(blob), scan.box[0], scan.box[2]);
    }
    return scan.box;
  }
}

/** A double as long as JSON ever prints one (24 characters). */
const WIDEST_NUMBER = -1.2345678901234567e-123;

function geoMetadata(
  crs: Record<string, unknown>,
  box: Box,
  types: string[],
): GeoMetadata {
  const hasBox = Number.isFinite(box[0]);
  return {
    version: "1.1.0",
    primary_column: GEOMETRY,
    columns: {
      geometry: {
        encoding: "WKB",
        geometry_types: types,
        crs,
        ...(hasBox ? { bbox: [...box] } : {}),
        covering: {
          bbox: {
            xmin: [BBOX, "xmin"],
            ymin: [BBOX, "ymin"],
            xmax: [BBOX, "xmax"],
            ymax: [BBOX, "ymax"],
          },
        },
      },
    },
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function validityOf(values: unknown[]): { bitmap: Uint8Array | null; nulls: number } {
  let nulls = 0;
  const bitmap = new Uint8Array(Math.ceil(values.length / 8));
  for (let i = 0; i < values.length; i++) {
    if (values[i] === null || values[i] === undefined) nulls++;
    else bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return { bitmap: nulls > 0 ? bitmap : null, nulls };
}

/**
 * An attribute column of a page already in Arrow's layout, from a source
 * that decodes into buffers (a FlatGeobuf), not into a JS value per row:
 * `validity` has bit `i` set when row `i` has a value; `values` holds
 * 64-bit integers, doubles, one byte per boolean, or, with `offsets`, the
 * UTF-8 bytes of the texts (`offsets[i]` to `offsets[i + 1]`).
 */
export interface PackedColumn {
  /** Rows. */
  length: number;
  /** Validity bitmap (LSB first), `null` when no row is null. */
  validity: Uint8Array | null;
  /** Null rows. */
  nulls: number;
  /** The values (see the interface). */
  values: BigInt64Array | Float64Array | Uint8Array;
  /** Text offsets (`length + 1` of them), for strings. */
  offsets?: Int32Array;
}

/** An Arrow vector of a packed column of type `type`. */
function packedVector(type: ColumnType, column: PackedColumn): Vector {
  const { length, nulls } = column;
  const nullBitmap = nulls > 0 ? column.validity : null;
  switch (type) {
    case "int64":
      return makeVector(makeData({
        type: new Int64(),
        length,
        nullCount: nulls,
        nullBitmap,
        data: column.values as BigInt64Array,
      }));
    case "float64":
      return makeVector(makeData({
        type: new Float64(),
        length,
        nullCount: nulls,
        nullBitmap,
        data: column.values as Float64Array,
      }));
    case "boolean": {
      const data = new Uint8Array(Math.ceil(length / 8));
      const bytes = column.values as Uint8Array;
      for (let i = 0; i < length; i++) if (bytes[i]) data[i >> 3]! |= 1 << (i & 7);
      return makeVector(makeData({ type: new Bool(), length, nullCount: nulls, nullBitmap, data }));
    }
    case "string":
    case "binary":
      return variableVector(type, {
        length,
        nullCount: nulls,
        nullBitmap,
        valueOffsets: column.offsets!,
        data: column.values as Uint8Array,
      });
  }
}

/** The parts of a text or bytes column's Arrow data (offsets into one buffer). */
interface VariableData {
  length: number;
  nullCount: number;
  nullBitmap: Uint8Array | null;
  valueOffsets: Int32Array;
  data: Uint8Array;
}

/** A text (`Utf8`) or bytes (`Binary`) vector of `parts`. */
function variableVector(type: "string" | "binary", parts: VariableData): Vector {
  return type === "string"
    ? makeVector(makeData({ type: new Utf8(), ...parts }))
    : makeVector(makeData({ type: new Binary(), ...parts }));
}

// Columns are built straight into typed buffers: vectorFromArray's generic
// builders cost several times more per value.
function attributeVector(type: ColumnType, values: unknown[] | PackedColumn): Vector {
  if (!Array.isArray(values)) return packedVector(type, values);
  const length = values.length;
  const { bitmap, nulls } = validityOf(values);
  switch (type) {
    case "int64": {
      const data = new BigInt64Array(length);
      for (let i = 0; i < length; i++) {
        const v = values[i];
        if (v === null || v === undefined) continue;
        data[i] = typeof v === "bigint" ? v : BigInt(Math.trunc(Number(v)));
      }
      return makeVector(
        makeData({ type: new Int64(), length, nullCount: nulls, nullBitmap: bitmap, data }),
      );
    }
    case "float64": {
      const data = new Float64Array(length);
      for (let i = 0; i < length; i++) {
        const v = values[i];
        if (v !== null && v !== undefined) data[i] = Number(v);
      }
      return makeVector(
        makeData({ type: new Float64(), length, nullCount: nulls, nullBitmap: bitmap, data }),
      );
    }
    case "boolean": {
      const data = new Uint8Array(Math.ceil(length / 8));
      for (let i = 0; i < length; i++) {
        const v = values[i];
        if (v !== null && v !== undefined && Boolean(Number(v))) data[i >> 3]! |= 1 << (i & 7);
      }
      return makeVector(
        makeData({ type: new Bool(), length, nullCount: nulls, nullBitmap: bitmap, data }),
      );
    }
    case "string":
    case "binary": {
      const offsets = new Int32Array(length + 1);
      let buffer = new Uint8Array(Math.max(64, length * 16));
      let used = 0;
      for (let i = 0; i < length; i++) {
        const v = values[i];
        if (v !== null && v !== undefined) {
          const text = v instanceof Uint8Array ? v : String(v);
          const needed = typeof text === "string" ? text.length * 3 : text.length;
          if (used + needed > buffer.length) {
            const grown = new Uint8Array(Math.max(buffer.length * 2, used + needed));
            grown.set(buffer.subarray(0, used));
            buffer = grown;
          }
          if (typeof text === "string") {
            used += encoder.encodeInto(text, buffer.subarray(used)).written;
          } else {
            buffer.set(text, used);
            used += text.length;
          }
        }
        offsets[i + 1] = used;
      }
      return variableVector(type, {
        length,
        nullCount: nulls,
        nullBitmap: bitmap,
        valueOffsets: offsets,
        data: buffer.subarray(0, used),
      });
    }
  }
}

/**
 * Builds the WKB Binary column and the bbox struct column of one batch
 * directly, without per-row objects, scanning each geometry once into
 * `summary` (exact bbox, type, validation counts).
 */
function geometryVectors(
  page: FeaturePage,
  summary: GeometrySummary,
): { geometry: Vector; bbox: Vector } {
  const length = page.length;
  let packed = page.wkbData;
  // The page's view per row, only for rows that are not a plain point of a
  // packed source (a source may make them on demand: see FeaturePage.wkbData).
  let blobs: (Uint8Array | null)[] | undefined;
  const blob = (i: number) => (blobs ??= page.wkbs)[i] ?? null;
  const boxes: (Box | undefined)[] = new Array(length);
  const xmin = new Float64Array(length);
  const ymin = new Float64Array(length);
  const xmax = new Float64Array(length);
  const ymax = new Float64Array(length);
  /** Rows counted by `addPoint`: their box is in the columns already, their WKB is the source's. */
  const points = new Uint8Array(length);
  /** The WKB written of the other rows (`null` for none). */
  const others: (Uint8Array | null)[] = new Array(length);
  let measured = false;
  // M values are dropped: a GeoParquet geometry is XY or XYZ (gdal3.js keeps
  // the M of a layer of mixed types, which GDAL 3.6 drops).
  for (let i = 0; i < length; i++) {
    let point;
    if (packed !== undefined) {
      const at = packed.offsets[i]!;
      point = summary.addPointAt(packed.data, at, packed.offsets[i + 1]! - at);
    } else {
      const b = blob(i);
      point = b !== null && summary.addPoint(b);
    }
    if (point) {
      points[i] = 1;
      xmin[i] = xmax[i] = summary.x;
      ymin[i] = ymax[i] = summary.y;
      continue;
    }
    const b = blob(i);
    boxes[i] = summary.add(b);
    if (b === null) {
      others[i] = null;
      continue;
    }
    const wkb = gpkgToWkb(b);
    if (summary.measured) {
      measured = true;
      others[i] = withoutM(wkb);
    } else others[i] = wkb;
  }
  // A source's WKB buffer is written as it is, unless M values were dropped.
  if (measured) packed = undefined;
  const wkbs = (i: number) => (points[i] === 1 ? blob(i) : others[i]);
  let offsets = packed?.offsets;
  if (offsets === undefined) {
    offsets = new Int32Array(length + 1);
    let total = 0;
    for (let i = 0; i < length; i++) {
      total += wkbs(i)?.length ?? 0;
      offsets[i + 1] = total;
    }
  }
  const bytes = packed?.data ?? new Uint8Array(offsets[length]!);
  const validity = new Uint8Array(Math.ceil(length / 8));
  const boxValidity = new Uint8Array(Math.ceil(length / 8));
  let nulls = 0;
  let boxNulls = 0;
  for (let i = 0; i < length; i++) {
    if (points[i] === 1) {
      if (packed === undefined) bytes.set(blob(i)!, offsets[i]!);
      validity[i >> 3]! |= 1 << (i & 7);
      boxValidity[i >> 3]! |= 1 << (i & 7);
      continue;
    }
    const wkb = others[i];
    if (wkb === null || wkb === undefined) {
      nulls++;
      boxNulls++;
      continue;
    }
    if (packed === undefined) bytes.set(wkb, offsets[i]!);
    validity[i >> 3]! |= 1 << (i & 7);
    const box = boxes[i];
    if (box === undefined) {
      boxNulls++;
      continue;
    }
    boxValidity[i >> 3]! |= 1 << (i & 7);
    xmin[i] = box[0];
    ymin[i] = box[1];
    xmax[i] = box[2];
    ymax[i] = box[3];
  }
  const geometry = makeVector(makeData({
    type: new Binary(),
    length,
    nullCount: nulls,
    nullBitmap: nulls > 0 ? validity : null,
    valueOffsets: offsets,
    data: bytes,
  }));
  const child = (name: string, data: Float64Array) => ({
    field: new Field(name, new Float64(), false),
    data: makeData({ type: new Float64(), length, data }),
  });
  const children = [
    child("xmin", xmin),
    child("ymin", ymin),
    child("xmax", xmax),
    child(
      "ymax",
      ymax,
    ),
  ];
  const bbox = makeVector(makeData({
    type: new Struct(children.map((c) => c.field)),
    length,
    nullCount: boxNulls,
    nullBitmap: boxNulls > 0 ? boxValidity : null,
    children: children.map((c) => c.data),
  }));
  return { geometry, bbox };
}

/** Resolves after `ms` milliseconds of real time. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `table` exists in the SQLite file `path` (which may not exist yet). */
function hasTable(path: string, table: string): boolean {
  try {
    Deno.statSync(path);
  } catch {
    return false;
  }
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(
      table,
    ) !== undefined;
  } catch {
    return false; // Being created: looked at again.
  } finally {
    db.close();
  }
}

/**
 * One page of features for {@linkcode writeGeoParquet}, column by column:
 * `columns[i]` holds the values of the source's attribute column `i`
 * (null/undefined for nulls; numbers or bigints for integers, strings or
 * UTF-8 bytes for strings), `wkbs` each row's geometry (WKB or a GeoPackage
 * blob, `null` for none) and `rowids` the row ids computed columns are
 * given.
 */
export interface FeaturePage {
  /** Rows in the page. */
  length: number;
  /** Attribute values, one array (or packed column) per column of {@linkcode FeatureSource.columns}. */
  columns: (unknown[] | PackedColumn)[];
  /** Geometries (WKB or GeoPackage blobs), or `null`. */
  wkbs: (Uint8Array | null)[];
  /**
   * The same geometries as plain WKB in one buffer, row `i` from
   * `offsets[i]` to `offsets[i + 1]` (no bytes for a null), when the source
   * has them so: written as they are, without a copy per row. The writer
   * reads a plain point's WKB from here, not from `wkbs`, which the source
   * may then make only when asked for (a getter).
   */
  wkbData?: { data: Uint8Array; offsets: Int32Array };
  /** Row ids (a SQLite rowid, a feature's place in a file from 1). */
  rowids: ArrayLike<number>;
}

/**
 * A page whose geometries are plain WKB in one buffer ({@linkcode FeaturePage.wkbData}):
 * `wkbs`, a view per row, is made only when read, since the writer reads a
 * plain point's WKB from the buffer (1M views were ~0.1 s of CPU and their
 * garbage). A null geometry has no bytes; a WKB has 5 at least.
 */
export function packedWkbPage(
  page: Omit<FeaturePage, "wkbs" | "wkbData">,
  data: Uint8Array,
  offsets: Int32Array,
): FeaturePage {
  let wkbs: (Uint8Array | null)[] | undefined;
  return {
    ...page,
    get wkbs() {
      return wkbs ??= Array.from(
        { length: page.length },
        (_, i) =>
          offsets[i + 1] === offsets[i] ? null : data.subarray(offsets[i]!, offsets[i + 1]!),
      );
    },
    wkbData: { data, offsets },
  };
}

/** Features read a page at a time, for {@linkcode writeGeoParquet}. */
export interface FeatureSource {
  /** Attribute columns, in order, as they are written. */
  columns: ColumnSchema[];
  /**
   * The next page, or `undefined` after the last one. A page may hold views
   * of the source's buffers: it is written before the next call.
   */
  next(): Promise<FeaturePage | undefined>;
}

/** Options of {@linkcode writeGeoParquet}: those of the writing, not of a source. */
export type GeoParquetWriteOptions = Omit<
  GeoParquetOptions,
  "geometryColumn" | "batchSize" | "follow" | "pollMs" | "sort"
>;

/**
 * Writes the pages of `source` to a GeoParquet file at `outPath`, one page
 * in memory at a time. The first page sizes the row groups (see
 * {@linkcode ROW_GROUP_TARGET_BYTES}).
 */
export async function writeGeoParquet(
  source: FeatureSource,
  outPath: string,
  options: GeoParquetWriteOptions,
): Promise<GeoParquetResult> {
  const computed = options.compute ?? [];
  // The source's attributes named as the writer's own columns (geometry, bbox, computed) get
  // another name: before, a computed `area_m2` replaced the user's column of that name.
  const names = outputNames(
    source.columns.map((c) => c.name),
    [GEOMETRY, BBOX, ...computed.map((c) => c.name)],
  );
  const columns = source.columns.map((c, i): ColumnSchema => ({ ...c, name: names[i]! }));
  const summary = new GeometrySummary(options.validBox, options.crs.type === "GeographicCRS");
  // The `geo` value is reserved at its longest and filled in once every row is written.
  const reserved = JSON.stringify(
    geoMetadata(options.crs, [WIDEST_NUMBER, WIDEST_NUMBER, WIDEST_NUMBER, WIDEST_NUMBER], [
      ...GEOMETRY_TYPE_NAMES,
    ]),
  );
  const placeholder = JSON.stringify(geoMetadata(options.crs, emptyBox(), []))
    .padEnd(reserved.length, " ");
  const emptyPage: FeaturePage = {
    length: 0,
    columns: source.columns.map(() => []),
    wkbs: [],
    rowids: [],
  };
  let pages = 0;
  // The first page is read before the writer starts: its rows size the row groups.
  let first: FeaturePage | undefined = await source.next() ?? emptyPage;
  const nextBatch = async (): Promise<parquet.RecordBatch | undefined> => {
    let page = first ?? await source.next();
    first = undefined;
    // An empty layer still gets one (empty) batch, so the file has its schema.
    if (page === undefined || page.length === 0) {
      if (pages > 0) return undefined;
      page = emptyPage;
    }
    pages++;
    const { rowids } = page;
    const vectors: Record<string, Vector> = {};
    columns.forEach((c, i) => {
      vectors[c.name] = attributeVector(c.type, page.columns[i]!);
    });
    for (const column of computed) {
      const values = new Float64Array(page.length);
      let nulls = 0;
      const bitmap = new Uint8Array(Math.ceil(page.length / 8));
      page.wkbs.forEach((blob, i) => {
        const v = column.fn(blob === null ? null : gpkgToWkb(blob), rowids[i]!);
        if (v === null) nulls++;
        else {
          values[i] = v;
          bitmap[i >> 3]! |= 1 << (i & 7);
        }
      });
      vectors[column.name] = makeVector(makeData({
        type: new Float64(),
        length: page.length,
        nullCount: nulls,
        nullBitmap: nulls > 0 ? bitmap : null,
        data: values,
      }));
    }
    const { geometry, bbox } = geometryVectors(page, summary);
    vectors[GEOMETRY] = geometry;
    vectors[BBOX] = bbox;
    const ipc = tableToIPC(new Table(vectors), "stream");
    // The Table is freed at once: left to its finalizer, each page's copy
    // stayed in parquet-wasm's memory until a garbage collection, which
    // never shrinks (200k polygons: 60 MiB more peak RSS, 25 % more CPU
    // importing the pages).
    let imported;
    try {
      imported = parquet.Table.fromIPCStream(ipc);
    } catch (error) {
      // FlatGeobuf text bytes GDAL passed through from a file of unknown code page.
      if (/Invalid UTF8 sequence/i.test(String(error))) throw notUtf8(options.label);
      throw error;
    }
    try {
      return imported.recordBatch(0);
    } finally {
      imported.free();
    }
  };

  // What failed while reading a page: parquet-wasm reports an error of the
  // stream it reads as "Dyn casting error", so the original is kept here.
  let pageError: unknown;
  const batchStream = new ReadableStream<parquet.RecordBatch>({
    async pull(controller) {
      let batch;
      try {
        batch = await nextBatch();
      } catch (error) {
        pageError = error;
        throw error;
      }
      if (batch === undefined) controller.close();
      else controller.enqueue(batch);
    },
  });
  // Dictionary encoding only pays for repeated values: WKB and bbox
  // coordinates are unique per feature, and hashing them costs more than
  // the rest of the write. Statistics on WKB bytes are meaningless too; the
  // bbox columns carry the statistics readers filter on.
  const rowGroupSize = options.rowGroupSize ?? defaultRowGroupSize(averageRowBytes(first));
  let builder = new parquet.WriterPropertiesBuilder()
    .setDictionaryEnabled(false)
    .setColumnStatisticsEnabled(GEOMETRY, parquet.EnabledStatistics.None);
  columns.forEach((c, i) => {
    if (c.type === "string" && repeats(first!.columns[i]!)) {
      builder = builder.setColumnDictionaryEnabled(c.name, true);
    }
  });
  const props = builder
    .setCompression(COMPRESSION)
    .setMaxRowGroupSize(rowGroupSize)
    .setMaxRowGroupBytes(options.rowGroupBytes ?? 128 * 2 ** 20)
    .setCreatedBy("deno data platform (parquet-wasm)")
    .setKeyValueMetadata(new Map([["geo", placeholder]]))
    .build();
  let geo!: GeoMetadata;
  let written: WrittenFile;
  try {
    const bytes = await parquet.transformParquetStream(batchStream, props) as ReadableStream<
      Uint8Array
    >;
    // The stream ends after the last row was read: the summary is complete by then.
    written = await writeParquetPatched(bytes, outPath, placeholder, () => {
      geo = geoMetadata(options.crs, summary.bbox(), [...summary.types].sort());
      return JSON.stringify(geo);
    }, options.label === undefined ? {} : { label: options.label });
  } catch (error) {
    throw pageError ?? error;
  }
  return {
    ...written,
    rows: summary.rows,
    bbox: Number.isFinite(summary.box[0]) ? summary.bbox() as GeoParquetResult["bbox"] : null,
    geometryTypes: [...summary.types].sort(),
    columns: [
      ...columns,
      ...computed.map((c): ColumnSchema => ({ name: c.name, type: "float64" })),
    ],
    geo,
    stats: summary.stats,
    rowGroupSize,
  };
}

/**
 * The error of a text value that is not UTF-8: GDAL passes the bytes of a
 * file whose code page it is not told (a MapInfo `Charset "Neutral"`, a
 * GeoJSON saved in CP1252) through as they are. Measured with GDAL 3.6: the
 * native engine's FlatGeobuf route failed in parquet-wasm ("Invalid UTF8
 * sequence", naming no file), and node:sqlite reads them as U+FFFD, so
 * gdal3.js published `Z\uFFFDrich` for `Zürich`.
 */
function notUtf8(label: string | undefined): GeoParquetError {
  return new GeoParquetError(
    "spatial.geoparquet_not_utf8",
    `Cannot write GeoParquet${label === undefined ? "" : ` of '${label}'`}: it holds text ` +
      "that is not UTF-8, which GDAL read as it is because nothing in the file says its code " +
      'page (a MapInfo Charset "Neutral", a Shapefile without .cpg); declare its code page ' +
      "(the Charset line, a .cpg) or re-encode its text to UTF-8, and upload it again",
    { ...(label === undefined ? {} : { input: label }) },
  );
}

/**
 * Writes the features of `table` in the SQLite file `dbPath` to a GeoParquet
 * file at `outPath`. Geometries may be GeoPackage blobs or plain WKB.
 */
export async function sqliteToGeoParquet(
  dbPath: string,
  table: string,
  outPath: string,
  options: GeoParquetOptions,
): Promise<GeoParquetResult> {
  const hilbert = options.sort === "hilbert";
  let settled = options.follow === undefined;
  if (options.follow !== undefined) {
    options.follow.then(() => (settled = true), () => (settled = true));
    if (hilbert) await Promise.resolve(options.follow).catch(() => undefined);
    const pollMs = options.pollMs ?? 25;
    while (!settled && !hasTable(dbPath, table)) await pause(pollMs);
  }
  // Read-write when following: a reader of a WAL database may have to create its -shm file.
  const db = new DatabaseSync(dbPath, { readOnly: options.follow === undefined });
  try {
    // While the producer creates the file and switches it to WAL, or
    // checkpoints at the end, a read may find it locked for a moment: wait.
    if (options.follow !== undefined) db.exec("PRAGMA busy_timeout = 30000");
    const shape = describeSource(db, table, options.geometryColumn, options.label);
    const order = hilbert ? hilbertOrder(db, table, shape.geometryColumn) : undefined;
    const batchSize = options.batchSize ?? 4_096;
    const select = [
      ...shape.sourceColumns.map((c) => ident(c.source)),
      ident(shape.geometryColumn),
    ].join(", ");
    // Pages by rowid with all(): node:sqlite's iterate() costs several times
    // more per row than fetching a page at once.
    const stmt = db.prepare(
      `SELECT ${select}, rowid FROM ${ident(table)} WHERE rowid > ? ORDER BY rowid LIMIT ?`,
    );
    stmt.setReadBigInts(true);
    stmt.setReturnArrays(true);
    let lastRowid: bigint = -(2n ** 63n);
    const width = shape.sourceColumns.length;

    const byIds = db.prepare(
      `SELECT ${select}, rowid FROM ${
        ident(table)
      } WHERE rowid IN (SELECT value FROM json_each(?))`,
    );
    byIds.setReadBigInts(true);
    byIds.setReturnArrays(true);
    let sortedAt = 0;
    const readPage = async (): Promise<unknown[][]> => {
      if (order !== undefined) {
        const ids = order.slice(sortedAt, sortedAt + batchSize);
        sortedAt += ids.length;
        if (ids.length === 0) return [];
        const rows = byIds.all(JSON.stringify(ids)) as unknown as unknown[][];
        const position = new Map(ids.map((id, i) => [id, i]));
        return rows.sort((a, b) =>
          position.get(Number(a[width + 1]))! - position.get(Number(b[width + 1]))!
        );
      }
      const page = stmt.all(lastRowid, batchSize) as unknown as unknown[][];
      // While the producer is still appending, wait for a full page (or its end).
      while (page.length < batchSize && !settled) {
        await pause(options.pollMs ?? 25);
        const after = page.length > 0 ? page[page.length - 1]![width + 1] as bigint : lastRowid;
        page.push(...(stmt.all(after, batchSize - page.length) as unknown as unknown[][]));
      }
      if (page.length < batchSize && options.follow !== undefined) {
        // Settled since the last look: what it committed last.
        const after = page.length > 0 ? page[page.length - 1]![width + 1] as bigint : lastRowid;
        page.push(...(stmt.all(after, batchSize - page.length) as unknown as unknown[][]));
      }
      if (page.length > 0 && order === undefined) {
        lastRowid = page[page.length - 1]![width + 1] as bigint;
      }
      return page;
    };
    // A U+FFFD node:sqlite read may stand for bytes that are not UTF-8 (see notUtf8):
    // asked of the stored bytes, so that a real U+FFFD in the text is kept.
    const texts = shape.sourceColumns.flatMap((c, i) => c.output.type === "string" ? [i] : []);
    const rawText = (column: number, rowid: bigint): unknown =>
      db.prepare(
        `SELECT CAST(${ident(shape.sourceColumns[column]!.source)} AS BLOB) AS raw FROM ${
          ident(table)
        } WHERE rowid = ?`,
      ).get(rowid)?.raw;
    const checkText = (page: unknown[][]) => {
      for (const row of page) {
        for (const i of texts) {
          const value = row[i];
          if (typeof value !== "string" || !value.includes("\uFFFD")) continue;
          const bytes = rawText(i, row[width + 1] as bigint);
          if (!(bytes instanceof Uint8Array)) continue;
          try {
            new TextDecoder("utf-8", { fatal: true }).decode(bytes);
          } catch {
            throw notUtf8(options.label);
          }
        }
      }
    };
    const source: FeatureSource = {
      columns: shape.sourceColumns.map((c) => c.output),
      async next() {
        const page = await readPage();
        if (page.length === 0) return undefined;
        if (texts.length > 0) checkText(page);
        return {
          length: page.length,
          columns: shape.sourceColumns.map((_, i) => page.map((row) => row[i])),
          wkbs: page.map((row) => {
            const blob = row[width];
            return blob instanceof Uint8Array ? blob : null;
          }),
          rowids: page.map((row) => Number(row[width + 1])),
        };
      },
    };
    return await writeGeoParquet(source, outPath, options);
  } finally {
    db.close();
  }
}
