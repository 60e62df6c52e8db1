/**
 * Project shapes that real dbt projects have and the other fixtures do not:
 * a dbt_utils-like package of dispatched macros that `return()` values,
 * dbt_expectations-like generic tests with keyword arguments, incremental
 * models with `is_incremental()` and `{{ this }}`, nested folders with
 * folder-level `+schema`/`+tags`, a `generate_schema_name` override,
 * snapshots with `check_cols='all'`, sources with `identifier` and
 * `quoting` overrides, YAML anchors and merge keys, `--vars`, `--exclude`,
 * `--selector` and `state:modified+`. Built with `deno task dbt` on PGlite.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { writeProject } from "./_fixture.ts";

const FILES: Record<string, string> = {
  "dbt_project.yml": `name: shop
version: "1.0.0"
config-version: 2
profile: demo
vars:
  start_date: "2024-01-01"
  currency: usd
models:
  shop:
    +materialized: view
    staging:
      +schema: stg
      +tags: [staging]
      payments:
        +tags: [payments]
    marts:
      +materialized: table
      +schema: marts
      finance:
        +tags: ["finance", "daily"]
snapshots:
  shop:
    +target_schema: snapshots
quoting:
  identifier: true
dispatch:
  - macro_namespace: my_utils
    search_order: [shop, my_utils]
`,
  // A local package shaped like dbt_utils: dispatched macros that return values.
  "packages.yml": "packages:\n  - local: my_utils\n",
  "my_utils/dbt_project.yml": "name: my_utils\nversion: '1.0'\nconfig-version: 2\n",
  "my_utils/macros/surrogate_key.sql": `{% macro surrogate_key(field_list) -%}
  {{ return(adapter.dispatch('surrogate_key', 'my_utils')(field_list)) }}
{%- endmacro %}

{% macro default__surrogate_key(field_list) -%}
{%- set fields = [] -%}
{%- for field in field_list -%}
  {%- do fields.append("coalesce(cast(" ~ field ~ " as " ~ dbt.type_string() ~ "), '_null_')") -%}
  {%- if not loop.last %}{%- do fields.append("'-'") -%}{%- endif -%}
{%- endfor -%}
md5({{ fields | join(' || ') }})
{%- endmacro %}

{% macro get_column_names(relation_name) -%}
  {%- set cols = ['id', 'amount'] -%}
  {{ return(cols) }}
{%- endmacro %}

{% macro star(from, except=[]) -%}
  {%- set cols = adapter.get_columns_in_relation(from) -%}
  {%- set kept = [] -%}
  {%- for col in cols -%}
    {%- if col.name not in except -%}{%- do kept.append(col.quoted) -%}{%- endif -%}
  {%- endfor -%}
  {{ return(kept | join(', ') if kept else '*') }}
{%- endmacro %}

{% macro cents_to_dollars(column, scale=2) -%}
  {{ return(adapter.dispatch('cents_to_dollars', 'my_utils')(column, scale)) }}
{%- endmacro %}

{% macro default__cents_to_dollars(column, scale) -%}
  round(({{ column }} / 100.0)::numeric, {{ scale }})
{%- endmacro %}
`,
  // dbt_expectations-like generic tests with keyword arguments.
  "my_utils/macros/expect.sql":
    `{% test expect_column_values_to_be_between(model, column_name, min_value=none, max_value=none, row_condition=none, strictly=false) %}
{%- set op_min = '>' if strictly else '>=' -%}
{%- set op_max = '<' if strictly else '<=' -%}
select *
from {{ model }}
where not (
  1 = 1
  {% if min_value is not none %}and {{ column_name }} {{ op_min }} {{ min_value }}{% endif %}
  {% if max_value is not none %}and {{ column_name }} {{ op_max }} {{ max_value }}{% endif %}
)
{% if row_condition %}and {{ row_condition }}{% endif %}
{% endtest %}

{% test expect_table_row_count_to_equal_other_table(model, compare_model) %}
with a as (select count(*) as n from {{ model }}),
     b as (select count(*) as n from {{ compare_model }})
select * from a cross join b where a.n != b.n
{% endtest %}
`,
  // The project overrides generate_schema_name: custom schemas are used as written.
  "macros/generate_schema_name.sql": `{% macro generate_schema_name(custom_schema_name, node) -%}
  {%- if custom_schema_name is none -%}{{ target.schema }}
  {%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
`,
  // The project's own version of a dispatched package macro wins (dispatch search_order).
  "macros/cents.sql": `{% macro default__cents_to_dollars(column, scale) -%}
  round(({{ column }} / 100.0)::numeric, {{ scale }}) /* project override */
{%- endmacro %}
`,
  "models/staging/sources.yml": `version: 2
