/**
 * FlatGeobuf to GeoParquet: reads a FlatGeobuf file without spatial index
 * (as GDAL writes it with `-lco SPATIAL_INDEX=NO`) a page of features at a
 * time, possibly while GDAL is still writing it, and hands the pages to the
 * GeoParquet writer ({@linkcode writeGeoParquet}).
 *
 * Why FlatGeobuf: it is the cheapest file GDAL writes (the native baseline
 * of bench/spatial.ts is exactly this ogr2ogr), and without an index GDAL
 * streams it: a fixed-size header (its feature count patched at the end),
 * then each feature as it is converted. The former route, a scratch
 * GeoPackage followed through SQLite, cost 1.29x the baseline's GDAL time on
 * its own (1 GB Shapefile), more than the whole 1.3x budget.
 *
 * The flatbuffers tables are read with the `flatgeobuf` package's generated
 * classes (`Header`, `Feature`, `Geometry`). What is ours, measured: the
 * package decodes features only into GeoJSON (or OpenLayers) objects, and
 * that alone took 1.07 s of CPU on 200k polygons, half of our whole write of
 * them (1.9-2.2 s, Parquet encoding included), before any WKB; its
 * `parseProperties` also turns 64-bit integers into doubles (digits past
 * 2^53 lost). So each geometry's WKB is written here straight into one
 * buffer per page (a 2D ring's coordinates copied as bytes: FlatGeobuf's
 * `xy` vector is WKB's point layout), and the attributes are decoded into
 * Arrow's buffers (64-bit integers kept, texts as their UTF-8 bytes), with
 * no JS object per row.
 *
 * Measured on the writer alone, 200k polygons (bench/spatial.ts's
 * generator), against the GeoPackage route on the same layer: CPU 1.9-2.2 s
 * vs 2.5-2.8 s, peak RSS 173-175 vs 203-220 MiB; the files are identical.
 * Whole pipeline, 1.02 GB Shapefile (1.77M polygons, bench/spatial.ts large
 * inputs, same hour, load 1.4-3.4): 0.71x native ogr2ogr's time, was 1.39x
 * through the GeoPackage (convert 14.6 s and write 14.7 s side by side,
 * were 26.0 s and 27.1 s).
 *
 * @example
 * ```ts
 * import { flatgeobufToGeoParquet } from "./flatgeobuf_pages.ts";
 * const result = await flatgeobufToGeoParquet("layer.fgb", "layer.parquet", {
 *   crs: { type: "GeographicCRS", name: "WGS 84" },
 * });
 * console.log(result.rows);
 * ```
 *
 * @module
 */

import { ByteBuffer } from "flatbuffers";
import { Header } from "flatgeobuf/lib/mjs/flat-geobuf/header.js";
import { Feature } from "flatgeobuf/lib/mjs/flat-geobuf/feature.js";
import { Geometry } from "flatgeobuf/lib/mjs/flat-geobuf/geometry.js";
import { ColumnType as FgbColumnType } from "flatgeobuf/lib/mjs/flat-geobuf/column-type.js";
import { GeometryType } from "flatgeobuf/lib/mjs/flat-geobuf/geometry-type.js";
import {
  type ColumnSchema,
  type ColumnType,
  type FeaturePage,
  type FeatureSource,
  type GeoParquetResult,
  type GeoParquetWriteOptions,
  type PackedColumn,
  packedWkbPage,
  writeGeoParquet,
} from "./geoparquet.ts";
import { GeoParquetError } from "./geoparquet_errors.ts";

