import assert from "node:assert/strict";
import { footprintBox } from "../../../assets/spatial/_footprint.ts";

Deno.test("footprintBox: a footprint away from the antimeridian is its corners' min and max", () => {
  const ring = [[-111, 45.15], [-111, 45.13], [-110.96, 45.13], [-110.96, 45.15], [-111, 45.15]];
  assert.deepEqual(footprintBox(ring, false), [-111, 45.13, -110.96, 45.15]);
  assert.deepEqual(footprintBox(ring, true), [-111, 45.13, -110.96, 45.15]);
  assert.equal(footprintBox([], false), null);
});

Deno.test("footprintBox: a projected raster across 180° gets west > east, not the whole globe", () => {
  // gdalinfo's wgs84Extent of a UTM zone 60N raster running past 180°.
  const ring = [
    [-179.9404063, 54.1092064],
    [179.9341899, 52.3138437],
    [-175.6917202, 52.123453],
    [-175.3823911, 53.9061008],
    [-179.9404063, 54.1092064],
  ];
  assert.deepEqual(footprintBox(ring, false), [179.9341899, 52.123453, -175.3823911, 54.1092064]);
});

Deno.test("footprintBox: a geographic raster past 180° is wrapped into [-180, 180]", () => {
  const ring = [[175, -15], [175, -25], [187, -25], [187, -15], [175, -15]];
  assert.deepEqual(footprintBox(ring, true), [175, -25, -173, -15]);
  // Wider than 180° but continuous: no crossing is invented.
  const wide = [[-100, 10], [-100, -10], [100, -10], [100, 10], [-100, 10]];
  assert.deepEqual(footprintBox(wide, true), [-100, -10, 100, 10]);
  // The whole globe and more is every longitude.
  const world = [[-180, 90], [-180, -90], [200, -90], [200, 90], [-180, 90]];
  assert.deepEqual(footprintBox(world, true), [-180, -90, 180, 90]);
});
