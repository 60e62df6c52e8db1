/** The longitude extent across the antimeridian (GeoParquet 1.1 / RFC 7946 bbox). */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { DatabaseSync } from "node:sqlite";
import wkxModule from "wkx";
import { LongitudeExtent } from "../../formats/lon_extent.ts";
import { sqliteToGeoParquet } from "../../formats/geoparquet.ts";

const wkx = wkxModule as unknown as { Geometry: { parse(text: string): { toWkb(): Buffer } } };
const wkb = (wkt: string) => new Uint8Array(wkx.Geometry.parse(wkt).toWkb());

Deno.test("LongitudeExtent: the plain min/max unless the largest gap is inside [-180, 180]", () => {
  const extent = (intervals: [number, number][]) => {
    const e = new LongitudeExtent();
    for (const [w, east] of intervals) e.addInterval(w, east);
    return e.extent();
  };
  assert.equal(extent([]), undefined);
  assert.deepEqual(extent([[-110.5, -110.5], [-109, -100]]), [-110.5, -100]);
  // Fiji: 178.2°E to 179.9°E and 179.7°W to 178.1°W: west > east.
  assert.deepEqual(extent([[178.2, 179.9], [-179.7, -178.1], [179.5, 179.6]]), [178.2, -178.1]);
  // A global layer: the seam's gap (20°) is smaller than none inside: the plain box.
  assert.deepEqual(extent([[-170, -10], [10, 170]]), [-170, 170]);
  // Exactly at the seam.
  assert.deepEqual(extent([[179.25, 180], [-180, -179.5]]), [179.25, -179.5]);
  // Gaps within one cell are kept exact at the cell's edge values.
  assert.deepEqual(extent([[170.1, 170.2], [170.3, 170.4], [-170.8, -170.6]]), [170.1, -170.6]);
});

Deno.test("LongitudeExtent: a polygon split at the antimeridian counts as its two halves", () => {
  const e = new LongitudeExtent();
  const split = "MULTIPOLYGON (((179 -17,180 -17,180 -16,179 -16,179 -17))," +
    "((-180 -17,-179.5 -17,-179.5 -16,-180 -16,-180 -17)))";
  e.addGeometry(wkb(split), -180, 180);
  assert.deepEqual(e.extent(), [179, -179.5]);
});

Deno.test("sqliteToGeoParquet: a geographic layer across the antimeridian has west > east", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = new DatabaseSync(`${dir}/in.sqlite`);
    db.exec("CREATE TABLE t (fid INTEGER PRIMARY KEY, geom BLOB)");
    const insert = db.prepare("INSERT INTO t (geom) VALUES (?)");
    for (
      const wkt of [
        "POINT (178.5 -18)",
        "POINT (-179.25 -16.5)",
        "LINESTRING (179 -17,179.9 -17.5)",
      ]
    ) {
      insert.run(wkb(wkt));
    }
    db.close();
    const crs = { type: "GeographicCRS", id: { authority: "EPSG", code: 4326 } };
    const result = await sqliteToGeoParquet(`${dir}/in.sqlite`, "t", `${dir}/a.parquet`, { crs });
    assert.deepEqual(result.bbox, [178.5, -18, -179.25, -16.5]);
    assert.deepEqual(result.geo.columns.geometry.bbox, [178.5, -18, -179.25, -16.5]);
    // In a projected CRS the numbers are plain coordinates: min/max.
    const projected = await sqliteToGeoParquet(`${dir}/in.sqlite`, "t", `${dir}/b.parquet`, {
      crs: { type: "ProjectedCRS" },
    });
    assert.deepEqual(projected.bbox, [-179.25, -18, 179.9, -16.5]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("sqliteToGeoParquet: longitudes past ±180 in a geographic CRS keep the plain min/max", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = new DatabaseSync(`${dir}/in.sqlite`);
    db.exec("CREATE TABLE t (fid INTEGER PRIMARY KEY, geom BLOB)");
    const insert = db.prepare("INSERT INTO t (geom) VALUES (?)");
    for (const wkt of ["POINT (179 -18)", "POINT (185 -16)", "POINT (-179 -17)"]) {
      insert.run(wkb(wkt));
    }
    db.close();
    const result = await sqliteToGeoParquet(`${dir}/in.sqlite`, "t", `${dir}/a.parquet`, {
      crs: { type: "GeographicCRS" },
    });
    assert.deepEqual(result.bbox, [-179, -18, 185, -16]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
