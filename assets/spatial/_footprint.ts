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

/** Points per edge of a raster's outline when it is densified (GDAL's TransformBounds takes 21). */
export const EDGE_POINTS = 32;

/**
 * The outline of a raster of `width` x `height` pixels placed by the
 * geotransform `gt`, in its CRS: {@linkcode EDGE_POINTS} points per edge,
 * clockwise from the top-left corner, closed; then its centre.
 *
 * A projected raster's four corners alone give a wrong box in lon/lat: the
 * edges of a Lambert or Albers grid bow towards the pole (a CONUS grid in
 * EPSG:5070's top edge reaches 52.9°N between corners at 49.2°N), and a
 * polar stereographic grid's corners all lie south of the pole it covers.
 */
export function densifiedOutline(
  gt: readonly number[],
  width: number,
  height: number,
): { ring: number[][]; centre: number[] } {
  const at = (px: number, py: number) => [
    gt[0]! + px * gt[1]! + py * gt[2]!,
    gt[3]! + px * gt[4]! + py * gt[5]!,
  ];
  const corners = [[0, 0], [width, 0], [width, height], [0, height]];
  const ring: number[][] = [];
  corners.forEach(([x0, y0], i) => {
    const [x1, y1] = corners[(i + 1) % 4]!;
    for (let k = 0; k < EDGE_POINTS; k++) {
      const f = k / EDGE_POINTS;
      ring.push(at(x0! + (x1! - x0!) * f, y0! + (y1! - y0!) * f));
    }
  });
  ring.push(ring[0]!);
  return { ring, centre: at(width / 2, height / 2) };
}

/**
 * The lon/lat box of a projected raster from its densified outline in
 * lon/lat (`ring`, points PROJ could not transform left out) and its centre:
 * {@linkcode footprintBox}, reaching the pole the outline winds around (its
 * longitudes turn a whole 360°), as GDAL's `OCTTransformBounds` does. The
 * pole is the one on the centre's side.
 */
export function outlineBox(
  ring: readonly number[][],
  centre?: readonly number[],
): LonLatBox | null {
  const box = footprintBox(ring, false);
  if (box === null) return null;
  let turn = 0;
  for (let i = 1; i < ring.length; i++) {
    let step = ring[i]![0]! - ring[i - 1]![0]!;
    if (step > 180) step -= 360;
    if (step < -180) step += 360;
    turn += step;
  }
  if (Math.abs(turn) < 180) return box;
  const lats = ring.map((p) => p[1]!);
  const mean = lats.reduce((a, b) => a + b, 0) / lats.length;
  const north = centre === undefined ? mean >= 0 : centre[1]! >= mean;
  return north ? [-180, box[1], 180, 90] : [-180, -90, 180, box[3]];
}
