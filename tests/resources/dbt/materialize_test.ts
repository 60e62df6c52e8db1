/**
 * Each materialisation and each test kind, on PGlite and on PostgreSQL:
 * view, table (swapped atomically, old one kept on failure), incremental
 * (append, merge on unique_key, full refresh), ephemeral; a SQL error fails
 * its model and skips dependents while the rest go on.
 */

import assert from "node:assert/strict";
import {
  buildModel,
  DbtError,
  DbtErrorCode,
  type DbtProject,
  loadProject,
  runProject,
  runTest,
} from "../../../resources/dbt/mod.ts";
import type { Warehouse } from "../../../resources/warehouse/mod.ts";
import { WAREHOUSES, writeProject } from "./_fixture.ts";
import { needs } from "../../_helpers/tools.ts";

const FILES: Record<string, string> = {
  "models/sources.yml": `version: 2
sources:
  - name: raw
    tables:
      - name: things
`,
  "models/schema.yml": `version: 2
models:
  - name: v
    description: Things as a view.
  - name: eph
    description: Doubled amounts, ephemeral.
  - name: bad_data
    description: Rows that break every generic test.
    columns:
      - name: id
        data_tests: [unique]
      - name: parent_id
        data_tests:
          - not_null
          - relationships:
              to: ref('t')
              field: id
              config:
                severity: warn
      - name: kind
        data_tests:
          - accepted_values:
              values: ['a', 'b']
`,
  "models/marts/schema.yml": `version: 2
models:
  - name: t
    description: Things as a table.
    columns:
      - name: id
        data_tests: [not_null, unique]
      - name: kind
        data_tests:
          - accepted_values:
              arguments:
                values: ['a', 'b']
      - name: parent_id
        data_tests:
          - relationships:
              to: ref('t')
              field: id
  - name: inc_append
    description: Appends new ids.
  - name: inc_merge
    description: Merges the last ids on id.
  - name: uses_eph
    description: Reads the ephemeral model.
  - name: broken
    description: SQL the warehouse rejects.
  - name: after_broken
    description: Downstream of broken.
  - name: independent
    description: Not downstream of broken.
`,
  "models/v.sql": "select id, kind, amount, parent_id from {{ source('raw', 'things') }}",
  "models/eph.sql":
    "{{ config(materialized='ephemeral') }}\nselect id, amount * 2 as double_amount from {{ ref('v') }}",
  "models/bad_data.sql":
    "select * from (values (1, 'a', null::int), (1, 'z', 99)) as x(id, kind, parent_id)",
  "models/marts/t.sql": "select * from {{ ref('v') }}",
  "models/marts/inc_append.sql": `{{ config(materialized='incremental') }}
select id, kind, amount from {{ ref('v') }}
{% if is_incremental() %}where id > (select coalesce(max(id), 0) from {{ this }}){% endif %}`,
  "models/marts/inc_merge.sql": `{{ config(materialized='incremental', unique_key='id') }}
select id, kind, amount from {{ ref('v') }}
{% if is_incremental() %}where id >= (select max(id) - 1 from {{ this }}){% endif %}`,
  "models/marts/uses_eph.sql": "select * from {{ ref('eph') }}",
  "models/marts/broken.sql": "select no_such_column\nfrom {{ ref('v') }}",
  "models/marts/after_broken.sql": "select * from {{ ref('broken') }}",
  "models/marts/independent.sql": "select count(*) as n from {{ ref('v') }}",
  "tests/assert_positive_amount.sql": "select * from {{ ref('t') }} where amount <= 0",
  "tests/assert_bad_data_empty.sql": "select * from {{ ref('bad_data') }}",
  "tests/props.yml": `version: 2
data_tests:
  - name: assert_bad_data_empty
    description: Fails on purpose.
    config:
      severity: warn
`,
};

async function seed(warehouse: Warehouse): Promise<void> {
  await warehouse.exec(`
    create schema if not exists raw;
    create table raw.things (id int, kind text, amount int, parent_id int);
    insert into raw.things values (1, 'a', 10, null), (2, 'b', 20, 1), (3, 'a', 30, 1);
  `);
}

async function ids(warehouse: Warehouse, table: string): Promise<number[]> {
  const rows = await warehouse.query<{ id: number }>(`select id from ${table} order by id`);
  return rows.map((r) => r.id);
}

