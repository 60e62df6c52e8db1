/**
 * dbt semantics the runner used to get wrong or ignore (#18 items 1-14),
 * each checked on PGlite against a small project: test scheduling, test
 * thresholds, severity in singular tests, Jinja in dbt_project.yml, every
 * accepted setting working or refused, ephemeral CTEs after config(),
 * seeds, snapshots, profiles, the Jinja context, docs, exposures, selection.
 */

import assert from "node:assert/strict";
import {
  DbtError,
  DbtErrorCode,
  loadProject,
  type LoadProjectOptions,
  runProject,
} from "../../../resources/dbt/mod.ts";
import { selectNodes } from "../../../resources/dbt/select.ts";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { openWarehouse, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { writeProject } from "./_fixture.ts";

const opts: LoadProjectOptions = { cache: false, env: () => undefined };

async function build(
  files: Record<string, string>,
  check: (
    warehouse: Warehouse,
    run: Awaited<ReturnType<typeof runProject>>,
    dir: string,
  ) => Promise<void> | void,
  options: LoadProjectOptions = {},
  setup = "",
): Promise<void> {
  await using project = await writeProject(files);
  await using warehouse = await openWarehouse("pglite:memory:");
  if (setup) await warehouse.exec(setup);
  const p = await loadProject(project.dir, { ...opts, ...options });
  const run = await runProject(p, warehouse, { writeArtifacts: false });
  await check(warehouse, run, project.dir);
}

function statusOf(run: Awaited<ReturnType<typeof runProject>>, fragment: string): string {
  const found = run.results.find((r) => r.unique_id.includes(fragment));
  assert.ok(found, `no result for ${fragment}: ${run.results.map((r) => r.unique_id).join(", ")}`);
  return found.status;
}

async function rejects(promise: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof DbtError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return;
  }
  assert.fail(`expected ${code}`);
}

Deno.test("item 1: a test runs only once every node it reads is built", async () => {
  // order_items is upstream of orders; its relationships test reads orders too.
  await build({
    "models/order_items.sql": "select 1 as order_id union all select 2",
    "models/orders.sql": "select distinct order_id from {{ ref('order_items') }}",
    "models/schema.yml": `version: 2
models:
  - name: order_items
    columns:
      - name: order_id
        data_tests:
          - relationships: {to: ref('orders'), field: order_id}
`,
  }, (_w, run) => {
    assert.equal(
      run.success,
      true,
      JSON.stringify(run.results.map((r) => [r.unique_id, r.message])),
    );
    const order = run.results.map((r) => r.unique_id);
    const test = order.findIndex((id) => id.startsWith("test."));
    assert.ok(order.indexOf("model.demo.orders") < test, order.join(", "));
  });
});

Deno.test("item 2: warn_if and error_if decide a test's status", async (t) => {
  const files = (warnIf: string, errorIf: string) => ({
    "models/m.sql": "select null::int as id union all select null union all select 1",
    "models/schema.yml": `version: 2
models:
  - name: m
    columns:
      - name: id
        data_tests:
          - not_null:
              config: {warn_if: "${warnIf}", error_if: "${errorIf}"}
`,
  });
  for (
    const [warnIf, errorIf, expected] of [
      [">5", ">10", "pass"],
      [">1", ">10", "warn"],
      [">1", ">=2", "fail"],
    ] as const
  ) {
    await t.step(`2 failures, warn_if ${warnIf}, error_if ${errorIf}: ${expected}`, async () => {
      await build(files(warnIf, errorIf), (_w, run) => {
        assert.equal(statusOf(run, "not_null_m_id"), expected);
      });
    });
  }
  await t.step("a condition that is not one is refused", async () => {
    await using project = await writeProject(files("more than five", ">10"));
    await rejects(
      loadProject(project.dir, opts),
      DbtErrorCode.invalidYaml,
      /warn_if: 'more than five'/,
    );
  });
});

