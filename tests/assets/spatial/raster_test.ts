/** Raster batches to Cloud Optimized GeoTIFF, checked by Debian's gdalinfo. */

import assert from "node:assert/strict";
import { processRasterBatch } from "../../../assets/spatial/raster.ts";
import { processVectorBatch } from "../../../assets/spatial/vector.ts";
import { SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";
import { archiveFiles, loadBatch } from "../../../assets/spatial/_batch.ts";
import { batchRun, download, LAKE, LANDING, sampleLanding } from "./_fixtures.ts";
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
