/**
 * The top-level keys of dbt_project.yml as dbt-core treats them: a key dbt
 * does not know fails the load ("Additional properties are not allowed"),
 * `require-dbt-version` (string, comma list or YAML list; root project and
 * packages) fails like dbt outside the range unless `--no-version-check` /
 * DBT_VERSION_CHECK=false, `flags:` naming a behaviour this runner does not
 * have is warned about by name, and the pre-1.0 `source-paths` is still read.
 * Before resources/dbt/project/project_keys.ts every one of these keys was
 * accepted without effect.
 */

import assert from "node:assert/strict";
import { DbtError, loadProject } from "../../../../resources/dbt/mod.ts";
import { runDbtCli } from "../../../../resources/dbt/cli.ts";
import { checkRequiredDbtVersion } from "../../../../resources/dbt/project/project_keys.ts";
import { PROJECT_YML, writeProject } from "../_fixture.ts";

const MODEL = { "models/m.sql": "select 1 as id" };

Deno.test("require-dbt-version: dbt's specifiers, in string, comma and list forms", () => {
  for (
    const ok of [">=1.0.0", ">=1.9.0,<2.0.0", [">=1.6.0", "<2.0.0"], "1.9.0", "<=1.9.0", "==1.9.0"]
  ) {
    checkRequiredDbtVersion(ok, "p", "dbt_project.yml", "1.9.0");
  }
  for (const bad of [">=1.10.0", [">=1.0.0", "<1.9.0"], "1.8.0", ">1.9.0", "<1.9.0-b1"]) {
    assert.throws(
      () => checkRequiredDbtVersion(bad, "pkg", "dbt_project.yml", "1.9.0"),
      (e: unknown) =>
        e instanceof DbtError &&
        /This version of dbt is not supported with the 'pkg' package\.\n {2}Installed version of dbt: =1\.9\.0\n {2}Required version of dbt for 'pkg': \[/
          .test(e.message) &&
        e.message.includes("--no-version-check"),
      JSON.stringify(bad),
    );
  }
  // A prerelease of the required version is below it.
  assert.throws(() => checkRequiredDbtVersion(">=1.9.0", "p", "f", "1.9.0-b1"));
  for (const malformed of [">= 1.0.0", ">=1.0", "latest", 1.9]) {
    assert.throws(
      () => checkRequiredDbtVersion(malformed, "p", "dbt_project.yml", "1.9.0"),
      /require-dbt-version/,
      String(malformed),
    );
  }
});

Deno.test("require-dbt-version: the load fails outside the range, unless the check is off", async () => {
  await using project = await writeProject({
    ...MODEL,
    "dbt_project.yml": `${PROJECT_YML}require-dbt-version: [">=1.11.0", "<2.0.0"]\n`,
  });
  await assert.rejects(
    () => loadProject(project.dir, { env: () => undefined }),
    /not supported with the 'demo' package[\s\S]*\['>=1\.11\.0', '<2\.0\.0'\]/,
  );
  const off = await loadProject(project.dir, {
    env: (name) => name === "DBT_VERSION_CHECK" ? "false" : undefined,
  });
  assert.ok(off.models.has("m"));
  // The CLI: exit 2 with dbt's message; --no-version-check goes on.
  const err: string[] = [];
  const io = { out: () => {}, err: (l: string) => err.push(l) };
  const env = { env: (name: string) => name === "DBT_PROJECT_DIR" ? project.dir : undefined };
  assert.equal(await runDbtCli(["parse"], io, env), 2);
  assert.match(err.join("\n"), /Installed version of dbt: =1\.10\.0/);
  assert.equal(await runDbtCli(["parse", "--no-version-check"], io, env), 0);
});

Deno.test("require-dbt-version: a project written for dbt 1.10 (fivetran/dbt_jaffleverse's range) loads", async () => {
  // Its `arguments:` test property is dbt 1.10's, which this runner reads; the version it
  // follows said 1.9.0, so such projects and packages failed to load without --no-version-check.
  await using project = await writeProject({
    ...MODEL,
    "dbt_project.yml": `${PROJECT_YML}require-dbt-version: [">=1.10.0", "<3.0.0"]\n`,
  });
  const loaded = await loadProject(project.dir, { env: () => undefined });
  assert.ok(loaded.models.has("m"));
});

Deno.test("require-dbt-version of an installed package is checked too, naming the package", async () => {
  await using project = await writeProject({
    ...MODEL,
    "dbt_packages/old_pkg/dbt_project.yml":
      `name: old_pkg\nversion: "0.1.0"\nconfig-version: 2\nrequire-dbt-version: ">=0.18.0,<0.19.0"\n`,
  });
  await assert.rejects(
    () => loadProject(project.dir, { env: () => undefined }),
    (e: unknown) =>
      e instanceof DbtError && /'old_pkg' package/.test(e.message) &&
      /dbt_packages\/old_pkg\/dbt_project\.yml/.test(`${e.message} ${String(e.file)}`),
  );
});

Deno.test("dbt_project.yml: an unknown top-level key fails the load like dbt", async () => {
  await using project = await writeProject({
    ...MODEL,
    "dbt_project.yml": `${PROJECT_YML}modle-paths: ["models"]\n`,
  });
  await assert.rejects(
    () => loadProject(project.dir, { env: () => undefined }),
    /Additional properties are not allowed \('modle-paths' was unexpected\)/,
  );
});

Deno.test("dbt_project.yml: flags and dbt keys without effect are named in warnings", async () => {
  await using project = await writeProject({
    ...MODEL,
    "dbt_project.yml": `${PROJECT_YML}clean-targets: [target, dbt_packages]
log-path: logs
flags:
  send_anonymous_usage_stats: false
  require_explicit_package_overrides_for_builtin_materializations: true
  source_freshness_run_project_hooks: true
  some_future_flag: true
`,
  });
  const p = await loadProject(project.dir, { env: () => undefined });
  const text = p.warnings.join("\n");
  assert.match(text, /'log-path' is set but has no effect/);
  // `dbt clean` exists: clean-targets, in every `dbt init` project, is not noise.
  assert.doesNotMatch(text, /clean-targets/);
  assert.match(text, /flags\.source_freshness_run_project_hooks: true is ignored/);
  assert.match(text, /flags\.some_future_flag is not a dbt flag/);
  assert.doesNotMatch(text, /send_anonymous_usage_stats|require_explicit_package_overrides/);
});

Deno.test("dbt_project.yml: pre-1.0 source-paths is read as model-paths, with a warning", async () => {
  await using project = await writeProject({
    "src/m.sql": "select 1 as id",
    "dbt_project.yml":
      `name: demo\nversion: "1.0.0"\nconfig-version: 2\nprofile: demo\nsource-paths: ["src"]\n`,
  });
  const p = await loadProject(project.dir, { env: () => undefined });
  assert.ok(p.models.has("m"));
  assert.match(p.warnings.join("\n"), /'source-paths' is deprecated/);
});
