/**
 * Run by scoped_permissions_test.ts in a process without `-A`, as every
 * platform task runs: the wasm engine's GeoPackage steps that combine two
 * SQLite files (a layer made valid in place, a Shapefile's parts appended)
 * must work there. Prints one JSON line of what it found.
 *
 * @module
 */

import { appendParts } from "../../../assets/spatial/_chunks.ts";
import { processVectorBatch } from "../../../assets/spatial/vector.ts";
import { SCRATCH_GPKG_OPTIONS } from "../../../resources/spatial/gdal.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import { openSqlite } from "../../../resources/_sqlite.ts";
import { batchRun } from "./_fixtures.ts";
import { landing, ourFeatures } from "./_batches.ts";

const dir = Deno.args[0]!;
// A KML whose second folder holds a MultiGeometry: made valid in place on gdal3.js.
const kml = `<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>doc</name>
<Folder><name>Huts</name>
<Placemark><name>A</name><Point><coordinates>7.1,46.1</coordinates></Point></Placemark></Folder>
<Folder><name>Trails</name>
<Placemark><name>T1</name><LineString><coordinates>7.1,46.1 7.2,46.2</coordinates></LineString></Placemark>
<Placemark><name>multi</name><MultiGeometry><Point><coordinates>7.3,46.3</coordinates></Point>
<LineString><coordinates>7.3,46.3 7.4,46.4</coordinates></LineString></MultiGeometry></Placemark>
</Folder></Document></kml>`;
await Deno.writeTextFile(`${dir}/folders.kml`, kml);
const l = await landing("scoped", [{
  name: "folders.kml",
  from: `${dir}/folders.kml`,
  type: "vector",
  format: "kml",
  crs: "EPSG:4326",
}]);
const outputs = await processVectorBatch(batchRun(l, "scoped", { gdal: wasmGdal }));
const trails = await ourFeatures(l, outputs.find((o) => o.key.endsWith("__trails.parquet"))!.key);

// Two parts of a layer, appended as a large Shapefile's parts are.
await using scratch = await wasmGdal.createScratch();
await Deno.writeTextFile(
  scratch.hostPath("points.geojson"),
  JSON.stringify({
    type: "FeatureCollection",
    features: [1, 2, 3].map((n) => ({
      type: "Feature",
      properties: { n },
      geometry: { type: "Point", coordinates: [n, n] },
    })),
  }),
);
const parts = [];
for (const name of ["part0", "part1"]) {
  parts.push(
    await scratch.gdal.ogr2ogr(
      scratch.gdalPath("points.geojson"),
      [...SCRATCH_GPKG_OPTIONS, "-nln", "input"],
      name,
    ),
  );
}
appendParts(scratch.toHost(parts[0]!), "input", parts.slice(1).map(scratch.toHost));
const db = openSqlite(scratch.toHost(parts[0]!), { mode: "read" });
const rows = db.prepare("SELECT n FROM input ORDER BY rowid").all().map((r) => Number(r.n));
db.close();
console.log(JSON.stringify({
  outputs: outputs.map((o) => o.key).sort(),
  trails: trails.map((f) => f.geometry?.type ?? null),
  appended: rows,
}));
Deno.exit(0);
