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

/**
 * Appends the rows of `table` of each GeoPackage in `parts`, in order, to
 * `table` of the GeoPackage `target` (all written by GDAL with the same
 * schema), with new feature ids after the target's; then sets the target's
 * feature count and extent to the whole. The parts are left in place.
 */
export function appendParts(target: string, table: string, parts: readonly string[]): void {
  const db = openSqlite(target, { mode: "scratch" });
  try {
    const info = db.prepare(`PRAGMA table_info(${quote(table)})`).all() as {
      name: string;
      pk: number;
    }[];
    const columns = info.filter((c) => c.pk === 0).map((c) => quote(c.name)).join(", ");
    const pk = info.find((c) => c.pk === 1)?.name;
    const order = pk === undefined ? "rowid" : quote(pk);
    parts.forEach((part, i) => {
      db.prepare(`ATTACH DATABASE ? AS ${quote(`part${i}`)}`).run(part);
    });
    db.exec("BEGIN");
    for (let i = 0; i < parts.length; i++) {
      db.exec(
        `INSERT INTO main.${quote(table)} (${columns}) SELECT ${columns} FROM ` +
          `${quote(`part${i}`)}.${quote(table)} ORDER BY ${order}`,
      );
    }
    // The layer's extent is the union of the parts' (each as GDAL wrote it).
    const extents = [
      `main.gpkg_contents`,
      ...parts.map((_, i) => `${quote(`part${i}`)}.gpkg_contents`),
    ]
      .map((t) => `SELECT min_x, min_y, max_x, max_y FROM ${t} WHERE table_name = ?`).join(
        " UNION ALL ",
      );
    const box = db.prepare(
      `SELECT min(min_x) AS a, min(min_y) AS b, max(max_x) AS c, max(max_y) AS d FROM (${extents})`,
    ).get(...Array(parts.length + 1).fill(table)) as Record<string, number | null>;
    db.prepare(
      "UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ? WHERE table_name = ?",
    ).run(box.a ?? null, box.b ?? null, box.c ?? null, box.d ?? null, table);
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
    parts.forEach((_, i) => db.exec(`DETACH DATABASE ${quote(`part${i}`)}`));
  } finally {
    db.close();
  }
}
