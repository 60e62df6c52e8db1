/**
 * A test declared twice is refused, naming its file and line, and two tests
 * sharing only a name (a YAML `name:` on two columns) are both kept with
 * their own unique ids: duplicates are found by unique id, whether or not
 * the ids had to be built to tell (compile/compile_tests.ts compares them
 * only for tests that share a name or have a `{` in it).
 */

import assert from "node:assert/strict";
import { DbtError, DbtErrorCode, loadProject } from "../../../../resources/dbt/mod.ts";
import { writeProject } from "../_fixture.ts";

function files(columns: string): Record<string, string> {
  return {
    "models/orders.sql": "select 1 as id, 2 as other",
    "models/schema.yml": `version: 2\nmodels:\n  - name: orders\n    columns:\n${columns}`,
  };
}

Deno.test("generic tests: the same test declared twice is refused at its second line", async () => {
  await using project = await writeProject(files(
    "      - name: id\n        data_tests:\n          - unique\n          - not_null\n" +
      "          - unique\n",
  ));
  const error = await loadProject(project.dir, { cache: false }).then(
    () => assert.fail("loaded"),
    (e: unknown) => e,
  );
  assert.ok(error instanceof DbtError, String(error));
  assert.equal(error.code, DbtErrorCode.invalidGraph);
  assert.match(error.message, /test 'unique_orders_id' is declared twice; remove the duplicate/);
  assert.equal(error.file, "models/schema.yml");
  assert.equal(error.line, 9);
});

Deno.test("generic tests: one name on two columns is two tests with their own ids", async () => {
  const named = (column: string) =>
    `      - name: ${column}\n        data_tests:\n          - not_null:\n` +
    `              name: shared_{name}\n`;
  await using project = await writeProject(files(named("id") + named("other")));
  const project2 = await loadProject(project.dir, { cache: false });
  const tests = project2.tests.filter((t) => t.name === "shared_{name}");
  assert.equal(tests.length, 2);
  assert.notEqual(tests[0]?.uniqueId, tests[1]?.uniqueId);
  assert.deepEqual(tests.map((t) => t.columnName), ["id", "other"]);
});

Deno.test("generic tests: a duplicate with a brace in its name is refused too", async () => {
  const named = `          - not_null:\n              name: "a{b"\n`;
  await using project = await writeProject(
    files(`      - name: id\n        data_tests:\n${named}${named}`),
  );
  await assert.rejects(
    loadProject(project.dir, { cache: false }),
    (e: unknown) => e instanceof DbtError && /test 'a\{b' is declared twice/.test(e.message),
  );
});

Deno.test("generic tests: each load in a process gives the tests the relations of that load", async () => {
  await using project = await writeProject({
    "models/parent.sql": "select 1 as id",
    "models/child.sql": "select 1 as id",
    "models/schema.yml": "version: 2\nmodels:\n  - name: child\n    columns:\n" +
      "      - name: id\n        data_tests:\n          - not_null\n" +
      "          - relationships:\n              to: ref('parent')\n              field: id\n",
  });
  const sqlOf = async () => {
    const loaded = await loadProject(project.dir);
    return loaded.tests.filter((t) => t.attachedTo === "model.demo.child")
      .map((t) => t.compiledCode);
  };
  const first = await sqlOf();
  assert.equal(first.length, 2);
  assert.match(first[1] ?? "", /from "postgres"\."analytics"\."parent"\n/);
  assert.deepEqual(await sqlOf(), first);
  // The parent's relation changed, the YAML did not: the relationships test reads the new one.
  await Deno.writeTextFile(
    `${project.dir}/models/parent.sql`,
    "{{ config(alias='parent_v2') }} select 1 as id",
  );
  const renamed = await sqlOf();
  assert.match(renamed[1] ?? "", /from "postgres"\."analytics"\."parent_v2"\n/);
  // The tested model's own relation changed: both tests read it.
  await Deno.writeTextFile(
    `${project.dir}/models/child.sql`,
    "{{ config(schema='other') }} select 1 as id",
  );
  const moved = await sqlOf();
  assert.equal(moved.length, 2);
  for (const sql of moved) assert.match(sql, /"analytics_other"\."child"/);
  await Deno.writeTextFile(`${project.dir}/models/child.sql`, "select 1 as id");
  await Deno.writeTextFile(`${project.dir}/models/parent.sql`, "select 1 as id");
  assert.deepEqual(await sqlOf(), first);
});

Deno.test("generic tests: a column's tags are its tests' tags, before their own config tags", async () => {
  // dbt-core parse_test: tags=column.tags, so `dbt test -s tag:pii` runs the pii columns' tests.
  // Before, those tests had no tags and the selection found nothing.
  await using project = await writeProject(files(
    "      - name: id\n        tags: [pii]\n        data_tests:\n          - not_null\n" +
      "          - unique:\n              config: {tags: [nightly, pii]}\n" +
      "      - name: other\n        data_tests: [not_null]\n",
  ));
  const loaded = await loadProject(project.dir, { cache: false });
  const tags = Object.fromEntries(loaded.tests.map((t) => [t.name, [...t.tags]]));
  assert.deepEqual(tags, {
    not_null_orders_id: ["pii"],
    unique_orders_id: ["pii", "nightly"],
    not_null_orders_other: [],
  });
});

Deno.test("generic tests: a column name goes to the test as dbt passes it, quoted only with quote: true", async () => {
  // dbt renders `where EMAIL is null` (Postgres folds it to email); this quoted it, "EMAIL",
  // a column that does not exist. `quote: true` quotes, as dbt's parse_test does.
  await using project = await writeProject({
    "models/orders.sql": "select 1 as id, 'a' as email",
    "models/schema.yml": "version: 2\nmodels:\n  - name: orders\n    columns:\n" +
      "      - name: EMAIL\n        data_tests: [not_null]\n" +
      "      - name: id\n        quote: true\n        data_tests: [not_null]\n",
  });
  const loaded = await loadProject(project.dir, { cache: false });
  const sql = Object.fromEntries(loaded.tests.map((t) => [t.name, t.compiledCode]));
  assert.match(sql.not_null_orders_EMAIL ?? "", /where EMAIL is null/);
  assert.match(sql.not_null_orders_id ?? "", /where "id" is null/);
});
