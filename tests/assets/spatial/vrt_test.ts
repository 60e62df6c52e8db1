/**
 * VRTs (`_vrt.ts`): a `gdalbuildvrt` mosaic whose tiles are in its batch is
 * published as one COG, an OGR VRT over the batch's Shapefile, CSV or
 * GeoPackage as GeoParquet, their sources staged, recorded and archived with
 * them; a VRT reading anything outside its batch is refused before GDAL opens
 * it (every VRT was refused before, even one of the batch's own files, and
 * every OGR VRT until session 12).
 */

import assert from "node:assert/strict";
import { vrtSources } from "../../../assets/spatial/_vrt.ts";
import { keysOf } from "../../../assets/spatial/_batch.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import { SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";
import { download, LAKE, LANDING, runBatch } from "./_fixtures.ts";
import {
  assertDone,
  assertPendingForNative,
  assertSameFeatures,
  engines,
  gdalinfo,
  landing,
  nativeFeatures,
  ourFeatures,
  runQuarantined,
  sh,
} from "./_batches.ts";
import { GDAL_PYTHON, needs } from "../../_helpers/tools.ts";

const ignore = await needs("gdal");

const source = (path: string, relative = "1", name = "SourceFilename") =>
  `<VRTDataset rasterXSize="2" rasterYSize="2"><VRTRasterBand dataType="Byte" band="1">` +
  `<SimpleSource><${name} relativeToVRT="${relative}">${path}</${name}><SourceBand>1</SourceBand>` +
  `</SimpleSource></VRTRasterBand></VRTDataset>`;

Deno.test("vrtSources: the tiles a VRT names relative to itself, in its folder or below", () => {
  assert.deepEqual(vrtSources(source("tiles/a.tif")), { sources: ["tiles/a.tif"], kind: "raster" });
  // GDAL reads a VRT's names without regard to case.
  assert.deepEqual(
    vrtSources(
      `<?xml version="1.0"?><vrtdataset><VRTRasterBand><SimpleSource>` +
        `<sourcefilename RELATIVETOVRT="1">a b é.tif</sourcefilename></SimpleSource>` +
        `<ComplexSource><SourceFilename relativeToVRT="1">a b é.tif</SourceFilename>` +
        `</ComplexSource></VRTRasterBand></vrtdataset>`,
    ),
    { sources: ["a b é.tif"], kind: "raster" },
  );
  // A warped VRT's source dataset.
  assert.deepEqual(
    vrtSources(
      `<VRTDataset subClass="VRTWarpedDataset"><GDALWarpOptions>` +
        `<SourceDataset relativeToVRT="1">dem.tif</SourceDataset></GDALWarpOptions></VRTDataset>`,
    ),
    { sources: ["dem.tif"], kind: "raster" },
  );
});

Deno.test("vrtSources: any file outside the VRT's folder is refused, naming it", () => {
  for (
    const [xml, named] of [
      [source("/etc/passwd", "0"), "'/etc/passwd'"],
      [source("/etc/passwd"), "'/etc/passwd'"],
      [source("a.tif", "0"), "'a.tif'"],
      [source("../other-batch/a.tif"), "'../other-batch/a.tif'"],
      [source("tiles/../../a.tif"), "'tiles/../../a.tif'"],
      [source("/vsicurl/http://example.org/a.tif"), "/vsicurl/"],
      [source("vrt://a.tif?bands=1"), "vrt://"],
      [source('NETCDF:"a.nc":tas'), "NETCDF:"],
      [source("C:\\data\\a.tif"), "C:"],
      [source("a.tif", "1", "sourceFILENAME").replace("a.tif", "../a.tif"), "'../a.tif'"],
      [source("a.tif").replace(">a.tif<", "><![CDATA[../a.tif]]><"), "'../a.tif'"],
      [
        source("a.tif").replace(
          "</SimpleSource>",
          "</SimpleSource><PixelFunctionLanguage>" +
            "Python</PixelFunctionLanguage><PixelFunctionCode>import os</PixelFunctionCode>",
        ),
        "a Python pixel function",
      ],
    ] as const
  ) {
    const read = vrtSources(xml);
    assert.ok("why" in read, `${xml}: refused`);
    assert.ok(read.why.includes(named), `${read.why} names ${named}`);
    assert.match(read.why, /gdal_translate -of COG/);
  }
  const dtd = vrtSources(
    `<!DOCTYPE x [<!ENTITY p "../a.tif">]>` + source("&p;"),
  );
  assert.ok("why" in dtd && /DTD/.test(dtd.why));
  const broken = vrtSources(`<VRTDataset><VRTRasterBand></VRTDataset>`);
  assert.ok("why" in broken && /not well-formed XML/.test(broken.why), JSON.stringify(broken));
});

