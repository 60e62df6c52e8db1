/**
 * PGlite's memory settings: Postgres's default 128 MB of shared buffers is
 * allocated inside PGlite's WASM memory, which never shrinks, and put a
 * jaffle_shop `dbt build` over issue #18's 300 MiB peak (bench/dbt.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { PgliteWarehouse } from "../../../resources/warehouse/pglite.ts";

Deno.test("pglite: shared_buffers is 16MB, on a data dir (new and reopened) and in memory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pglite-settings-" });
  try {
    const show = async (location: string) => {
      await using warehouse = await PgliteWarehouse.open(location, { onCreate: () => {} });
      return (await warehouse.query<{ shared_buffers: string }>("SHOW shared_buffers"))[0]
        ?.shared_buffers;
    };
    assert.equal(await show(`${dir}/wh`), "16MB");
    assert.equal(await show(`${dir}/wh`), "16MB"); // reopened: not only initdb's conf
    assert.equal(await show("memory:"), "16MB");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
