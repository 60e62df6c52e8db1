/**
 * A project shaped like community dbt projects (tests/fixtures/dbt/community_like,
 * over the local package tests/fixtures/dbt/packages/kit_utils from
 * `dependencies.yml`) through `deno task dbt` on PGlite and a real PostgreSQL,
 * checked by the values it builds: custom generate_schema/alias/database_name,
 * seeds with column_types / delimiter / quote_columns, on-run-start/end with
 * `results`, folder post-hooks, grants and persist_docs, package macros
 * (unpivot, not_null_proportion, a root override of a dispatched macro), test
 * configs (where, warn_if/error_if, store_failures, a custom test `name:`),
 * incremental strategies with on_schema_change, snapshots with hard deletes
 * (SQL timestamp; YAML check with renamed meta columns and dbt_valid_to_current),
 * `-s a b c`, `--full-refresh`, `--target`, source freshness, exposures on a
 * model version, and model access across groups.
 */

import assert from "node:assert/strict";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { needs } from "../../_helpers/tools.ts";
import { assertValidArtifactFile } from "./_dbt_schemas.ts";
import { CLI_TARGETS, copyTree, queryRows, runCli } from "./_project_cli.ts";

const FIXTURES = new URL("../../fixtures/dbt/", import.meta.url).pathname;

const RAW = `
create schema if not exists shop_raw;
create table shop_raw.events (event_id int, customer_id int, kind text, occurred_at timestamptz, _loaded_at timestamptz);
create table shop_raw.payments_2024 (payment_id int, order_id int, amount_cents int, _etl_loaded_at timestamp);
create table shop_raw.refunds (id int);
insert into shop_raw.events values (1, 1, 'Login', now() - interval '1 hour', now()), (2, 2, 'PURCHASE', now(), now());
insert into shop_raw.payments_2024 values (1, 1, 2000, now() - interval '3 days');
do $$ begin
  if not exists (select 1 from pg_roles where rolname = 'acme_reporter') then create role acme_reporter; end if;
end $$;
`;

