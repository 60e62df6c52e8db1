/**
 * `deno task dbt deps`: local, git (a `file://` repository) and hub packages
 * (a loopback fake of the hub API serving a tarball), the lock file, and the
 * errors that name the package.
 */

import assert from "node:assert/strict";
import { DbtError, DbtErrorCode } from "../../../resources/dbt/mod.ts";
import { installPackages, satisfies } from "../../../resources/dbt/packages.ts";
import { loadProject } from "../../../resources/dbt/compile/load.ts";
import { PROFILES_YML, writeProject } from "./_fixture.ts";
import { redact } from "../../../core/secrets.ts";

const UTILS = new URL("../../fixtures/dbt/packages/jaffle_utils", import.meta.url).pathname;

async function tarball(dir: string): Promise<Uint8Array<ArrayBuffer>> {
  const out = await new Deno.Command("tar", {
    args: ["-czf", "-", "-C", `${dir}/..`, dir.split("/").at(-1) as string],
    stdout: "piped",
  }).output();
  assert.ok(out.success);
  return new Uint8Array(out.stdout);
}

Deno.test("deps: a hub package resolves the newest matching version from the hub", async () => {
  const tgz = await tarball(UTILS);
  const asked: string[] = [];
  await using server: Deno.HttpServer<Deno.NetAddr> = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: () => {},
  }, (req): Response => {
    const path = new URL(req.url).pathname;
    asked.push(path);
    if (path === "/api/v1/acme/jaffle_utils.json") {
      return Response.json({
        name: "jaffle_utils",
        versions: Object.fromEntries(["0.9.0", "1.1.0", "1.2.3", "2.0.0"].map((v) => [
          v,
          // Relative tarball URLs resolve against the hub.
          { downloads: { tarball: `/tarballs/${v}.tar.gz` } },
        ])),
      });
    }
    if (path.startsWith("/tarballs/")) return new Response(tgz);
    return new Response("not found", { status: 404 });
  });
  await using project = await writeProject({
    "packages.yml":
      'packages:\n  - package: acme/jaffle_utils\n    version: [">=1.0.0", "<2.0.0"]\n',
  });
  const installed = await installPackages(project.dir, {
    hubUrl: `http://127.0.0.1:${server.addr.port}`,
  });
  assert.deepEqual(installed.map((p) => p.name), ["jaffle_utils"]);
  assert.ok(asked.includes("/tarballs/1.2.3.tar.gz"), asked.join(", "));
  await Deno.stat(`${project.dir}/dbt_packages/jaffle_utils/macros/generate_surrogate_key.sql`);
  const lock = await Deno.readTextFile(`${project.dir}/package-lock.yml`);
  assert.match(lock, /package: acme\/jaffle_utils\n\s+version: 1\.2\.3/);

  await using none = await writeProject({
    "packages.yml": 'packages:\n  - package: acme/jaffle_utils\n    version: ">=3.0.0"\n',
  });
  await assert.rejects(
    installPackages(none.dir, { hubUrl: `http://127.0.0.1:${server.addr.port}` }),
    (error: unknown) =>
      error instanceof DbtError && error.code === DbtErrorCode.packageFailed &&
      /no version .* satisfies >=3\.0\.0/.test(error.message),
  );
});

Deno.test("deps: bad entries and unreachable sources name the package", async () => {
  await using bad = await writeProject({ "packages.yml": "packages:\n  - nothing: here\n" });
  await assert.rejects(installPackages(bad.dir), /each entry needs local:, git: or package:/);
  await using missing = await writeProject({
    "packages.yml": "packages:\n  - git: file:///nonexistent/repo.git\n",
  });
  await assert.rejects(
    installPackages(missing.dir),
    /package git: file:\/\/\/nonexistent\/repo\.git cannot be installed/,
  );
  await using hub = await writeProject({
    "packages.yml": "packages:\n  - package: acme/x\n    version: 1.0.0\n",
  });
  await assert.rejects(
    installPackages(hub.dir, { hubUrl: "http://127.0.0.1:9" }),
    /the hub http:\/\/127\.0\.0\.1:9 did not answer/,
  );
});

