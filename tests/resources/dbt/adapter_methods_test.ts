/**
 * What package macros ask of the warehouse while a model builds, on PGlite
 * and DuckDB: `run_query`/`statement` results that keep their columns when
 * they find no rows (dbt_utils.get_single_value returns its default), and
 * the adapter methods that create, list, rename and drop relations and schemas.
 */

import assert from "node:assert/strict";
import { buildModel } from "../../../resources/dbt/mod.ts";
import { isScript } from "../../../resources/dbt/execute/materialize.ts";
import { EMBEDDED_TARGETS, embeddedProject, PGLITE_TARGET, rows } from "./_embedded.ts";

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

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`dbt on ${target.name}: a query that finds no rows still has its columns`, async () => {
    await using h = await embeddedProject(target, {
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

// A cleanup macro as packages write them: list a schema's relations, rename, drop, truncate.
const HOUSEKEEPING = `
{% macro housekeeping() %}
  {%- set scratch = api.Relation.create(database=target.database, schema='scratch') -%}
  {%- do adapter.create_schema(scratch) -%}
  {%- do run_query('create table scratch.t1 as select 1 as id') -%}
  {%- do run_query('create view scratch.v1 as select 1 as id') -%}
  {%- do run_query('create table scratch.old as select 2 as id') -%}
  {%- set seen = [] -%}
  {%- for r in adapter.list_relations_without_caching(scratch) -%}
    {%- do seen.append(r.identifier ~ ':' ~ r.type ~ ':' ~ r.is_table) -%}
  {%- endfor -%}
  {%- set old = adapter.get_relation(database=target.database, schema='scratch', identifier='old') -%}
  {%- do adapter.rename_relation(old, api.Relation.create(schema='scratch', identifier='renamed')) -%}
  {%- set view = adapter.get_relation(target.database, 'scratch', 'v1') -%}
  {%- do adapter.rename_relation(view, view.incorporate(path={'identifier': 'v2'})) -%}
  {%- do adapter.drop_relation(adapter.get_relation(target.database, 'scratch', 'v2')) -%}
  {%- do adapter.truncate_relation(api.Relation.create(schema='scratch', identifier='t1')) -%}
  {%- set rows_left = run_query('select count(*) from scratch.t1').columns[0].values()[0] -%}
  {%- set left = adapter.list_relations_without_caching(scratch) | map(attribute='identifier') | join(',') -%}
  {%- set existed = adapter.check_schema_exists(target.database, 'scratch') -%}
  {%- do adapter.drop_schema(scratch) -%}
  {{- return([seen | join(','), left, rows_left, existed, adapter.check_schema_exists(target.database, 'scratch')]) -}}
{% endmacro %}
`;

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`dbt on ${target.name}: adapter methods create, list, rename, truncate and drop relations and schemas`, async () => {
    await using h = await embeddedProject(target, {
      "macros/housekeeping.sql": HOUSEKEEPING,
      "models/m.sql": `
{%- set r = housekeeping() if execute else ['', '', 0, false, false] -%}
select '{{ r[0] }}' as seen, '{{ r[1] }}' as left_over, {{ r[2] }} as rows_left,
  {{ r[3] }} as existed, {{ r[4] }} as exists_after,
  {{ api.Relation.create(schema='x', identifier='y').is_table }} as untyped_is_table,
  '{{ api.Relation.create(schema='x', identifier='y') }}' as created`,
    });
    const project = await h.load();
    await buildModel(h.warehouse, project, "m");
    assert.deepEqual(await rows(h.warehouse, `select * from ${target.schema}.m`), [{
      seen: "old:table:True,t1:table:True,v1:view:False",
      left_over: "renamed,t1",
      rows_left: 0,
      existed: true,
      exists_after: false,
      untyped_is_table: false,
      // As dbt-adapters' BaseRelation.create: no database given, none printed (was the target's).
      created: '"x"."y"',
    }]);
  });
}

// A project's own macros, as dbt-adapters' execute_macro finds them: `<adapter>__drop_relation`
// through dispatch, and a root-project `truncate_relation` replacing the global one.
const OVERRIDES = `
{% macro audit(what) %}{% call statement('audit') %}insert into {{ target.schema }}.audit values ('{{ what }}'){% endcall %}{% endmacro %}
{% macro postgres__drop_relation(relation) %}{{ audit('drop ' ~ relation.identifier) }}{% endmacro %}
{% macro duckdb__drop_relation(relation) %}{{ audit('drop ' ~ relation.identifier) }}{% endmacro %}
{% macro truncate_relation(relation) %}{{ audit('truncate ' ~ relation.identifier) }}{% endmacro %}
`;

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`dbt on ${target.name}: a project's drop_relation and truncate_relation macros are what the adapter methods run`, async () => {
    await using h = await embeddedProject(target, {
      "macros/overrides.sql": OVERRIDES,
      "models/m.sql": `{%- if execute -%}
{%- do adapter.create_schema(api.Relation.create(schema=target.schema)) -%}
{%- do run_query('create table ' ~ target.schema ~ '.audit (what varchar(40))') -%}
{%- do run_query('create table ' ~ target.schema ~ '.keep_me as select 1 as id') -%}
{%- set keep = adapter.get_relation(target.database, target.schema, 'keep_me') -%}
{%- do adapter.drop_relation(keep) -%}
{%- do adapter.truncate_relation(keep) -%}
{%- do drop_relation_if_exists(keep) -%}
{%- endif -%}
select 1 as x`,
    });
    await buildModel(h.warehouse, await h.load(), "m");
    assert.deepEqual(await rows(h.warehouse, `select what from ${target.schema}.audit`), [
      { what: "drop keep_me" },
      { what: "truncate keep_me" },
      { what: "drop keep_me" },
    ]);
    assert.deepEqual(await rows(h.warehouse, `select id from ${target.schema}.keep_me`), [{
      id: 1,
    }]);
  });
}

