/**
 * A project over a package that writes its macros the way the most used dbt
 * packages do (tests/fixtures/dbt/package_probe over packages/probe_kit: see
 * its README) through `deno task dbt deps` and `build` on PGlite, checked by
 * the values it builds: dispatch chains, fetched statements and agate
 * results, relations found by pattern and unioned, `dbt.date_spine`, graph
 * walking, loop controls, and generic tests whose macros read the
 * warehouse (rendered when they run, not with no columns at load).
 */

import assert from "node:assert/strict";
import { copyTree, queryRows, runCli } from "./_project_cli.ts";

const FIXTURES = new URL("../../fixtures/dbt/", import.meta.url).pathname;

/** A warehouse the project builds on: its url and, for DuckDB, the profile naming its file. */
interface ProbeTarget {
  readonly name: string;
  url(dir: string): string;
  profile?(dir: string): string;
  /** What the package's YAML helper says of a text column (`data_type: text` on Postgres). */
  readonly textType: string;
}

const TARGETS: readonly ProbeTarget[] = [
  { name: "pglite", url: (dir) => `pglite:${dir}/warehouse`, textType: "text" },
  {
    name: "duckdb",
    url: (dir) => `duckdb:${dir}/warehouse.duckdb`,
    profile: (dir) =>
      "package_probe:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n" +
      `      path: ${dir}/warehouse.duckdb\n      schema: probe\n`,
    textType: "varchar",
  },
];

