/**
 * `deno task dbt clean`: deletes the clean-targets inside the project (and
 * the target/ STATE_DIR moved), refuses one outside it.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { writeProject } from "./_fixture.ts";

async function cli(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDbtCli(args, { out: (l) => out.push(l), err: (l) => err.push(l) }, {
    env: (name) => env[name],
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

Deno.test("dbt clean: deletes the clean-targets inside the project, and STATE_DIR's target/", async () => {
  await using project = await writeProject({
    "models/a.sql": "select 1 as id",
    "dbt_project.yml": `name: demo
version: "1.0.0"
config-version: 2
profile: demo
clean-targets: ["target", "dbt_packages"]
`,
  });
  await using state = {
    dir: await Deno.makeTempDir(),
    async [Symbol.asyncDispose]() {
      await Deno.remove(this.dir, { recursive: true });
    },
  };
  const dir = ["--project-dir", project.dir];
  assert.equal((await cli(["parse", ...dir])).code, 0);
  assert.equal((await cli(["parse", ...dir], { STATE_DIR: state.dir })).code, 0);
  await Deno.mkdir(`${project.dir}/dbt_packages/pkg`, { recursive: true });
  const folder = project.dir.split("/").at(-1);
  await Deno.stat(`${state.dir}/dbt/${folder}/target/manifest.json`);

  const clean = await cli(["clean", ...dir], { STATE_DIR: state.dir });
  assert.equal(clean.code, 0, clean.err);
  assert.equal(clean.err, "", "no 'clean-targets has no effect' warning");
  assert.match(clean.out, /Cleaned target\/\*/);
  assert.match(clean.out, /Cleaned dbt_packages\/\*/);
  assert.match(clean.out, /Finished cleaning all paths\./);
  for (const gone of ["target", "dbt_packages"]) {
    await assert.rejects(Deno.stat(`${project.dir}/${gone}`), Deno.errors.NotFound);
  }
  await assert.rejects(Deno.stat(`${state.dir}/dbt/${folder}/target`), Deno.errors.NotFound);
  await Deno.stat(`${project.dir}/models/a.sql`);
  assert.equal((await cli(["clean", ...dir])).code, 0, "a second clean finds nothing: still 0");

  // A target outside the project is refused before anything is deleted.
  await Deno.writeTextFile(
    `${project.dir}/dbt_project.yml`,
    `name: demo\nversion: "1.0.0"\nconfig-version: 2\nprofile: demo\nclean-targets: ["target", ".."]\n`,
  );
  assert.equal((await cli(["parse", ...dir])).code, 0);
  const outside = await cli(["clean", ...dir]);
  assert.equal(outside.code, 2, outside.err);
  assert.match(outside.err, /clean-targets entry '\.\.' is not inside the project/);
  await Deno.stat(`${project.dir}/target/manifest.json`);
});
