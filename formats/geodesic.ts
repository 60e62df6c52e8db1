/**
 * Geodesic measures of WKB geometries in longitude/latitude on the WGS84
 * ellipsoid, with Karney's algorithms (GeographicLib, `geographiclib-geodesic`,
 * by the algorithm's author): what PostGIS computes for
 * `ST_Area(geom::geography)` and `ST_Length(geom::geography)`.
 *
 * - polygons: area of each shell minus its holes (absolute, whatever the
 *   ring orientation), summed over the parts of a multipolygon;
 * - lines: length summed over the parts of a multiline;
 * - a measure that does not apply (area of a line, anything of a point) is
 *   `null`, not 0.
 *
 * @example
 * ```ts
 * import { geodesicMeasures } from "./geodesic.ts";
 * // A 1° x 1° square at the equator as little-endian WKB: about 12,308 km².
 * const ring = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]];
 * const wkb = new DataView(new ArrayBuffer(1 + 4 + 4 + 4 + ring.length * 16));
 * wkb.setUint8(0, 1); wkb.setUint32(1, 3, true); wkb.setUint32(5, 1, true); wkb.setUint32(9, 5, true);
 * ring.forEach(([x, y], i) => { wkb.setFloat64(13 + i * 16, x!, true); wkb.setFloat64(21 + i * 16, y!, true); });
 * console.log(geodesicMeasures(new Uint8Array(wkb.buffer)).areaM2);
 * ```
 *
 * @module
 */

import geographiclib from "geographiclib-geodesic";
import { wkbParts } from "./wkb.ts";

// The package is CommonJS: its named exports exist only on the default export.
const WGS84 = (geographiclib as unknown as typeof import("geographiclib-geodesic")).Geodesic.WGS84;

/** Area (m²) and length (m) of a geometry; `null` where the measure does not apply. */
export interface GeodesicMeasures {
  /** Geodesic area of the polygonal parts, or `null` when there are none. */
  areaM2: number | null;
  /** Geodesic length of the linear parts, or `null` when there are none. */
  lengthM: number | null;
}

/** Absolute geodesic area of one closed ring of x,y (lon,lat) pairs. */
function ringArea(ring: Float64Array): number {
  const polygon = WGS84.Polygon(false);
  // The closing vertex repeats the first; PolygonArea closes rings itself.
  let n = ring.length / 2;
  if (n > 1 && ring[0] === ring[2 * n - 2] && ring[1] === ring[2 * n - 1]) n--;
  if (n < 3) return 0;
  for (let i = 0; i < n; i++) polygon.AddPoint(ring[2 * i + 1]!, ring[2 * i]!);
  return Math.abs(polygon.Compute(false, true).area ?? 0);
}

/** Geodesic length of one line of x,y (lon,lat) pairs. */
function lineLength(line: Float64Array): number {
  let total = 0;
  for (let i = 2; i < line.length; i += 2) {
    total += WGS84.Inverse(line[i - 1]!, line[i - 2]!, line[i + 1]!, line[i]!).s12 ?? 0;
  }
  return total;
}

/** Geodesic area and length of a WKB geometry whose coordinates are lon/lat on WGS84. */
export function geodesicMeasures(wkb: Uint8Array): GeodesicMeasures {
  const parts = wkbParts(wkb);
  let area: number | null = null;
  for (const rings of parts.polygons) {
    const [shell, ...holes] = rings;
    if (shell === undefined) continue;
    area = (area ?? 0) + ringArea(shell) - holes.reduce((sum, hole) => sum + ringArea(hole), 0);
  }
  let length: number | null = null;
  for (const line of parts.lines) length = (length ?? 0) + lineLength(line);
  return { areaM2: area, lengthM: length };
}
