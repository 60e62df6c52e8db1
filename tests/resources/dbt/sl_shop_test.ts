/**
 * A project shaped like dbt-labs' current jaffle-shop / jaffle-sl-template
 * (tests/fixtures/dbt/sl_shop) through `deno task dbt` on PGlite and a real
 * PostgreSQL, one build shared by the steps: the semantic layer (semantic
 * models, simple/filtered/ratio/derived/cumulative/conversion metrics, a saved
 * query) parsed into the manifest as dbt 1.8+ does, selectable and listed,
 * skipped by `build` with a note; unit tests reading `format: csv` / `format:
 * sql` fixture files under tests/fixtures (which are not singular tests), an
 * inline csv with a quoted comma, and `overrides` of `is_incremental`, a
 * dispatched project macro, `vars` and `env_vars`; `ls` listing sources and
 * exposures as dbt does; an incremental mart over
 * new raw rows; compile, docs generate, source freshness; every artifact valid
 * against dbt's published schema.
 */

import assert from "node:assert/strict";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { needs } from "../../_helpers/tools.ts";
import { assertValidArtifactFile } from "./_dbt_schemas.ts";
import { CLI_TARGETS, copyTree, queryRows, runCli } from "./_project_cli.ts";

const FIXTURE = new URL("../../fixtures/dbt/sl_shop/", import.meta.url).pathname;

const RAW = `
create schema if not exists shop_raw;
create table shop_raw.orders (id int, customer_id int, ordered_at date, subtotal_cents int, _loaded_at timestamp);
create table shop_raw.customers (id int, name text);
insert into shop_raw.orders values
  (1, 1, '2024-01-01', 1000, '2024-01-01 10:00'),
  (2, 1, '2024-01-05', 6000, '2024-01-05 10:00'),
  (3, 2, '2024-01-06', 2500, '2024-01-06 10:00');
insert into shop_raw.customers values (1, 'Ann'), (2, 'Bo');
`;