async function leftovers(warehouse: Warehouse): Promise<string[]> {
  const rows = await warehouse.query<{ relname: string }>(
    `select relname from pg_class where relname like '%dbt_tmp' or relname like '%dbt_backup'`,
  );
  return rows.map((r) => r.relname);
}

for (const target of WAREHOUSES) {
  Deno.test(`dbt materialisations and tests on ${target.name}`, {
    ignore: await needs(...target.needs),
  }, async (t) => {
    await using project = await writeProject(FILES);
    await using warehouse = await target.open();
    await seed(warehouse);
    const p: DbtProject = await loadProject(project.dir);

    await t.step("view: reads the live source", async () => {
      const result = await buildModel(warehouse, p, "v");
      assert.equal(result.message, "CREATE VIEW");
      const [kind] = await warehouse.query<{ k: string }>(
        `select c.relkind::text as k from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where n.nspname = 'analytics' and c.relname = 'v'`,
      );
      assert.equal(kind?.k, "v");
      assert.deepEqual(await ids(warehouse, `analytics.v`), [1, 2, 3]);
      await buildModel(warehouse, p, "v"); // rebuilding a view is fine too
    });

    await t.step("table: built beside and swapped; nothing left behind", async () => {
      const first = await buildModel(warehouse, p, "t");
      assert.equal(first.rowsAffected, 3);
      await warehouse.execute("insert into raw.things values (4, 'b', 40, 2)");
      const second = await buildModel(warehouse, p, "t");
      assert.equal(second.rowsAffected, 4);
      assert.deepEqual(await ids(warehouse, "analytics_marts.t"), [1, 2, 3, 4]);
      assert.deepEqual(await leftovers(warehouse), []);
    });

    await t.step("table: a failed rebuild keeps the old table and names the file", async () => {
      await Deno.writeTextFile(
        `${project.dir}/models/marts/t.sql`,
        "select id,\n  nope\nfrom {{ ref('v') }}",
      );
      const changed = await loadProject(project.dir);
      await Deno.writeTextFile(
        `${project.dir}/models/marts/t.sql`,
        FILES["models/marts/t.sql"] ?? "",
      );
      await assert.rejects(() => buildModel(warehouse, changed, "t"), (error: unknown) => {
        assert.ok(error instanceof DbtError);
        assert.equal(error.code, DbtErrorCode.modelFailed);
        assert.match(error.message, /^models\/marts\/t\.sql:2: model 't' failed/);
        assert.match(
          error.message,
          /line 2 of the compiled SQL, target\/compiled\/demo\/models\/marts\/t\.sql/,
        );
        assert.equal(error.line, 2);
        return true;
      });
      const compiled = await Deno.readTextFile(
        `${project.dir}/target/compiled/demo/models/marts/t.sql`,
      );
      assert.equal(compiled.split("\n")[1], "  nope");
      assert.deepEqual(await ids(warehouse, "analytics_marts.t"), [1, 2, 3, 4]);
      assert.deepEqual(await leftovers(warehouse), []);
    });

    await t.step("incremental append: the second run adds only new rows", async () => {
      const first = await buildModel(warehouse, p, "inc_append");
      assert.equal(first.incremental, false);
      assert.equal(first.rowsAffected, 4);
      await warehouse.execute("insert into raw.things values (5, 'a', 50, 1)");
      const second = await buildModel(warehouse, p, "inc_append");
      assert.equal(second.incremental, true);
      assert.equal(second.rowsAffected, 1);
      assert.match(
        second.compiledCode,
        /where id > \(select coalesce\(max\(id\), 0\) from "postgres"\."analytics_marts"\."inc_append"\)/,
      );
      assert.deepEqual(await ids(warehouse, "analytics_marts.inc_append"), [1, 2, 3, 4, 5]);
      const third = await buildModel(warehouse, p, "inc_append");
      assert.equal(third.rowsAffected, 0);
    });

    await t.step(
      "incremental merge on unique_key: changed rows replace, not duplicate",
      async () => {
        await buildModel(warehouse, p, "inc_merge");
        await warehouse.execute("update raw.things set amount = 99 where id = 5");
        await warehouse.execute("insert into raw.things values (6, 'b', 60, 1)");
        const second = await buildModel(warehouse, p, "inc_merge");
        assert.equal(second.incremental, true);
        assert.equal(second.rowsAffected, 3); // ids 4, 5, 6 re-read (>= max - 1)
        const rows = await warehouse.query<{ id: number; amount: number }>(
          "select id, amount from analytics_marts.inc_merge order by id",
        );
        assert.deepEqual(rows.map((r) => r.id), [1, 2, 3, 4, 5, 6]);
        assert.equal(rows.find((r) => r.id === 5)?.amount, 99);
      },
    );

    await t.step("full refresh rebuilds an incremental model from scratch", async () => {
      await warehouse.execute("delete from raw.things where id = 1");
      const result = await buildModel(warehouse, p, "inc_append", { fullRefresh: true });
      assert.equal(result.incremental, false);
      assert.deepEqual(await ids(warehouse, "analytics_marts.inc_append"), [2, 3, 4, 5, 6]);
      await warehouse.execute("insert into raw.things values (1, 'a', 10, null)");
    });

    await t.step("ephemeral: nothing is created; its SQL is inlined downstream", async () => {
      const eph = await buildModel(warehouse, p, "eph");
      assert.equal(eph.rowsAffected, null);
      assert.equal(await warehouse.tableExists("analytics", "eph"), false);
      await buildModel(warehouse, p, "uses_eph");
      const [row] = await warehouse.query<{ d: number }>(
        "select double_amount as d from analytics_marts.uses_eph where id = 2",
      );
      assert.equal(row?.d, 40);
    });

    await t.step("generic and singular tests pass on good data", async () => {
      await buildModel(warehouse, p, "t");
      const onT = p.tests.filter((x) =>
        x.attachedTo === "model.demo.t" ||
        (x.kind === "singular" && x.dependsOn.includes("model.demo.t"))
      );
      assert.deepEqual(
        onT.map((x) => x.testName ?? x.name).sort(),
        ["accepted_values", "assert_positive_amount", "not_null", "relationships", "unique"],
      );
      for (const test of onT) {
        const outcome = await runTest(warehouse, test);
        assert.equal(outcome.status, "pass", `${test.name}: ${outcome.message}`);
        assert.equal(outcome.failures, 0);
      }
    });

    await t.step("each test kind fails on bad data; severity warn reports warn", async () => {
      await buildModel(warehouse, p, "bad_data");
      const outcomes = new Map<string, { status: string; failures: number | null }>();
      for (
        const test of p.tests.filter((x) =>
          x.attachedTo === "model.demo.bad_data" ||
          (x.kind === "singular" && x.dependsOn.includes("model.demo.bad_data"))
        )
      ) {
        outcomes.set(test.testName ?? test.name, pick(await runTest(warehouse, test)));
      }
      assert.deepEqual(Object.fromEntries(outcomes), {
        unique: { status: "fail", failures: 1 },
        not_null: { status: "fail", failures: 1 },
        relationships: { status: "warn", failures: 1 },
        accepted_values: { status: "fail", failures: 1 },
        assert_bad_data_empty: { status: "warn", failures: 2 },
      });
    });

    await t.step("a SQL error fails its model, skips dependents, others go on", async () => {
      const run = await runProject(p, warehouse, {
        select: new Set(
          ["v", "broken", "after_broken", "independent"].map((m) => `model.demo.${m}`),
        ),
        writeArtifacts: false,
      });
      const status = Object.fromEntries(run.results.map((r) => [r.unique_id, r.status]));
      assert.deepEqual(status, {
        "model.demo.v": "success",
        "model.demo.broken": "error",
        "model.demo.after_broken": "skipped",
        "model.demo.independent": "success",
      });
      assert.equal(run.success, false);
      const broken = run.results.find((r) => r.unique_id === "model.demo.broken");
      assert.match(
        broken?.message ?? "",
        /models\/marts\/broken\.sql:1: model 'broken' failed.*no_such_column/,
      );
      const skipped = run.results.find((r) => r.unique_id === "model.demo.after_broken");
      assert.match(skipped?.message ?? "", /upstream model\.demo\.broken failed/);
    });
  });
}

/** Keeps the fields compared, so the deepEqual above reads as a table. */
function pick(outcome: { status: string; failures: number | null }) {
  return { status: outcome.status, failures: outcome.failures };
}
