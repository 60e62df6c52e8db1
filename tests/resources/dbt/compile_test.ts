/**
 * Loading and compiling: each Jinja feature's compiled SQL, hierarchical
 * config, profiles, ephemeral CTEs, and the errors that name file and line.
 */

import assert from "node:assert/strict";
import { DbtError, DbtErrorCode, injectCtes, loadProject } from "../../../resources/dbt/mod.ts";
import { CACHE_ENGINE } from "../../../resources/dbt/_cache.ts";
import { writeProject } from "./_fixture.ts";

const SOURCES = `version: 2
sources:
  - name: raw
    schema: raw
    meta: { asset: bronze_things }
    tables:
      - name: things
`;

const doc = (...names: string[]) =>
  `version: 2\nmodels:\n${
    names.map((n) => `  - name: ${n}\n    description: The ${n} model.\n`).join("")
  }`;

function env(values: Record<string, string>) {
  return (name: string) => values[name];
}

async function expectDbtError(
  promise: Promise<unknown>,
  code: string,
  file: string,
  line?: number,
): Promise<DbtError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DbtError, `expected DbtError, got ${String(error)}`);
    assert.equal(error.code, code, error.message);
    assert.equal(error.file, file, error.message);
    if (line !== undefined) assert.equal(error.line, line, error.message);
    assert.ok(error.message.startsWith(line ? `${file}:${line}: ` : file), error.message);
    return error;
  }
  assert.fail(`expected ${code}`);
}

