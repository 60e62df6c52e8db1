/**
 * GDAL's Arrow stream of a layer to GeoParquet: reads the features file the
 * native engine's GDAL host writes from `OGR_L_GetArrowStream`
 * (`resources/spatial/_gdal_ffi.ts`, `arrowDump`) a batch at a time, and
 * hands the batches to the GeoParquet writer ({@linkcode writeGeoParquet})
 * as pages, with the columns, values and WKB the FlatGeobuf route
 * (`flatgeobuf_pages.ts`) gives for the same layer.
 *
 * Why: a layer wanted as it is (no reprojection, no repair: points in the
 * target CRS) needs no ogr2ogr. GDAL reading it through its Arrow stream
 * costs a fraction of ogr2ogr writing it to FlatGeobuf, and its buffers are
 * already the writer's layout, where a FlatGeobuf is decoded feature by
 * feature. Measured on 1M points of a GeoPackage (bench/spatial.ts's):
 * GDAL 0.15-0.21 CPU s through the Arrow stream, buffers copied out, against
 * 0.84-0.92 s for ogr2ogr to FlatGeobuf, and our FlatGeobuf reader was
 * ~20 % of the writer's CPU.
 *
 * The file is ours, hand-written on both sides: a scratch file between our
 * two processes that carries GDAL's Arrow buffers as they are. Arrow IPC
 * would need apache-arrow in the GDAL host (which imports nothing, to start
 * fast) and its decoding here. Layout, little-endian:
 *
 * - `OGRARW01`, a u32 header length, the header: JSON
 *   `{"columns":[{"name","format"}]}`, the attribute columns (Arrow formats
 *   `b` boolean, `s` int16, `i` int32, `l` int64, `g` double, `u` UTF-8);
 *   the geometry (WKB) comes after them;
 * - per batch: a u32 row count (0 ends the file), then per attribute column
 *   and then the geometry: a u32 validity byte count (0: no null) and that
 *   Arrow bitmap (bit `i` set when row `i` has a value); for `b` the values'
 *   bitmap (`ceil(rows / 8)` bytes, bit `i` row `i`'s value); for `s`, `i`,
 *   `l`, `g` the values (2, 4, 8, 8 bytes a row); for `u` and the WKB,
 *   `rows + 1` int32 offsets from 0, a u32 byte count and the bytes.
 *
 * @module
 */

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

/** The file's first bytes (`ARROW_DUMP_MAGIC` of the GDAL host). */
const MAGIC = "OGRARW01";

/** Output type of each Arrow format the file carries, as the FlatGeobuf route types the same OGR field. */
const TYPES: Readonly<Record<string, ColumnType>> = {
  b: "boolean",
  s: "int64",
  i: "int64",
  l: "int64",
  g: "float64",
  u: "string",
};

/** Bytes read from the file at a time. */
const CHUNK = 4 * 2 ** 20;

/** How many bits of each byte value are set. */
const BITS_SET = Uint8Array.from({ length: 256 }, (_, byte) => {
  let n = 0;
  for (let b = byte; b > 0; b >>= 1) n += b & 1;
  return n;
});

/**
 * A geometry that is not a plain point of the layer's dimension (21 bytes
 * of little-endian ISO WKB, 29 with Z) in a file read with `pointsOnly`:
 * the caller takes another route.
 */
export class NotPlainPoints extends Error {
  /** Creates the error for the 1-based feature `row`. */
  constructor(readonly row: number) {
    super(`feature ${row} is not a plain point of the layer's dimension`);
  }
}

/** Options of {@linkcode arrowDumpToGeoParquet}. */
export interface ArrowPagesOptions {
  /**
   * Whether every geometry must be a plain 2D point (or Z: `withZ`; little-endian ISO WKB,
   * no null): another throws {@linkcode NotPlainPoints} before its page is
   * written.
   *
   * @default {false}
   */
  pointsOnly?: boolean;
  /**
   * With `pointsOnly`: every point must be a plain point Z instead (29
   * bytes, ISO type 1001), as in a layer declared 3D; a 2D one throws
   * {@linkcode NotPlainPoints} (the FlatGeobuf route decides what it
   * becomes).
   *
   * @default {false}
   */
  withZ?: boolean;
  /**
   * The user's file the features come from, named in messages instead of
   * the scratch file's path.
   *
   * @default {undefined: the file's path}
   */
  label?: string;
}

