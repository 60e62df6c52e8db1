/**
 * Custom `{% materialization %}` blocks of the project and its packages, on
 * PGlite and DuckDB: the one dbt's rules pick runs (adapter-specific before
 * `default`; root project before package), with `sql`, `this`, `config`,
 * the hooks and the helpers dbt's materializations use; a bad return value,
 * a name nothing defines and a root override of a built-in one fail naming
 * what to fix.
 */

import assert from "node:assert/strict";
import { buildModel, DbtError, DbtErrorCode, loadProject } from "../../../resources/dbt/mod.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { writeProject } from "./_fixture.ts";
import { EMBEDDED_TARGETS, embeddedProject, PGLITE_TARGET, rows } from "./_embedded.ts";

const PACKAGE_YML = `name: kit
version: "1.0.0"
config-version: 2
`;

/** A table built under a temporary name and swapped in, as package materializations do. */
const SWAP_TABLE = `
{% materialization swap_table, default %}
  {%- set target_relation = this.incorporate(type='table') -%}
  {%- set existing = load_cached_relation(this) -%}
  {%- set intermediate = make_intermediate_relation(target_relation) -%}
  {{ drop_relation_if_exists(load_cached_relation(intermediate)) }}
  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  {{ run_hooks(pre_hooks, inside_transaction=True) }}
  {% call statement('main') -%}
    {{ create_table_as(False, intermediate, sql) }}
  {%- endcall %}
  {% if existing is not none %}{{ adapter.drop_relation(existing) }}{% endif %}
  {{ adapter.rename_relation(intermediate, target_relation) }}
  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}
  {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
`;

/** A materialization that records which definition ran. */
const stamp = (name: string, who: string, adapter: string) => `
{% materialization ${name}, ${adapter === "default" ? "default" : `adapter='${adapter}'`} %}
  {% call statement('main') -%}
    create table {{ this }} as select '${who}' as who, ({{ sql }}) as n
  {%- endcall %}
  {{ return({'relations': [this.incorporate(type='table')]}) }}
{% endmaterialization %}
`;

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`custom materializations on ${target.name}: the one dbt picks builds the model`, async (t) => {
    await using h = await embeddedProject(target, {
      "dbt_packages/kit/dbt_project.yml": PACKAGE_YML,
      "dbt_packages/kit/macros/swap_table.sql": SWAP_TABLE,
      // The package's adapter-specific `stamp` beats the root's default one; for `plain`, both
      // default, the root's wins; `other_adapter` exists only for another adapter.
      "dbt_packages/kit/macros/stamps.sql": stamp("stamp", "package adapter", target.type) +
        stamp("stamp", "package default", "default") +
        stamp("plain", "package default", "default"),
      "macros/stamps.sql": stamp("stamp", "root default", "default") +
        stamp("plain", "root default", "default") +
        stamp("elsewhere", "other adapter", target.type === "duckdb" ? "postgres" : "duckdb"),
      "models/audit.sql": "{{ config(materialized='table') }}select 0 as step where false",
      "models/swapped.sql": `{{ config(materialized='swap_table',
    pre_hook="insert into {{ ref('audit') }} values (1)",
    post_hook="insert into {{ ref('audit') }} values (2)") }}
select id from (values (1), (2), (3)) as t(id)`,
      "models/stamped.sql": "{{ config(materialized='stamp') }}select 7",
      "models/plain.sql": "{{ config(materialized='plain') }}select 8",
    });
    const project = await h.load();
    const s = target.schema;
    await t.step(
      "a package's materialization swaps a table in, running the hooks once",
      async () => {
        await buildModel(h.warehouse, project, "audit");
        const first = await buildModel(h.warehouse, project, "swapped");
        assert.equal(first.materialized, "swap_table");
        assert.deepEqual(await rows(h.warehouse, `select id from ${s}.swapped order by id`), [
          { id: 1 },
          { id: 2 },
          { id: 3 },
        ]);
        // Built again over the existing table: it is replaced, not appended to.
        await buildModel(h.warehouse, project, "swapped");
        assert.deepEqual(await rows(h.warehouse, `select count(*) as n from ${s}.swapped`), [
          { n: 3 },
        ]);
        assert.deepEqual(
          await rows(
            h.warehouse,
            `select step, count(*) as n from ${s}.audit group by 1 order by 1`,
          ),
          [{ step: 1, n: 2 }, { step: 2, n: 2 }],
        );
        assert.deepEqual(
          await rows(
            h.warehouse,
            `select table_name from information_schema.tables where table_name like 'swapped%'`,
          ),
          [{ table_name: "swapped" }],
        );
      },
    );
    await t.step("adapter-specific beats default; root beats package", async () => {
      await buildModel(h.warehouse, project, "stamped");
      await buildModel(h.warehouse, project, "plain");
      assert.deepEqual(await rows(h.warehouse, `select who, n from ${s}.stamped`), [
        { who: "package adapter", n: 7 },
      ]);
      assert.deepEqual(await rows(h.warehouse, `select who, n from ${s}.plain`), [
        { who: "root default", n: 8 },
      ]);
    });
  });
}

async function loadError(files: Record<string, string>): Promise<DbtError> {
  await using project = await writeProject(files);
  try {
    await loadProject(project.dir, { cache: false });
  } catch (error) {
    assert.ok(error instanceof DbtError, String(error));
    return error;
  }
  throw new assert.AssertionError({ message: "expected the load to fail" });
}

