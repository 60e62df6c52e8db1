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

import path from "node:path";
import type { GdalScratch, OpenOptions } from "../../resources/spatial/gdal.ts";

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
 * Appends the rows of layer `layer` of each GeoPackage in `parts` (GDAL
 * paths in `scratch`, as GDAL wrote them with one schema), in order, to the
 * same layer of the GeoPackage `target` (a GDAL path in `scratch`'s
 * folder), with new feature ids after the target's: `ogr2ogr -append`, so
 * GDAL also keeps the layer's feature count and extent. The parts are left
 * in place.
 *
 * GDAL appends, not SQLite: an `INSERT ... SELECT` from the ATTACHed parts
 * cannot run in the platform's tasks, where Deno's SQLite allows no
 * attached database unless the process has every permission (`-A`), which
 * no task has ("too many attached databases - max 0" under `deno task
 * materialize`; the tests ran with -A). Measured at load 13-14 on 500k
 * points: copying the rows through JavaScript took 14 s, gdal3.js's append
 * 7.8 s (the ATTACH it replaces took well under a second, but only ever ran
 * under -A: in benchmarks and tests). Whether parts still pay for
 * themselves on a loaded machine was not measured again.
 */
export async function appendParts(
  scratch: GdalScratch,
  target: string,
  layer: string,
  parts: readonly string[],
  open?: OpenOptions,
): Promise<void> {
  const name = path.posix.basename(target).replace(/\.gpkg$/i, "");
  for (const part of parts) {
    await scratch.gdal.ogr2ogr(part, ["-f", "GPKG", "-append", "-nln", layer], name, {
      ...open,
      layers: [layer],
    });
  }
}
