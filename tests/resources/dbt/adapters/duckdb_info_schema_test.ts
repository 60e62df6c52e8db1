/**
 * `<database>.information_schema.<view>` on DuckDB, which keeps those views
 * in its `system` catalog only: dbt_utils.get_tables_by_pattern_sql reads
 * `{{ database }}.information_schema.tables`, and DuckDB refused it.
 */

import assert from "node:assert/strict";
import { resolveInformationSchema } from "../../../../resources/dbt/adapters/duckdb_info_schema.ts";
import { buildModel } from "../../../../resources/dbt/mod.ts";
import { EMBEDDED_TARGETS, embeddedProject, rows } from "../_embedded.ts";

Deno.test("duckdb information_schema: a database-qualified view reads that database's rows", () => {
  assert.equal(
    resolveInformationSchema("select * from memory.information_schema.tables where x = 1"),
    "select * from (select * from information_schema.tables where table_catalog = 'memory') " +
      "as tables where x = 1",
  );
  // An alias of the query's own stays; quoted names and other views keep their catalog column.
  assert.equal(
    resolveInformationSchema('select t.table_name from "my db".INFORMATION_SCHEMA.columns as t'),
    "select t.table_name from (select * from information_schema.columns where table_catalog = " +
      "'my db') as t",
  );
  assert.equal(
    resolveInformationSchema("select schema_name from wh.information_schema.schemata s"),
    "select schema_name from (select * from information_schema.schemata where catalog_name = " +
      "'wh') s",
  );
  // A clause word after the view is no alias: the view keeps its name (`tables.x` resolves).
  // The list of such words is the renderer's (_sql_words.ts); this one lacked TABLESAMPLE.
  assert.equal(
    resolveInformationSchema(
      "select tables.table_name from wh.information_schema.tables tablesample 10%",
    ),
    "select tables.table_name from (select * from information_schema.tables where table_catalog = " +
      "'wh') as tables tablesample 10%",
  );
  // DuckDB's own catalogs, unqualified names and string literals are left as written.
  for (
    const sql of [
      "select * from system.information_schema.tables",
      "select * from information_schema.tables",
      "select 'wh.information_schema.tables' as note",
    ]
  ) assert.equal(resolveInformationSchema(sql), sql);
});

const duckdb = EMBEDDED_TARGETS.find((target) => target.type === "duckdb");

// The shape of dbt_utils.get_tables_by_pattern_sql's default, through statement/load_result.
const TABLES_BY_PATTERN = `
{% macro tables_like(schema_pattern, table_pattern, database=target.database) %}
  {%- call statement('get_tables', fetch_result=True) -%}
    select distinct table_schema as "table_schema", table_name as "table_name"
    from {{ database }}.information_schema.tables
    where table_schema ilike '{{ schema_pattern }}' and table_name ilike '{{ table_pattern }}'
    order by 2
  {%- endcall -%}
  {{ return(load_result('get_tables')['table'].columns['table_name'].values() | join(',')) }}
{% endmacro %}
`;

Deno.test("duckdb information_schema: a macro reading {{ database }}.information_schema.tables builds", async () => {
  assert.ok(duckdb);
  await using h = await embeddedProject(duckdb, {
    "macros/tables_like.sql": TABLES_BY_PATTERN,
    "models/events_a.sql": "select 1 as id",
    "models/events_b.sql": "select 2 as id",
    "models/found.sql": "select '{{ tables_like('main', 'events%') if execute else '' }}' as names",
  });
  const project = await h.load();
  for (const name of ["events_a", "events_b", "found"]) {
    await buildModel(h.warehouse, project, name);
  }
  assert.deepEqual(await rows(h.warehouse, "select names from main.found"), [
    { names: "events_a,events_b" },
  ]);
});
