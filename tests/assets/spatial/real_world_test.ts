/**
 * Inputs shaped like the files users bring, made here with Debian's GDAL,
 * through `group:spatial` on every engine reachable: a multi-layer
 * GeoPackage, a Shapefile in Windows-1252 with a `.cpg`, a GeoJSON mixing
 * every geometry type (and a null one), a table of huge and many attributes,
 * a BigTIFF, a three-band int16 raster with nodata, a rotated raster, and
 * rasters in odd CRSs. Each either publishes outputs equal to native GDAL's
 * own conversion of the same file (vectors: ogr2ogr to GeoJSON, compared
 * feature by feature; rasters: gdal_translate -of COG, compared by checksum,
 * type, nodata and geotransform), or is quarantined with a report naming the
 * user's file.
 */

import assert from "node:assert/strict";
import { cogOptions } from "../../../assets/spatial/raster.ts";
import { SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";
import { download, LAKE, runBatch } from "./_fixtures.ts";
import {
  assertDone,
  assertQuarantined,
  assertSameFeatures,
  docNamed,
  engines,
  gdalinfo,
  landing,
  NATIVE,
  nativeFeatures,
  ourFeatures,
  rasterFacts,
  sh,
  type Upload,
} from "./_batches.ts";
import { needs } from "../../_helpers/tools.ts";

// Debian's GDAL makes the inputs and the reference conversions.
const ignore = await needs("gdal");

Deno.test({
  name:
    "real-world vectors: multi-layer GeoPackage, Windows-1252 Shapefile, mixed GeoJSON, huge attributes",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "real-world-vectors-" });
    try {
      // A GeoPackage with three geometry layers, an empty one and a plain table.
      const collection = (features: unknown[]) =>
        JSON.stringify({ type: "FeatureCollection", features });
      const feature = (properties: Record<string, unknown>, geometry: unknown) => ({
        type: "Feature",
        properties,
        geometry,
      });
      await Deno.writeTextFile(
        `${dir}/roads.geojson`,
        collection(
          Array.from(
            { length: 40 },
            (_, i) =>
              feature({ ref: `R${i}`, lanes: i % 4 + 1, speed: 50 + i / 3 }, {
                type: "LineString",
                coordinates: [[-110 + i / 100, 45], [-110 + i / 100, 45.1 + i / 1000]],
              }),
          ),
        ),
      );
      await Deno.writeTextFile(
        `${dir}/parcels.geojson`,
        collection(Array.from({ length: 25 }, (_, i) => {
          const x = -111 + i / 50;
          return feature({ parcel: i, owner: i % 3 ? "county" : null }, {
            type: "Polygon",
            // Every fifth a bowtie, which is made valid (GDAL's GEOS, as native).
            coordinates: [
              i % 5 === 0
                ? [[x, 45], [x + 0.01, 45.01], [x + 0.01, 45], [x, 45.01], [x, 45]]
                : [[x, 45], [x + 0.01, 45], [x + 0.01, 45.01], [x, 45.01], [x, 45]],
            ],
          });
        })),
      );
      await Deno.writeTextFile(
        `${dir}/pois.geojson`,
        collection(
          Array.from({ length: 15 }, (_, i) =>
            feature({ kind: ["spring", "peak", "hut"][i % 3] }, {
              type: "Point",
              coordinates: [-112 + i / 10, 46 + i / 20],
            })),
        ),
      );
      await Deno.writeTextFile(`${dir}/visits.csv`, "day,count\n2026-01-01,4\n2026-01-02,9\n");
      const gpkg = `${dir}/region.gpkg`;
      await sh("ogr2ogr", "-f", "GPKG", gpkg, `${dir}/roads.geojson`, "-nln", "roads");
      for (const layer of ["parcels", "pois"]) {
        await sh(
          "ogr2ogr",
          "-update",
          "-f",
          "GPKG",
          gpkg,
          `${dir}/${layer}.geojson`,
          "-nln",
          layer,
        );
      }
      await sh(
        "ogr2ogr",
        "-update",
        "-f",
        "GPKG",
        gpkg,
        `${dir}/pois.geojson`,
        "-nln",
        "planned",
        "-where",
        "kind = 'none'",
      );
      await sh("ogr2ogr", "-update", "-f", "GPKG", gpkg, `${dir}/visits.csv`, "-nln", "visits");

      // A Shapefile in Windows-1252 (its .cpg says so) with accents and ligatures.
      await Deno.writeTextFile(
        `${dir}/names.geojson`,
        collection([
          feature({ name: "Café Zürich", n: 1 }, { type: "Point", coordinates: [8.54, 47.37] }),
          feature({ name: "Ñandú Straße", n: 2 }, { type: "Point", coordinates: [-58.4, -34.6] }),
          feature({ name: "Œuvre « déjà vu »", n: 3 }, {
            type: "Point",
            coordinates: [2.35, 48.85],
          }),
        ]),
      );
      await sh(
        "ogr2ogr",
        "-f",
        "ESRI Shapefile",
        "-lco",
        "ENCODING=CP1252",
        `${dir}/places.shp`,
        `${dir}/names.geojson`,
      );
      const dbf = await Deno.readFile(`${dir}/places.dbf`);
      assert.ok(dbf.includes(0xe9) && dbf.includes(0x8c), "the .dbf really is Windows-1252");

      // Every geometry type in one GeoJSON, a hole, a collection, and a feature without geometry.
      await Deno.writeTextFile(
        `${dir}/mixed.geojson`,
        collection([
          feature({ k: "point" }, { type: "Point", coordinates: [-110, 45] }),
          feature({ k: "multipoint" }, {
            type: "MultiPoint",
            coordinates: [[-110, 45], [-109, 46]],
          }),
          feature({ k: "line" }, { type: "LineString", coordinates: [[-110, 45], [-109, 46]] }),
          feature({ k: "multiline" }, {
            type: "MultiLineString",
            coordinates: [[[-110, 45], [-109, 46]], [[-108, 45], [-107, 46]]],
          }),
          feature({ k: "holed" }, {
            type: "Polygon",
            coordinates: [
              [[-110, 45], [-109, 45], [-109, 46], [-110, 46], [-110, 45]],
              [[-109.8, 45.2], [-109.8, 45.8], [-109.2, 45.8], [-109.2, 45.2], [-109.8, 45.2]],
            ],
          }),
          feature({ k: "multipolygon" }, {
            type: "MultiPolygon",
            coordinates: [
              [[[-108, 45], [-107, 45], [-107, 46], [-108, 45]]],
              [[[-106, 45], [-105, 45], [-105, 46], [-106, 45]]],
            ],
          }),
          feature({ k: "collection" }, {
            type: "GeometryCollection",
            geometries: [{ type: "Point", coordinates: [-104, 45] }, {
              type: "LineString",
              coordinates: [[-104, 45], [-103, 46]],
            }],
          }),
          feature({ k: "nothing" }, null),
        ]),
      );

      // Many and huge attributes: 120 columns, and a 40 kB text in every row.
      const columns = Array.from({ length: 120 }, (_, c) => `c${c}`);
      const long = (row: number) => `${row}:`.padEnd(40_000, "lorem ipsum ");
      const csvRows = Array.from({ length: 300 }, (_, r) =>
        [
          r,
          `"POINT (${-110 + r / 1000} ${45 + r / 1000})"`,
          ...columns.map((_, c) => (c % 2 ? r * c : `v${r}_${c}`)),
          `"${long(r)}"`,
        ].join(","));
      await Deno.writeTextFile(
        `${dir}/wide.csv`,
        `id,wkt,${columns.join(",")},notes\n${csvRows.join("\n")}\n`,
      );

      const uploads: Upload[] = [
        { name: "region.gpkg", from: gpkg, type: "vector", format: "geopackage", crs: "EPSG:4326" },
        {
          name: "places.shp",
          from: `${dir}/places.shp`,
          type: "vector",
          format: "shapefile",
          crs: "EPSG:4326",
        },
        {
          name: "mixed.geojson",
          from: `${dir}/mixed.geojson`,
          type: "vector",
          format: "geojson",
          crs: "EPSG:4326",
        },
        {
          name: "wide.csv",
          from: `${dir}/wide.csv`,
          type: "vector",
          format: "csv",
          crs: "EPSG:4326",
          open_options: ["AUTODETECT_TYPE=YES"],
        },
      ];
      const sidecars = ["shx", "dbf", "prj", "cpg"].map((e): [string, string] => [
        `places.${e}`,
        `${dir}/places.${e}`,
      ]);
      for (const [kind, gdal] of engines) {
        await t.step(`${kind} engine: published, equal to native GDAL's conversion`, async () => {
          const batch = `real-vectors-${kind}`;
          const l = await landing(batch, uploads, sidecars);
          await using _store = l.store;
          const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
          const key = (name: string) => docNamed(docs, name).key;
          // Each geometry layer of the GeoPackage is its own GeoParquet; the empty
          // layer and the table without geometries are left out.
          assert.deepEqual(
            docs.map((d) => d.key.split("/").pop()).filter((n) => n!.startsWith("region")).sort(),
            ["region__parcels.parquet", "region__pois.parquet", "region__roads.parquet"],
          );
          for (const layer of ["roads", "parcels", "pois"]) {
            assertSameFeatures(
              await ourFeatures(l, key(`region__${layer}.parquet`)),
              await nativeFeatures(dir, gpkg, { layer, makeValid: layer !== "pois" }),
              `region.gpkg ${layer}`,
            );
          }
          const parcels = SpatialLedgerMetadata.parse(
            docNamed(docs, "region__parcels.parquet").metadata,
          );
          assert.deepEqual(
            parcels.geometry_types,
            ["MultiPolygon", "Polygon"],
            "bowties made valid",
          );

          const places = await ourFeatures(l, key("places.parquet"));
          assert.deepEqual(places.map((f) => f.properties.name), [
            "Café Zürich",
            "Ñandú Straße",
            "Œuvre « déjà vu »",
          ]);
          assertSameFeatures(
            places,
            await nativeFeatures(dir, `${dir}/places.shp`, { makeValid: false }),
            "places.shp",
          );

          const mixed = await ourFeatures(l, key("mixed.parquet"));
          assertSameFeatures(mixed, await nativeFeatures(dir, `${dir}/mixed.geojson`), "mixed");
          assert.equal(mixed.at(-1)!.geometry, null, "a feature without geometry stays so");
          assert.deepEqual(
            SpatialLedgerMetadata.parse(docNamed(docs, "mixed.parquet").metadata).geometry_types,
            [
              "GeometryCollection",
              "LineString",
              "MultiLineString",
              "MultiPoint",
              "MultiPolygon",
              "Point",
              "Polygon",
            ],
          );

          const wide = await ourFeatures(l, key("wide.parquet"));
          assert.equal(wide.length, 300);
          assert.equal(Object.keys(wide[0]!.properties).length, 122, "id, 120 columns, notes");
          wide.forEach((f, r) => {
            assert.equal(f.properties.notes, long(r));
            assert.equal(f.properties.c7, BigInt(r * 7));
            assert.equal(f.properties.c8, `v${r}_8`);
          });
        });
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "real-world rasters: BigTIFF, int16 bands with nodata, rotated, odd CRSs",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "real-world-rasters-" });
    try {
      /** A raw int16 raster wrapped in a VRT, turned into a GeoTIFF with `options`. */
      const raster = async (
        name: string,
        spec: { bands: number; srs: string; transform: number[]; nodata?: number },
        options: string[],
      ) => {
        const [w, h] = [600, 400];
        const pixels = new Int16Array(w * h * spec.bands);
        for (let b = 0; b < spec.bands; b++) {
          for (let i = 0; i < w * h; i++) {
            const v = ((i % w) * (7 + b) + Math.floor(i / w) * 13) % 3000 - 800;
            // A corner of nodata, as a real DEM has outside its survey.
            pixels[b * w * h + i] = spec.nodata !== undefined && i % w < 40 && i < w * 30
              ? spec.nodata
              : v;
          }
        }
        await Deno.writeFile(`${dir}/${name}.raw`, new Uint8Array(pixels.buffer));
        const bands = Array.from(
          { length: spec.bands },
          (_, b) =>
            `<VRTRasterBand dataType="Int16" band="${b + 1}" subClass="VRTRawRasterBand">` +
            `<SourceFilename relativetoVRT="1">${name}.raw</SourceFilename>` +
            `<ImageOffset>${b * w * h * 2}</ImageOffset><PixelOffset>2</PixelOffset>` +
            `<LineOffset>${w * 2}</LineOffset><ByteOrder>LSB</ByteOrder>` +
            (spec.nodata !== undefined ? `<NoDataValue>${spec.nodata}</NoDataValue>` : "") +
            "</VRTRasterBand>",
        ).join("");
        const srs = spec.srs.replaceAll("&", "&amp;").replaceAll("<", "&lt;");
        await Deno.writeTextFile(
          `${dir}/${name}.vrt`,
          `<VRTDataset rasterXSize="${w}" rasterYSize="${h}"><SRS>${srs}</SRS>` +
            `<GeoTransform>${spec.transform.join(", ")}</GeoTransform>${bands}</VRTDataset>`,
        );
        await sh("gdal_translate", "-q", ...options, `${dir}/${name}.vrt`, `${dir}/${name}.tif`);
        return `${dir}/${name}.tif`;
      };
      const utm = [500000, 10, 0, 5000000, 0, -10];
      const big = await raster("big", { bands: 1, srs: "EPSG:32612", transform: utm }, [
        "-co",
        "BIGTIFF=YES",
        "-co",
        "TILED=YES",
        "-co",
        "COMPRESS=LZW",
      ]);
      assert.deepEqual(
        [...(await Deno.readFile(big)).subarray(0, 4)],
        [0x49, 0x49, 0x2b, 0x00],
        "a BigTIFF (version 43)",
      );
      const bands = await raster(
        "bands",
        { bands: 3, srs: "EPSG:32612", transform: utm, nodata: -9999 },
        ["-co", "INTERLEAVE=BAND"],
      );
      const rotated = await raster(
        "rotated",
        { bands: 1, srs: "EPSG:32612", transform: [500000, 10, 3, 5000000, 2, -10] },
        [],
      );
      const laea = await raster("laea", {
        bands: 1,
        srs: "EPSG:3035",
        transform: [4321000, 25, 0, 3210000, 0, -25],
      }, []);
      const uploads: Upload[] = [
        { name: "big.tif", from: big, type: "raster", format: "geotiff", crs: "EPSG:32612" },
        { name: "bands.tif", from: bands, type: "raster", format: "geotiff", crs: "EPSG:32612" },
        {
          name: "rotated.tif",
          from: rotated,
          type: "raster",
          format: "geotiff",
          crs: "EPSG:32612",
        },
        { name: "laea.tif", from: laea, type: "raster", format: "geotiff", crs: "EPSG:3035" },
      ];
      for (const [kind, gdal] of engines) {
        await t.step(
          `${kind} engine: published, pixels and layout equal to native GDAL's COG`,
          async () => {
            const batch = `real-rasters-${kind}`;
            const l = await landing(batch, uploads);
            await using _store = l.store;
            const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
            assert.equal(docs.length, uploads.length);
            for (const upload of uploads) {
              const doc = docNamed(docs, upload.name);
              await using ours = await download(l.store, LAKE, doc.key);
              const native = `${dir}/native-${upload.name}`;
              await sh("gdal_translate", "-q", ...cogOptions(NATIVE ?? "0"), upload.from, native);
              const [mine, theirs] = [
                rasterFacts(await gdalinfo(ours.file)),
                rasterFacts(await gdalinfo(native)),
              ];
              assert.deepEqual(mine, theirs, upload.name);
              assert.equal(mine.layout, "COG", upload.name);
              const meta = SpatialLedgerMetadata.parse(doc.metadata);
              assert.equal(meta.crs, upload.crs, upload.name);
              assert.ok(
                meta.bbox && meta.bbox.every(Number.isFinite),
                `${upload.name}: a footprint`,
              );
            }
            // The nodata value is kept on every band (the ledger says it too).
            const bandsMeta = SpatialLedgerMetadata.parse(docNamed(docs, "bands.tif").metadata);
            const summary = bandsMeta.raster as {
              bands: { type: string; nodata: number; min: number | null; max: number | null }[];
            };
            // Band statistics on every engine (GDAL 3.6's COG driver cannot make them: -stats does).
            for (const band of summary.bands) {
              assert.ok(typeof band.min === "number" && typeof band.max === "number", kind);
              assert.ok(band.min > -9999, "nodata pixels are not counted");
            }
            assert.deepEqual(summary.bands.map((b) => [b.type, b.nodata]), [
              ["Int16", -9999],
              ["Int16", -9999],
              ["Int16", -9999],
            ]);
          },
        );
      }

      await t.step(
        "a raster in a CRS without an EPSG code cannot match its declaration",
        async () => {
          const custom = await raster("custom", {
            bands: 1,
            srs: "+proj=omerc +lat_0=46 +lonc=-110 +alpha=30 +gamma=30 +k=0.9996 +x_0=0 +y_0=0 " +
              "+datum=WGS84 +units=m +no_defs",
            transform: [0, 10, 0, 0, 0, -10],
          }, []);
          const l = await landing("odd-crs", [
            {
              name: "custom.tif",
              from: custom,
              type: "raster",
              format: "geotiff",
              crs: "EPSG:32612",
            },
          ]);
          await using _store = l.store;
          const problems = await assertQuarantined(l, "odd-crs", await runBatch(l, "odd-crs"));
          assert.equal(problems[0]!.code, "crs_mismatch");
          assert.equal(problems[0]!.file, "odd-crs/custom.tif");
          assert.match(
            problems[0]!.message,
            /'odd-crs\/custom\.tif' is in a CRS without code .* declares EPSG:32612/,
          );
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