/** Options of {@linkcode flatgeobufToGeoParquet}. */
export interface FlatGeobufPagesOptions {
  /**
   * Features a page holds (see `GeoParquetOptions.batchSize`).
   *
   * @default {4096}
   */
  batchSize?: number;
  /**
   * A producer still writing the file (GDAL converting into it): the reader
   * waits for the file and its header, takes features as they are written,
   * and ends once the producer settled and the file is read to its end.
   *
   * @default {undefined: the file is complete}
   */
  follow?: PromiseLike<unknown>;
  /**
   * While following, how long to wait before reading again (milliseconds).
   *
   * @default {25}
   */
  pollMs?: number;
  /**
   * Geometries written instead of the file's, by row id (a feature's place
   * in the file, from 1), as WKB: the rows a caller made valid apart (see
   * `assets/spatial/_stream_valid.ts`). A function is asked before each
   * page with the page's last row id, and resolves once its map holds the
   * replacements of every row up to that one (its rejection fails the write).
   *
   * @default {none}
   */
  replace?:
    | ReadonlyMap<number, Uint8Array>
    | ((lastRowid: number) => Promise<ReadonlyMap<number, Uint8Array>>);
  /**
   * Whether pages carry the attributes: without, only geometries and row
   * ids are read (their columns are all null), for a pass over the
   * geometries alone.
   *
   * @default {true}
   */
  attributes?: boolean;
  /**
   * The user's file the FlatGeobuf was converted from, named in messages
   * instead of the FlatGeobuf's own (scratch) path.
   *
   * @default {undefined: the FlatGeobuf's path}
   */
  label?: string;
}

/** FlatGeobuf's magic bytes ("fgb", version 3, "fgb", patch level any). */
const MAGIC = [0x66, 0x67, 0x62, 0x03, 0x66, 0x67, 0x62];

/** Bytes read from the file at a time. */
const CHUNK = 4 * 2 ** 20;

/** Field slots of FlatGeobuf's `Geometry` table (vtable offsets). */
const SLOT = { ends: 4, xy: 6, z: 8, type: 16, parts: 18 } as const;

/** Output type of a FlatGeobuf column, as the GeoPackage route types the same OGR field. */
function columnTypeOf(type: FgbColumnType): ColumnType {
  switch (type) {
    case FgbColumnType.Bool:
      return "boolean";
    case FgbColumnType.Byte:
    case FgbColumnType.UByte:
    case FgbColumnType.Short:
    case FgbColumnType.UShort:
    case FgbColumnType.Int:
    case FgbColumnType.UInt:
    case FgbColumnType.Long:
    case FgbColumnType.ULong:
      return "int64";
    case FgbColumnType.Float:
    case FgbColumnType.Double:
      return "float64";
    case FgbColumnType.Binary:
      return "binary";
    default:
      return "string";
  }
}

/** Resolves after `ms` milliseconds of real time. */
function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `source` is the reader's {@linkcode FlatGeobufReader.source}. */
function corrupt(
  source: { path: string; label?: string | undefined },
  what: string,
): GeoParquetError {
  const name = source.label === undefined
    ? `the FlatGeobuf '${source.path}'`
    : `GDAL's FlatGeobuf conversion of '${source.label}'`;
  return new GeoParquetError(
    "spatial.flatgeobuf_corrupt",
    `Cannot read ${name}: ${what}. Convert the layer again.`,
    { input: source.label ?? source.path },
  );
}

/** How many bits of each byte value are set, to count a validity bitmap's rows a byte at a time. */
const BITS_SET = Uint8Array.from({ length: 256 }, (_, byte) => {
  let n = 0;
  for (let b = byte; b > 0; b >>= 1) n += b & 1;
  return n;
});

/** Bytes of a WKB geometry, written into a page-wide buffer. */
class WkbWriter {
  bytes = new Uint8Array(1 << 20);
  view = new DataView(this.bytes.buffer);
  at = 0;

  reserve(n: number): void {
    if (this.at + n <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.at + n));
    grown.set(this.bytes.subarray(0, this.at));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  header(type: number, hasZ: boolean): void {
    this.reserve(5);
    this.bytes[this.at] = 1;
    this.view.setUint32(this.at + 1, hasZ ? type + 1000 : type, true);
    this.at += 5;
  }

  count(n: number): void {
    this.reserve(4);
    this.view.setUint32(this.at, n, true);
    this.at += 4;
  }

