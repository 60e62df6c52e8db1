// When `ogr2ogr -makevalid` can be left out without changing a single byte
// of the output. MakeValid returns a valid geometry unchanged, but in
// gdal3.js (single-threaded WebAssembly GEOS) asking for it costs more than
// twice a plain conversion: 100k polygons took 3.4 s with it against 1.3 s
// without, while a validity scan of the converted layer takes about 0.7 s.
// So a layer is converted without it first, scanned, and converted again
// with it only when the scan finds a geometry MakeValid could change.

import type { GdalScratch } from "../../resources/spatial/gdal.ts";

/**
 * Whether any geometry of `table` in the GeoPackage `gpkg` (a gdal3.js path)
 * could be changed by `ogr2ogr -makevalid`: not valid by GEOS (SpatiaLite's
 * `ST_IsValid`, the same GEOS MakeValid uses), not readable by SpatiaLite
 * (curves: `ST_IsValid` is -1), empty, or a collection (whose lower-dimension
 * members `-makevalid` drops). Errs towards `true`: a false `true` only costs
 * time, a false `false` would change the output.
 */
export async function mayNeedMakeValid(
  scratch: GdalScratch,
  gpkg: string,
  table: string,
  geometryColumn: string,
  outputName: string,
): Promise<boolean> {
  const t = `"${table.replaceAll('"', '""')}"`;
  const g = `"${geometryColumn.replaceAll('"', '""')}"`;
  const sql = `SELECT EXISTS (SELECT 1 FROM ${t} WHERE ${g} IS NOT NULL AND (` +
    `ST_IsValid(${g}) IS NOT 1 OR ST_IsEmpty(${g}) IS NOT 0 OR ` +
    `ST_GeometryType(${g}) LIKE '%COLLECTION%')) AS n`;
  const csv = await scratch.gdal.ogr2ogr(
    gpkg,
    ["-f", "CSV", "-dialect", "SQLite", "-sql", sql],
    outputName,
  );
  const host = scratch.toHost(csv);
  try {
    const [, value] = (await Deno.readTextFile(host)).trim().split(/\r?\n/);
    // Anything but a clear 0 (no such geometry) keeps -makevalid.
    return value?.trim() !== "0";
  } finally {
    await Deno.remove(host);
  }
}
