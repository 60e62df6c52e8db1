/**
 * `deno task dbt show` (a model's rows, `--inline` with ref(), `--limit`,
 * `--output json`) and `--warn-error` / `--warn-error-options` promoting a
 * warn-severity test, on PGlite in memory: each exited 2 as unsupported before.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { writeProject } from "./_fixture.ts";

async function cli(args: string[], profile: "pglite" | "duckdb" = "pglite") {
  // The warehouse kept in the project folder: `show` reads what `build` made. DuckDB's is the
  // profile's file.
  const at = args.indexOf("--project-dir");
  const out: string[] = [];
  const err: string[] = [];
  const env: Record<string, string> = profile === "duckdb"
    ? {}
    : { WAREHOUSE_URL: `pglite:${args[at + 1]}/warehouse` };
  const code = await runDbtCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, {
    env: (name) => env[name],
    clock: { now: () => Date.UTC(2026, 0, 1, 12, 0, 0) },
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

const MODELS = {
  "models/numbers.sql": "select n as id, 'row ' || n as label from generate_series(1, 8) as n",
  "models/odd.sql": "select * from {{ ref('numbers') }} where id % 2 = 1 order by id",
  "models/broken.sql": "select no_such_column from {{ ref('numbers') }}",
};

Deno.test("dbt show: previews a model's first rows (--limit, default 5), --inline with ref(), --output json", async () => {
  await using project = await writeProject(MODELS);
  const dir = ["--project-dir", project.dir];
  assert.equal((await cli(["run", ...dir, "-s", "numbers", "odd"])).code, 0);
  const shown = await cli(["show", ...dir, "-s", "odd"]);
  assert.equal(shown.code, 0, shown.err);
  assert.equal(
    shown.out,
    [
      "12:00:00  Previewing node 'odd':",
      "| id | label |",
      "| -- | ----- |",
      "|  1 | row 1 |",
      "|  3 | row 3 |",
      "|  5 | row 5 |",
      "|  7 | row 7 |",
    ].join("\n"),
  );
  const limited = await cli(["show", ...dir, "-s", "numbers", "--limit", "2"]);
  assert.equal(limited.code, 0, limited.err);
  assert.equal(limited.out.split("\n").length, 5, limited.out);
  const all = await cli(["show", ...dir, "-s", "numbers", "--limit", "-1"]);
  assert.equal(all.out.split("\n").length, 11, all.out);
  const byDefault = await cli(["show", ...dir, "-s", "numbers"]);
  assert.equal(byDefault.out.split("\n").length, 8, byDefault.out);
  const inline = await cli([
    "show",
    ...dir,
    "--inline",
    "select count(*)::int as n from {{ ref('odd') }}",
    "--output",
    "json",
  ]);
  assert.equal(inline.code, 0, inline.err);
  assert.deepEqual(JSON.parse(inline.out.replace(/^\d\d:\d\d:\d\d {2}/, "")), { show: [{ n: 4 }] });
  const json = await cli(["show", ...dir, "-s", "odd", "--limit", "1", "--output", "json"]);
  assert.deepEqual(JSON.parse(json.out), { node: "odd", show: [{ id: 1, label: "row 1" }] });
});

Deno.test("dbt show: a query the warehouse refuses exits 1 naming the node; no node, a bad flag or --limit/--inline on another command exits 2", async () => {
  await using project = await writeProject(MODELS);
  const dir = ["--project-dir", project.dir];
  assert.equal((await cli(["run", ...dir, "-s", "numbers"])).code, 0);
  const broken = await cli(["show", ...dir, "-s", "broken"]);
  assert.equal(broken.code, 1, broken.out);
  assert.match(
    broken.err,
    /Cannot preview node 'broken' \(models\/broken\.sql\): .*no_such_column/,
  );
  const badInline = await cli(["show", ...dir, "--inline", "select * from {{ ref('nope') }}"]);
  assert.equal(badInline.code, 1, badInline.out);
  assert.match(badInline.err, /Cannot preview inline node \(--inline\): .*nope/);
  for (
    const [args, pattern] of [
      [["show", ...dir], /'show' needs a node/],
      [["show", ...dir, "-s", "odd", "--limit", "five"], /--limit must be a whole number/],
      [["show", ...dir, "-s", "odd", "--output", "csv"], /show --output csv: give text or json/],
      // Taken by another command and ignored would be a promise not kept.
      [["compile", ...dir, "--inline", "select 1"], /--inline applies to 'show', not 'compile'/],
      [["run", ...dir, "-s", "odd", "--limit", "3"], /--limit applies to 'show', not 'run'/],
    ] as const
  ) {
    const { code, err } = await cli([...args]);
    assert.equal(code, 2, err);
    assert.match(err, pattern);
  }
});

Deno.test("dbt --warn-error / --warn-error-options: a warn-severity test that warns fails the command (exit 1)", async () => {
  await using project = await writeProject({
    "models/people.sql": "select 1 as id union all select 1",
    "models/schema.yml": [
      "version: 2",
      "models:",
      "  - name: people",
      "    columns:",
      "      - name: id",
      "        data_tests:",
      "          - unique:",
      "              config: {severity: warn}",
    ].join("\n"),
  });
  const dir = ["--project-dir", project.dir];
  const warned = await cli(["build", ...dir]);
  assert.equal(warned.code, 0, warned.err);
  assert.match(warned.out, /WARN=1 ERROR=0/);
  for (
    const flags of [
      ["--warn-error"],
      ["--warn-error-options", '{"include": "all"}'],
      ["--warn-error-options", '{"include": ["LogTestResult"]}'],
    ]
  ) {
    const promoted = await cli(["build", ...dir, ...flags]);
    assert.equal(promoted.code, 1, `${flags.join(" ")}: ${promoted.out}`);
    assert.match(promoted.out, /WARN=0 ERROR=1/);
    assert.match(
      promoted.out,
      /FAIL test\.[^:]+unique_people_id[^:]*: Got 1 result, configured to warn if != 0/,
    );
  }
  const excluded = await cli([
    "test",
    ...dir,
    "--warn-error-options",
    '{"include": "all", "exclude": ["LogTestResult"]}',
  ]);
  assert.equal(excluded.code, 0, excluded.out);
  const bad = await cli(["test", ...dir, "--warn-error-options", '{"include": 3}']);
  assert.equal(bad.code, 2, bad.err);
  assert.match(bad.err, /--warn-error-options include: give "all" or a list of event names/);
});

Deno.test("dbt --empty: run/build read ref() as no rows, so models build schema-only (their own aliases kept)", async () => {
  await using project = await writeProject({
    "models/numbers.sql": MODELS["models/numbers.sql"],
    "models/odd.sql": "select * from {{ ref('numbers') }} where id % 2 = 1",
    "models/aliased.sql":
      "select n.id, n.label from {{ ref('numbers') }} n join {{ ref('odd') }} as o on o.id = n.id",
  });
  const dir = ["--project-dir", project.dir];
  const built = await cli(["build", ...dir, "--empty"]);
  assert.equal(built.code, 0, `${built.out}\n${built.err}`);
  const compiled = (name: string) =>
    Deno.readTextFile(`${project.dir}/target/compiled/demo/models/${name}.sql`);
  assert.match(
    await compiled("odd"),
    /from \(select \* from "[^"]+"\."[^"]+"\."numbers" where false limit 0\) _dbt_limit_subq_numbers where/,
  );
  assert.match(
    await compiled("aliased"),
    /where false limit 0\) n join \(select .* limit 0\) as o on/,
  );
  // The ref-less model has its rows; what reads it has its columns and none.
  const count = async (model: string) => {
    const shown = await cli([
      "show",
      ...dir,
      "--inline",
      `select count(*)::int as n from {{ ref('${model}') }}`,
      "--output",
      "json",
    ]);
    assert.equal(shown.code, 0, shown.err);
    return (JSON.parse(shown.out) as { show: { n: number }[] }).show[0]?.n;
  };
  assert.deepEqual([await count("numbers"), await count("odd"), await count("aliased")], [8, 0, 0]);
  // show runs a node's SQL (as dbt does); the built table is read through ref().
  const columns = await cli(["show", ...dir, "--inline", "select * from {{ ref('aliased') }}"]);
  assert.equal(columns.out, "12:00:00  Previewing inline node:\n| id | label |\n| -- | ----- |");
  const notHere = await cli(["test", ...dir, "--empty"]);
  assert.equal(notHere.code, 2);
  assert.match(notHere.err, /--empty applies to 'run' and 'build'/);
});

Deno.test("dbt --empty and show on DuckDB: source() and ref() read no rows, a seed keeps its rows", async () => {
  await using project = await writeProject({
    "profiles.yml": [
      "demo:",
      "  target: duck",
      "  outputs:",
      "    duck:",
      "      type: duckdb",
      "      path: warehouse.duckdb",
      "      threads: 1",
    ].join("\n"),
    "seeds/things.csv": "id,kind\n1,a\n2,b\n3,a\n",
    "models/sources.yml": [
      "version: 2",
      "sources:",
      "  - name: raw",
      "    schema: main",
      "    tables:",
      "      - name: things",
    ].join("\n"),
    "models/from_source.sql": "select t.id, t.kind from {{ source('raw', 'things') }} t",
    "models/from_ref.sql": "select * from {{ ref('things') }} where kind = 'a'",
  });
  const dir = ["--project-dir", project.dir];
  const seeded = await cli(["seed", ...dir], "duckdb");
  assert.equal(seeded.code, 0, `${seeded.out}\n${seeded.err}`);
  const built = await cli(["run", ...dir, "--empty"], "duckdb");
  assert.equal(built.code, 0, `${built.out}\n${built.err}`);
  // show runs a node's SQL (as dbt does): the seed's rows; the built tables are read through ref().
  const rows = async (args: string[]) => {
    const shown = await cli(["show", ...dir, ...args, "--output", "json"], "duckdb");
    assert.equal(shown.code, 0, shown.err);
    return (JSON.parse(shown.out) as { show: unknown[] }).show.length;
  };
  assert.equal(await rows(["-s", "things"]), 3);
  assert.equal(await rows(["--inline", "select * from {{ ref('from_source') }}"]), 0);
  assert.equal(await rows(["--inline", "select * from {{ ref('from_ref') }}"]), 0);
  assert.equal(await rows(["-s", "from_ref"]), 2);
  const columns = await cli(
    ["show", ...dir, "--inline", "select * from {{ ref('from_source') }}"],
    "duckdb",
  );
  assert.equal(columns.code, 0, columns.err);
  assert.match(columns.out, /Previewing inline node:\n\| id \| kind \|/);
});
