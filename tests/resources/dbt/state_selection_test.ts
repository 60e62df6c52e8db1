/**
 * Slim CI's `state:` selection against the manifest of an earlier run, as
 * dbt-core decides it: `modified` is a change of the file, of the configs
 * (dbt_project.yml included), of the relation's configured names, of a
 * persisted description, of a macro the node calls, or of an enforced
 * contract; `modified.<part>` picks one of those; `old`, `new` and
 * `unmodified` too. Before, only the file's checksum counted, so a config
 * or macro change deployed nothing.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { writeProject } from "./_fixture.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";

const PROJECT = `name: demo
version: "1.0"
config-version: 2
profile: demo
models:
  demo:
    staging:
      +materialized: view
    marts:
      +materialized: table
`;

Deno.test("state: a config, macro, alias or description change is state:modified, each part alone too", async () => {
  await using project = await writeProject({
    "dbt_project.yml": PROJECT,
    "macros/cents.sql":
      "{% macro cents_to_dollars(col) %}round({{ col }} / 100.0, 2){% endmacro %}",
    "models/staging/stg_payments.sql": "select 1 as id, {{ cents_to_dollars('250') }} as amount",
    "models/staging/stg_orders.sql": "select 1 as id",
    "models/marts/fct_orders.sql":
      "select o.id, p.amount from {{ ref('stg_orders') }} o join {{ ref('stg_payments') }} p using (id)",
    "models/marts/dim_dates.sql": "select 1 as d",
    "models/marts/_marts.yml": `version: 2
models:
  - name: dim_dates
    description: Calendar days.
    config:
      persist_docs: {relation: true}
  - name: fct_orders
    config:
      access: public
      docs: {node_color: "#2e8b57"}
`,
  });
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const code = await runDbtCli([...args, "--project-dir", project.dir], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    }, { env: () => undefined });
    return { code, out: out.filter((l) => !l.startsWith("warning: ")).sort() };
  };
  assert.equal((await cli("parse")).code, 0);
  // The manifest carries what state: compares (before: persist_docs {}, access protected).
  const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
  assert.deepEqual(manifest.nodes["model.demo.dim_dates"].config.persist_docs, { relation: true });
  const fct = manifest.nodes["model.demo.fct_orders"];
  assert.deepEqual([fct.access, fct.config.access], ["public", "public"]);
  assert.deepEqual(fct.config.docs, { show: true, node_color: "#2e8b57" });
  const state = `${project.dir}/prod_state`;
  await Deno.mkdir(state);
  await Deno.copyFile(`${project.dir}/target/manifest.json`, `${state}/manifest.json`);
  const ls = async (select: string) =>
    (await cli("ls", "-s", select, "--state", state, "--resource-type", "model")).out;
  assert.deepEqual(await ls("state:modified"), []);
  assert.deepEqual((await ls("state:unmodified")).length, 4);

  // A folder config in dbt_project.yml: fct_orders and dim_dates become views.
  await Deno.writeTextFile(
    `${project.dir}/dbt_project.yml`,
    PROJECT.replace("+materialized: table", "+materialized: view"),
  );
  // A macro stg_payments calls.
  await Deno.writeTextFile(
    `${project.dir}/macros/cents.sql`,
    "{% macro cents_to_dollars(col) %}round(cast({{ col }} as numeric) / 100, 2){% endmacro %}",
  );
  // An alias (the relation) and a new model.
  await Deno.writeTextFile(
    `${project.dir}/models/staging/stg_orders.sql`,
    "{{ config(alias='orders_v2') }}select 1 as id",
  );
  await Deno.writeTextFile(`${project.dir}/models/marts/new_model.sql`, "select 2 as id");

  assert.deepEqual(await ls("state:modified"), [
    "demo.marts.dim_dates",
    "demo.marts.fct_orders",
    "demo.marts.new_model",
    "demo.staging.stg_orders",
    "demo.staging.stg_payments",
  ]);
  assert.deepEqual(await ls("state:modified.configs,config.materialized:view"), [
    "demo.marts.dim_dates",
    "demo.marts.fct_orders",
    "demo.marts.new_model",
    "demo.staging.stg_orders",
  ]);
  assert.deepEqual(await ls("state:modified.macros"), [
    "demo.marts.new_model",
    "demo.staging.stg_payments",
  ]);
  assert.deepEqual(await ls("state:modified.relation,state:old"), ["demo.staging.stg_orders"]);
  assert.deepEqual(await ls("state:modified.body,state:old"), ["demo.staging.stg_orders"]);
  assert.deepEqual(await ls("state:new"), ["demo.marts.new_model"]);
  assert.deepEqual(await ls("state:unmodified"), []);

  // Back to tables: only the description of dim_dates (persisted) and the others stay changed.
  await Deno.writeTextFile(`${project.dir}/dbt_project.yml`, PROJECT);
  await Deno.writeTextFile(
    `${project.dir}/models/marts/_marts.yml`,
    (await Deno.readTextFile(`${project.dir}/models/marts/_marts.yml`)).replace(
      "Calendar days.",
      "One row per calendar day.",
    ),
  );
  assert.deepEqual(await ls("state:modified.persisted_descriptions,state:old"), [
    "demo.marts.dim_dates",
  ]);
  assert.deepEqual(await ls("state:unmodified"), ["demo.marts.fct_orders"]);

  const bad = await cli("ls", "-s", "state:modified.everything", "--state", state);
  assert.equal(bad.code, 2);
  assert.match(bad.out.join("\n"), /state:modified\.everything: not a state selector/);
});

Deno.test("state: unit tests, exposures and semantic models are modified only when their definition is", async () => {
  // Before, they were never looked up in the earlier manifest: each was "new", so every slim CI
  // run (state:modified+) ran every unit test of the project and listed every metric.
  await using project = await writeProject({
    "dbt_project.yml": PROJECT,
    "models/staging/stg_orders.sql": "select 1 as id, 10 as amount",
    "models/marts/orders.sql": "select id, amount from {{ ref('stg_orders') }}",
    "models/marts/metricflow_time_spine.sql": "select current_date as date_day",
    "models/marts/_marts.yml": `version: 2
models:
  - name: orders
unit_tests:
  - name: orders_keep_amount
    model: orders
    given:
      - input: ref('stg_orders')
        rows: [{id: 1, amount: 5}]
    expect:
      rows: [{id: 1, amount: 5}]
exposures:
  - name: orders_dashboard
    type: dashboard
    owner: {name: Ann}
    depends_on: [ref('orders')]
semantic_models:
  - name: orders
    model: ref('orders')
    defaults: {agg_time_dimension: ordered_at}
    entities: [{name: order, type: primary, expr: id}]
    dimensions: [{name: ordered_at, type: time, expr: "current_date", type_params: {time_granularity: day}}]
    measures: [{name: amount, agg: sum}]
metrics:
  - name: revenue
    label: Revenue
    type: simple
    type_params: {measure: amount}
saved_queries:
  - name: revenue_daily
    query_params: {metrics: [revenue]}
    exports: [{name: revenue_daily, config: {export_as: table}}]
`,
  });
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const code = await runDbtCli([...args, "--project-dir", project.dir], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    }, { env: () => undefined });
    return { code, out: out.filter((l) => !l.startsWith("warning: ")).sort() };
  };
  // Production's manifest, built for its own target (schema 'other'): slim CI compares it with
  // its own target's project, whose unit tests and semantic models name another schema. What
  // the target decides is not a change of definition (dbt's same_contents leaves it out).
  const parsed = await cli("parse", "--target", "other");
  assert.equal(parsed.code, 0, parsed.out.join("\n"));
  const state = `${project.dir}/prod_state`;
  await Deno.mkdir(state);
  await Deno.copyFile(`${project.dir}/target/manifest.json`, `${state}/manifest.json`);
  const ls = async (select: string) => (await cli("ls", "-s", select, "--state", state)).out;
  assert.deepEqual(await ls("state:modified"), []);
  assert.deepEqual(await ls("state:new"), []);
  // The unit test's expectation and the metric's label change; the model does not.
  const yml = `${project.dir}/models/marts/_marts.yml`;
  await Deno.writeTextFile(
    yml,
    (await Deno.readTextFile(yml)).replace(
      "rows: [{id: 1, amount: 5}]\n    expect:",
      "rows: [{id: 1, amount: 6}]\n    expect:",
    )
      .replace("label: Revenue", "label: Net revenue"),
  );
  assert.deepEqual(await ls("state:modified"), [
    "demo.orders_keep_amount",
    "metric:demo.revenue",
  ]);
});

Deno.test("state: source_status:fresher+ picks the sources loaded since the earlier run's freshness check and what reads them", async () => {
  await using project = await writeProject({
    "models/staging/_shop__sources.yml": `version: 2
sources:
  - name: shop
    schema: raw
    loaded_at_field: loaded_at
    freshness:
      warn_after: {count: 100000, period: day}
    tables:
      - name: orders
      - name: customers
`,
    "models/staging/stg_orders.sql": "select * from {{ source('shop', 'orders') }}",
    "models/staging/stg_customers.sql": "select * from {{ source('shop', 'customers') }}",
    "models/marts/order_facts.sql": "select * from {{ ref('stg_orders') }}",
  });
  const url = `pglite:${project.dir}/warehouse`;
  const cli = async (...args: string[]) => {
    const out: string[] = [];
    const code = await runDbtCli([...args, "--project-dir", project.dir], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    }, { env: (name) => (name === "WAREHOUSE_URL" ? url : undefined) });
    return { code, out: out.filter((l) => !l.startsWith("warning: ")).sort() };
  };
  const load = async (sql: string) => {
    await using warehouse = await openWarehouse(url, { onNotice: () => {} });
    await warehouse.exec(sql);
  };
  await load(`create schema raw;
    create table raw.orders as select 1 as id, timestamp '2024-01-01 10:00' as loaded_at;
    create table raw.customers as select 1 as id, timestamp '2024-01-01 10:00' as loaded_at;`);
  assert.equal((await cli("source", "freshness")).code, 0);
  const state = `${project.dir}/prod_state`;
  await Deno.mkdir(state);
  const target = `${project.dir}/target`;
  await Deno.copyFile(`${target}/sources.json`, `${state}/sources.json`);
  // New orders arrive; customers do not.
  await load("insert into raw.orders values (2, timestamp '2024-01-02 09:00')");
  assert.equal((await cli("source", "freshness")).code, 0);
  // Before: 'unknown selection method source_status:'.
  const fresher = await cli("ls", "-s", "source_status:fresher+", "--state", state);
  assert.equal(fresher.code, 0, fresher.out.join("\n"));
  assert.deepEqual(fresher.out, [
    "demo.marts.order_facts",
    "demo.staging.stg_orders",
    "source:demo.shop.orders",
  ]);
  const stale = await cli("ls", "-s", "source_status:stale", "--state", state);
  assert.equal(stale.code, 2);
  assert.match(stale.out.join("\n"), /source_status:stale: the source_status method takes fresher/);
  await Deno.remove(`${state}/sources.json`);
  const none = await cli("ls", "-s", "source_status:fresher+", "--state", state);
  assert.equal(none.code, 2);
  assert.match(none.out.join("\n"), /run `deno task dbt source freshness` for both/);
});
