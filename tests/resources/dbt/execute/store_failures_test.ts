/**
 * `--store-failures` (dbt's flag): every test whose config does not say keeps its failing rows
 * in the audit schema; a test's own `store_failures` wins either way; the manifest says `null`
 * for a test that sets nothing, as dbt's TestConfig does. Before, the flag exited 2 as unknown.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../../resources/dbt/cli.ts";
import { writeProject } from "../_fixture.ts";

Deno.test("--store-failures stores the failures of tests that do not say; a test's own config wins", async () => {
  await using project = await writeProject({
    "models/m.sql": "select null::int as id, 1 as n",
    "models/schema.yml": `version: 2
models:
  - name: m
    columns:
      - name: id
        data_tests:
          - not_null
          - unique: {config: {store_failures: false}}
      - name: n
        data_tests:
          - accepted_values: {arguments: {values: [2]}, config: {store_failures: true}}
`,
  });
  const run = async (...flags: string[]) => {
    const out: string[] = [];
    const env: Record<string, string> = { WAREHOUSE_URL: `pglite:${project.dir}/wh` };
    const code = await runDbtCli(
      ["build", "--project-dir", project.dir, ...flags],
      { out: (l) => out.push(l), err: (l) => out.push(l) },
      { env: (name) => env[name] },
    );
    return { code, out: out.join("\n") };
  };
  const stored = (out: string, test: string) =>
    new RegExp(`test\\.demo\\.${test}[.\\w]*: Got \\d+ results?, .*; failing rows in `).test(out);

  const plain = await run();
  assert.equal(plain.code, 1, plain.out);
  assert.ok(!stored(plain.out, "not_null_m_id"), plain.out);
  assert.ok(stored(plain.out, "accepted_values_m_n__2"), plain.out);
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  const configOf = (name: string) =>
    (Object.values(manifest.nodes) as { name: string; config: { store_failures: unknown } }[])
      .find((node) => node.name === name)?.config.store_failures;
  assert.equal(configOf("not_null_m_id"), null);
  assert.equal(configOf("unique_m_id"), false);
  assert.equal(configOf("accepted_values_m_n__2"), true);

  const flagged = await run("--store-failures");
  assert.equal(flagged.code, 1, flagged.out);
  assert.ok(stored(flagged.out, "not_null_m_id"), flagged.out);
  assert.ok(stored(flagged.out, "accepted_values_m_n__2"), flagged.out);
});