Deno.test("deps: a git URL with a DBT_ENV_SECRET_ token is locked and reported as written, never rendered", async () => {
  // dbt's documented form for private packages. package-lock.yml (committed), the
  // 'Installed' line and the errors held the token.
  const token = "ghp_deps_secret_token_42";
  const repo = await Deno.makeTempDir({ prefix: "deps_git_" });
  try {
    const run = async (...args: string[]) => {
      const out = await new Deno.Command("git", {
        args,
        cwd: repo,
        stdout: "null",
        stderr: "piped",
      })
        .output();
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
    };
    await new Deno.Command("cp", { args: ["-r", `${UTILS}/.`, repo] }).output();
    await run("init", "-q", "-b", "main");
    await run("add", "-A");
    await run("-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "utils");
    const written = `file://{{ env_var('DBT_ENV_SECRET_GIT_CREDENTIAL') }}@localhost${repo}`;
    await using project = await writeProject({
      "packages.yml": `packages:\n  - git: "${written}"\n`,
    });
    const env = (name: string) => name === "DBT_ENV_SECRET_GIT_CREDENTIAL" ? token : undefined;
    const lines: string[] = [];
    const installed = await installPackages(project.dir, {
      env,
      onInstalled: (l) => lines.push(l),
    });
    assert.deepEqual(installed.map((p) => p.name), ["jaffle_utils"]);
    const lock = await Deno.readTextFile(`${project.dir}/package-lock.yml`);
    assert.ok(!lock.includes(token), lock);
    assert.ok(lock.includes("env_var('DBT_ENV_SECRET_GIT_CREDENTIAL')"), lock);
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]!.includes(token), lines[0]);

    await using missing = await writeProject({
      "packages.yml": `packages:\n  - git: "${written}/nope"\n`,
    });
    await assert.rejects(installPackages(missing.dir, { env }), (error: Error) => {
      assert.match(
        error.message,
        /package git: file:\/\/\{\{ env_var\('DBT_ENV_SECRET_GIT_CREDENTIAL'\) \}\}@localhost/,
      );
      // What the CLI prints passes through redact(): git's own text may repeat the URL.
      assert.ok(!redact(error.message).includes(token), error.message);
      return true;
    });
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});

Deno.test("deps: version ranges", () => {
  assert.equal(satisfies("1.2.3", [">=1.0.0", "<2.0.0"]), true);
  assert.equal(satisfies("2.0.0", [">=1.0.0", "<2.0.0"]), false);
  assert.equal(satisfies("1.1.0", ["1.1.0"]), true);
  assert.equal(satisfies("1.10.0", [">1.9.9"]), true);
});

Deno.test("deps: a package's own integration_tests project installs it with local: ../", async () => {
  // The layout of most dbt packages (fivetran's, dbt-utils'): the test project sits inside
  // the package and installs its parent. Before, the copy took in the installing project,
  // its staging folder and so itself, until 'File name too long'.
  await using pkg = await writeProject({
    "dbt_project.yml": 'name: acme_pkg\nversion: "0.1.0"\nconfig-version: 2\n',
    "models/acme_orders.sql": "select 1 as order_id",
    "macros/acme_rank.sql":
      "{% macro acme_rank(c) %}case when {{ c }} = 'a' then 1 end{% endmacro %}",
    "integration_tests/dbt_project.yml":
      'name: acme_pkg_tests\nversion: "0.1.0"\nconfig-version: 2\nprofile: demo\n',
    "integration_tests/packages.yml": "packages:\n  - local: ../\n",
    "integration_tests/profiles.yml": PROFILES_YML,
    "integration_tests/seeds/acme_seed.csv": "id\n1\n",
    "integration_tests/tests/orders_exist.sql":
      "select * from {{ ref('acme_orders') }} where order_id is null",
  });
  const tests = `${pkg.dir}/integration_tests`;
  const installed = await installPackages(tests);
  assert.deepEqual(installed.map((p) => p.name), ["acme_pkg"]);
  const copy = `${tests}/dbt_packages/acme_pkg`;
  await Deno.stat(`${copy}/models/acme_orders.sql`);
  await Deno.stat(`${copy}/macros/acme_rank.sql`);
  await assert.rejects(Deno.stat(`${copy}/integration_tests`), Deno.errors.NotFound);
  const project = await loadProject(tests, { env: () => undefined });
  assert.ok(project.models.has("acme_orders"));
  // Installed again over the first copy: the same.
  await installPackages(tests);
  await Deno.stat(`${copy}/models/acme_orders.sql`);
  await assert.rejects(Deno.stat(`${copy}/integration_tests`), Deno.errors.NotFound);
});