Deno.test("compile: Jinja features", async (t) => {
  await using project = await writeProject({
    "models/sources.yml": SOURCES,
    "models/schema.yml": doc("base", "features", "inc", "eph", "uses_eph", "with_eph"),
    "macros/util.sql":
      `{% macro cents(col, scale=2) -%}round({{ col }} * 100, {{ scale }}){%- endmacro %}
{% macro rel_of(name) %}{{ ref(name) }}{% endmacro %}`,
    "models/base.sql": "select 1 as id, 'a' as kind from {{ source('raw', 'things') }}",
    "models/features.sql": `{{ config(materialized='table', tags=['daily']) }}
{%- set cols = ['id', 'kind'] -%}
select {% for c in cols %}{{ c }}{% if not loop.last %}, {% endif %}{% endfor %},
  {{ var('threshold') }} as threshold, {{ var('missing', 7) }} as fallback,
  '{{ env_var('DEMO_COLOR', 'blue') }}' as color, '{{ target.name }}' as tgt,
  '{{ target.schema }}' as tgt_schema, {{ cents('id') }} as c, {{ cents('id', scale=0) }} as c0,
  {% if var('threshold') > 1 %}'big'{% else %}'small'{% endif %} as size
from {{ rel_of('base') }}`,
    "models/inc.sql": `{{ config(materialized='incremental', unique_key='id') }}
select * from {{ ref('base') }}
{% if is_incremental() %}where id > (select max(id) from {{ this }}){% endif %}`,
    "models/eph.sql": "{{ config(materialized='ephemeral') }}select id from {{ ref('base') }}",
    "models/uses_eph.sql": "select * from {{ ref('eph') }}",
    "models/with_eph.sql":
      "-- leading comment\nwith x as (select * from {{ ref('eph') }}) select * from x",
  });
  const p = await loadProject(project.dir, { env: env({ DEMO_COLOR: "green" }) });
  const sql = (name: string) => p.models.get(name)?.compiledCode ?? assert.fail(name);

  await t.step("source() and ref() print quoted relations", () => {
    assert.equal(sql("base"), `select 1 as id, 'a' as kind from "postgres"."raw"."things"`);
    assert.match(sql("features"), /from "postgres"\."analytics"\."base"$/); // ref inside a macro
  });
  await t.step("set/for/if, var with and without default, env_var, target, macros", () => {
    const text = sql("features");
    assert.match(text, /^select id, kind,/);
    assert.match(text, /2 as threshold, 7 as fallback/);
    assert.match(text, /'green' as color, 'embedded' as tgt/);
    assert.match(text, /'analytics' as tgt_schema/);
    assert.match(text, /round\(id \* 100, 2\) as c, round\(id \* 100, 0\) as c0/);
    assert.match(text, /'big' as size/);
  });
  await t.step("config() sets materialized and tags over the project default", () => {
    const features = p.models.get("features");
    assert.equal(features?.config.materialized, "table");
    assert.deepEqual(features?.config.tags, ["daily"]);
    assert.equal(p.models.get("base")?.config.materialized, "view");
  });
  await t.step("is_incremental() and this: only in the incremental compile", async () => {
    assert.doesNotMatch(sql("inc"), /where id/);
    assert.match(
      await p.compileNode("inc", { isIncremental: true }),
      /where id > \(select max\(id\) from "postgres"\."analytics"\."inc"\)/,
    );
    assert.equal(p.models.get("inc")?.config.unique_key, "id");
  });
  await t.step("ephemeral models are inlined as __dbt__cte__ CTEs", () => {
    assert.equal(
      sql("uses_eph"),
      `with __dbt__cte__eph as (\nselect id from "postgres"."analytics"."base"\n)\nselect * from __dbt__cte__eph`,
    );
    assert.equal(
      sql("with_eph"),
      `-- leading comment\nwith __dbt__cte__eph as (\nselect id from "postgres"."analytics"."base"\n),\n` +
        `x as (select * from __dbt__cte__eph) select * from x`,
    );
    assert.deepEqual(p.models.get("uses_eph")?.dependsOn, ["model.demo.eph"]);
  });
  await t.step("vars given by the caller override dbt_project.yml", async () => {
    const q = await loadProject(project.dir, { vars: { threshold: 0 } });
    assert.match(
      q.models.get("features")?.compiledCode ?? "",
      /0 as threshold[\s\S]*'small' as size/,
    );
  });
  await t.step("dependencies come from ref and source", () => {
    assert.deepEqual(p.models.get("base")?.dependsOn, ["source.demo.raw.things"]);
    assert.deepEqual(p.models.get("inc")?.dependsOn, ["model.demo.base"]);
    assert.equal(p.sources.get("source.demo.raw.things")?.meta.asset, "bronze_things");
  });
  await t.step(
    "Python-flavoured Jinja: True/None, dict.items(), str methods, dbt filters",
    async () => {
      await Deno.writeTextFile(
        `${project.dir}/models/py.sql`,
        `{%- set cols = {'id': 'int', 'kind': 'text'} -%}
select {% for name, type in cols.items() %}cast({{ name }} as {{ type.upper() }}) as {{ name }}{{ ', ' if not loop.last }}{% endfor %},
  {{ 'yes' if True else 'no' }} as t, {{ 'none' if var('unset', None) is none else 'set' }} as n,
  {{ '5' | as_number + 1 }} as six, '{{ '  Mixed  '.strip().lower() }}' as s,
  {{ ['a', 'b'] | length }} as two
from {{ ref('base') }}`,
      );
      await Deno.writeTextFile(
        `${project.dir}/models/schema_py.yml`,
        "version: 2\nmodels:\n  - name: py\n    description: Python-style Jinja.\n",
      );
      const q = await loadProject(project.dir);
      assert.equal(
        q.models.get("py")?.compiledCode,
        `select cast(id as INT) as id, cast(kind as TEXT) as kind,\n  yes as t, none as n,\n` +
          `  6 as six, 'mixed' as s,\n  2 as two\nfrom "postgres"."analytics"."base"`,
      );
      await Deno.remove(`${project.dir}/models/py.sql`);
      await Deno.remove(`${project.dir}/models/schema_py.yml`);
    },
  );
  await t.step("injectCtes leaves SQL without CTEs alone", () => {
    assert.equal(injectCtes("select 1", []), "select 1");
  });
});