Deno.test("custom materializations: a name nothing defines for this adapter fails the load naming it", async () => {
  const unknown = await loadError({
    "models/m.sql": "{{ config(materialized='my_mat') }}select 1",
  });
  assert.equal(unknown.code, DbtErrorCode.invalidProject);
  assert.match(unknown.message, /materialized='my_mat' names no materialization/);
  assert.equal(unknown.file, "models/m.sql");
  // Defined for DuckDB only: a Postgres target has none.
  const elsewhere = await loadError({
    "macros/m.sql": stamp("my_mat", "duck", "duckdb"),
    "models/m.sql": "{{ config(materialized='my_mat') }}select 1",
  });
  assert.match(elsewhere.message, /materialized='my_mat' names no materialization/);
});

Deno.test("custom materializations: the root project's override of a built-in one is refused by name", async () => {
  const error = await loadError({
    "macros/table.sql": stamp("table", "mine", "default"),
    "models/m.sql": "{{ config(materialized='table') }}select 1",
  });
  assert.equal(error.code, DbtErrorCode.unsupported);
  assert.match(
    error.message,
    /macros\/table\.sql overrides dbt's built-in 'table' materialization/,
  );
  // Found on the model using it, after models of other materializations were checked.
  const later = await loadError({
    "macros/table.sql": stamp("table", "mine", "default"),
    "models/a.sql": "select 1",
    "models/b.sql": "{{ config(materialized='ephemeral') }}select 1",
    "models/c.sql": "select * from {{ ref('a') }}",
    "models/m.sql": "{{ config(materialized='table') }}select * from {{ ref('c') }}",
  });
  assert.equal(later.code, DbtErrorCode.unsupported);
  assert.equal(later.file, "models/m.sql");
  // A package's override of a built-in is ignored, as dbt does by default.
  await using project = await writeProject({
    "dbt_packages/kit/dbt_project.yml": PACKAGE_YML,
    "dbt_packages/kit/macros/table.sql": stamp("table", "package", "default"),
    "models/m.sql": "{{ config(materialized='table') }}select 1 as x",
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  await buildModel(warehouse, await loadProject(project.dir, { cache: false }), "m");
  assert.deepEqual(await warehouse.query("select x from analytics.m"), [{ x: 1 }]);
});

Deno.test("custom materializations: one that does not return its relations fails naming the model", async () => {
  await using h = await embeddedProject(PGLITE_TARGET, {
    "macros/bad.sql": `{% materialization bad, default %}
{% call statement('main') %}create table {{ this }} as {{ sql }}{% endcall %}
{% endmaterialization %}`,
    "models/m.sql": "{{ config(materialized='bad') }}select 1 as x",
  });
  const project = await h.load();
  await assert.rejects(buildModel(h.warehouse, project, "m"), (error) => {
    assert.ok(error instanceof DbtError);
    assert.equal(error.file, "models/m.sql");
    assert.match(error.message, /materialization 'bad' of model 'm' returned .*'relations'/);
    return true;
  });
});

Deno.test("custom materializations: manifest.json lists each as a macro with its block", async () => {
  await using project = await writeProject({
    "macros/stamps.sql": `{% macro helper() %}1{% endmacro %}\n${stamp("mine", "me", "default")}`,
  });
  const loaded = await loadProject(project.dir, { cache: false });
  const macro = loaded.macros.get("macro.demo.materialization_mine_default");
  assert.match(
    macro?.sql ?? "",
    /^\{% materialization mine, default %\}[\s\S]*endmaterialization %\}$/,
  );
  assert.equal(macro?.file, "macros/stamps.sql");
});

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`custom materializations on ${target.name}: a statement of several SQL statements runs whole`, async () => {
    await using h = await embeddedProject(target, {
      "macros/twice.sql": `{% materialization twice, default %}
{% call statement('main') -%}
  create table {{ this }} as {{ sql }};
  insert into {{ this }} {{ sql }};
{%- endcall %}
{{ return({'relations': [this.incorporate(type='table')]}) }}
{% endmaterialization %}`,
      "models/m.sql": "{{ config(materialized='twice') }}select 5 as x",
    });
    await buildModel(h.warehouse, await h.load(), "m");
    assert.deepEqual(await rows(h.warehouse, `select x from ${target.schema}.m`), [
      { x: 5 },
      { x: 5 },
    ]);
  });
}

for (const target of EMBEDDED_TARGETS) {
  Deno.test(`custom materializations on ${target.name}: a temporary relation stages the rows`, async () => {
    await using h = await embeddedProject(target, {
      "macros/staged.sql": `{% materialization staged, default %}
{%- set tmp = make_temp_relation(this) -%}
{% call statement('stage') %}{{ create_table_as(True, tmp, sql) }}{% endcall %}
{% call statement('main') %}create table {{ this }} as select x * 2 as x from {{ tmp }}{% endcall %}
{{ return({'relations': [this.incorporate(type='table')]}) }}
{% endmaterialization %}`,
      "models/m.sql": "{{ config(materialized='staged') }}select 21 as x",
    });
    await buildModel(h.warehouse, await h.load(), "m");
    assert.deepEqual(await rows(h.warehouse, `select x from ${target.schema}.m`), [{ x: 42 }]);
  });
}