for (const target of TARGETS) {
  Deno.test(`package_probe: a package written like dbt-utils / dbt-expectations builds on ${target.name}`, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "dbt-probe-" });
    try {
      const project = `${dir}/proj`;
      await copyTree(`${FIXTURES}/package_probe`, project);
      await copyTree(`${FIXTURES}/packages/probe_kit`, `${dir}/packages/probe_kit`);
      if (target.profile) await Deno.writeTextFile(`${project}/profiles.yml`, target.profile(dir));
      const url = target.url(dir);
      const env: Record<string, string> = { WAREHOUSE_URL: url, HOME: dir };
      const cli = (...args: string[]) => runCli([...args, "--project-dir", project], env);
      const q = (sql: string) => queryRows(url, sql);

      await t.step("deps and build", async () => {
        const deps = await cli("deps");
        assert.equal(deps.code, 0, deps.out);
        const { code, out } = await cli("build");
        assert.equal(code, 0, out);
        assert.match(out, /PASS=\d+ WARN=1 ERROR=0 SKIP=0/);
      });

      await t.step(
        "Jinja facts: statements, agate columns, graph, datetime, loop controls",
        async () => {
          assert.deepEqual(await q("select * from probe.facts"), [{
            n_customers: 3,
            countries: "FR,PT,US",
            country_counts: "1,1,1",
            customer_models: "customer_audit,customers_star",
            yaml_names: 6,
            code_type: target.textType,
            leap_day: "2024-02-29",
            parsed_day: "2024-03-15",
            seen: "FR,US",
            skipped: 1,
            time_zone: "Europe/Paris",
            slug: "hello_world_",
            // dbt.get_columns_in_query names the columns of a query that returns no rows.
            query_columns: "a,b",
            arrays: "1,2,3,4",
            times_ok: true,
          }]);
        },
      );

      await t.step("relations found by pattern, unioned over their column superset", async () => {
        assert.deepEqual(
          await q(
            `select _probe_source as s, order_id, amount::text as amount, channel ` +
              `from probe.orders_unioned order by order_id`,
          ),
          [
            { s: "raw_orders_2023", order_id: 10, amount: "12.50", channel: null },
            { s: "raw_orders_2023", order_id: 11, amount: "7.25", channel: null },
            { s: "raw_orders_2024", order_id: 20, amount: "30.00", channel: "web" },
            { s: "raw_orders_2024", order_id: 21, amount: "4.75", channel: "store" },
            { s: "raw_orders_2024", order_id: 22, amount: "10.00", channel: "web" },
          ],
        );
      });

      await t.step(
        "star with except/prefix over a deduplicated view; compare_relations",
        async () => {
          assert.deepEqual(await q("select * from probe.customers_star order by 1"), [
            { cust_customer_id: 1, cust_code: "AB-101", cust_name: "Ada L." },
            { cust_customer_id: 2, cust_code: "cd-202", cust_name: "Bo" },
            { cust_customer_id: 3, cust_code: "EF-303", cust_name: "Cy" },
          ]);
          assert.deepEqual(
            await q("select in_a, in_b, count from probe.customer_audit order by in_a, in_b"),
            [
              { in_a: false, in_b: true, count: 1 },
              { in_a: true, in_b: false, count: 1 },
              { in_a: true, in_b: true, count: 2 },
            ],
          );
        },
      );

      await t.step("date dimension over dbt.date_spine, end exclusive", async () => {
        const rows = await q(
          "select count(*) as n, min(date_day)::text as first, max(date_day)::text as last, " +
            "string_agg(day_of_week_name_short, ',' order by date_day) filter (where day_number < 3) as names " +
            "from probe.calendar",
        );
        assert.deepEqual(rows, [{
          n: 14,
          first: "2024-01-01",
          last: "2024-01-14",
          names: "Mon,Tue,Wed",
        }]);
      });

      await t.step("graph.nodes and graph.sources carry what evaluators read", async () => {
        assert.deepEqual(
          await q(
            "select name, resource_type, materialized, n_parents, has_columns, access, " +
              "contract_enforced from probe.graph_nodes " +
              "where name in ('stg_customers', 'raw_customers', 'graph_nodes') order by name",
          ),
          [
            {
              name: "graph_nodes",
              resource_type: "model",
              materialized: "table",
              n_parents: 1,
              has_columns: false,
              access: "protected",
              contract_enforced: false,
            },
            {
              name: "raw_customers",
              resource_type: "seed",
              materialized: "seed",
              n_parents: 0,
              has_columns: false,
              // A seed's node has no access: undefined is not none, so quote_wrap prints '' (Jinja2).
              access: "",
              contract_enforced: null,
            },
            {
              name: "stg_customers",
              resource_type: "model",
              materialized: "view",
              n_parents: 1,
              has_columns: true,
              access: "protected",
              contract_enforced: false,
            },
          ],
        );
        // Data tests are nodes of the graph too (12 in schema.yml, two comparing with a second
        // model, and one singular test reading two models).
        assert.deepEqual(
          await q(
            "select count(*) as n, sum(n_parents) as parents, min(file_path) as file " +
              "from probe.graph_nodes where resource_type = 'test'",
          ),
          [{ n: 13, parents: 16, file: "models/schema.yml" }],
        );
        assert.deepEqual(await q("select * from probe.graph_sources"), [{
          source_name: "shop",
          name: "customers",
          identifier: "raw_customers",
          loaded_at_field: "updated_at",
          warn_after_count: 48,
        }]);
      });

      await t.step("tests that read the warehouse are rendered when they run", async () => {
        const results = JSON.parse(
          await Deno.readTextFile(`${project}/target/run_results.json`),
        ) as {
          results: { unique_id: string; status: string; compiled_code: string | null }[];
        };
        const typeList = results.results.find((r) => r.unique_id.includes("in_type_list"));
        assert.equal(typeList?.status, "pass");
        // The model's columns, read at run time (at load the relation has none yet).
        assert.match(typeList?.compiled_code ?? "", /'CUSTOMER_ID'/);
        const ordered = results.results.find((r) => r.unique_id.includes("ordered_list"));
        assert.equal(ordered?.status, "pass");
        // A singular test too: it counts the columns of two relations it reads at run time.
        const singular = results.results.find((r) =>
          r.unique_id.endsWith("assert_star_keeps_columns")
        );
        assert.equal(singular?.status, "pass");
        assert.match(singular?.compiled_code ?? "", /cust_customer_id,cust_code,cust_name/);
        const warned = results.results.find((r) => r.unique_id.includes("code_upper_warns"));
        assert.equal(warned?.status, "warn");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