Deno.test("compile: project config and profiles", async (t) => {
  await using project = await writeProject({
    "models/schema.yml": doc("a", "b"),
    "models/a.sql": "select 1 as id",
    "models/marts/b.sql": "select * from {{ ref('a') }}",
  });
  await t.step("+materialized and +schema apply by folder (generate_schema_name)", async () => {
    const p = await loadProject(project.dir);
    const b = p.models.get("b");
    assert.equal(b?.config.materialized, "table");
    assert.equal(b?.relation.toString(), `"postgres"."analytics_marts"."b"`);
    assert.deepEqual(b?.fqn, ["demo", "marts", "b"]);
    assert.equal(p.models.get("a")?.relation.toString(), `"postgres"."analytics"."a"`);
  });
  await t.step("the profile's target and env_var defaults", async () => {
    const p = await loadProject(project.dir, { env: env({ DEMO_SCHEMA: "dev_x" }) });
    assert.equal(p.target.name, "embedded");
    assert.equal(p.models.get("b")?.relation.schema, "dev_x_marts");
    const other = await loadProject(project.dir, { env: env({ DEMO_TARGET: "other" }) });
    assert.equal(other.target.schema, "other");
  });
  await t.step("an unknown target is refused, naming the outputs", async () => {
    const error = await expectDbtError(
      loadProject(project.dir, { target: "prod" }),
      DbtErrorCode.invalidProject,
      "profiles.yml",
    );
    assert.match(error.message, /target 'prod'.*outputs: embedded, other/);
  });
  await t.step("enabled: false removes a model; a ref to it is an error", async () => {
    await Deno.writeTextFile(
      `${project.dir}/models/off.sql`,
      "{{ config(enabled=false) }}\nselect 1",
    );
    const p = await loadProject(project.dir);
    assert.equal(p.models.has("off"), false); // and no schema.yml entry was needed
    await Deno.writeTextFile(
      `${project.dir}/models/uses_off.sql`,
      "select *\nfrom {{ ref('off') }}",
    );
    await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.unknownRef,
      "models/uses_off.sql",
      2,
    );
    await Deno.remove(`${project.dir}/models/uses_off.sql`);
    await Deno.remove(`${project.dir}/models/off.sql`);
  });
  await t.step("a generate_schema_name macro overrides the default", async () => {
    await Deno.mkdir(`${project.dir}/macros`, { recursive: true });
    await Deno.writeTextFile(
      `${project.dir}/macros/schema.sql`,
      "{% macro generate_schema_name(custom, node) %}{{ custom or target.schema }}{% endmacro %}",
    );
    const p = await loadProject(project.dir);
    assert.equal(p.models.get("b")?.relation.schema, "marts");
    await Deno.remove(`${project.dir}/macros/schema.sql`);
  });
});

