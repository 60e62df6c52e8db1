/**
 * `deno task dbt` in-process: usage errors exit 2 with the usage, a project
 * error exits 2 naming the file, `parse`, `ls` with selection and `compile`
 * write and print what dbt would.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { writeProject } from "./_fixture.ts";
import { assertValidArtifact } from "./_dbt_schemas.ts";

async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDbtCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, {
    env: (name) => env[name],
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("dbt cli: usage errors exit 2 and say what to type", async () => {
  for (
    const [args, pattern] of [
      [[], /usage: deno task dbt <command>/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["docs"], /'docs' needs 'generate'/],
      [["build", "--threads", "zero"], /--threads must be a whole number >= 1, got 'zero'/],
      // Number() took these as 16, 1000 and 0 (dbt then ran with 16 or 1000 threads).
      [["build", "--threads", "0x10"], /--threads must be a whole number >= 1, got '0x10'/],
      [["build", "--threads=1e3"], /--threads must be a whole number >= 1, got '1e3'/],
      [["build", "--threads= "], /--threads must be a whole number >= 1, got ' '/],
      [["build", "--vars", "[1, 2]"], /--vars must be a YAML or JSON map/],
      // Before: Node's text, ending with advice to put it after '--'.
      [["build", "--no-such-flag"], /^error: Unknown option '--no-such-flag'\nusage:/],
      [
        ["build", "--ful-refresh"],
        /Unknown option '--ful-refresh' \(did you mean '--full-refresh'\?\)/,
      ],
      [
        ["build", "--log-format", "json"],
        /--log-format json: only text \(or default\) is supported/,
      ],
    ] as const
  ) {
    const { code, err } = await cli([...args]);
    assert.equal(code, 2, err);
    assert.match(err, pattern);
  }
  const help = await cli(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out, /--select/);
  // As every other task's help says it (dbt's did not).
  assert.match(
    help.out,
    /\nexit status: 0 success, 1 a node or test failed, 2 usage or project error$/,
  );
});

Deno.test("dbt cli: parse, ls with selection, compile, and a project error", async () => {
  await using project = await writeProject({
    "models/a.sql": "select 1 as id",
    "models/b.sql": "{{ config(tags=['nightly']) }}select * from {{ ref('a') }}",
  });
  const dir = ["--project-dir", project.dir];
  const parse = await cli(["parse", ...dir]);
  assert.equal(parse.code, 0, parse.err);
  await Deno.stat(`${project.dir}/target/manifest.json`);
  assert.equal(parse.err, "");
  // `parse` selects nothing of its own, but still reports what selection flags say.
  const parseTypo = await cli(["parse", ...dir, "-s", "bb"]);
  assert.equal(parseTypo.code, 0, parseTypo.err);
  assert.match(parseTypo.err, /criterion 'bb' does not match any enabled nodes/);
  const parseKind = await cli(["parse", ...dir, "--resource-type", "modle"]);
  assert.equal(parseKind.code, 2, parseKind.err);
  assert.match(parseKind.err, /modle/);
  const ls = await cli(["ls", ...dir, "-s", "+b", "--output", "name"]);
  assert.deepEqual(ls.out.split("\n").sort(), ["a", "b"]);
  const tagged = await cli(["ls", ...dir, "-s", "tag:nightly", "--output", "path"]);
  assert.equal(tagged.out, "models/b.sql");
  assert.equal(tagged.err, "");
  // As dbt: a criterion that matches nothing is named, and an empty selection said.
  const typo = await cli(["ls", ...dir, "-s", "bb", "tag:nightly", "--output", "name"]);
  assert.equal(typo.code, 0);
  assert.equal(typo.out, "b");
  assert.equal(
    typo.err,
    "warning: The selection criterion 'bb' does not match any enabled nodes",
  );
  const none = await cli(["ls", ...dir, "-s", "tag:weekly"]);
  assert.equal(none.out, "");
  assert.match(none.err, /criterion 'tag:weekly' does not match any enabled nodes/);
  assert.match(none.err, /Nothing to do/);
  const compiled = await cli(["compile", ...dir, "-s", "b"], {
    WAREHOUSE_URL: "pglite:memory:",
  });
  assert.equal(compiled.code, 0, compiled.err);
  assert.match(compiled.out, /select \* from "postgres"\."analytics"\."a"/);
  assert.match(
    await Deno.readTextFile(`${project.dir}/target/compiled/demo/models/b.sql`),
    /"analytics"\."a"/,
  );
  await Deno.writeTextFile(`${project.dir}/models/c.sql`, "select * from {{ ref('nope') }}");
  const broken = await cli(["build", ...dir]);
  assert.equal(broken.code, 2);
  assert.match(broken.err, /models\/c\.sql:1: ref\('nope'\) names no model/);
});

Deno.test("dbt cli: a bad dbt variable of the environment fails at start naming it", async () => {
  for (
    const [env, pattern] of [
      [{ DBT_PROJECT_DIR: "/no/such/project" }, /DBT_PROJECT_DIR \('\/no\/such\/project'\)/],
      [{ DBT_PROFILES_DIR: "/no/such/folder" }, /DBT_PROFILES_DIR \('\/no\/such\/folder'\)/],
      [{ DBT_PACKAGE_HUB_URL: "hub.getdbt.com" }, /DBT_PACKAGE_HUB_URL .*http\(s\) URL/],
      [{ WAREHOUSE_URL: "mysql://x" }, /WAREHOUSE_URL .*must start with/],
    ] as const
  ) {
    const { code, err } = await cli(["parse"], { ...env });
    assert.equal(code, 2, err);
    assert.match(err, pattern);
  }
  // Relative folders are read from where the command was typed (INIT_CWD).
  await using project = await writeProject({ "models/a.sql": "select 1 as id" });
  const parent = project.dir.slice(0, project.dir.lastIndexOf("/"));
  const name = project.dir.slice(parent.length + 1);
  const ok = await cli(["parse"], { DBT_PROJECT_DIR: name, INIT_CWD: parent });
  assert.equal(ok.code, 0, ok.err);
});

Deno.test("dbt cli: profiles.yml and relative --profiles-dir, DBT_PROFILES_DIR, --target-path and --state are read from the folder the command was typed in (INIT_CWD), not the repository", async () => {
  // `deno task --config <repo>/deno.json dbt` runs in the repository: dbt-core looks for
  // profiles.yml in the user's current folder, so the runner must look in INIT_CWD.
  await using project = await writeProject({ "models/a.sql": "select 1 as id" });
  const shell = await Deno.makeTempDir({ prefix: "dbt-shell-" });
  try {
    await Deno.rename(`${project.dir}/profiles.yml`, `${shell}/profiles.yml`);
    const env = { INIT_CWD: shell };
    const dir = ["--project-dir", project.dir];
    const here = await cli(["parse", ...dir, "--target-path", "out"], env);
    assert.equal(here.code, 0, here.err);
    await Deno.stat(`${shell}/out/manifest.json`);
    const state = await cli(["ls", ...dir, "-s", "state:modified", "--state", "out"], env);
    assert.equal(state.code, 0, state.err);
    await Deno.mkdir(`${shell}/profiles`);
    await Deno.rename(`${shell}/profiles.yml`, `${shell}/profiles/profiles.yml`);
    const flag = await cli(["parse", ...dir, "--profiles-dir", "profiles"], env);
    assert.equal(flag.code, 0, flag.err);
    const variable = await cli(["parse", ...dir], { ...env, DBT_PROFILES_DIR: "profiles" });
    assert.equal(variable.code, 0, variable.err);
    const missing = await cli(["parse", ...dir], env);
    assert.equal(missing.code, 2, missing.err);
    assert.match(missing.err, new RegExp(`looked in .*${shell}/profiles\\.yml`));
    const inProject = await cli(["parse"], { INIT_CWD: project.dir });
    assert.match(inProject.err, new RegExp(`looked in ${project.dir}/profiles\\.yml\\)`));
  } finally {
    await Deno.remove(shell, { recursive: true });
  }
});

Deno.test("dbt cli: --fail-fast skips what has not started once a node fails; without it the rest builds", async () => {
  await using project = await writeProject({
    "models/a_broken.sql": "select no_such_column",
    ...Object.fromEntries(["b", "c", "d"].map((m) => [`models/${m}.sql`, "select 1 as id"])),
  });
  const env = { WAREHOUSE_URL: "pglite:memory:" };
  const statuses = async () => {
    const results = JSON.parse(
      await Deno.readTextFile(`${project.dir}/target/run_results.json`),
    ) as { results: { unique_id: string; status: string }[]; args: { fail_fast: boolean } };
    return {
      failFast: results.args.fail_fast,
      status: Object.fromEntries(results.results.map((r) => [r.unique_id.slice(11), r.status])),
    };
  };
  const dir = ["--project-dir", project.dir, "--threads", "1"];
  const fast = await cli(["run", ...dir, "--fail-fast"], env);
  assert.equal(fast.code, 1, fast.err);
  assert.deepEqual(await statuses(), {
    failFast: true,
    status: { a_broken: "error", b: "skipped", c: "skipped", d: "skipped" },
  });
  const slow = await cli(["run", ...dir], env);
  assert.equal(slow.code, 1, slow.err);
  assert.deepEqual(await statuses(), {
    failFast: false,
    status: { a_broken: "error", b: "success", c: "success", d: "success" },
  });
});

Deno.test("dbt cli: compile writes run_results.json (v6) for what it compiled, with the invocation's args", async () => {
  await using project = await writeProject({
    "models/a.sql": "select 1 as id",
    "models/b.sql": "select * from {{ ref('a') }}",
    "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    columns:\n      - name: id\n" +
      "        data_tests: [not_null]\n",
  });
  const compiled = await cli(["compile", "--project-dir", project.dir], {
    WAREHOUSE_URL: "pglite:memory:",
  });
  assert.equal(compiled.code, 0, compiled.err);
  const runResults = JSON.parse(
    await Deno.readTextFile(`${project.dir}/target/run_results.json`),
  ) as {
    args: { which: string };
    results: { unique_id: string; status: string; compiled_code: string | null }[];
  };
  await assertValidArtifact("run_results", runResults);
  assert.equal(runResults.args.which, "compile");
  const byId = Object.fromEntries(
    runResults.results.map((r) => [r.unique_id.replace(/^(test\..*)\.[0-9a-f]{10}$/, "$1"), r]),
  );
  assert.deepEqual(Object.keys(byId).sort(), [
    "model.demo.a",
    "model.demo.b",
    "test.demo.not_null_a_id",
  ]);
  assert.equal(byId["model.demo.b"]?.status, "success");
  assert.match(byId["model.demo.b"]?.compiled_code ?? "", /from "postgres"\."analytics"\."a"/);
  assert.match(byId["test.demo.not_null_a_id"]?.compiled_code ?? "", /id is null/);
  // As dbt, compile writes manifest.json too (it did not: only parse and the builds did).
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  await assertValidArtifact("manifest", manifest);
  assert.ok(manifest.nodes["model.demo.b"]);
});

Deno.test("dbt cli: progress lines do not count ephemeral models (1 of N as dbt)", async () => {
  await using project = await writeProject({
    "models/eph.sql": "{{ config(materialized='ephemeral') }}select 1 as id",
    "models/a.sql": "select * from {{ ref('eph') }}",
    "models/b.sql": "select * from {{ ref('a') }}",
  });
  const run = await cli(["run", "--project-dir", project.dir, "--threads", "1"], {
    WAREHOUSE_URL: "pglite:memory:",
  });
  assert.equal(run.code, 0, run.err);
  const starts = run.out.split("\n").filter((l) => l.includes(" START "));
  assert.deepEqual(starts.map((l) => /(\d+ of \d+)/.exec(l)?.[1]), ["1 of 2", "2 of 2"]);
  assert.ok(!run.out.includes("eph"), run.out);
  // The summary and run_results.json agree with the counter: the ephemeral model ran nowhere.
  assert.match(run.out, /Finished running 2 nodes/);
  assert.match(run.out, /PASS=2 WARN=0 ERROR=0 SKIP=0 TOTAL=2/);
  const results = JSON.parse(
    await Deno.readTextFile(`${project.dir}/target/run_results.json`),
  ) as { results: { unique_id: string }[] };
  assert.deepEqual(results.results.map((r) => r.unique_id).sort(), [
    "model.demo.a",
    "model.demo.b",
  ]);
});

Deno.test("dbt cli: a damaged --state artifact exits 2 naming its file, never a SyntaxError", async () => {
  await using project = await writeProject({ "models/a.sql": "select 1 as id" });
  const state = `${project.dir}/prev`;
  await Deno.mkdir(state);
  const ls = (...more: string[]) =>
    cli(["ls", "--project-dir", project.dir, "--state", state, "-s", "state:modified", ...more]);
  // A manifest cut short (its writer killed), then one that is JSON but no artifact.
  for (
    const [file, text, why] of [
      ["manifest.json", '{"nodes": {"model.demo.a": {"checksum', /not valid JSON/],
      ["manifest.json", "[1, 2]", /not a dbt manifest artifact/],
      ["run_results.json", '{"results": 5}', /not a dbt run_results artifact/],
      // Before: a newer dbt's manifest was read as this version's (dbt-core refuses it).
      [
        "manifest.json",
        '{"metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/manifest/v99.json"}, "nodes": {}}',
        /written by a newer dbt \(schema manifest v99; this runner, dbt \S+, reads up to v12\)/,
      ],
    ] as const
  ) {
    await Deno.remove(`${state}/manifest.json`).catch(() => {});
    await Deno.writeTextFile(`${state}/${file}`, text);
    const { code, err } = await ls();
    assert.equal(code, 2, err);
    assert.match(err, new RegExp(`^error: ${state}/${file}: `));
    assert.match(err, why);
    assert.match(err, /point --state at the target\/ folder of a finished dbt run/);
    assert.doesNotMatch(err, /SyntaxError|TypeError|\n\s+at /);
    await Deno.remove(`${state}/${file}`);
  }
});

Deno.test("dbt cli: build writes the compiled SQL of what ran under target/compiled, as dbt does", async () => {
  await using project = await writeProject({
    "seeds/raw_orders.csv": "id,amount\n1,10\n2,20\n",
    "models/staging/stg_orders.sql":
      "{% set cols = ['id', 'amount'] %}select {{ cols | join(', ') }} from {{ ref('raw_orders') }}",
    "models/staging/schema.yml":
      "version: 2\nmodels:\n  - name: stg_orders\n    columns:\n      - name: id\n        data_tests: [unique]\n",
    "tests/assert_positive.sql": "select * from {{ ref('stg_orders') }} where amount < 0",
  });
  const built = await cli(["build", "--project-dir", project.dir], {
    WAREHOUSE_URL: "pglite:memory:",
  });
  assert.equal(built.code, 0, built.err);
  const read = (path: string) => Deno.readTextFile(`${project.dir}/target/compiled/demo/${path}`);
  // Before: nothing was written (only `compile` wrote compiled files).
  assert.match(
    await read("models/staging/stg_orders.sql"),
    /^select id, amount from "postgres"\."analytics"\./,
  );
  assert.match(
    await read("models/staging/schema.yml/unique_stg_orders_id.sql"),
    /stg_orders/,
  );
  assert.match(await read("tests/assert_positive.sql"), /where amount < 0/);
  await assert.rejects(read("seeds/raw_orders.csv"), Deno.errors.NotFound);
});

Deno.test("dbt cli: ls --output json prints dbt's keys (depends_on, config, path...), --output-keys picks them", async () => {
  // What Airflow's Cosmos reads to build its task graph from `dbt ls --output json`.
  await using project = await writeProject({
    "models/staging/stg_orders.sql": "select * from {{ source('shop', 'orders') }}",
    "models/staging/_sources.yml":
      "version: 2\nsources:\n  - name: shop\n    tables:\n      - name: orders\n",
    "models/marts/orders.sql":
      "{{ config(tags=['nightly']) }}select * from {{ ref('stg_orders') }}",
  });
  const dir = ["--project-dir", project.dir];
  const all = await cli(["ls", ...dir, "--output", "json"]);
  assert.equal(all.code, 0, all.err);
  const lines = all.out.split("\n").map((l) => JSON.parse(l));
  const orders = lines.find((l) => l.unique_id === "model.demo.orders");
  // Before: only unique_id, name and resource_type.
  assert.deepEqual(Object.keys(orders).sort(), [
    "alias",
    "config",
    "depends_on",
    "name",
    "original_file_path",
    "package_name",
    "resource_type",
    "tags",
    "unique_id",
  ]);
  assert.deepEqual(orders.depends_on.nodes, ["model.demo.stg_orders"]);
  assert.equal(orders.original_file_path, "models/marts/orders.sql");
  assert.deepEqual([orders.tags, orders.config.materialized], [["nightly"], "table"]);
  const source = lines.find((l) => l.resource_type === "source");
  assert.deepEqual([source.source_name, source.name], ["shop", "orders"]);
  const picked = await cli([
    "ls",
    ...dir,
    "-s",
    "stg_orders",
    "--output",
    "json",
    "--output-keys",
    "name",
    "depends_on",
  ]);
  assert.equal(picked.code, 0, picked.err);
  assert.deepEqual(JSON.parse(picked.out), {
    name: "stg_orders",
    depends_on: { macros: [], nodes: ["source.demo.shop.orders"] },
  });
});

Deno.test("dbt cli: -q/--quiet prints only errors and what was asked for (ls, a failure)", async () => {
  // `dbt -q ls ...` is how scripts read a selection; before, -q exited 2 as unknown.
  await using project = await writeProject({
    "dbt_project.yml": `name: demo
version: "1.0"
config-version: 2
profile: demo
log-path: logs
`,
    "models/a.sql": "select null::int as id",
    "models/schema.yml": `version: 2
models:
  - name: a
    columns:
      - name: id
        data_tests: [not_null]
`,
  });
  const dir = ["--project-dir", project.dir];
  const env = { WAREHOUSE_URL: "pglite:memory:" };
  const ls = await cli(["-q", "ls", ...dir, "-s", "a", "--resource-type", "model"], env);
  assert.equal(ls.code, 0, ls.err);
  assert.equal(ls.out, "demo.a");
  assert.equal(ls.err, ""); // the log-path warning is not printed
  const loud = await cli(["ls", ...dir, "-s", "a", "--resource-type", "model"], env);
  assert.match(loud.err, /log-path/);
  const build = await cli(["build", ...dir, "--quiet"], env);
  assert.equal(build.code, 1, build.out);
  assert.match(
    build.out,
    /^ {2}FAIL test\.demo\.not_null_a_id[.\w]*: Got 1 result, configured to fail if != 0$/,
  );
  assert.doesNotMatch(build.out, /START|Done\./);
});

Deno.test("dbt cli: canceled (SIGTERM, Ctrl-C) during a build, the node running finishes, the rest is skipped, and it exits 1 saying how to finish", async () => {
  await using project = await writeProject(
    Object.fromEntries(["a", "b", "c", "d"].map((m) => [`models/${m}.sql`, "select 1 as id"])),
  );
  const stop = new AbortController();
  const out: string[] = [];
  const err: string[] = [];
  const env: Record<string, string> = { WAREHOUSE_URL: "pglite:memory:" };
  const code = await runDbtCli(
    ["build", "--project-dir", project.dir, "--threads", "1"],
    {
      out: (line) => {
        out.push(line);
        // SIGTERM arrives while the first model builds.
        if (/ START /.test(line)) stop.abort();
      },
      err: (line) => err.push(line),
    },
    { env: (name) => env[name], signal: stop.signal },
  );
  assert.equal(code, 1, err.join("\n"));
  const results = JSON.parse(
    await Deno.readTextFile(`${project.dir}/target/run_results.json`),
  ) as { results: { unique_id: string; status: string; message: string | null }[] };
  assert.deepEqual(
    Object.fromEntries(results.results.map((r) => [r.unique_id.slice(11), r.status])),
    { a: "success", b: "skipped", c: "skipped", d: "skipped" },
  );
  assert.match(results.results[1]?.message ?? "", /canceled/);
  assert.match(
    err.join("\n"),
    /Canceled: 3 node\(s\) not run .*run the same command again, or `deno task dbt retry`/,
  );
});

Deno.test("dbt cli: dbt's terminal and telemetry flags are accepted as CI command lines carry them", async () => {
  // Before, each exited 2 as an unknown option.
  await using project = await writeProject({ "models/a.sql": "select 1 as id" });
  const run = await cli([
    "--no-use-colors",
    "--no-send-anonymous-usage-stats",
    "--log-format",
    "text",
    "ls",
    "--project-dir",
    project.dir,
    "--printer-width=120",
    "--use-colors",
    "--send-anonymous-usage-stats",
    "--log-format=default",
  ]);
  assert.equal(run.code, 0, run.err);
  assert.equal(run.out, "demo.a");
});

Deno.test("dbt cli: --version prints the runner's version and exits 0; init and docs serve say what to do instead", async () => {
  // Before: "Unknown option '--version' (did you mean '--version-check'?)", exit 2.
  const version = await cli(["--version"]);
  assert.equal(version.code, 0, version.err);
  assert.match(version.out, /^dbt runner \(dbt \d+\.\d+\.\d+ artifacts\) in Deno \d/);
  assert.equal(version.err, "");
  const init = await cli(["init"]);
  assert.equal(init.code, 2);
  assert.match(
    init.err,
    /^unknown command 'init': this runner does not create projects; write dbt_project\.yml, models\/ and a profiles\.yml/,
  );
  const serve = await cli(["docs", "serve"]);
  assert.equal(serve.code, 2);
  assert.match(
    serve.err,
    /^'docs serve' is not provided: 'docs generate' writes target\/catalog\.json/,
  );
});

Deno.test("dbt cli: deps in a project without packages writes no package-lock.yml, as dbt", async () => {
  // Before: 'Installed 0 packages' and a package-lock.yml of 'packages: []', an untracked
  // file in every repository that ran deps (ours included).
  await using project = await writeProject({});
  const run = await cli(["deps", "--project-dir", project.dir]);
  assert.equal(run.code, 0, run.err);
  assert.equal(run.out, "Warning: No packages were found in packages.yml");
  await assert.rejects(Deno.stat(`${project.dir}/package-lock.yml`), Deno.errors.NotFound);
});

Deno.test("dbt cli: source freshness with no source that has a freshness rule warns 'Nothing to do'", async () => {
  // dbt selects only sources with a freshness rule and says NothingToDo; this printed nothing.
  await using project = await writeProject({
    "models/sources.yml": "version: 2\nsources:\n  - name: raw\n    tables: [{name: orders}]\n",
    "models/m.sql": "select 1 as id",
  });
  const { code, err } = await cli(["source", "freshness", "--project-dir", project.dir], {
    WAREHOUSE_URL: "pglite:memory:",
  });
  assert.equal(code, 0, err);
  assert.match(err, /^warning: Nothing to do\. Try checking your model configs/m);
});