  /** Points `from` to `to` (exclusive) of a geometry's `xy` (and `z`) vectors. */
  points(bb: ByteBuffer, xy: number, z: number, from: number, to: number): void {
    const n = to - from;
    if (z === 0) {
      this.reserve(n * 16);
      this.bytes.set(bb.bytes().subarray(xy + from * 16, xy + to * 16), this.at);
      this.at += n * 16;
      return;
    }
    this.reserve(n * 24);
    for (let i = from; i < to; i++) {
      this.view.setFloat64(this.at, bb.readFloat64(xy + i * 16), true);
      this.view.setFloat64(this.at + 8, bb.readFloat64(xy + i * 16 + 8), true);
      this.view.setFloat64(this.at + 16, bb.readFloat64(z + i * 8), true);
      this.at += 24;
    }
  }
}

/** Start of a vector field of `geometry`, and its length (0, 0 when absent). */
function vectorOf(geometry: Geometry, slot: number): [number, number] {
  const bb = geometry.bb!;
  const offset = bb.__offset(geometry.bb_pos, slot);
  if (offset === 0) return [0, 0];
  return [bb.__vector(geometry.bb_pos + offset), bb.__vector_len(geometry.bb_pos + offset)];
}

/**
 * Writes a 2D point of `geometry` as its 21 bytes of WKB; `false` for an
 * empty one (left to {@linkcode writeGeometry}). The common case of a
 * points layer, one per feature: byte copies instead of `writeGeometry`'s
 * tuples and views per call (on 1M points they were ~0.1 s of the
 * writer's CPU and their garbage, bench/spatial.ts).
 */
function writePoint2D(out: WkbWriter, geometry: Geometry): boolean {
  const bb = geometry.bb!;
  const slot = bb.__offset(geometry.bb_pos, SLOT.xy);
  if (slot === 0 || bb.__vector_len(geometry.bb_pos + slot) < 2) return false;
  const xy = bb.__vector(geometry.bb_pos + slot);
  out.reserve(21);
  const to = out.bytes;
  const from = bb.bytes();
  const at = out.at;
  // Little-endian, type 1 (Point): FlatGeobuf's doubles are little-endian already.
  to[at] = 1;
  to[at + 1] = 1;
  to[at + 2] = 0;
  to[at + 3] = 0;
  to[at + 4] = 0;
  for (let i = 0; i < 16; i++) to[at + 5 + i] = from[xy + i]!;
  out.at = at + 21;
  return true;
}

/**
 * Writes `geometry` as ISO WKB (little-endian, Z as type + 1000), as GDAL
 * writes it into a GeoPackage: an empty point has NaN coordinates.
 */
function writeGeometry(
  out: WkbWriter,
  geometry: Geometry,
  type: GeometryType,
  hasZ: boolean,
): void {
  const bb = geometry.bb!;
  if (type === GeometryType.Point && !hasZ && writePoint2D(out, geometry)) return;
  const [xy, xyLength] = vectorOf(geometry, SLOT.xy);
  const points = xyLength / 2;
  const z = hasZ ? vectorOf(geometry, SLOT.z)[0] : 0;
  const [ends, endsLength] = vectorOf(geometry, SLOT.ends);
  const endAt = (i: number) => bb.readUint32(ends + i * 4);
  out.header(type, hasZ);
  switch (type) {
    case GeometryType.Point:
      if (points === 0) {
        out.reserve(hasZ ? 24 : 16);
        for (let i = 0; i < (hasZ ? 3 : 2); i++) out.view.setFloat64(out.at + i * 8, NaN, true);
        out.at += hasZ ? 24 : 16;
      } else out.points(bb, xy, z, 0, 1);
      return;
    case GeometryType.LineString:
      out.count(points);
      out.points(bb, xy, z, 0, points);
      return;
    case GeometryType.Polygon: {
      // Rings end at `ends` (in points); none listed: one ring, or none when empty.
      const rings = endsLength > 0 ? endsLength : points > 0 ? 1 : 0;
      out.count(rings);
      let from = 0;
      for (let r = 0; r < rings; r++) {
        const to = endsLength > 0 ? endAt(r) : points;
        out.count(to - from);
        out.points(bb, xy, z, from, to);
        from = to;
      }
      return;
    }
    case GeometryType.MultiPoint:
      out.count(points);
      for (let i = 0; i < points; i++) {
        out.header(GeometryType.Point, hasZ);
        out.points(bb, xy, z, i, i + 1);
      }
      return;
    case GeometryType.MultiLineString: {
      const lines = endsLength > 0 ? endsLength : points > 0 ? 1 : 0;
      out.count(lines);
      let from = 0;
      for (let l = 0; l < lines; l++) {
        const to = endsLength > 0 ? endAt(l) : points;
        out.header(GeometryType.LineString, hasZ);
        out.count(to - from);
        out.points(bb, xy, z, from, to);
        from = to;
      }
      return;
    }
    case GeometryType.MultiPolygon:
    case GeometryType.GeometryCollection: {
      const count = geometry.partsLength();
      out.count(count);
      const part = new Geometry();
      for (let i = 0; i < count; i++) {
        geometry.parts(i, part);
        const partType = type === GeometryType.MultiPolygon ? GeometryType.Polygon : part.type();
        writeGeometry(out, part, partType, hasZ);
      }
      return;
    }
    default:
      // A curve or surface (CircularString Z, TIN...: GDAL turns only 2D curves
      // into segments): its WKB type code alone, for the writer's scan to
      // refuse as it refuses the same geometry read from a GeoPackage.
      if (type > GeometryType.Triangle) {
        throw new RangeError(`FlatGeobuf geometry type ${GeometryType[type] ?? type}`);
      }
      return;
  }
}

