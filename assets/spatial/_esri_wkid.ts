/**
 * The ArcGIS id of an Esri JSON file's CRS (`"spatialReference":
 * {"wkid": 102100}`, as ArcGIS Server 10.0 and older write it, without the
 * `latestWkid` 3857 of newer ones). GDAL looks such an id up as an EPSG code
 * only, and PROJ has no EPSG:102100: the file was refused as naming an
 * unknown CRS, though PROJ knows it as ESRI:102100 (Web Mercator), which is
 * what ArcGIS means by it.
 *
 * @module
 */

import { GdalError, type GdalScratch } from "../../resources/spatial/gdal.ts";

/** Bytes read from the start of the file: ArcGIS writes `spatialReference` before the features. */
const HEAD_BYTES = 65536;

/**
 * The WKT of the ESRI-authority CRS the Esri JSON file at `host` names by its
 * `wkid`, or `undefined` when it names none, or none PROJ knows.
 */
export async function esriWkidWkt(
  scratch: GdalScratch,
  host: string,
): Promise<{ wkid: number; wkt: string } | undefined> {
  let head: string;
  try {
    using file = await Deno.open(host);
    const buffer = new Uint8Array(HEAD_BYTES);
    const n = await file.read(buffer);
    head = new TextDecoder().decode(buffer.subarray(0, n ?? 0));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory) {
      return undefined;
    }
    throw error;
  }
  const wkid = /"spatialReference"\s*:\s*\{[^{}]*?"wkid"\s*:\s*(\d{1,9})\b/.exec(head)?.[1];
  if (wkid === undefined) return undefined;
  try {
    return { wkid: Number(wkid), wkt: (await scratch.gdal.crsInfo(`ESRI:${wkid}`)).wkt };
  } catch (error) {
    if (error instanceof GdalError) return undefined;
    throw error;
  }
}