const layer = (body: string, relative = "1") =>
  `<OGRVRTDataSource><OGRVRTLayer name="roads"><SrcDataSource relativeToVRT="${relative}">` +
  `${body}</SrcDataSource></OGRVRTLayer></OGRVRTDataSource>`;

Deno.test("vrtSources: an OGR VRT's files of its folder, in layers, union and warped layers", () => {
  assert.deepEqual(vrtSources(layer("shp/roads.shp")), {
    sources: ["shp/roads.shp"],
    kind: "vector",
  });
  // Before: refused as "reads './roads.shp', not a file beside it".
  assert.deepEqual(vrtSources(layer("./roads.shp")), { sources: ["roads.shp"], kind: "vector" });
  assert.deepEqual(vrtSources(source("./tiles/a.tif")), {
    sources: ["tiles/a.tif"],
    kind: "raster",
  });
  assert.deepEqual(
    vrtSources(
      `<OGRVRTDataSource><OGRVRTWarpedLayer><OGRVRTUnionLayer name="all">` +
        `<OGRVRTLayer name="a"><srcdatasource RELATIVETOVRT="1">a.shp</srcdatasource>` +
        `<LayerSRS>EPSG:4326</LayerSRS></OGRVRTLayer>` +
        `<OGRVRTLayer name="b"><SrcDataSource relativeToVRT="1" shared="1">b.csv</SrcDataSource>` +
        `<OpenOptions><OOI key="X_POSSIBLE_NAMES">lon</OOI></OpenOptions>` +
        `<LayerSRS>GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]]]` +
        `</LayerSRS><GeometryField encoding="PointFromColumns" x="lon" y="lat"/></OGRVRTLayer>` +
        `</OGRVRTUnionLayer><TargetSRS>urn:ogc:def:crs:EPSG::3857</TargetSRS>` +
        `</OGRVRTWarpedLayer></OGRVRTDataSource>`,
    ),
    { sources: ["a.shp", "b.csv"], kind: "vector" },
  );
});

Deno.test("vrtSources: an OGR VRT naming a file elsewhere, running SQL or reading a CRS file is refused", () => {
  for (
    const [xml, named] of [
      [layer("/etc/passwd", "0"), "'/etc/passwd'"],
      [layer("roads.shp", "0"), "'roads.shp'"],
      [layer("../other-batch/roads.shp"), "'../other-batch/roads.shp'"],
      [layer("./../roads.shp"), "'./../roads.shp'"],
      [layer("shp/./roads.shp"), "'shp/./roads.shp'"],
      [layer("PG:dbname=x"), "'PG:dbname=x'"],
      [layer("/vsizip/roads.zip/roads.shp"), "/vsizip/"],
      [
        layer("roads.shp").replace("</SrcDataSource>", "</SrcDataSource><SrcSQL>SELECT 1</SrcSQL>"),
        "runs SQL",
      ],
      [
        layer("roads.shp").replace(
          "</SrcDataSource>",
          '</SrcDataSource><SrcSQL dialect="OGRSQL">SELECT * FROM roads LEFT JOIN ' +
            "'/etc/x.dbf'.x ON a = b</SrcSQL>",
        ),
        "runs SQL",
      ],
      [
        layer("roads.shp").replace(
          "</SrcDataSource>",
          "</SrcDataSource><LayerSRS>/etc/x.prj</LayerSRS>",
        ),
        "reads its CRS from '/etc/x.prj'",
      ],
      [
        layer("roads.shp").replace(
          "</SrcDataSource>",
          "</SrcDataSource><LayerSRS>roads.prj</LayerSRS>",
        ),
        "reads its CRS from 'roads.prj'",
      ],
      [
        layer("roads.shp").replace(
          "</SrcDataSource>",
          "</SrcDataSource><LayerSRS>+init=/etc/x:1</LayerSRS>",
        ),
        "reads its CRS from '+init=/etc/x:1'",
      ],
      [
        layer("roads.shp").replace(
          "</SrcDataSource>",
          "</SrcDataSource><OpenOptions><OOI key=\"PRELUDE_STATEMENTS\">ATTACH '/etc/x' AS x" +
            "</OOI></OpenOptions>",
        ),
        "sets the open option 'PRELUDE_STATEMENTS'",
      ],
    ] as const
  ) {
    const read = vrtSources(xml);
    assert.ok("why" in read, `${xml}: refused`);
    assert.ok(read.why.includes(named), `${read.why} names ${named}`);
    assert.match(read.why, /ogr2ogr -f GPKG layers\.gpkg layers\.vrt/);
  }
});

