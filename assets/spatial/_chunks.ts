/**
 * A large Shapefile layer converted in parts on the wasm engine. gdal3.js
 * runs one call per WebAssembly instance on one thread; the engine keeps an
 * instance per core (resources/spatial/gdal_wasm.ts), so a layer read in
 * parts, each converted (and made valid) by its own instance, uses every
 * core, and the parts are then appended in order into the first one's
 * GeoPackage. Each part is an OGR SQL `LIMIT n OFFSET k` over the layer: the
 * Shapefile driver seeks to record k through the .shx index, so a part reads
 * only its own records (measured on 100k polygons: two halves 0.80 s + 0.72 s
 * of CPU against 1.22 s for the whole layer in one call).
 *
 * Only where that is exactly the whole layer in order: an uncompressed .shp
 * with its .shx, whose .dbf has no record flagged deleted (OFFSET seeks by
 * record number, and the driver skips deleted records while reading, so
 * parts would overlap) and counts as many records as the layer has features.
 * Everything else is converted in one call.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { openSqlite } from "../../resources/_sqlite.ts";

/** Features a part should have at least: smaller layers gain less than the second instance costs to start. */
export const MIN_PART_FEATURES = 150_000;

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/**
 * Whether the .dbf at `dbf` holds `features` records, none flagged deleted.
 * The .dbf header gives the record count, header and record lengths; each
 * record's first byte is its deletion flag (`*` deleted, space not).
 */
export async function dbfIsPlain(dbf: string, features: number): Promise<boolean> {
  using file = await Deno.open(dbf);
  const header = new Uint8Array(12);
  if (await readFull(file, header) < 12) return false;
  const view = new DataView(header.buffer);
  const records = view.getUint32(4, true);
  const headerLength = view.getUint16(8, true);
  const recordLength = view.getUint16(10, true);
  if (records !== features || recordLength === 0) return false;
  await file.seek(headerLength, Deno.SeekMode.Start);
  // Whole records at a time, so each flag is at a multiple of the record length.
  const perRead = Math.max(1, Math.floor((8 << 20) / recordLength));
  const buffer = new Uint8Array(perRead * recordLength);
  let seen = 0;
  while (seen < records) {
    const want = Math.min(perRead, records - seen) * recordLength;
    const got = await readFull(file, buffer.subarray(0, want));
    if (got < want) return false;
    for (let at = 0; at < want; at += recordLength) {
      if (buffer[at] !== 0x20) return false;
    }
    seen += want / recordLength;
  }
  return true;
}

async function readFull(file: Deno.FsFile, into: Uint8Array): Promise<number> {
  let read = 0;
  while (read < into.length) {
    const n = await file.read(into.subarray(read));
    if (n === null) break;
    read += n;
  }
  return read;
}

/**
 * The OGR SQL of each part of a layer of a staged Shapefile (`host` is its
 * .shp), or `undefined` when the layer is converted in one call: too small
 * for `instances`, not a plain .shp with its .shx, or a .dbf with deleted
 * records (see the module comment).
 */
export async function shapefileParts(
  host: string,
  layer: string,
  features: number,
  instances: number,
  minPartFeatures = MIN_PART_FEATURES,
): Promise<string[] | undefined> {
  if (instances < 2 || features < 2 * minPartFeatures || !/\.shp$/i.test(host)) return undefined;
  const stem = host.slice(0, -4);
  const sidecar = async (ext: string) => {
    for (const e of [ext, ext.toUpperCase()]) {
      if (await Deno.stat(`${stem}.${e}`).then((s) => s.isFile, () => false)) return `${stem}.${e}`;
    }
    return undefined;
  };
  const shx = await sidecar("shx");
  const dbf = await sidecar("dbf");
  if (shx === undefined || dbf === undefined || !(await dbfIsPlain(dbf, features))) {
    return undefined;
  }
  // One part per instance: each part costs its own calls (and make-valid
  // scan), so more parts than instances only add work.
  const count = Math.min(instances, Math.floor(features / minPartFeatures));
  const size = Math.ceil(features / count);
  const parts: string[] = [];
  for (let offset = 0; offset < features; offset += size) {
    parts.push(`SELECT * FROM ${quote(layer)} LIMIT ${size} OFFSET ${offset}`);
  }
  return parts;
}

/** SQLite's bound-parameter limit (SQLITE_MAX_VARIABLE_NUMBER since 3.32). */
const MAX_PARAMETERS = 32_766;

/** Rows a statement inserts at a time: one row a call cost twice the CPU (see appendParts). */
const ROWS_PER_INSERT = 64;

type SqlValue = null | bigint | number | string | Uint8Array;

