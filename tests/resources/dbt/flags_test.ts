/**
 * `flags` in Jinja is the invocation's: `flags.FULL_REFRESH` is true under
 * `--full-refresh` (models branch on it), `flags.WHICH` names the command.
 * Before, both were constants (false, "run") whatever the command line said.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { writeProject } from "./_fixture.ts";

Deno.test("flags: FULL_REFRESH and WHICH come from the command line", async () => {
  await using project = await writeProject({
    "models/m.sql":
      "select {{ 'true' if flags.FULL_REFRESH else 'false' }} as fr, '{{ flags.WHICH }}' as which\n",
  });
  const dir = await Deno.makeTempDir({ prefix: "dbt-flags-" });
  try {
    const env = (name: string) =>
      name === "WAREHOUSE_URL" ? `pglite:${dir}/wh` : name === "HOME" ? dir : undefined;
    const compiled = async (...args: string[]) => {
      const lines: string[] = [];
      const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
      const code = await runDbtCli([...args, "--project-dir", project.dir], io, { env });
      assert.equal(code, 0, lines.join("\n"));
      if (args[0] === "compile") {
        return (await Deno.readTextFile(`${project.dir}/target/compiled/demo/models/m.sql`)).trim();
      }
      const results = JSON.parse(await Deno.readTextFile(`${project.dir}/target/run_results.json`));
      return String(results.results[0].compiled_code).trim();
    };
    assert.equal(await compiled("compile"), "select false as fr, 'compile' as which");
    assert.equal(
      await compiled("run", "--full-refresh"),
      "select true as fr, 'run' as which",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