x-common: &loaded
  loader: fivetran
  loaded_at_field: _loaded_at
sources:
  - name: raw
    schema: raw_data
    <<: *loaded
    quoting:
      identifier: false
    tables:
      - name: orders
        identifier: ORDERS_V2
      - name: payments
        identifier: Payments
        quoting:
          identifier: true
`,
  "models/staging/stg_orders.sql": `with source as (
  select * from {{ source('raw', 'orders') }}
)
select
  id as order_id,
  customer_id,
  status,
  {{ surrogate_key(['id', 'customer_id']) }} as order_key,
  ordered_at
from source
where ordered_at >= '{{ var("start_date") }}'
`,
  "models/staging/payments/stg_payments.sql": `select
  id as payment_id,
  order_id,
  {{ my_utils.cents_to_dollars('amount') }} as amount,
  '{{ var("currency") }}' as currency
from {{ source('raw', 'payments') }}
`,
  "models/staging/schema.yml": `version: 2
models:
  - name: stg_payments
    columns:
      - name: amount
        data_tests:
          - my_utils.expect_column_values_to_be_between:
              min_value: 0
              max_value: 10000
              row_condition: "payment_id is not null"
          - my_utils.expect_column_values_to_be_between:
              arguments:
                min_value: 0
                strictly: true
              config:
                severity: warn
  - name: stg_orders
    data_tests:
      - my_utils.expect_table_row_count_to_equal_other_table:
          compare_model: ref('orders')
    columns:
      - name: order_id
        data_tests: [unique, not_null]
`,
  "models/marts/finance/orders.sql": `{{ config(
    materialized='incremental',
    unique_key='order_id',
    on_schema_change='append_new_columns'
) }}
select
  o.order_id,
  o.order_key,
  o.status,
  o.ordered_at,
  coalesce(sum(p.amount), 0) as amount
from {{ ref('stg_orders') }} o
left join {{ ref('stg_payments') }} p on p.order_id = o.order_id
{% if is_incremental() %}
where o.ordered_at > (select coalesce(max(ordered_at), '1900-01-01') from {{ this }})
{% endif %}
group by 1, 2, 3, 4
`,
  "models/marts/order_columns.sql": `{%- set existing = load_relation(ref('stg_orders')) -%}
select {{ my_utils.star(ref('stg_orders'), except=['status', 'order_key']) }},
  {{ "'found'" if existing is not none else "'missing'" }} as upstream
from {{ ref('stg_orders') }}
`,
  "models/marts/customers.sql": `select customer_id, count(*) as orders
from {{ ref('stg_orders') }}
group by 1
`,
  "snapshots/orders_snapshot.sql": `{% snapshot orders_snapshot %}
{{ config(unique_key='order_id', strategy='check', check_cols='all') }}
select order_id, status from {{ ref('stg_orders') }}
{% endsnapshot %}
`,
  "selectors.yml": `selectors:
  - name: finance_only
    definition:
      method: tag
      value: finance
  - name: nightly
    definition:
      union:
        - method: path
          value: models/staging
        - method: fqn
          value: customers
`,
};

const RAW = `
create schema if not exists raw_data;
create table raw_data.orders_v2 (id int, customer_id int, status text, ordered_at date, _loaded_at timestamptz);
create table raw_data."Payments" (id int, order_id int, amount int);
insert into raw_data.orders_v2 values
  (1, 10, 'placed', '2024-02-01', now()), (2, 10, 'shipped', '2024-02-02', now()),
  (3, 11, 'placed', '2023-12-31', now());
