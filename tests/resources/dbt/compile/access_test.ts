/**
 * A protected model (the default access) of a package is ref'd from the
 * project installing it, as dbt-core allows unless the package sets
 * `restrict-access: true` (is_invalid_protected_ref). Every Fivetran
 * transform package refs its source package's staging models this way.
 * Before, any ref across packages to a model not `public` refused the
 * project.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../../resources/dbt/cli.ts";
import { writeProject } from "../_fixture.ts";

async function cli(args: string[]) {
  const out: string[] = [];
  const env: Record<string, string> = { WAREHOUSE_URL: "pglite:memory:" };
  const code = await runDbtCli(args, { out: (l) => out.push(l), err: (l) => out.push(l) }, {
    env: (name) => env[name],
  });
  return { code, out: out.join("\n") };
}

for (const restrict of [false, true]) {
  Deno.test(`model access: a package's protected model ref'd from the root, restrict-access: ${restrict}`, async () => {
    await using project = await writeProject({
      "packages.yml": "packages:\n  - local: src_pkg\n",
      "src_pkg/dbt_project.yml": `name: src_pkg\nversion: "1.0.0"\nconfig-version: 2\n` +
        (restrict ? "restrict-access: true\n" : ""),
      "src_pkg/models/stg_orders.sql": "select 1 as id",
      "models/orders.sql": "select * from {{ ref('stg_orders') }}",
    });
    const dir = ["--project-dir", project.dir];
    assert.equal((await cli(["deps", ...dir])).code, 0);
    const run = await cli(["compile", ...dir]);
    if (!restrict) {
      assert.equal(run.code, 0, run.out); // was 2: "only public models can be ref'd"
      return;
    }
    assert.notEqual(run.code, 0, run.out);
    assert.match(
      run.out,
      /'orders' \(package demo\) refs 'stg_orders', which is protected in package src_pkg \(restrict-access: true\)/,
    );
  });
}
