/**
 * Tests of profiles.ts: the database a warehouse URL connects to, which
 * relations print when the URL overrides the profile.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readTarget, warehouseDatabase } from "../../../../resources/dbt/project/profiles.ts";
import { openWarehouse } from "../../../../resources/warehouse/open.ts";

Deno.test("warehouseDatabase: the database each kind of warehouse URL connects to", () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];
  const none = env({});
  assert.equal(warehouseDatabase("pglite:.state/warehouse", none), "postgres");
  assert.equal(warehouseDatabase("pglite:memory:", none), "postgres");
  assert.equal(warehouseDatabase("duckdb::memory:", none), "memory");
  assert.equal(warehouseDatabase("duckdb:/data/analytics.duckdb?threads=2", none), "analytics");
  assert.equal(warehouseDatabase("duckdb:///data/main.duckdb", none), "main");
  assert.equal(warehouseDatabase("duckdb:rel/plain", none), "plain");
  assert.equal(warehouseDatabase("postgres://me:pw@db:5432/shop?sslmode=disable", none), "shop");
  assert.equal(warehouseDatabase("postgresql://me@db/sh%20op", none), "sh op");
  // Without a database in the URL: as postgres.js connects, PGDATABASE, then the user.
  assert.equal(warehouseDatabase("postgres://me@db:5432", env({ PGDATABASE: "wh" })), "wh");
  assert.equal(warehouseDatabase("postgres://me@db:5432/", none), "me");
  assert.equal(warehouseDatabase("postgres://db", none), "postgres");
  assert.equal(warehouseDatabase("mysql://x", none), undefined);
});

Deno.test("warehouseDatabase: PGlite and DuckDB files answer current_database() with the same name", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbt-profiles-" });
  try {
    for (
      const url of [
        "pglite:memory:",
        "duckdb::memory:",
        `duckdb:${dir}/a.b.duckdb`,
        `duckdb:${dir}/x.db`,
      ]
    ) {
      await using warehouse = await openWarehouse(url);
      const [row] = await warehouse.query<{ d: string }>("select current_database() as d");
      assert.equal(warehouseDatabase(url, () => undefined), row?.d, url);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readTarget: threads that are not a whole number >= 1 are refused naming the line, as dbt-core does", async () => {
  // Before: 'many', -3 and 2.5 quietly ran on 1 thread.
  const dir = await Deno.makeTempDir({ prefix: "profiles_test_" });
  try {
    for (const [threads, shown] of [["many", "many"], ["-3", "-3"], ["2.5", "2.5"], ["0", "0"]]) {
      await Deno.writeTextFile(
        `${dir}/profiles.yml`,
        `p:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      schema: s\n      threads: ${threads}\n`,
      );
      await assert.rejects(
        () => readTarget(dir, "p", { profilesDir: dir }),
        (error: Error & { code?: string }) => {
          assert.equal(error.code, "dbt.invalid_project");
          assert.equal(
            error.message,
            `profiles.yml:7: output 'dev': threads must be a whole number >= 1, got '${shown}'`,
          );
          return true;
        },
      );
    }
    await Deno.writeTextFile(
      `${dir}/profiles.yml`,
      'p:\n  target: dev\n  outputs:\n    dev:\n      type: postgres\n      schema: s\n      threads: "{{ 3 }}"\n',
    );
    assert.equal((await readTarget(dir, "p", { profilesDir: dir })).threads, 3);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
