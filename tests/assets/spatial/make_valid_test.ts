/**
 * A layer already in the target CRS is converted without `-makevalid`; only
 * the geometries MakeValid could change are made valid, alone, and written
 * back. That must give exactly what `-makevalid` on the whole layer gives.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { makeValidInPlace } from "../../../assets/spatial/_make_valid.ts";
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
async function gpkgOf(
  dir: string,
  name: string,
  geometries: (Record<string, unknown> | null)[],
  index = true,
) {
  await Deno.writeTextFile(`${dir}/${name}.geojson`, featureCollection(geometries));
  const out = await new Deno.Command("ogr2ogr", {
    args: [
      "-f",
      "GPKG",
      "-lco",
      `SPATIAL_INDEX=${index ? "YES" : "NO"}`,
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

/** Each row's geometry blob of a GeoPackage table, by rowid. */
function blobs(file: string, table: string): [number, string | null][] {
  const db = new DatabaseSync(file, { readOnly: true });
  try {
    return db.prepare(`SELECT rowid AS id, hex(geom) AS g FROM "${table}" ORDER BY rowid`).all()
      .map((r) => [Number(r.id), r.g === null ? null : String(r.g)]);
  } finally {
    db.close();
  }
}

Deno.test(
  "makeValidInPlace: only what -makevalid could change is remade, same result as on the whole layer",
  {
    ignore: await needs("gdal"),
  },
  async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "make-valid-test-" });
    try {
      await using scratch = await wasmGdal.createScratch();
      // GDAL reads a GeoJSON `LineString []` as EMPTY (a `Polygon []` as NULL).
      const EMPTY = { type: "LineString", coordinates: [] };
      const HOLE_OUTSIDE = {
        type: "Polygon",
        coordinates: [
          [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]],
          [[2, 2], [3, 2], [3, 3], [2, 3], [2, 2]],
        ],
      };
      const OVERLAP = {
        type: "MultiPolygon",
        coordinates: [SQUARE.coordinates, [[[0.5, 0], [1.5, 0], [1.5, 1], [0.5, 1], [0.5, 0]]]],
      };
      // As the pipeline converts (no spatial index); with one it is left to a whole-layer -makevalid.
      const cases: [string, (Record<string, unknown> | null)[], number | undefined, boolean?][] = [
        ["indexed", [SQUARE, BOWTIE], undefined, true],
        ["valid", [SQUARE, SQUARE, null], 0],
        ["null_only", [null, SQUARE], 0],
        ["bowtie", [SQUARE, BOWTIE, SQUARE], 1],
        ["collection", [SQUARE, COLLECTION], 1],
        [
          "many",
          [BOWTIE, SQUARE, null, EMPTY, HOLE_OUTSIDE, OVERLAP, COLLECTION, SQUARE, BOWTIE],
          6,
        ],
      ];
      for (const [name, geometries, expected, index = false] of cases) {
        await t.step(`${name}: ${expected ?? "left to -makevalid"}`, async () => {
          const file = await gpkgOf(dir, name, geometries, index);
          const before = blobs(file, name);
          // The reference: gdal3.js's own -makevalid over the whole layer.
          const whole = await wasmGdal.createScratch();
          try {
            await Deno.copyFile(file, whole.hostPath("src.gpkg"));
            const reference = await whole.gdal.ogr2ogr(whole.gdalPath("src.gpkg"), [
              "-f",
              "GPKG",
              "-lco",
              "SPATIAL_INDEX=NO",
              "-makevalid",
            ], `${name}_whole`);
            await Deno.copyFile(file, scratch.hostPath(`${name}.gpkg`));
            const made = await makeValidInPlace(
              scratch,
              scratch.gdalPath(`${name}.gpkg`),
              name,
              "geom",
              `${name}_mv`,
            );
            assert.equal(made, expected, `${name}: ${made}`);
            assert.deepEqual(
              blobs(scratch.hostPath(`${name}.gpkg`), name),
              made === undefined ? before : blobs(whole.toHost(reference), name),
            );
            // Its work files do not stay behind.
            const left = [...Deno.readDirSync(scratch.hostDir)].map((e) => e.name)
              .filter((n) => n.startsWith(`${name}_mv`));
            assert.deepEqual(left, []);
          } finally {
            await whole[Symbol.asyncDispose]();
          }
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

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
