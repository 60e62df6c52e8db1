/**
 * The FlatGeobuf route of the GeoParquet writer must give byte for byte the
 * GeoParquet of the GeoPackage route, for the same layer converted by GDAL
 * both ways, also while the FlatGeobuf is still being written.
 */

import assert from "node:assert/strict";
import { flatgeobufToGeoParquet } from "../../formats/flatgeobuf_pages.ts";
import { GeoParquetError, sqliteToGeoParquet } from "../../formats/geoparquet.ts";
import { needs } from "../_helpers/tools.ts";
import { fromWktCsv } from "../_helpers/wkt_csv.ts";

const CRS = { type: "GeographicCRS", name: "WGS 84" };

async function ogr2ogr(args: string[]): Promise<void> {
  const out = await new Deno.Command("ogr2ogr", { args }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
}

/** A Shapefile of `wkts` with integer, 64-bit integer, real and text fields. */
async function shapefile(dir: string, name: string, type: string, wkts: string[]) {
  const rows = wkts.map((wkt, i) =>
    `${i},${i === 2 ? "" : 9_007_199_254_740_993n + BigInt(i)},${i * 1.25 + 0.1},"${
      i === 1 ? "" : `Zürich 道路 ${i}`
    }","${wkt}"`
  );
  await Deno.writeTextFile(`${dir}/${name}.csv`, ["n,big,value,label,wkt", ...rows].join("\n"));
  await Deno.writeTextFile(
    `${dir}/${name}.csvt`,
    "Integer,Integer64,Real,String,String",
  );
  await ogr2ogr(
    fromWktCsv(
      `${dir}/${name}.csv`,
      "ESRI Shapefile",
      `${dir}/${name}.shp`,
      "-nlt",
      type,
      "-lco",
      "ENCODING=UTF-8",
    ),
  );
  return `${dir}/${name}.shp`;
}

/** The layer converted both ways, as the pipeline converts it. */
async function bothWays(dir: string, shp: string, name: string, z: boolean, makeValid: boolean) {
  const common = ["-nln", "input", "-unsetFid", "-nlt", "CONVERT_TO_LINEAR"];
  const valid = makeValid ? ["-makevalid"] : [];
  await ogr2ogr([
    "-f",
    "GPKG",
    "-lco",
    "GEOMETRY_NAME=geom",
    "-lco",
    "SPATIAL_INDEX=NO",
    ...common,
    ...valid,
    `${dir}/${name}.gpkg`,
    shp,
  ]);
  await ogr2ogr([
    "-f",
    "FlatGeobuf",
    "-lco",
    "SPATIAL_INDEX=NO",
    ...common,
    "-nlt",
    z ? "GEOMETRY25D" : "GEOMETRY",
    ...valid,
    `${dir}/${name}.fgb`,
    shp,
  ]);
  const viaGpkg = await sqliteToGeoParquet(`${dir}/${name}.gpkg`, "input", `${dir}/g.parquet`, {
    crs: CRS,
  });
  const viaFgb = await flatgeobufToGeoParquet(`${dir}/${name}.fgb`, `${dir}/f.parquet`, {
    crs: CRS,
  });
  return { viaGpkg, viaFgb };
}

const CASES: [string, string, boolean, boolean, string[]][] = [
  ["polygons", "POLYGON", false, true, [
    "POLYGON ((0 0,1 0,1 1,0 1,0 0))",
    // A bowtie: made valid into a MultiPolygon in a Polygon layer.
    "POLYGON ((0 0,1 1,1 0,0 1,0 0))",
    "POLYGON ((10 10,20 10,20 20,10 20,10 10),(12 12,12 14,14 14,14 12,12 12))",
    "MULTIPOLYGON (((30 30,31 30,31 31,30 30)),((40 40,41 40,41 41,40 40)))",
  ]],
  ["lines_z", "MULTILINESTRING25D", true, true, [
    "LINESTRING Z (0 0 1,1 1 2,2 0 3)",
    "MULTILINESTRING Z ((0 0 1,1 1 2),(5 5 5,6 6 6,7 5 7))",
    "LINESTRING Z (-179.5 -89 0,179.5 89 -10.5)",
  ]],
  ["points", "POINT", false, false, ["POINT (1 2)", "POINT (-116.25 44.5)", "POINT (0 0)"]],
  ["multipoints_z", "MULTIPOINT25D", true, false, [
    "MULTIPOINT Z ((1 2 3),(4 5 6))",
    "MULTIPOINT Z ((7 8 9))",
  ]],
];

Deno.test("flatgeobufToGeoParquet writes the GeoPackage route's file byte for byte", {
  ignore: await needs("gdal"),
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "fgb-pages-test-" });
  try {
    for (const [name, type, z, makeValid, wkts] of CASES) {
      await t.step(name, async () => {
        const shp = await shapefile(dir, name, type, wkts);
        const { viaGpkg, viaFgb } = await bothWays(dir, shp, name, z, makeValid);
        assert.equal(viaFgb.rows, wkts.length);
        assert.deepEqual(viaFgb, viaGpkg);
        assert.deepEqual(
          await Deno.readFile(`${dir}/f.parquet`),
          await Deno.readFile(`${dir}/g.parquet`),
        );
      });
    }
    await t.step("a 64-bit integer keeps every digit, text its bytes", async () => {
      const { viaFgb } = await bothWays(dir, `${dir}/points.shp`, "points", false, false);
      assert.deepEqual(viaFgb.columns.map((c) => c.type), [
        "int64",
        "int64",
        "float64",
        "string",
      ]);
      const { asyncBufferFromFile, parquetReadObjects } = await import("hyparquet");
      const { compressors } = await import("hyparquet-compressors");
      const rows = await parquetReadObjects({
        file: await asyncBufferFromFile(`${dir}/f.parquet`),
        compressors,
        columns: ["big", "label"],
      });
      assert.deepEqual(rows.map((r) => [r.big, r.label]), [
        [9_007_199_254_740_993n, "Zürich 道路 0"],
        // A blank dBASE text is read as null (by both routes: see the steps above).
        [9_007_199_254_740_994n, null],
        [null, "Zürich 道路 2"],
      ]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "flatgeobufToGeoParquet: features across read chunks and pages, and one larger than a chunk",
  {
    ignore: await needs("gdal"),
  },
  async (t) => {
    // The reader reads 4 MiB at a time and writes pages of 4,096 features:
    // these layers put features across both boundaries, texts short and long
    // (copied byte by byte up to 32 bytes, at once beyond) and a line larger
    // than a whole chunk (the buffer grows for it).
    const dir = await Deno.makeTempDir({ prefix: "fgb-pages-chunks-" });
    try {
      await t.step("60,000 points, texts of 0 to 79 bytes", async () => {
        const wkts = Array.from(
          { length: 60_000 },
          (_, i) => `POINT (${i % 360 - 180} ${i % 170 - 85})`,
        );
        const shp = await shapefile(dir, "many", "POINT", wkts);
        // Longer texts than the helper's, in the same file: rewritten through a CSV of its own.
        const rows = wkts.map((wkt, i) => `${i},${i},${i * 0.5},"${"é".repeat(i % 40)}","${wkt}"`);
        await Deno.writeTextFile(`${dir}/many.csv`, ["n,big,value,label,wkt", ...rows].join("\n"));
        await Deno.remove(shp);
        await ogr2ogr(
          fromWktCsv(
            `${dir}/many.csv`,
            "ESRI Shapefile",
            shp,
            "-nlt",
            "POINT",
            "-overwrite",
            "-lco",
            "ENCODING=UTF-8",
          ),
        );
        const { viaGpkg, viaFgb } = await bothWays(dir, shp, "many", false, false);
        assert.equal((await Deno.stat(`${dir}/many.fgb`)).size > 8 * 2 ** 20, true);
        assert.equal(viaFgb.rows, 60_000);
        assert.deepEqual(viaFgb, viaGpkg);
        assert.deepEqual(
          await Deno.readFile(`${dir}/f.parquet`),
          await Deno.readFile(`${dir}/g.parquet`),
        );
      });
      await t.step("a line of 300,000 vertices between short ones", async () => {
        const long = Array.from(
          { length: 300_000 },
          (_, i) => `${(i % 3600) / 10 - 180} ${(i % 1700) / 10 - 85}`,
        );
        const wkts = [
          "LINESTRING (0 0,1 1)",
          `LINESTRING (${long.join(",")})`,
          "LINESTRING (2 2,3 3)",
        ];
        const shp = await shapefile(dir, "long", "LINESTRING", wkts);
        const { viaGpkg, viaFgb } = await bothWays(dir, shp, "long", false, false);
        assert.equal(viaFgb.rows, 3);
        assert.deepEqual(viaFgb, viaGpkg);
        assert.deepEqual(
          await Deno.readFile(`${dir}/f.parquet`),
          await Deno.readFile(`${dir}/g.parquet`),
        );
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("flatgeobufToGeoParquet follows a FlatGeobuf while it is written", {
  ignore: await needs("gdal"),
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "fgb-follow-test-" });
  try {
    const many = Array.from(
      { length: 5_000 },
      (_, i) => `POLYGON ((${i % 90} 0,${i % 90} 1,${(i % 90) + 1} 1,${i % 90} 0))`,
    );
    const shp = await shapefile(dir, "many", "POLYGON", many);
    await bothWays(dir, shp, "many", false, false);
    const whole = await Deno.readFile(`${dir}/many.fgb`);
    const growing = `${dir}/growing.fgb`;
    // Written in pieces that cut the header and features anywhere, with pauses between.
    const writing = (async () => {
      await new Promise((resolve) => setTimeout(resolve, 30));
      using file = await Deno.open(growing, { write: true, create: true });
      for (let at = 0; at < whole.length; at += 7_777) {
        await file.write(whole.subarray(at, Math.min(whole.length, at + 7_777)));
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
    })();
    const followed = await flatgeobufToGeoParquet(growing, `${dir}/followed.parquet`, {
      crs: CRS,
      follow: writing,
      pollMs: 2,
      batchSize: 1_000,
    });
    assert.equal(followed.rows, 5_000);
    const direct = await flatgeobufToGeoParquet(`${dir}/many.fgb`, `${dir}/direct.parquet`, {
      crs: CRS,
      batchSize: 1_000,
    });
    assert.deepEqual(followed, direct);
    assert.deepEqual(
      await Deno.readFile(`${dir}/followed.parquet`),
      await Deno.readFile(`${dir}/direct.parquet`),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "flatgeobufToGeoParquet reads a file that appeared as its writer ended, while an open was missing it",
  {
    ignore: await needs("gdal"),
  },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "fgb-follow-race-test-" });
    const open = Deno.open;
    try {
      const shp = await shapefile(dir, "few", "POINT", ["POINT (1 2)", "POINT (3 4)"]);
      await bothWays(dir, shp, "few", false, false);
      const whole = await Deno.readFile(`${dir}/few.fgb`);
      const late = `${dir}/late.fgb`;
      let finish = () => {};
      const writing = new Promise<void>((resolve) => (finish = resolve));
      let missed = false;
      // The race a small layer met in CI under load: the first open misses the
      // file, then GDAL writes it and exits before that open's failure is seen.
      Deno.open = (async (path: string | URL, options?: Deno.OpenOptions) => {
        if (!missed && String(path) === late) {
          missed = true;
          const error = await open(path, options).then(
            (f) => (f.close(), undefined),
            (e: unknown) => e,
          );
          await Deno.writeFile(late, whole);
          finish();
          await new Promise((resolve) => setTimeout(resolve, 10));
          throw error;
        }
        return await open(path, options);
      }) as typeof Deno.open;
      const result = await flatgeobufToGeoParquet(late, `${dir}/late.parquet`, {
        crs: CRS,
        follow: writing,
        pollMs: 2,
      });
      assert.ok(missed);
      assert.equal(result.rows, 2);
    } finally {
      Deno.open = open;
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("flatgeobufToGeoParquet refuses a cut or foreign file, naming it", {
  ignore: await needs("gdal"),
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "fgb-bad-test-" });
  try {
    const shp = await shapefile(dir, "cut", "POINT", ["POINT (1 2)", "POINT (3 4)"]);
    await bothWays(dir, shp, "cut", false, false);
    const whole = await Deno.readFile(`${dir}/cut.fgb`);
    await Deno.writeFile(`${dir}/cut_short.fgb`, whole.subarray(0, whole.length - 5));
    await Deno.writeFile(`${dir}/not.fgb`, new TextEncoder().encode('{"type": "Feature"}'));
    for (
      const [file, says] of [["cut_short.fgb", /last feature is cut short/], [
        "not.fgb",
        /not a FlatGeobuf/,
      ]] as const
    ) {
      await assert.rejects(
        flatgeobufToGeoParquet(`${dir}/${file}`, `${dir}/o.parquet`, { crs: CRS }),
        (e: unknown) => {
          assert.ok(e instanceof GeoParquetError);
          assert.equal(e.code, "spatial.flatgeobuf_corrupt");
          assert.match(e.message, says);
          assert.ok(e.message.includes(file), e.message);
          return true;
        },
      );
      // Given the user's file, it names that (the FlatGeobuf is a scratch file of GDAL's).
      await assert.rejects(
        flatgeobufToGeoParquet(`${dir}/${file}`, `${dir}/o.parquet`, {
          crs: CRS,
          label: "batch/roads.shp",
        }),
        (e: unknown) => {
          assert.ok(e instanceof GeoParquetError);
          assert.match(e.message, says);
          assert.match(e.message, /GDAL's FlatGeobuf conversion of 'batch\/roads\.shp'/);
          assert.ok(!e.message.includes(dir), e.message);
          assert.equal(e.input, "batch/roads.shp");
          return true;
        },
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
