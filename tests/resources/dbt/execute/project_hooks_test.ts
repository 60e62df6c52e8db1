/**
 * on-run-start / on-run-end hooks as dbt 1.9 runs them: each is a result
 * (`operation.<package>.<package>-on-run-end-<n>`, thread `main`) in
 * run_results.json and the summary; after a failed hook the rest of its
 * kind are skipped and the command exits 1 with its summary; the packages'
 * hooks run before the root project's. Before, a failing on-run-end hook
 * (dbt-labs/attribution-playbook's Snowflake grants on Postgres) aborted the
 * command: no summary, no run_results.json; and the root's hooks ran first.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../../resources/dbt/cli.ts";
import { PROJECT_YML, writeProject } from "../_fixture.ts";

async function cli(args: string[], extra: Record<string, string> = {}) {
  const out: string[] = [];
  const env: Record<string, string> = { WAREHOUSE_URL: "pglite:memory:", ...extra };
  const code = await runDbtCli(args, { out: (l) => out.push(l), err: (l) => out.push(l) }, {
    env: (name) => env[name],
    environ: () => env,
  });
  return { code, out: out.join("\n") };
}

Deno.test("project hooks: each is a result; a failed on-run-end hook skips the next and fails the command with its summary", async () => {
  await using project = await writeProject({
    "dbt_project.yml": `${PROJECT_YML}on-run-start: ["select 1"]
on-run-end:
  - "select no_such_column from {{ ref('m') }}"
  - "select 1"
`,
    "packages.yml": "packages:\n  - local: a_pkg\n",
    "a_pkg/dbt_project.yml":
      'name: a_pkg\nversion: "1.0.0"\nconfig-version: 2\non-run-end: ["select 2"]\n',
    "models/m.sql": "select 1 as id",
  });
  const dir = ["--project-dir", project.dir];
  const deps = await cli(["deps", ...dir]);
  assert.equal(deps.code, 0, deps.out);
  const run = await cli(["run", ...dir]);
  assert.equal(run.code, 1, run.out);
  assert.match(
    run.out,
    /ERROR operation\.demo\.demo-on-run-end-0: demo\.on-run-end\.1 failed, error:\n .*no_such_column/,
  );
  assert.match(run.out, /Done\. PASS=3 WARN=0 ERROR=1 SKIP=1 TOTAL=5/);
  const results = JSON.parse(
    await Deno.readTextFile(`${project.dir}/target/run_results.json`),
  ) as { results: { unique_id: string; status: string; thread_id: string; message: string }[] };
  assert.deepEqual(
    results.results.map((r) => [r.unique_id, r.status, r.thread_id === "main"]),
    [
      ["operation.demo.demo-on-run-start-0", "success", true],
      ["model.demo.m", "success", false],
      ["operation.a_pkg.a_pkg-on-run-end-0", "success", true],
      ["operation.demo.demo-on-run-end-0", "error", true],
      ["operation.demo.demo-on-run-end-1", "skipped", true],
    ],
  );
  assert.equal(results.results[4]?.message, "demo.on-run-end.2 skipped");
});

Deno.test("project hooks: on-run-end results and graph nodes carry dbt's config (a test's materialized 'test' and alias, a model's defaults)", async () => {
  // dbt_project_evaluator's print_dbt_project_evaluator_issues picks the failed tests of its
  // results by `result.node.config.materialized == "test"` and prints their `alias`; its
  // graph unpacking writes `node.config.enabled` / `on_schema_change` of every node.
  await using project = await writeProject({
    "dbt_project.yml": `${PROJECT_YML}on-run-end:
  - >-
    {% for r in results | selectattr('failures') | selectattr('failures', '>', 0) %}{% if r.node.config.materialized == 'test' %}{{ print('FAILED ' ~ r.node.alias) }}{% endif %}{% endfor %}
    {% for n in graph.nodes.values() if n.resource_type == 'model' %}{{ print('NODE ' ~ n.name ~ ' ' ~ n.config.enabled ~ ' ' ~ n.config.on_schema_change ~ ' ' ~ n.config.full_refresh ~ ' ' ~ n.config.persist_docs) }}{% endfor %}
    select 1
`,
    "models/m.sql": "select 1 as id",
    "tests/always_fails.sql": "{{ config(severity='warn') }}select * from {{ ref('m') }}",
  });
  const run = await cli(["build", "--project-dir", project.dir]);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /FAILED always_fails/);
  assert.match(run.out, /NODE m True ignore None \{\}/);
});

Deno.test("project hooks: dbt test runs on-run-start and on-run-end too, with the tests' results", async () => {
  // dbt runs them for build, run, seed, snapshot and test (brooklyn-data/dbt_artifacts uploads
  // test executions from on-run-end); before, `test` skipped them.
  await using project = await writeProject({
    "dbt_project.yml": `${PROJECT_YML}on-run-start: ["{{ print('START HOOK') }}select 1"]
on-run-end: ["{{ print('END HOOK ' ~ (results | map(attribute='node.name') | join(','))) }}select 1"]
`,
    "tests/t_one.sql": "select 1 as id where false",
  });
  const test = await cli(["test", "--project-dir", project.dir]);
  assert.equal(test.code, 0, test.out);
  assert.match(test.out, /START HOOK/);
  assert.match(test.out, /END HOOK t_one/);
});

Deno.test("project hooks: on-run-end sees what brooklyn-data/dbt_artifacts uploads (config.full_refresh none, checksum, invocation_args_dict)", async () => {
  // dbt_artifacts writes `{{ config_full_refresh }},` after `is none` (before: '' for a test, a
  // SQL syntax error), `model.checksum.checksum` (was ''), `tojson(invocation_args_dict)`
  // (was null) and pops raw_code from graph nodes.
  await using project = await writeProject({
    "dbt_project.yml": `${PROJECT_YML}on-run-end:
  - >-
    {% for t in results | selectattr('node.resource_type', 'equalto', 'test') %}{{ print('TEST ' ~ t.node.name ~ ' ' ~ (t.node.config.full_refresh is none)) }}{% endfor %}
    {% for m in graph.nodes.values() | selectattr('resource_type', 'equalto', 'model') %}{% do m.pop('raw_code', None) %}{{ print('MODEL ' ~ m.name ~ ' ' ~ (m.checksum.checksum | length) ~ ' ' ~ ('raw_code' in m) ~ ' ' ~ (m.config.full_refresh is none)) }}{% endfor %}
    {{ print('ARGS ' ~ invocation_args_dict.which ~ ' ' ~ (dbt_metadata_envs | length)) }}
    select 1
`,
    "models/m.sql": "select 1 as id",
    "tests/t_one.sql": "select * from {{ ref('m') }} where id <> 1",
  });
  const run = await cli(["build", "--project-dir", project.dir]);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /TEST t_one True/);
  assert.match(run.out, /MODEL m 64 False True/);
  assert.match(run.out, /ARGS build 0/);
});

Deno.test("project hooks: graph.exposures has the project's exposures, as dbt_artifacts uploads them", async () => {
  await using project = await writeProject({
    "dbt_project.yml": `${PROJECT_YML}on-run-end:
  - >-
    {% for e in graph.exposures.values() | list %}{{ print('EXPOSURE ' ~ e.name ~ ' ' ~ e.type ~ ' ' ~ e.owner.email ~ ' ' ~ (e.depends_on.nodes | join(',')) ~ ' ' ~ e.resource_type) }}{% endfor %}
    select 1
`,
    "models/m.sql": "select 1 as id",
    "models/exposures.yml": `version: 2
exposures:
  - name: weekly_kpis
    type: dashboard
    owner: {name: Ann, email: ann@example.com}
    depends_on: [ref('m')]
`,
  });
  const run = await cli(["run", "--project-dir", project.dir]);
  assert.equal(run.code, 0, run.out);
  // was nothing: graph.exposures was always {}
  assert.match(run.out, /EXPOSURE weekly_kpis dashboard ann@example\.com model\.demo\.m exposure/);
});

Deno.test("project hooks: dbt_metadata_envs and every artifact's metadata.env hold the DBT_ENV_CUSTOM_ENV_ variables, prefix stripped", async () => {
  // dbt-core's get_metadata_vars(); both were always {} before.
  await using project = await writeProject({
    "dbt_project.yml": `${PROJECT_YML}on-run-end:
  - "{{ print('ENVS ' ~ tojson(dbt_metadata_envs)) }}select 1"
`,
    "models/m.sql": "select 1 as id",
  });
  const environ = { DBT_ENV_CUSTOM_ENV_JOB_ID: "42", DBT_ENV_CUSTOM_ENV_team: "geo", OTHER: "x" };
  const dir = ["--project-dir", project.dir];
  const run = await cli(["build", ...dir], environ);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /ENVS \{"JOB_ID": "42", "team": "geo"\}/);
  const docs = await cli(["docs", "generate", ...dir], environ);
  assert.equal(docs.code, 0, docs.out);
  for (const file of ["manifest.json", "run_results.json", "catalog.json"]) {
    const json = JSON.parse(await Deno.readTextFile(`${project.dir}/target/${file}`));
    assert.deepEqual(json.metadata.env, { JOB_ID: "42", team: "geo" }, file);
  }
});

Deno.test("project hooks: each prints dbt's START hook and OK hook progress lines", async () => {
  // dbt 1.9's LogHookStartLine / LogHookEndLine (format_fancy_output_line: dots to 80 columns);
  // before, a hook ran with no line at all.
  await using project = await writeProject({
    "dbt_project.yml": `${PROJECT_YML}on-run-start: ["select 1"]
on-run-end: ["select 1", "select 2"]
`,
    "models/m.sql": "select 1 as id",
  });
  const run = await cli(["run", "--project-dir", project.dir]);
  assert.equal(run.code, 0, run.out);
  const lines = run.out.split("\n").map((l) => l.replace(/^\d\d:\d\d:\d\d {2}/, ""));
  const hookLines = lines.filter((l) => / hook: /.test(l));
  const dots = (prefix: string) => prefix + ".".repeat(80 - prefix.length);
  assert.deepEqual(hookLines.map((l) => l.replace(/ in \d+\.\d\ds\]$/, " in Xs]")), [
    `${dots("1 of 1 START hook: demo.on-run-start.0 ")} [RUN]`,
    `${dots("1 of 1 OK hook: demo.on-run-start.0 ")} [OK in Xs]`,
    `${dots("1 of 2 START hook: demo.on-run-end.0 ")} [RUN]`,
    `${dots("1 of 2 OK hook: demo.on-run-end.0 ")} [OK in Xs]`,
    `${dots("2 of 2 START hook: demo.on-run-end.1 ")} [RUN]`,
    `${dots("2 of 2 OK hook: demo.on-run-end.1 ")} [OK in Xs]`,
  ]);
  // The hooks frame the model's lines, as dbt prints them.
  const model = lines.findIndex((l) => /START sql .*model/.test(l));
  assert.ok(lines.indexOf(hookLines[1]!) < model && model < lines.indexOf(hookLines[2]!), run.out);
});

Deno.test("project hooks: a result's node config answers None for any key it lacks, as dbt's config object", async () => {
  // dbt's BaseConfig: `config.x` and `config['x']` of a missing key are None, `config.get('x', d)`
  // is d. Before, only full_refresh was None; other keys were undefined ('' and `is none` False).
  await using project = await writeProject({
    "dbt_project.yml": `${PROJECT_YML}on-run-end:
  - >-
    {% for r in results %}{{ print('CFG ' ~ r.node.name ~ ' ' ~ (r.node.config.no_such_key is none) ~ ' ' ~ (r.node.config['other_key'] is none) ~ ' ' ~ r.node.config.get('nope', 'dflt') ~ ' ' ~ r.node.config.materialized) }}{% endfor %}
    select 1
`,
    "models/m.sql": "select 1 as id",
    "tests/t_one.sql": "select * from {{ ref('m') }} where id <> 1",
  });
  const run = await cli(["build", "--project-dir", project.dir]);
  assert.equal(run.code, 0, run.out);
  assert.match(run.out, /CFG m True True dflt view/);
  assert.match(run.out, /CFG t_one True True dflt test/);
});