Deno.test("item 3: config(severity='warn') in a singular test makes it warn", async () => {
  await build({
    "models/m.sql": "select 1 as id",
    "tests/no_rows.sql": "{{ config(severity='warn') }}\nselect * from {{ ref('m') }}",
  }, (_w, run) => {
    assert.equal(statusOf(run, "test.demo.no_rows"), "warn");
    assert.equal(run.success, true);
  });
});

Deno.test("item 4: Jinja in dbt_project.yml configs is rendered (+enabled from a var)", async (t) => {
  const files = {
    "dbt_project.yml": `name: demo
config-version: 2
profile: demo
vars:
  load_extra: false
models:
  demo:
    extra:
      +enabled: "{{ var('load_extra') }}"
      +schema: "{{ 'ex' ~ 'tra' }}"
`,
    "models/base.sql": "select 1 as id",
    "models/extra/more.sql": "select 2 as id",
  };
  await t.step("false by default: the node is gone", async () => {
    await using project = await writeProject(files);
    const p = await loadProject(project.dir, opts);
    assert.equal(p.models.has("more"), false);
  });
  await t.step("--vars turns it on, and +schema was rendered too", async () => {
    await using project = await writeProject(files);
    const p = await loadProject(project.dir, { ...opts, vars: { load_extra: true } });
    assert.equal(p.models.get("more")?.relation.schema, "analytics_extra");
  });
});

