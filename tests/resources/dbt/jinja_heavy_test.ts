/**
 * A project that leans on Jinja as GitLab/Mattermost-style analytics
 * projects do (tests/fixtures/dbt/jinja_heavy) through `deno task dbt` on
 * PGlite: it builds, compiles to what dbt renders (int dict keys, varargs,
 * caller(), datetime, string methods, raw blocks), lists versioned models by
 * dbt's fqn, and its operations print Python's text of what they are given.
 * Before this session's fixes the int-key line read `['1', '2'] total 012`,
 * `ls` printed `dim_customers_v1`, and print() of a dict `[object Object]`.
 */

import assert from "node:assert/strict";
import { copyTree, runCli } from "./_project_cli.ts";

const FIXTURE = new URL("../../fixtures/dbt/jinja_heavy", import.meta.url).pathname;

Deno.test("jinja_heavy project builds on pglite and renders as dbt does", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "dbt-jinja-heavy-" });
  try {
    const project = `${dir}/proj`;
    await copyTree(FIXTURE, project);
    const env: Record<string, string> = { WAREHOUSE_URL: `pglite:${dir}/warehouse`, HOME: dir };
    const cli = (...args: string[]) => runCli([...args, "--project-dir", project], env);

    await t.step("build: every node and test passes", async () => {
      const { code, out } = await cli("build");
      assert.equal(code, 0, out);
      assert.match(out, /ERROR=0 SKIP=0/);
      const results = JSON.parse(
        await Deno.readTextFile(`${project}/target/run_results.json`),
      ) as { results: { status: string }[] };
      assert.ok(results.results.length >= 20);
      assert.ok(results.results.every((r) => r.status === "success" || r.status === "pass"));
    });

    await t.step("the compiled model reads as Jinja2 renders it", async () => {
      const sql = await Deno.readTextFile(
        `${project}/target/compiled/gl_analytics/models/marts/customers.sql`,
      );
      for (
        const line of [
          "-- keys: [1, 2] total 3",
          `-- 1|2,3|{"x": 4}`,
          "-- /* inside */",
          "-- 2020-01-31 2020-01-02",
          "-- C.B.A x 1-z",
          "-- {{ not rendered }}",
          "-- 1 ['a', 'b'] [[1, 2], [3, 4], [5]]",
          "-- ['x']",
          `    , 2 as pm_b`,
        ]
      ) assert.ok(sql.includes(line), `${line}\n---\n${sql}`);
      // adapter.get_columns_in_relation minus the excluded column, quoted.
      assert.match(sql, /select "customer_id", "first_name" from/);
    });

    await t.step("ls lists model versions by dbt's fqn", async () => {
      const { code, out } = await cli("ls", "-s", "dim_customers", "--resource-type", "model");
      assert.equal(code, 0, out);
      assert.deepEqual(out.trim().split("\n").filter((l) => l.startsWith("gl_analytics")), [
        "gl_analytics.versioned.dim_customers.v1",
        "gl_analytics.versioned.dim_customers.v2",
      ]);
    });

    await t.step("run-operation prints Python's text of lists, dicts and times", async () => {
      const { code, out } = await cli("run-operation", "printer");
      assert.equal(code, 0, out);
      assert.match(out, /\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00$/m);
      assert.match(out, /\[1, 'a', None\]$/m);
      assert.match(out, /\{'a': True\}$/m);
      assert.match(out, /1 day, 0:00:00$/m);
      assert.doesNotMatch(out, /object Object/);
    });

    await t.step("a codegen-like operation reads the warehouse's columns", async () => {
      const { code, out } = await cli(
        "run-operation",
        "codegen_like",
        "--args",
        "{schema_name: gl, table_name: customers}",
      );
      assert.equal(code, 0, out);
      assert.match(out, /- name: n_orders {2}# bigint/);
      assert.match(out, /missing: None$/m);
      // agate's column_names is a tuple, printed as Python does (e9bc28e).
      assert.match(out, /\('a', 'b'\)$/m);
    });

    await t.step("compile and docs generate succeed", async () => {
      assert.equal((await cli("compile")).code, 0);
      const docs = await cli("docs", "generate");
      assert.equal(docs.code, 0, docs.out);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
