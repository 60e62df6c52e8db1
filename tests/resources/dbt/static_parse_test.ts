/**
 * The static parser reads ref/source/config of plain templates without
 * rendering them, and gives up (so the node is rendered) wherever a render
 * could answer differently. Whole projects load to the same nodes with it
 * and without it.
 */

import assert from "node:assert/strict";
import {
  staticParse,
  type StaticParseContext,
} from "../../../resources/dbt/compile/static_parse.ts";
import { loadProject } from "../../../resources/dbt/compile/load.ts";
import { buildManifest } from "../../../resources/dbt/artifacts.ts";
import { generate } from "../../../bench/dbt.ts";
import { copyRepoProject, writeProject } from "./_fixture.ts";

const ctx: StaticParseContext = {
  isSafeMacro: (name, pkg) =>
    pkg === undefined ? ["cents", "star"].includes(name) : pkg === "dbt_utils" && name === "star",
  isPackage: (name) => name === "dbt_utils" || name === "dbt",
  hasVar: (name) => name === "known",
  hasEnv: () => false,
};

Deno.test("static parse: reads refs, sources and config of plain templates", () => {
  const cases: [string, ReturnType<typeof staticParse>][] = [
    ["select 1", { refs: [], sources: [], config: {} }],
    [
      `{{ config(materialized='table', tags=["a", 'b'], unique_key=['id'], enabled=True, meta={'owner': 'x'}, n=-2) }}
select * from {{ ref('a') }} join {{ ref("pkg", "b") }} using (id)
join {{ source('raw', 'orders') }} o on true -- {{ ref('a') }} again`,
      {
        refs: ["a", "b"],
        sources: [["raw", "orders"]],
        config: {
          materialized: "table",
          tags: ["a", "b"],
          unique_key: ["id"],
          enabled: true,
          meta: { owner: "x" },
          n: -2,
        },
      },
    ],
    [
      `{%- set cols = ['id', 'kind'] -%}
{# a comment with {{ ref('not_a_ref') }} #}
select {% for c in cols %}{{ c | upper }}, {% endfor %}{{ cents('amount') }}
from {{ ref('a') }}
{% if is_incremental() %}where x > (select max(x) from {{ this }}){% endif %}
{{ dbt_utils.star(from=ref('b'), except=["a"]) }} {{ var('known') }} {{ var('unknown', 3) }}`,
      { refs: ["a", "b"], sources: [], config: {} },
    ],
    ["{{- config(alias = 'x') -}} select 1 as \"{\"", {
      refs: [],
      sources: [],
      config: { alias: "x" },
    }],
    // Two-character operators, names with digits, escapes in strings (tokenized by char code).
    [
      "{{ config(alias='a\\'b', schema=\"s_2\", n=10) }}\n" +
      "{%- set x = 2 ** 3 >= 4 and 7 // 2 <= 3 and 1 != 2 and 1 == 1 -%}\n" +
      "select * from {{ ref('m_01') }}{{ ref( \"Z_9\" ) }}",
      { refs: ["m_01", "Z_9"], sources: [], config: { alias: "a'b", schema: "s_2", n: 10 } },
    ],
  ];
  for (const [text, expected] of cases) assert.deepEqual(staticParse(text, ctx), expected, text);
});

Deno.test("static parse: gives up wherever a render could answer differently", () => {
  for (
    const text of [
      "{% if target.name == 'prod' %}{{ ref('a') }}{% else %}{{ ref('b') }}{% endif %}",
      "{{ ref(model_name) }}",
      "{% set m = 'a' %}{{ ref(m) }}",
      "{{ config(materialized=var('mat')) }}",
      "{{ config({'materialized': 'table'}) }}",
      "{{ ref('a', v=2) }}",
      "{{ var('missing') }}",
      "{{ env_var('NOPE') }}",
      "{{ my_ref_wrapper('a') }}",
      "{{ unknown_pkg.macro() }}",
      "{{ exceptions.raise_compiler_error('no') }}",
      "{% macro inline() %}x{% endmacro %}",
      "{% call statement('x') %}select 1{% endcall %}",
      "{% raw %}{{ ref('a') }}{% endraw %}",
      "{% for x in y %}unbalanced",
      "{{ ref('a') ",
      "{% set r = ref %}{{ r('a') }}",
      "{{ config(x='a' ~ 'b') }}",
      "select '{{' as brace",
    ]
  ) {
    assert.equal(staticParse(text, ctx), undefined, text);
  }
});

Deno.test("static parse: projects load to the same nodes with it and without it", async (t) => {
  const same = async (dir: string, label: string) => {
    const fast = await loadProject(dir, { cache: false });
    const slow = await loadProject(dir, { cache: false, staticParse: false });
    const nodes = (p: typeof fast) =>
      [...p.nodes.values()].map((n) => ({
        id: n.uniqueId,
        deps: n.dependsOn,
        config: n.config.all,
        relation: n.relation.toString(),
        sql: n.compiledCode,
      }));
    assert.deepEqual(nodes(fast), nodes(slow), label);
    assert.deepEqual(fast.tests.map((x) => x.uniqueId), slow.tests.map((x) => x.uniqueId));
    const manifest = (p: typeof fast) => buildManifest(p, { invocationId: "x" }).parent_map;
    assert.deepEqual(manifest(fast), manifest(slow), label);
  };
  await t.step("our dbt/ project", async () => {
    await using project = await copyRepoProject();
    await same(project.dir, "dbt/");
  });
  await t.step("a generated project (loops, a macro, 3 layers)", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await generate(dir, 60);
      await same(dir, "generated");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("a macro that calls ref() sends its callers to the render", async () => {
    await using project = await writeProject({
      "macros/wrap.sql": "{% macro wrapped(name) %}{{ ref(name) }}{% endmacro %}\n" +
        "{% macro via(name) %}{{ wrapped(name) }}{% endmacro %}",
      "models/a.sql": "select 1 as id",
      "models/b.sql": "select * from {{ via('a') }}",
    });
    await same(project.dir, "ref wrapper");
    const p = await loadProject(project.dir, { cache: false });
    assert.deepEqual(p.nodes.get("model.demo.b")?.dependsOn, ["model.demo.a"]);
  });
});

Deno.test("reloads in one process: each load's vars apply, and edits are seen", async () => {
  await using project = await writeProject({
    "dbt_project.yml": `name: demo
config-version: 2
profile: demo
models:
  demo:
    +enabled: "{{ var('on', false) }}"
    +schema: "{{ var('suffix', 'x') }}"
`,
    "models/a.sql": "select {{ var('n', 1) }} as n",
    "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    description: First.\n",
  });
  const off = await loadProject(project.dir, { cache: false });
  assert.equal(off.models.size, 0);
  const on = await loadProject(project.dir, {
    cache: false,
    vars: { on: true, suffix: "y", n: 2 },
  });
  assert.equal(on.models.get("a")?.relation.schema, "analytics_y");
  assert.equal(on.models.get("a")?.compiledCode, "select 2 as n");
  await Deno.writeTextFile(
    `${project.dir}/models/schema.yml`,
    "version: 2\nmodels:\n  - name: a\n    description: Second.\n",
  );
  await Deno.writeTextFile(`${project.dir}/models/a.sql`, "select {{ var('n', 1) }} + 1 as n");
  const edited = await loadProject(project.dir, { cache: false, vars: { on: true } });
  assert.equal(edited.models.get("a")?.description, "Second.");
  assert.equal(edited.models.get("a")?.compiledCode, "select 1 + 1 as n");
  assert.equal(edited.models.get("a")?.relation.schema, "analytics_x");
});
