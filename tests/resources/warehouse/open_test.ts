import assert from "node:assert/strict";
import { ConfigError } from "../../../core/errors.ts";
import { openWarehouse } from "../../../resources/warehouse/open.ts";

Deno.test("openWarehouse names an unknown scheme, without the password", async () => {
  await assert.rejects(
    openWarehouse("mysql://etl:secret@db:3306/platform"),
    (error) =>
      error instanceof ConfigError && error.code === "warehouse.unknown_scheme" &&
      error.message.includes("unknown scheme 'mysql:'") && !error.message.includes("secret") &&
      error.message.includes("expected pglite:<dir>, pglite:memory:, postgres://"),
  );
  await assert.rejects(
    openWarehouse(".state/warehouse"),
    (error) => error instanceof ConfigError && /no scheme/.test(error.message),
  );
});

Deno.test("openWarehouse rejects pglite: without a dir", async () => {
  await assert.rejects(
    openWarehouse("pglite:"),
    (error) => error instanceof ConfigError && error.code === "warehouse.invalid_url",
  );
});

Deno.test("openWarehouse opens pglite:memory:", async () => {
  await using warehouse = await openWarehouse("pglite:memory:");
  assert.equal(warehouse.backend, "pglite");
  assert.equal(warehouse.location, "memory:");
  assert.deepStrictEqual(await warehouse.query("SELECT current_setting('TimeZone') AS tz"), [
    { tz: "UTC" },
  ]);
});

Deno.test("openWarehouse accepts pglite://<absolute dir>", async () => {
  const dir = await Deno.makeTempDir({ prefix: "warehouse-mod-" });
  try {
    await using warehouse = await openWarehouse(`pglite://${dir}/wh`);
    assert.equal(warehouse.location, `${dir}/wh`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
