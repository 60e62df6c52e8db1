/**
 * A Python model (`models/x.py`) in a project this runner builds: a node of the graph (listed,
 * selected, its refs upstream, its children downstream) whose build fails naming the file, as
 * dbt-postgres fails it; the rest of the project builds. Before, `.py` files were not read: the
 * build was green without the model (dbt-labs/jaffle-shop's models/marts/python_models/).
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../../resources/dbt/cli.ts";
import { writeProject } from "../_fixture.ts";

async function cli(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const env: Record<string, string> = { WAREHOUSE_URL: "pglite:memory:" };
  const code = await runDbtCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, {
    env: (name) => env[name],
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const HOLIDAYS = `import holidays

def model(dbt, session):
    dbt.config(
        materialized="table",
        packages=['pandas', 'holidays']
    )
    days = dbt.ref('date_spine').to_pandas()
    raw = dbt.source("shop", "raw_days")
    return days
`;

Deno.test("python model: listed and ordered by its dbt.ref/dbt.source calls; its build fails naming the file", async () => {
  await using project = await writeProject({
    "models/date_spine.sql": "select 1 as date_day",
    "models/python_models/is_holiday.py": HOLIDAYS,
    "models/python_models/off.py":
      "def model(dbt, session):\n    dbt.config(enabled=False)\n    return dbt.ref('date_spine')\n",
    "models/holiday_counts.sql": "select count(*) as n from {{ ref('is_holiday') }}",
    "models/schema.yml": `version: 2
sources:
  - name: shop
    schema: raw
    tables: [{name: raw_days}]
models:
  - name: is_holiday
    description: Holidays per day.
`,
  });
  const dir = ["--project-dir", project.dir];
  const listed = await cli(["ls", ...dir, "-s", "+holiday_counts", "--output", "name"]);
  assert.equal(listed.code, 0, listed.err);
  assert.deepEqual(listed.out.split("\n").sort(), [
    "date_spine",
    "holiday_counts",
    "is_holiday",
    "raw_days",
  ]);
  const upstream = await cli(["ls", ...dir, "-s", "+is_holiday", "--resource-type", "source"]);
  assert.match(upstream.out, /source:demo\.shop\.raw_days/);
  const all = await cli(["ls", ...dir, "--output", "name"]);
  assert.doesNotMatch(all.out, /\boff\b/); // dbt.config(enabled=False)

  const build = await cli(["build", ...dir]);
  assert.equal(build.code, 1, build.out);
  assert.match(
    build.out,
    /models\/python_models\/is_holiday\.py is a Python model: this runner runs SQL models only/,
  );
  assert.match(build.out, /OK created sql view model "postgres"\."analytics"\."date_spine"/);
  assert.match(build.out, /ERROR=1 SKIP=1 TOTAL=3/); // holiday_counts, downstream of it
  // Left out, the rest builds green.
  const rest = await cli(["build", ...dir, "--exclude", "is_holiday+"]);
  assert.equal(rest.code, 0, rest.out);
});

Deno.test("python model: manifest.json says its language is python", async () => {
  await using project = await writeProject({
    "models/date_spine.sql": "select 1 as date_day",
    "models/python_models/is_holiday.py": HOLIDAYS,
    "models/schema.yml": `version: 2
sources:
  - name: shop
    schema: raw
    tables: [{name: raw_days}]
`,
  });
  const parsed = await cli(["parse", "--project-dir", project.dir]);
  assert.equal(parsed.code, 0, parsed.out + parsed.err);
  const manifest = JSON.parse(
    await Deno.readTextFile(`${project.dir}/target/manifest.json`),
  ) as { nodes: Record<string, { language: string }> };
  assert.equal(manifest.nodes["model.demo.is_holiday"]?.language, "python"); // was "sql"
  assert.equal(manifest.nodes["model.demo.date_spine"]?.language, "sql");
});