/**
 * Appends the rows of `table` of each GeoPackage in `parts` (host paths, as
 * GDAL wrote them with the target's schema and SPATIAL_INDEX=NO), in
 * order, to `table` of the GeoPackage `target`, with new feature ids after
 * the target's; then sets the target's feature count and extent to the
 * whole. The parts are left in place.
 *
 * One connection per file, rows read from each part and inserted into the
 * target in one transaction, `ROWS_PER_INSERT` rows a prepared statement:
 * not an `INSERT ... SELECT` from ATTACHed parts, which Deno's SQLite
 * refuses in every process without `-A` ("too many attached databases -
 * max 0"), i.e. in every platform task; nor gdal3.js's `ogr2ogr -append`
 * (c11187b), which decodes and encodes every geometry in WebAssembly.
 * Measured on 2 x 300k polygons (2026-12-07, load 10-12, process CPU):
 * gdal3.js's append 1.1-1.16 s, these inserts one row a statement 1.03 s,
 * 64 (or 256) rows a statement with the layer's feature-count trigger
 * dropped for the copy 0.58-0.74 s; same rows, feature ids and count (the
 * extent is the union of the parts' as GDAL wrote them, where gdal3.js's
 * append rewrote it rounded to 15 digits).
 */
export function appendParts(target: string, table: string, parts: readonly string[]): void {
  const db = openSqlite(target, { mode: "scratch" });
  try {
    const info = db.prepare(`PRAGMA table_info(${quote(table)})`).all() as {
      name: string;
      pk: number;
    }[];
    const names = info.filter((c) => c.pk === 0).map((c) => quote(c.name));
    const columns = names.join(", ");
    const pk = info.find((c) => c.pk === 1)?.name;
    const order = pk === undefined ? "rowid" : quote(pk);
    const perInsert = Math.max(
      1,
      Math.min(ROWS_PER_INSERT, Math.floor(MAX_PARAMETERS / Math.max(1, names.length))),
    );
    const tuple = `(${names.map(() => "?").join(", ")})`;
    const insert = (rows: number) =>
      db.prepare(
        `INSERT INTO ${quote(table)} (${columns}) VALUES ${Array(rows).fill(tuple).join(", ")}`,
      );
    const many = insert(perInsert);
    const one = insert(1);
    const box = [Infinity, Infinity, -Infinity, -Infinity];
    const widen = (extent: Extent | undefined) => {
      if (extent === undefined) return;
      box[0] = Math.min(box[0]!, extent.min_x);
      box[1] = Math.min(box[1]!, extent.min_y);
      box[2] = Math.max(box[2]!, extent.max_x);
      box[3] = Math.max(box[3]!, extent.max_y);
    };
    widen(extentOf(db, table));
    db.exec("BEGIN");
    // GDAL's trigger counts the layer's features one insert at a time: the
    // count is set once at the end instead, and the trigger put back as it was.
    const triggers = db.prepare(
      "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? " +
        "AND name = ?",
    ).all(table, `trigger_insert_feature_count_${table}`) as { name: string; sql: string }[];
    for (const trigger of triggers) db.exec(`DROP TRIGGER ${quote(trigger.name)}`);
    for (const part of parts) {
      const source = openSqlite(part, { mode: "read" });
      try {
        widen(extentOf(source, table));
        const rows = source.prepare(`SELECT ${columns} FROM ${quote(table)} ORDER BY ${order}`);
        rows.setReadBigInts(true);
        // Rows as arrays, not objects keyed by column (Deno has it; its
        // node:sqlite types do not declare it yet).
        (rows as unknown as { setReturnArrays?: (on: boolean) => void }).setReturnArrays?.(true);
        const values: SqlValue[] = [];
        let pending = 0;
        for (const row of rows.iterate()) {
          const cells = (Array.isArray(row) ? row : Object.values(row)) as SqlValue[];
          for (const value of cells) values.push(value);
          if (++pending === perInsert) {
            many.run(...values);
            values.length = 0;
            pending = 0;
          }
        }
        for (let at = 0; at < values.length; at += names.length) {
          one.run(...values.slice(at, at + names.length));
        }
      } finally {
        source.close();
      }
    }
    for (const trigger of triggers) db.exec(trigger.sql);
    if (box[0]! <= box[2]!) {
      db.prepare(
        "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
      ).run(box[0]!, box[1]!, box[2]!, box[3]!, table);
    }
    const counted = db.prepare(
      "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'gpkg_ogr_contents'",
    ).get() as { n: number };
    if (Number(counted.n) > 0) {
      db.prepare(
        `UPDATE gpkg_ogr_contents SET feature_count = (SELECT count(*) FROM ${
          quote(table)
        }) WHERE lower(table_name) = lower(?)`,
      ).run(table);
    }
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  } finally {
    db.close();
  }
}

type Extent = { min_x: number; min_y: number; max_x: number; max_y: number };

/** The extent GDAL recorded for `table` in `db`'s gpkg_contents (none for an empty layer). */
function extentOf(db: DatabaseSync, table: string): Extent | undefined {
  const row = db.prepare(
    "SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = ?",
  ).get(table) as Partial<Record<keyof Extent, number | null>> | undefined;
  if (row?.min_x == null || row.min_y == null || row.max_x == null || row.max_y == null) {
    return undefined;
  }
  return { min_x: row.min_x, min_y: row.min_y, max_x: row.max_x, max_y: row.max_y };
}
