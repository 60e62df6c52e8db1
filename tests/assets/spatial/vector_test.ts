/** Vector batches to GeoParquet, read back by DuckDB (an independent Parquet reader). */

import assert from "node:assert/strict";
import { processVectorBatch } from "../../../assets/spatial/vector.ts";
import { SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";
import { batchRun, download, duckdb, LAKE, LANDING, runBatch, sampleLanding } from "./_fixtures.ts";
import { GDAL_PYTHON, needs } from "../../_helpers/tools.ts";
import {
  assertDone,
  assertQuarantined,
  engines,
  landing,
  ourFeatures,
  runQuarantined,
  sh,
} from "./_batches.ts";

const options = batchRun;

Deno.test("vector batch: GeoJSON, Shapefile and GeoPackage to GeoParquet with lineage", async (t) => {
  const landing = await sampleLanding("vec1");
  await using _store = landing.store;
  const outputs = await processVectorBatch(options(landing, "vec1"));

  await t.step("one GeoParquet per vector file under <project>/<batch>/", () => {
    assert.deepEqual(outputs.map((o) => [o.key, o.rows]).sort(), [
      ["montana/vec1/counties.parquet", 4],
      ["montana/vec1/trailheads.parquet", 6],
      ["montana/vec1/trails.parquet", 3],
    ]);
  });

  await t.step("each object carries its ledger document id, and the document its key", async () => {
    for (const output of outputs) {
      const head = await landing.store.head(LAKE, output.key);
      assert.equal(head?.metadata.mongodb_doc_id, output.docId);
      const doc = await landing.ledger.get(output.docId);
      assert.equal(doc.key, output.key);
      assert.equal(doc.sha256, head?.sha256);
      assert.equal(doc.batch_id, "vec1");
      assert.equal(doc.format, "geoparquet");
      const meta = SpatialLedgerMetadata.parse(doc.metadata);
      assert.equal(meta.crs, "EPSG:4326");
      assert.equal(meta.intent, "measure");
      assert.equal(meta.uploader, "sample-data@example.org");
      assert.equal(meta.feature_count, output.rows);
      assert.ok(meta.source_files.every((s) => /^[0-9a-f]{64}$/.test(s.sha256)));
      assert.equal(meta.iso19115.reference_system, "EPSG:4326");
      assert.ok(meta.iso19115.lineage.process_steps.length > 0);
    }
    const counties = outputs.find((o) => o.key.endsWith("counties.parquet"))!;
    const meta = SpatialLedgerMetadata.parse((await landing.ledger.get(counties.docId)).metadata);
    // The Shapefile's sidecars are sources too.
    assert.deepEqual(meta.source_files.map((s) => s.key.split("/").pop()).sort(), [
      "counties.dbf",
      "counties.prj",
      "counties.shp",
      "counties.shx",
    ]);
  });

  await t.step("DuckDB reads rows, WKB geometry, bbox covering and the geo metadata", async () => {
    await using file = await download(landing.store, LAKE, "montana/vec1/counties.parquet");
    const rows = await duckdb(
      `SELECT name, ST_AsText(geometry) AS wkt, bbox.xmin AS xmin, area_m2
       FROM read_parquet('${file.file}') ORDER BY name`,
    );
    assert.equal(rows.length, 4);
    // Reprojected from EPSG:32100 (metres) back to longitude/latitude.
    for (const row of rows) {
      assert.ok(Number(row.xmin) > -116 && Number(row.xmin) < -104, `xmin ${row.xmin}`);
      assert.ok(Number(row.area_m2) > 1e9, `area ${row.area_m2}`);
    }
    // The bowtie was made valid: split into two triangles.
    const bowtie = rows.find((r) => String(r.name).startsWith("Bowtie"))!;
    assert.match(String(bowtie.wkt), /^MULTIPOLYGON/);

    const [kv] = await duckdb(
      `SELECT decode(value) AS geo FROM parquet_kv_metadata('${file.file}') WHERE decode(key) = 'geo'`,
    );
    const geo = JSON.parse(String(kv?.geo));
    assert.equal(geo.version, "1.1.0");
    assert.equal(geo.primary_column, "geometry");
    const column = geo.columns.geometry;
    assert.equal(column.encoding, "WKB");
    assert.deepEqual(column.geometry_types, ["MultiPolygon", "Polygon"]);
    assert.equal(column.crs.id.code, 4326);
    assert.equal(column.bbox.length, 4);
    assert.deepEqual(column.covering.bbox.xmin, ["bbox", "xmin"]);

    const codecs = await duckdb(
      `SELECT DISTINCT compression FROM parquet_metadata('${file.file}')`,
    );
    // Snappy: what GDAL's Parquet driver, pyarrow and DuckDB write by default (geoparquet.ts).
    assert.deepEqual(codecs.map((c) => c.compression), ["SNAPPY"]);
  });

  await t.step("no landing file is archived: only the batch's archive step does that", async () => {
    assert.ok(await landing.store.head(LANDING, "vec1/counties.shp"));
    assert.ok(await landing.store.head(LANDING, "vec1/dem.tif"));
    assert.ok(await landing.store.head(LANDING, "manifests/vec1.json"));
    assert.deepEqual(
      await Array.fromAsync(landing.store.listAll(LANDING, { prefix: "archive/" })),
      [],
    );
  });

  await t.step("running the batch again is safe: same objects, same ledger documents", async () => {
    const again = await processVectorBatch(options(landing, "vec1"));
    assert.deepEqual(
      again.map((o) => [o.key, o.docId]).sort(),
      outputs.map((o) => [o.key, o.docId]).sort(),
    );
  });
});

Deno.test("vector batch: zipped Shapefile and FlatGeobuf are read too", {
  ignore: await needs("gdal"),
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const sample = new URL("../../../sample_data/spatial/montana-sample/", import.meta.url);
    const run = async (cmd: string, args: string[]) => {
      const out = await new Deno.Command(cmd, { args, cwd: dir }).output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    };
    await run("ogr2ogr", [
      "-f",
      "FlatGeobuf",
      `${dir}/trails.fgb`,
      new URL("trails.gpkg", sample).pathname,
    ]);
    for (const ext of ["shp", "shx", "dbf", "prj"]) {
      await Deno.copyFile(new URL(`counties.${ext}`, sample), `${dir}/counties.${ext}`);
    }
    await run("python3", [
      "-c",
      "import zipfile,glob\nz=zipfile.ZipFile('counties.zip','w')\n[z.write(f) for f in glob.glob('counties.*') if not f.endswith('.zip')]",
    ]);
    const landing = await sampleLanding("vec2", (m) => ({
      ...m,
      intent: "centroids",
      files: [
        { path: "vec2/trails.fgb", type: "vector", format: "flatgeobuf", crs: "EPSG:4326" },
        { path: "vec2/counties.zip", type: "vector", format: "shapefile", crs: "EPSG:32100" },
      ],
    }));
    await using _store = landing.store;
    await landing.store.put(LANDING, "vec2/trails.fgb", await Deno.readFile(`${dir}/trails.fgb`));
    await landing.store.put(
      LANDING,
      "vec2/counties.zip",
      await Deno.readFile(`${dir}/counties.zip`),
    );
    const outputs = await processVectorBatch(options(landing, "vec2"));
    assert.deepEqual(outputs.map((o) => [o.key, o.rows, o.geometryTypes]).sort(), [
      ["montana/vec2/counties.parquet", 4, ["Point"]],
      ["montana/vec2/trails.parquet", 3, ["Point"]],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vector batch: an attribute named geom is published as it is, refused only under an intent's SQL", async () => {
  const geojson = JSON.stringify({
    type: "FeatureCollection",
    features: [{
      type: "Feature",
      properties: { geom: "POINT (1 2)", name: "a" },
      geometry: {
        type: "Polygon",
        coordinates: [[[-110, 45], [-109, 45], [-109, 46], [-110, 45]]],
      },
    }],
  });
  for (const intent of ["publish", "centroids"]) {
    const batch = `geomattr-${intent}`;
    const landing = await sampleLanding(batch, (m) => ({
      ...m,
      intent,
      files: [{
        path: `${batch}/sites.geojson`,
        type: "vector",
        format: "geojson",
        crs: "EPSG:4326",
      }],
    }));
    await using _store = landing.store;
    await landing.store.put(LANDING, `${batch}/sites.geojson`, new TextEncoder().encode(geojson));
    const outcome = await processVectorBatch(options(landing, batch)).then((o) => o, (e) => e);
    if (intent === "publish") {
      assert.ok(Array.isArray(outcome), String(outcome));
      await using file = await download(landing.store, LAKE, outcome[0]!.key);
      const rows = await duckdb(
        `SELECT geom, name, geometry IS NOT NULL AS g FROM read_parquet('${file.file}')`,
      );
      assert.deepEqual(rows, [{ geom: "POINT (1 2)", name: "a", g: true }]);
    } else {
      assert.ok(outcome instanceof Error);
      assert.match(
        outcome.message,
        /'geomattr-centroids\/sites\.geojson' \(layer 'sites'\) has an attribute named 'geom', the name intent 'centroids' keeps/,
      );
    }
  }
});

Deno.test({
  name: "vector batch: a file whose content is not its declared type quarantines the batch",
  fn: async () => {
    const landing = await sampleLanding("bad1", (m) => ({
      ...m,
      files: [
        { path: "bad1/trailheads.geojson", type: "vector", format: "geojson", crs: "EPSG:4326" },
        // A GeoTIFF declared as a GeoJSON vector.
        { path: "bad1/dem.tif", type: "vector", format: "geojson", crs: "EPSG:4326" },
      ],
    }));
    await using _store = landing.store;
    const result = await runBatch(landing, "bad1");
    const vector = result.steps.find((s) => s.assetKey === "spatial/vector_geoparquet")!;
    assert.equal(vector.status, "failed");
    assert.match(vector.error!.message, /bad1\/dem\.tif/);
    assert.match(vector.error!.message, /quarantine\/bad1\.error\.json/);
    const report = JSON.parse(
      new TextDecoder().decode(await landing.store.getBytes(LANDING, "quarantine/bad1.error.json")),
    );
    assert.deepEqual(
      report.problems.map((p: { code: string; file: string }) => [p.code, p.file]),
      [["content_mismatch", "bad1/dem.tif"]],
    );
    assert.ok(await landing.store.head(LANDING, "quarantine/bad1.json"));
    // Nothing reached the lake, and the uploads are untouched.
    assert.deepEqual(await Array.fromAsync(landing.store.listAll(LAKE)).catch(() => []), []);
    assert.ok(await landing.store.head(LANDING, "bad1/trailheads.geojson"));
  },
});

Deno.test({
  name: "vector batch: the PostGIS engine gives the same GeoParquet as SpatiaLite",
  ignore: await needs("postgis"),
  fn: async () => {
    const { ensurePostgis, startPostgres } = await import("../../_helpers/postgres.ts");
    const { PostgisEngine } = await import("../../../resources/spatial/postgis.ts");
    await using pg = await startPostgres();
    await ensurePostgis(pg.url);
    await using postgis = await PostgisEngine.open(pg.url);
    const results: Record<string, unknown>[][] = [];
    for (const [batchId, chosen] of [["pg1", undefined], ["pg2", postgis]] as const) {
      const landing = await sampleLanding(batchId);
      await using _store = landing.store;
      await processVectorBatch(options(landing, batchId, chosen ? { engine: chosen } : {}));
      await using file = await download(landing.store, LAKE, `montana/${batchId}/counties.parquet`);
      results.push(
        await duckdb(
          `SELECT name, fips, round(area_m2) AS area, ST_AsText(geometry) LIKE 'MULTI%' AS multi,
                  round(bbox.xmin, 9) AS xmin, round(bbox.ymax, 9) AS ymax
           FROM read_parquet('${file.file}') ORDER BY name`,
        ),
      );
    }
    assert.equal(results[0]!.length, 4);
    assert.deepEqual(results[1], results[0]);
  },
});

Deno.test({
  name:
    "vector batch: published area_m2 / length_m equal PostGIS geography's of the published geometry",
  ignore: await needs("postgis"),
  fn: async () => {
    const { ensurePostgis, startPostgres } = await import("../../_helpers/postgres.ts");
    const postgres = (await import("postgres")).default;
    // Beside the sample batch (counties in EPSG:32100, trails, points): a multipolygon with
    // holes and a multiline, in a file of its own.
    const shapes = {
      type: "FeatureCollection",
      features: [
        {
          type: "Feature",
          properties: { name: "holes" },
          geometry: {
            type: "MultiPolygon",
            coordinates: [
              [
                [[10, 50], [11, 50], [11, 51], [10, 51], [10, 50]],
                [[10.2, 50.2], [10.4, 50.2], [10.4, 50.4], [10.2, 50.4], [10.2, 50.2]],
                [[10.6, 50.6], [10.8, 50.6], [10.8, 50.8], [10.6, 50.8], [10.6, 50.6]],
              ],
              [[[12, 50], [13, 50], [12.5, 51], [12, 50]]],
            ],
          },
        },
        {
          type: "Feature",
          properties: { name: "roads" },
          geometry: {
            type: "MultiLineString",
            coordinates: [[[10, 50], [10.5, 50.4], [11, 50]], [[12, 51], [12.1, 52]]],
          },
        },
      ],
    };
    const landing = await sampleLanding("meas1", (m) => ({
      ...m,
      files: [
        ...(m.files as { type: string }[]).filter((f) => f.type === "vector"),
        { path: "meas1/shapes.geojson", type: "vector", format: "geojson", crs: "EPSG:4326" },
      ],
    }));
    await using _store = landing.store;
    await landing.store.put(
      LANDING,
      "meas1/shapes.geojson",
      new TextEncoder().encode(JSON.stringify(shapes)),
    );
    await using pg = await startPostgres();
    await ensurePostgis(pg.url);
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      // In the target CRS WGS 84 the published geometry is measured; in another one, its
      // longitude/latitude copy: PostGIS measures the published geometry taken back to 4326.
      for (const targetCrs of ["EPSG:4326", "EPSG:3857"]) {
        const outputs = await processVectorBatch(options(landing, "meas1", { targetCrs }));
        const srid = Number(targetCrs.slice(5));
        let measured = 0;
        for (const output of outputs) {
          await using file = await download(landing.store, LAKE, output.key);
          const rows = await duckdb(
            `SELECT area_m2, length_m, hex(ST_AsWKB(geometry)) AS wkb
             FROM read_parquet('${file.file}') WHERE geometry IS NOT NULL`,
          );
          for (const row of rows) {
            const [pgRow] = await sql.unsafe(
              `SELECT ST_Area(g::geography) AS area, ST_Length(g::geography) AS length,
                      ST_Dimension(g) AS dim
               FROM (SELECT ST_Transform(ST_SetSRID(ST_GeomFromWKB(decode($1, 'hex')), $2), 4326)
                     AS g) s`,
              [String(row.wkb), srid],
            );
            const close = (ours: unknown, theirs: unknown) =>
              Math.abs(Number(ours) - Number(theirs)) <= 1e-9 * Math.abs(Number(theirs));
            const dim = Number(pgRow!.dim);
            const where = `${targetCrs} ${output.key}: ${JSON.stringify(row).slice(0, 80)}`;
            if (dim === 2) {
              assert.ok(close(row.area_m2, pgRow!.area), `${where} vs ${pgRow!.area}`);
              assert.equal(row.length_m, null, where);
            } else if (dim === 1) {
              assert.ok(close(row.length_m, pgRow!.length), `${where} vs ${pgRow!.length}`);
              assert.equal(row.area_m2, null, where);
            } else {
              assert.deepEqual([row.area_m2, row.length_m], [null, null], where);
            }
            measured++;
          }
        }
        assert.ok(measured >= 8, `${targetCrs}: only ${measured} rows measured`);
        assert.ok(outputs.some((o) => o.key.endsWith("shapes.parquet")));
      }
    } finally {
      await sql.end();
    }
  },
});

Deno.test("vector batch: intent measure keeps the user's own area_m2 / length_m columns", async (t) => {
  // Before: the computed area_m2 and length_m replaced the user's columns of those names, their
  // values lost, and the ledger's column schema listed each name twice.
  const dir = await Deno.makeTempDir({ prefix: "spatial-measure-" });
  try {
    await Deno.writeTextFile(
      `${dir}/lakes.geojson`,
      JSON.stringify({
        type: "FeatureCollection",
        features: [{
          type: "Feature",
          properties: { area_m2: "surveyed 2019", length_m: 7, name: "Lake" },
          geometry: {
            type: "Polygon",
            coordinates: [[[-110, 45], [-109, 45], [-109, 46], [-110, 45]]],
          },
        }],
      }),
    );
    for (const [kind, gdal] of engines) {
      await t.step(kind, async () => {
        const batch = `measure-own-${kind}`;
        const l = await landing(batch, [{
          name: "lakes.geojson",
          from: `${dir}/lakes.geojson`,
          type: "vector",
          format: "geojson",
          crs: "EPSG:4326",
        }]);
        await using _store = l.store;
        const manifestKey = `manifests/${batch}.json`;
        const manifest = JSON.parse(
          new TextDecoder().decode(await l.store.getBytes(LANDING, manifestKey)),
        );
        await l.store.put(
          LANDING,
          manifestKey,
          new TextEncoder().encode(JSON.stringify({ ...manifest, intent: "measure" })),
        );
        const [doc] = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
        const meta = SpatialLedgerMetadata.parse(doc!.metadata);
        assert.deepEqual(meta.column_schema.map((c) => c.name), [
          "area_m2_attr",
          "length_m_attr",
          "name",
          "area_m2",
          "length_m",
          "geometry",
          "bbox",
        ]);
        await using file = await download(l.store, LAKE, doc!.key);
        const [row] = await duckdb(
          `SELECT area_m2_attr, length_m_attr::INTEGER AS length_m_attr, name,
                  round(area_m2 / 1e6) AS km2, length_m FROM read_parquet('${file.file}')`,
        );
        assert.deepEqual(row, {
          area_m2_attr: "surveyed 2019",
          length_m_attr: 7,
          name: "Lake",
          km2: 4382,
          length_m: null,
        });
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("vector batch: a GeoJSON with an Infinity coordinate is refused as such by both engines", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "vector-inf-" });
  try {
    // GDAL reads the bare `Infinity` (and `NaN`) some JavaScript exports write.
    await Deno.writeTextFile(
      `${dir}/inf.geojson`,
      '{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"a":1},' +
        '"geometry":{"type":"LineString","coordinates":[[0,0],[Infinity,1]]}}]}',
    );
    for (const [engine, gdal] of engines) {
      await t.step(engine, async () => {
        const batch = `vector-inf-${engine}`;
        const l = await landing(batch, [{
          name: "inf.geojson",
          from: `${dir}/inf.geojson`,
          type: "vector",
          format: "geojson",
          crs: "EPSG:4326",
        }]);
        await using _store = l.store;
        const problems = await assertQuarantined(l, batch, await runBatch(l, batch, {}, { gdal }));
        // wasm said "is not valid JSON" (gdal3.js's ogrinfo) or failed in SQLite on `max_x = Inf`.
        assert.equal(problems[0]?.code, "invalid_geometry", problems[0]?.message);
        assert.match(
          problems[0]!.message,
          new RegExp(
            `'${batch}/inf\\.geojson' \\(layer 'inf'\\) has (1 )?geometries with NaN or infinite coordinates`,
          ),
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "vector batch: a Shapefile with records flagged deleted in its .dbf publishes the others",
  ignore: await needs("gdal"),
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "vector-deleted-" });
    try {
      // Feature 1 deleted and the file never packed (dBASE's '*' flag, as ArcView left them).
      await sh(
        GDAL_PYTHON,
        "-c",
        `from osgeo import gdal, ogr, osr
s = osr.SpatialReference(); s.ImportFromEPSG(4326)
ds = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource("${dir}/wells.shp")
l = ds.CreateLayer("wells", s, ogr.wkbPoint)
l.CreateField(ogr.FieldDefn("n", ogr.OFTInteger))
for i in range(4):
    f = ogr.Feature(l.GetLayerDefn()); f.SetField("n", i)
    f.SetGeometry(ogr.CreateGeometryFromWkt("POINT (%d %d)" % (i, i))); l.CreateFeature(f)
ds = None
ds = gdal.OpenEx("${dir}/wells.shp", gdal.OF_VECTOR | gdal.OF_UPDATE, open_options=["AUTO_REPACK=NO"])
ds.GetLayer(0).DeleteFeature(1)
ds = None
import zipfile
with zipfile.ZipFile("${dir}/wells.zip", "w", zipfile.ZIP_DEFLATED) as z:
    for e in ["shp", "shx", "dbf", "prj"]: z.write("${dir}/wells." + e, "export/wells." + e)`,
      );
      for (const [engine, gdal] of engines) {
        await t.step(`${engine}: zipped in a folder`, async () => {
          const batch = `vector-deleted-zip-${engine}`;
          const l = await landing(batch, [{
            name: "wells.zip",
            from: `${dir}/wells.zip`,
            type: "vector",
            format: "shapefile",
            crs: "EPSG:4326",
          }]);
          await using _store = l.store;
          const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
          const features = await ourFeatures(l, docs[0]!.key);
          assert.deepEqual(features.map((f) => Number(f.properties.n)), [0, 2, 3]);
        });
        await t.step(engine, async () => {
          const batch = `vector-deleted-${engine}`;
          const l = await landing(
            batch,
            [{
              name: "wells.shp",
              from: `${dir}/wells.shp`,
              type: "vector",
              format: "shapefile",
              crs: "EPSG:4326",
            }],
            ["shx", "dbf", "prj"].map((e) => [`wells.${e}`, `${dir}/wells.${e}`]),
          );
          await using _store = l.store;
          // Before: quarantined, "has 4 features but 3 were read".
          const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
          const features = await ourFeatures(l, docs[0]!.key);
          assert.deepEqual(features.map((f) => Number(f.properties.n)), [0, 2, 3]);
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("spatial GeoJSON of 2,100 attributes: refused naming SQLite's column limit, not a 40 KB CREATE TABLE", async (t) => {
  // Before: processing_failed quoting GDAL's whole CREATE TABLE statement (39,278
  // characters) and 'check that the file is a valid, complete dataset'.
  const dir = await Deno.makeTempDir({ prefix: "vector-wide-" });
  try {
    const properties = Object.fromEntries(Array.from({ length: 2100 }, (_, i) => [`k${i}`, i]));
    await Deno.writeTextFile(
      `${dir}/wide.geojson`,
      JSON.stringify({
        type: "FeatureCollection",
        features: [
          {
            type: "Feature",
            properties,
            geometry: {
              type: "Polygon",
              coordinates: [[[7, 45], [7.1, 45], [7.1, 45.1], [7, 45]]],
            },
          },
          // A feature without geometry: converted through the GeoPackage on both engines.
          { type: "Feature", properties, geometry: null },
        ],
      }),
    );
    for (const [engine, gdal] of engines) {
      await t.step(engine, async () => {
        const batch = `vector-wide-${engine}`;
        const l = await landing(batch, [{
          name: "wide.geojson",
          from: `${dir}/wide.geojson`,
          type: "vector",
          format: "geojson",
          crs: "EPSG:4326",
        }]);
        await using _store = l.store;
        const problems = await runQuarantined(l, batch, gdal);
        assert.equal(problems[0]?.code, "content_mismatch", problems[0]?.message.slice(0, 300));
        assert.match(
          problems[0]!.message,
          /wide\.geojson' \(layer 'wide'\) has 2100 attributes, .*2,000 columns.*upload it again$/,
        );
        assert.ok(problems[0]!.message.length < 600, String(problems[0]!.message.length));
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
