/**
 * On the wasm engine a large Shapefile layer is converted in parts, one per
 * gdal3.js instance, and appended in order. The parts must be exactly the
 * layer (same rows, same order, same values) and the split must be refused
 * wherever it could not be: deleted records, a record count that is not
 * the layer's, a zipped file, one instance.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { appendParts, dbfIsPlain, shapefileParts } from "../../../assets/spatial/_chunks.ts";
import { SCRATCH_GEOM, SCRATCH_GPKG_OPTIONS } from "../../../resources/spatial/gdal.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";

const FEATURES = 2_001;

/** A Shapefile of `FEATURES` polygons (one in a hundred a bowtie) written by gdal3.js. */
async function shapefile(scratch: Awaited<ReturnType<typeof wasmGdal.createScratch>>) {
  const features = Array.from({ length: FEATURES }, (_, i) => {
    const [x, y] = [(i % 100) * 0.01, Math.floor(i / 100) * 0.01];
    const ring = i % 100 === 99
      ? [[x, y], [x + 0.01, y + 0.01], [x + 0.01, y], [x, y + 0.01], [x, y]]
      : [[x, y], [x + 0.008, y], [x + 0.008, y + 0.008], [x, y + 0.008], [x, y]];
    return {
      type: "Feature",
      properties: { name: `parcel ${i}`, value: i * 1.5 },
      geometry: { type: "Polygon", coordinates: [ring] },
    };
  });
  await Deno.writeTextFile(
    scratch.hostPath("parcels.geojson"),
    JSON.stringify({ type: "FeatureCollection", features }),
  );
  await scratch.gdal.ogr2ogr(
    scratch.gdalPath("parcels.geojson"),
    ["-f", "ESRI Shapefile", "-nln", "parcels", "-a_srs", "EPSG:4326"],
    "parcels",
  );
  return scratch.hostPath("parcels.shp");
}

function rows(gpkg: string): unknown[] {
  const db = new DatabaseSync(gpkg, { readOnly: true });
  try {
    return db.prepare(`SELECT name, value, hex(${SCRATCH_GEOM}) AS g FROM input ORDER BY rowid`)
      .all();
  } finally {
    db.close();
  }
}

Deno.test("wasm parts: converted one per instance and appended, they are exactly the layer", async () => {
  await using scratch = await wasmGdal.createScratch();
  const shp = await shapefile(scratch);
  const parts = await shapefileParts(shp, "parcels", FEATURES, 2, 1_000);
  assert.equal(parts?.length, 2);
  const options = [...SCRATCH_GPKG_OPTIONS, "-nln", "input", "-unsetFid"];
  const whole = await scratch.gdal.ogr2ogr(scratch.gdalPath("parcels.shp"), options, "whole", {
    layers: ["parcels"],
  });
  // Both parts at once: two instances.
  const written = await Promise.all(
    parts!.map((sql, i) =>
      scratch.gdal.ogr2ogr(scratch.gdalPath("parcels.shp"), [...options, "-sql", sql], `p${i}`)
    ),
  );
  appendParts(scratch.toHost(written[0]!), "input", written.slice(1).map(scratch.toHost));
  const merged = rows(scratch.toHost(written[0]!));
  assert.equal(merged.length, FEATURES);
  assert.deepEqual(merged, rows(scratch.toHost(whole)));
  // GDAL reads the appended layer whole: its count and extent are the layer's.
  const info = await scratch.gdal.vectorInfo(written[0]!);
  const reference = await scratch.gdal.vectorInfo(whole);
  assert.equal(info.layers[0]!.featureCount, FEATURES);
  assert.deepEqual(
    info.layers[0]!.geometryFields[0]!.extent,
    reference.layers[0]!.geometryFields[0]!.extent,
  );
});

Deno.test("wasm parts: refused for deleted records, a wrong count, a zip, one instance, few features", async () => {
  await using scratch = await wasmGdal.createScratch();
  const shp = await shapefile(scratch);
  const dbf = scratch.hostPath("parcels.dbf");
  assert.equal(await dbfIsPlain(dbf, FEATURES), true);
  assert.equal(await dbfIsPlain(dbf, FEATURES + 1), false);
  assert.equal(await shapefileParts(shp, "parcels", FEATURES, 1, 1_000), undefined);
  assert.equal(await shapefileParts(shp, "parcels", FEATURES, 2, 1_500), undefined);
  assert.equal(await shapefileParts(`${shp}.zip`, "parcels", FEATURES, 2, 1_000), undefined);
  assert.equal(await shapefileParts(shp, "parcels", FEATURES + 5, 2, 1_000), undefined);
  // Record 1500 flagged deleted: GDAL skips it, so OFFSET would no longer be a feature index.
  const bytes = await Deno.readFile(dbf);
  const view = new DataView(bytes.buffer);
  const [headerLength, recordLength] = [view.getUint16(8, true), view.getUint16(10, true)];
  bytes[headerLength + 1_500 * recordLength] = 0x2a;
  await Deno.writeFile(dbf, bytes);
  assert.equal(await dbfIsPlain(dbf, FEATURES), false);
  assert.equal(await shapefileParts(shp, "parcels", FEATURES, 2, 1_000), undefined);
  // A .dbf cut short is not plain either.
  await Deno.writeFile(dbf, bytes.subarray(0, headerLength + 10 * recordLength));
  assert.equal(await dbfIsPlain(dbf, FEATURES), false);
});
