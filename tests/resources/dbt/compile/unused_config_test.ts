/**
 * dbt's "Configuration paths exist in your dbt_project.yml file which do not
 * apply to any resources" warning. Before, a misspelt folder (`mart:` for
 * models/marts/) configured nothing without a word.
 */

import assert from "node:assert/strict";
import { loadProject } from "../../../../resources/dbt/mod.ts";
import { runDbtCli } from "../../../../resources/dbt/cli.ts";
import { configPaths } from "../../../../resources/dbt/compile/unused_config.ts";
import { writeProject } from "../_fixture.ts";

const PROJECT = `name: demo
version: "1.0.0"
config-version: 2
profile: demo
models:
  demo:
    +materialized: view
    mart:
      +materialized: table
    staging:
      +schema: stg
    legacy:
      +enabled: false
seeds:
  demo:
    +column_types: {id: integer}
    lookups:
      +schema: ref
sources:
  demo:
    shop:
      +enabled: true
    shoop:
      orders:
        +enabled: true
`;

const SOURCES = `version: 2
sources:
  - name: shop
    tables:
      - name: orders
`;

Deno.test("dbt_project.yml paths that configure no resource are named in dbt's warning", async () => {
  await using project = await writeProject({
    "dbt_project.yml": PROJECT,
    "models/marts/orders.sql": "select 1 as id",
    "models/staging/stg_orders.sql": "select 1 as id",
    // A disabled model uses its path (dbt counts disabled nodes).
    "models/legacy/old.sql": "select 1 as id",
    "models/sources.yml": SOURCES,
    "seeds/lookups/codes.csv": "id\n1\n",
  });
  const loaded = await loadProject(project.dir, { env: () => undefined });
  assert.deepEqual(loaded.warnings.filter((w) => w.startsWith("Configuration paths")), [
    "Configuration paths exist in your dbt_project.yml file which do not apply to any " +
    "resources.\nThere are 2 unused configuration paths:\n- models.demo.mart\n- sources.demo.shoop.orders",
  ]);

  // Printed once by the CLI, as dbt prints it.
  const err: string[] = [];
  const code = await runDbtCli(["parse", "--project-dir", project.dir], {
    out: () => {},
    err: (line) => err.push(line),
  }, { env: (name) => (name === "STATE_DIR" ? `${project.dir}/.state` : undefined) });
  assert.equal(code, 0, err.join("\n"));
  assert.equal(
    err.filter((l) => l.includes("unused configuration paths")).length,
    1,
    err.join("\n"),
  );
  assert.match(
    err.join("\n"),
    /^warning: Configuration paths exist .*\n.*\n- models\.demo\.mart$/m,
  );

  // Fixed: no warning.
  await Deno.writeTextFile(
    `${project.dir}/dbt_project.yml`,
    PROJECT.replace("    mart:", "    marts:").replace(
      "    shoop:\n      orders:\n        +enabled: true\n",
      "",
    ),
  );
  const fixed = await loadProject(project.dir, { env: () => undefined });
  assert.deepEqual(fixed.warnings.filter((w) => w.startsWith("Configuration paths")), []);
});

Deno.test("config paths are dbt's: a mapping under a key without + is a folder", () => {
  assert.deepEqual(
    configPaths({
      demo: { "+materialized": "view", a: { b: { "+x": 1 } }, persist_docs: { relation: true } },
    }),
    [["demo"], ["demo", "a", "b"], ["demo", "persist_docs"]],
  );
  assert.deepEqual(configPaths({ "+materialized": "view" }), [[]]);
  assert.deepEqual(configPaths(null), []);
});