Deno.test("compile: errors name file and line", async (t) => {
  await t.step("unknown ref, with a suggestion", async () => {
    await using project = await writeProject({
      "models/schema.yml": doc("orders", "report"),
      "models/orders.sql": "select 1 as id",
      "models/report.sql": "select *\nfrom\n  {{ ref('order') }}",
    });
    const error = await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.unknownRef,
      "models/report.sql",
      3,
    );
    assert.match(error.message, /ref\('order'\).*did you mean 'orders'/);
  });
  await t.step("unknown source", async () => {
    await using project = await writeProject({
      "models/sources.yml": SOURCES,
      "models/schema.yml": doc("a"),
      "models/a.sql": "select 1\nfrom {{ source('raw', 'thing') }}",
    });
    await expectDbtError(loadProject(project.dir), DbtErrorCode.unknownSource, "models/a.sql", 2);
  });
  await t.step("ref() or source() without their names", async () => {
    await using project = await writeProject({
      "models/sources.yml": SOURCES,
      "models/schema.yml": doc("a", "b"),
      "models/a.sql": "select 1 as id\nfrom {{ ref() }}",
      "models/b.sql": "select 1 as id",
    });
    const error = await expectDbtError(
      loadProject(project.dir, { cache: false }),
      DbtErrorCode.renderFailed,
      "models/a.sql",
      2,
    );
    assert.match(error.message, /ref\(\) needs the name of a model/);
    await Deno.writeTextFile(
      `${project.dir}/models/a.sql`,
      "select 1 as id\n\nfrom {{ source('raw') }}",
    );
    const sourceError = await expectDbtError(
      loadProject(project.dir, { cache: false }),
      DbtErrorCode.renderFailed,
      "models/a.sql",
      3,
    );
    assert.match(sourceError.message, /source\(\) needs the source and the table/);
  });
  await t.step("Jinja syntax error", async () => {
    await using project = await writeProject({
      "models/schema.yml": doc("a"),
      "models/a.sql": "select 1\n{% if %}\nfrom x",
    });
    const error = await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.jinjaSyntax,
      "models/a.sql",
      2,
    );
    assert.match(error.message, /Jinja syntax error/);
  });
  await t.step("a block or comment never closed names the line it opens on", async () => {
    await using project = await writeProject({
      "models/schema.yml": doc("a"),
      "models/a.sql": "select 1 as id",
      "macros/m.sql": "{% macro m() %}\n  {% if true %}\n  select 1\n  {% endif %}\n",
    });
    const error = await expectDbtError(
      loadProject(project.dir, { cache: false }),
      DbtErrorCode.jinjaSyntax,
      "macros/m.sql",
      1,
    );
    assert.match(error.message, /end of file \(what opens on line 1 is never closed\)/);
    await Deno.writeTextFile(`${project.dir}/macros/m.sql`, "");
    await Deno.writeTextFile(`${project.dir}/models/a.sql`, "select 1 as id\n{# a note\n");
    await expectDbtError(
      loadProject(project.dir, { cache: false }),
      DbtErrorCode.jinjaSyntax,
      "models/a.sql",
      2,
    );
  });
  await t.step("undefined var without default", async () => {
    await using project = await writeProject({
      "models/schema.yml": doc("a"),
      "models/a.sql": "select\n{{ var('nope') }} as x",
    });
    const error = await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.renderFailed,
      "models/a.sql",
      2,
    );
    assert.match(error.message, /var\('nope'\) is not defined/);
  });
  await t.step("env_var without value or default", async () => {
    await using project = await writeProject({
      "models/schema.yml": doc("a"),
      "models/a.sql": "select '{{ env_var('DBT_TEST_SURELY_UNSET') }}' as x",
    });
    const error = await expectDbtError(
      loadProject(project.dir, { env: env({}) }),
      DbtErrorCode.renderFailed,
      "models/a.sql",
      1,
    );
    assert.match(error.message, /DBT_TEST_SURELY_UNSET/);
  });
  await t.step("governance: a model without a schema.yml entry is refused", async () => {
    await using project = await writeProject({
      "models/schema.yml": doc("a"),
      "models/a.sql": "select 1 as id",
      "models/marts/undocumented.sql": "select * from {{ ref('a') }}",
    });
    // A foreign project (no setting) loads: the rule is this platform's, not dbt's.
    const loaded = await loadProject(project.dir, { cache: false });
    assert.ok(loaded.models.has("undocumented"));
    // The var turns it on, as our own dbt/ project does.
    await expectDbtError(
      loadProject(project.dir, { cache: false, vars: { require_model_docs: true } }),
      DbtErrorCode.missingSchemaEntry,
      "models/marts/undocumented.sql",
      1,
    );
    const error = await expectDbtError(
      loadProject(project.dir, { requireDocs: true }),
      DbtErrorCode.missingSchemaEntry,
      "models/marts/undocumented.sql",
      1,
    );
    assert.match(error.message, /'undocumented' has no schema\.yml entry/);
  });
  await t.step("governance: an entry without description is refused at its line", async () => {
    await using project = await writeProject({
      "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n",
      "models/a.sql": "select 1 as id",
    });
    await expectDbtError(
      loadProject(project.dir, { requireDocs: true }),
      DbtErrorCode.missingSchemaEntry,
      "models/schema.yml",
      3,
    );
  });
  await t.step("invalid YAML and bad shapes name the line", async () => {
    await using project = await writeProject({
      "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    description: [unclosed\n",
      "models/a.sql": "select 1",
    });
    await expectDbtError(loadProject(project.dir), DbtErrorCode.invalidYaml, "models/schema.yml");
    await Deno.writeTextFile(
      `${project.dir}/models/schema.yml`,
      "version: 2\nmodels:\n  - name: a\n    description: ok\n    columns:\n      - description: no name\n",
    );
    await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.invalidYaml,
      "models/schema.yml",
      6,
    );
  });
  await t.step("an unknown generic test or a missing argument names the YAML line", async () => {
    await using project = await writeProject({
      "models/schema.yml": `version: 2
models:
  - name: a
    description: A.
    columns:
      - name: id
        data_tests:
          - not_null
          - accepted_values:
              quote: true
`,
      "models/a.sql": "select 1 as id",
    });
    const error = await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.invalidYaml,
      "models/schema.yml",
      9,
    );
    assert.match(error.message, /needs 'values:'/);
    await Deno.writeTextFile(
      `${project.dir}/models/schema.yml`,
      "version: 2\nmodels:\n  - name: a\n    description: A.\n    columns:\n      - name: id\n        data_tests: [is_even]\n",
    );
    await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.invalidYaml,
      "models/schema.yml",
      7,
    );
  });
  await t.step("a cycle names the models", async () => {
    await using project = await writeProject({
      "models/schema.yml": doc("a", "b"),
      "models/a.sql": "select * from {{ ref('b') }}",
      "models/b.sql": "select * from {{ ref('a') }}",
    });
    const error = await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.invalidGraph,
      "models/a.sql",
    );
    assert.match(error.message, /a -> b -> a/);
  });
});