// What a snapshot or an insert-by-period materialization does before inserting a batch.
const EXPAND = `{%- if execute -%}
{%- do adapter.create_schema(api.Relation.create(schema=target.schema)) -%}
{%- do run_query('create table ' ~ target.schema ~ '.batch as select cast(\\'a longer code\\' as varchar(20)) as code, '
  ~ 'cast(\\'short\\' as varchar(10)) as note, 1 as n') -%}
{%- do run_query('create table ' ~ target.schema ~ '.narrow (code varchar(5), note varchar(50), n integer)') -%}
{%- do run_query('insert into ' ~ target.schema ~ '.narrow values (\\'abc\\', \\'kept\\', 0)') -%}
{%- set batch = adapter.get_relation(target.database, target.schema, 'batch') -%}
{%- set narrow = adapter.get_relation(target.database, target.schema, 'narrow') -%}
{%- do adapter.expand_target_column_types(from_relation=batch, to_relation=narrow) -%}
{%- do run_query('insert into ' ~ target.schema ~ '.narrow (code, note, n) select code, note, n from ' ~ target.schema ~ '.batch') -%}
{%- endif -%}
select 1 as x`;

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`dbt on ${target.name}: adapter.expand_target_column_types widens the target's narrower varchar columns`, async () => {
    await using h = await embeddedProject(target, { "models/m.sql": EXPAND });
    await buildModel(h.warehouse, await h.load(), "m");
    assert.deepEqual(
      await rows(h.warehouse, `select code, note, n from ${target.schema}.narrow order by n`),
      [
        { code: "abc", note: "kept", n: 0 },
        { code: "a longer code", note: "short", n: 1 },
      ],
    );
    // Postgres keeps lengths: code grows to the batch's 20, note stays 50 (never narrowed).
    // DuckDB has no varchar lengths, so nothing is altered there.
    const types = await rows(
      h.warehouse,
      `select column_name, data_type, character_maximum_length as size
       from information_schema.columns where table_schema = '${target.schema}'
       and table_name = 'narrow' and column_name in ('code', 'note') order by column_name`,
    );
    assert.deepEqual(
      types,
      target.type === "postgres"
        ? [
          { column_name: "code", data_type: "character varying", size: 20 },
          { column_name: "note", data_type: "character varying", size: 50 },
        ]
        : [
          { column_name: "code", data_type: "VARCHAR", size: null },
          { column_name: "note", data_type: "VARCHAR", size: null },
        ],
    );
  });
}

// A project that hides its loader's columns (`_loaded_at`) from every column listing.
const HIDDEN_COLUMNS = `
{% macro visible_columns(relation) %}
  {%- set shown = [] -%}
  {%- for column in dbt.default__get_columns_in_relation(relation) -%}
    {%- if not column.name.startswith('_') -%}{%- do shown.append(column) -%}{%- endif -%}
  {%- endfor -%}
  {{- return(shown) -}}
{% endmacro %}
{% macro postgres__get_columns_in_relation(relation) %}{{ return(visible_columns(relation)) }}{% endmacro %}
{% macro duckdb__get_columns_in_relation(relation) %}{{ return(visible_columns(relation)) }}{% endmacro %}
`;

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`dbt on ${target.name}: adapter.get_columns_in_relation runs the project's get_columns_in_relation macro`, async () => {
    await using h = await embeddedProject(target, {
      "macros/hidden_columns.sql": HIDDEN_COLUMNS,
      "models/m.sql": `{%- if execute -%}
{%- do adapter.create_schema(api.Relation.create(schema=target.schema)) -%}
{%- do run_query('create table ' ~ target.schema ~ '.src as select 1 as id, 2 as _loaded_at, 3 as amount') -%}
{%- do run_query('create table ' ~ target.schema ~ '.dst as select 1 as id') -%}
{%- set src = adapter.get_relation(target.database, target.schema, 'src') -%}
{%- set dst = adapter.get_relation(target.database, target.schema, 'dst') -%}
{%- set listed = adapter.get_columns_in_relation(src) | map(attribute='name') | join(',') -%}
{%- set missing = adapter.get_missing_columns(src, dst) | map(attribute='name') | join(',') -%}
{%- endif -%}
select '{{ listed if execute else "" }}' as listed, '{{ missing if execute else "" }}' as missing`,
    });
    await buildModel(h.warehouse, await h.load(), "m");
    assert.deepEqual(await rows(h.warehouse, `select * from ${target.schema}.m`), [
      { listed: "id,amount", missing: "amount" },
    ]);
  });
}