insert into raw_data."Payments" values (1, 1, 1999), (2, 2, 500);
`;

Deno.test("real-world project shapes build with deno task dbt", async (t) => {
  await using project = await writeProject(FILES);
  // my_utils is installed as a local package.
  const dir = await Deno.makeTempDir({ prefix: "dbt-real-" });
  const url = `pglite:${dir}/wh`;
  try {
    {
      await using warehouse = await openWarehouse(url);
      await warehouse.exec(RAW);
    }
    const env = (name: string) => (name === "WAREHOUSE_URL" ? url : undefined);
    const run = async (...args: string[]) => {
      const lines: string[] = [];
      const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
      const code = await runDbtCli([...args, "--project-dir", project.dir], io, { env });
      return { code, out: lines.join("\n") };
    };
    assert.equal((await run("deps")).code, 0);

    await t.step(
      "ls: nested folder configs (+schema, +tags), selectors and --exclude",
      async () => {
        const finance = await run(
          "ls",
          "--selector",
          "finance_only",
          "--resource-type",
          "model",
          "--output",
          "name",
        );
        assert.equal(finance.code, 0, finance.out);
        assert.deepEqual(finance.out.split("\n").filter((l) => !l.startsWith("warning")), [
          "orders",
        ]);
        const payments = await run("ls", "-s", "tag:payments", "--resource-type", "model");
        assert.match(payments.out, /shop\.staging\.payments\.stg_payments/);
        const nightly = await run(
          "ls",
          "--selector",
          "nightly",
          "--exclude",
          "tag:payments",
          "--resource-type",
          "model",
          "--output",
          "name",
        );
        assert.deepEqual(nightly.out.split("\n").sort(), ["customers", "stg_orders"]);
      },
    );

    await t.step(
      "build: every node and test passes, names and macros as dbt resolves them",
      async () => {
        const build = await run("build", "--vars", "{start_date: '2024-01-15'}");
        assert.equal(build.code, 0, build.out);
        await using warehouse = await openWarehouse(url);
        // generate_schema_name override: custom schemas as written; incremental table built.
        const orders = await warehouse.query<
          { order_id: number; amount: string; order_key: string }
        >(
          "select order_id, amount::text as amount, order_key from marts.orders order by 1",
        );
        assert.deepEqual(orders.map((r) => [r.order_id, r.amount]), [[1, "19.99"], [2, "5.00"]]);
        assert.equal(orders[0]?.order_key.length, 32);
        const view = await warehouse.query<{ definition: string }>(
          "select pg_get_viewdef('stg.stg_payments'::regclass) as definition",
        );
        assert.match(view[0]?.definition ?? "", /round/);
        const snap = await warehouse.query<{ n: number }>(
          "select count(*)::int as n from snapshots.orders_snapshot",
        );
        assert.equal(snap[0]?.n, 2);
        // adapter.get_columns_in_relation / load_relation answered by the warehouse at build time.
        const columns = await warehouse.query<{ column_name: string }>(
          "select column_name from information_schema.columns where table_schema = 'marts' " +
            "and table_name = 'order_columns' order by ordinal_position",
        );
        assert.deepEqual(columns.map((c) => c.column_name), [
          "order_id",
          "customer_id",
          "ordered_at",
          "upstream",
        ]);
        const upstream = await warehouse.query<{ upstream: string }>(
          "select distinct upstream from marts.order_columns",
        );
        assert.deepEqual(upstream, [{ upstream: "found" }]);
        // YAML merge keys (`<<: *loaded`) and source quoting/identifier overrides, as dbt reads them.
        const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
        assert.equal(manifest.sources["source.shop.raw.orders"].loader, "fivetran");
        assert.equal(
          manifest.sources["source.shop.raw.orders"].relation_name,
          '"postgres"."raw_data".ORDERS_V2',
        );
        assert.equal(
          manifest.sources["source.shop.raw.payments"].relation_name,
          '"postgres"."raw_data"."Payments"',
        );
      },
    );

    await t.step("again after new rows: the incremental model adds only them", async () => {
      {
        await using warehouse = await openWarehouse(url);
        await warehouse.exec(
          "insert into raw_data.orders_v2 values (4, 12, 'placed', '2024-03-01', now()); " +
            `insert into raw_data."Payments" values (3, 4, 250)`,
        );
      }
      const build = await run("build", "--vars", "{start_date: '2024-01-15'}", "-s", "+orders");
      assert.equal(build.code, 0, build.out);
      assert.match(build.out, /incremental/);
      await using warehouse = await openWarehouse(url);
      const rows = await warehouse.query<{ n: number }>(
        "select count(*)::int as n from marts.orders",
      );
      assert.equal(rows[0]?.n, 3);
    });

    await t.step("state:modified+ picks an edited model and what is downstream of it", async () => {
      const state = `${dir}/state`;
      await Deno.mkdir(state);
      await Deno.copyFile(`${project.dir}/target/manifest.json`, `${state}/manifest.json`);
      await Deno.writeTextFile(
        `${project.dir}/models/staging/payments/stg_payments.sql`,
        `${FILES["models/staging/payments/stg_payments.sql"]}-- edited\n`,
      );
      const modified = await run(
        "ls",
        "-s",
        "state:modified+",
        "--state",
        state,
        "--resource-type",
        "model",
        "--output",
        "name",
      );
      assert.equal(modified.code, 0, modified.out);
      assert.deepEqual(modified.out.split("\n").sort(), ["orders", "stg_payments"]);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
