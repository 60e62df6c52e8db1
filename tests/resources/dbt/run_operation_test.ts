/**
 * `deno task dbt run-operation MACRO --args YAML` (codegen, audit-helper and
 * cleanup macros are run this way): the macro runs in the root project's
 * context with its arguments, its queries run on the warehouse as they are
 * asked, what it logs is printed; a missing macro or bad --args fails
 * naming what is wrong.
 */

import assert from "node:assert/strict";
import { writeProject } from "./_fixture.ts";
import { queryRows, runCli } from "./_project_cli.ts";
import { assertValidArtifact } from "./_dbt_schemas.ts";

const MACROS = `
{% macro make_table(name, n=2) %}
  {% do run_query('create schema if not exists ops') %}
  {% do run_query('create table ops.' ~ name ~ ' as select generate_series(1, ' ~ n ~ ') as id, \\'x\\'::text as label') %}
  {% do log('created ops.' ~ name ~ ' with ' ~ n ~ ' rows', info=True) %}
{% endmacro %}

{% macro describe(table, opts={}) %}
  {%- set rel = api.Relation.create(schema='ops', identifier=table) -%}
  {%- set cols = adapter.get_columns_in_relation(rel) -%}
  {%- set n = run_query('select count(*) from ' ~ rel).columns[0].values()[0] -%}
  {%- set lines = [] -%}
  {%- for c in cols -%}{%- do lines.append('  - name: ' ~ c.name ~ ' (' ~ c.data_type ~ ')') -%}{%- endfor -%}
  {%- do log(table ~ ': ' ~ n ~ ' rows' ~ (' [' ~ opts.tag ~ ']' if opts.tag else '') ~ '\\n' ~ lines | join('\\n'), info=True) -%}
{% endmacro %}
`;

