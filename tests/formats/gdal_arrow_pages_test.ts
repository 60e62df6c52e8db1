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

/** The CSV open options of {@linkcode pointsGpkg}'s CSV, read as a layer of points. */
const CSV_POINTS = ["X_POSSIBLE_NAMES=x", "Y_POSSIBLE_NAMES=y", "KEEP_GEOM_COLUMNS=NO"];

/**
 * Past two of GDAL's 4,096-feature batches, the last of rows not a multiple
 * of 8 (booleans are bits); nulls, 64-bit integers, negative int32, texts
 * short, long and non-ASCII, int16 to its limits, booleans (with `flag`).
 */
function manyRows(flag: boolean): { types: string; lines: string[] } {
  const rows = Array.from({ length: 9_003 }, (_, i) =>
    [
      i % 7 === 0 ? "" : String(i - 4_500),
      i % 5 === 0 ? "" : String(9_007_199_254_740_993n + BigInt(i)),
      i % 11 === 0 ? "" : String(i * 1.25 + 0.1),
      i % 13 === 0 ? "" : `"Zürich 道路 ${"x".repeat(i % 50)} ${i}"`,
      i % 17 === 0 ? "" : String(((i * 7_919) % 65_536) - 32_768),
      ...(flag ? [i % 3 === 0 ? "" : String((i >> 1) % 2)] : []),
      String(-116 + (i % 1200) / 100),
      String(44.4 + (i % 460) / 100),
    ].join(","));
  return {
    types: `Integer,Integer64,Real,String,Integer(Int16),${
      flag ? "Integer(Boolean)," : ""
    }Real,Real`,
    lines: [`n,big,value,label,small,${flag ? "flag," : ""}x,y`, ...rows],
  };
}

Deno.test({
  name: "arrowDumpToGeoParquet writes the FlatGeobuf route's file byte for byte",
  ignore,
  sanitizeResources: false,
  async fn(t) {
    const dir = await Deno.makeTempDir({ prefix: "arrow-pages-test-" });
    try {
      // A GeoPackage (GDAL's own stream of the driver) without booleans (see
      // the next test), and its CSV (the generic stream) with them.
      for (const source of ["gpkg", "csv"] as const) {
        await t.step(source, async () => {
          const flag = source === "csv";
          const { types, lines } = manyRows(flag);
          const gpkg = await pointsGpkg(dir, `many_${source}`, types, lines);
          await ogr2ogr([
            "-f",
            "FlatGeobuf",
            "-lco",
            "SPATIAL_INDEX=NO",
            "-nln",
            "input",
            "-unsetFid",
            `${dir}/many_${source}.fgb`,
            gpkg,
          ]);
          const viaFgb = await flatgeobufToGeoParquet(
            `${dir}/many_${source}.fgb`,
            `${dir}/f_${source}.parquet`,
            { crs: CRS },
          );
          assert.deepEqual(
            viaFgb.columns.map((c) => c.type),
            ["int64", "int64", "float64", "string", "int64", ...(flag ? ["boolean"] : [])],
          );
          await using scratch = await native!.createScratch();
          const dumped = source === "gpkg"
            ? await scratch.gdal.arrowDump!(gpkg, "pts", "many", { label: "in/many.gpkg" })
            : await scratch.gdal.arrowDump!(`${dir}/many_csv.csv`, "many_csv", "many", {
              label: "in/many.csv",
              openOptions: CSV_POINTS,
            });
          assert.ok("rows" in dumped, JSON.stringify(dumped));
          assert.equal(dumped.rows, 9_003);
          const viaArrow = await arrowDumpToGeoParquet(
            scratch.toHost(dumped.path),
            `${dir}/a_${source}.parquet`,
            { crs: CRS, pointsOnly: true, label: `in/many.${source}` },
          );
          assert.deepEqual(viaArrow, viaFgb);
          assert.deepEqual(
            await Deno.readFile(`${dir}/a_${source}.parquet`),
            await Deno.readFile(`${dir}/f_${source}.parquet`),
          );
        });
      }
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

      // A GeoPackage's booleans: GDAL 3.6's stream of the driver gives rows
      // 0-7 of true, false, true, false... as 1, 0, 0, 0... (bit i / 8 of
      // byte i / 8), so they are ogr2ogr's to convert.
      const flags = await pointsGpkg(dir, "flags", "Integer(Boolean),Real,Real", [
        "flag,x,y",
        ...Array.from({ length: 16 }, (_, i) => `${(i + 1) % 2},1,2`),
      ]);
      const flagged = await scratch.gdal.arrowDump!(flags, "pts", "flags");
      assert.ok("unsupported" in flagged, JSON.stringify(flagged));
      assert.match(flagged.unsupported, /'flag' is a boolean/);

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
      // A 2D point where points Z are wanted (a layer declared 3D): the first row.
      await assert.rejects(
        arrowDumpToGeoParquet(scratch.toHost(mixed.path), `${dir}/m.parquet`, {
          crs: CRS,
          pointsOnly: true,
          withZ: true,
        }),
        (error: unknown) => error instanceof NotPlainPoints && error.row === 1,
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
