/**
 * The CRS of a CSV's `.prj` (`points.csv` beside `points.prj`, as ArcGIS and
 * QGIS write it). GDAL reads it from 3.8 on, so gdal3.js did and the native
 * engine's GDAL 3.6 did not: a CSV whose `.prj` says UTM 33N, declared
 * EPSG:4326, was refused as crs_mismatch by one engine and published with the
 * declared CRS assigned (or refused for coordinates outside it) by the other.
 * Read here, both engines check the declared CRS against the file's own.
 *
 * @module
 */

import path from "node:path";
import { GdalError, type GdalScratch } from "../../resources/spatial/gdal.ts";

/** Largest `.prj` read (a WKT of a compound CRS is a few KB). */
const MAX_PRJ_BYTES = 64 * 1024;

/**
 * The WKT of the `.prj` beside the CSV at `host` (its stem, any case of
 * `.prj`), or `undefined` when there is none, it is empty or too big, or GDAL
 * cannot read a CRS from it (as GDAL 3.8 then reads the CSV without a CRS).
 */
export async function csvPrjWkt(scratch: GdalScratch, host: string): Promise<string | undefined> {
  const folder = path.dirname(host);
  const stem = path.basename(host).replace(/\.[^.]*$/, "").toLowerCase();
  let found: string | undefined;
  for await (const entry of Deno.readDir(folder)) {
    if (entry.isFile && entry.name.toLowerCase() === `${stem}.prj`) found = entry.name;
  }
  if (found === undefined) return undefined;
  const at = path.join(folder, found);
  if ((await Deno.stat(at)).size > MAX_PRJ_BYTES) return undefined;
  const text = (await Deno.readTextFile(at)).replace(/^\uFEFF/, "").trim();
  if (text === "") return undefined;
  try {
    return (await scratch.gdal.crsInfo(text)).wkt;
  } catch (error) {
    if (error instanceof GdalError) return undefined;
    throw error;
  }
}
