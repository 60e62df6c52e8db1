/**
 * On the native engine every vector layer whose output FlatGeobuf holds as
 * the GeoPackage does is converted into a streamed FlatGeobuf
 * (assets/spatial/vector.ts, streamedTypeOptions): GeoPackage, GeoJSON,
 * CSV and FlatGeobuf inputs, not only Shapefiles. Each must publish the very
 * bytes the GeoPackage route publishes for the same file (that route forced
 * here by a GDAL that refuses every FlatGeobuf as GDAL refuses a feature of
 * another type), and the layers FlatGeobuf cannot hold as they are (a 3D
 * feature in a 2D layer, null geometries, dates) must take the GeoPackage.
 * 2D points of plain columns (booleans but a GeoPackage's, integers, reals,
 * texts) skip ogr2ogr: GDAL's Arrow stream (`arrowDump`) gives the same bytes.
 */

import assert from "node:assert/strict";
import { processVectorBatch } from "../../../assets/spatial/vector.ts";
import { SpatialBatchError } from "../../../assets/spatial/_batch.ts";
import type { GdalEngine } from "../../../resources/spatial/gdal.ts";
import { nativeGdal } from "../../../resources/spatial/gdal_native.ts";
import { GDAL_PYTHON, needs } from "../../_helpers/tools.ts";
import { batchRun, LAKE } from "./_fixtures.ts";
import {
  landing,
  NATIVE,
  ourFeatures,
  refusingFlatGeobuf,
  sh,
  type Upload,
  watchingOgr2ogr,
} from "./_batches.ts";

/**
 * `engine`, recording the output format of each ogr2ogr call into
 * `formats`; with `refuse`, on the GeoPackage route (see
 * {@linkcode refusingFlatGeobuf}).
 */
function recording(engine: GdalEngine, formats: string[], refuse = false): GdalEngine {
  return watchingOgr2ogr(refuse ? refusingFlatGeobuf(engine) : engine, (options) => {
    formats.push(options[options.indexOf("-f") + 1] ?? "");
  });
}

/** One input file of a case. */
interface Input {
  /** File name (with extension). */
  name: string;
  format: string;
  /** Makes the file (and its sidecars) in `dir`. */
  make: (dir: string) => Promise<void>;
  /** Formats of the native engine's ogr2ogr calls, in order. */
  formats: string[];
  check?: (features: Awaited<ReturnType<typeof ourFeatures>>) => void;
}

/** A CSV (with its .csvt) converted by ogr2ogr into `out` with `options`. */
async function fromCsv(
  dir: string,
  out: string,
  header: string,
  types: string,
  rows: string[],
  options: string[],
): Promise<void> {
  const stem = out.replace(/\.[^.]+$/, "");
  await Deno.writeTextFile(`${dir}/${stem}_src.csv`, [header, ...rows].join("\n"));
  await Deno.writeTextFile(`${dir}/${stem}_src.csvt`, types);
  await sh(
    "ogr2ogr",
    ...[`${dir}/${out}`, `${dir}/${stem}_src.csv`, "-a_srs", "EPSG:4326", "-nln", stem],
    ...options,
  );
}

const POLYGONS = [
  `1,9007199254740993,1.5,"Zürich",1,"POLYGON ((0 0,1 0,1 1,0 1,0 0))"`,
  `2,2,2.25,,0,"POLYGON ((2 2,3 3,3 2,2 3,2 2))"`,
  `4,-4,,"hole",,"POLYGON ((10 10,20 10,20 20,10 20,10 10),(12 12,12 14,14 14,14 12,12 12))"`,
];
const POLYGON_HEADER = "n,big,value,label,flag,wkt";
const POLYGON_TYPES = "Integer,Integer64,Real,String,Integer(Boolean),String";
const WKT = ["-oo", "GEOM_POSSIBLE_NAMES=wkt", "-oo", "KEEP_GEOM_COLUMNS=NO"];
const POINTS = [
  "1,9007199254740993,1.5,Zürich,1,-7,7.5,47.4",
  "-2,-2,,,0,300,8.5,46.9",
  "3,3,3.25,x,,,9.1,45.2",
];
const POINT_HEADER = "n,big,value,label,flag,small,x,y";
const POINT_TYPES = "Integer,Integer64,Real,String,Integer(Boolean),Integer(Int16),Real,Real";
const XY = [
  "-oo",
  "X_POSSIBLE_NAMES=x",
  "-oo",
  "Y_POSSIBLE_NAMES=y",
  "-oo",
  "KEEP_GEOM_COLUMNS=NO",
];

