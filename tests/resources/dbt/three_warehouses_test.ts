/**
 * The repo's dbt/ project builds on PGlite, PostgreSQL and DuckDB from the
 * same raw rows, every test passing on each, and its marts hold the same
 * rows on all three (compared value by value, see `canonical`).
 */

import assert from "node:assert/strict";
import { loadProject, runProject } from "../../../resources/dbt/mod.ts";
import { copyRepoProject } from "./_fixture.ts";
import {
  loadRaw,
  martRows,
  rawRows,
  threeWarehouses,
  writeGeoParquetLake,
} from "./_three_warehouses.ts";
import { needs } from "../../_helpers/tools.ts";

const MARTS = [
  "fct_weather_daily",
  "outdoor_conditions_daily",
  "user_baselines",
  "user_deviations",
];

Deno.test("our dbt project builds on PGlite, Postgres and DuckDB with identical mart rows", {
  ignore: await needs("postgres"),
}, async () => {
  await using project = await copyRepoProject();
  const dir = await Deno.makeTempDir({ prefix: "dbt-three-" });
  const rows = rawRows("2026-10-01", 9, 40);
  const marts = new Map<string, Map<string, string[]>>();
  await writeGeoParquetLake(`${dir}/lake`);
  let spatial: unknown[] = [];
  try {
    for await (const open of threeWarehouses(dir)) {
      await using wh = await open();
      await loadRaw(wh.warehouse, rows);
      const p = await loadProject(project.dir, {
        target: wh.target,
        cache: false,
        vars: { lake_root: `${dir}/lake` },
      });
      const result = await runProject(p, wh.warehouse, { writeArtifacts: false });
      const bad = result.results.filter((r) => r.status !== "success" && r.status !== "pass");
      assert.deepStrictEqual(
        bad.map((r) => `${r.unique_id}: ${r.status} ${r.message}`),
        [],
        `${wh.name}: every node builds and every test passes`,
      );
      assert.ok(result.success, wh.name);
      const tables = new Map<string, string[]>();
      for (const mart of MARTS) {
        const model = p.models.get(mart);
        assert.ok(model, mart);
        tables.set(
          mart,
          await martRows(wh.warehouse, model.relation.schema, model.relation.identifier),
        );
        assert.ok((tables.get(mart)?.length ?? 0) > 0, `${wh.name}: ${mart} has rows`);
      }
      marts.set(wh.name, tables);
      // The lake-native models exist on DuckDB only: enabled by target.type.
      assert.equal(p.models.has("spatial_layers"), wh.name === "duckdb", wh.name);
      if (wh.name === "duckdb") {
        spatial = await wh.warehouse.query(
          `select project, batch_id, layer, features, features_with_geometry, xmin, ymin, xmax, ymax
           from analytics_marts.spatial_layers order by project, batch_id, layer`,
        );
        const [point] = await wh.warehouse.query<{ wkb: Uint8Array }>(
          `select geometry_wkb as wkb from analytics_lake.stg_spatial_features
           where layer = 'trailheads' and project = 'idaho'`,
        );
        assert.deepStrictEqual([...(point?.wkb ?? []).slice(0, 5)], [1, 1, 0, 0, 0], "WKB point");
        const message = result.results.find((r) => r.unique_id.endsWith("stg_spatial_features"))
          ?.message;
        assert.match(String(message), /geometry stays WKB in geometry_wkb: DuckDB's spatial/);
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.deepStrictEqual(spatial, [
    {
      project: "idaho",
      batch_id: "b2",
      layer: "trailheads",
      features: 1n,
      features_with_geometry: 1n,
      xmin: -114.9,
      ymin: 44.1,
      xmax: -114.9,
      ymax: 44.1,
    },
    {
      project: "montana",
      batch_id: "b1",
      layer: "trailheads",
      features: 3n,
      features_with_geometry: 2n,
      xmin: -113.98,
      ymin: 44.97,
      xmax: -109.47,
      ymax: 48.69,
    },
    {
      project: "montana",
      batch_id: "b1",
      layer: "trails",
      features: 2n,
      features_with_geometry: 2n,
      xmin: -113.79,
      ymin: 45.39,
      xmax: -110.95,
      ymax: 48.77,
    },
  ]);
  const reference = marts.get("pglite");
  for (const name of ["postgres", "duckdb"]) {
    for (const mart of MARTS) {
      const expected = reference?.get(mart) ?? [];
      const actual = marts.get(name)?.get(mart) ?? [];
      const missing = expected.filter((r) => !actual.includes(r)).slice(0, 3);
      const extra = actual.filter((r) => !expected.includes(r)).slice(0, 3);
      assert.deepStrictEqual({ missing, extra }, { missing: [], extra: [] }, `${name} ${mart}`);
      assert.equal(actual.length, expected.length, `${name} ${mart} row count`);
    }
  }
});