/** Reads the features file a part at a time. */
class DumpReader {
  readonly #file: Deno.FsFile;
  readonly #name: string;
  #buffer = new Uint8Array(CHUNK);
  #start = 0;
  #end = 0;

  constructor(file: Deno.FsFile, name: string) {
    this.#file = file;
    this.#name = name;
  }

  #corrupt(what: string): GeoParquetError {
    return new GeoParquetError(
      "spatial.arrow_dump_corrupt",
      `Cannot read GDAL's Arrow features of '${this.#name}': ${what}. Convert the layer again.`,
      { input: this.#name },
    );
  }

  /** A copy of the next `bytes` bytes (its own buffer, so typed arrays over it are aligned). */
  async take(bytes: number): Promise<Uint8Array<ArrayBuffer>> {
    while (this.#end - this.#start < bytes) {
      if (this.#buffer.length - this.#start < bytes || this.#end === this.#buffer.length) {
        const rest = this.#end - this.#start;
        if (bytes <= this.#buffer.length) this.#buffer.copyWithin(0, this.#start, this.#end);
        else {
          const grown = new Uint8Array(Math.max(CHUNK, 2 * bytes));
          grown.set(this.#buffer.subarray(this.#start, this.#end));
          this.#buffer = grown;
        }
        this.#start = 0;
        this.#end = rest;
      }
      const n = await this.#file.read(this.#buffer.subarray(this.#end));
      if (n === null || n === 0) throw this.#corrupt("it is cut short");
      this.#end += n;
    }
    const out = this.#buffer.slice(this.#start, this.#start + bytes);
    this.#start += bytes;
    return out;
  }

  async u32(): Promise<number> {
    const bytes = await this.take(4);
    return (bytes[0]! | (bytes[1]! << 8) | (bytes[2]! << 16) | (bytes[3]! << 24)) >>> 0;
  }

  async header(): Promise<{ name: string; format: string }[]> {
    const magic = new TextDecoder().decode(await this.take(MAGIC.length));
    if (magic !== MAGIC) throw this.#corrupt("it is not a features file of GDAL's Arrow stream");
    const header = JSON.parse(new TextDecoder().decode(await this.take(await this.u32())));
    const columns = header?.columns as { name: string; format: string }[] | undefined;
    if (!Array.isArray(columns) || columns.some((c) => TYPES[c.format] === undefined)) {
      throw this.#corrupt("its header names a column type it cannot hold");
    }
    return columns;
  }

  /** A validity bitmap of `rows`, `null` when every row has a value, and the null count. */
  async validity(rows: number): Promise<{ bitmap: Uint8Array | null; nulls: number }> {
    const bytes = await this.u32();
    if (bytes === 0) return { bitmap: null, nulls: 0 };
    if (bytes !== Math.ceil(rows / 8)) throw this.#corrupt("a validity bitmap of the wrong size");
    const bitmap = await this.take(bytes);
    // Bits past the last row are not rows.
    if (rows % 8 !== 0) bitmap[bytes - 1]! &= (1 << (rows % 8)) - 1;
    let valid = 0;
    for (let i = 0; i < bytes; i++) valid += BITS_SET[bitmap[i]!]!;
    return { bitmap, nulls: rows - valid };
  }

  /** Offsets (`rows + 1`, from 0) and the bytes they index. */
  async variable(rows: number): Promise<{ offsets: Int32Array; data: Uint8Array }> {
    const offsets = new Int32Array((await this.take((rows + 1) * 4)).buffer);
    const data = await this.take(await this.u32());
    if (offsets[0] !== 0 || offsets[rows] !== data.length) {
      throw this.#corrupt("offsets that do not match their bytes");
    }
    return { offsets, data };
  }
}

/** The pages of a features file: columns decoded into the writer's packed layout. */
async function openPages(
  reader: DumpReader,
  options: ArrowPagesOptions,
): Promise<FeatureSource> {
  const formats = await reader.header();
  // Named as in the source: writeGeoParquet renames those its own columns take.
  const columns: ColumnSchema[] = formats.map((c) => ({ name: c.name, type: TYPES[c.format]! }));
  let rowid = 0;
  let ended = false;
  return {
    columns,
    async next(): Promise<FeaturePage | undefined> {
      if (ended) return undefined;
      const length = await reader.u32();
      if (length === 0) {
        ended = true;
        return undefined;
      }
      const packed: PackedColumn[] = [];
      for (const { format } of formats) {
        const { bitmap, nulls } = await reader.validity(length);
        let values: PackedColumn["values"];
        let offsets: Int32Array | undefined;
        if (format === "u") {
          const variable = await reader.variable(length);
          values = variable.data;
          offsets = variable.offsets;
        } else if (format === "b") {
          // One byte a row, as the writer takes booleans (a null row's is 0).
          const bits = await reader.take(Math.ceil(length / 8));
          const bytes = new Uint8Array(length);
          for (let i = 0; i < length; i++) bytes[i] = (bits[i >> 3]! >> (i & 7)) & 1;
          values = bytes;
        } else if (format === "i" || format === "s") {
          // int16 and int32 widened to int64, as the FlatGeobuf route types
          // an OGR Integer (Int16 or not).
          const narrow = format === "i"
            ? new Int32Array((await reader.take(length * 4)).buffer)
            : new Int16Array((await reader.take(length * 2)).buffer);
          const wide = new BigInt64Array(length);
          const halves = new Int32Array(wide.buffer);
          for (let i = 0; i < length; i++) {
            halves[2 * i] = narrow[i]!;
            halves[2 * i + 1] = narrow[i]! < 0 ? -1 : 0;
          }
          values = wide;
        } else if (format === "l") {
          values = new BigInt64Array((await reader.take(length * 8)).buffer);
        } else values = new Float64Array((await reader.take(length * 8)).buffer);
        packed.push({
          length,
          validity: bitmap,
          nulls,
          values,
          ...(offsets === undefined ? {} : { offsets }),
        });
      }
      const { bitmap: geometryValidity } = await reader.validity(length);
      const { offsets, data } = await reader.variable(length);
      const first = rowid + 1;
      if (options.pointsOnly) {
        // Little-endian ISO WKB of a point: type 1 (21 bytes) or 1001 (Z, 29 bytes).
        const [bytes, low, high] = options.withZ ? [29, 0xe9, 0x03] : [21, 1, 0];
        for (let i = 0; i < length; i++) {
          const at = offsets[i]!;
          const valid = geometryValidity === null ||
            (geometryValidity[i >> 3]! & (1 << (i & 7))) !== 0;
          if (
            !valid || offsets[i + 1]! - at !== bytes || data[at] !== 1 || data[at + 1] !== low ||
            data[at + 2] !== high || data[at + 3] !== 0 || data[at + 4] !== 0
          ) throw new NotPlainPoints(first + i);
        }
      }
      const rowids = new Float64Array(length);
      for (let i = 0; i < length; i++) rowids[i] = ++rowid;
      return packedWkbPage({ length, columns: packed, rowids }, data, offsets);
    },
  };
}

/**
 * Writes the features file at `dumpPath` (GDAL's Arrow stream of a layer,
 * see the module doc) to a GeoParquet file at `outPath`, with the same
 * columns, values and WKB as the FlatGeobuf route gives for the same layer.
 */
export async function arrowDumpToGeoParquet(
  dumpPath: string,
  outPath: string,
  options: GeoParquetWriteOptions & ArrowPagesOptions,
): Promise<GeoParquetResult> {
  const file = await Deno.open(dumpPath, { read: true });
  try {
    const reader = new DumpReader(file, options.label ?? dumpPath);
    return await writeGeoParquet(await openPages(reader, options), outPath, options);
  } finally {
    file.close();
  }
}
