/**
 * `deno task dbt deps`: local, git (a `file://` repository) and hub packages
 * (a loopback fake of the hub API serving a tarball), the lock file, and the
 * errors that name the package.
 */

import assert from "node:assert/strict";
import { DbtError, DbtErrorCode } from "../../../resources/dbt/mod.ts";
import { installPackages, packagesHash, satisfies } from "../../../resources/dbt/packages.ts";
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

/** A loopback hub serving jaffle_utils in `versions` (changeable), recording the tarballs asked. */
async function fakeHub(versions: string[]) {
  const tgz = await tarball(UTILS);
  const asked: string[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/api/v1/acme/jaffle_utils.json") {
      return Response.json({
        name: "jaffle_utils",
        versions: Object.fromEntries(
          versions.map((v) => [v, { downloads: { tarball: `/tarballs/${v}.tar.gz` } }]),
        ),
      });
    }
    if (path.startsWith("/tarballs/")) {
      asked.push(path.slice("/tarballs/".length, -".tar.gz".length));
      return new Response(tgz);
    }
    return new Response("not found", { status: 404 });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    asked,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

Deno.test("deps: package-lock.yml pins what later deps install until packages.yml changes or --upgrade", async () => {
  // dbt 1.7+: a lock written for the same packages.yml is installed as pinned. Before, every
  // deps resolved again, so a new hub release changed a CI build whose lock was committed.
  const versions = ["1.1.0", "1.2.3"];
  await using hub = await fakeHub(versions);
  const range = 'packages:\n  - package: acme/jaffle_utils\n    version: [">=1.0.0", "<2.0.0"]\n';
  await using project = await writeProject({ "packages.yml": range });
  const lockFile = `${project.dir}/package-lock.yml`;
  await installPackages(project.dir, { hubUrl: hub.url });
  assert.deepEqual(hub.asked, ["1.2.3"]);
  const first = await Deno.readTextFile(lockFile);
  versions.push("1.3.0");
  await installPackages(project.dir, { hubUrl: hub.url });
  assert.deepEqual(hub.asked, ["1.2.3", "1.2.3"], "installed from the lock");
  assert.equal(await Deno.readTextFile(lockFile), first);
  await installPackages(project.dir, { hubUrl: hub.url, upgrade: true });
  assert.deepEqual(hub.asked.at(-1), "1.3.0");
  assert.match(await Deno.readTextFile(lockFile), /version: 1\.3\.0/);

  // --lock: the lock follows a changed packages.yml, dbt_packages/ is left as it was.
  await Deno.writeTextFile(`${project.dir}/packages.yml`, range.replace("<2.0.0", "<1.2.0"));
  await Deno.remove(`${project.dir}/dbt_packages`, { recursive: true });
  const lines: string[] = [];
  await installPackages(project.dir, {
    hubUrl: hub.url,
    lockOnly: true,
    onInstalled: (l) => lines.push(l),
  });
  assert.match(await Deno.readTextFile(lockFile), /version: 1\.1\.0/);
  await assert.rejects(Deno.stat(`${project.dir}/dbt_packages/jaffle_utils`), Deno.errors.NotFound);
  assert.deepEqual(lines, [`Updating lock file in file path: ${lockFile}`]);
  // A lock edited by hand to another pin is what gets installed (dbt trusts the lock).
  const pinned = (await Deno.readTextFile(lockFile)).replace("1.1.0", "1.2.3");
  await Deno.writeTextFile(lockFile, pinned);
  await installPackages(project.dir, { hubUrl: hub.url });
  assert.equal(hub.asked.at(-1), "1.2.3");

  await Deno.writeTextFile(lockFile, "packages: [\n  - broken");
  await assert.rejects(
    installPackages(project.dir, { hubUrl: hub.url }),
    (error: unknown) =>
      error instanceof DbtError && error.code === DbtErrorCode.invalidYaml &&
      /package-lock\.yml is not valid YAML/.test(error.message),
  );
});

Deno.test("deps: the sha1_hash of package-lock.yml is dbt-core's, so a lock dbt wrote is used", async () => {
  // A lock dbt 1.8 wrote for these entries (a public project's packages.yml + package-lock.yml).
  const specs = [
    { package: "calogica/dbt_expectations", version: [">=0.8.0", "<0.9.0"] },
    { package: "dbt-labs/dbt_utils", version: [">=1.1.0", "<2.0.0"] },
  ];
  assert.equal(await packagesHash(specs, specs), "facb86fb7172c5479993b8c15cd9e21a33a9c0dc");
});

Deno.test("deps: a package's own packages.yml is installed too, and locked", async () => {
  // dbt resolves dependencies of dependencies (dbt_expectations brings dbt_date). Before, only
  // the entries of the project's packages.yml were installed: 'dbt_date' is undefined at build.
  await using project = await writeProject({
    "packages.yml": "packages:\n  - local: vendor/outer\n",
    "vendor/outer/dbt_project.yml": 'name: outer\nversion: "1.0.0"\nconfig-version: 2\n',
    "vendor/outer/packages.yml": "packages:\n  - local: vendor/inner\n",
    "vendor/outer/macros/o.sql": "{% macro o() %}{{ inner.i() }}{% endmacro %}",
    "vendor/inner/dbt_project.yml": 'name: inner\nversion: "1.0.0"\nconfig-version: 2\n',
    "vendor/inner/macros/i.sql": "{% macro i() %}1{% endmacro %}",
  });
  const installed = await installPackages(project.dir);
  assert.deepEqual(installed.map((p) => p.name), ["outer", "inner"]);
  await Deno.stat(`${project.dir}/dbt_packages/inner/macros/i.sql`);
  assert.match(await Deno.readTextFile(`${project.dir}/package-lock.yml`), /local: vendor\/inner/);
  // From the lock: both again.
  await Deno.remove(`${project.dir}/dbt_packages`, { recursive: true });
  assert.deepEqual((await installPackages(project.dir)).map((p) => p.name), ["outer", "inner"]);

  // The project installs inner itself (from a folder, as integration tests do) and outer asks the
  // hub for it: the project's copy stays and the hub is not asked.
  await using own = await writeProject({
    "packages.yml": "packages:\n  - local: vendor/inner\n  - local: vendor/outer\n",
    "vendor/outer/dbt_project.yml": 'name: outer\nversion: "1.0.0"\nconfig-version: 2\n',
    "vendor/outer/packages.yml": "packages:\n  - package: acme/inner\n    version: 1.0.0\n",
    "vendor/inner/dbt_project.yml": 'name: inner\nversion: "1.0.0"\nconfig-version: 2\n',
  });
  const both = await installPackages(own.dir, { hubUrl: "http://127.0.0.1:9" });
  assert.deepEqual(both.map((p) => p.name), ["inner", "outer"]);

  // No packages: nothing installed and no lock written (dbt's DepsNoPackagesFound).
  await using empty = await writeProject({ "packages.yml": "packages: []\n" });
  assert.deepEqual(await installPackages(empty.dir), []);
  await assert.rejects(Deno.stat(`${empty.dir}/package-lock.yml`), Deno.errors.NotFound);
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
    assert.equal(lines.length, 2, lines.join("\n"));
    for (const line of lines) assert.ok(!line.includes(token), line);

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
