// Child process of the owned-folder tests (TMPDIR is the test's folder):
//   convert             native GDAL: a scratch folder, then a conversion of
//                       many points; says "converting" as it starts and
//                       waits to be killed (during or after it).
//   hammer ROUNDS LANES native GDAL: LANES loops at once, each ROUNDS times
//                       a scratch, a conversion, this process's janitor
//                       sweeping the temp folder, the output read back; says
//                       "done N" with the number of conversions checked.
//   wasm                gdal3.js: a scratch folder in its shared folder holding
//                       a converted layer; says "ready", waits to be killed.
//   wasm-next           gdal3.js: converts a layer and ends (its runtime's
//                       start sweeps); says "done".

import {
  detectNativeGdal,
  removeAbandonedScratch,
} from "../../../resources/spatial/gdal_native.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";

const [mode, ...args] = Deno.args;

/** A GeoJSON of `count` points (a conversion of some length). */
function points(count: number): string {
  const features = Array.from({ length: count }, (_, i) => ({
    type: "Feature",
    properties: { id: i, name: `point ${i}` },
    geometry: { type: "Point", coordinates: [-110 + (i % 1000) / 1000, 45 + i / count] },
  }));
  return JSON.stringify({ type: "FeatureCollection", features });
}

/** Waits to be killed (a bare pending promise would let Deno exit: nothing keeps the loop alive). */
function hang(): void {
  setInterval(() => {}, 60_000);
}

if (mode === "convert") {
  const gdal = await detectNativeGdal();
  if (!gdal) throw new Error("native GDAL not found");
  const scratch = await gdal.createScratch();
  await Deno.writeTextFile(scratch.hostPath("in.geojson"), points(200_000));
  console.log("converting");
  await scratch.gdal.ogr2ogr(scratch.gdalPath("in.geojson"), ["-f", "FlatGeobuf"], "out");
  hang();
} else if (mode === "hammer") {
  const [rounds, lanes] = args.map(Number) as [number, number];
  const gdal = await detectNativeGdal();
  if (!gdal) throw new Error("native GDAL not found");
  let checked = 0;
  const lane = async (n: number) => {
    for (let round = 0; round < rounds; round++) {
      await using scratch = await gdal.createScratch();
      const count = 2_000 + 100 * n + round;
      await Deno.writeTextFile(scratch.hostPath("in.geojson"), points(count));
      const conversion = scratch.gdal.ogr2ogr(
        scratch.gdalPath("in.geojson"),
        ["-f", "FlatGeobuf"],
        "parcels_stream",
      );
      // Sweeps while this lane's (and the other lanes', and other processes')
      // conversions run: none of their folders may go.
      await removeAbandonedScratch();
      const out = await conversion;
      await removeAbandonedScratch();
      const info = await scratch.gdal.vectorInfo(out);
      const features = info.layers[0]?.featureCount;
      if (features !== count) throw new Error(`lane ${n} round ${round}: ${features} != ${count}`);
      checked++;
    }
  };
  await Promise.all(Array.from({ length: lanes }, (_, n) => lane(n)));
  console.log(`done ${checked}`);
} else if (mode === "wasm" || mode === "wasm-next") {
  // Not disposed: a killed process never disposes it (wasm-next's runtime removes its folder at exit).
  const scratch = await wasmGdal.createScratch();
  await Deno.writeTextFile(scratch.hostPath("in.geojson"), points(1_000));
  const out = await scratch.gdal.ogr2ogr(scratch.gdalPath("in.geojson"), ["-f", "GPKG"], "out");
  const features = (await scratch.gdal.vectorInfo(out)).layers[0]?.featureCount;
  if (features !== 1_000) throw new Error(`${features} features converted, not 1000`);
  console.log(mode === "wasm" ? "ready" : "done");
  if (mode === "wasm") hang();
} else {
  throw new Error(`unknown mode ${mode}`);
}
