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

async function cli(args: string[]) {
  const out: string[] = [];
  const env: Record<string, string> = { WAREHOUSE_URL: "pglite:memory:" };
  const code = await runDbtCli(args, { out: (l) => out.push(l), err: (l) => out.push(l) }, {
    env: (name) => env[name],
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
