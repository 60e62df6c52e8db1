/**
 * The platform's tasks run with the permissions they need, never `-A`
 * (resources/permissions.ts), and Deno's SQLite then refuses every ATTACH
 * ("too many attached databases - max 0"). The wasm engine's steps that
 * combine two SQLite files (a layer made valid in place, a large
 * Shapefile's parts appended) used ATTACH, so under `deno task
 * materialize` a KML with a MultiGeometry failed on gdal3.js although every
 * test passed (tests run with -A). They run here in a process without -A.
 */

import assert from "node:assert/strict";

Deno.test("spatial: the wasm engine's GeoPackage steps work in a process without -A", async () => {
  const dir = await Deno.makeTempDir({ prefix: "scoped-spatial-test-" });
  try {
    const child = new URL("./_scoped_child.ts", import.meta.url).pathname;
    const out = await new Deno.Command(Deno.execPath(), {
      // Every permission by name, not -A: Deno's SQLite allows ATTACH only under -A.
      args: [
        "run",
        "--allow-read",
        "--allow-write",
        "--allow-env",
        "--allow-sys",
        "--allow-run",
        // The test helpers load DuckDB's native module.
        "--allow-ffi",
        child,
        dir,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const found = JSON.parse(new TextDecoder().decode(out.stdout).trim().split("\n").pop()!);
    assert.deepEqual(found.outputs, [
      "inputs/scoped/folders__huts.parquet",
      "inputs/scoped/folders__trails.parquet",
    ]);
    assert.deepEqual(found.trails, ["LineString", "GeometryCollection"]);
    assert.deepEqual(found.appended, [1, 2, 3, 1, 2, 3]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
