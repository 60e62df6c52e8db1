/**
 * Geodesic measures against PostGIS's `ST_Area(geog)` / `ST_Length(geog)`
 * on the Debian PostGIS (a throwaway cluster): equal within 1e-9 relative
 * for polygons with holes, multipolygons, lines, multilines and near-pole
 * and antimeridian shapes; null for points.
 */

import assert from "node:assert/strict";
import postgres from "postgres";
import { geodesicMeasures } from "../../formats/geodesic.ts";
import { ensurePostgis, startPostgres } from "../_helpers/postgres.ts";
import { needs } from "../_helpers/tools.ts";

const CASES = [
  "POLYGON((-113.5 45.2,-110.1 45.2,-110.1 47.9,-113.5 47.9,-113.5 45.2))",
  "POLYGON((-113.5 45.2,-110.1 45.2,-110.1 47.9,-113.5 47.9,-113.5 45.2)," +
  "(-112 46,-111 46,-111 47,-112 47,-112 46))",
  "MULTIPOLYGON(((0 0,1 0,1 1,0 1,0 0)),((10 10,10 12,12 12,10 10)))",
  "POLYGON((0 0,0 1,1 1,1 0,0 0))",
  "POLYGON((179.5 -16,-179.5 -16,-179.5 -17,179.5 -17,179.5 -16))",
  "POLYGON((-30 80,60 82,150 81,-120 83,-30 80))",
  "LINESTRING(-113.79 45.39,-112.2 46.1,-110.95 48.77)",
  "MULTILINESTRING((0 0,1 1),(10 10,10.5 10.7,11 10))",
  "LINESTRING(179 0,-179 0)",
  // The cap south of 80°S as a GIS draws it: along -180..180, closed through the pole.
  "POLYGON((-180 -80,-150 -80,-120 -80,-90 -80,-60 -80,-30 -80,0 -80,30 -80,60 -80,90 -80," +
  "120 -80,150 -80,180 -80,180 -90,-180 -90,-180 -80))",
  "POLYGON Z((-113.5 45.2 10,-110.1 45.2 20,-110.1 47.9 30,-113.5 45.2 10))",
  "MULTIPOLYGON(((-180 60,-170 60,-170 70,-180 70,-180 60)),((170 60,180 60,180 70,170 70,170 60)))",
  "LINESTRING(-179.5 89.9,179.5 89.9)",
  "GEOMETRYCOLLECTION(POLYGON((0 0,1 0,1 1,0 0)),POLYGON((5 5,6 5,6 6,5 5)))",
  "GEOMETRYCOLLECTION(LINESTRING(0 0,1 1),MULTILINESTRING((5 5,6 6)))",
];

const ignore = await needs("postgis");

Deno.test({
  name: "geodesic measures equal PostGIS geography's within 1e-9 relative",
  ignore,
  fn: async () => {
    await using pg = await startPostgres();
    await ensurePostgis(pg.url);
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      for (const wkt of [...CASES, "POINT(1 2)", "MULTIPOINT((1 2),(3 4))"]) {
        const [row] = await sql.unsafe(
          `SELECT ST_AsBinary(ST_GeomFromText($1)) AS wkb,
                  ST_Area(ST_GeomFromText($1, 4326)::geography) AS area,
                  ST_Length(ST_GeomFromText($1, 4326)::geography) AS length,
                  ST_Dimension(ST_GeomFromText($1)) AS dim`,
          [wkt],
        );
        const ours = geodesicMeasures(new Uint8Array(row!.wkb as Uint8Array));
        const dim = Number(row!.dim);
        const close = (a: number, b: number) =>
          Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(b), 1e-9);
        if (dim === 2) {
          assert.ok(
            close(ours.areaM2!, Number(row!.area)),
            `${wkt}: ${ours.areaM2} vs ${row!.area}`,
          );
          assert.equal(ours.lengthM, null);
        } else if (dim === 1) {
          assert.ok(
            close(ours.lengthM!, Number(row!.length)),
            `${wkt}: ${ours.lengthM} vs ${row!.length}`,
          );
          assert.equal(ours.areaM2, null);
        } else {
          assert.deepEqual(ours, { areaM2: null, lengthM: null });
        }
      }
    } finally {
      await sql.end();
    }
  },
});
