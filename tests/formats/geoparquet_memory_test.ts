/**
 * The GeoParquet writer streams: its peak memory does not grow with the
 * layer's size (issue 11: a 2M-feature layer must not be loaded whole; the
 * full-size figure is printed by bench/spatial.ts). Each size runs in its own
 * process so that the peak is the writer's alone.
 */

import assert from "node:assert/strict";

const CHILD = new URL("./_geoparquet_rss_child.ts", import.meta.url).pathname;

async function write(rows: number): Promise<{ rows: number; peakRssMiB: number }> {
  const dir = await Deno.makeTempDir({ prefix: "geoparquet-rss-" });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CHILD, String(rows), dir],
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    return JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").at(-1)!);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  name: "sqliteToGeoParquet: peak memory stays flat from 300k to 1.2M features",
  ignore: Deno.build.os !== "linux", // VmHWM and clear_refs are Linux's.
  fn: async () => {
    const small = await write(300_000);
    const large = await write(1_200_000);
    assert.equal(small.rows, 300_000);
    assert.equal(large.rows, 1_200_000);
    // Four times the rows: ~80 MiB more input and ~37 MiB more output, which
    // a writer holding the layer (as Arrow, then Parquet) would need several
    // times over. A streaming one grows only by what its runtimes keep warm
    // (V8's heap reserve, the WebAssembly memory's high-water mark, malloc's
    // free lists): measured 30-45 MiB here, flat beyond ~2M rows (bench/spatial.ts).
    assert.ok(
      large.peakRssMiB - small.peakRssMiB < 80,
      `peak ${small.peakRssMiB} MiB at 300k, ${large.peakRssMiB} MiB at 1.2M`,
    );
  },
});
