/**
 * Child of geoparquet_memory_test.ts and bench/spatial.ts: makes a SQLite
 * layer of N points with a text attribute, resets the peak-memory mark, writes
 * it as GeoParquet and prints `{"rows":N,"peakRssMiB":...,"seconds":...}`
 * (Linux: /proc/self/status VmHWM, reset through /proc/self/clear_refs).
 *
 * Usage: deno run -A tests/formats/_geoparquet_rss_child.ts ROWS DIR
 */

import { DatabaseSync } from "node:sqlite";
import { sqliteToGeoParquet } from "../../formats/geoparquet.ts";

function peakRssMiB(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)![1]) / 1024;
}

const rows = Number(Deno.args[0]);
const dir = Deno.args[1]!;
const db = new DatabaseSync(`${dir}/layer.sqlite`);
db.exec("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF");
db.exec("CREATE TABLE layer (fid INTEGER PRIMARY KEY, name TEXT, value REAL, geom BLOB)");
const insert = db.prepare("INSERT INTO layer (name, value, geom) VALUES (?, ?, ?)");
const wkb = new Uint8Array(21);
const view = new DataView(wkb.buffer);
view.setUint8(0, 1);
view.setUint32(1, 1, true);
db.exec("BEGIN");
for (let i = 0; i < rows; i++) {
  view.setFloat64(5, -180 + ((i * 0.6180339887498949) % 360), true);
  view.setFloat64(13, -85 + ((i * 0.41421356237309515) % 170), true);
  insert.run(`feature ${i} `.padEnd(48, "."), i / 7, wkb);
  if (i % 100_000 === 99_999) db.exec("COMMIT; BEGIN");
}
db.exec("COMMIT");
db.close();
// Only the writer's own peak counts: reset the high-water mark.
Deno.writeTextFileSync("/proc/self/clear_refs", "5");
const start = performance.now();
const result = await sqliteToGeoParquet(`${dir}/layer.sqlite`, "layer", `${dir}/layer.parquet`, {
  crs: { type: "GeographicCRS", name: "WGS 84" },
});
console.log(JSON.stringify({
  rows: result.rows,
  peakRssMiB: Math.round(peakRssMiB()),
  seconds: (performance.now() - start) / 1000,
  bytes: (await Deno.stat(`${dir}/layer.parquet`)).size,
}));