Deno.test("item 5: every accepted setting works or is refused by name", async (t) => {
  await t.step("unsupported settings fail loudly", async () => {
    for (
      const [config, pattern] of [
        ["merge_update_columns=['id']", /merge_update_columns/],
        ["materialized='materialized_view'", /materialized='materialized_view'/],
        ["incremental_strategy='insert_overwrite', materialized='incremental'", /insert_overwrite/],
        ["indexes=[{'columns': ['id']}]", /indexes/],
      ] as const
    ) {
      await using project = await writeProject({
        "models/m.sql": `{{ config(${config}) }}\nselect 1 as id`,
      });
      await rejects(loadProject(project.dir, opts), DbtErrorCode.unsupported, pattern);
    }
  });
  await t.step("pre/post-hooks and on-run-start/end run", async () => {
    await build({
      "dbt_project.yml": `name: demo
config-version: 2
profile: demo
on-run-start: ["create table if not exists public.run_log (what text)", "insert into public.run_log values ('start')"]
on-run-end: "insert into public.run_log values ('end {{ target.name }}')"
`,
      "models/m.sql": `{{ config(materialized='table',
  pre_hook="insert into public.run_log values ('pre')",
  post_hook=["insert into public.run_log select 'post ' || count(*) from {{ this }}"]) }}
select 1 as id`,
    }, async (warehouse, run) => {
      assert.equal(run.success, true, JSON.stringify(run.results));
      const rows = await warehouse.query<{ what: string }>("select what from public.run_log");
      assert.deepEqual(rows.map((r) => r.what), ["start", "pre", "post 1", "end embedded"]);
    });
  });
  await t.step("store_failures keeps the failing rows in the audit schema", async () => {
    await build({
      "models/m.sql": "select null::int as id",
      "models/schema.yml": `version: 2
models:
  - name: m
    columns:
      - name: id
        data_tests:
          - not_null: {config: {store_failures: true, severity: warn}}
`,
    }, async (warehouse) => {
      const rows = await warehouse.query(
        `select * from analytics_dbt_test__audit.not_null_m_id`,
      );
      assert.equal(rows.length, 1);
    });
  });
  await t.step("an enforced contract refuses a column type it does not declare", async () => {
    const files = (type: string) => ({
      "models/m.sql":
        "{{ config(materialized='table', contract={'enforced': true}) }}\nselect 1 as id",
      "models/schema.yml": `version: 2
models:
  - name: m
    columns:
      - name: id
        data_type: ${type}
`,
    });
    await build(
      files("int"),
      (_w, run) => assert.equal(statusOf(run, "model.demo.m"), "success"),
    );
    await build(files("text"), (_w, run) => {
      assert.equal(statusOf(run, "model.demo.m"), "error");
      assert.match(run.results[0]?.message ?? "", /column 'id' is integer, declared text/);
    });
  });
  await t.step("on_schema_change: append_new_columns adds, fail refuses", async () => {
    for (const mode of ["append_new_columns", "fail"] as const) {
      await using project = await writeProject({
        "models/inc.sql": `{{ config(materialized='incremental', on_schema_change='${mode}') }}
select 1 as id{% if var('wide', false) %}, 'x' as extra{% endif %}`,
      });
      await using warehouse = await openWarehouse("pglite:memory:");
      const first = await loadProject(project.dir, opts);
      await runProject(first, warehouse, { writeArtifacts: false });
      const wide = await loadProject(project.dir, { ...opts, vars: { wide: true } });
      const run = await runProject(wide, warehouse, { writeArtifacts: false });
      const columns = (await warehouse.columns("analytics", "inc")).map((c) => c.name);
      if (mode === "fail") {
        assert.equal(statusOf(run, "model.demo.inc"), "error");
        assert.match(run.results[0]?.message ?? "", /changed columns \(added: extra/);
        assert.deepEqual(columns, ["id"]);
      } else {
        assert.equal(statusOf(run, "model.demo.inc"), "success");
        assert.deepEqual(columns, ["id", "extra"]);
      }
    }
  });
  await t.step("grants are applied, and a missing role fails naming it", async () => {
    const files = (role: string) => ({
      "models/m.sql":
        `{{ config(materialized='table', grants={'select': ['${role}']}) }}\nselect 1 as id`,
    });
    await build(
      files("reporter"),
      async (warehouse, run) => {
        assert.equal(statusOf(run, "model.demo.m"), "success", JSON.stringify(run.results));
        const [row] = await warehouse.query<{ ok: boolean }>(
          `select has_table_privilege('reporter', 'analytics.m', 'select') as ok`,
        );
        assert.equal(row?.ok, true);
      },
      {},
      "create role reporter",
    );
    await build(files("nobody_here"), (_w, run) => {
      assert.equal(statusOf(run, "model.demo.m"), "error");
      assert.match(run.results[0]?.message ?? "", /cannot grant select .* to 'nobody_here'/);
    });
  });
});

Deno.test("item 6: an ephemeral model goes into a WITH that follows config()", async () => {
  await build({
    "models/eph.sql": "{{ config(materialized='ephemeral') }}\nselect 1 as id",
    "models/m.sql":
      "{{ config(materialized='table') }}\nwith x as (select * from {{ ref('eph') }})\nselect * from x",
  }, async (warehouse, run) => {
    assert.equal(run.success, true, JSON.stringify(run.results));
    assert.deepEqual(await warehouse.query("select id from analytics.m"), [{ id: 1 }]);
  });
});

Deno.test("item 7: seeds load with subfolders, +schema, column_types, delimiter, quoting", async () => {
  await build({
    "dbt_project.yml": `name: demo
config-version: 2
profile: demo
seeds:
  demo:
    +schema: raw
    lookups:
      codes:
        +column_types: {code: varchar(3)}
        +delimiter: ";"
      +quote_columns: true
`,
    "seeds/lookups/codes.csv": 'code;Label;since\nA01;"First; one";2024-01-02\nB02;Second;\n',
    "seeds/people.csv": 'id,name,active,score\n1,Ann,true,1.5\n2,"O""Brien",false,\n',
    "models/m.sql":
      "select p.name, c.\"Label\" from {{ ref('people') }} p cross join {{ ref('codes') }} c",
  }, async (warehouse, run) => {
    assert.equal(run.success, true, JSON.stringify(run.results));
    const types = await warehouse.columns("analytics_raw", "codes");
    assert.deepEqual(types.map((c) => [c.name, c.type]), [
      ["code", "character varying(3)"],
      ["Label", "text"],
      ["since", "date"],
    ]);
    const people = await warehouse.columns("analytics_raw", "people");
    assert.deepEqual(people.map((c) => c.type), ["integer", "text", "boolean", "numeric"]);
    assert.deepEqual(
      await warehouse.query("select name from analytics_raw.people order by id"),
      [{ name: "Ann" }, { name: 'O"Brien' }],
    );
    assert.equal((await warehouse.query("select * from analytics.m")).length, 4);
  });
});

Deno.test("item 7: a blank line of a seed is a row of nulls, as dbt's agate reads it", async () => {
  // dbt-utils' not_null_proportion data counts on it: 5 values in 10 rows, one of them blank.
  await build({
    "seeds/points.csv": "a,b\n1,1\n,2\n\n4,4\n",
    "seeds/single.csv": "\n\nx\n1\n\n",
  }, async (warehouse, run) => {
    assert.equal(run.success, true, JSON.stringify(run.results));
    assert.deepEqual(
      await warehouse.query(
        "select count(*)::int as n, count(a)::int as a, count(b)::int as b from analytics.points",
      ),
      [{ n: 4, a: 2, b: 3 }],
    );
    // Blank lines before the header are skipped; after it, one is a row (agate's null row).
    assert.deepEqual(
      await warehouse.query("select x from analytics.single order by x nulls last"),
      [{ x: 1 }, { x: null }],
    );
  });
});

Deno.test("generic tests: config() in the test's macro and config keys beside its arguments", async () => {
  await build({
    // Rows that are not failures: the macro says how to count them (dbt-utils' equal_rowcount).
    "macros/diff.sql": `{% test same_count(model, compare_model) %}
{{ config(fail_calc = 'sum(coalesce(diff, 0))') }}
select abs((select count(*) from {{ model }}) - (select count(*) from {{ compare_model }})) as diff
{% endtest %}`,
    "models/m.sql": "select 1 as id union all select -1",
    "models/n.sql": "select 5 as id union all select 6",
    "models/schema.yml": `version: 2
models:
  - name: m
    data_tests:
      - same_count: {compare_model: ref('n')}
    columns:
      - name: id
        data_tests:
          # \`where\` beside the arguments is config, as in dbt: -1 is left out.
          - accepted_values:
              values: [1]
              quote: false
              where: "id > 0"
          - not_null:
              severity: warn
              warn_if: ">5"
`,
  }, (_w, run) => {
    assert.equal(statusOf(run, "same_count_m_ref_n_"), "pass");
    assert.equal(statusOf(run, "accepted_values_m_id"), "pass");
    assert.equal(
      run.success,
      true,
      JSON.stringify(run.results.map((r) => [r.unique_id, r.message])),
    );
  });
});

Deno.test("a node needing an extension the warehouse lacks is named with the extension, not its SQL", async () => {
  await build({
    "models/geo.sql":
      "{{ config(pre_hook='create extension if not exists postgis') }}\nselect 1 as id",
    "models/after_geo.sql": "select * from {{ ref('geo') }}",
    "models/fine.sql": "select 1 as id",
  }, (_w, run) => {
    const geo = run.results.find((r) => r.unique_id === "model.demo.geo");
    assert.equal(geo?.status, "error");
    assert.match(String(geo?.message), /model 'geo'.*no extension 'postgis'.*Postgres target/s);
    assert.doesNotMatch(String(geo?.message), /Fix its SQL/);
    assert.equal(statusOf(run, "model.demo.after_geo"), "skipped");
    assert.equal(statusOf(run, "model.demo.fine"), "success");
  });
});

Deno.test("item 10: snapshots track changes (timestamp, check, hard deletes, YAML form)", async () => {
  await using project = await writeProject({
    "snapshots/snap.sql": `{% snapshot people_snap %}
{{ config(target_schema='snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at', hard_deletes='invalidate') }}
select * from {{ source('raw', 'people') }}
{% endsnapshot %}`,
    "snapshots/props.yml": `version: 2
snapshots:
  - name: people_check
    relation: source('raw', 'people')
    config: {schema: snaps, unique_key: id, strategy: check, check_cols: [name]}
`,
    "models/sources.yml":
      "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: people\n",
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  await warehouse.exec(
    `create schema raw; create table raw.people (id int, name text, updated_at timestamp);
    insert into raw.people values (1, 'Ann', '2024-01-01'), (2, 'Bob', '2024-01-01');`,
  );
  const p = await loadProject(project.dir, opts);
  const run = async () =>
    assert.equal((await runProject(p, warehouse, { writeArtifacts: false })).success, true);
  await run();
  await warehouse.exec(`update raw.people set name = 'Anna', updated_at = '2024-02-01' where id = 1;
    delete from raw.people where id = 2;`);
  await run();
  const rows = await warehouse.query<{ id: number; name: string; current: boolean }>(
    `select id, name, dbt_valid_to is null as current from snapshots.people_snap order by id, dbt_valid_from`,
  );
  assert.deepEqual(rows.map((r) => [r.id, r.name, r.current]), [
    [1, "Ann", false],
    [1, "Anna", true],
    [2, "Bob", false], // invalidated: gone from the source
  ]);
  const check = await warehouse.query<{ name: string; current: boolean }>(
    `select name, dbt_valid_to is null as current from analytics_snaps.people_check where id = 1 order by dbt_valid_from`,
  );
  assert.deepEqual(check.map((r) => [r.name, r.current]), [["Ann", false], ["Anna", true]]);
});

Deno.test("item 9: the Jinja context real macros use", async () => {
  await build({
    "macros/helpers.sql": `
{% macro collect(n) %}{% set out = [] %}{% for i in range(n) %}{% do out.append(i * 2) %}{% endfor %}{{ return(out) }}{% endmacro %}
{% macro greet() %}{{ return(adapter.dispatch('greet')()) }}{% endmacro %}
{% macro default__greet() %}'default'{% endmacro %}
{% macro postgres__greet() %}'postgres'{% endmacro %}
{% test is_even(model, column_name) %}select * from {{ model }} where {{ column_name }} % 2 <> 0{% endtest %}
`,
    "models/m.sql": `{{ config(materialized='table', tags=['x']) }}
{%- set values = collect(3) -%}
{%- call statement('max_id', fetch_result=True) -%}select 41 + 1 as answer{%- endcall -%}
{%- set answer = load_result('max_id')['data'][0][0] if execute else 0 -%}
{%- set q = run_query("select 7 as seven") -%}
{%- set seven = q.columns[0].values()[0] if execute else 0 -%}
select {{ values | join(' + ') }} as total, {{ greet() }} as dialect,
  {{ answer }} as answer, {{ seven }} as seven,
  '{{ config.get("materialized") }}' as mat,
  {{ dbt.dateadd('day', 1, "'2024-01-31'::date") }} as next_day,
  '{{ modules.datetime.datetime(2024, 5, 6).strftime('%Y') if false else modules.re.sub('a+', 'b', 'caaat') }}' as re_sub,
  '{{ invocation_id != '' }}' as has_invocation`,
    "models/schema.yml": `version: 2
models:
  - name: m
    columns:
      - name: total
        data_tests: [is_even]
`,
  }, async (warehouse, run) => {
    assert.equal(run.success, true, JSON.stringify(run.results));
    const [row] = await warehouse.query<Record<string, unknown>>("select * from analytics.m");
    assert.equal(row?.total, 6);
    assert.equal(row?.dialect, "postgres");
    assert.equal(row?.answer, 42);
    assert.equal(row?.seven, 7);
    assert.equal(row?.mat, "table");
    assert.equal((row?.next_day as Date).toISOString().slice(0, 10), "2024-02-01");
    assert.equal(row?.re_sub, "cbt");
    assert.equal(statusOf(run, "is_even_m_total"), "pass");
  }, { invocationId: "inv-1" });
});

Deno.test("item 9: exceptions.raise_compiler_error names the file and line", async () => {
  await using project = await writeProject({
    "models/m.sql": "select 1\n{{ exceptions.raise_compiler_error('no good') }}",
  });
  await rejects(loadProject(project.dir, opts), DbtErrorCode.renderFailed, /m\.sql:2: no good/);
});

Deno.test("item 11: profiles.yml from --profiles-dir, DBT_PROFILES_DIR, ~/.dbt, or a clear error", async (t) => {
  const profile = "demo:\n  target: dev\n  outputs:\n    dev: {type: postgres, schema: from_DIR}\n";
  await using project = await writeProject({ "models/m.sql": "select 1" });
  await Deno.remove(`${project.dir}/profiles.yml`);
  const home = await Deno.makeTempDir();
  try {
    await t.step("none anywhere: dbt.profile_not_found listing the places", async () => {
      await rejects(
        loadProject(project.dir, { ...opts, env: (n) => (n === "HOME" ? home : undefined) }),
        DbtErrorCode.profileNotFound,
        /no profiles\.yml found \(looked in .*\.dbt\/profiles\.yml\)/,
      );
    });
    await Deno.mkdir(`${home}/.dbt`);
    await Deno.writeTextFile(`${home}/.dbt/profiles.yml`, profile.replace("DIR", "home"));
    await t.step("~/.dbt", async () => {
      const p = await loadProject(project.dir, {
        ...opts,
        env: (n) => (n === "HOME" ? home : undefined),
      });
      assert.equal(p.target.schema, "from_home");
    });
    const other = await Deno.makeTempDir();
    await Deno.writeTextFile(`${other}/profiles.yml`, profile.replace("DIR", "env"));
    await t.step("DBT_PROFILES_DIR wins over ~/.dbt; --profiles-dir over both", async () => {
      const env = (
        n: string,
      ) => (n === "HOME" ? home : n === "DBT_PROFILES_DIR" ? other : undefined);
      assert.equal((await loadProject(project.dir, { ...opts, env })).target.schema, "from_env");
      assert.equal(
        (await loadProject(project.dir, { ...opts, env, profilesDir: `${home}/.dbt` })).target
          .schema,
        "from_home",
      );
      await rejects(
        loadProject(project.dir, { ...opts, env, profilesDir: `${home}/nowhere` }),
        DbtErrorCode.profileNotFound,
        /from --profiles-dir/,
      );
    });
    await Deno.remove(other, { recursive: true });
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});

Deno.test("item 14: docs blocks, exposures and selectors are loaded", async () => {
  await using project = await writeProject({
    "models/m.sql": "select 1 as id",
    "models/docs.md": "{% docs the_id %}The **identifier**.{% enddocs %}",
    "models/schema.yml": `version: 2
models:
  - name: m
    description: "{{ doc('the_id') }}"
    columns:
      - name: id
        description: "{{ doc('the_id') }}"
exposures:
  - name: dash
    type: dashboard
    owner: {name: Ann}
    depends_on: [ref('m')]
`,
    "selectors.yml": "selectors:\n  - name: core\n    definition: 'tag:core'\n",
  });
  const p = await loadProject(project.dir, opts);
  assert.equal(p.models.get("m")?.description, "The **identifier**.");
  assert.equal(p.models.get("m")?.columns.id?.description, "The **identifier**.");
  assert.deepEqual(p.exposures.map((e) => [e.name, e.dependsOn]), [["dash", ["model.demo.m"]]]);
  assert.equal(p.selectors.core, "tag:core");
});

Deno.test("selection: graph operators, methods, state:modified and result:error", async () => {
  await using project = await writeProject({
    "models/a.sql": "select 1 as id",
    "models/b.sql":
      "{{ config(tags=['nightly'], materialized='table') }}select * from {{ ref('a') }}",
    "models/c.sql": "select * from {{ ref('b') }}",
    "models/schema.yml":
      "version: 2\nmodels:\n  - name: c\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
  });
  const p = await loadProject(project.dir, opts);
  const pick = (...select: string[]) =>
    [...selectNodes(p, select)].filter((id) => id.startsWith("model.")).sort();
  assert.deepEqual(pick("b"), ["model.demo.b"]);
  assert.deepEqual(pick("+b"), ["model.demo.a", "model.demo.b"]);
  assert.deepEqual(pick("b+"), ["model.demo.b", "model.demo.c"]);
  assert.deepEqual(pick("tag:nightly"), ["model.demo.b"]);
  assert.deepEqual(pick("config.materialized:table"), ["model.demo.b"]);
  assert.deepEqual(pick("path:models/c.sql"), ["model.demo.c"]);
  assert.deepEqual(pick("+c,tag:nightly"), ["model.demo.b"]);
  // Tests follow the nodes they read.
  assert.ok([...selectNodes(p, ["c"])].some((id) => id.startsWith("test.demo.not_null_c_id")));
  const checksums = new Map([...p.nodes.values()].map((n) => [n.uniqueId, n.checksum]));
  checksums.set("model.demo.b", "older");
  assert.deepEqual(
    [...selectNodes(p, ["state:modified"], [], { checksums })].filter((id) =>
      id.startsWith("model.")
    ),
    ["model.demo.b"],
  );
  const statuses = new Map([["model.demo.c", "error"]]);
  assert.deepEqual(
    [...selectNodes(p, ["result:error+"], [], { statuses })].filter((id) =>
      id.startsWith("model.")
    ),
    ["model.demo.c"],
  );
  assert.throws(() => selectNodes(p, ["state:modified"]), /--state/);
  assert.throws(() => selectNodes(p, ["colour:red"]), /unknown selection method 'colour:'/);
});

Deno.test("custom materializations: the file loads beside other macros, a node can use one", async () => {
  const macro = `{% materialization my_mat, default %}
{{ return({'relations': []}) }}
{% endmaterialization %}
{% macro still_here() %}1{% endmacro %}`;
  await using ok = await writeProject({
    "macros/mat.sql": macro,
    "models/m.sql": "select {{ still_here() }} as one",
  });
  assert.match((await loadProject(ok.dir, opts)).models.get("m")?.compiledCode ?? "", /select 1/);
  await using uses = await writeProject({
    "macros/mat.sql": macro,
    "models/m.sql": "{{ config(materialized='my_mat') }}select 1",
  });
  const p = await loadProject(uses.dir, opts);
  assert.equal(p.models.get("m")?.config.materialized, "my_mat");
  assert.ok(p.macros.has("macro.demo.materialization_my_mat_default"));
});

Deno.test("item 9: model and graph describe the project to macros", async () => {
  await using project = await writeProject({
    "models/a.sql": "{{ config(tags=['core']) }}select 1 as id",
    "models/b.sql":
      `select '{{ model.name }}' as me, {{ model.config.materialized | tojson | replace('"', "'") }} as mat,
  {% set core = [] %}{% for node in graph.nodes.values() %}{% if 'core' in node.tags %}{% do core.append(node.name) %}{% endif %}{% endfor %}
  '{{ core | join(",") }}' as core_models from {{ ref('a') }}`,
  });
  const p = await loadProject(project.dir, opts);
  const sql = p.models.get("b")?.compiledCode ?? "";
  assert.match(sql, /select 'b' as me, 'view' as mat/);
  assert.match(sql, /'a' as core_models/);
});

Deno.test("item 9: project_name is the root project's name, beside its packages' nodes", async () => {
  await using project = await writeProject({
    "packages.yml": "packages:\n  - local: pk\n",
    "pk/dbt_project.yml": "name: pk\nversion: '1.0'\nconfig-version: 2\n",
    "pk/models/pk_model.sql": "select 1 as id",
    "models/a.sql": "select 1 as id",
    // The classic "own models only" filter of audit and grant macros.
    "models/b.sql":
      `{% set own = graph.nodes.values() | selectattr('resource_type', 'equalto', 'model') | selectattr('package_name', 'equalto', project_name) | map(attribute='name') | sort %}
select '{{ project_name }}' as project, '{{ own | join(",") }}' as own_models`,
  });
  const out: string[] = [];
  const io = { out: (l: string) => out.push(l), err: (l: string) => out.push(l) };
  assert.equal(await runDbtCli(["deps", "--project-dir", project.dir], io), 0, out.join("\n"));
  const p = await loadProject(project.dir, opts);
  // Before: project_name was undefined (an empty string, and no model kept).
  assert.match(
    p.models.get("b")?.compiledCode ?? "",
    /select 'demo' as project, 'a,b' as own_models/,
  );
});

Deno.test("on-run-end runs after a failure in dbt build, with results and the project's macros", async () => {
  await using project = await writeProject({
    "dbt_project.yml": `name: demo
config-version: 2
profile: demo
on-run-end:
  - "create table if not exists public.end_log (node text, status text)"
  - "{% for r in results %}insert into public.end_log values ('{{ r.node.unique_id }}', '{{ r.status }}');{% endfor %}"
`,
    "models/a.sql": "select 1 as id",
    "models/broken.sql": "select nope from {{ ref('a') }}",
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const loaded = await loadProject(project.dir, { cache: false });
  const result = await runProject(loaded, warehouse, { writeArtifacts: false });
  assert.equal(result.success, false);
  const rows = await warehouse.query<{ node: string; status: string }>(
    "select node, status from public.end_log order by node",
  );
  assert.deepEqual(rows.map((r) => [r.node, r.status]), [
    ["model.demo.a", "success"],
    ["model.demo.broken", "error"],
  ]);
});

Deno.test("on-run-end sees schemas and database_schemas of what built, as dbt's grant loops read them", async () => {
  // dbt's documented pattern: grant usage on every schema the run built into.
  await using project = await writeProject({
    "dbt_project.yml": `name: demo
config-version: 2
profile: demo
models:
  demo:
    marts:
      +schema: marts
on-run-end:
  - "create table if not exists public.grants_log (stmt text)"
  - "{% for schema in schemas %}insert into public.grants_log values ('grant usage on schema {{ schema }}');{% endfor %}"
  - "{% for db, schema in database_schemas %}insert into public.grants_log values ('{{ db }}.{{ schema }}');{% endfor %}"
`,
    "models/staging/stg.sql": "select 1 as id",
    "models/marts/fct.sql": "select * from {{ ref('stg') }}",
    "models/marts/broken.sql": "{{ config(schema='never') }}select nope",
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const loaded = await loadProject(project.dir, { cache: false });
  await runProject(loaded, warehouse, { writeArtifacts: false });
  const rows = await warehouse.query<{ stmt: string }>("select stmt from public.grants_log");
  // Before: schemas was undefined, so the loop granted nothing and the run passed.
  assert.deepEqual(rows.map((r) => r.stmt).sort(), [
    "grant usage on schema analytics",
    "grant usage on schema analytics_marts",
    "postgres.analytics",
    "postgres.analytics_marts",
  ]);
});

Deno.test("a model whose Jinja fails only when compiled fails alone; the rest builds", async () => {
  await using project = await writeProject({
    "models/a.sql": "select 1 as id",
    "models/broken.sql":
      "{% if execute %}{{ exceptions.raise_compiler_error('no price list for ' ~ target.name) }}{% endif %}select 1 as id",
    "models/after.sql": "select * from {{ ref('broken') }}",
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const loaded = await loadProject(project.dir, opts);
  assert.equal(loaded.models.get("broken")?.compiled, false);
  const result = await runProject(loaded, warehouse);
  const status = Object.fromEntries(result.results.map((r) => [r.unique_id, r.status]));
  assert.deepEqual(status, {
    "model.demo.a": "success",
    "model.demo.broken": "error",
    "model.demo.after": "skipped",
  });
  assert.match(
    result.results.find((r) => r.unique_id === "model.demo.broken")?.message ?? "",
    /models\/broken\.sql:1: no price list for embedded/,
  );
  assert.equal(result.success, false);
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  assert.equal(manifest.nodes["model.demo.a"].compiled_code, "select 1 as id");
  assert.equal(manifest.nodes["model.demo.broken"].compiled_code, undefined);
});