for (const target of CLI_TARGETS) {
  Deno.test(`sl_shop (semantic layer, unit test fixtures) builds on ${target.name}`, {
    ignore: await needs(...target.needs),
  }, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "dbt-sl-shop-" });
    try {
      const project = `${dir}/proj`;
      await copyTree(FIXTURE, project);
      await using db = await target.open(dir);
      {
        await using warehouse = await openWarehouse(db.url, { onNotice: () => {} });
        await warehouse.exec(RAW);
      }
      const env: Record<string, string> = { WAREHOUSE_URL: db.url, HOME: dir };
      const cli = (...args: string[]) => runCli([...args, "--project-dir", project], env);
      const q = (sql: string) => queryRows(db.url, sql);

      await t.step(
        "build from a fresh warehouse; the semantic layer is skipped with a note",
        async () => {
          const { code, out } = await cli("build");
          assert.equal(code, 0, out);
          assert.match(out, /Done\. PASS=21 WARN=0 ERROR=0 SKIP=0 TOTAL=21/);
          assert.match(
            out,
            /note: skipped 2 semantic models, 8 metrics, 1 saved query: they are in manifest\.json/,
          );
          // The three unit tests ran: fixture files, overrides, inline csv with a quoted comma.
          for (
            const name of [
              "orders_add_tax_in_dollars",
              "orders_incremental_reads_only_new_rows",
              "customers_types",
            ]
          ) {
            assert.match(out, new RegExp(`PASS unit test ${name} `));
          }
          // Fixture files are not singular tests.
          assert.doesNotMatch(out, /stg_orders_with_old_row|orders_already_built/);
          assert.deepEqual(
            await q("select order_id, tax_paid::text as tax, currency from sl.orders order by 1"),
            [
              { order_id: 1, tax: "1.00", currency: "USD" },
              { order_id: 2, tax: "6.00", currency: "USD" },
              { order_id: 3, tax: "2.50", currency: "USD" },
            ],
          );
          const run = await assertValidArtifactFile(project, "run_results");
          const ids = (run.results as { unique_id: string }[]).map((r) => r.unique_id);
          assert.ok(!ids.some((id) => /^(semantic_model|metric|saved_query)\./.test(id)));
        },
      );

      await t.step("the manifest carries the semantic layer as dbt 1.8+ writes it", async () => {
        const manifest = await assertValidArtifactFile(project, "manifest");
        type Entry = Record<string, unknown> & { depends_on: { nodes: string[] } };
        const sm = manifest.semantic_models as Record<string, Entry>;
        const metrics = manifest.metrics as Record<string, Entry>;
        const saved = manifest.saved_queries as Record<string, Entry>;
        assert.deepEqual(Object.keys(sm).sort(), [
          "semantic_model.sl_shop.customers",
          "semantic_model.sl_shop.orders",
        ]);
        const orders = sm["semantic_model.sl_shop.orders"] as Entry;
        assert.deepEqual(orders.depends_on.nodes, ["model.sl_shop.orders"]);
        assert.deepEqual(orders.node_relation, {
          alias: "orders",
          schema_name: "sl",
          database: "postgres",
          // As the model node's relation_name, the database included as dbt-postgres writes it.
          relation_name: '"postgres"."sl"."orders"',
        });
        assert.deepEqual(orders.fqn, ["sl_shop", "marts", "orders"]);
        // create_metric: true made a simple metric of the measure.
        assert.deepEqual(Object.keys(metrics).sort(), [
          "metric.sl_shop.large_order_share",
          "metric.sl_shop.large_orders",
          "metric.sl_shop.new_customer_revenue",
          "metric.sl_shop.order_count",
          "metric.sl_shop.order_total",
          "metric.sl_shop.ordering_rate",
          "metric.sl_shop.revenue_last_7_days",
          "metric.sl_shop.revenue_per_order",
        ]);
        const metric = (name: string) => metrics[`metric.sl_shop.${name}`] as Entry;
        // The MetricFlow template in a filter is kept as written, never rendered by dbt's Jinja.
        assert.deepEqual(metric("new_customer_revenue").filter, {
          where_filters: [{
            where_sql_template: "{{ Dimension('customer__customer_type') }} = 'new'",
          }],
        });
        assert.deepEqual(metric("large_order_share").depends_on.nodes, [
          "metric.sl_shop.large_orders",
          "metric.sl_shop.order_count",
        ]);
        // A derived metric's input measures are those of the metrics it reads.
        const derived = metric("revenue_per_order").type_params as {
          input_measures: { name: string }[];
        };
        assert.deepEqual(derived.input_measures.map((m) => m.name).sort(), [
          "order_count",
          "order_total",
        ]);
        assert.deepEqual(
          (metric("revenue_last_7_days").type_params as { window: unknown }).window,
          { count: 7, granularity: "day" },
        );
        assert.deepEqual(metric("ordering_rate").depends_on.nodes, [
          "semantic_model.sl_shop.customers",
          "semantic_model.sl_shop.orders",
        ]);
        const daily = saved["saved_query.sl_shop.daily_orders"] as Entry;
        assert.deepEqual((daily.exports as unknown[])[0], {
          name: "daily_orders",
          config: {
            export_as: "table",
            schema_name: "exports",
            alias: "daily_orders",
            database: "postgres",
          },
          unrendered_config: {},
        });
        const parents = manifest.parent_map as Record<string, string[]>;
        assert.deepEqual(parents["saved_query.sl_shop.daily_orders"], [
          "metric.sl_shop.large_order_share",
          "metric.sl_shop.order_count",
          "metric.sl_shop.order_total",
        ]);
        const children = manifest.child_map as Record<string, string[]>;
        assert.ok(children["model.sl_shop.orders"]?.includes("semantic_model.sl_shop.orders"));
        // The unit tests' overrides are recorded.
        const unit = (manifest.unit_tests as Record<string, Entry>)[
          "unit_test.sl_shop.orders.orders_add_tax_in_dollars"
        ] as Entry;
        assert.deepEqual(unit.overrides, {
          macros: { shop_loaded_at: "cast('2024-06-01 00:00:00' as timestamp)" },
          vars: { tax_rate: 0.2 },
          env_vars: { SHOP_CURRENCY: "EUR" },
        });
      });

      await t.step("ls lists and selects semantic models, metrics and saved queries", async () => {
        const all = await cli(
          "ls",
          "--resource-type",
          "semantic_model",
          "--resource-type",
          "saved_query",
        );
        assert.equal(all.code, 0, all.out);
        assert.deepEqual(all.stdout.split("\n").sort(), [
          "saved_query:sl_shop.daily_orders",
          "semantic_model:sl_shop.customers",
          "semantic_model:sl_shop.orders",
        ]);
        const down = await cli("ls", "-s", "metric:order_count+", "--output", "name");
        assert.equal(down.code, 0, down.out);
        assert.deepEqual(down.stdout.split("\n").sort(), [
          "daily_orders",
          "large_order_share",
          "order_count",
          "revenue_per_order",
        ]);
        const up = await cli("ls", "-s", "+saved_query:daily_orders", "--resource-type", "model");
        assert.equal(up.code, 0, up.out);
        assert.deepEqual(up.stdout.split("\n").sort(), [
          "sl_shop.marts.orders",
          "sl_shop.staging.stg_orders",
        ]);
        // As dbt ls: sources and exposures are listed too (never built).
        const listed = await cli("ls", "--resource-type", "source", "--resource-type", "exposure");
        assert.equal(listed.code, 0, listed.out);
        assert.deepEqual(listed.stdout.split("\n").sort(), [
          "exposure:sl_shop.weekly_revenue",
          "source:sl_shop.shop_raw.customers",
          "source:sl_shop.shop_raw.orders",
        ]);
        const fromSource = await cli("ls", "-s", "source:shop_raw.orders+", "--output", "name");
        assert.equal(fromSource.code, 0, fromSource.out);
        assert.ok(fromSource.stdout.split("\n").includes("weekly_revenue"), fromSource.out);
        // Selecting only the semantic layer builds nothing, and says so.
        const only = await cli("build", "-s", "semantic_model:*");
        assert.equal(only.code, 0, only.out);
        assert.match(only.out, /note: skipped 2 semantic models/);
        assert.match(only.out, /Nothing to do|TOTAL=0/);
      });

      await t.step("again after new raw rows: the incremental mart takes only them", async () => {
        {
          await using warehouse = await openWarehouse(db.url, { onNotice: () => {} });
          await warehouse.exec(`
            insert into shop_raw.orders values (4, 2, '2024-02-01', 9000, '2024-02-01 10:00');
            insert into shop_raw.customers values (3, 'Cy');
          `);
        }
        const { code, out } = await cli("build", "--vars", "{tax_rate: 0.2}");
        assert.equal(code, 0, out);
        // Old rows keep the tax they were built with; the new one uses the new var.
        assert.deepEqual(
          await q("select order_id, tax_paid::text as tax from sl.orders order by 1"),
          [
            { order_id: 1, tax: "1.00" },
            { order_id: 2, tax: "6.00" },
            { order_id: 3, tax: "2.50" },
            { order_id: 4, tax: "18.00" },
          ],
        );
        assert.deepEqual(
          await q("select customer_id, customer_type from sl.customers order by 1"),
          [
            { customer_id: 1, customer_type: "returning" },
            { customer_id: 2, customer_type: "returning" },
            { customer_id: 3, customer_type: "new" },
          ],
        );
      });

      await t.step(
        "compile, docs generate and source freshness write valid artifacts",
        async () => {
          const compiled = await cli("compile");
          assert.equal(compiled.code, 0, compiled.out);
          assert.doesNotMatch(compiled.out, /note: skipped/);
          const sql = await Deno.readTextFile(
            `${project}/target/compiled/sl_shop/models/marts/orders.sql`,
          );
          assert.match(sql, /round\(\(subtotal_cents \/ 100\.0\)::numeric, 2\)|subtotal \* 0\.1/);
          const docs = await cli("docs", "generate");
          assert.equal(docs.code, 0, docs.out);
          const catalog = await assertValidArtifactFile(project, "catalog");
          assert.ok((catalog.nodes as Record<string, unknown>)["model.sl_shop.orders"]);
          const fresh = await cli("source", "freshness");
          // The newest row is from 2024: past error_after.
          assert.equal(fresh.code, 1, fresh.out);
          assert.match(fresh.out, /ERROR STALE|error/i);
          const sources = await assertValidArtifactFile(project, "sources");
          assert.deepEqual(
            (sources.results as { unique_id: string; status: string }[]).map((
              r,
            ) => [r.unique_id, r.status]),
            [["source.sl_shop.shop_raw.orders", "error"]],
          );
          await assertValidArtifactFile(project, "manifest");
          // A selection picks the sources checked (here: one without freshness, so none).
          const picked = await cli("source", "freshness", "-s", "source:shop_raw.customers");
          assert.equal(picked.code, 0, picked.out);
          const none = await assertValidArtifactFile(project, "sources");
          assert.deepEqual(none.results, []);
        },
      );
    } finally {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}

