/**
 * dbt's warnings stay warnings in the asset graph (#18 items 2 and 14): a
 * test past `warn_if` but not `error_if`, and a source past `warn_after`
 * but not `error_after`, are checks that warn (not passed, severity warn):
 * they neither fail the run nor skip what is downstream, as in `dbt build`.
 * Past `error_if` / `error_after` they fail, and a failing error test blocks.
 */

import assert from "node:assert/strict";
import { assetFactory, defineGraph, materialize } from "../../../core/mod.ts";
import { dbtAssets, type DbtResources } from "../../../assets/dbt/mod.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { writeProject } from "../../resources/dbt/_fixture.ts";

const asset = assetFactory<DbtResources>();

function project(errorIf: string, errorAfterHours: number) {
  return writeProject({
    "models/sources.yml": `version: 2
sources:
  - name: raw
    tables:
      - name: events
        meta: {asset: raw_events}
        loaded_at_field: at
        freshness:
          warn_after: {count: 1, period: hour}
          error_after: {count: ${errorAfterHours}, period: hour}
`,
    "models/m.sql": "select null::int as id from {{ source('raw', 'events') }}",
    "models/after.sql": "select * from {{ ref('m') }}",
    "models/schema.yml": `version: 2
models:
  - name: m
    columns:
      - name: id
        data_tests:
          - not_null:
              config: {warn_if: ">1", error_if: "${errorIf}"}
`,
  });
}

async function run(errorIf: string, errorAfterHours: number) {
  await using dir = await project(errorIf, errorAfterHours);
  await using warehouse = await openWarehouse("pglite:memory:");
  const dbt = await dbtAssets(dir.dir, { writeArtifacts: false });
  const raw = asset({
    key: "raw_events",
    resources: ["warehouse"],
    materialize: async (ctx) => {
      // Two rows loaded three hours ago.
      await ctx.resources.warehouse.exec(`create schema if not exists raw;
        create table raw.events (at timestamptz);
        insert into raw.events values (now() - interval '3 hours'), (now() - interval '3 hours')`);
      return {};
    },
  });
  const graph = defineGraph<DbtResources>({
    assets: [raw, ...dbt.assets],
    checks: dbt.checks,
    resources: { warehouse },
  });
  const result = await materialize(graph, { concurrency: 1 });
  const step = (key: string) => result.steps.find((s) => s.assetKey === key);
  const checkOf = (key: string, prefix: string) =>
    step(key)?.checks.find((c) => c.name.startsWith(prefix));
  return {
    status: result.status,
    test: checkOf("m", "not_null"),
    freshness: checkOf("raw_events", "freshness_raw_events"),
    after: step("after")?.status,
  };
}

Deno.test("dbt checks: past warn_if / warn_after they warn, and the run goes on", async () => {
  const { status, test, freshness, after } = await run(">10", 24);
  assert.equal(test?.passed, false);
  assert.equal(test?.severity, "warn");
  assert.equal(test?.blocking, false);
  assert.equal(freshness?.passed, false);
  assert.equal(freshness?.severity, "warn");
  assert.equal(after, "success");
  assert.equal(status, "success");
});

Deno.test("dbt checks: past error_if / error_after they fail; the failing test blocks", async () => {
  const { status, test, freshness, after } = await run(">=2", 2);
  assert.equal(test?.passed, false);
  assert.equal(test?.severity, "error");
  assert.equal(freshness?.passed, false);
  assert.equal(freshness?.severity, "error");
  assert.equal(after, "skipped");
  assert.equal(status, "failed");
});