/**
 * The attribute columns of a page, decoded straight into Arrow's layout
 * (see {@linkcode PackedColumn}): no JS value per row. Reused from page to
 * page (a page is written before the next is read).
 */
class PackedColumns {
  readonly #types: readonly FgbColumnType[];
  readonly #kinds: readonly ColumnType[];
  readonly #validity: Uint8Array[];
  readonly #nulls: number[];
  readonly #values: (BigInt64Array | Float64Array | Uint8Array)[];
  /**
   * A 64-bit integer column's values as pairs of 32-bit halves (low, high):
   * written without a BigInt per value (one each cost 0.3 s of CPU on 1M
   * rows of three integer columns, and garbage to collect).
   */
  readonly #halves: (Int32Array | undefined)[];
  readonly #offsets: (Int32Array | undefined)[];
  /** Per text column: bytes used, and the row whose offset comes next. */
  readonly #used: number[];
  readonly #nextRow: number[];

  constructor(types: readonly FgbColumnType[], capacity: number) {
    this.#types = types;
    this.#kinds = types.map(columnTypeOf);
    this.#validity = types.map(() => new Uint8Array(Math.ceil(capacity / 8)));
    this.#nulls = types.map(() => 0);
    this.#values = this.#kinds.map((kind) =>
      kind === "int64"
        ? new BigInt64Array(capacity)
        : kind === "float64"
        ? new Float64Array(capacity)
        : kind === "boolean"
        ? new Uint8Array(capacity)
        : new Uint8Array(64 * capacity)
    );
    this.#halves = this.#values.map((values) =>
      values instanceof BigInt64Array ? new Int32Array(values.buffer) : undefined
    );
    this.#offsets = this.#kinds.map((kind) =>
      kind === "string" || kind === "binary" ? new Int32Array(capacity + 1) : undefined
    );
    this.#used = types.map(() => 0);
    this.#nextRow = types.map(() => 0);
  }

  /** Starts a new page. */
  reset(): void {
    for (let c = 0; c < this.#types.length; c++) {
      this.#validity[c]!.fill(0);
      this.#used[c] = 0;
      this.#nextRow[c] = 0;
    }
  }

  /**
   * Text bytes of row `row` in text column `c`, the `length` bytes of
   * `bytes` from `at`: rows before it without a value get none.
   */
  #text(c: number, row: number, bytes: Uint8Array, at: number, length: number): void {
    const offsets = this.#offsets[c]!;
    let used = this.#used[c]!;
    for (let r = this.#nextRow[c]!; r <= row; r++) offsets[r] = used;
    let data = this.#values[c] as Uint8Array;
    if (used + length > data.length) {
      const grown = new Uint8Array(Math.max(2 * data.length, used + length));
      grown.set(data.subarray(0, used));
      this.#values[c] = data = grown;
    }
    // A short text byte by byte: a view per value to copy it cost more.
    if (length <= 32) { for (let i = 0; i < length; i++) data[used + i] = bytes[at + i]!; }
    else data.set(bytes.subarray(at, at + length), used);
    used += length;
    offsets[row + 1] = used;
    this.#used[c] = used;
    this.#nextRow[c] = row + 1;
  }

  /**
   * Reads the values of a feature's properties, bytes `[from, to)` of
   * `bytes` (FlatGeobuf's encoding: a column index, then its value), into
   * row `row`; `view` is a DataView over all of `bytes`.
   */
  read(bytes: Uint8Array, view: DataView, from: number, to: number, row: number): void {
    let at = from;
    const lo = 2 * row;
    while (at < to) {
      const c = bytes[at]! | (bytes[at + 1]! << 8);
      at += 2;
      const type = this.#types[c];
      if (type === undefined) throw new RangeError(`a value of column ${c}, which is not declared`);
      this.#validity[c]![row >> 3]! |= 1 << (row & 7);
      const values = this.#values[c]!;
      const halves = this.#halves[c];
      switch (type) {
        case FgbColumnType.Bool:
          values[row] = bytes[at] !== 0 ? 1 : 0;
          at += 1;
          break;
        case FgbColumnType.Byte:
          halves![lo] = view.getInt8(at);
          halves![lo + 1] = halves![lo]! < 0 ? -1 : 0;
          at += 1;
          break;
        case FgbColumnType.UByte:
          halves![lo] = bytes[at]!;
          halves![lo + 1] = 0;
          at += 1;
          break;
        case FgbColumnType.Short:
          halves![lo] = view.getInt16(at, true);
          halves![lo + 1] = halves![lo]! < 0 ? -1 : 0;
          at += 2;
          break;
        case FgbColumnType.UShort:
          halves![lo] = view.getUint16(at, true);
          halves![lo + 1] = 0;
          at += 2;
          break;
        case FgbColumnType.Int:
          halves![lo] = view.getInt32(at, true);
          halves![lo + 1] = halves![lo]! < 0 ? -1 : 0;
          at += 4;
          break;
        case FgbColumnType.UInt:
          // The bits of a uint32 as they are; the high half 0 keeps it positive.
          halves![lo] = view.getInt32(at, true);
          halves![lo + 1] = 0;
          at += 4;
          break;
        case FgbColumnType.Long:
        case FgbColumnType.ULong:
          // ULong as its two's complement, as SQLite stores a 64-bit integer.
          halves![lo] = view.getInt32(at, true);
          halves![lo + 1] = view.getInt32(at + 4, true);
          at += 8;
          break;
        case FgbColumnType.Float:
          values[row] = view.getFloat32(at, true);
          at += 4;
          break;
        case FgbColumnType.Double:
          values[row] = view.getFloat64(at, true);
          at += 8;
          break;
        default: {
          // String, Json, DateTime, Binary: a length, then the bytes (UTF-8 for text).
          const length = view.getUint32(at, true);
          at += 4;
          if (at + length > to) throw new RangeError("a text past its feature");
          this.#text(c, row, bytes, at, length);
          at += length;
        }
      }
    }
    if (at > to) throw new RangeError("a value past its feature");
  }

  /** The page's columns, `length` rows. */
  columns(length: number): PackedColumn[] {
    return this.#kinds.map((kind, c) => {
      const validity = this.#validity[c]!.subarray(0, Math.ceil(length / 8));
      // No bit past `length` is set (rows are set from 0, and reset).
      let valid = 0;
      for (let i = 0; i < validity.length; i++) valid += BITS_SET[validity[i]!]!;
      const offsets = this.#offsets[c];
      if (offsets !== undefined) {
        for (let r = this.#nextRow[c]!; r <= length; r++) offsets[r] = this.#used[c]!;
      }
      return {
        length,
        validity,
        nulls: length - valid,
        values: kind === "string" || kind === "binary"
          ? this.#values[c]!.subarray(0, this.#used[c])
          : this.#values[c]!.subarray(0, length),
        ...(offsets ? { offsets: offsets.subarray(0, length + 1) } : {}),
      };
    });
  }
}