/** A GeoPackage layer written feature by feature by GDAL's Python bindings (any mix of WKTs). */
function pythonGpkg(
  name: string,
  layerType: string,
  wkts: (string | null)[],
  layerOptions: string[] = [],
) {
  return async (dir: string) => {
    const script = `
from osgeo import ogr, osr
ds = ogr.GetDriverByName('GPKG').CreateDataSource(${JSON.stringify(`${dir}/${name}`)})
srs = osr.SpatialReference(); srs.ImportFromEPSG(4326)
layer = ds.CreateLayer('layer', srs, ogr.${layerType}, options=${JSON.stringify(layerOptions)})
layer.CreateField(ogr.FieldDefn('n', ogr.OFTInteger))
for i, wkt in enumerate(${JSON.stringify(wkts).replaceAll("null", "None")}):
    f = ogr.Feature(layer.GetLayerDefn()); f.SetField('n', i)
    if wkt is not None: f.SetGeometry(ogr.CreateGeometryFromWkt(wkt))
    layer.CreateFeature(f)
ds = None
`;
    await sh(GDAL_PYTHON, "-c", script);
  };
}

const INPUTS: Input[] = [
  {
    name: "pkg_points.gpkg",
    format: "geopackage",
    make: (dir) => fromCsv(dir, "pkg_points.gpkg", POINT_HEADER, POINT_TYPES, POINTS, XY),
    // A GeoPackage's booleans, which GDAL 3.6's Arrow stream of the driver gives wrong: ogr2ogr.
    formats: ["FlatGeobuf"],
    check: (features) => {
      assert.equal(features[0]?.properties.big, 9007199254740993n);
      assert.equal(features[1]?.properties.value, null);
      assert.equal(features[0]?.properties.flag, true);
      assert.equal(features[1]?.properties.flag, false);
      assert.equal(features[2]?.properties.flag, null);
      assert.equal(features[1]?.properties.small, 300n);
      assert.equal(features[1]?.properties.n, -2n);
      assert.equal(features[0]?.properties.small, -7n);
    },
  },
  {
    name: "pkg_polygons.gpkg",
    format: "geopackage",
    make: (dir) =>
      fromCsv(dir, "pkg_polygons.gpkg", POLYGON_HEADER, POLYGON_TYPES, POLYGONS, [
        ...WKT,
        ...["-nlt", "POLYGON"],
      ]),
    formats: ["FlatGeobuf"],
    // The bowtie made valid: two triangles.
    check: (features) => assert.equal(features[1]?.geometry?.type, "MultiPolygon"),
  },
  {
    name: "geojson_polygons.geojson",
    format: "geojson",
    make: (dir) =>
      fromCsv(dir, "geojson_polygons.geojson", POLYGON_HEADER, POLYGON_TYPES, POLYGONS, WKT),
    formats: ["FlatGeobuf"],
  },
  {
    name: "fgb_polygons.fgb",
    format: "flatgeobuf",
    make: (dir) =>
      fromCsv(dir, "fgb_polygons.fgb", POLYGON_HEADER, POLYGON_TYPES, POLYGONS, [
        ...WKT,
        ...["-nlt", "POLYGON"],
      ]),
    formats: ["FlatGeobuf"],
  },
  {
    name: "csv_points.csv",
    format: "csv",
    make: async (dir) => {
      await Deno.writeTextFile(`${dir}/csv_points.csv`, [POINT_HEADER, ...POINTS].join("\n"));
      await Deno.writeTextFile(`${dir}/csv_points.csvt`, POINT_TYPES);
    },
    // 2D points of booleans, int16s, integers, reals and texts: GDAL's Arrow stream (no ogr2ogr).
    formats: [],
    check: (features) => {
      assert.deepEqual(features.map((f) => f.properties.flag), [true, false, null]);
      assert.deepEqual(features.map((f) => f.properties.small), [-7n, 300n, null]);
    },
  },
  {
    // A 3D point in a 2D layer: GDAL's FlatGeobuf writer refuses it, the GeoPackage keeps its Z.
    name: "mixed_points.gpkg",
    format: "geopackage",
    make: pythonGpkg("mixed_points.gpkg", "wkbPoint", ["POINT (1 2)", "POINT Z (3 4 5)"]),
    formats: ["FlatGeobuf", "GPKG"],
    check: (features) => {
      assert.deepEqual(features[0]?.geometry, { type: "Point", coordinates: [1, 2] });
      assert.deepEqual(features[1]?.geometry, { type: "Point", coordinates: [3, 4, 5] });
    },
  },
  {
    // The same in a polygon layer (typed anything in its FlatGeobuf): found by GDAL's count.
    name: "mixed_polygons.gpkg",
    format: "geopackage",
    make: pythonGpkg("mixed_polygons.gpkg", "wkbPolygon", [
      "POLYGON ((0 0,1 0,1 1,0 0))",
      "POLYGON Z ((0 0 1,1 0 1,1 1 1,0 0 1))",
    ]),
    formats: ["GPKG"],
    check: (features) => {
      const ring = (features[1]?.geometry as { coordinates: number[][][] }).coordinates[0]!;
      assert.equal(ring[0]?.length, 3);
    },
  },
  {
    // Mixed types: GDAL types the layer Unknown, 2D, whatever the Z of its features.
    name: "mixed.geojson",
    format: "geojson",
    make: (dir) =>
      Deno.writeTextFile(
        `${dir}/mixed.geojson`,
        JSON.stringify({
          type: "FeatureCollection",
          features: [
            { type: "LineString", coordinates: [[7, 47], [8, 46]] },
            { type: "Point", coordinates: [7.5, 46.5, 12.5] },
          ].map((geometry, n) => ({ type: "Feature", properties: { n }, geometry })),
        }),
      ),
    formats: ["GPKG"],
    check: (features) => {
      assert.deepEqual(features[1]?.geometry, { type: "Point", coordinates: [7.5, 46.5, 12.5] });
    },
  },
  {
    name: "null_polygons.gpkg",
    format: "geopackage",
    make: pythonGpkg("null_polygons.gpkg", "wkbPolygon", ["POLYGON ((0 0,1 0,1 1,0 0))", null]),
    formats: ["GPKG"],
    check: (features) => assert.equal(features[1]?.geometry, null),
  },
  {
    // Known from its R-tree (which indexes only features with a geometry):
    // the GeoPackage at once, converted once (was: streamed, then again).
    name: "null_points.gpkg",
    format: "geopackage",
    make: pythonGpkg("null_points.gpkg", "wkbPoint", ["POINT (1 2)", null]),
    formats: ["GPKG"],
    check: (features) => assert.equal(features[1]?.geometry, null),
  },
  {
    // Without an R-tree, not scanned (it would cost every such layer more): counted after
    // the fact, converted again through the GeoPackage.
    name: "null_points_noindex.gpkg",
    format: "geopackage",
    make: pythonGpkg(
      "null_points_noindex.gpkg",
      "wkbPoint",
      ["POINT (1 2)", "POINT (3 4)", null],
      ["SPATIAL_INDEX=NO"],
    ),
    formats: ["FlatGeobuf", "GPKG"],
    check: (features) =>
      assert.deepEqual(features.map((f) => f.geometry === null), [false, false, true]),
  },
  {
    // Every point has a geometry, no index: 2D points of plain columns, read
    // through GDAL's Arrow stream (no ogr2ogr).
    name: "points_noindex.gpkg",
    format: "geopackage",
    make: pythonGpkg("points_noindex.gpkg", "wkbPoint", ["POINT (1 2)", "POINT (3 4)"], [
      "SPATIAL_INDEX=NO",
    ]),
    formats: [],
  },
  {
    // 2D points whose columns are all integers, reals and texts: GDAL's Arrow stream.
    name: "plain_points.gpkg",
    format: "geopackage",
    make: (dir) =>
      fromCsv(
        dir,
        "plain_points.gpkg",
        "n,big,value,label,x,y",
        "Integer,Integer64,Real,String,Real,Real",
        ["1,9007199254740993,1.5,Zürich,7.5,47.4", "-2,-2,,,8.5,46.9", "3,,3.25,x,9.1,45.2"],
        XY,
      ),
    formats: [],
    check: (features) => {
      assert.equal(features[0]?.properties.big, 9007199254740993n);
      assert.equal(features[1]?.properties.n, -2n);
      assert.equal(features[1]?.properties.value, null);
      assert.equal(features[1]?.properties.label, "");
      assert.equal(features[2]?.properties.big, null);
      assert.deepEqual(features[0]?.geometry, { type: "Point", coordinates: [7.5, 47.4] });
    },
  },
  {
    // Points Z in a layer declared 3D: GDAL's Arrow stream (no ogr2ogr), Z kept.
    name: "z_points.gpkg",
    format: "geopackage",
    make: pythonGpkg("z_points.gpkg", "wkbPoint25D", ["POINT Z (1 2 3)", "POINT Z (4 5 -6.5)"]),
    formats: [],
    check: (features) =>
      assert.deepEqual(features.map((f) => f.geometry), [
        { type: "Point", coordinates: [1, 2, 3] },
        { type: "Point", coordinates: [4, 5, -6.5] },
      ]),
  },
  {
    // A 2D point in a layer declared 3D: not the Arrow stream's to decide what it becomes.
    name: "z_mixed_points.gpkg",
    format: "geopackage",
    // (GDAL's FlatGeobuf writer refuses it, the GeoPackage keeps it 2D.)
    make: pythonGpkg("z_mixed_points.gpkg", "wkbPoint25D", ["POINT Z (1 2 3)", "POINT (4 5)"]),
    formats: ["FlatGeobuf", "GPKG"],
    check: (features) =>
      assert.deepEqual(features[1]?.geometry, { type: "Point", coordinates: [4, 5] }),
  },
  {
    // JSON booleans (GDAL's Integer(Boolean)): GDAL's Arrow stream, as the GeoPackage route.
    name: "flag_points.geojson",
    format: "geojson",
    make: (dir) =>
      Deno.writeTextFile(
        `${dir}/flag_points.geojson`,
        JSON.stringify({
          type: "FeatureCollection",
          features: Array.from({ length: 20 }, (_, n) => ({
            type: "Feature",
            properties: { n, ok: n % 3 === 0 ? null : n % 2 === 0 },
            geometry: { type: "Point", coordinates: [7 + n / 10, 47] },
          })),
        }),
      ),
    formats: [],
    check: (features) =>
      assert.deepEqual(
        features.map((f) => f.properties.ok),
        Array.from({ length: 20 }, (_, n) => n % 3 === 0 ? null : n % 2 === 0),
      ),
  },
  {
    // Known from the text (a `null` geometry member): the GeoPackage at once, converted once.
    name: "null_points.geojson",
    format: "geojson",
    make: (dir) =>
      Deno.writeTextFile(
        `${dir}/null_points.geojson`,
        JSON.stringify({
          type: "FeatureCollection",
          features: [{ type: "Point", coordinates: [7, 47] }, null].map((geometry, n) => ({
            type: "Feature",
            properties: { n },
            geometry,
          })),
        }),
      ),
    formats: ["GPKG"],
    check: (features) => assert.equal(features[1]?.geometry, null),
  },
  {
    // A Null shape, found in the .shx: the GeoPackage at once, converted once.
    name: "null_points.shp",
    format: "shapefile",
    make: async (dir) => {
      await pythonGpkg("null_points.gpkg_src", "wkbPoint", ["POINT (1 2)", null, "POINT (3 4)"])(
        dir,
      );
      await sh("ogr2ogr", `${dir}/null_points.shp`, `${dir}/null_points.gpkg_src`);
    },
    formats: ["GPKG"],
    check: (features) =>
      assert.deepEqual(features.map((f) => f.geometry === null), [false, true, false]),
  },
  {
    name: "dated.gpkg",
    format: "geopackage",
    make: (dir) =>
      fromCsv(dir, "dated.gpkg", "n,day,x,y", "Integer,Date,Real,Real", [
        "1,2024-02-29,7.5,47.4",
      ], XY),
    formats: ["GPKG"],
  },
];

