/**
 * Partial re-parse in one process (`reloadProject`): an edited model's SQL is
 * parsed again alone; any change to the graph loads the whole project.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DbtError, loadProject, reloadProject } from "../../../resources/dbt/mod.ts";
import { writeProject } from "./_fixture.ts";

const SCHEMA_YML = `version: 2
models:
  - name: orders
    columns:
      - name: id
        data_tests: [not_null]
unit_tests:
  - name: doubles
    model: orders
    given:
      - input: ref('stg')
        rows: [{id: 1}]
    expect:
      rows: [{id: 1}]
`;

const FILES = {
  "models/stg.sql": "select 1 as id",
  "models/orders.sql": "select id from {{ ref('stg') }}",
  "models/customers.sql": "select id from {{ ref('orders') }}",
  "models/eph.sql": "{{ config(materialized='ephemeral') }}\nselect 7 as id",
  "models/uses_eph.sql": "select id from {{ ref('eph') }}",
  "models/schema.yml": SCHEMA_YML,
};

Deno.test("reloadProject: an edited model's SQL is parsed again alone, the rest is kept", async () => {
  await using project = await writeProject(FILES);
  const first = await loadProject(project.dir, { cache: false });
  const childBefore = first.models.get("customers")?.compiledCode;
  const path = `${project.dir}/models/orders.sql`;
  await Deno.writeTextFile(path, "select id, 2 as two from {{ ref('stg') }}");
  // A change the caller does not name is not looked for: only the named file is read again.
  await Deno.writeTextFile(`${project.dir}/models/stg.sql`, "select 99 as id");
  const second = await reloadProject(first, [path]);
  assert.notStrictEqual(second, first);
  const orders = second.models.get("orders");
  assert.ok(orders);
  assert.deepEqual(orders?.rawCode, "select id, 2 as two from {{ ref('stg') }}");
  assert.ok(orders?.compiledCode.includes("2 as two"), orders?.compiledCode);
  assert.deepEqual(second.models.get("stg")?.rawCode, "select 1 as id");
  assert.ok(orders.checksum !== first.models.get("orders")?.checksum);
  assert.deepEqual(orders.dependsOn, ["model.demo.stg"]);
  // Unchanged nodes compile in the new project as before; tests and node order are kept.
  assert.deepEqual(second.models.get("customers")?.compiledCode, childBefore);
  assert.deepEqual([...second.nodes.keys()], [...first.nodes.keys()]);
  assert.deepEqual(second.tests.map((t) => t.uniqueId), first.tests.map((t) => t.uniqueId));
  // The unit test of the edited model is compiled again with the new SQL.
  assert.ok(second.unitTests[0]?.modelSql.includes("2 as two"), second.unitTests[0]?.modelSql);
  // The previous project is a snapshot: its node still has the old SQL.
  assert.ok(!first.models.get("orders")?.compiledCode.includes("2 as two"));
  // A second partial re-parse builds on the first.
  await Deno.writeTextFile(path, "select id, 3 as three from {{ ref('stg') }}");
  const third = await reloadProject(second, [path]);
  assert.ok(third.models.get("orders")?.compiledCode.includes("3 as three"));
  assert.deepEqual(third.models.get("stg")?.rawCode, "select 1 as id");
});

Deno.test("reloadProject: an unchanged file gives the same project", async () => {
  await using project = await writeProject(FILES);
  const first = await loadProject(project.dir, { cache: false });
  assert.strictEqual(await reloadProject(first, [`${project.dir}/models/orders.sql`]), first);
});

Deno.test("reloadProject: changes that alter the graph load the whole project", async (t) => {
  await using project = await writeProject(FILES);
  const first = await loadProject(project.dir, { cache: false });
  await t.step("a ref added: the order and parents follow", async () => {
    const path = `${project.dir}/models/stg.sql`;
    await Deno.writeTextFile(path, "select id from {{ ref('uses_eph') }}");
    const next = await reloadProject(first, [path]);
    assert.deepEqual(next.models.get("stg")?.dependsOn, ["model.demo.uses_eph"]);
    const order = [...next.nodes.keys()];
    assert.ok(
      order.indexOf("model.demo.uses_eph") < order.indexOf("model.demo.stg"),
      String(order),
    );
    await Deno.writeTextFile(path, "select 1 as id");
  });
  await t.step("a config() changed: the relation follows", async () => {
    const path = `${project.dir}/models/customers.sql`;
    await Deno.writeTextFile(
      path,
      "{{ config(alias='clients') }}select id from {{ ref('orders') }}",
    );
    const next = await reloadProject(first, [path]);
    assert.deepEqual(next.models.get("customers")?.relation.identifier, "clients");
    await Deno.writeTextFile(path, FILES["models/customers.sql"]);
  });
  await t.step("an ephemeral model edited: its dependents inline the new SQL", async () => {
    const path = `${project.dir}/models/eph.sql`;
    await Deno.writeTextFile(path, "{{ config(materialized='ephemeral') }}\nselect 8 as id");
    const next = await reloadProject(first, [path]);
    assert.ok(next.models.get("uses_eph")?.compiledCode.includes("select 8 as id"));
    await Deno.writeTextFile(path, FILES["models/eph.sql"]);
  });
  await t.step("a new file and a deleted file", async () => {
    const added = `${project.dir}/models/extra.sql`;
    await Deno.writeTextFile(added, "select 1 as id");
    const withExtra = await reloadProject(first, [added]);
    assert.ok(withExtra.models.has("extra"));
    await Deno.remove(added);
    assert.ok(!(await reloadProject(withExtra, [added])).models.has("extra"));
  });
  await t.step("a property file", async () => {
    const path = `${project.dir}/models/schema.yml`;
    await Deno.writeTextFile(path, SCHEMA_YML.replace("[not_null]", "[not_null, unique]"));
    const next = await reloadProject(first, [path]);
    assert.deepEqual(next.tests.length, first.tests.length + 1);
    await Deno.writeTextFile(path, SCHEMA_YML);
  });
});

Deno.test("reloadProject: a broken edit fails naming the file and line", async () => {
  await using project = await writeProject(FILES);
  const first = await loadProject(project.dir, { cache: false });
  const path = `${project.dir}/models/orders.sql`;
  await Deno.writeTextFile(path, "select id from {{ ref('stg') }}\n{% if %}");
  await assert.rejects(() => reloadProject(first, [path]), (error) => {
    assert.ok(error instanceof DbtError, String(error));
    assert.equal(error.file, "models/orders.sql");
    assert.equal(error.line, 2);
    return true;
  });
});

Deno.test("reloadProject: refuses a project it did not load", async () => {
  await using project = await writeProject(FILES);
  const first = await loadProject(project.dir, { cache: false });
  await assert.rejects(() => reloadProject({ ...first }, []), /made by loadProject/);
});
