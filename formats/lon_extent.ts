/**
 * The longitude extent of a set of geometries in a geographic CRS, right
 * across the antimeridian. GeoParquet 1.1 (`bbox`: "longitude and latitude
 * values are listed for the most southwesterly coordinate followed by values
 * for the most northeasterly coordinate", after RFC 7946 section 5) and STAC
 * write a box crossing 180° as `west > east`. A plain minimum and maximum of
 * Fiji's or the Aleutians' features (points at 178°E and 179°W, a polygon
 * split at the antimeridian as RFC 7946 asks) gives a box around the whole
 * globe instead of the 3° the data covers.
 *
 * Each geometry (each part of one spanning more than 180°: the two halves of
 * a split polygon) covers the interval of its longitudes. The extent is the
 * circle minus the largest gap between them: when that gap lies inside
 * [-180, 180] rather than around the seam, the box crosses it. Gaps are found
 * on 1° cells (a per-cell minimum and maximum keep the result exact), so
 * adding a geometry costs a few array writes; a gap under a cell is not seen,
 * which only matters for data covering more than 358° of longitude.
 *
 * @module
 */

import wkxModule from "wkx";
import { Buffer } from "node:buffer";

/** A GeoJSON geometry as wkx gives it. */
interface GeoJsonGeometry {
  type: string;
  coordinates?: unknown;
  geometries?: GeoJsonGeometry[];
}

// wkx ships no types.
const wkx = wkxModule as unknown as {
  Geometry: { parse(bytes: Buffer): { toGeoJSON(): GeoJsonGeometry } };
};

/** Cells of the longitude circle. */
const CELLS = 360;

const cellOf = (lon: number) => Math.min(CELLS - 1, Math.max(0, Math.floor(lon + 180)));

/** Collects longitude intervals and gives their antimeridian-aware extent. */
export class LongitudeExtent {
  /** Whether a cell holds a longitude of some interval. */
  readonly #covered = new Uint8Array(CELLS);
  /** Least start of the intervals starting in each cell. */
  readonly #start = new Float64Array(CELLS).fill(Infinity);
  /** Greatest end of the intervals ending in each cell. */
  readonly #end = new Float64Array(CELLS).fill(-Infinity);

  /** Adds the interval `[west, east]` (`west <= east`, in [-180, 180]). */
  addInterval(west: number, east: number): void {
    if (!(west <= east)) return;
    const a = cellOf(west);
    const b = cellOf(east);
    if (west < this.#start[a]!) this.#start[a] = west;
    if (east > this.#end[b]!) this.#end[b] = east;
    // A point or a small geometry lies in one cell: a store, not a call (1M points).
    if (a === b) this.#covered[a] = 1;
    else this.#covered.fill(1, a, b + 1);
  }

  /**
   * Adds one geometry (plain WKB) whose own box runs from `xmin` to `xmax`:
   * that interval, or, when it spans more than 180° (parts on both sides of
   * the antimeridian), the interval of each of its parts.
   */
  addGeometry(wkb: Uint8Array, xmin: number, xmax: number): void {
    if (xmax - xmin <= 180) {
      this.addInterval(xmin, xmax);
      return;
    }
    const geometry = wkx.Geometry.parse(Buffer.from(wkb.buffer, wkb.byteOffset, wkb.byteLength))
      .toGeoJSON();
    for (const part of partsOf(geometry)) {
      let west = Infinity;
      let east = -Infinity;
      for (const [x] of part) {
        if (x! < west) west = x!;
        if (x! > east) east = x!;
      }
      this.addInterval(west, east);
    }
  }

  /**
   * `[west, east]`: `west > east` when the extent crosses the antimeridian,
   * else the plain minimum and maximum; `undefined` when nothing was added.
   */
  extent(): [number, number] | undefined {
    const covered = this.#covered;
    const first = covered.indexOf(1);
    if (first < 0) return undefined;
    const last = covered.lastIndexOf(1);
    const west = this.#start[first]!;
    const east = this.#end[last]!;
    // The gap around the seam, against the largest gap inside [-180, 180].
    let best = 360 - (east - west);
    let result: [number, number] = [west, east];
    for (let cell = first; cell <= last;) {
      if (covered[cell]) {
        cell++;
        continue;
      }
      let after = cell;
      while (!covered[after]) after++;
      const gapWest = this.#end[cell - 1]!;
      const gapEast = this.#start[after]!;
      if (gapEast - gapWest > best) {
        best = gapEast - gapWest;
        result = [gapEast, gapWest];
      }
      cell = after;
    }
    return result;
  }
}

/** The positions of each part of a geometry (a polygon's shell: holes lie inside it). */
function partsOf(geometry: GeoJsonGeometry): number[][][] {
  const c = geometry.coordinates;
  switch (geometry.type) {
    case "Point":
      return [[c as number[]]];
    case "LineString":
      return [c as number[][]];
    case "Polygon":
      return (c as number[][][]).slice(0, 1);
    case "MultiPoint":
      return (c as number[][]).map((p) => [p]);
    case "MultiLineString":
      return c as number[][][];
    case "MultiPolygon":
      return (c as number[][][][]).map((p) => p[0] ?? []);
    case "GeometryCollection":
      return (geometry.geometries ?? []).flatMap(partsOf);
    default:
      return [];
  }
}
