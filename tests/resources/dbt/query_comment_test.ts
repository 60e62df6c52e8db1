/**
 * dbt's `query-comment`: rendered with Jinja for each node (`node`,
 * `target`, `dbt_version`, macros), put before each statement a build sends
 * (or after it with `append: true`), `node` none for on-run hooks; a SQL
 * error still names the model's line; `*\/` in the rendered comment and
 * BigQuery's `job-label` are refused. Before, the key was accepted and no
 * comment was ever sent.
 */

import assert from "node:assert/strict";
import { loadProject, runProject } from "../../../resources/dbt/mod.ts";
import { openWarehouse, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { addComment } from "../../../resources/dbt/execute/query_comment.ts";
import { PROJECT_YML, writeProject } from "./_fixture.ts";

/** `warehouse`, recording the SQL of every query/queryTable/execute/exec, transactions included. */
function recording<T extends object>(target: T, log: string[]): T {
  return new Proxy(target, {
    get(t, key) {
      const value = Reflect.get(t, key, t);
      if (typeof value !== "function") return value;
      if (key === "query" || key === "queryTable" || key === "execute" || key === "exec") {
        return (sql: string, ...rest: unknown[]) => {
          log.push(sql);
          return value.call(t, sql, ...rest);
        };
      }
      if (key === "transaction") {
        return (fn: (tx: object) => Promise<unknown>) =>
          value.call(t, (tx: object) => fn(recording(tx, log)));
      }
      return value.bind(t);
    },
  });
}

const FILES = {
  "models/m.sql": "select 1 as id",
  "models/n.sql": "select id from {{ ref('m') }}",
  "macros/qc.sql":
    "{% macro qc() %}{{ 'node=' ~ (node.unique_id if node else 'none') }}{% endmacro %}",
};

Deno.test("query-comment goes before each statement of a build, rendered per node", async () => {
  await using project = await writeProject({
    ...FILES,
    "dbt_project.yml": `${PROJECT_YML}on-run-start: ["select 1"]
query-comment: "dbt {{ dbt_version }} {{ target.name }} {{ qc() }}"
`,
  });
  await using raw = await openWarehouse("pglite:memory:");
  const log: string[] = [];
  const warehouse = recording(raw as Warehouse, log);
  const run = await runProject(await loadProject(project.dir), warehouse, {
    writeArtifacts: false,
  });
  assert.ok(run.success, run.results.map((r) => r.message).join("\n"));
  const creates = log.filter((sql) => /create view/.test(sql));
  assert.equal(creates.length, 2);
  for (const sql of creates) {
    assert.match(sql, /^\/\* dbt 1\.10\.0 embedded node=model\.demo\.[mn] \*\/\ncreate view/);
  }
  assert.ok(log.includes("/* dbt 1.10.0 embedded node=none */\nselect 1"), log.join("\n---\n"));
});

Deno.test("query-comment goes before the queries a model's Jinja runs (run_query)", async () => {
  await using project = await writeProject({
    "models/asks.sql":
      "select {{ run_query('select 42 as answer').columns[0].values()[0] if execute else 0 }} as n",
    "dbt_project.yml": `${PROJECT_YML}query-comment: "asked by {{ node.unique_id }}"
`,
  });
  await using raw = await openWarehouse("pglite:memory:");
  const log: string[] = [];
  const run = await runProject(await loadProject(project.dir), recording(raw as Warehouse, log), {
    writeArtifacts: false,
  });
  assert.ok(run.success, run.results.map((r) => r.message).join("\n"));
  assert.ok(
    log.includes("/* asked by model.demo.asks */\nselect 42 as answer"),
    log.join("\n---\n"),
  );
  assert.deepEqual(await raw.query("select n from analytics.asks"), [{ n: 42 }]);
});

Deno.test("query-comment append: true goes after the statement; a SQL error still names its line", async () => {
  await using project = await writeProject({
    ...FILES,
    "models/bad.sql": "select 1 as id,\n  no_such_column\nfrom {{ ref('m') }}",
    "dbt_project.yml": `${PROJECT_YML}query-comment:
  comment: "by {{ target.name }}"
  append: true
`,
  });
  await using raw = await openWarehouse("pglite:memory:");
  const log: string[] = [];
  const run = await runProject(await loadProject(project.dir), recording(raw as Warehouse, log), {
    writeArtifacts: false,
  });
  assert.ok(log.some((sql) => /^create view[\s\S]*\n\/\* by embedded \*\/$/.test(sql)));
  const bad = run.results.find((r) => r.unique_id === "model.demo.bad");
  assert.match(bad?.message ?? "", /models\/bad\.sql:2:.*no_such_column/);
  assert.equal(addComment("select 1;\n", "c", true), "select 1\n/* c */;");
  assert.equal(addComment("select 1", "c", false), "/* c */\nselect 1");
});

Deno.test("query-comment: a prepended comment keeps the error on the model's line", async () => {
  await using project = await writeProject({
    "models/bad.sql": "select 1 as id,\n  no_such_column",
    "dbt_project.yml":
      `${PROJECT_YML}query-comment: "a rather long comment to move positions along"\n`,
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const run = await runProject(await loadProject(project.dir), warehouse, {
    writeArtifacts: false,
  });
  assert.match(run.results[0]?.message ?? "", /models\/bad\.sql:2:.*no_such_column/);
});

Deno.test("query-comment: '*/' in the comment, job-label and unknown keys are refused", async () => {
  await using warehouse = await openWarehouse("pglite:memory:");
  for (
    const [setting, pattern] of [
      [`query-comment: "a */ b"`, /'\*\/'/],
      [`query-comment:\n  comment: x\n  job-label: true`, /job-label/],
      [`query-comment:\n  coment: x`, /Additional properties.*coment/],
    ] as const
  ) {
    await using project = await writeProject({
      "models/m.sql": "select 1 as id",
      "dbt_project.yml": `${PROJECT_YML}${setting}\n`,
    });
    const failed = await (async () => {
      try {
        const run = await runProject(await loadProject(project.dir), warehouse, {
          writeArtifacts: false,
        });
        return run.results.map((r) => r.message).join("\n");
      } catch (error) {
        return (error as Error).message;
      }
    })();
    assert.match(failed, pattern, setting);
  }
});

Deno.test("query-comment: without the key dbt's default JSON comment is sent; null or '' sends none", async () => {
  const cases = [
    ["", "prepend"],
    ["query-comment:\n  append: true\n", "append"],
    ["query-comment: null\n", "none"],
    ["query-comment: ''\n", "none"],
    ["query-comment:\n  comment: null\n", "none"],
  ] as const;
  for (const [setting, where] of cases) {
    await using project = await writeProject({
      ...FILES,
      "dbt_project.yml": `${PROJECT_YML}on-run-start: ["select 1"]\n${setting}`,
    });
    await using raw = await openWarehouse("pglite:memory:");
    const log: string[] = [];
    const run = await runProject(await loadProject(project.dir), recording(raw as Warehouse, log), {
      writeArtifacts: false,
    });
    assert.ok(run.success, run.results.map((r) => r.message).join("\n"));
    const comment = (node: string) =>
      `/* {"app": "dbt", "dbt_version": "1.10.0", "profile_name": "demo", ` +
      `"target_name": "embedded", ${node}} */`;
    const create = log.find((sql) =>
      sql.includes('create view "postgres"."analytics"."n__dbt_tmp"')
    );
    const hook = log.find((sql) => /select 1$|^select 1/m.test(sql) && !sql.includes("create"));
    const mComment = comment('"node_id": "model.demo.n"');
    const hookComment = comment('"connection_name": "master"');
    if (where === "prepend") {
      assert.ok(create?.startsWith(`${mComment}\ncreate view`), create);
      assert.equal(hook, `${hookComment}\nselect 1`);
    } else if (where === "append") {
      assert.ok(create?.endsWith(`\n${mComment}`), create);
      assert.equal(hook, `select 1\n${hookComment}`);
    } else {
      assert.ok(create?.startsWith("create view"), `${setting}: ${create}`);
      assert.ok(!log.some((sql) => sql.includes("/*")), setting);
    }
  }
});
