/**
 * A layer already in the target CRS is converted without `-makevalid` and
 * scanned; only a scan that finds a geometry MakeValid could change brings
 * `-makevalid` back. Both ways must give what `-makevalid` gives.
 */

import assert from "node:assert/strict";
import { mayNeedMakeValid } from "../../../assets/spatial/_make_valid.ts";
import { processVectorBatch } from "../../../assets/spatial/vector.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import { batchRun, download, duckdb, LAKE, LANDING } from "./_fixtures.ts";
import { needs } from "../../_helpers/tools.ts";

const SQUARE = { type: "Polygon", coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]] };
const BOWTIE = { type: "Polygon", coordinates: [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]] };
const COLLECTION = {
  type: "GeometryCollection",
  geometries: [SQUARE, { type: "LineString", coordinates: [[2, 2], [3, 3]] }],
};

function featureCollection(geometries: (Record<string, unknown> | null)[]) {
  return JSON.stringify({
    type: "FeatureCollection",
    features: geometries.map((geometry, i) => ({
      type: "Feature",
      properties: { name: `f${i}` },
      geometry,
    })),
  });
}

/** A GeoPackage in EPSG:4326 (no reprojection needed) made by native ogr2ogr. */
async function gpkgOf(dir: string, name: string, geometries: (Record<string, unknown> | null)[]) {
  await Deno.writeTextFile(`${dir}/${name}.geojson`, featureCollection(geometries));
  const out = await new Deno.Command("ogr2ogr", {
    args: [
      "-f",
      "GPKG",
      "-a_srs",
      "EPSG:4326",
      "-nln",
      name,
      `${dir}/${name}.gpkg`,
      `${dir}/${name}.geojson`,
    ],
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return `${dir}/${name}.gpkg`;
}

Deno.test("mayNeedMakeValid: only geometries -makevalid could change trigger it", {
  ignore: await needs("gdal"),
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "make-valid-test-" });
  try {
    {
      await using scratch = await wasmGdal.createScratch();
      const cases: [string, (Record<string, unknown> | null)[], boolean][] = [
        ["valid", [SQUARE, SQUARE], false],
        ["null_only", [null, SQUARE], false],
        ["bowtie", [SQUARE, BOWTIE], true],
        ["collection", [SQUARE, COLLECTION], true],
      ];
      for (const [name, geometries, expected] of cases) {
        await t.step(`${name} -> ${expected}`, async () => {
          const file = await gpkgOf(dir, name, geometries);
          await Deno.copyFile(file, scratch.hostPath(`${name}.gpkg`));
          const found = await mayNeedMakeValid(
            scratch,
            scratch.gdalPath(`${name}.gpkg`),
            name,
            "geom",
            `${name}_scan`,
          );
          assert.equal(found, expected);
          // The scan's CSV does not stay behind.
          await assert.rejects(Deno.stat(scratch.hostPath(`${name}_scan.csv`)));
        });
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vector batch in the target CRS: a bowtie is still made valid, a square kept", {
  ignore: await needs("gdal"),
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "make-valid-test-" });
  try {
    const file = await gpkgOf(dir, "shapes", [SQUARE, BOWTIE]);
    const store = new MemoryObjectStore();
    await store.ensureBucket(LANDING);
    await store.put(LANDING, "mv1/shapes.gpkg", await Deno.readFile(file));
    const manifest = {
      batch_id: "mv1",
      uploader: "test@example.org",
      intent: "publish",
      files: [{ path: "mv1/shapes.gpkg", type: "vector", format: "geopackage", crs: "EPSG:4326" }],
      metadata: { project: "mv", description: "make-valid test" },
    };
    await store.put(
      LANDING,
      "manifests/mv1.json",
      new TextEncoder().encode(JSON.stringify(manifest)),
    );
    const [output] = await processVectorBatch(
      batchRun({ store, ledger: new MemoryLedger() }, "mv1"),
    );
    assert.equal(output?.rows, 2);
    await using parquet = await download(store, LAKE, output.key);
    const rows = await duckdb(
      `SELECT name, ST_AsText(geometry) AS wkt
       FROM read_parquet('${parquet.file}') ORDER BY name`,
    );
    assert.deepEqual(rows.map((r) => r.name), ["f0", "f1"]);
    // The square comes out as it went in; the bowtie as two triangles.
    assert.match(String(rows[0]?.wkt), /^POLYGON \(\(0 0, 1 0, 1 1, 0 1, 0 0\)\)$/);
    assert.match(String(rows[1]?.wkt), /^MULTIPOLYGON/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