Deno.test("compile: the parse cache never serves stale SQL or YAML", async (t) => {
  await using project = await writeProject({
    "models/schema.yml": doc("a"),
    "models/a.sql": "select {{ var('threshold') }} as x",
  });
  const cache = `${project.dir}/target/partial_parse.json`;
  await t.step("a load writes the cache; cache: false writes none", async () => {
    await loadProject(project.dir, { cache: false });
    await assert.rejects(() => Deno.stat(cache), Deno.errors.NotFound);
    await loadProject(project.dir);
    const written = JSON.parse(await Deno.readTextFile(cache));
    assert.equal(written.engine, CACHE_ENGINE);
    // No template: the model is read by the static parser (compiled when built), and the global
    // project's macros were compiled ahead of time (resources/dbt/jinja/precompiled.ts).
    assert.equal(Object.keys(written.templates).length, 0);
    assert.equal(Object.keys(written.yaml).length, 1);
    // What the static parser read from a.sql, for the next process.
    assert.deepEqual(Object.values(written.static), [{ refs: [], sources: [], config: {} }]);
  });
  await t.step("a changed file is compiled again", async () => {
    await Deno.writeTextFile(
      `${project.dir}/models/a.sql`,
      "select {{ var('threshold') }} + 1 as x",
    );
    const p = await loadProject(project.dir);
    assert.equal(p.models.get("a")?.compiledCode, "select 2 + 1 as x");
  });
  await t.step("a changed schema.yml is parsed again", async () => {
    await Deno.writeTextFile(
      `${project.dir}/models/schema.yml`,
      "version: 2\nmodels:\n  - name: a\n    description: Changed.\n",
    );
    assert.equal((await loadProject(project.dir)).models.get("a")?.description, "Changed.");
  });
  await t.step("errors found with cached YAML still name the line", async () => {
    await Deno.writeTextFile(`${project.dir}/models/b.sql`, "select 1 as id");
    await Deno.writeTextFile(
      `${project.dir}/models/schema.yml`,
      `version: 2
models:
  - name: b
    description: B.
  - name: a
    description: A.
    columns:
      - name: x
        data_tests:
          - relationships:
              to: ref('b')
              field: id
`,
    );
    await loadProject(project.dir); // caches the YAML
    await Deno.remove(`${project.dir}/models/b.sql`); // the YAML itself is unchanged
    await Deno.writeTextFile(
      `${project.dir}/models/schema_b.yml`,
      "version: 2\nmodels:\n  - name: c\n    description: C.\n",
    );
    await Deno.writeTextFile(`${project.dir}/models/c.sql`, "select 1 as id");
    await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.unknownRef,
      "models/schema.yml",
      10,
    );
  });
  await t.step("a static parse is kept only for the macros it was read against", async () => {
    await Deno.writeTextFile(`${project.dir}/models/b.sql`, "select 1 as id");
    await Deno.writeTextFile(`${project.dir}/models/d.sql`, "select {{ pick() }} as id");
    await Deno.mkdir(`${project.dir}/macros`, { recursive: true });
    await Deno.writeTextFile(`${project.dir}/macros/pick.sql`, "{% macro pick() %}1{% endmacro %}");
    const before = await loadProject(project.dir);
    assert.deepEqual(before.models.get("d")?.refs, []);
    // The macro now refs a model: d's cached parse no longer applies (it is rendered).
    await Deno.writeTextFile(
      `${project.dir}/macros/pick.sql`,
      "{% macro pick() %}(select id from {{ ref('b') }}){% endmacro %}",
    );
    const after = await loadProject(project.dir);
    assert.deepEqual(after.models.get("d")?.refs, ["b"]);
    await Deno.remove(`${project.dir}/models/d.sql`);
    await Deno.remove(`${project.dir}/models/b.sql`);
    await Deno.remove(`${project.dir}/macros`, { recursive: true });
  });
  await t.step("a corrupt cache is ignored and rewritten", async () => {
    await Deno.writeTextFile(`${project.dir}/models/schema.yml`, doc("a", "c"));
    await Deno.remove(`${project.dir}/models/schema_b.yml`);
    await Deno.writeTextFile(cache, "{ half");
    const p = await loadProject(project.dir);
    assert.equal(p.models.get("a")?.compiledCode, "select 2 + 1 as x");
    assert.equal(JSON.parse(await Deno.readTextFile(cache)).engine, CACHE_ENGINE);
  });
});

