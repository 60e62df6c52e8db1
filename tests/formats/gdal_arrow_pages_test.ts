/**
 * GDAL's Arrow stream of a points layer (the native engine's `arrowDump`,
 * read by formats/gdal_arrow_pages.ts) must give byte for byte the
 * GeoParquet of the FlatGeobuf route, refuse what it does not carry before
 * writing, and name the user's file when its features file is cut.
 */

import assert from "node:assert/strict";
import { arrowDumpToGeoParquet, NotPlainPoints } from "../../formats/gdal_arrow_pages.ts";
import { flatgeobufToGeoParquet } from "../../formats/flatgeobuf_pages.ts";
import { GeoParquetError } from "../../formats/geoparquet.ts";
import { detectNativeGdal, stopNativeHosts } from "../../resources/spatial/gdal_native.ts";
import { needs } from "../_helpers/tools.ts";

const CRS = { type: "GeographicCRS", name: "WGS 84" };
const native = await detectNativeGdal();
const ignore = await needs("gdal") || native === undefined;

async function ogr2ogr(args: string[]): Promise<void> {
  const out = await new Deno.Command("ogr2ogr", { args }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** A CSV of points with the given field types (`.csvt`) and rows, as a GeoPackage layer `pts`. */
async function pointsGpkg(dir: string, name: string, types: string, lines: string[]) {
  await Deno.writeTextFile(`${dir}/${name}.csv`, lines.join("\n"));
  await Deno.writeTextFile(`${dir}/${name}.csvt`, types);
  await ogr2ogr([
    "-f",
    "GPKG",
    `${dir}/${name}.gpkg`,
    `${dir}/${name}.csv`,
    "-nln",
    "pts",
    "-oo",
    "X_POSSIBLE_NAMES=x",
    "-oo",
    "Y_POSSIBLE_NAMES=y",
    "-oo",
    "KEEP_GEOM_COLUMNS=NO",
    "-a_srs",
    "EPSG:4326",
    "-nlt",
    "POINT",
  ]);
  return `${dir}/${name}.gpkg`;
}

Deno.test({
  name: "arrowDumpToGeoParquet writes the FlatGeobuf route's file byte for byte",
  ignore,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "arrow-pages-test-" });
    try {
      // Past two of GDAL's 4,096-feature batches; nulls, 64-bit integers,
      // negative int32, texts short, long and non-ASCII.
      const rows = Array.from({ length: 9_000 }, (_, i) =>
        [
          i % 7 === 0 ? "" : String(i - 4_500),
          i % 5 === 0 ? "" : String(9_007_199_254_740_993n + BigInt(i)),
          i % 11 === 0 ? "" : String(i * 1.25 + 0.1),
          i % 13 === 0 ? "" : `"Zürich 道路 ${"x".repeat(i % 50)} ${i}"`,
          String(-116 + (i % 1200) / 100),
          String(44.4 + (i % 460) / 100),
        ].join(","));
      const gpkg = await pointsGpkg(
        dir,
        "many",
        "Integer,Integer64,Real,String,Real,Real",
        ["n,big,value,label,x,y", ...rows],
      );
      await ogr2ogr([
        "-f",
        "FlatGeobuf",
        "-lco",
        "SPATIAL_INDEX=NO",
        "-nln",
        "input",
        "-unsetFid",
        `${dir}/many.fgb`,
        gpkg,
      ]);
      const viaFgb = await flatgeobufToGeoParquet(`${dir}/many.fgb`, `${dir}/f.parquet`, {
        crs: CRS,
      });
      await using scratch = await native!.createScratch();
      const dumped = await scratch.gdal.arrowDump!(gpkg, "pts", "many", { label: "in/many.gpkg" });
      assert.ok("rows" in dumped, JSON.stringify(dumped));
      assert.equal(dumped.rows, 9_000);
      const viaArrow = await arrowDumpToGeoParquet(
        scratch.toHost(dumped.path),
        `${dir}/a.parquet`,
        { crs: CRS, pointsOnly: true, label: "in/many.gpkg" },
      );
      assert.deepEqual(viaArrow, viaFgb);
      assert.deepEqual(
        await Deno.readFile(`${dir}/a.parquet`),
        await Deno.readFile(`${dir}/f.parquet`),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "arrowDump refuses a column it does not carry; pointsOnly refuses a line; a cut file " +
    "names the user's file",
  ignore,
  sanitizeResources: false,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "arrow-pages-refuse-" });
    try {
      await using scratch = await native!.createScratch();
      const dated = await pointsGpkg(dir, "dated", "Date,Real,Real", [
        "day,x,y",
        "2024-01-02,1,2",
      ]);
      const refused = await scratch.gdal.arrowDump!(dated, "pts", "dated");
      assert.ok("unsupported" in refused);
      assert.match(refused.unsupported, /'day'/);
      assert.equal(
        await Deno.stat(scratch.hostPath("dated.ograrrow")).catch(() => undefined),
        undefined,
      );

      // Names equal but for case, which ogr2ogr renames ('NAME' to 'NAME2').
      await Deno.writeTextFile(
        `${dir}/cased.geojson`,
        JSON.stringify({
          type: "FeatureCollection",
          features: [{
            type: "Feature",
            properties: { name: "a", NAME: "b" },
            geometry: { type: "Point", coordinates: [1, 2] },
          }],
        }),
      );
      const cased = await scratch.gdal.arrowDump!(`${dir}/cased.geojson`, "cased", "cased");
      assert.ok("unsupported" in cased);
      assert.match(cased.unsupported, /'name' and 'NAME' differ only in case/);

      // A layer of any geometry type: a point, then a line.
      await Deno.writeTextFile(
        `${dir}/mixed.csv`,
        'id,wkt\n1,"POINT (1 2)"\n2,"LINESTRING (0 0,1 1)"\n',
      );
      await ogr2ogr([
        "-f",
        "GPKG",
        `${dir}/mixed.gpkg`,
        `${dir}/mixed.csv`,
        "-nln",
        "mixed",
        "-oo",
        "GEOM_POSSIBLE_NAMES=wkt",
        "-oo",
        "KEEP_GEOM_COLUMNS=NO",
        "-a_srs",
        "EPSG:4326",
      ]);
      const mixed = await scratch.gdal.arrowDump!(`${dir}/mixed.gpkg`, "mixed", "mixed");
      assert.ok("rows" in mixed);
      await assert.rejects(
        arrowDumpToGeoParquet(scratch.toHost(mixed.path), `${dir}/m.parquet`, {
          crs: CRS,
          pointsOnly: true,
        }),
        (error: unknown) => error instanceof NotPlainPoints && error.row === 2,
      );
      // Without pointsOnly the line is written as it is.
      const written = await arrowDumpToGeoParquet(scratch.toHost(mixed.path), `${dir}/m.parquet`, {
        crs: CRS,
      });
      assert.deepEqual(written.geometryTypes, ["LineString", "Point"]);

      const bytes = await Deno.readFile(scratch.toHost(mixed.path));
      await Deno.writeFile(`${dir}/cut.ograrrow`, bytes.subarray(0, bytes.length - 10));
      await assert.rejects(
        arrowDumpToGeoParquet(`${dir}/cut.ograrrow`, `${dir}/c.parquet`, {
          crs: CRS,
          label: "landing/mixed.gpkg",
        }),
        (error: unknown) =>
          error instanceof GeoParquetError && error.code === "spatial.arrow_dump_corrupt" &&
          /'landing\/mixed\.gpkg'/.test(error.message),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

globalThis.addEventListener("unload", () => stopNativeHosts());
