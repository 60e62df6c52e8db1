/**
 * `load_result` is per node, as in dbt (each node's context has its own
 * statement results): a macro that runs its statement only when a relation
 * exists, then reads `load_result`, gets none in a node where the statement
 * did not run, not the answer another node's statement of the same name got.
 */

import assert from "node:assert/strict";
import { buildModel } from "../../../resources/dbt/mod.ts";
import { EMBEDDED_TARGETS, embeddedProject, rows } from "./_embedded.ts";

// The shape of a "high-water mark" macro of incremental projects: query the existing
// relation when there is one, then read the statement's result.
const HIGH_WATER = `
{% macro high_water(schema, identifier, column) %}
  {%- set existing = adapter.get_relation(database=target.database, schema=schema, identifier=identifier) -%}
  {%- if execute and existing is not none -%}
    {%- call statement('high_water', fetch_result=True) -%}
      select max({{ column }}) as m from {{ existing }}
    {%- endcall -%}
  {%- endif -%}
  {%- set found = load_result('high_water') -%}
  {{- return(found['data'][0][0] if found is not none else 'none') -}}
{% endmacro %}
`;

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`dbt on ${target.name}: load_result of a statement this node did not run is none`, async () => {
    await using h = await embeddedProject(target, {
      "macros/high_water.sql": HIGH_WATER,
      "models/events.sql": "select 7 as id",
      "models/first_reader.sql": `
select '{{ high_water(target.schema, 'events', 'id') }}' as mark from {{ ref('events') }}`,
      "models/second_reader.sql": `
select '{{ high_water(target.schema, 'never_built', 'id') }}' as mark from {{ ref('first_reader') }}`,
    });
    const project = await h.load();
    await buildModel(h.warehouse, project, "events");
    await buildModel(h.warehouse, project, "first_reader");
    await buildModel(h.warehouse, project, "second_reader");
    assert.deepEqual(await rows(h.warehouse, `select mark from ${target.schema}.first_reader`), [
      { mark: "7" },
    ]);
    // Before: '7', the first reader's answer to its own statement.
    assert.deepEqual(await rows(h.warehouse, `select mark from ${target.schema}.second_reader`), [
      { mark: "none" },
    ]);
  });
}

Deno.test("dbt: noop_statement stores its result for load_result; store_raw_result and get_quoted_csv are in the context", async () => {
  // Before: noop_statement, store_raw_result and get_quoted_csv (dbt's global project, used by
  // custom materializations and incremental strategies) were undefined, failing the render.
  const { loadProject } = await import("../../../resources/dbt/mod.ts");
  const { writeProject } = await import("./_fixture.ts");
  await using project = await writeProject({
    "models/m.sql":
      `{% call noop_statement('main', 'INSERT 0 3', 'INSERT', 3) %}select 1{% endcall -%}
{%- set r = load_result('main') -%}
select '{{ r.response._message }}|{{ r.response.code }}|{{ r.response.rows_affected }}|{{ r.table }}' as noop,
  '{{ get_quoted_csv(['a', 'B c']) }}' as cols
{%- do store_raw_result('other', message='OK', rows_affected=0) %}
-- {{ load_result('other').response.rows_affected }}`,
  });
  const p = await loadProject(project.dir, { cache: false });
  const sql = await p.compileNode("m", { isIncremental: false });
  assert.match(sql, /'INSERT 0 3\|INSERT\|3\|None' as noop/);
  assert.match(sql, /'"a", "B c"' as cols/);
  assert.match(sql, /-- 0$/);
});