Deno.test("compile: Jinja reads the time from the clock it is given", async () => {
  await using project = await writeProject({
    "models/stamped.sql": "select '{{ modules.datetime.datetime.now().isoformat() }}' as now, " +
      "'{{ modules.datetime.date.today() }}' as today, " +
      "'{{ run_started_at.strftime('%Y-%m-%d %H:%M') }}' as started",
  });
  let now = Date.UTC(2031, 1, 3, 4, 5, 6);
  const clock = { now: () => now };
  const loaded = await loadProject(project.dir, { cache: false, clock });
  now += 86_400_000; // a day passes between the load and the compile
  const sql = loaded.models.get("stamped")?.compiledCode ?? "";
  // Python's isoformat(): no fraction when the microseconds are 0.
  assert.match(sql, /'2031-02-04T04:05:06' as now/);
  assert.match(sql, /'2031-02-04' as today/);
  // run_started_at is the invocation's start (the load), not the time of the render.
  assert.match(sql, /'2031-02-03 04:05' as started/);
});

Deno.test("compile: a new process loads an unchanged project from the parse cache alone", async () => {
  await using project = await writeProject({
    "models/a.sql": "select {{ var('threshold') }} as x",
    "models/b.sql": "{{ config(materialized='table') }}\nselect x from {{ ref('a') }}",
  });
  const cache = `${project.dir}/target/partial_parse.json`;
  const load = new URL("../../../resources/dbt/mod.ts", import.meta.url).href;
  // Each load in a process of its own, as `deno task dbt` runs: nothing of the last one in memory.
  const loadInChild = async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `const { loadProject } = await import(${JSON.stringify(load)});\n` +
        `const p = await loadProject(${JSON.stringify(project.dir)});\n` +
        `console.log(JSON.stringify(p.models.get("b").refs));`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout));
  };
  assert.deepEqual(await loadInChild(), ["a"]);
  const first = await Deno.readTextFile(cache);
  assert.equal(Object.keys(JSON.parse(first).static).length, 2);
  // Everything came from the cache (templates, YAML, static parses): nothing to write again.
  await Deno.writeTextFile(cache, first.replace(/\n$/, "\n\n"));
  assert.deepEqual(await loadInChild(), ["a"]);
  assert.equal(await Deno.readTextFile(cache), first.replace(/\n$/, "\n\n"));
  // An entry not of the cache's own shape is parsed again and rewritten, never trusted.
  const tampered = JSON.parse(first);
  for (const key of Object.keys(tampered.static)) tampered.static[key] = { refs: 7 };
  await Deno.writeTextFile(cache, JSON.stringify(tampered));
  assert.deepEqual(await loadInChild(), ["a"]);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(cache)).static, JSON.parse(first).static);
});

Deno.test("compile: an empty or commented-out property file declares nothing (as in dbt)", async () => {
  await using project = await writeProject({
    "models/a.sql": "select 1 as id",
    "models/empty.yml": "",
    "models/old_schema.yml": "# version: 2\n# models:\n#   - name: a\n",
    "models/schema.yml": doc("a"),
  });
  const loaded = await loadProject(project.dir, { cache: false });
  assert.deepEqual([...loaded.models.keys()], ["a"]);
  assert.equal(loaded.models.get("a")?.description, "The a model.");
});

