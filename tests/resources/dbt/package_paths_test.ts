/**
 * A package's files as dbt's manifest.json and target/ name them: relative
 * to the package's root (`models/stg.sql`, `shop_pkg://models/props.yml`,
 * target/compiled/shop_pkg/models/stg.sql), as dbt-core's FilePath
 * (searched_path + relative_path) does. Before, they kept the install folder
 * (`dbt_packages/shop_pkg/models/stg.sql`, target/compiled/shop_pkg/dbt_packages/...).
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { writeProject } from "./_fixture.ts";

async function cli(args: string[]) {
  const out: string[] = [];
  const env: Record<string, string> = { WAREHOUSE_URL: "pglite:memory:" };
  const code = await runDbtCli(args, { out: (l) => out.push(l), err: (l) => out.push(l) }, {
    env: (name) => env[name],
  });
  return { code, out: out.join("\n") };
}

Deno.test("package paths: manifest.json and target/compiled name a package's files from its root", async () => {
  await using project = await writeProject({
    "packages.yml": "packages:\n  - local: shop_pkg\n",
    "shop_pkg/dbt_project.yml": 'name: shop_pkg\nversion: "1.0.0"\nconfig-version: 2\n',
    "shop_pkg/models/staging/stg_orders.sql": "select {{ one() }} as id",
    "shop_pkg/models/staging/props.yml": `version: 2
models:
  - name: stg_orders
    columns: [{name: id, data_tests: [not_null]}]
sources:
  - name: raw
    tables: [{name: orders}]
exposures:
  - name: orders_board
    type: dashboard
    owner: {name: shop}
    depends_on: [ref('stg_orders')]
`,
    "shop_pkg/macros/util/one.sql": "{% macro one() %}1{% endmacro %}",
    "models/root_model.sql": "select * from {{ ref('stg_orders') }}",
  });
  const dir = ["--project-dir", project.dir];
  assert.equal((await cli(["deps", ...dir])).code, 0);
  const compiled = await cli(["compile", ...dir]);
  assert.equal(compiled.code, 0, compiled.out);
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  const model = manifest.nodes["model.shop_pkg.stg_orders"];
  assert.equal(model.original_file_path, "models/staging/stg_orders.sql"); // was dbt_packages/shop_pkg/...
  assert.equal(model.path, "staging/stg_orders.sql");
  assert.equal(model.patch_path, "shop_pkg://models/staging/props.yml");
  const source = manifest.sources["source.shop_pkg.raw.orders"];
  assert.equal(source.original_file_path, "models/staging/props.yml");
  // A package's exposure is the package's (manifest and graph.exposures named the root project).
  const exposure = manifest.exposures["exposure.shop_pkg.orders_board"];
  assert.deepEqual(
    [exposure.package_name, exposure.path, exposure.original_file_path, exposure.fqn],
    ["shop_pkg", "staging/props.yml", "models/staging/props.yml", [
      "shop_pkg",
      "staging",
      "orders_board",
    ]],
  );
  const macro = manifest.macros["macro.shop_pkg.one"];
  assert.equal(macro.original_file_path, "macros/util/one.sql");
  const root = manifest.nodes["model.demo.root_model"];
  assert.equal(root.original_file_path, "models/root_model.sql"); // the root's are unchanged
  const sql = await Deno.readTextFile(
    `${project.dir}/target/compiled/shop_pkg/models/staging/stg_orders.sql`,
  );
  assert.equal(sql.trim(), "select 1 as id");
});
