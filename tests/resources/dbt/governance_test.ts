/**
 * What dbt-core does with analyses, groups, doc() and selection methods,
 * through `deno task dbt` in-process:
 *
 * - analyses (only with `analysis-paths`, as dbt) are `analysis` nodes of the
 *   manifest (fqn `[pkg, "analysis", ...]`), compiled by `dbt compile` to
 *   target/compiled/<pkg>/analyses/, listed by `ls`, never built;
 * - `groups:` entries are the manifest's `groups` and `group_map`, and a
 *   `group:` no entry declares fails the parse;
 * - a `doc()` naming no docs block (one outside docs-paths included) fails;
 * - `semantic_model:`, `saved_query:`, `metric:` selections are known methods
 *   (sl_shop_test selects with them); an unknown `--resource-type` exits 2
 *   naming it (selecting nothing passed for done); `unit_test:` selects unit tests.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { PROJECT_YML, writeProject } from "./_fixture.ts";
import { assertValidArtifact } from "./_dbt_schemas.ts";

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const env: Record<string, string> = { WAREHOUSE_URL: "pglite:memory:" };
  const code = await runDbtCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, {
    env: (name) => env[name],
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const WITH_ANALYSES = `${PROJECT_YML}analysis-paths: ["analyses"]\n`;

const FILES = {
  "models/base.sql": "{{ config(materialized='ephemeral') }}select 1 as id",
  "models/orders.sql":
    "{{ config(group='finance', access='private') }}select * from {{ ref('base') }}",
  "models/revenue.sql":
    "{{ config(group='finance') }}select count(*) as n from {{ ref('orders') }}",
  "models/schema.yml": `version: 2
groups:
  - name: finance
    owner: {name: Finance team, email: finance@example.com}
    description: Money things
models:
  - name: revenue
    description: "{{ doc('revenue_doc') }}"
unit_tests:
  - name: counts_orders
    model: revenue
    given:
      - input: ref('orders')
        rows: [{id: 1}, {id: 2}]
    expect:
      rows: [{n: 2}]
`,
  "models/docs.md": "{% docs revenue_doc %}Revenue per day.{% enddocs %}",
  "analyses/adhoc/orders_check.sql":
    "{{ config(tags=['audit']) }}select count(*) from {{ ref('revenue') }} join {{ ref('base') }} on true",
  "analyses/analyses.yml": `version: 2
analyses:
  - name: orders_check
    description: A check run by hand
`,
};

Deno.test("analyses: manifest nodes, compiled to target/compiled, listed, never built", async () => {
  await using project = await writeProject({ ...FILES, "dbt_project.yml": WITH_ANALYSES });
  const dir = ["--project-dir", project.dir];
  const parse = await cli(["parse", ...dir]);
  assert.equal(parse.code, 0, parse.err);
  assert.doesNotMatch(parse.err, /analyses left out/);
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  await assertValidArtifact("manifest", manifest);
  const node = manifest.nodes["analysis.demo.orders_check"];
  assert.ok(node, Object.keys(manifest.nodes).join(", "));
  assert.equal(node.resource_type, "analysis");
  assert.deepEqual(node.fqn, ["demo", "analysis", "adhoc", "orders_check"]);
  assert.equal(node.path, "analysis/adhoc/orders_check.sql");
  assert.equal(node.original_file_path, "analyses/adhoc/orders_check.sql");
  assert.equal(node.description, "A check run by hand");
  assert.deepEqual(node.tags, ["audit"]);
  assert.deepEqual(node.depends_on.nodes.sort(), ["model.demo.base", "model.demo.revenue"]);
  assert.deepEqual(manifest.child_map["model.demo.revenue"], ["analysis.demo.orders_check"]);

  const ls = await cli(["ls", ...dir, "--resource-type", "analysis", "--output", "name"]);
  assert.equal(ls.out, "orders_check");
  const compiled = await cli(["compile", ...dir, "-s", "orders_check"]);
  assert.equal(compiled.code, 0, compiled.err);
  const sql = await Deno.readTextFile(
    `${project.dir}/target/compiled/demo/analyses/adhoc/orders_check.sql`,
  );
  assert.match(sql, /from "postgres"\."analytics"\."revenue"/);
  assert.match(sql, /__dbt__cte__base/);

  const build = await cli(["build", ...dir]);
  assert.equal(build.code, 0, build.err);
  assert.doesNotMatch(build.out, /orders_check/);
  const runResults = JSON.parse(await Deno.readTextFile(`${project.dir}/target/run_results.json`));
  assert.ok(
    !runResults.results.some((r: { unique_id: string }) => r.unique_id.startsWith("analysis.")),
  );
});

Deno.test("analyses: without analysis-paths there are none (dbt's default)", async () => {
  await using project = await writeProject(FILES);
  const ls = await cli(["ls", "--project-dir", project.dir, "--output", "name"]);
  assert.equal(ls.code, 0, ls.err);
  assert.doesNotMatch(ls.out, /orders_check/);
});

Deno.test("groups: in the manifest with their members; an undeclared group fails", async () => {
  await using project = await writeProject(FILES);
  const dir = ["--project-dir", project.dir];
  assert.equal((await cli(["parse", ...dir])).code, 0);
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  await assertValidArtifact("manifest", manifest);
  assert.deepEqual(manifest.groups["group.demo.finance"], {
    name: "finance",
    resource_type: "group",
    package_name: "demo",
    path: "schema.yml",
    original_file_path: "models/schema.yml",
    unique_id: "group.demo.finance",
    owner: { name: "Finance team", email: "finance@example.com" },
    description: "Money things",
    config: { meta: {} },
  });
  assert.deepEqual(manifest.group_map.finance.sort(), ["model.demo.orders", "model.demo.revenue"]);
  assert.equal(manifest.nodes["model.demo.revenue"].config.group, "finance");
  assert.equal(manifest.nodes["model.demo.revenue"].group, "finance");
  const picked = await cli(["ls", ...dir, "-s", "group:finance", "--output", "name"]);
  // As dbt (eager indirect selection): the unit test of a picked model comes along.
  assert.deepEqual(picked.out.split("\n").sort(), ["counts_orders", "orders", "revenue"]);

  await Deno.writeTextFile(
    `${project.dir}/models/extra.sql`,
    "{{ config(group='marketing') }}select 1 as id",
  );
  const bad = await cli(["parse", ...dir]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /models\/extra\.sql.*group 'marketing', which no groups: entry declares/);
});

Deno.test("doc(): a name with no docs block fails naming the file, as dbt", async () => {
  await using project = await writeProject({
    ...FILES,
    "models/docs.md": "{% docs other %}x{% enddocs %}",
  });
  const parse = await cli(["parse", "--project-dir", project.dir]);
  assert.equal(parse.code, 2);
  assert.match(parse.err, /models\/schema\.yml.*doc\('revenue_doc'\) names no docs block/);
  // A docs block outside docs-paths is not found either.
  await using outside = await writeProject({
    ...FILES,
    "dbt_project.yml": `${PROJECT_YML}docs-paths: ["docs"]\n`,
  });
  const refused = await cli(["parse", "--project-dir", outside.dir]);
  assert.equal(refused.code, 2);
  assert.match(refused.err, /under docs-paths \(docs\)/);
});

Deno.test("selection: unit_test: picks unit tests; semantic layer methods select (nothing here)", async () => {
  await using project = await writeProject(FILES);
  const dir = ["--project-dir", project.dir];
  const units = await cli(["ls", ...dir, "-s", "unit_test:counts_*", "--output", "name"]);
  assert.equal(units.code, 0, units.err);
  assert.equal(units.out, "counts_orders");
  // The project has no semantic layer: the methods are known, and select nothing.
  for (const args of [["-s", "semantic_model:orders"], ["--resource-type", "metric"]]) {
    const run = await cli(["ls", ...dir, ...args]);
    assert.equal(run.code, 0, `${args.join(" ")}: ${run.err}`);
    assert.equal(run.out, "");
  }
  const typo = await cli(["ls", ...dir, "--resource-type", "modle"]);
  assert.equal(typo.code, 2, typo.out);
  assert.match(typo.err, /--resource-type modle: not a resource type/);
});

Deno.test("selection: --exclude-resource-type leaves kinds out (dbt 1.8); --no-partial-parse is accepted", async () => {
  await using project = await writeProject(FILES);
  const dir = ["--project-dir", project.dir];
  const all = await cli(["ls", ...dir, "-s", "+revenue", "--output", "name"]);
  assert.equal(all.code, 0, all.err);
  assert.ok(all.out.split("\n").includes("counts_orders"), all.out);
  // Several kinds after one flag, as dbt reads them; with --resource-type, both apply.
  const noTests = await cli([
    "ls",
    ...dir,
    "-s",
    "+revenue",
    "--exclude-resource-type",
    "unit_test",
    "analysis",
    "--no-partial-parse",
    "--output",
    "name",
  ]);
  assert.equal(noTests.code, 0, noTests.err);
  assert.deepEqual(noTests.out.split("\n").sort(), ["base", "orders", "revenue"]);
  const models = await cli([
    "ls",
    ...dir,
    "--resource-type",
    "model",
    "unit_test",
    "--exclude-resource-type",
    "model",
    "--output",
    "name",
  ]);
  assert.equal(models.out, "counts_orders");
  const build = await cli([
    "build",
    ...dir,
    "--exclude-resource-type",
    "unit_test",
    "--partial-parse",
  ]);
  assert.equal(build.code, 0, build.err);
  assert.doesNotMatch(build.out, /counts_orders/);
  assert.match(build.out, /OK created sql view model "postgres"\."analytics"\."revenue"/);
  const typo = await cli(["ls", ...dir, "--exclude-resource-type", "modle"]);
  assert.equal(typo.code, 2, typo.out);
  assert.match(typo.err, /--exclude-resource-type modle: not a resource type/);
});

Deno.test("selection: --indirect-selection eager, cautious, buildable, empty; a unit test's fqn has its folders", async () => {
  await using project = await writeProject({
    "models/staging/stg_a.sql": "select 1 as id",
    "models/staging/stg_b.sql": "select 1 as id",
    "models/marts/m.sql": "select * from {{ ref('stg_a') }}",
    "models/marts/schema.yml": `version: 2
models:
  - name: m
    columns:
      - name: id
        data_tests:
          - not_null
          - relationships: {arguments: {to: ref('stg_b'), field: id}}
      - name: id2
        data_tests:
          - relationships: {arguments: {to: ref('stg_a'), field: id}}
unit_tests:
  - name: m_keeps_ids
    model: m
    given:
      - input: ref('stg_a')
        rows: [{id: 1}]
    expect:
      rows: [{id: 1}]
`,
  });
  const dir = ["--project-dir", project.dir];
  const ls = async (...args: string[]) => {
    const run = await cli(["ls", ...dir, "--output", "name", ...args]);
    assert.equal(run.code, 0, run.err);
    return run.out.split("\n").filter((l) => l !== "").sort();
  };
  const relationships = "relationships_m_id__id__ref_stg_b_";
  const toAncestor = "relationships_m_id2__id__ref_stg_a_";
  assert.deepEqual(await ls("-s", "m"), [
    "m",
    "m_keeps_ids",
    "not_null_m_id",
    toAncestor,
    relationships,
  ]);
  assert.deepEqual(await ls("-s", "m", "--indirect-selection", "cautious"), [
    "m",
    "m_keeps_ids",
    "not_null_m_id",
  ]);
  assert.deepEqual(await ls("-s", "m", "--indirect-selection", "empty"), ["m"]);
  // buildable: stg_a is an ancestor of m, stg_b is not.
  assert.deepEqual(await ls("-s", "m", "--indirect-selection", "buildable"), [
    "m",
    "m_keeps_ids",
    "not_null_m_id",
    toAncestor,
  ]);
  assert.ok(
    (await ls("-s", "m", "stg_b", "--indirect-selection", "buildable")).includes(relationships),
  );
  // dbt's unit test fqn: [package, folders of its YAML file, model, name]: `marts` picks it.
  assert.deepEqual(
    await ls("-s", "marts", "--resource-type", "unit_test", "--indirect-selection", "empty"),
    [
      "m_keeps_ids",
    ],
  );
  const bad = await cli(["ls", ...dir, "--indirect-selection", "lazy"]);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--indirect-selection lazy: not a mode/);
});