Deno.test("keysOf: a mosaic's tiles and their sidecars, each folder listed once", async () => {
  await using store = new MemoryObjectStore();
  await store.ensureBucket(LANDING);
  const put = (key: string) => store.put(LANDING, key, new Uint8Array([1]));
  const tiles = Array.from({ length: 60 }, (_, i) => `tiles/t${i}.tif`);
  const xml = `<VRTDataset>${
    tiles.map((t) =>
      `<SimpleSource><SourceFilename relativeToVRT="1">${t}</SourceFilename></SimpleSource>`
    )
      .join("")
  }</VRTDataset>`;
  await store.put(LANDING, "b/mosaic.vrt", new TextEncoder().encode(xml));
  for (const t of tiles) await put(`b/${t}`);
  await put("b/tiles/t0.tif.aux.xml");
  await put("b/tiles/other.txt");
  let listings = 0;
  const listAll = store.listAll.bind(store);
  store.listAll = (...args: Parameters<typeof listAll>) => {
    listings++;
    return listAll(...args);
  };
  const keys = await keysOf(store, LANDING, {
    path: "b/mosaic.vrt",
    type: "raster",
    format: "gdal:VRT",
    crs: "EPSG:32612",
  });
  assert.deepEqual(
    keys.sort(),
    ["b/mosaic.vrt", ...tiles.map((t) => `b/${t}`), "b/tiles/t0.tif.aux.xml"].sort(),
  );
  // The batch folder and tiles/, each in the landing zone and the archive (122 before).
  assert.equal(listings, 4);
});

