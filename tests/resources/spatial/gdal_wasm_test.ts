/**
 * The wasm engine's pool of gdal3.js instances (worker threads): calls made
 * at once all finish, each with its own answer; a call whose failure escapes
 * gdal3.js's promises fails alone with its message, and the next call gets a
 * working instance.
 */

import assert from "node:assert/strict";
import { GdalError } from "../../../resources/spatial/gdal.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";

function points(n: number): string {
  return JSON.stringify({
    type: "FeatureCollection",
    features: Array.from({ length: n }, (_, i) => ({
      type: "Feature",
      properties: { i },
      geometry: { type: "Point", coordinates: [i * 0.001, 1] },
    })),
  });
}

Deno.test("wasm engine: more calls at once than instances all finish, each with its own answer", async () => {
  await using scratch = await wasmGdal.createScratch();
  assert.ok((wasmGdal.parallelism ?? 0) >= 1);
  const counts = [3, 50, 7, 120, 1];
  for (const [i, n] of counts.entries()) {
    await Deno.writeTextFile(scratch.hostPath(`p${i}.geojson`), points(n));
  }
  const converted = await Promise.all(counts.map(async (_, i) => {
    const out = await scratch.gdal.ogr2ogr(
      scratch.gdalPath(`p${i}.geojson`),
      ["-f", "GPKG", "-nln", "p"],
      `out${i}`,
    );
    return (await scratch.gdal.vectorInfo(out)).layers[0]!.featureCount;
  }));
  assert.deepEqual(converted, counts);
});

Deno.test("wasm engine: a failure escaping gdal3.js fails its call with the message; the next call works", async () => {
  await using scratch = await wasmGdal.createScratch();
  await Deno.writeTextFile(scratch.hostPath("a.geojson"), points(2));
  // A path outside the shared folder: gdal3.js tries to mount its folder and
  // its file system throws outside the call's promise.
  const error = await scratch.gdal.vectorInfo(`/vsisubfile/0_10,${scratch.gdalPath("a.geojson")}`, {
    label: "b1/a.geojson",
  }).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof GdalError, String(error));
  assert.match(error.message, /'b1\/a\.geojson'.*FS error/);
  const info = await scratch.gdal.vectorInfo(scratch.gdalPath("a.geojson"));
  assert.equal(info.layers[0]!.featureCount, 2);
});