Deno.test("run-operation: calls a macro with --args, runs its queries, prints its logs", async () => {
  await using project = await writeProject({ "macros/ops.sql": MACROS });
  const url = `pglite:${project.dir}/warehouse`;
  const env = { WAREHOUSE_URL: url, HOME: project.dir };
  const cli = (...args: string[]) => runCli([...args, "--project-dir", project.dir], env);

  const made = await cli("run-operation", "make_table", "--args", "{name: things, n: 3}");
  assert.equal(made.code, 0, made.out);
  assert.match(made.stdout, /created ops\.things with 3 rows/);
  assert.deepEqual(await queryRows(url, "select count(*) as n from ops.things"), [{ n: 3 }]);

  // A package-style call: the relation's columns and a count, read from the warehouse.
  const described = await cli(
    "run-operation",
    "demo.describe",
    "--args",
    '{"table": "things", "opts": {"tag": "it\'s"}}',
  );
  assert.equal(described.code, 0, described.out);
  assert.match(described.stdout, /things: 3 rows \[it's\]/);
  assert.match(described.stdout, /- name: id \(integer\)\n.*- name: label \(text\)/);

  const missing = await cli("run-operation", "nope");
  assert.equal(missing.code, 2);
  assert.match(missing.out, /nope/);
  const badArgs = await cli("run-operation", "describe", "--args", "[1, 2]");
  assert.equal(badArgs.code, 2);
  assert.match(badArgs.out, /--args must be a YAML or JSON map/);
  const noName = await cli("run-operation");
  assert.equal(noName.code, 2);
  assert.match(noName.out, /'run-operation' needs the name of a macro/);
});

// An audit macro as projects write them: query, then show the result with agate's print_table.
const AUDIT = `
{% macro audit_revenue(limit=2) %}
  {%- set results = run_query("select status, n_orders, revenue, note from (values ('completed', 1250, 10500.5, 'ok'), ('returned', 3, -20.125, null), ('a_status_name_longer_than_twenty', 7, 0.25, 'x')) as t(status, n_orders, revenue, note) order by n_orders desc") -%}
  {%- if execute -%}
    {%- do results.print_table() -%}
    {%- do results.print_table(max_rows=limit, max_columns=2) -%}
  {%- endif -%}
{% endmacro %}
`;

Deno.test("run-operation: print_table shows a run_query result as agate does", async () => {
  await using project = await writeProject({ "macros/audit.sql": AUDIT });
  const env = { WAREHOUSE_URL: `pglite:${project.dir}/warehouse`, HOME: project.dir };
  const run = await runCli(["run-operation", "audit_revenue", "--project-dir", project.dir], env);
  assert.equal(run.code, 0, run.out);
  // Before: print_table printed nothing. Numbers (numeric too, which came back as text)
  // right-aligned with thousands separators and the column's decimals (at most 3), text
  // left-aligned and cut at 20 characters.
  const table = run.stdout.split("\n").map((l) => l.replace(/^\d\d:\d\d:\d\d {2}/, ""));
  assert.deepEqual(table.filter((l) => l.startsWith("|")), [
    "| status               | n_orders |    revenue | note |",
    "| -------------------- | -------- | ---------- | ---- |",
    "| completed            |    1,250 | 10,500.500 | ok   |",
    "| a_status_name_lon... |        7 |      0.250 | x    |",
    "| returned             |        3 |    -20.125 |      |",
    "| status               | n_orders | ... |",
    "| -------------------- | -------- | --- |",
    "| completed            |    1,250 | ... |",
    "| a_status_name_lon... |        7 | ... |",
    "| ...                  |      ... | ... |",
  ]);
});

Deno.test("run-operation: graph.sources carry their external: properties, None without", async () => {
  // dbt-external-tables' stage_external_sources walks graph.sources and stages those with
  // `node.external.location`. Without an `external` key every source failed the walk
  // ("'dict object' has no attribute 'external'"); dbt gives None (then .location is undefined).
  await using project = await writeProject({
    "models/sources.yml": `version: 2
sources:
  - name: plain
    tables: [{name: people}]
  - name: lake
    tables:
      - name: people_csv
        external:
          location: "@stage/people"
          file_format: csv
          skip_header: 1
          partitions:
            - {name: section, data_type: varchar}
`,
    "macros/stage.sql": `{% macro stage(select=none) %}
  {% for node in graph.sources.values() | sort(attribute='unique_id') %}
    {% if node.external.location %}
      {% do log(node.source_name ~ '.' ~ node.name ~ ' at ' ~ node.external.location ~ ' as ' ~ node.external.file_format ~ ' (' ~ node.external.partitions | map(attribute='name') | join(',') ~ ', skip ' ~ node.external.skip_header ~ ', row_format ' ~ node.external.row_format ~ ')', info=True) %}
    {% else %}
      {% do log(node.source_name ~ '.' ~ node.name ~ ' is not external', info=True) %}
    {% endif %}
  {% endfor %}
{% endmacro %}`,
  });
  const env = { WAREHOUSE_URL: `pglite:${project.dir}/warehouse`, HOME: project.dir };
  const staged = await runCli(["run-operation", "stage", "--project-dir", project.dir], env);
  assert.equal(staged.code, 0, staged.out);
  assert.match(
    staged.stdout,
    /lake\.people_csv at @stage\/people as csv \(section, skip 1, row_format None\)/,
  );
  assert.match(staged.stdout, /plain\.people is not external/);
  const parsed = await runCli(["parse", "--project-dir", project.dir], env);
  assert.equal(parsed.code, 0, parsed.out);
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  assert.equal(manifest.sources["source.demo.plain.people"].external, null);
  assert.deepEqual(manifest.sources["source.demo.lake.people_csv"].external.partitions, [
    { name: "section", description: "", data_type: "varchar", meta: {} },
  ]);
  await assertValidArtifact("manifest", manifest);
});

Deno.test("run-operation: source columns carry quote, tags and extra keys (expression) as dbt's ColumnInfo", async () => {
  // dbt-external-tables' snowflake__create_external_table quotes `column.quote` columns and uses
  // `column.expression`; both were dropped (quote always None, extra keys lost).
  await using project = await writeProject({
    "models/sources.yml": `version: 2
sources:
  - name: lake
    tables:
      - name: people
        columns:
          - {name: id, data_type: int}
          - {name: first_name, data_type: varchar, quote: true, tags: [pii]}
          - {name: email, data_type: varchar, expression: "lower(value:c4)"}
`,
    "macros/cols.sql": `{% macro cols() %}
  {% for node in graph.sources.values() %}{% for column in node.columns.values() %}
    {% do log(column.name ~ ': ' ~ (adapter.quote(column.name) if column.quote else column.name) ~ ' as ' ~ (column.expression or 'value:' ~ column.name) ~ ' tags=' ~ column.tags | join(','), info=True) %}
  {% endfor %}{% endfor %}
{% endmacro %}`,
  });
  const env = { WAREHOUSE_URL: `pglite:${project.dir}/warehouse`, HOME: project.dir };
  const run = await runCli(["run-operation", "cols", "--project-dir", project.dir], env);
  assert.equal(run.code, 0, run.out);
  assert.match(run.stdout, /id: id as value:id tags=\n/);
  assert.match(run.stdout, /first_name: "first_name" as value:first_name tags=pii/);
  assert.match(run.stdout, /email: email as lower\(value:c4\) tags=/);
  const parsed = await runCli(["parse", "--project-dir", project.dir], env);
  assert.equal(parsed.code, 0, parsed.out);
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  const columns = manifest.sources["source.demo.lake.people"].columns;
  assert.deepEqual(
    [columns.first_name.quote, columns.first_name.tags, columns.email.expression, columns.id.quote],
    [true, ["pii"], "lower(value:c4)", null],
  );
  await assertValidArtifact("manifest", manifest);
});