Deno.test("semantic layer mistakes fail at parse naming the entry", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "dbt-sl-bad-" });
  try {
    const project = `${dir}/proj`;
    await copyTree(FIXTURE, project);
    const yml = `${project}/models/marts/marts.yml`;
    const original = await Deno.readTextFile(yml);
    const parse = () => runCli(["parse", "--project-dir", project], { HOME: dir });
    for (
      const [name, from, to, pattern] of [
        [
          "an unknown aggregation",
          "        agg: count_distinct\n\nmetrics:",
          "        agg: distinct\n\nmetrics:",
          /semantic model 'customers': measure 'customers' has agg 'distinct'/,
        ],
        [
          "a metric over a measure nobody defines",
          "      measure: large_order_count",
          "      measure: big_orders",
          /metric 'large_orders': measure 'big_orders' is not a measure of any semantic model/,
        ],
        [
          "a saved query over an unknown metric",
          "metrics: [order_total, order_count, large_order_share]",
          "metrics: [order_total, revenue]",
          /saved query 'daily_orders': metric 'revenue' is not a metric of this project/,
        ],
        [
          "a semantic model over a missing model",
          "    model: ref('customers')",
          "    model: ref('customer')",
          /semantic model 'customers': model: ref\('customer'\) names no enabled model/,
        ],
        [
          "a time dimension without a granularity",
          "      - name: first_ordered_at\n        type: time\n        type_params:\n          time_granularity: day",
          "      - name: first_ordered_at\n        type: time",
          /time dimension 'first_ordered_at' needs type_params\.time_granularity/,
        ],
        [
          "a unit test fixture file that does not exist",
          "        fixture: stg_orders_two",
          "        fixture: stg_orders_three",
          /no fixture file stg_orders_three\.csv under the test paths' fixtures\/ folder/,
        ],
        [
          "an override of a macro nobody defines",
          "        shop_loaded_at: \"cast('2024-06-01 00:00:00' as timestamp)\"",
          '        shop_loaded: "now()"',
          /overrides\.macros\.shop_loaded names no macro/,
        ],
      ] as const
    ) {
      await t.step(name, async () => {
        assert.ok(original.includes(from), from);
        await Deno.writeTextFile(yml, original.replace(from, to));
        const { code, out } = await parse();
        assert.equal(code, 2, out);
        assert.match(out, pattern);
        assert.match(out, /marts\.yml/);
      });
    }
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("dbt_project.yml configures semantic models, metrics and saved queries by folder", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbt-sl-config-" });
  try {
    const project = `${dir}/proj`;
    await copyTree(FIXTURE, project);
    await Deno.writeTextFile(
      `${project}/dbt_project.yml`,
      (await Deno.readTextFile(`${project}/dbt_project.yml`)) + `
semantic-models:
  sl_shop:
    marts:
      +meta:
        domain: sales
metrics:
  sl_shop:
    +group: null
    marts:
      revenue_last_7_days:
        +enabled: false
saved-queries:
  sl_shop:
    +enabled: false
`,
    );
    const run = await runCli(["parse", "--project-dir", project], { HOME: dir });
    assert.equal(run.code, 0, run.out);
    // Applied, so never reported as a dbt key without effect here.
    assert.doesNotMatch(run.out, /not applied|no effect/, run.out);
    const manifest = await assertValidArtifactFile(project, "manifest");
    type Entry = { config: { meta: Record<string, unknown> } };
    const sm = manifest.semantic_models as Record<string, Entry>;
    assert.deepEqual(sm["semantic_model.sl_shop.orders"]?.config.meta, { domain: "sales" });
    const metrics = Object.keys(manifest.metrics as object);
    assert.ok(metrics.includes("metric.sl_shop.order_total"));
    assert.ok(!metrics.includes("metric.sl_shop.revenue_last_7_days"));
    assert.deepEqual(manifest.saved_queries, {});
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
