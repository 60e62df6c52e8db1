/**
 * A new PGlite data dir is created in a worker (initdb runs for seconds in
 * WASM without yielding), so the caller's event loop (progress view, signal
 * handlers) keeps running; it is said once, and only for a new dir.
 */

import assert from "node:assert/strict";
import { PgliteWarehouse } from "../../../resources/warehouse/pglite.ts";

Deno.test("pglite: a new data dir is created off the main thread, announced once", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pglite-create-" });
  try {
    const told: string[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 50);
    const started = performance.now();
    const created = await PgliteWarehouse.open(`${dir}/wh`, { onCreate: (m) => told.push(m) });
    const elapsed = performance.now() - started;
    clearInterval(timer);
    await created.close();
    assert.deepEqual(told, [
      `creating the embedded warehouse (PGlite) in ${dir}/wh: first run only, about 10 s`,
    ]);
    // The main thread ran its timer through the creation (a blocked loop gets ~0 ticks).
    assert.ok(ticks >= (elapsed / 50) * 0.4, `${ticks} ticks in ${Math.round(elapsed)} ms`);

    const again = await PgliteWarehouse.open(`${dir}/wh`, { onCreate: (m) => told.push(m) });
    assert.deepEqual(await again.query("SELECT 1 AS one"), [{ one: 1 }]);
    await again.close();
    assert.equal(told.length, 1, "an existing dir is opened, not created");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pglite: a data dir that cannot be created fails naming it, leaving nothing behind", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pglite-create-" });
  try {
    // A file where the data dir's parent should be.
    await Deno.writeTextFile(`${dir}/blocker`, "");
    const error = await PgliteWarehouse.open(`${dir}/blocker/wh`).catch((e) => e);
    assert.ok(error instanceof Error);
    assert.match(error.message, new RegExp(`${dir}/blocker`));
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name),
      ["blocker"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pglite: a failed creation in the worker is an error naming the dir; what was there stays", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pglite-create-" });
  try {
    await Deno.writeTextFile(`${dir}/wh`, "not a folder");
    const error = await PgliteWarehouse.open(`${dir}/wh`).catch((e) => e);
    assert.ok(error instanceof Error);
    assert.match(error.message, new RegExp(`${dir}/wh`));
    assert.equal(await Deno.readTextFile(`${dir}/wh`), "not a folder");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
