/**
 * The vars a package's models see, as dbt-core's ModelConfiguredVar merges
 * them: the package's own dbt_project.yml (its globals, then its section
 * named after itself), then the root project's (globals, then the section
 * named after the package), then `--vars`. Fivetran source packages rely on
 * it (`vars: {stripe_source: {...}}`, `x_pass_through_columns: []` in the
 * package, the schema in the root's `stripe_source:` section). Before, only
 * the root's vars were read: a package's own defaults were "not defined" and
 * the root's section for the package was one dict-valued var.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { PROJECT_YML, writeProject } from "./_fixture.ts";

async function cli(args: string[]) {
  const out: string[] = [];
  const env: Record<string, string> = { WAREHOUSE_URL: "pglite:memory:" };
  const code = await runDbtCli(args, { out: (l) => out.push(l), err: (l) => out.push(l) }, {
    env: (name) => env[name],
  });
  return { code, out: out.join("\n") };
}

const PACKAGE_YML = `name: raw_pkg
version: "1.0.0"
config-version: 2
vars:
  raw_pkg_pass_through: []
  raw_pkg_label: package-global
  raw_pkg:
    raw_pkg_schema: raw_default
    raw_pkg_label: package-section
`;

Deno.test("package vars: a package's models and sources see its own vars, the root's section for it, then --vars", async () => {
  await using project = await writeProject({
    "dbt_project.yml": PROJECT_YML.replace(
      "vars:\n",
      "vars:\n  raw_pkg:\n    raw_pkg_schema: raw_from_root\n",
    ),
    "packages.yml": "packages:\n  - local: raw_pkg\n",
    "raw_pkg/dbt_project.yml": PACKAGE_YML,
    "raw_pkg/models/pkg_model.sql": "select {{ var('raw_pkg_pass_through') | length }} as n, " +
      "'{{ var('raw_pkg_label') }}' as label, '{{ var('raw_pkg_schema') }}' as s, " +
      "{{ var('threshold') }} as t",
    "raw_pkg/models/sources.yml": `version: 2
sources:
  - name: raw
    schema: "{{ var('raw_pkg_schema') }}"
    tables: [{name: events}]
`,
    "models/root_model.sql": "select '{{ var('raw_pkg_label', 'unset') }}' as label",
  });
  const dir = ["--project-dir", project.dir];
  assert.equal((await cli(["deps", ...dir])).code, 0);
  const compiled = async (...extra: string[]) => {
    const run = await cli(["compile", ...dir, ...extra]);
    assert.equal(run.code, 0, run.out); // was 1: var('raw_pkg_pass_through') is not defined
    const results = JSON.parse(
      await Deno.readTextFile(`${project.dir}/target/run_results.json`),
    ) as { results: { unique_id: string; compiled_code: string }[] };
    const code = (id: string) =>
      results.results.find((r) => r.unique_id === id)?.compiled_code.trim();
    const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
    return {
      pkg: code("model.raw_pkg.pkg_model") ?? "",
      root: code("model.demo.root_model"),
      sourceSchema: manifest.sources["source.raw_pkg.raw.events"]?.schema,
    };
  };
  const plain = await compiled();
  assert.equal(
    plain.pkg,
    "select 0 as n, 'package-section' as label, 'raw_from_root' as s, 2 as t",
  );
  assert.equal(plain.root, "select 'unset' as label"); // the package's vars are its own
  assert.equal(plain.sourceSchema, "raw_from_root");
  const cliVars = await compiled("--vars", "{raw_pkg_schema: from_cli}");
  assert.match(cliVars.pkg, /'from_cli' as s/);
  assert.equal(cliVars.sourceSchema, "from_cli");
});

Deno.test("package vars: a var written as Jinja is rendered where var() is called, also in the package's post-hooks and on-run-end hooks; var(default=...)", async () => {
  // dbt_project_evaluator's shape: `insert_batch_size: "{{ 500 if target.type in [...] else
  // 10000 }}"` read as a macro argument's default in a post-hook of the package's model.
  await using project = await writeProject({
    "dbt_project.yml": PROJECT_YML,
    "packages.yml": "packages:\n  - local: raw_pkg\n",
    "raw_pkg/dbt_project.yml": `name: raw_pkg
version: "1.0.0"
config-version: 2
on-run-end: ["{{ print('package hook batch ' ~ var('batch')) }}select 1"]
vars:
  raw_pkg:
    batch: "{{ 5 if target.type in ['bigquery'] else 100 }}"
`,
    "raw_pkg/macros/ins.sql":
      "{% macro ins(relation, size=var('batch') | int) %}insert into {{ relation }} " +
      "values ({{ size + 1 }}, '{{ var('unset', default='dflt') }}'){% endmacro %}",
    "raw_pkg/models/pkg_tbl.sql":
      "{{ config(materialized='table', post_hook=\"{{ ins(this) }}\") }}" +
      "select {{ var('batch') }} as n, '{{ var(var_name='unset', default='d2') }}' as label",
    "tests/check_rows.sql": "select * from (select count(*) as c from {{ ref('pkg_tbl') }} " +
      "where (n = 100 and label = 'd2') or (n = 101 and label = 'dflt')) x where c <> 2",
  });
  const dir = ["--project-dir", project.dir];
  assert.equal((await cli(["deps", ...dir])).code, 0);
  const build = await cli(["build", ...dir]);
  // was 1: the body read '{{ 5 if ... }}' as SQL; the post-hook said var('batch') is not defined
  assert.equal(build.code, 0, build.out);
  assert.match(build.out, /PASS test check_rows/);
  assert.match(build.out, /package hook batch 100/);
});
