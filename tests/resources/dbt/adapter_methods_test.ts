/**
 * What package macros ask of the warehouse while a model builds, on PGlite
 * and DuckDB: `run_query`/`statement` results that keep their columns when
 * they find no rows (dbt_utils.get_single_value returns its default).
 */

import assert from "node:assert/strict";
import { buildModel, loadProject } from "../../../resources/dbt/mod.ts";
import { openWarehouse, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { writeProject } from "./_fixture.ts";

const DUCK_PROFILE = `demo:
  target: duck
  outputs:
    duck:
      type: duckdb
      path: ":memory:"
`;

/** The two embedded warehouses, with the profile that targets each. */
const TARGETS = [
  { name: "pglite", url: "pglite:memory:", profile: undefined, schema: "analytics" },
  { name: "duckdb", url: "duckdb::memory:", profile: DUCK_PROFILE, schema: "main" },
] as const;

async function setup(
  target: (typeof TARGETS)[number],
  files: Record<string, string>,
) {
  const project = await writeProject({
    ...(target.profile ? { "profiles.yml": target.profile } : {}),
    ...files,
  });
  const warehouse = await openWarehouse(target.url, { onNotice: () => {} });
  return {
    warehouse,
    load: () => loadProject(project.dir, { cache: false }),
    async [Symbol.asyncDispose]() {
      await warehouse.close();
      await project[Symbol.asyncDispose]();
    },
  };
}

async function rows(warehouse: Warehouse, sql: string): Promise<unknown[]> {
  return (await warehouse.query<Record<string, unknown>>(sql)).map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]),
    )
  );
}

// The shape of dbt_utils.get_single_value: the first column's values of a statement's result.
const SINGLE_VALUE = `
{% macro single_value(query, default=none) %}
  {%- call statement('get_query_result', fetch_result=True, auto_begin=false) -%}
    {{ query }}
  {%- endcall -%}
  {%- if execute -%}
    {%- set found = load_result('get_query_result').table.columns[0].values() -%}
    {%- if found | length == 0 -%}{%- do return(default) -%}{%- endif -%}
    {%- do return(found[0]) -%}
  {%- else -%}
    {%- do return(default) -%}
  {%- endif -%}
{% endmacro %}
`;

for (const target of TARGETS) {
  Deno.test(`dbt on ${target.name}: a query that finds no rows still has its columns`, async () => {
    await using h = await setup(target, {
      "macros/single_value.sql": SINGLE_VALUE,
      "models/m.sql": `
{%- set none_found = single_value("select 5 as n where 1 = 0", default=42) -%}
{%- set found = single_value("select 7 as n") -%}
{%- set empty = run_query("select 1 as a, 2 as b where 1 = 0") -%}
select {{ none_found }} as none_found, {{ found }} as found,
  '{{ empty.column_names | join(",") if execute else "" }}' as names,
  {{ empty.columns | length if execute else 0 }} as n_columns`,
    });
    await buildModel(h.warehouse, await h.load(), "m");
    assert.deepEqual(
      await rows(h.warehouse, `select * from ${target.schema}.m`),
      [{ none_found: 42, found: 7, names: "a,b", n_columns: 2 }],
    );
  });
}