Deno.test("dbt: adapter.drop_relation of a relation of unknown type fails naming it, as in dbt", async () => {
  await using h = await embeddedProject(PGLITE_TARGET, {
    "models/m.sql": `{% if execute %}{% do adapter.drop_relation(
  api.Relation.create(schema='analytics', identifier='nothing')) %}{% endif %}select 1 as x`,
  });
  const project = await h.load();
  await assert.rejects(
    buildModel(h.warehouse, project, "m"),
    /Tried to drop relation "analytics"."nothing", but its type is null/,
  );
});

Deno.test("dbt run_query: a script of several statements runs whole; one statement with ';' inside does not count", () => {
  for (
    const sql of [
      "select 1",
      "select 1;",
      "select 1;  \n -- done",
      "select 'a;b' as x",
      'select 1 as "x;y"',
      "select 1 /* a; b */",
      "do $$ begin perform 1; end $$",
    ]
  ) assert.equal(isScript(sql), false, sql);
  for (const sql of ["create table t (a int); insert into t values (1)", "select 1;\nselect 2;"]) {
    assert.equal(isScript(sql), true, sql);
  }
});

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`dbt on ${target.name}: a numeric from run_query is a number, as agate's Decimal`, async () => {
    await using h = await embeddedProject(target, {
      // A threshold macro: the average order value (a numeric) plus a margin.
      "models/m.sql": `
{%- set avg_value = run_query("select avg(v) as a, cast(2.50 as decimal(10, 2)) as fee from (values (10), (11)) as t(v)") -%}
{%- set a = avg_value.columns[0].values()[0] if execute else 0 -%}
{%- set fee = avg_value.columns['fee'].values()[0] if execute else 0 -%}
select {{ a + 1 }} as threshold, {{ fee * 2 }} as double_fee, {{ (a > 10) | lower }} as above`,
    });
    await buildModel(h.warehouse, await h.load(), "m");
    // Before: '10.5' + 1 gave 10.51 and '2.50' * 2 gave 2.502.50 (the strings joined).
    const [row] = await rows(h.warehouse, `select * from ${target.schema}.m`) as Record<
      string,
      unknown
    >[];
    assert.deepEqual(
      [Number(row?.threshold), Number(row?.double_fee), row?.above],
      [11.5, 5, true],
    );
  });
}

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`dbt on ${target.name}: adapter.alter_column_type widens a column, keeping its values`, async () => {
    await using h = await embeddedProject(target, {
      "macros/widen.sql": `
{% macro widen() %}
  {%- do run_query("create schema if not exists " ~ target.schema) -%}
  {%- do run_query("create table " ~ target.schema ~ ".scratch_codes as select cast('ab' as varchar(2)) as code") -%}
  {%- set rel = adapter.get_relation(database=target.database, schema=target.schema, identifier='scratch_codes') -%}
  {%- do adapter.alter_column_type(rel, 'code', 'varchar(40)') -%}
  {%- do run_query("insert into " ~ rel ~ " values ('a much longer code')") -%}
  {{- return(run_query("select count(*) from " ~ rel).columns[0].values()[0]) -}}
{% endmacro %}`,
      "models/m.sql": "select {{ widen() if execute else 0 }} as n",
    });
    await buildModel(h.warehouse, await h.load(), "m");
    // Before: 'alter_column_type' was no method of adapter (the render failed).
    assert.deepEqual(await rows(h.warehouse, `select n from ${target.schema}.m`), [{ n: 2 }]);
    assert.deepEqual(
      await rows(h.warehouse, `select code from ${target.schema}.scratch_codes order by code`),
      [{ code: "a much longer code" }, { code: "ab" }],
    );
  });
}

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`dbt on ${target.name}: relation.information_schema('columns') reads the warehouse's columns`, async () => {
    // audit_helper's postgres__get_columns_in_relation_sql reads it so; before, the method was
    // missing ("'relation.information_schema' is not defined") and the model failed.
    await using h = await embeddedProject(target, {
      "models/a.sql": "select 1 as x, 'y' as y",
      "models/cols.sql": `
{%- set rel = ref('a') -%}
select count(*) as n, '{{ rel.information_schema('columns') }}' as printed,
  '{{ rel.information_schema() }}' as bare
from {{ rel.information_schema('columns') }}
where table_name = '{{ rel.identifier }}' and table_schema = '{{ rel.schema }}'`,
    });
    const project = await h.load();
    await buildModel(h.warehouse, project, "a");
    await buildModel(h.warehouse, project, "cols");
    // With the database in front, as dbt's InformationSchema prints it.
    const db = `"${project.target.database}"`;
    assert.deepEqual(await rows(h.warehouse, `select * from ${target.schema}.cols`), [
      { n: 2, printed: `${db}.INFORMATION_SCHEMA.columns`, bare: `${db}.INFORMATION_SCHEMA` },
    ]);
  });
}
