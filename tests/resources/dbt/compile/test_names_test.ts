/**
 * Generic tests are named as dbt-core names them: the unique ids of classic
 * jaffle_shop's tests (taken from its manifest.json as dbt writes it), the
 * fqn with the folders of the declaring YAML file (so `-s staging` picks the
 * tests declared there), a source's `source_` prefix, a YAML `name:`, and
 * a name of 64 characters or more kept whole with a hashed alias.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { buildManifest, loadProject } from "../../../../resources/dbt/mod.ts";
import { selectNodes } from "../../../../resources/dbt/select.ts";
import { PROJECT_YML, writeProject } from "../_fixture.ts";

const ORDER_STATUSES = "['placed', 'shipped', 'completed', 'return_pending', 'returned']";

const JAFFLE = {
  "dbt_project.yml": PROJECT_YML.replace("name: demo", "name: jaffle_shop").replace(
    "  demo:",
    "  jaffle_shop:",
  ),
  "models/customers.sql": "select * from {{ ref('stg_customers') }}",
  "models/orders.sql": "select * from {{ ref('stg_orders') }}",
  "models/staging/stg_customers.sql": "select 1 as customer_id",
  "models/staging/stg_orders.sql": "select 1 as order_id, 1 as customer_id, 'placed' as status",
  "models/staging/stg_payments.sql": "select 1 as payment_id, 'coupon' as payment_method",
  "models/schema.yml": `version: 2
models:
  - name: customers
    columns:
      - name: customer_id
        tests: [unique, not_null]
  - name: orders
    columns:
      - name: customer_id
        tests:
          - not_null
          - relationships:
              to: ref('customers')
              field: customer_id
      - name: status
        tests:
          - accepted_values:
              values: ${ORDER_STATUSES}
`,
  "models/staging/schema.yml": `version: 2
models:
  - name: stg_customers
    columns:
      - name: customer_id
        tests: [unique, not_null]
  - name: stg_orders
    columns:
      - name: order_id
        tests: [not_null]
      - name: status
        tests:
          - accepted_values:
              values: ${ORDER_STATUSES}
  - name: stg_payments
    columns:
      - name: payment_id
        tests: [unique, not_null]
sources:
  - name: raw
    tables:
      - name: events
        columns:
          - name: id
            tests: [not_null]
`,
};

Deno.test("generic tests: jaffle_shop's unique ids, fqns and aliases are dbt's", async () => {
  await using project = await writeProject(JAFFLE);
  const loaded = await loadProject(project.dir, { cache: false, env: () => undefined });
  const ids = loaded.tests.map((t) => t.uniqueId);
  for (
    const expected of [
      "test.jaffle_shop.unique_customers_customer_id.c5af1ff4b1",
      "test.jaffle_shop.not_null_customers_customer_id.5c9bf9911d",
      "test.jaffle_shop.relationships_orders_customer_id__customer_id__ref_customers_.c6ec7f58f2",
      "test.jaffle_shop.accepted_values_orders_status__placed__shipped__completed__return_pending__returned.be6b5b5ec3",
      "test.jaffle_shop.accepted_values_stg_orders_status__placed__shipped__completed__return_pending__returned.080fb20aad",
      "test.jaffle_shop.not_null_stg_orders_order_id.81cfe2fe64",
      "test.jaffle_shop.not_null_stg_customers_customer_id.e2cfb1f9aa",
      "test.jaffle_shop.unique_stg_customers_customer_id.c7614daada",
      "test.jaffle_shop.not_null_stg_payments_payment_id.c19cc50075",
      "test.jaffle_shop.unique_stg_payments_payment_id.3744510712",
    ]
  ) assert.ok(ids.includes(expected), `${expected} not in\n${ids.join("\n")}`);
  const byName = new Map(loaded.tests.map((t) => [t.name, t]));
  assert.deepEqual(byName.get("not_null_customers_customer_id")?.fqn, [
    "jaffle_shop",
    "not_null_customers_customer_id",
  ]);
  assert.deepEqual(byName.get("not_null_stg_orders_order_id")?.fqn, [
    "jaffle_shop",
    "staging",
    "not_null_stg_orders_order_id",
  ]);
  // A source's test: source_<test>_<source>_<table>_<column>.
  assert.ok(byName.has("source_not_null_raw_events_id"), [...byName.keys()].join(", "));
  // 64 characters or more: the name stays whole, the alias is the first 30 identifying
  // characters and the md5 of the name (the relation of stored failures takes the alias).
  const long =
    "accepted_values_stg_orders_status__placed__shipped__completed__return_pending__returned";
  const md5 = createHash("md5").update(long).digest("hex");
  assert.equal(byName.get(long)?.alias, `accepted_values_stg_orders_${md5}`);
  assert.equal(byName.get(long)?.auditRelation.identifier, `accepted_values_stg_orders_${md5}`);
  const manifest = buildManifest(loaded, { invocationId: "x" }) as {
    nodes: Record<string, { fqn: string[]; alias: string; path: string }>;
  };
  const node = manifest.nodes[loaded.tests.find((t) => t.name === long)?.uniqueId ?? ""];
  assert.equal(node?.alias, `accepted_values_stg_orders_${md5}`);
  assert.equal(node?.path, `accepted_values_stg_orders_${md5}.sql`);
  assert.deepEqual(node?.fqn, ["jaffle_shop", "staging", long]);
  // `-s staging` selects the staging models and the tests declared in staging's YAML.
  const staging = [...selectNodes(loaded, ["staging"])].filter((id) => id.startsWith("test."));
  assert.ok(staging.includes("test.jaffle_shop.not_null_stg_orders_order_id.81cfe2fe64"));
  assert.ok(!staging.some((id) => id.includes("_customers_customer_id.c5af")), staging.join());
});

Deno.test("generic tests: a YAML name: names the test; config keys beside arguments stay out of the name", async () => {
  await using project = await writeProject({
    "models/m.sql": "select 1 as id",
    "models/schema.yml": `version: 2
models:
  - name: m
    columns:
      - name: id
        tests:
          - not_null:
              name: m_id_present
          - accepted_values:
              values: [1, 2]
              quote: false
              where: "id > 0"
`,
  });
  const loaded = await loadProject(project.dir, { cache: false, env: () => undefined });
  assert.deepEqual(loaded.tests.map((t) => t.name).sort(), [
    "accepted_values_m_id__False__1__2",
    "m_id_present",
  ]);
});