Deno.test("compile: `model` has its properties' description, meta and columns, as dbt's node", async () => {
  await using project = await writeProject({
    "models/docs.md": "{% docs owner_doc %}Owned by data.{% enddocs %}",
    "models/m.sql": "{{ config(meta={'tier': 1}) }}" +
      "select '{{ model.meta.owner }}/{{ model.meta.tier }}' as o, '{{ model.description }}' as d, " +
      "'{{ model.columns.id.description }}/{{ model.columns | list | join(',') }}' as c, " +
      "'{{ model.relation_name }}' as r",
    "models/schema.yml": `version: 2
models:
  - name: m
    description: "{{ doc('owner_doc') }}"
    meta: {owner: ann}
    columns:
      - name: id
        description: The key.
      - name: o
`,
  });
  const p = await loadProject(project.dir, { cache: false, env: () => undefined });
  assert.equal(
    p.models.get("m")?.compiledCode,
    `select 'ann/1' as o, 'Owned by data.' as d, 'The key./id,o' as c, '"postgres"."analytics"."m"' as r`,
  );
});

Deno.test("compile: a project's own ref / source macro replaces the built-in, builtins keeps it", async () => {
  await using project = await writeProject({
    "models/sources.yml": SOURCES,
    "macros/overrides.sql": `{% macro ref() %}
  {%- set rel = builtins.ref(*varargs, **kwargs) -%}
  {%- do return(rel.include(schema=false)) -%}
{% endmacro %}
{% macro source(source_name, table_name) %}
  {%- do return('(select * from ' ~ builtins.source(source_name, table_name) ~ ' limit 10) s') -%}
{% endmacro %}`,
    "models/base.sql": "select 1 as id from {{ source('raw', 'things') }}",
    "models/child.sql": "select * from {{ ref('base') }}",
  });
  const p = await loadProject(project.dir, { cache: false });
  // Silently ignored before: the built-in ref and source won over the project's macros.
  assert.equal(
    p.models.get("base")?.compiledCode,
    `select 1 as id from (select * from "postgres"."raw"."things" limit 10) s`,
  );
  assert.equal(p.models.get("child")?.compiledCode, `select * from "postgres"."base"`);
  // The dependencies are the ones builtins.ref / builtins.source recorded.
  assert.deepEqual(p.models.get("child")?.dependsOn, ["model.demo.base"]);
  assert.deepEqual(p.models.get("base")?.dependsOn, ["source.demo.raw.things"]);
});

Deno.test("compile: a bad severity, warn_if or test config names its file, line and value", async () => {
  // Under `config:` a bad value escaped as a bare ZodError with a stack trace (exit 1);
  // beside the arguments a mapping was printed '[object Object]'.
  for (
    const [entry, said] of [
      [
        "config: {severity: {level: warn}}",
        "models/schema.yml:9: at models.0.columns.0.data_tests.0.not_null.config.severity: " +
        "Invalid input: expected string, received object",
      ],
      ["config: {severity: warning}", "data_tests.0.not_null.config.severity: Invalid option"],
      ["severity: {level: warn}", "data_tests.0.not_null.severity: Invalid input: expected string"],
      ["warn_if: {gt: 10}", "data_tests.0.not_null.warn_if: Invalid input: expected string"],
    ]
  ) {
    await using project = await writeProject({
      "models/a.sql": "select 1 as id",
      "models/schema.yml": `version: 2
models:
  - name: a
    description: The a model.
    columns:
      - name: id
        data_tests:
          - not_null:
              ${entry}
`,
    });
    const error = await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.invalidYaml,
      "models/schema.yml",
    );
    assert.ok(error.message.includes(said!), error.message);
  }
  // A singular test's config() is read by the compiler, not zod.
  for (
    const [config, said] of [
      ["severity={'level': 'warn'}", "severity {'level': 'warn'} must be warn or error"],
      ["warn_if={'gt': 10}", "warn_if: {'gt': 10} is not a condition on the failure count"],
    ]
  ) {
    await using project = await writeProject({
      "models/a.sql": "select 1 as id",
      "models/schema.yml": doc("a"),
      "tests/a_positive.sql": `{{ config(${config}) }}\nselect * from {{ ref('a') }} where id < 0`,
    });
    const error = await expectDbtError(
      loadProject(project.dir),
      DbtErrorCode.invalidYaml,
      "tests/a_positive.sql",
    );
    assert.ok(error.message.includes(said!), error.message);
  }
});