/** The features of a FlatGeobuf file (growing while `follow` is pending), a page at a time. */
class FlatGeobufReader {
  /** The file read, and the user's file it was converted from (for messages). */
  readonly source: { path: string; label?: string | undefined };
  readonly #file: Deno.FsFile;
  readonly #batchSize: number;
  readonly #pollMs: number;
  readonly #following: boolean;
  readonly #attributes: boolean;
  #settled: boolean;
  /** Bytes read and not yet consumed: `#buffer[#start, #end)`. */
  #buffer = new Uint8Array(CHUNK);
  #start = 0;
  #end = 0;
  #eof = false;
  #rowid = 0;
  columns: ColumnSchema[] = [];
  #types: FgbColumnType[] = [];
  #geometryType = GeometryType.Unknown;
  #hasZ = false;
  readonly #feature = new Feature();
  readonly #wkb = new WkbWriter();
  #packed: PackedColumns | undefined;
  #rowids: Float64Array | undefined;
  #starts: Int32Array | undefined;
  #bb: ByteBuffer | undefined;
  /** A DataView over all of `#buffer` (made with `#bb`). */
  #dv: DataView | undefined;
  readonly #geometry = new Geometry();

  constructor(path: string, file: Deno.FsFile, options: FlatGeobufPagesOptions) {
    this.source = { path, label: options.label };
    this.#file = file;
    this.#batchSize = options.batchSize ?? 4_096;
    this.#pollMs = options.pollMs ?? 25;
    this.#following = options.follow !== undefined;
    this.#attributes = options.attributes ?? true;
    this.#settled = !this.#following;
    options.follow?.then(() => (this.#settled = true), () => (this.#settled = true));
  }

  /** Reads more bytes into the buffer; `false` when there are none (yet). */
  async #fill(): Promise<boolean> {
    // Whether the producer had settled before this read: then an empty read is the end.
    const settled = this.#settled;
    const n = await this.#file.read(this.#buffer.subarray(this.#end));
    if (n === null || n === 0) {
      if (settled) this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /**
   * Makes room for `bytes` unconsumed bytes: moves them to the front of the
   * buffer, in place unless `bytes` outgrow it. Only when a read needs the
   * room, so what moves is the tail of one feature: a page holds no view of
   * this buffer (its texts and WKB are copied out), and compacting before
   * every page, as first written, moved the rest of each 4 MiB chunk again
   * and again (~0.85 GB of copies on 1M points). A new buffer per read, as
   * even earlier, kept every chunk alive until V8 collected it, late.
   */
  #compact(bytes: number): void {
    const rest = this.#end - this.#start;
    if (bytes <= this.#buffer.length) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    } else {
      const next = new Uint8Array(Math.max(CHUNK, 2 * bytes));
      next.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = next;
    }
    this.#start = 0;
    this.#end = rest;
  }

  /** Waits until `bytes` unconsumed bytes are buffered; `false` at the end of the file. */
  async #need(bytes: number): Promise<boolean> {
    while (this.#end - this.#start < bytes) {
      if (this.#eof) return false;
      if (this.#buffer.length - this.#start < bytes || this.#end === this.#buffer.length) {
        this.#compact(bytes);
      }
      if (!(await this.#fill()) && !this.#eof) await pause(this.#pollMs);
    }
    return true;
  }

  #view(at: number): DataView {
    return new DataView(this.#buffer.buffer, this.#buffer.byteOffset + at);
  }

  /** Reads the magic bytes and the header (columns, geometry type, Z). */
  async readHeader(): Promise<void> {
    if (!(await this.#need(12))) throw corrupt(this.source, "it ends before its header");
    if (MAGIC.some((b, i) => this.#buffer[this.#start + i] !== b)) {
      throw corrupt(this.source, "it is not a FlatGeobuf file of version 3");
    }
    const size = this.#view(this.#start + 8).getUint32(0, true);
    if (!(await this.#need(12 + size))) throw corrupt(this.source, "its header is cut short");
    const bb = new ByteBuffer(this.#buffer.subarray(this.#start + 12, this.#start + 12 + size));
    const header = Header.getRootAsHeader(bb);
    if (header.indexNodeSize() > 0 && header.featuresCount() > 0n) {
      throw corrupt(this.source, "it has a spatial index (expected none)");
    }
    this.#geometryType = header.geometryType();
    this.#hasZ = header.hasZ();
    // Named as in the source: writeGeoParquet renames those its own columns take.
    for (let i = 0; i < header.columnsLength(); i++) {
      const column = header.columns(i)!;
      const name = column.name() ?? `column${i}`;
      this.#types.push(column.type());
      this.columns.push({ name, type: columnTypeOf(column.type()) });
    }
    this.#start += 12 + size;
  }

  /**
   * The next page of features, or `undefined` after the last. The page's
   * WKB and text values are views of the reader's buffers: valid until the
   * next call.
   */
  async next(): Promise<FeaturePage | undefined> {
    const packed = this.#packed ??= new PackedColumns(this.#types, this.#batchSize);
    packed.reset();
    let rows = 0;
    const rowids = this.#rowids ??= new Float64Array(this.#batchSize);
    // Where each row's WKB starts in the page's buffer (a null geometry has none).
    const starts = this.#starts ??= new Int32Array(this.#batchSize + 1);
    const out = this.#wkb;
    out.at = 0;
    while (rows < this.#batchSize) {
      // Awaited only when the bytes are not buffered yet: an await per
      // feature (two for each of 1M points) cost more than decoding them.
      if (this.#end - this.#start < 4 && !(await this.#need(4))) break;
      const b = this.#buffer;
      const size = (b[this.#start]! | (b[this.#start + 1]! << 8) | (b[this.#start + 2]! << 16) |
        (b[this.#start + 3]! << 24)) >>> 0;
      if (this.#end - this.#start < 4 + size && !(await this.#need(4 + size))) {
        throw corrupt(this.source, "its last feature is cut short");
      }
      // One ByteBuffer over the read buffer, positioned at each feature.
      if (this.#bb?.bytes() !== this.#buffer) {
        this.#bb = new ByteBuffer(this.#buffer);
        this.#dv = new DataView(this.#buffer.buffer, this.#buffer.byteOffset, this.#buffer.length);
      }
      const bb = this.#bb;
      bb.setPosition(this.#start + 4);
      const feature = Feature.getRootAsFeature(bb, this.#feature);
      const row = rows;
      // The properties vector (slot 6), read in place: no view of it per row.
      const slot = this.#attributes ? bb.__offset(feature.bb_pos, 6) : 0;
      if (slot !== 0) {
        const from = bb.__vector(feature.bb_pos + slot);
        const to = from + bb.__vector_len(feature.bb_pos + slot);
        try {
          if (to > this.#start + 4 + size) throw new RangeError("properties past the feature");
          packed.read(this.#buffer, this.#dv!, from, to, row);
        } catch (error) {
          throw corrupt(
            this.source,
            `feature ${this.#rowid + 1} has attributes it cannot read (${
              error instanceof Error ? error.message : error
            })`,
          );
        }
      }
      const geometry = feature.geometry(this.#geometry);
      starts[row] = out.at;
      if (geometry !== null) {
        const type = this.#geometryType === GeometryType.Unknown
          ? geometry.type()
          : this.#geometryType;
        try {
          writeGeometry(out, geometry, type, this.#hasZ);
        } catch (error) {
          throw corrupt(
            this.source,
            `feature ${this.#rowid + 1} has a geometry it cannot read (${
              error instanceof Error ? error.message : error
            })`,
          );
        }
      }
      rows++;
      rowids[row] = ++this.#rowid;
      this.#start += 4 + size;
    }
    if (rows === 0) return undefined;
    starts[rows] = out.at;
    const length = rows;
    const data = out.bytes.subarray(0, out.at);
    const offsets = starts.subarray(0, length + 1);
    return packedWkbPage(
      { length, columns: packed.columns(length), rowids: rowids.subarray(0, length) },
      data,
      offsets,
    );
  }
}

/**
 * Opens the FlatGeobuf at `fgbPath` (waiting for it while `follow` is
 * pending) and reads its header; the reader is closed with the file.
 */
async function openReader(
  fgbPath: string,
  options: FlatGeobufPagesOptions,
): Promise<{ reader: FlatGeobufReader; file: Deno.FsFile }> {
  let settled = options.follow === undefined;
  options.follow?.then(() => (settled = true), () => (settled = true));
  let file: Deno.FsFile | undefined;
  let lastLook = false;
  while (file === undefined) {
    try {
      file = await Deno.open(fgbPath, { read: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || lastLook) throw error;
      // The writer may have made the file and ended while this open was
      // missing it (a small layer under load): one more look once it ended.
      lastLook = settled;
      if (!lastLook) await pause(options.pollMs ?? 25);
    }
  }
  try {
    const reader = new FlatGeobufReader(fgbPath, file, options);
    await reader.readHeader();
    return { reader, file };
  } catch (error) {
    file.close();
    throw error;
  }
}

/**
 * Calls `visit` with each page of features of the FlatGeobuf file at
 * `fgbPath` (no spatial index; with `follow`, still being written), as
 * {@linkcode flatgeobufToGeoParquet} would write them; a page's buffers are
 * reused once `visit` returns. Returns the rows read.
 */
export async function visitFlatGeobuf(
  fgbPath: string,
  visit: (page: FeaturePage) => void,
  options: FlatGeobufPagesOptions = {},
): Promise<number> {
  const { reader, file } = await openReader(fgbPath, options);
  try {
    let rows = 0;
    for (let page = await reader.next(); page !== undefined; page = await reader.next()) {
      visit(page);
      rows += page.length;
    }
    return rows;
  } finally {
    file.close();
  }
}

/** `page` with the geometries of its rows found in `replace` replaced (the page itself when none is). */
function replaced(page: FeaturePage, replace: ReadonlyMap<number, Uint8Array>): FeaturePage {
  const { rowids, wkbs } = page;
  let hits = 0;
  for (let i = 0; i < page.length; i++) if (replace.has(rowids[i]!)) hits++;
  if (hits === 0) return page;
  const out = wkbs.map((wkb, i) => replace.get(rowids[i]!) ?? wkb);
  // One buffer again, so the writer keeps its copy-free path.
  const offsets = new Int32Array(page.length + 1);
  for (let i = 0; i < page.length; i++) offsets[i + 1] = offsets[i]! + (out[i]?.length ?? 0);
  const data = new Uint8Array(offsets[page.length]!);
  out.forEach((wkb, i) => {
    if (wkb !== null) data.set(wkb, offsets[i]!);
  });
  return {
    ...page,
    wkbs: out.map((wkb, i) => (wkb === null ? null : data.subarray(offsets[i]!, offsets[i + 1]!))),
    wkbData: { data, offsets },
  };
}

/**
 * Writes the features of the FlatGeobuf file at `fgbPath` (no spatial
 * index; with `follow`, still being written) to a GeoParquet file at
 * `outPath`, with the same columns, values and WKB as the GeoPackage route
 * (`sqliteToGeoParquet`) gives for the same OGR layer.
 */
export async function flatgeobufToGeoParquet(
  fgbPath: string,
  outPath: string,
  options: GeoParquetWriteOptions & FlatGeobufPagesOptions,
): Promise<GeoParquetResult> {
  const { reader, file } = await openReader(fgbPath, options);
  try {
    const replace = options.replace;
    const source: FeatureSource = {
      columns: reader.columns,
      next: replace === undefined || (typeof replace !== "function" && replace.size === 0)
        ? () => reader.next()
        : async () => {
          const page = await reader.next();
          if (page === undefined) return undefined;
          const map = typeof replace === "function"
            ? await replace(page.rowids[page.length - 1]!)
            : replace;
          return replaced(page, map);
        },
    };
    return await writeGeoParquet(source, outPath, options);
  } finally {
    file.close();
  }
}
