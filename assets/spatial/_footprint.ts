/**
 * The longitude/latitude box of a raster's footprint (`gdalinfo`'s
 * `wgs84Extent`) that stays right across the antimeridian, in the
 * convention of STAC and RFC 7946: `[west, south, east, north]` with every
 * longitude in [-180, 180], and `west > east` when the box crosses 180°.
 *
 * Taking the minimum and maximum longitude is wrong twice there: a
 * projected raster over Fiji or the Aleutians has corners at 179.9 and
 * -175.4, so min/max spans the whole globe; and a raster in EPSG:4326 whose
 * geotransform runs past 180 (175° to 187°) has corners outside [-180, 180],
 * which no STAC or GeoJSON reader accepts.
 *
 * @module
 */

/** `[west, south, east, north]` in degrees. */
export type LonLatBox = [number, number, number, number];

/** Puts a longitude in [-180, 180] (180 stays 180). */
function wrap(lon: number): number {
  if (lon >= -180 && lon <= 180) return lon;
  return ((((lon + 180) % 360) + 360) % 360) - 180;
}

/**
 * The box of the ring's corners. `continuous` says the longitudes are the
 * raster's own (a geographic CRS: they may run past 180 but never jump);
 * otherwise (corners transformed from a projected CRS, each wrapped into
 * [-180, 180]) an edge longer than 180° is taken as crossing the
 * antimeridian, as the edge of a raster footprint is shorter than that.
 */
export function footprintBox(ring: readonly number[][], continuous: boolean): LonLatBox | null {
  if (ring.length === 0) return null;
  const lons: number[] = [];
  for (const [x] of ring) {
    const prev = lons.at(-1);
    let lon = x!;
    if (!continuous && prev !== undefined) {
      while (lon - prev > 180) lon -= 360;
      while (prev - lon > 180) lon += 360;
    }
    lons.push(lon);
  }
  const lats = ring.map((p) => p[1]!);
  const south = Math.min(...lats);
  const north = Math.max(...lats);
  const min = Math.min(...lons);
  const max = Math.max(...lons);
  if (max - min >= 360) return [-180, south, 180, north];
  // The corners' own longitudes, not the shifted ones (x - 360 + 360 is not always x).
  const own = (lon: number) => wrap(ring[lons.indexOf(lon)]![0]!);
  return [own(min), south, own(max), north];
}
