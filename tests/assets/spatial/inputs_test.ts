/**
 * Real-world inputs and faults through the spatial assets (issue 11 items
 * 2-4, issue 15 items 5-7): test data made here with Debian's GDAL, each
 * batch run through `group:spatial` on both GDAL engines where it matters,
 * asserting the one end state a batch may have: outputs published and the
 * batch archived, or nothing published and the batch quarantined with a
 * report naming the user's file and GDAL's own message.
 */

import assert from "node:assert/strict";
import { SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";
import { sqliteToGeoParquet } from "../../../formats/geoparquet.ts";
import { nativeGdal } from "../../../resources/spatial/gdal_native.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import { download, duckdb, LAKE, runBatch } from "./_fixtures.ts";
import {
  assertDone,
  assertPendingForNative,
  assertQuarantined,
  engines,
  landing,
  NATIVE,
  ourFeatures,
  runQuarantined,
  sh,
  type Upload,
} from "./_batches.ts";
import { needs } from "../../_helpers/tools.ts";

// Debian's GDAL makes these tests' input data.
const ignore = await needs("gdal");
const SAMPLE = new URL("../../../sample_data/spatial/montana-sample/", import.meta.url).pathname;

Deno.test({
  name: "spatial inputs: formats GDAL reads become GeoParquet, read back by DuckDB",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "inputs-test-" });
    try {
      // A GPX with a track and waypoints, a WKT CSV, an X/Y CSV, a KML, a FlatGeobuf.
      await Deno.writeTextFile(
        `${dir}/walk.gpx`,
        `<?xml version="1.0"?><gpx version="1.1" creator="t" xmlns="http://www.topografix.com/GPX/1/1">` +
          `<wpt lat="45.5" lon="-110.5"><name>a</name></wpt><wpt lat="45.6" lon="-110.4"><name>b</name></wpt>` +
          `<trk><name>t</name><trkseg><trkpt lat="45.5" lon="-110.5"/><trkpt lat="45.6" lon="-110.4"/>` +
          `</trkseg></trk></gpx>`,
      );
      await Deno.writeTextFile(
        `${dir}/parcels.csv`,
        'id,name,WKT\n1,a,"POLYGON((-110 45,-109 45,-109 46,-110 46,-110 45))"\n' +
          '2,b,"POLYGON((-108 45,-107 45,-107 46,-108 45))"\n',
      );
      await Deno.writeTextFile(`${dir}/stations.csv`, "id,lon,lat\n1,-110.1,45.2\n2,-111.3,46.9\n");
      await sh("ogr2ogr", "-f", "KML", `${dir}/trails.kml`, `${SAMPLE}/trails.gpkg`);
      await sh("ogr2ogr", "-f", "FlatGeobuf", `${dir}/trails.fgb`, `${SAMPLE}/trails.gpkg`);
      // A GeoParquet in a projected CRS (NAD83 / Montana), written by our writer.
      await sh(
        "ogr2ogr",
        "-f",
        "GPKG",
        "-nln",
        "counties",
        `${dir}/counties.gpkg`,
        `${SAMPLE}/counties.shp`,
      );
      const projjson = JSON.parse(
        new TextDecoder().decode(
          (await new Deno.Command("gdalsrsinfo", { args: ["-o", "PROJJSON", "EPSG:32100"] })
            .output())
            .stdout,
        ),
      );
      await sqliteToGeoParquet(`${dir}/counties.gpkg`, "counties", `${dir}/counties.parquet`, {
        crs: projjson,
      });
      const uploads: Upload[] = [
        {
          name: "walk.gpx",
          from: `${dir}/walk.gpx`,
          type: "vector",
          format: "gpx",
          crs: "EPSG:4326",
        },
        {
          name: "parcels.csv",
          from: `${dir}/parcels.csv`,
          type: "vector",
          format: "csv",
          crs: "EPSG:4326",
        },
        {
          name: "stations.csv",
          from: `${dir}/stations.csv`,
          type: "vector",
          format: "csv",
          crs: "EPSG:4326",
        },
        {
          name: "trails.kml",
          from: `${dir}/trails.kml`,
          type: "vector",
          format: "kml",
          crs: "EPSG:4326",
        },
        {
          name: "trails.fgb",
          from: `${dir}/trails.fgb`,
          type: "vector",
          format: "flatgeobuf",
          crs: "EPSG:4326",
        },
        {
          name: "counties.parquet",
          from: `${dir}/counties.parquet`,
          type: "vector",
          format: "geoparquet",
          crs: "EPSG:32100",
        },
      ];
      for (const [kind, gdal] of engines) {
        await t.step(`${kind} engine`, async () => {
          const batch = `formats-${kind}`;
          // ogr2ogr's KML keeps attributes in ExtendedData, which only LIBKML reads: gdal3.js
          // leaves such a file pending for native GDAL (matrix_test.ts, v_kml_ext.kml).
          const l = await landing(
            batch,
            kind === "wasm" ? uploads.filter((u) => u.name !== "trails.kml") : uploads,
          );
          await using _store = l.store;
          const result = await runBatch(l, batch, {}, { gdal });
          const docs = await assertDone(l, batch, result);
          const rows = Object.fromEntries(
            docs.map((
              d,
            ) => [d.key.split("/").pop(), SpatialLedgerMetadata.parse(d.metadata).feature_count]),
          );
          // GPX has five layers (waypoints, routes, tracks, route_points, track_points): the
          // non-empty ones are written, each its own GeoParquet.
          assert.equal(rows["parcels.parquet"], 2);
          assert.equal(rows["stations.parquet"], 2);
          assert.equal(rows["trails.parquet"] ?? rows["trails_flatgeobuf.parquet"], 3);
          assert.equal(rows["walk__waypoints.parquet"], 2);
          if (kind === "native") {
            // The KML's ExtendedData attribute is kept (LIBKML reads it).
            const [trail] = await ourFeatures(l, `inputs/${batch}/trails.parquet`);
            assert.ok(trail!.properties.length_class, Object.keys(trail!.properties).join());
          }
          // The GeoParquet input, read in its own CRS and reprojected to lon/lat.
          assert.equal(rows["counties.parquet"], 4);
          const counties = docs.find((d) => d.key.endsWith("/counties.parquet"))!;
          const bbox = SpatialLedgerMetadata.parse(counties.metadata).bbox!;
          assert.ok(bbox[0] > -117 && bbox[2] < -103 && bbox[1] > 44 && bbox[3] < 50, String(bbox));
          await using csv = await download(l.store, LAKE, `inputs/${batch}/parcels.parquet`);
          const read = await duckdb(
            `SELECT name, ST_GeometryType(ST_GeomFromWKB(geometry)) AS t FROM read_parquet('${csv.file}') ORDER BY id`,
          ).catch(async () =>
            await duckdb(`SELECT name FROM read_parquet('${csv.file}') ORDER BY id`)
          );
          assert.deepEqual(read.map((r) => r.name), ["a", "b"]);
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "spatial inputs: the declared CRS is checked, and assigned to a file without one",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "inputs-crs-" });
    try {
      const point = (x: number, y: number) =>
        JSON.stringify({
          type: "FeatureCollection",
          features: [{
            type: "Feature",
            properties: { n: 1 },
            geometry: { type: "Point", coordinates: [x, y] },
          }],
        });
      await Deno.writeTextFile(`${dir}/lonlat.geojson`, point(-110.5, 45.5));
      const shp = (name: string) =>
        ["shp", "shx", "dbf", "prj"].map((ext): [string, string] => [
          `counties.${ext}`,
          `${SAMPLE}/counties.${ext}`,
        ]).filter(([n]) => !n.endsWith(".shp") || name === "shp");

      await t.step("an unknown EPSG code is rejected", async () => {
        const l = await landing("crs-unknown", [
          {
            name: "a.geojson",
            from: `${dir}/lonlat.geojson`,
            type: "vector",
            format: "geojson",
            crs: "EPSG:999999",
          },
        ]);
        await using _store = l.store;
        const problems = await assertQuarantined(
          l,
          "crs-unknown",
          await runBatch(l, "crs-unknown"),
        );
        assert.equal(problems[0]!.code, "unknown_crs");
        assert.match(problems[0]!.message, /EPSG:999999.*crs not found/);
        assert.equal(problems[0]!.file, "crs-unknown/a.geojson");
      });

      await t.step("a Shapefile whose .prj disagrees names both CRSs", async () => {
        const l = await landing("crs-shp", [
          {
            name: "counties.shp",
            from: `${SAMPLE}/counties.shp`,
            type: "vector",
            format: "shapefile",
            crs: "EPSG:4326",
          },
        ], shp("sidecars"));
        await using _store = l.store;
        const problems = await assertQuarantined(l, "crs-shp", await runBatch(l, "crs-shp"));
        assert.equal(problems[0]!.code, "crs_mismatch");
        assert.match(problems[0]!.message, /EPSG:32100.*declares EPSG:4326/);
      });

      await t.step("lon/lat GeoJSON declared in UTM is rejected", async () => {
        const l = await landing("crs-utm", [
          {
            name: "a.geojson",
            from: `${dir}/lonlat.geojson`,
            type: "vector",
            format: "geojson",
            crs: "EPSG:32612",
          },
        ]);
        await using _store = l.store;
        const problems = await assertQuarantined(l, "crs-utm", await runBatch(l, "crs-utm"));
        assert.equal(problems[0]!.code, "crs_mismatch");
        assert.match(problems[0]!.message, /EPSG:4326.*declares EPSG:32612/);
      });

      await t.step("a Shapefile without .prj gets the declared CRS, recorded as such", async () => {
        const l = await landing("crs-none", [
          {
            name: "counties.shp",
            from: `${SAMPLE}/counties.shp`,
            type: "vector",
            format: "shapefile",
            crs: "EPSG:32100",
          },
        ], shp("sidecars").filter(([n]) => !n.endsWith(".prj")));
        await using _store = l.store;
        const [doc] = await assertDone(l, "crs-none", await runBatch(l, "crs-none"));
        const meta = SpatialLedgerMetadata.parse(doc!.metadata);
        assert.equal(meta.source_crs, "EPSG:32100");
        assert.equal(meta.crs_source, "declared");
        assert.ok(meta.bbox![0] > -116 && meta.bbox![2] < -104, JSON.stringify(meta.bbox));
      });

      await t.step(
        "a CRS-less float raster with NaN nodata gets the declared CRS in the COG",
        async () => {
          // Raw float32 pixels (NaN in a corner) with an ESRI .hdr: no CRS anywhere.
          const pixels = new Float32Array(40 * 30).map((_, i) => i);
          for (const i of [0, 1, 2, 40, 41, 42]) pixels[i] = NaN;
          await Deno.writeFile(`${dir}/nocrs.bil`, new Uint8Array(pixels.buffer));
          await Deno.writeTextFile(
            `${dir}/nocrs.hdr`,
            "NROWS 30\nNCOLS 40\nNBANDS 1\nNBITS 32\nPIXELTYPE FLOAT\nBYTEORDER I\n" +
              "ULXMAP -11999950\nULYMAP 5699950\nXDIM 100\nYDIM 100\n",
          );
          await sh(
            "gdal_translate",
            "-q",
            "-a_nodata",
            "nan",
            `${dir}/nocrs.bil`,
            `${dir}/nocrs.tif`,
          );
          const made = await new Deno.Command("gdalinfo", { args: [`${dir}/nocrs.tif`] }).output();
          assert.doesNotMatch(new TextDecoder().decode(made.stdout), /Coordinate System is:\n\S/);
          assert.match(new TextDecoder().decode(made.stdout), /NoData Value=nan/);
          const l = await landing("crs-raster", [
            {
              name: "nocrs.tif",
              from: `${dir}/nocrs.tif`,
              type: "raster",
              format: "geotiff",
              crs: "EPSG:3857",
            },
          ]);
          await using _store = l.store;
          const result = await runBatch(l, "crs-raster");
          const [doc] = await assertDone(l, "crs-raster", result);
          const meta = SpatialLedgerMetadata.parse(doc!.metadata);
          assert.equal(meta.crs, "EPSG:3857");
          assert.equal(meta.crs_source, "declared");
          assert.notEqual(meta.bbox, null);
          // The lake object carries the CRS too (read back by Debian's GDAL).
          await using cog = await download(l.store, LAKE, doc!.key);
          const out = await new Deno.Command("gdalsrsinfo", { args: ["-o", "epsg", cog.file] })
            .output();
          assert.match(new TextDecoder().decode(out.stdout), /EPSG:3857/);
          // Every check passed (lineage included), before the batch was archived.
          const raster = result.steps.find((s) => s.assetKey === "spatial/raster_cog")!;
          assert.ok(raster.checks.every((c) => c.passed), JSON.stringify(raster.checks));
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "spatial inputs: bad data is quarantined with GDAL's own message, never published",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "inputs-bad-" });
    try {
      const fc = (features: unknown[]) => JSON.stringify({ type: "FeatureCollection", features });
      const feature = (geometry: unknown) => ({ type: "Feature", properties: { n: 1 }, geometry });
      await Deno.writeTextFile(
        `${dir}/nan.geojson`,
        fc([feature({ type: "Point", coordinates: [1, 2] })]).replace("[1,2]", "[NaN,1e999]"),
      );
      await Deno.writeTextFile(
        `${dir}/far.geojson`,
        fc([feature({ type: "Point", coordinates: [500, 100] })]),
      );
      await Deno.writeTextFile(`${dir}/empty.geojson`, fc([]));
      const shp = await Deno.readFile(`${SAMPLE}/counties.shp`);
      await Deno.writeFile(`${dir}/counties.shp`, shp.subarray(0, Math.floor(shp.length / 2)));
      const tif = await Deno.readFile(`${SAMPLE}/dem.tif`);
      const corrupt = tif.slice();
      corrupt.fill(0xff, 8, 400);
      await Deno.writeFile(`${dir}/corrupt.tif`, corrupt);
      await Deno.writeFile(`${dir}/truncated.tif`, tif.subarray(0, Math.floor(tif.length / 3)));

      const cases: [string, Upload, RegExp, [string, string][]?][] = [
        ["nan", {
          name: "nan.geojson",
          from: `${dir}/nan.geojson`,
          type: "vector",
          format: "geojson",
          crs: "EPSG:4326",
        }, /EMPTY geometries/],
        ["far", {
          name: "far.geojson",
          from: `${dir}/far.geojson`,
          type: "vector",
          format: "geojson",
          crs: "EPSG:4326",
        }, /outside the CRS's area of use/],
        ["empty", {
          name: "empty.geojson",
          from: `${dir}/empty.geojson`,
          type: "vector",
          format: "geojson",
          crs: "EPSG:4326",
        }, /no (features|layer with geometries)/],
        [
          "trunc-shp",
          {
            name: "counties.shp",
            from: `${dir}/counties.shp`,
            type: "vector",
            format: "shapefile",
            crs: "EPSG:32100",
          },
          /fread|shape|\.shp/i,
          ["shx", "dbf", "prj"].map((
            e,
          ): [string, string] => [`counties.${e}`, `${SAMPLE}/counties.${e}`]),
        ],
        ["corrupt-tif", {
          name: "corrupt.tif",
          from: `${dir}/corrupt.tif`,
          type: "raster",
          format: "geotiff",
          crs: "EPSG:32612",
        }, /TIFF|not recognized|cannot open/i],
        ["trunc-tif", {
          name: "truncated.tif",
          from: `${dir}/truncated.tif`,
          type: "raster",
          format: "geotiff",
          crs: "EPSG:32612",
        }, /TIFF|read|IReadBlock/i],
      ];
      for (const [batch, upload, pattern, extra] of cases) {
        await t.step(batch, async () => {
          const l = await landing(batch, [upload], extra ?? []);
          await using _store = l.store;
          const problems = await assertQuarantined(l, batch, await runBatch(l, batch));
          const text = problems.map((p) => p.message).join(" ");
          assert.match(text, pattern);
          assert.ok(
            problems.some((p) => p.file === `${batch}/${upload.name}`) ||
              text.includes(`${batch}/${upload.name}`),
            `the report names the user's file: ${text}`,
          );
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "spatial inputs: GeoTIFFs with every compression GDAL offers become COGs; JPEG on wasm says so",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "inputs-tiff-" });
    try {
      const dem = `${SAMPLE}/dem.tif`;
      const byteDem = `${dir}/dem8.tif`;
      await sh("gdal_translate", "-q", "-ot", "Byte", "-scale", dem, byteDem);
      // WEBP takes 3 or 4 bands only.
      const rgbDem = `${dir}/dem_rgb.tif`;
      await sh("gdal_translate", "-q", "-b", "1", "-b", "1", "-b", "1", byteDem, rgbDem);
      const compressions = [
        "NONE",
        "LZW",
        "PACKBITS",
        "DEFLATE",
        "LZMA",
        "ZSTD",
        "LERC",
        "LERC_DEFLATE",
        "LERC_ZSTD",
        "WEBP",
        "JPEG",
      ];
      const uploads: Upload[] = [];
      for (const c of compressions) {
        const source = c === "WEBP" ? rgbDem : c === "JPEG" ? byteDem : dem;
        await sh(
          "gdal_translate",
          "-q",
          "-co",
          `COMPRESS=${c}`,
          "-co",
          "TILED=YES",
          source,
          `${dir}/${c}.tif`,
        );
        uploads.push({
          name: `${c.toLowerCase()}.tif`,
          from: `${dir}/${c}.tif`,
          type: "raster",
          format: "geotiff",
          crs: "EPSG:32612",
        });
      }
      // A JPEG-compressed COG (a valid COG is a valid GeoTIFF input).
      await sh(
        "gdal_translate",
        "-q",
        "-of",
        "COG",
        "-co",
        "COMPRESS=JPEG",
        byteDem,
        `${dir}/jpeg_cog.tif`,
      );
      uploads.push({
        name: "jpeg_cog.tif",
        from: `${dir}/jpeg_cog.tif`,
        type: "raster",
        format: "geotiff",
        crs: "EPSG:32612",
      });

      if (NATIVE) {
        await t.step(
          "native engine: every one is published, pixels equal to GDAL's own conversion",
          async () => {
            const l = await landing("tiff-native", uploads);
            await using _store = l.store;
            const result = await runBatch(l, "tiff-native", {}, { gdal: nativeGdal(NATIVE!) });
            const docs = await assertDone(l, "tiff-native", result);
            assert.equal(docs.length, uploads.length);
            for (const doc of docs) {
              await using cog = await download(l.store, LAKE, doc.key);
              const name = doc.key.split("/").pop()!;
              const source = uploads.find((u) => u.name === name)!.from;
              const checksum = async (file: string) => {
                const out = await new Deno.Command("gdalinfo", {
                  args: ["-json", "-checksum", file],
                }).output();
                return (JSON.parse(new TextDecoder().decode(out.stdout)).bands as {
                  checksum: number;
                }[])
                  .map((b) => b.checksum);
              };
              // Lossless sources keep every pixel; lossy ones (JPEG, WEBP, LERC) are decoded once
              // and re-encoded losslessly, so the COG equals GDAL's decoding of the source.
              assert.deepEqual(await checksum(cog.file), await checksum(source), name);
            }
          },
        );
      }

      await t.step(
        "wasm engine: a JPEG file is reported as a missing codec with the remedy, not quarantined",
        async () => {
          const l = await landing("tiff-wasm", uploads.filter((u) => u.name.startsWith("jpeg")));
          await using _store = l.store;
          const result = await runBatch(l, "tiff-wasm", {}, { gdal: wasmGdal });
          const problems = await assertPendingForNative(l, "tiff-wasm", result);
          assert.match(problems[0]!.message, /lacks the JPEG codec.*GDAL_ENGINE=native/);
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "spatial inputs: what GDAL would read silently wrong is caught, what it reads right passes",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "inputs-silent-" });
    try {
      const collection = (features: unknown[]) =>
        JSON.stringify({
          type: "FeatureCollection",
          features: features.map((f, i) => ({
            type: "Feature",
            properties: { n: i, ...(f as { p?: object }).p },
            geometry: (f as { g: unknown }).g,
          })),
        });
      const write = async (name: string, text: string) => {
        await Deno.writeTextFile(`${dir}/${name}`, text);
        return `${dir}/${name}`;
      };
      const upload = (name: string, from: string, format = "geojson"): Upload => ({
        name,
        from,
        type: "vector",
        format,
        crs: "EPSG:4326",
      });
      const good: [string, Upload, (docs: Awaited<ReturnType<typeof assertDone>>) => void][] = [
        [
          // A class code named `id`, repeated: not a key (native GDAL made it the FID).
          "repeated-id",
          upload(
            "classes.geojson",
            await write(
              "classes.geojson",
              collection([
                { p: { id: 1 }, g: { type: "Point", coordinates: [-110, 45] } },
                { p: { id: 1 }, g: { type: "Point", coordinates: [-111, 45] } },
              ]),
            ),
          ),
          (docs) => assert.equal(SpatialLedgerMetadata.parse(docs[0]!.metadata).feature_count, 2),
        ],
        [
          // GPS exports: lon/lat with heights (GDAL says EPSG:4979, the 3D WGS 84).
          "with-heights",
          upload(
            "track.geojson",
            await write(
              "track.geojson",
              collection([{
                g: { type: "LineString", coordinates: [[-110, 45, 1200], [-110.1, 45.1, 1250]] },
              }]),
            ),
          ),
          (docs) => {
            const meta = SpatialLedgerMetadata.parse(docs[0]!.metadata);
            assert.deepEqual(meta.geometry_types, ["LineString Z"]);
            assert.equal(meta.source_crs, "EPSG:4326");
          },
        ],
        [
          // Features without geometry really have none: published as NULL.
          "real-nulls",
          upload(
            "mixed.geojson",
            await write(
              "mixed.geojson",
              collection([{ g: null }, { g: { type: "Point", coordinates: [-110, 45] } }]),
            ),
          ),
          (docs) => assert.equal(SpatialLedgerMetadata.parse(docs[0]!.metadata).feature_count, 2),
        ],
        [
          "csv-empty-cell",
          upload(
            "sites.csv",
            await write("sites.csv", 'id,WKT\n1,"POINT (-110 45)"\n2,\n'),
            "csv",
          ),
          (docs) => assert.equal(SpatialLedgerMetadata.parse(docs[0]!.metadata).feature_count, 2),
        ],
      ];
      const bad: [string, Upload][] = [
        [
          // No "geometry" member at all (RFC 7946 asks for one, null when none).
          "feature-without-geometry",
          upload(
            "nogeom.geojson",
            await write(
              "nogeom.geojson",
              JSON.stringify({
                type: "FeatureCollection",
                features: [
                  { type: "Feature", properties: { n: 1 } },
                  {
                    type: "Feature",
                    properties: { n: 2 },
                    geometry: { type: "Point", coordinates: [7.1, 45.1] },
                  },
                ],
              }),
            ),
            "geojson",
          ),
        ],
        [
          "csv-bad-wkt",
          upload(
            "parcels.csv",
            await write(
              "parcels.csv",
              'id,WKT\n1,"POINT (abc def)"\n2,"POLYGON ((1 2, 3"\n3,POINT\n4,"POINT (-110 45)"\n',
            ),
            "csv",
          ),
        ],
        [
          "csv-bad-xy",
          upload(
            "stations.csv",
            await write("stations.csv", "id,lon,lat\n1,-110,45\n2,east,45\n"),
            "csv",
          ),
        ],
        [
          // Coordinates GDAL cannot make a geometry of (it reads them as NULL);
          // an empty Point [] beside them is EMPTY, not unreadable (matrix_test.ts).
          "point-bad-coordinates",
          upload(
            "bad.geojson",
            await write(
              "bad.geojson",
              collection([
                { g: { type: "Point", coordinates: [-110] } },
                { g: { type: "Point", coordinates: [] } },
                { g: { type: "Point", coordinates: [-110, 45] } },
                { g: null },
              ]),
            ),
          ),
        ],
      ];
      for (const [kind, gdal] of engines) {
        for (const [name, file, check] of good) {
          await t.step(`${kind}: ${name} is published`, async () => {
            const batch = `${name}-${kind}`;
            const l = await landing(batch, [{ ...file }]);
            await using _store = l.store;
            check(await assertDone(l, batch, await runBatch(l, batch, {}, { gdal })));
          });
        }
        for (const [name, file] of bad) {
          await t.step(`${kind}: ${name} is quarantined, naming the file`, async () => {
            const batch = `${name}-${kind}`;
            const l = await landing(batch, [file]);
            await using _store = l.store;
            const problems = await runQuarantined(l, batch, gdal);
            const text = problems.map((p) => p.message).join(" ");
            assert.match(text, /geometries GDAL could not read/);
            // Said in the file's own terms: GeoJSON has no WKT.
            if (file.format === "geojson") {
              assert.match(text, /a Feature without its "geometry" member.*"geometry": null/);
              assert.doesNotMatch(text, /WKT/);
            }
            assert.ok(text.includes(`${batch}/${file.name}`), text);
          });
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