async function publish(dir: string, input: Input, engine: GdalEngine, batch: string) {
  const upload: Upload = {
    name: input.name,
    from: `${dir}/${input.name}`,
    type: "vector",
    format: input.format,
    crs: "EPSG:4326",
    ...(input.format === "csv"
      ? { open_options: ["X_POSSIBLE_NAMES=x", "Y_POSSIBLE_NAMES=y", "KEEP_GEOM_COLUMNS=NO"] }
      : {}),
  };
  const extra: [string, string][] = [];
  if (input.format === "csv") {
    extra.push([input.name.replace(/csv$/, "csvt"), `${dir}/${input.name}t`]);
  }
  if (input.format === "shapefile") {
    for (const ext of ["shx", "dbf", "prj"]) {
      extra.push([input.name.replace(/shp$/, ext), `${dir}/${input.name.replace(/shp$/, ext)}`]);
    }
  }
  const l = await landing(batch, [upload], extra);
  const [out] = await processVectorBatch(batchRun(l, batch, { gdal: engine }));
  assert.ok(out, "one GeoParquet");
  return { bytes: await l.store.getBytes(LAKE, out.key), features: await ourFeatures(l, out.key) };
}

Deno.test({
  name: "native engine: GeoPackage, GeoJSON, CSV and FlatGeobuf layers streamed through " +
    "FlatGeobuf publish the GeoPackage route's bytes",
  ignore: await needs("gdal") || NATIVE === undefined,
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "streamed-formats-test-" });
  try {
    for (const input of INPUTS) {
      await t.step(input.name, async () => {
        await input.make(dir);
        const formats: string[] = [];
        const batch = input.name.replace(/\W/g, "-");
        const streamed = await publish(
          dir,
          input,
          recording(nativeGdal(NATIVE!), formats),
          batch,
        );
        assert.deepEqual(formats, input.formats);
        const viaGpkg = await publish(
          dir,
          input,
          recording(nativeGdal(NATIVE!), [], true),
          batch,
        );
        assert.deepEqual(streamed.features, viaGpkg.features);
        assert.deepEqual(streamed.bytes, viaGpkg.bytes, "the same GeoParquet, byte for byte");
        input.check?.(streamed.features);
      });
    }
    await t.step("an empty layer is refused as on the GeoPackage route", async () => {
      await fromCsv(dir, "empty.gpkg", POINT_HEADER, POINT_TYPES, [], XY);
      const input: Input = {
        name: "empty.gpkg",
        format: "geopackage",
        make: () => Promise.resolve(),
        formats: [],
      };
      const messages: string[] = [];
      for (const refuse of [false, true]) {
        const formats: string[] = [];
        const error = await publish(
          dir,
          input,
          recording(nativeGdal(NATIVE!), formats, refuse),
          "empty",
        ).then(() => undefined, (e) => e);
        assert.ok(error instanceof SpatialBatchError, String(error));
        messages.push(error.message);
        // No FlatGeobuf is tried: GDAL 3.6 writes none for a layer without features.
        if (!refuse) assert.deepEqual(formats, ["GPKG"]);
      }
      assert.match(messages[0]!, /has no features/);
      assert.equal(messages[0], messages[1]);
    });
    await t.step(
      "a FlatGeobuf cut short fails mid-stream naming the user's file, publishing nothing",
      async () => {
        // Enough points for GDAL to fail after the writer started following it.
        const rows = Array.from(
          { length: 60_000 },
          (_, i) => `${i},${i},1.5,p,1,${i % 7},${i % 90},${i % 45}`,
        );
        await fromCsv(dir, "whole.fgb", POINT_HEADER, POINT_TYPES, rows, XY);
        const whole = await Deno.readFile(`${dir}/whole.fgb`);
        await Deno.writeFile(`${dir}/cut.fgb`, whole.subarray(0, Math.floor(whole.length * 0.6)));
        const upload: Upload = {
          name: "cut.fgb",
          from: `${dir}/cut.fgb`,
          type: "vector",
          format: "flatgeobuf",
          crs: "EPSG:4326",
        };
        const l = await landing("cut", [upload]);
        const formats: string[] = [];
        const error = await processVectorBatch(
          batchRun(l, "cut", { gdal: recording(nativeGdal(NATIVE!), formats) }),
        ).then(() => undefined, (e) => e);
        assert.ok(error instanceof Error, "the batch fails");
        assert.match(error.message, /cut\/cut\.fgb/);
        assert.doesNotMatch(error.message, /_stream|scratch|\/tmp\//);
        assert.deepEqual(formats, ["FlatGeobuf"]);
        // Nothing written: the lake's bucket was never even made, or is empty.
        const published: string[] = [];
        try {
          for await (const o of l.store.listAll(LAKE)) published.push(o.key);
        } catch (error) {
          assert.match(String(error), /does not exist/);
        }
        assert.deepEqual(published, []);
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
