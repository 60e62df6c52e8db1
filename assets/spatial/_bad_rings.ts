/**
 * Finding the features behind a GEOS failure on a polygon ring. GDAL reads a
 * ring that is not closed (a GeoJSON polygon whose last position does not
 * repeat the first) or has fewer than 4 positions, only warning; GEOS then
 * refuses it while making the layer valid ("Points of LinearRing do not form
 * a closed linestring"), which failed the whole conversion with nothing to
 * say which feature. This reads the layer again without making it valid and
 * names the features whose rings are bad, so the user is told what to fix.
 *
 * @module
 */

import {
  type GdalScratch,
  type OpenOptions,
  SCRATCH_GEOM,
  SCRATCH_GPKG_OPTIONS,
} from "../../resources/spatial/gdal.ts";
import { openSqlite } from "../../resources/_sqlite.ts";
import { gpkgToWkb, wkbParts } from "../../formats/wkb.ts";

/** GDAL's messages of GEOS refusing a ring it was handed. */
export const BAD_RING_MESSAGE =
  /do not form a closed linestring|Invalid number of points in LinearRing|IllegalArgumentException/i;

/** Feature numbers named in a message at most. */
const MAX_NAMED = 5;

/** Why a ring of x,y pairs is refused, or `undefined` when it is closed with 4+ positions. */
function ringProblem(ring: Float64Array): string | undefined {
  const n = ring.length / 2;
  if (n === 0) return undefined;
  if (ring[0] !== ring[2 * n - 2] || ring[1] !== ring[2 * n - 1]) return "a ring is not closed";
  if (n < 4) return `a ring has ${n} positions (a closed ring needs 4 or more)`;
  return undefined;
}

/**
 * The features (numbered from 1 in the layer's order) whose polygon rings
 * GEOS refuses, each with why: at most {@linkcode MAX_NAMED}, and the count.
 */
export async function badRings(
  scratch: GdalScratch,
  gdalPath: string,
  layer: string,
  open: OpenOptions,
  name: string,
): Promise<{ named: string[]; count: number }> {
  const plain = await scratch.gdal.ogr2ogr(
    gdalPath,
    [...SCRATCH_GPKG_OPTIONS, "-nln", "input", "-unsetFid", "-nlt", "CONVERT_TO_LINEAR"],
    `${name}_rings`,
    { ...open, layers: [layer] },
  );
  const db = openSqlite(scratch.toHost(plain), { mode: "read" });
  const named: string[] = [];
  let count = 0;
  try {
    for (const row of db.prepare(`SELECT rowid AS id, ${SCRATCH_GEOM} AS g FROM input`).iterate()) {
      if (!(row.g instanceof Uint8Array)) continue;
      const rings = wkbParts(gpkgToWkb(row.g)).polygons.flat();
      const why = rings.map(ringProblem).find((p) => p !== undefined);
      if (why === undefined) continue;
      count++;
      if (named.length < MAX_NAMED) named.push(`feature ${Number(row.id)} (${why})`);
    }
  } finally {
    db.close();
  }
  return { named, count };
}