Deno.test({
  name: "spatial VRT: a mosaic of the batch's own tiles is one COG; one reading outside is refused",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "vrt-test-" });
    try {
      await Deno.mkdir(`${dir}/tiles`);
      // Two UTM tiles side by side (a gradient each), and gdalbuildvrt's mosaic beside their folder.
      await sh(
        GDAL_PYTHON,
        "-c",
        `from osgeo import gdal, osr
import struct
s = osr.SpatialReference(); s.ImportFromEPSG(32612)
for i, name in enumerate(["a", "b"]):
    ds = gdal.GetDriverByName("GTiff").Create("${dir}/tiles/%s.tif" % name, 32, 32, 1, gdal.GDT_Byte)
    ds.SetGeoTransform([500000 + i * 960, 30, 0, 5000960, 0, -30]); ds.SetSpatialRef(s)
    ds.GetRasterBand(1).WriteRaster(0, 0, 32, 32, bytes((x * 7 + y * 3 + i * 50) % 256 for y in range(32) for x in range(32)))
    ds = None`,
      );
      await sh(
        "gdalbuildvrt",
        "-q",
        `${dir}/mosaic.vrt`,
        `${dir}/tiles/a.tif`,
        `${dir}/tiles/b.tif`,
      );
      const reference = await gdalinfo(`${dir}/mosaic.vrt`);
      for (const [engine, gdal] of engines) {
        await t.step(`${engine}: published, its tiles recorded and archived`, async () => {
          const batch = `vrt-mosaic-${engine}`;
          const l = await landing(batch, [{
            name: "mosaic.vrt",
            from: `${dir}/mosaic.vrt`,
            type: "raster",
            format: "gdal:VRT",
            crs: "EPSG:32612",
          }], [["tiles/a.tif", `${dir}/tiles/a.tif`], ["tiles/b.tif", `${dir}/tiles/b.tif`]]);
          await using _store = l.store;
          const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
          assert.equal(docs.length, 1);
          const meta = SpatialLedgerMetadata.parse(docs[0]!.metadata);
          assert.deepEqual(meta.source_files.map((f) => f.key).sort(), [
            `${batch}/mosaic.vrt`,
            `${batch}/tiles/a.tif`,
            `${batch}/tiles/b.tif`,
          ]);
          for (const tile of ["a", "b"]) {
            assert.ok(await l.store.head(LANDING, `archive/${batch}/tiles/${tile}.tif`));
            assert.equal(await l.store.head(LANDING, `${batch}/tiles/${tile}.tif`), undefined);
          }
          await using local = await download(l.store, LAKE, docs[0]!.key);
          const cog = await gdalinfo(local.file);
          assert.deepEqual(cog.size, reference.size);
          assert.deepEqual(cog.geoTransform, reference.geoTransform);
          const sums = (info: Record<string, unknown>) =>
            (info.bands as { checksum: number }[]).map((b) => b.checksum);
          assert.deepEqual(sums(cog), sums(reference));
        });
        await t.step(`${engine}: a VRT reading another batch's file is quarantined`, async () => {
          const batch = `vrt-outside-${engine}`;
          const xml = (await Deno.readTextFile(`${dir}/mosaic.vrt`)).replace(
            "tiles/b.tif",
            `../vrt-mosaic-${engine}/tiles/b.tif`,
          );
          await Deno.writeTextFile(`${dir}/outside.vrt`, xml);
          const l = await landing(batch, [{
            name: "outside.vrt",
            from: `${dir}/outside.vrt`,
            type: "raster",
            format: "gdal:VRT",
            crs: "EPSG:32612",
          }], [["tiles/a.tif", `${dir}/tiles/a.tif`]]);
          await using _store = l.store;
          const problems = await runQuarantined(l, batch, gdal);
          assert.equal(problems[0]?.code, "content_mismatch");
          assert.match(
            problems[0]!.message,
            /outside\.vrt' .* VRT file that reads '\.\.\/vrt-mosaic-\w+\/tiles\/b\.tif', not a file beside it in the batch/,
          );
        });
        await t.step(`${engine}: a tile not uploaded is named`, async () => {
          const batch = `vrt-missing-${engine}`;
          const l = await landing(batch, [{
            name: "mosaic.vrt",
            from: `${dir}/mosaic.vrt`,
            type: "raster",
            format: "gdal:VRT",
            crs: "EPSG:32612",
          }], [["tiles/a.tif", `${dir}/tiles/a.tif`]]);
          await using _store = l.store;
          const problems = await runQuarantined(l, batch, gdal);
          assert.match(
            problems[0]!.message,
            /mosaic\.vrt' .*reads 'tiles\/b\.tif', which is not in the batch; upload the files/,
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
    "spatial OGR VRT: layers over the batch's Shapefile and CSV are published as ogr2ogr reads them",
  ignore,
  fn: async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "ogr-vrt-test-" });
    try {
      await Deno.mkdir(`${dir}/shp`);
      await sh(
        GDAL_PYTHON,
        "-c",
        `from osgeo import ogr, osr
s = osr.SpatialReference(); s.ImportFromEPSG(4326)
ds = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource("${dir}/shp/roads.shp")
l = ds.CreateLayer("roads", s, ogr.wkbLineString)
l.CreateField(ogr.FieldDefn("name", ogr.OFTString))
for i in range(3):
    f = ogr.Feature(l.GetLayerDefn()); f.SetField("name", "road %d" % i)
    f.SetGeometry(ogr.CreateGeometryFromWkt("LINESTRING (%d 45, %d 46.5)" % (i, i + 1))); l.CreateFeature(f)
ds = None`,
      );
      await Deno.writeTextFile(
        `${dir}/stops.csv`,
        "id,lon,lat,label\n1,10.5,45.1,a\n2,11.25,46.2,b\n",
      );
      // As GIS tutorials write them: a layer per file, the CSV's columns as points.
      await Deno.writeTextFile(
        `${dir}/layers.vrt`,
        `<OGRVRTDataSource>
  <OGRVRTLayer name="roads"><SrcDataSource relativeToVRT="1">shp/roads.shp</SrcDataSource></OGRVRTLayer>
  <OGRVRTLayer name="stops">
    <SrcDataSource relativeToVRT="1">stops.csv</SrcDataSource>
    <GeometryType>wkbPoint</GeometryType><LayerSRS>EPSG:4326</LayerSRS>
    <GeometryField encoding="PointFromColumns" x="lon" y="lat"/>
  </OGRVRTLayer>
</OGRVRTDataSource>`,
      );
      await Deno.writeTextFile(
        `${dir}/wrong.vrt`,
        `<OGRVRTDataSource><OGRVRTLayer name="roads"><SrcDataSource relativeToVRT="1">` +
          `shp/roads.shp</SrcDataSource><SrcLayer>rivers</SrcLayer></OGRVRTLayer></OGRVRTDataSource>`,
      );
      await sh(
        GDAL_PYTHON,
        new URL("./_matrix_inputs.py", import.meta.url).pathname,
        dir,
        "v_shp_bad_dates",
      );
      await Deno.writeTextFile(
        `${dir}/dates.vrt`,
        `<OGRVRTDataSource><OGRVRTLayer name="days"><SrcDataSource relativeToVRT="1">` +
          `v_shp_bad_dates.shp</SrcDataSource><SrcLayer>v_shp_bad_dates</SrcLayer></OGRVRTLayer>` +
          `</OGRVRTDataSource>`,
      );
      // A DOS-era .dbf: code page 437 said only by its language driver id (gdal3.js cannot recode it).
      await sh(
        GDAL_PYTHON,
        new URL("./_matrix_inputs.py", import.meta.url).pathname,
        dir,
        "v_shp_ldid_01",
      );
      await Deno.writeTextFile(
        `${dir}/dos.vrt`,
        `<OGRVRTDataSource><OGRVRTLayer name="towns"><SrcDataSource relativeToVRT="1">` +
          `v_shp_ldid_01.shp</SrcDataSource><SrcLayer>v_shp_ldid_01</SrcLayer></OGRVRTLayer>` +
          `</OGRVRTDataSource>`,
      );
      // Cut off in transfer inside its last row (no line end, 2 of 4 columns).
      await Deno.writeTextFile(`${dir}/cut.csv`, "id,lon,lat,label\n1,10.5,45.1,a\n2,11.2");
      await Deno.writeTextFile(
        `${dir}/cut.vrt`,
        (await Deno.readTextFile(`${dir}/layers.vrt`)).replace("stops.csv", "cut.csv"),
      );
      const sources: [string, string][] = [
        ...["shp", "shx", "dbf", "prj"].map((e): [string, string] => [
          `shp/roads.${e}`,
          `${dir}/shp/roads.${e}`,
        ]),
        ["stops.csv", `${dir}/stops.csv`],
      ];
      for (const [engine, gdal] of engines) {
        await t.step(
          `${engine}: a GeoParquet per layer, its sources recorded and archived`,
          async () => {
            const batch = `ogr-vrt-${engine}`;
            const l = await landing(batch, [{
              name: "layers.vrt",
              from: `${dir}/layers.vrt`,
              type: "vector",
              format: "gdal:OGR_VRT",
              crs: "EPSG:4326",
            }], sources);
            await using _store = l.store;
            const docs = await assertDone(l, batch, await runBatch(l, batch, {}, { gdal }));
            assert.deepEqual(docs.map((d) => d.key.split("/").pop()).sort(), [
              "layers__roads.parquet",
              "layers__stops.parquet",
            ]);
            for (const name of ["roads", "stops"]) {
              const doc = docs.find((d) => d.key.endsWith(`__${name}.parquet`))!;
              assertSameFeatures(
                await ourFeatures(l, doc.key),
                await nativeFeatures(dir, `${dir}/layers.vrt`, { layer: name }),
                `${engine} ${name}`,
              );
              const meta = SpatialLedgerMetadata.parse(doc.metadata);
              assert.deepEqual(
                meta.source_files.map((f) => f.key).sort(),
                [`${batch}/layers.vrt`, ...sources.map(([key]) => `${batch}/${key}`)].sort(),
              );
            }
            for (const [key] of sources) {
              assert.ok(await l.store.head(LANDING, `archive/${batch}/${key}`), key);
            }
          },
        );
        await t.step(`${engine}: a CSV cut off in transfer is refused`, async () => {
          // Before: published through the VRT with the last point at 11.2 and no latitude.
          const batch = `ogr-vrt-cut-${engine}`;
          const l = await landing(batch, [{
            name: "cut.vrt",
            from: `${dir}/cut.vrt`,
            type: "vector",
            format: "gdal:OGR_VRT",
            crs: "EPSG:4326",
          }], [...sources.filter(([key]) => key !== "stops.csv"), ["cut.csv", `${dir}/cut.csv`]]);
          await using _store = l.store;
          const problems = await runQuarantined(l, batch, gdal);
          assert.match(
            problems[0]!.message,
            /cut\.vrt' .*reads the CSV 'cut\.csv', whose last row \(.*\) has 2 of the header's 4 columns/,
          );
        });
        await t.step(`${engine}: a Shapefile whose dates are not dates is refused`, async () => {
          // Before: published through the VRT with the dates garbled, refused when uploaded alone.
          const batch = `ogr-vrt-dates-${engine}`;
          const l = await landing(
            batch,
            [{
              name: "dates.vrt",
              from: `${dir}/dates.vrt`,
              type: "vector",
              format: "gdal:OGR_VRT",
              crs: "EPSG:4326",
            }],
            ["shp", "shx", "dbf", "prj", "cpg"].map((e): [string, string] => [
              `v_shp_bad_dates.${e}`,
              `${dir}/v_shp_bad_dates.${e}`,
            ]),
          );
          await using _store = l.store;
          const problems = await runQuarantined(l, batch, gdal);
          assert.match(
            problems[0]!.message,
            /dates\.vrt' .*reads the Shapefile 'v_shp_bad_dates\.shp', whose \.dbf holds Date values that are not dates \(field 'day', row 1: '20241345'/,
          );
        });
        await t.step(`${engine}: a code page 437 Shapefile: native publishes it`, async () => {
          // Before: gdal3.js quarantined it (content_mismatch, text not UTF-8), where the
          // same Shapefile alone waits for the native engine, which reads it.
          const batch = `ogr-vrt-dos-${engine}`;
          const l = await landing(
            batch,
            [{
              name: "dos.vrt",
              from: `${dir}/dos.vrt`,
              type: "vector",
              format: "gdal:OGR_VRT",
              crs: "EPSG:4326",
            }],
            ["shp", "shx", "dbf", "prj"].map((e): [string, string] => [
              `v_shp_ldid_01.${e}`,
              `${dir}/v_shp_ldid_01.${e}`,
            ]),
          );
          await using _store = l.store;
          const result = await runBatch(l, batch, {}, { gdal });
          if (engine === "wasm") {
            const [problem] = await assertPendingForNative(l, batch, result);
            assert.match(
              problem!.message,
              /dos\.vrt' \(layer 'towns'\): its text is in the code page its Shapefile 'v_shp_ldid_01\.shp' \(its \.dbf's language driver id 0x01\) names/,
            );
          } else {
            const docs = await assertDone(l, batch, result);
            const names = (await ourFeatures(l, docs[0]!.key)).map((f) => f.properties.name);
            assert.deepEqual(names, ["Zürich", "Straße"]);
          }
        });
        await t.step(
          `${engine}: a source GDAL cannot read is named by its landing key`,
          async () => {
            const batch = `ogr-vrt-wrong-${engine}`;
            const l = await landing(batch, [{
              name: "wrong.vrt",
              from: `${dir}/wrong.vrt`,
              type: "vector",
              format: "gdal:OGR_VRT",
              crs: "EPSG:4326",
            }], sources);
            await using _store = l.store;
            const problems = await runQuarantined(l, batch, gdal);
            assert.match(
              problems[0]!.message,
              new RegExp(`wrong\\.vrt' .*layer 'rivers' on datasource '${batch}/shp/roads\\.shp'`),
            );
          },
        );
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