for (const target of CLI_TARGETS) {
  Deno.test(`community_like project builds on ${target.name}`, {
    ignore: await needs(...target.needs),
  }, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "dbt-community-" });
    try {
      const project = `${dir}/proj`;
      await copyTree(`${FIXTURES}/community_like`, project);
      await copyTree(`${FIXTURES}/packages/kit_utils`, `${dir}/packages/kit_utils`);
      await using db = await target.open(dir);
      {
        await using warehouse = await openWarehouse(db.url, { onNotice: () => {} });
        await warehouse.exec(RAW);
      }
      const env: Record<string, string> = { WAREHOUSE_URL: db.url, HOME: dir };
      const cli = (...args: string[]) => runCli([...args, "--project-dir", project], env);
      const q = (sql: string) => queryRows(db.url, sql);
      const runResults = async () =>
        JSON.parse(await Deno.readTextFile(`${project}/target/run_results.json`)) as {
          results: { unique_id: string; status: string; message: string | null }[];
        };

      await t.step("deps installs the local package named in dependencies.yml", async () => {
        const { code, out } = await cli("deps");
        assert.equal(code, 0, out);
        await Deno.stat(`${project}/dbt_packages/kit_utils/macros/sql/unpivot.sql`);
      });

      await t.step("build from a fresh warehouse", async () => {
        const { code, out } = await cli("build");
        assert.equal(code, 0, out);
        // Analyses are compiled (manifest, dbt compile), never built.
        assert.doesNotMatch(out, /orders_by_country/);
        // Seeds: generate_schema_name (target schema + custom), generate_alias_name (seed_),
        // column_types, a ';' delimiter with a quoted field, quote_columns.
        assert.deepEqual(
          await q(
            `select "Country Code" as code, "Country Name" as name ` +
              `from dbt_dev_lookups.seed_country_codes order by 1`,
          ),
          [
            { code: "FR", name: "France; Metropolitan" },
            { code: "PT", name: "Portugal" },
            { code: "US", name: "United States" },
          ],
        );
        assert.deepEqual(
          await q(
            "select column_name, data_type from information_schema.columns where " +
              "table_schema = 'dbt_dev_raw' and table_name = 'seed_raw_orders' " +
              "and column_name in ('ordered_at', 'amount_cents') order by 1",
          ),
          [
            { column_name: "amount_cents", data_type: "bigint" },
            { column_name: "ordered_at", data_type: "date" },
          ],
        );
        // A package macro (unpivot) over a contract-enforced table; the disabled folder is absent.
        assert.deepEqual(
          await q(
            "select customer_id, attribute, attribute_value from " +
              "dbt_dev_marts.customer_attributes_long where customer_id in (3, 4) order by 1, 2",
          ),
          [
            { customer_id: 3, attribute: "country_name", attribute_value: "France; Metropolitan" },
            { customer_id: 3, attribute: "first_name", attribute_value: "Chloé" },
            { customer_id: 3, attribute: "lifetime_value", attribute_value: "9.99" },
            { customer_id: 4, attribute: "country_name", attribute_value: "United States" },
            { customer_id: 4, attribute: "first_name", attribute_value: null },
            { customer_id: 4, attribute: "lifetime_value", attribute_value: "0" },
          ],
        );
        // run_query with an execute guard, and an alias from the model's YAML config.
        assert.deepEqual(await q("select * from dbt_dev_marts.order_status_counts"), [
          { completed_count: 3, placed_count: 1, returned_count: 1 },
        ]);
        // The root project's postgres__cents_to_dollars wins over the package's (search_order).
        const view = await q(
          "select pg_get_viewdef('dbt_dev_staging.stg_shop__orders'::regclass) as d",
        );
        assert.match(String(view[0]?.d), /amount_cents\)::numeric \//);
        assert.doesNotMatch(String(view[0]?.d), /100\.0/);
        // Folder +grants on tables, none on the staging views.
        const grants = await q(
          "select table_schema || '.' || table_name as t from information_schema.role_table_grants " +
            "where grantee = 'acme_reporter' order by 1",
        );
        assert.ok(
          grants.some((g) => g.t === "dbt_dev_marts.dim_customers"),
          JSON.stringify(grants),
        );
        assert.ok(!grants.some((g) => String(g.t).startsWith("dbt_dev_staging.")));
        // persist_docs with a doc() block.
        assert.deepEqual(
          await q(
            "select obj_description('dbt_dev_marts.dim_customers'::regclass) as d, " +
              "col_description('dbt_dev_marts.dim_customers'::regclass, 1) as c",
          ),
          [{
            d: "One row per customer, with order totals.",
            c: "The customer's id in the shop system, stable across exports.",
          }],
        );
        // on-run-start, folder post-hooks with {{ this }}, on-run-end over `results`.
        const log = await q(
          "select event, node, status from dbt_dev_audit.run_log order by event, node",
        );
        assert.deepEqual(log.filter((r) => r.event === "start:36"), [
          { event: "start:36", node: null, status: null },
        ]);
        assert.ok(log.some((r) => r.event === "post_hook" && r.node === "dim_customers"));
        assert.ok(!log.some((r) => r.event === "post_hook" && r.node === "daily_revenue"));
        assert.deepEqual(log.find((r) => r.node === "amount_under_ten_is_rare"), {
          event: "end",
          node: "amount_under_ten_is_rare",
          status: "warn",
        });
        assert.ok(log.some((r) => r.node === "fct_orders" && r.status === "success"));
        // A test's own `name:`, warn_if/error_if, store_failures.
        const results = await runResults();
        const named = results.results.find((r) =>
          r.unique_id.startsWith("test.acme_analytics.amount_under_ten_is_rare.")
        );
        assert.equal(named?.status, "warn");
        assert.equal(
          (await q(
            "select count(*)::int as n from information_schema.tables " +
              "where table_schema = 'dbt_dev_dbt_test__audit'",
          ))[0]?.n,
          1,
        );
        // The exposure depends on the version it names.
        const manifest = JSON.parse(await Deno.readTextFile(`${project}/target/manifest.json`));
        assert.equal(
          manifest.nodes["analysis.acme_analytics.orders_by_country"]?.resource_type,
          "analysis",
        );
        assert.deepEqual(
          manifest.exposures["exposure.acme_analytics.weekly_kpis"].depends_on.nodes,
          [
            "model.acme_analytics.dim_customers",
            "model.acme_analytics.fct_revenue.v1",
          ],
        );
      });

      await t.step("-s a b c with changed columns: on_schema_change as configured", async () => {
        const { code, out } = await cli(
          "run",
          "-s",
          "fct_orders",
          "revenue_columns_strict",
          "revenue_columns_synced",
          "--vars",
          "{revenue_v2: true, with_channel: true}",
        );
        assert.equal(code, 1, out);
        assert.match(out, /revenue_columns_strict.*on_schema_change is 'fail'/);
        const results = await runResults();
        assert.deepEqual(results.results.map((r) => [r.unique_id, r.status]).sort(), [
          ["model.acme_analytics.fct_orders", "success"],
          ["model.acme_analytics.revenue_columns_strict", "error"],
          ["model.acme_analytics.revenue_columns_synced", "success"],
          // The project's hooks are results too, as in dbt 1.9.
          ["operation.acme_analytics.acme_analytics-on-run-end-0", "success"],
          ["operation.acme_analytics.acme_analytics-on-run-start-0", "success"],
          ["operation.acme_analytics.acme_analytics-on-run-start-1", "success"],
          ["operation.acme_analytics.acme_analytics-on-run-start-2", "success"],
        ]);
        const columns = await q(
          "select table_name || '.' || column_name as c from information_schema.columns " +
            "where table_schema = 'dbt_dev_marts' and table_name in " +
            "('fct_orders', 'revenue_columns_synced', 'revenue_columns_strict') order by 1",
        );
        assert.deepEqual(columns.map((c) => c.c), [
          "fct_orders.amount",
          "fct_orders.customer_id",
          "fct_orders.line_no",
          "fct_orders.order_id",
          "fct_orders.order_line_key",
          "fct_orders.ordered_at",
          "fct_orders.status",
          "revenue_columns_strict.order_date",
          "revenue_columns_strict.revenue",
          "revenue_columns_synced.order_date",
          "revenue_columns_synced.orders",
          "revenue_columns_synced.revenue",
        ]);
        const merged = await q("select count(*)::int as n from dbt_dev_marts.fct_orders");
        assert.equal(merged[0]?.n, 5);
      });

      await t.step("a stray positional is refused, not read as 'build everything'", async () => {
        const { code, out } = await cli("run", "-s", "fct_orders", "--full-refresh", "fct_events");
        assert.equal(code, 2, out);
        assert.match(out, /unexpected argument 'fct_events'/);
      });

      await t.step(
        "--full-refresh rebuilds the incremental model with its new column",
        async () => {
          const { code, out } = await cli(
            "run",
            "--full-refresh",
            "-s",
            "fct_orders",
            "--vars",
            "{with_channel: true}",
          );
          assert.equal(code, 0, out);
          assert.deepEqual(
            await q("select distinct channel from dbt_dev_marts.fct_orders"),
            [{ channel: "web" }],
          );
        },
      );

      await t.step(
        "seed changes reach the timestamp snapshot (invalidate_hard_deletes)",
        async () => {
          await Deno.writeTextFile(
            `${project}/seeds/raw/raw_customers.csv`,
            "id,first_name,country_code,signup_date,updated_at\n" +
              "1,Ana,PT,2024-01-03,2024-01-03 10:00:00\n" +
              "2,Benjamin,US,2024-01-05,2024-03-01 12:00:00\n" +
              "3,Chloé,FR,2024-02-01,2024-02-01 09:30:00\n",
          );
          assert.equal((await cli("seed", "-s", "raw_customers")).code, 0);
          const { code, out } = await cli("snapshot", "-s", "customers_snapshot");
          assert.equal(code, 0, out);
          const rows = await q(
            "select id, first_name, dbt_valid_to is null as current from " +
              "snapshots.customers_snapshot order by id, dbt_valid_from",
          );
          assert.deepEqual(rows, [
            { id: 1, first_name: "Ana", current: true },
            { id: 2, first_name: "Ben", current: false },
            { id: 2, first_name: "Benjamin", current: true },
            { id: 3, first_name: "Chloé", current: true },
            { id: 4, first_name: null, current: false },
          ]);
        },
      );

      await t.step(
        "YAML check snapshot: renamed meta columns, dbt_valid_to_current, hard_deletes new_record",
        async () => {
          const rowsOf = () =>
            q(
              "select order_id, line_no, status, is_deleted, " +
                "valid_to = '9999-12-31'::timestamp as current, dbt_scd_id is not null as scd " +
                "from snapshots.order_status_snapshot where order_id in (3, 4) " +
                "order by order_id, valid_from, is_deleted",
            );
          assert.deepEqual(await rowsOf(), [
            {
              order_id: 3,
              line_no: 1,
              status: "placed",
              is_deleted: "False",
              current: true,
              scd: true,
            },
            {
              order_id: 4,
              line_no: 1,
              status: "completed",
              is_deleted: "False",
              current: true,
              scd: true,
            },
          ]);
          // Order 3 ships; order 4's line is gone from the export.
          const csv = await Deno.readTextFile(`${project}/seeds/raw/raw_orders.csv`);
          await Deno.writeTextFile(
            `${project}/seeds/raw/raw_orders.csv`,
            csv.replace("3,3,1,placed,", "3,3,1,completed,").replace(/^4,1,1,.*\n/m, ""),
          );
          assert.equal((await cli("seed", "-s", "raw_orders")).code, 0);
          const { code, out } = await cli("snapshot", "-s", "order_status_snapshot");
          assert.equal(code, 0, out);
          assert.deepEqual(await rowsOf(), [
            {
              order_id: 3,
              line_no: 1,
              status: "placed",
              is_deleted: "False",
              current: false,
              scd: true,
            },
            {
              order_id: 3,
              line_no: 1,
              status: "completed",
              is_deleted: "False",
              current: true,
              scd: true,
            },
            {
              order_id: 4,
              line_no: 1,
              status: "completed",
              is_deleted: "False",
              current: false,
              scd: true,
            },
            {
              order_id: 4,
              line_no: 1,
              status: "completed",
              is_deleted: "True",
              current: true,
              scd: true,
            },
          ]);
          // Still dbt's manifest v12 with the renamed columns and dbt_valid_to_current in it.
          const manifest = await assertValidArtifactFile(project, "manifest") as {
            nodes: Record<string, { config: Record<string, unknown> }>;
          };
          const config = manifest.nodes["snapshot.acme_analytics.order_status_snapshot"]?.config;
          assert.deepEqual(config?.snapshot_meta_column_names, {
            dbt_valid_from: "valid_from",
            dbt_valid_to: "valid_to",
            dbt_is_deleted: "is_deleted",
          });
        },
      );

      await t.step("source freshness: a stale table errors, exit code 1", async () => {
        const { code, out } = await cli("source", "freshness");
        assert.equal(code, 1, out);
        const sources = JSON.parse(await Deno.readTextFile(`${project}/target/sources.json`));
        const status = Object.fromEntries(
          (sources.results as { unique_id: string; status: string }[]).map((
            r,
          ) => [r.unique_id, r.status]),
        );
        assert.deepEqual(status, {
          "source.acme_analytics.shop.events": "pass",
          "source.acme_analytics.shop.payments": "error",
        });
      });

      await t.step("--target prod: custom schemas as written (generate_schema_name)", async () => {
        const { code, out } = await cli("run", "--target", "prod", "-s", "stg_shop__events");
        assert.equal(code, 0, out);
        assert.deepEqual(await q("select count(*)::int as n from staging.stg_shop__events"), [
          { n: 2 },
        ]);
        assert.deepEqual(
          await q("select count(*)::int as n from analytics_audit.run_log where event = 'end'"),
          [{ n: 1 }],
        );
      });

      await t.step("a ref to a private model from outside its group is refused", async () => {
        await Deno.writeTextFile(
          `${project}/models/marts/core/peek_revenue.sql`,
          "select * from {{ ref('daily_revenue') }}\n",
        );
        const { code, out } = await cli("ls");
        assert.equal(code, 2, out);
        assert.match(
          out,
          /models\/marts\/core\/peek_revenue\.sql: 'peek_revenue' refs 'daily_revenue', which is private to group 'finance'/,
        );
        await Deno.remove(`${project}/models/marts/core/peek_revenue.sql`);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
