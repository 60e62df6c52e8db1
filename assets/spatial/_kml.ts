/**
 * Which GDAL driver reads a KML, so that both engines give the same table.
 *
 * GDAL has two KML readers with different tables: `KML` (in every build,
 * gdal3.js's included) gives `Name` and `Description` and drops the rest;
 * `LIBKML` (native GDAL prefers it) adds `timestamp`, `begin`, `end`,
 * `altitudeMode`, `tessellate`, `extrude`, `visibility`, `drawOrder`, `icon`
 * and the `ExtendedData` fields. Left to GDAL, the same file made different
 * GeoParquet on each engine. The rule:
 *
 * - a KML with nothing but names, descriptions and geometries is read by
 *   `KML` on both engines (the same driver, so the same columns and types);
 * - a KML carrying `ExtendedData`, a `Schema`, `TimeStamp`/`TimeSpan` or a
 *   `gx:Track` is read by `LIBKML` (`KML` would silently drop those
 *   columns); the wasm engine, without LIBKML, leaves it pending for the
 *   native engine instead of publishing a poorer table;
 * - a KMZ is read by `LIBKML` (the only driver reading it), as before.
 *
 * @module
 */

/** KML elements whose content only LIBKML turns into columns (or geometries). */
const LIBKML_ONLY = /<(?:kml:)?(?:ExtendedData|Schema|TimeStamp|TimeSpan)\b|<gx:Track\b/;

/** Bytes of the file read at a time while looking for those elements. */
const CHUNK = 1 << 20;

/**
 * Whether the KML at `hostPath` holds elements the `KML` driver drops (see
 * the module doc). Read in 1 MiB steps with an overlap, stopping at the
 * first hit: a large file of plain placemarks is read once.
 */
export async function kmlNeedsLibkml(hostPath: string): Promise<boolean> {
  using file = await Deno.open(hostPath);
  const decoder = new TextDecoder("utf-8");
  const buffer = new Uint8Array(CHUNK);
  let tail = "";
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) return false;
    const text = tail + decoder.decode(buffer.subarray(0, n), { stream: true });
    if (LIBKML_ONLY.test(text)) return true;
    // An element name cut between two reads is found in the next one.
    tail = text.slice(-32);
  }
}

/**
 * The drivers that must read a declared KML (`path` ends in `.kml` or
 * `.kmz`), given whether the file holds LIBKML-only elements.
 */
export function kmlDrivers(path: string, needsLibkml: boolean): ["KML"] | ["LIBKML"] {
  return /\.kmz$/i.test(path) || needsLibkml ? ["LIBKML"] : ["KML"];
}
