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

/** The start of the file at `host` as text, or `undefined` for a zip member or a folder. */
async function headOf(host: string): Promise<string | undefined> {
  try {
    using file = await Deno.open(host);
    const buffer = new Uint8Array(HEAD_BYTES);
    const n = await file.read(buffer);
    return new TextDecoder().decode(buffer.subarray(0, n ?? 0));
  } catch (error) {
    if (
      error instanceof Deno.errors.NotFound || error instanceof Deno.errors.IsADirectory ||
      error instanceof Deno.errors.NotADirectory
    ) {
      return undefined;
    }
    throw error;
  }
}

/** The WKT of ESRI:`wkid`, or `undefined` when PROJ knows no such code. */
async function esriCrs(
  scratch: GdalScratch,
  wkid: string,
): Promise<{ wkid: number; wkt: string } | undefined> {
  try {
    return { wkid: Number(wkid), wkt: (await scratch.gdal.crsInfo(`ESRI:${wkid}`)).wkt };
  } catch (error) {
    if (error instanceof GdalError) return undefined;
    throw error;
  }
}

/**
 * The WKT of the ESRI-authority CRS the Esri JSON file at `host` names by its
 * `wkid`, or `undefined` when it names none, or none PROJ knows.
 */
export async function esriWkidWkt(
  scratch: GdalScratch,
  host: string,
): Promise<{ wkid: number; wkt: string } | undefined> {
  const head = await headOf(host);
  if (head === undefined) return undefined;
  const wkid = /"spatialReference"\s*:\s*\{[^{}]*?"wkid"\s*:\s*(\d{1,9})\b/.exec(head)?.[1];
  return wkid === undefined ? undefined : await esriCrs(scratch, wkid);
}

/**
 * The ESRI-authority CRS a GeoJSON's legacy `"crs"` member names under the
 * EPSG authority (`"urn:ogc:def:crs:EPSG::102100"`, `"EPSG:102100"`, as
 * ArcGIS exports and some of its clients write Web Mercator): PROJ has no
 * such EPSG code, so GDAL said so and read the coordinates as WGS 84
 * degrees. `undefined` when the file names no such code, or one that PROJ
 * does not know under the ESRI authority either.
 */
export async function geoJsonEsriCrs(
  scratch: GdalScratch,
  host: string,
): Promise<{ wkid: number; wkt: string } | undefined> {
  const head = await headOf(host);
  if (head === undefined) return undefined;
  const name = /"crs"\s*:\s*\{[^{}]*"properties"\s*:\s*\{[^{}]*"name"\s*:\s*"([^"]{1,200})"/
    .exec(head)?.[1];
  // Asked only once PROJ said it has no such EPSG code: an ESRI code of the same number is meant.
  const code = name === undefined
    ? undefined
    : /^(?:urn:ogc:def:crs:EPSG:[\d.]*:|EPSG:)(\d{1,9})$/i.exec(name.trim())?.[1];
  return code === undefined ? undefined : await esriCrs(scratch, code);
}
