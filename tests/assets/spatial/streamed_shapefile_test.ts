/**
 * On the native engine a Shapefile is converted into a FlatGeobuf that the
 * GeoParquet writer reads while GDAL writes it (formats/flatgeobuf_pages.ts).
 * It must publish what gdal3.js (the GeoPackage route) publishes, and a
 * layer with null geometries, which GDAL's FlatGeobuf writer leaves out,
 * must be converted again through the GeoPackage with every row.
 */

import assert from "node:assert/strict";
import { processVectorBatch } from "../../../assets/spatial/vector.ts";
import type { GdalEngine } from "../../../resources/spatial/gdal.ts";
import { nativeGdal } from "../../../resources/spatial/gdal_native.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import { needs } from "../../_helpers/tools.ts";
import { fromWktCsv } from "../../_helpers/wkt_csv.ts";
import { batchRun } from "./_fixtures.ts";
import { NATIVE, ourFeatures, sh, shapefileLanding, watchingOgr2ogr } from "./_batches.ts";

/** `engine`, recording the output format of each ogr2ogr call into `formats`. */
function recording(engine: GdalEngine, formats: string[]): GdalEngine {
  return watchingOgr2ogr(engine, (options) => {
    formats.push(options[options.indexOf("-f") + 1] ?? "");
  });
}

/** A Shapefile of polygons (one a bowtie, made valid), one without geometry when `withNull`. */
async function parcels(dir: string, name: string, withNull: boolean): Promise<string> {
  const rows = [
    `1,9007199254740993,1.5,"Zürich","POLYGON ((0 0,1 0,1 1,0 1,0 0))"`,
    `2,2,2.25,"bowtie","POLYGON ((2 2,3 3,3 2,2 3,2 2))"`,
    ...(withNull ? [`3,3,3.0,"no shape",""`] : []),
    `4,-4,,"hole","POLYGON ((10 10,20 10,20 20,10 20,10 10),(12 12,12 14,14 14,14 12,12 12))"`,
  ];
  await Deno.writeTextFile(`${dir}/${name}.csv`, ["n,big,value,label,wkt", ...rows].join("\n"));
  await Deno.writeTextFile(`${dir}/${name}.csvt`, "Integer,Integer64,Real,String,String");
  await sh(
    "ogr2ogr",
    ...fromWktCsv(
      `${dir}/${name}.csv`,
      "ESRI Shapefile",
      `${dir}/${name}.shp`,
      "-nlt",
      "POLYGON",
      "-lco",
      "ENCODING=UTF-8",
    ),
  );
  return `${dir}/${name}.shp`;
}

async function run(dir: string, name: string, gdal: GdalEngine) {
  const l = await shapefileLanding(dir, name, ["shx", "dbf", "prj", "cpg"]);
  const [out] = await processVectorBatch(batchRun(l, name, { gdal }));
  assert.ok(out, "one GeoParquet");
  return { rows: out.rows, features: await ourFeatures(l, out.key) };
}

Deno.test({
  name: "native engine: a Shapefile streamed through FlatGeobuf publishes what gdal3.js does",
  ignore: await needs("gdal") || NATIVE === undefined,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "streamed-shp-test-" });
  try {
    for (const withNull of [false, true]) {
      const name = withNull ? "parcels_null" : "parcels";
      await t.step(name, async () => {
        await parcels(dir, name, withNull);
        const formats: string[] = [];
        const native = await run(dir, name, recording(nativeGdal(NATIVE!), formats));
        // Without null geometries the FlatGeobuf is kept; with one (a Null shape in the
        // .shx), the GeoPackage at once, converted once.
        assert.deepEqual(formats, withNull ? ["GPKG"] : ["FlatGeobuf"]);
        const wasm = await run(dir, name, wasmGdal);
        assert.equal(native.rows, withNull ? 4 : 3);
        assert.deepEqual(native.features, wasm.features);
        assert.equal(native.features[0]?.properties.big, 9007199254740993n);
        if (withNull) assert.equal(native.features[2]?.geometry, null);
      });
    }
    await t.step(
      "a date field (text of another form in a FlatGeobuf): GeoPackage only",
      async () => {
        await Deno.writeTextFile(
          `${dir}/dated.csv`,
          'n,day,wkt\n1,2024-02-29,"POLYGON ((0 0,1 0,1 1,0 1,0 0))"\n',
        );
        await Deno.writeTextFile(`${dir}/dated.csvt`, "Integer,Date,String");
        await sh(
          "ogr2ogr",
          ...fromWktCsv(
            `${dir}/dated.csv`,
            "ESRI Shapefile",
            `${dir}/dated.shp`,
            "-lco",
            "ENCODING=UTF-8",
          ),
        );
        const formats: string[] = [];
        const native = await run(dir, "dated", recording(nativeGdal(NATIVE!), formats));
        assert.deepEqual(formats, ["GPKG"]);
        assert.deepEqual(native.features, (await run(dir, "dated", wasmGdal)).features);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
