/**
 * One contract over every GDAL engine reachable here (gdal3.js always; the
 * machine's gdal-bin when GDAL >= 3.6 is installed): the same answers from
 * the same files, GDAL's own messages naming the caller's label, never a
 * scratch path or `[object Object]`.
 */

import assert from "node:assert/strict";
import { wktCode } from "../../../assets/spatial/crs.ts";
import { type GdalEngine, GdalError } from "../../../resources/spatial/gdal.ts";
import { detectNativeGdal, parseOgrinfo } from "../../../resources/spatial/gdal_native.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import { needs } from "../../_helpers/tools.ts";

const SAMPLE = new URL("../../../sample_data/spatial/montana-sample/", import.meta.url).pathname;
const native = await detectNativeGdal();

async function answers(engine: GdalEngine) {
  await using scratch = await engine.createScratch();
  for (const ext of ["shp", "shx", "dbf", "prj"]) {
    await Deno.copyFile(`${SAMPLE}/counties.${ext}`, scratch.hostPath(`counties.${ext}`));
  }
  await Deno.copyFile(`${SAMPLE}/dem.tif`, scratch.hostPath("dem.tif"));
  const vector = await scratch.gdal.vectorInfo(scratch.gdalPath("counties.shp"));
  const layer = vector.layers[0]!;
  const raster = await scratch.gdal.rasterInfo(scratch.gdalPath("dem.tif"));
  const crs = await scratch.gdal.crsInfo("EPSG:4326");
  const gpkg = await scratch.gdal.ogr2ogr(
    scratch.gdalPath("counties.shp"),
    ["-f", "GPKG", "-t_srs", "EPSG:4326", "-makevalid"],
    "out",
    { layers: ["counties"] },
  );
  const out = await scratch.gdal.vectorInfo(gpkg);
  const cog = await scratch.gdal.translate(
    scratch.gdalPath("dem.tif"),
    ["-of", "COG", "-co", "COMPRESS=DEFLATE"],
    "dem_cog",
  );
  const cogInfo = await scratch.gdal.rasterInfo(cog, ["-checksum"]);
  const errors: string[] = [];
  await Deno.writeFile(scratch.hostPath("bad.tif"), new Uint8Array([73, 73, 42, 0, 8, 0, 0, 0, 1]));
  for (
    const attempt of [
      () => scratch.gdal.rasterInfo(scratch.gdalPath("bad.tif"), [], { label: "b1/bad.tif" }),
      () => scratch.gdal.vectorInfo(scratch.gdalPath("dem.tif"), { label: "b1/dem.tif" }),
      () => scratch.gdal.crsInfo("EPSG:999999"),
    ]
  ) {
    try {
      await attempt();
      errors.push("no error");
    } catch (error) {
      assert.ok(error instanceof GdalError, String(error));
      assert.doesNotMatch(error.message, /\[object Object\]|\/output\/|gdal-native-|Pointer/);
      errors.push(error.message);
    }
  }
  return {
    driver: vector.driverShortName,
    layer: [layer.name, layer.featureCount, layer.fields.map((f) => f.name)],
    crs: wktCode(layer.geometryFields[0]!.coordinateSystem!.wkt!),
    raster: [raster.driverShortName, raster.size],
    target: (crs.projjson.id as { code: number }).code,
    converted: [
      out.layers[0]!.featureCount,
      wktCode(out.layers[0]!.geometryFields[0]!.coordinateSystem!.wkt!),
    ],
    checksum: (cogInfo.bands as { checksum: number }[]).map((b) => b.checksum),
    errors,
  };
}

Deno.test({
  name: "GDAL engines: the same answers, and GDAL's own errors naming the user's file",
  sanitizeResources: false,
  fn: async (t) => {
    const results: Awaited<ReturnType<typeof answers>>[] = [];
    const engines: [string, GdalEngine | undefined, boolean][] = [
      ["wasm", wasmGdal, false],
      ["native", native, await needs("gdal")],
    ];
    for (const [name, engine, ignore] of engines) {
      await t.step({
        name,
        ignore,
        fn: async () => {
          assert.ok(
            engine,
            "gdal-bin is installed but older than GDAL 3.6, which the engine needs",
          );
          const r = await answers(engine);
          assert.equal(r.driver, "ESRI Shapefile");
          assert.deepEqual(r.layer, ["counties", 4, ["name", "fips"]]);
          assert.equal(r.crs, "EPSG:32100");
          assert.deepEqual(r.raster, ["GTiff", [64, 64]]);
          assert.equal(r.target, 4326);
          assert.deepEqual(r.converted, [4, "EPSG:4326"]);
          assert.match(r.errors[0]!, /'b1\/bad\.tif'.*TIFF/);
          assert.match(r.errors[1]!, /'b1\/dem\.tif'/);
          assert.match(r.errors[2]!, /EPSG:999999.*crs not found/);
          results.push(r);
        },
      });
    }
    if (results.length === 2) {
      // Pixels are the same whichever engine wrote the COG.
      assert.deepEqual(results[1]!.checksum, results[0]!.checksum);
    }
  },
});

Deno.test("parseOgrinfo reads GDAL 3.6's text layout, multi-geometry fields included", () => {
  const info = parseOgrinfo(`INFO: Open of \`x.gpkg'
      using driver \`GPKG' successful.

Layer name: roads
Geometry: Line String
Feature Count: 12
Extent: (1.000000, 2.000000) - (3.000000, 4.000000)
Layer SRS WKT:
GEOGCRS["WGS 84",
    ID["EPSG",4326]]
Data axis to CRS axis mapping: 2,1
FID Column = fid
Geometry Column = geom
name: String (0.0)
lanes: Integer64 (0.0)
open: Integer(Boolean) (0.0)

Layer name: empty
Geometry: None
Feature Count: 0
`);
  assert.equal(info.driverShortName, "GPKG");
  assert.equal(info.layers.length, 2);
  const [roads, empty] = info.layers;
  assert.equal(roads!.featureCount, 12);
  assert.deepEqual(roads!.geometryFields[0]!.extent, [1, 2, 3, 4]);
  assert.equal(roads!.geometryFields[0]!.type, "LineString");
  assert.equal(wktCode(roads!.geometryFields[0]!.coordinateSystem!.wkt!), "EPSG:4326");
  assert.deepEqual(roads!.fields.map((f) => [f.name, f.type]), [
    ["name", "String"],
    ["lanes", "Integer64"],
    ["open", "Integer(Boolean)"],
  ]);
  assert.deepEqual(empty!.geometryFields, []);
});

Deno.test({
  name: "native engine: gdal-bin gone mid-run is a platform failure, never a bad file",
  ignore: native === undefined,
  fn: async () => {
    const { isContentProblem } = await import("../../../assets/spatial/batch_asset.ts");
    await using scratch = await native!.createScratch();
    await Deno.copyFile(`${SAMPLE}/trailheads.geojson`, scratch.hostPath("t.geojson"));
    const path = Deno.env.get("PATH") ?? "";
    Deno.env.set("PATH", "/nonexistent");
    try {
      const error = await scratch.gdal.vectorInfo(scratch.gdalPath("t.geojson")).then(
        () => undefined,
        (e) => e,
      );
      assert.ok(error instanceof GdalError);
      assert.equal(error.code, "spatial.native_gdal_missing");
      // The batch asset leaves such a batch pending instead of quarantining it.
      assert.equal(isContentProblem(error), false);
    } finally {
      Deno.env.set("PATH", path);
    }
  },
});
