/**
 * Raster VRTs (`_vrt.ts`): a `gdalbuildvrt` mosaic whose tiles are in its
 * batch is published as one COG, its tiles staged, recorded and archived with
 * it; a VRT reading anything outside its batch is refused before GDAL opens
 * it (every VRT was refused before, even one of the batch's own tiles).
 */

import assert from "node:assert/strict";
import { vrtSources } from "../../../assets/spatial/_vrt.ts";
import { keysOf } from "../../../assets/spatial/_batch.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import { SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";
import { download, LAKE, LANDING, runBatch } from "./_fixtures.ts";
import { assertDone, assertQuarantined, engines, gdalinfo, landing, sh } from "./_batches.ts";
import { GDAL_PYTHON, needs } from "../../_helpers/tools.ts";

const ignore = await needs("gdal");

const source = (path: string, relative = "1", name = "SourceFilename") =>
  `<VRTDataset rasterXSize="2" rasterYSize="2"><VRTRasterBand dataType="Byte" band="1">` +
  `<SimpleSource><${name} relativeToVRT="${relative}">${path}</${name}><SourceBand>1</SourceBand>` +
  `</SimpleSource></VRTRasterBand></VRTDataset>`;

Deno.test("vrtSources: the tiles a VRT names relative to itself, in its folder or below", () => {
  assert.deepEqual(vrtSources(source("tiles/a.tif")), { sources: ["tiles/a.tif"] });
  // GDAL reads a VRT's names without regard to case.
  assert.deepEqual(
    vrtSources(
      `<?xml version="1.0"?><vrtdataset><VRTRasterBand><SimpleSource>` +
        `<sourcefilename RELATIVETOVRT="1">a b é.tif</sourcefilename></SimpleSource>` +
        `<ComplexSource><SourceFilename relativeToVRT="1">a b é.tif</SourceFilename>` +
        `</ComplexSource></VRTRasterBand></vrtdataset>`,
    ),
    { sources: ["a b é.tif"] },
  );
  // A warped VRT's source dataset.
  assert.deepEqual(
    vrtSources(
      `<VRTDataset subClass="VRTWarpedDataset"><GDALWarpOptions>` +
        `<SourceDataset relativeToVRT="1">dem.tif</SourceDataset></GDALWarpOptions></VRTDataset>`,
    ),
    { sources: ["dem.tif"] },
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
  const ogr = vrtSources(`<OGRVRTDataSource><OGRVRTLayer name="a"/></OGRVRTDataSource>`);
  assert.ok("why" in ogr && /OGR VRT .*ogr2ogr -f GPKG/.test(ogr.why));
  const broken = vrtSources(`<VRTDataset><VRTRasterBand></VRTDataset>`);
  assert.ok("why" in broken && /not well-formed XML/.test(broken.why), JSON.stringify(broken));
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
          const problems = await assertQuarantined(
            l,
            batch,
            await runBatch(l, batch, {}, { gdal }),
          );
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
          const problems = await assertQuarantined(
            l,
            batch,
            await runBatch(l, batch, {}, { gdal }),
          );
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
