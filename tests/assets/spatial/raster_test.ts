/** Raster batches to Cloud Optimized GeoTIFF, checked by Debian's gdalinfo. */

import assert from "node:assert/strict";
import { processRasterBatch } from "../../../assets/spatial/raster.ts";
import { processVectorBatch } from "../../../assets/spatial/vector.ts";
import { SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";
import { stacItem } from "../../../assets/spatial/stac.ts";
import { archiveFiles, loadBatch } from "../../../assets/spatial/_batch.ts";
import { batchRun, download, LAKE, LANDING, sampleLanding } from "./_fixtures.ts";
import { engines, landing as landingOf, runQuarantined } from "./_batches.ts";
import { needs } from "../../_helpers/tools.ts";
import { wasmGdal } from "../../../resources/spatial/mod.ts";

async function gdalinfo(file: string): Promise<{ text: string; json: Record<string, unknown> }> {
  const run = async (args: string[]) => {
    const out = await new Deno.Command("gdalinfo", { args: [...args, file] }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout);
  };
  return { text: await run([]), json: JSON.parse(await run(["-json"])) };
}

Deno.test("raster batch: GeoTIFF to COG with footprint, CRS, size, bands and statistics", async (t) => {
  const landing = await sampleLanding("ras1");
  await using _store = landing.store;
  const common = batchRun(landing, "ras1");
  const outputs = await processRasterBatch(common);
  assert.deepEqual(outputs.map((o) => [o.key, o.width, o.height, o.bands, o.crs]), [
    ["montana/ras1/dem.tif", 64, 64, 1, "EPSG:32612"],
  ]);

  await t.step({
    name: "Debian gdalinfo sees a tiled, compressed COG",
    ignore: await needs("gdal"),
    fn: async () => {
      await using file = await download(landing.store, LAKE, "montana/ras1/dem.tif");
      const { text, json } = await gdalinfo(file.file);
      assert.match(text, /LAYOUT=COG/);
      assert.match(text, /COMPRESSION=DEFLATE/);
      const band = (json.bands as { block: number[] }[])[0]!;
      assert.deepEqual(band.block, [512, 512]);
    },
  });

  await t.step("the ledger document holds the raster summary and lineage", async () => {
    const doc = await landing.ledger.get(outputs[0]!.docId);
    const head = await landing.store.head(LAKE, doc.key);
    assert.equal(head?.metadata.mongodb_doc_id, doc.id);
    assert.equal(doc.format, "cog");
    const meta = SpatialLedgerMetadata.parse(doc.metadata);
    assert.equal(meta.crs, "EPSG:32612");
    const [xmin, ymin, xmax, ymax] = meta.bbox!;
    // The footprint is given in WGS 84 degrees, around Montana.
    assert.ok(xmin > -112 && xmax < -110 && ymin > 45 && ymax < 46, `${meta.bbox}`);
    const raster = meta.raster as { bands: { min: number; max: number; mean: number }[] };
    assert.ok(raster.bands[0]!.min >= 1400 && raster.bands[0]!.max <= 2500, JSON.stringify(raster));
  });

  await t.step("once archived, a re-run reads the archive and gives the same outputs", async () => {
    await processVectorBatch(common);
    // Neither asset archives: the landing files are all still there.
    assert.ok(await landing.store.head(LANDING, "manifests/ras1.json"));
    const batch = await loadBatch(landing.store, LANDING, "ras1", "run-ras1");
    await archiveFiles(landing.store, LANDING, batch, batch.manifest.files);
    assert.equal(await landing.store.head(LANDING, "manifests/ras1.json"), undefined);
    assert.ok(await landing.store.head(LANDING, "archive/ras1/manifest.json"));
    const left = await Array.fromAsync(landing.store.listAll(LANDING, { prefix: "ras1/" }));
    assert.deepEqual(left, []);
    const again = await processRasterBatch(common);
    assert.deepEqual(again.map((o) => o.docId), outputs.map((o) => o.docId));
  });
});

Deno.test("raster batch: a raster larger than a tile gets overviews", {
  ignore: await needs("gdal"),
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const dem = new URL("../../../sample_data/spatial/montana-sample/dem.tif", import.meta.url);
    const out = await new Deno.Command("gdal_translate", {
      args: ["-q", "-outsize", "1500", "1500", dem.pathname, `${dir}/big.tif`],
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const landing = await sampleLanding("ras2", (m) => ({
      ...m,
      files: [{ path: "ras2/big.tif", type: "raster", format: "geotiff", crs: "EPSG:32612" }],
    }));
    await using _store = landing.store;
    await landing.store.put(LANDING, "ras2/big.tif", await Deno.readFile(`${dir}/big.tif`));
    const [output] = await processRasterBatch(batchRun(landing, "ras2"));
    await using file = await download(landing.store, LAKE, output!.key);
    const { text, json } = await gdalinfo(file.file);
    assert.match(text, /LAYOUT=COG/);
    const band = (json.bands as { overviews?: { size: number[] }[] }[])[0]!;
    assert.deepEqual(band.overviews?.map((o) => o.size), [[750, 750], [375, 375]]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a raster-only batch: the vector asset has nothing to do and opens no GDAL scratch", async () => {
  const landing = await sampleLanding("ras-only", (m) => ({
    ...m,
    files: (m.files as { type: string }[]).filter((f) => f.type === "raster"),
  }));
  await using _store = landing.store;
  let scratches = 0;
  // The same GDAL, counting the scratch folders asked for (each costs a GDAL start on wasm).
  const gdal = new Proxy(wasmGdal, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target);
      if (prop === "createScratch") {
        return () => {
          scratches++;
          return target.createScratch();
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  assert.deepEqual(await processVectorBatch(batchRun(landing, "ras-only", { gdal })), []);
  assert.equal(scratches, 0);
  const rasters = await processRasterBatch(batchRun(landing, "ras-only", { gdal }));
  assert.equal(rasters.length, 1);
  assert.equal(scratches, 1);
});

/** The sample DEM made into `name` in scratch by gdal3.js with `options`, its bytes (no native GDAL needed). */
async function demVariant(options: string[]): Promise<Uint8Array> {
  await using scratch = await wasmGdal.createScratch();
  const dem = new URL("../../../sample_data/spatial/montana-sample/dem.tif", import.meta.url);
  await Deno.writeFile(scratch.hostPath("dem.tif"), await Deno.readFile(dem));
  const out = await scratch.gdal.translate(
    scratch.gdalPath("dem.tif"),
    ["-of", "GTiff", ...options],
    "variant",
  );
  return await Deno.readFile(scratch.toHost(out));
}

/** Publishes `files` (name, bytes, declared format and CRS) as one raster batch on gdal3.js. */
async function publishRasters(
  batch: string,
  files: {
    name: string;
    bytes: Uint8Array;
    format?: string;
    crs: string;
    sidecars?: [string, Uint8Array][];
  }[],
) {
  const landing = await sampleLanding(batch, (m) => ({
    ...m,
    files: files.map((f) => ({
      path: `${batch}/${f.name}`,
      type: "raster",
      format: f.format ?? "geotiff",
      crs: f.crs,
    })),
  }));
  for (const f of files) {
    await landing.store.put(LANDING, `${batch}/${f.name}`, f.bytes);
    for (const [name, bytes] of f.sidecars ?? []) {
      await landing.store.put(LANDING, `${batch}/${name}`, bytes);
    }
  }
  const outputs = await processRasterBatch(batchRun(landing, batch));
  const metas = await Promise.all(
    outputs.map(async (o) =>
      SpatialLedgerMetadata.parse((await landing.ledger.get(o.docId)).metadata)
    ),
  );
  return { landing, outputs, metas };
}

Deno.test("raster batch: the lon/lat box of a projected raster follows its edges and reaches a pole it covers", async () => {
  const grid = (srs: string, ullr: number[]) =>
    demVariant(["-a_srs", srs, "-a_ullr", ...ullr.map(String)]);
  const { landing, metas } = await publishRasters("ras-poles", [
    // NSIDC's sea-ice grid and an Antarctic DEM, centred on their pole.
    {
      name: "arctic.tif",
      bytes: await grid("EPSG:3413", [-3e6, 3e6, 3e6, -3e6]),
      crs: "EPSG:3413",
    },
    {
      name: "antarctic.tif",
      bytes: await grid("EPSG:3031", [-3e6, 3e6, 3e6, -3e6]),
      crs: "EPSG:3031",
    },
    // NLCD's CONUS grid in Albers: its top edge bows north of its corners (49.2°N).
    {
      name: "conus.tif",
      bytes: await grid("EPSG:5070", [-2493045, 3310005, 2342655, 177285]),
      crs: "EPSG:5070",
    },
  ]);
  await using _store = landing.store;
  const [arctic, antarctic, conus] = metas.map((m) => m.bbox!);
  // GDAL's TransformBounds of the same grids: (-180, 52.2117, 180, 90), (-180, -90, 180, -52.3171).
  assert.deepEqual([arctic![0], arctic![2], arctic![3]], [-180, 180, 90], `${arctic}`);
  assert.ok(Math.abs(arctic![1] - 52.2117) < 1e-3, `${arctic}`);
  assert.deepEqual([antarctic![0], antarctic![1], antarctic![2]], [-180, -90, 180], `${antarctic}`);
  assert.ok(Math.abs(antarctic![3] + 52.3171) < 1e-3, `${antarctic}`);
  // TransformBounds: (-130.2328, 21.7423, -63.6722, 52.8733); the corners' north was 49.18.
  const want = [-130.2328, 21.7423, -63.6722, 52.8733];
  conus!.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) < 1e-3, `${conus} vs ${want}`));
});

Deno.test("raster batch: a float band holding infinities has no statistics rather than text in their place", async () => {
  // ENVI, written by hand: 4x2 Float32 with +inf and -inf among the values.
  const values = new Float32Array([1.5, 2.5, Infinity, -Infinity, 3.5, 4.5, 5.5, 6.5]);
  const header = [
    "ENVI",
    "samples = 4",
    "lines = 2",
    "bands = 1",
    "header offset = 0",
    "file type = ENVI Standard",
    "data type = 4",
    "interleave = bsq",
    "byte order = 0",
    "map info = {UTM, 1, 1, 500000, 5000000, 30, 30, 12, North, WGS-84}",
    "",
  ].join("\n");
  const { landing, outputs, metas } = await publishRasters("ras-inf", [{
    name: "ratio.dat",
    bytes: new Uint8Array(values.buffer),
    format: "gdal:ENVI",
    crs: "EPSG:32612",
    sidecars: [["ratio.hdr", new TextEncoder().encode(header)]],
  }]);
  await using _store = landing.store;
  const band = (metas[0]!.raster as { bands: Record<string, unknown>[] }).bands[0]!;
  // GDAL's minimum and maximum are -Infinity and Infinity, which JSON numbers cannot hold
  // (they were recorded as text); what is recorded is a number or nothing.
  assert.deepEqual([band.min, band.max], [null, null], JSON.stringify(band));
  for (const v of [band.mean, band.std_dev]) assert.ok(v === null || Number.isFinite(v), `${v}`);
  const item = stacItem(await landing.ledger.get(outputs[0]!.docId)) as {
    assets: { data: { "raster:bands": { statistics: unknown }[] } };
  };
  const statistics = item.assets.data["raster:bands"][0]!.statistics as Record<string, unknown>;
  assert.ok(!("minimum" in statistics) && !("maximum" in statistics), JSON.stringify(statistics));
  assert.ok(Object.values(statistics).every(Number.isFinite), JSON.stringify(statistics));
});

Deno.test("raster batch: a raster declared by another code of its own CRS is published in the file's", async () => {
  const mercator = await demVariant([
    ...["-a_srs", "EPSG:3857"],
    ...["-a_ullr", "-12245000", "5621000", "-12244000", "5620000"],
  ]);
  const { landing, outputs } = await publishRasters("ras-3785", [
    // EPSG:3785, the old code of Web Mercator: GDAL resolves it, and reads it in a GeoTIFF, as
    // EPSG:3857 (refused before: "is in EPSG:3857 but the manifest declares EPSG:3785").
    { name: "tiles.tif", bytes: mercator, crs: "EPSG:3785" },
    // EPSG:900913, which GDAL knows and PROJ's database does not: the same definition.
    { name: "google.tif", bytes: mercator, crs: "EPSG:900913" },
    // New York Long Island in US feet declared by ArcGIS's code, whose definition names the
    // two standard parallels in the other order (refused before as a CRS mismatch).
    {
      name: "nyc.tif",
      bytes: await demVariant([
        ...["-a_srs", "EPSG:2263"],
        ...["-a_ullr", "980000", "200000", "981000", "199000"],
      ]),
      crs: "ESRI:102718",
    },
  ]);
  await using _store = landing.store;
  assert.deepEqual(outputs.map((o) => o.crs), ["EPSG:3857", "EPSG:3857", "EPSG:2263"]);
});

Deno.test("raster batch: a geotransform whose pixels have no size is refused, not published at one point", async (t) => {
  // Before: published on both engines, all 16 pixels at one place (bbox a point).
  const dir = await Deno.makeTempDir({ prefix: "ras-zero-pixel-" });
  try {
    await Deno.writeFile(`${dir}/flat.dat`, new Uint8Array(16).fill(3));
    await Deno.writeTextFile(
      `${dir}/flat.hdr`,
      [
        "ENVI",
        "samples = 4",
        "lines = 4",
        "bands = 1",
        "header offset = 0",
        "file type = ENVI Standard",
        "data type = 1",
        "interleave = bsq",
        "byte order = 0",
        "map info = {UTM, 1, 1, 500000, 5400000, 0, 0, 32, North, WGS-84}",
        "",
      ].join("\n"),
    );
    for (const [engine, gdal] of engines) {
      await t.step(engine, async () => {
        const batch = `ras-zero-pixel-${engine}`;
        const l = await landingOf(batch, [{
          name: "flat.dat",
          from: `${dir}/flat.dat`,
          type: "raster",
          format: "gdal:ENVI",
          crs: "EPSG:32632",
        }], [["flat.hdr", `${dir}/flat.hdr`]]);
        await using _store = l.store;
        const problems = await runQuarantined(l, batch, gdal);
        assert.equal(problems[0]?.code, "content_mismatch", problems[0]?.message);
        assert.match(
          problems[0]!.message,
          /flat\.dat' has a geotransform whose pixels have no size .*gdal_edit\.py -a_ullr .* flat\.dat\) and upload it again/,
        );
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
