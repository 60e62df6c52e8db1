/**
 * Reads a GeoParquet file (any compression: hyparquet with
 * hyparquet-compressors) and rewrites it as GeoJSON Sequence, one feature per
 * line, a row group at a time, so GDAL builds that have no Parquet driver
 * (Debian's 3.6, gdal3.js) can take GeoParquet as an input. hyparquet turns
 * the WKB of the `geo` metadata's primary column into GeoJSON itself.
 *
 * @module
 */

import { parquetMetadataAsync, parquetReadObjects } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { GeoParquetReadError } from "./geoparquet_errors.ts";
import { fileReader } from "./byte_reader.ts";

export { GeoParquetReadError } from "./geoparquet_errors.ts";

/** What {@linkcode geoParquetToGeoJsonSeq} wrote. */
export interface GeoParquetInput {
  /** Features written. */
  rows: number;
  /** The primary geometry column. */
  geometryColumn: string;
  /** `AUTHORITY:CODE` of the `geo` CRS; `OGC:CRS84` when the metadata has none (the spec's default). */
  crs: string;
}

function jsonValue(value: unknown): unknown {
  // Integers stay exact (see withNonFinite), whatever their size.
  if (typeof value === "bigint") return value;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return btoa(String.fromCharCode(...value));
  return value;
}

/** Marks a number JSON.stringify cannot write, while the properties are stringified (the UUID: no user text is it). */
const UNWRITABLE = `\u{10FFFF}${crypto.randomUUID()}:`;
const MARKED = new RegExp(`"${UNWRITABLE}(NaN|-?Infinity|-?\\d+)"`, "g");

/**
 * `properties` as JSON, with NaN and ±Infinity written as the bare tokens
 * `NaN`, `Infinity` and `-Infinity`, which GDAL's GeoJSON readers take
 * (JSON.stringify alone wrote null: a Parquet float column's NaN and
 * infinities were published as nulls), and 64-bit integers as their exact
 * digits (they were written as text beyond 2^53, so GDAL typed the whole
 * column as String).
 */
function withNonFinite(properties: Record<string, unknown>): string {
  let marked = false;
  const text = JSON.stringify(properties, (_key, value) => {
    if (typeof value === "bigint" || (typeof value === "number" && !Number.isFinite(value))) {
      marked = true;
      return `${UNWRITABLE}${value}`;
    }
    return value;
  });
  return marked ? text.replace(MARKED, "$1") : text;
}

/**
 * Writes the features of the GeoParquet file at `path` to `out` as GeoJSON
 * Sequence; `label` names the file in errors.
 *
 * @throws {GeoParquetReadError} when it is not GeoParquet (no `geo` metadata) or cannot be decoded.
 */
export async function geoParquetToGeoJsonSeq(
  path: string,
  out: string,
  label: string,
): Promise<GeoParquetInput> {
  using file = await Deno.open(path);
  const size = (await file.stat()).size;
  const read = fileReader(file);
  const buffer = {
    byteLength: size,
    slice: async (start: number, end?: number) =>
      (await read(start, (end ?? size) - start)).slice().buffer,
  };
  const fail = (why: string, cause?: unknown) =>
    new GeoParquetReadError(
      "spatial.geoparquet_input",
      `Cannot read GeoParquet '${label}': ${why}.`,
      { input: label, ...(cause === undefined ? {} : { cause }) },
    );
  let metadata;
  try {
    metadata = await parquetMetadataAsync(buffer);
  } catch (error) {
    throw fail((error as Error).message, error);
  }
  const geoText = metadata.key_value_metadata?.find((kv) => kv.key === "geo")?.value;
  if (!geoText) throw fail("it has no 'geo' metadata, so it is Parquet but not GeoParquet");
  let geo: { primary_column?: string; columns?: Record<string, { crs?: unknown }> };
  try {
    geo = JSON.parse(geoText);
  } catch (error) {
    throw fail("its 'geo' metadata is not JSON", error);
  }
  const geometryColumn = geo.primary_column ?? "geometry";
  const crsJson = geo.columns?.[geometryColumn]?.crs as
    | { id?: { authority?: string; code?: string | number } }
    | null
    | undefined;
  const crs = crsJson?.id?.authority && crsJson.id.code !== undefined
    ? `${crsJson.id.authority}:${crsJson.id.code}`
    : "OGC:CRS84";
  // The bbox covering columns are derived data, not attributes.
  const skip = new Set([geometryColumn, "bbox"]);
  const target = await Deno.open(out, { write: true, create: true, truncate: true });
  const writer = target.writable.getWriter();
  const encoder = new TextEncoder();
  let rows = 0;
  let start = 0;
  try {
    for (const group of metadata.row_groups) {
      const end = start + Number(group.num_rows);
      const objects = await parquetReadObjects({
        file: buffer,
        metadata,
        compressors,
        rowStart: start,
        rowEnd: end,
      });
      const lines = objects.map((row) => {
        const properties: Record<string, unknown> = {};
        for (const [key, value] of Object.entries(row)) {
          if (!skip.has(key)) properties[key] = jsonValue(value);
        }
        return `{"type":"Feature","properties":${withNonFinite(properties)},"geometry":${
          JSON.stringify(row[geometryColumn] ?? null)
        }}`;
      });
      rows += lines.length;
      if (lines.length > 0) await writer.write(encoder.encode(`${lines.join("\n")}\n`));
      start = end;
    }
  } catch (error) {
    throw error instanceof GeoParquetReadError ? error : fail((error as Error).message, error);
  } finally {
    await writer.close().catch(() => {});
  }
  return { rows, geometryColumn, crs };
}
