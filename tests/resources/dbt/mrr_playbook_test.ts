/**
 * A project shaped like the public dbt projects that lean hardest on Jinja
 * (tests/fixtures/dbt/mrr_playbook_like: an MRR playbook over a dbt_utils-like
 * local package): `deno task dbt deps` and `build` unchanged on PGlite and a
 * real PostgreSQL, from a fresh warehouse and again after new raw rows, with
 * the values checked: a month spine from `statement`/`load_result`, pivots
 * over `get_column_values`, a union over relations found in the warehouse,
 * versioned models, incremental merge / delete+insert / append, unit tests in
 * dict, csv and sql formats and one overriding `is_incremental`, YAML and SQL
 * snapshots, `persist_docs`. A wrong unit test expectation fails.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { needs, type Tool } from "../../_helpers/tools.ts";

const FIXTURES = new URL("../../fixtures/dbt/", import.meta.url).pathname;

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

async function cli(args: string[], env: Record<string, string>) {
  const lines: string[] = [];
  const code = await runDbtCli(args, { out: (l) => lines.push(l), err: (l) => lines.push(l) }, {
    env: (name) => env[name],
  });
  return { code, out: lines.join("\n") };
}

interface Target {
  readonly name: string;
  readonly needs: readonly Tool[];
  open(dir: string): Promise<{ url: string } & AsyncDisposable>;
  /** profiles.yml for the target, when not the fixture's own (postgres). */
  profile?(dir: string): string;
  /** SQL giving the comments persist_docs wrote on analytics_marts.mrr: columns d, c. */
  readonly commentsSql: string;
}

const PG_COMMENTS = "select obj_description('analytics_marts.mrr'::regclass) as d, " +
  "col_description('analytics_marts.mrr'::regclass, 6) as c";

const TARGETS: readonly Target[] = [
  {
    name: "pglite",
    needs: [],
    open: (dir) =>
      Promise.resolve({ url: `pglite:${dir}/warehouse`, [Symbol.asyncDispose]: async () => {} }),
    commentsSql: PG_COMMENTS,
  },
  {
    name: "postgres",
    needs: ["postgres"],
    open: async () => {
      const pg = await startPostgres();
      return { url: pg.url, [Symbol.asyncDispose]: () => pg.stop() };
    },
    commentsSql: PG_COMMENTS,
  },
  {
    name: "duckdb",
    needs: [],
    open: (dir) =>
      Promise.resolve({
        url: `duckdb:${dir}/warehouse.duckdb`,
        [Symbol.asyncDispose]: async () => {},
      }),
    profile: (dir) =>
      "mrr_playbook:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n" +
      `      path: ${dir}/warehouse.duckdb\n      schema: analytics\n`,
    commentsSql:
      "select (select comment from duckdb_tables() where schema_name = 'analytics_marts' " +
      "and table_name = 'mrr') as d, (select comment from duckdb_columns() where " +
      "schema_name = 'analytics_marts' and table_name = 'mrr' and column_name = " +
      "'change_category') as c",
  },
];

type Row = Record<string, unknown>;

async function rows(url: string, sql: string): Promise<Row[]> {
  await using warehouse = await openWarehouse(url);
  const found = await warehouse.query<Row>(sql);
  return found.map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [
        k,
        typeof v === "bigint"
          ? Number(v)
          : v instanceof Date
          ? v.toISOString().slice(0, 10)
          : typeof v === "string" && /^-?\d+(\.\d+)?$/.test(v)
          ? Number(v)
          : v,
      ]),
    )
  );
}

for (const target of TARGETS) {
  Deno.test(`mrr_playbook_like builds unchanged on ${target.name}`, {
    ignore: await needs(...target.needs),
  }, async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "mrr-" });
    try {
      await copyTree(`${FIXTURES}/mrr_playbook_like`, `${dir}/proj`);
      await copyTree(`${FIXTURES}/packages`, `${dir}/packages`);
      await using db = await target.open(dir);
      const env: Record<string, string> = { STATE_DIR: `${dir}/state`, HOME: dir };
      if (target.profile) {
        await Deno.writeTextFile(`${dir}/proj/profiles.yml`, target.profile(dir));
      } else env.WAREHOUSE_URL = db.url;
      const project = ["--project-dir", `${dir}/proj`];
      const q = (sql: string) => rows(db.url, sql);

      await t.step("deps and a build from a fresh warehouse: every node passes", async () => {
        const deps = await cli(["deps", ...project], env);
        assert.equal(deps.code, 0, deps.out);
        const { code, out } = await cli(["build", ...project], env);
        assert.equal(code, 0, out);
        assert.match(out, /Done\. PASS=43 WARN=0 ERROR=0 SKIP=0 TOTAL=43/);
      });

      await t.step("the values are the ones dbt computes", async () => {
        // Relations print database.schema.identifier, as dbt-postgres and dbt-duckdb print them.
        const database = target.name === "duckdb" ? '"warehouse"' : '"postgres"';
        // date_spine: statement + load_result + a powers-of-two series; the end is excluded.
        assert.deepEqual(
          await q(
            "select count(*) as n, min(date_month)::date as lo, max(date_month)::date as hi " +
              "from analytics.util_months",
          ),
          [{ n: 5, lo: "2024-01-01", hi: "2024-05-01" }],
        );
        assert.deepEqual(
          await q(
            "select change_category as c, count(*) as n from analytics_marts.mrr group by 1 order by 1",
          ),
          [{ c: "churn", n: 2 }, { c: "new", n: 4 }, { c: "upgrade", n: 1 }],
        );
        // A pivot over values found at build time, one column per category.
        assert.deepEqual(
          await q(
            "select date_month::date as m, churn, new, upgrade, net_change " +
              "from analytics_marts.mrr_summary order by 1",
          ),
          [
            { m: "2024-01-01", churn: 0, new: 150, upgrade: 0, net_change: 150 },
            { m: "2024-02-01", churn: 0, new: 30, upgrade: 0, net_change: 30 },
            { m: "2024-03-01", churn: -30, new: 20, upgrade: 0, net_change: -10 },
            { m: "2024-04-01", churn: 0, new: 0, upgrade: 50, net_change: 50 },
            { m: "2024-05-01", churn: -20, new: 0, upgrade: 0, net_change: -20 },
          ],
        );
        // Values with a space and a quote: escaped in SQL, slugified as column names.
        assert.deepEqual(
          await q(
            "select customer_id, gift_card, stores_credit from analytics_marts.payments_by_method " +
              "where customer_id = 4",
          ),
          [{ customer_id: 4, gift_card: 20, stores_credit: 20 }],
        );
        // Relations found in information_schema, unioned with their columns aligned.
        assert.deepEqual(
          await q(
            "select _dbt_source_relation as r, count(*) as n, count(country) as c " +
              "from analytics_marts.all_staging group by 1 order by 1",
          ),
          [
            { r: `${database}."analytics"."stg_customers"`, n: 5, c: 5 },
            { r: `${database}."analytics"."stg_subscription_periods"`, n: 5, c: 0 },
          ],
        );
        assert.deepEqual(await q("select * from analytics_marts.relation_facts"), [{
          found_identifier: "stg_payments",
          found_is_view: true,
          rendered: '"analytics"."stg_payments"',
          column_names: "id,subscription_id,customer_id,payment_method,amount,paid_at,amount_cents",
          text_columns: "payment_method",
          missing_is_none: true,
          self_name: "relation_facts",
        }]);
        assert.deepEqual(await q("select * from analytics_marts.graph_facts"), [{
          n_models: 17,
          staging: "stg_customers,stg_payments,stg_subscription_periods",
          source_identifier: "raw_customers",
          me: "model.mrr_playbook.graph_facts",
          materialized: "table",
          rendered: `${database.replaceAll('"', "")}.analytics_marts.graph_facts`,
          a_date: "2024-03-05",
        }]);
        // Versioned models: one relation per version, refs by version and to the latest.
        assert.deepEqual(await q("select * from analytics.customer_counts"), [
          { v1_rows: 5, latest_rows: 5, v2_rows: 5 },
        ]);
        assert.deepEqual(
          await q(
            "select table_name as t, count(*) as n from information_schema.columns " +
              "where table_name like 'dim_customers%' group by 1 order by 1",
          ),
          [{ t: "dim_customers_v1", n: 2 }, { t: "dim_customers_v2", n: 3 }],
        );
        assert.deepEqual(
          await q(
            "select acquisition as a, count(*) as n from analytics.stg_customers group by 1 order by 1",
          ),
          [{ a: "FREE", n: 3 }, { a: "PAID", n: 2 }],
        );
        assert.deepEqual(
          await q(target.commentsSql),
          [{
            d: "Monthly recurring revenue changes, per customer and month.",
            c: "What changed this month.",
          }],
        );
        assert.deepEqual(
          await q(
            "select count(*) as n, max(big_payments_seen) as b from analytics_marts.customer_months",
          ),
          [{ n: 13, b: 3 }],
        );
        assert.deepEqual(
          await q("select count(*) as n from analytics_snapshots.subscriptions_snapshot"),
          [{ n: 5 }],
        );
      });

      await t.step("again after new raw rows: incremental models take them in", async () => {
        const raw = `${dir}/proj/seeds/raw`;
        await Deno.writeTextFile(
          `${raw}/raw_subscription_periods.csv`,
          "6,5,2024-05-01,,80\n",
          { append: true },
        );
        await Deno.writeTextFile(
          `${raw}/raw_payments.csv`,
          "7,6,5,credit_card,8000,2024-05-01\n",
          { append: true },
        );
        const { code, out } = await cli(["build", ...project], env);
        assert.equal(code, 0, out);
        assert.match(out, /Done\. PASS=43 WARN=0 ERROR=0 SKIP=0 TOTAL=43/);
        assert.deepEqual(
          await q(
            "select net_change, new from analytics_marts.mrr_summary where date_month = '2024-05-01'",
          ),
          [{ net_change: 60, new: 80 }],
        );
        assert.deepEqual(
          await q(
            "select count(*) as n, count(distinct customer_id) as c " +
              "from analytics_marts.customer_months",
          ),
          [{ n: 14, c: 5 }],
        );
        assert.deepEqual(await q("select count(*) as n from analytics_marts.payments_log"), [
          { n: 7 },
        ]);
        assert.deepEqual(
          await q(
            "select count(*) as n, count(distinct id) as d from analytics_marts.payments_history",
          ),
          [{ n: 7, d: 7 }],
        );
        // The snapshot kept the first version of every row and added the new one.
        assert.deepEqual(
          await q("select count(*) as n from analytics_snapshots.subscriptions_snapshot"),
          [{ n: 6 }],
        );
      });

      await t.step("dbt seed refills seed tables in place: the views over them stay", async () => {
        const seed = await cli(["seed", ...project], env);
        assert.equal(seed.code, 0, seed.out);
        assert.deepEqual(await q("select count(*) as n from analytics.stg_payments"), [{ n: 7 }]);
        const snapshot = await cli(["snapshot", ...project], env);
        assert.equal(snapshot.code, 0, snapshot.out);
        // A changed header is a new table: it is created anew (what read it is rebuilt next).
        const raw = `${dir}/proj/seeds/raw/raw_customers.csv`;
        const text = await Deno.readTextFile(raw);
        await Deno.writeTextFile(raw, text.replace("signup_source", "signup_channel"));
        const changed = await cli(["seed", ...project, "-s", "raw_customers"], env);
        assert.equal(changed.code, 0, changed.out);
        assert.deepEqual(
          await q(
            "select count(*) as n from information_schema.columns " +
              "where table_name = 'raw_customers' and column_name = 'signup_channel'",
          ),
          [{ n: 1 }],
        );
        await Deno.writeTextFile(raw, text);
        const back = await cli(["build", ...project], env);
        assert.equal(back.code, 0, back.out);
      });

      await t.step("a wrong unit test expectation fails, naming the rows", async () => {
        const file = `${dir}/proj/models/staging/unit_tests.yml`;
        const text = await Deno.readTextFile(file);
        await Deno.writeTextFile(
          file,
          text.replace("select 7 as id, 7.0 as amount", "select 7 as id, 7.5 as amount"),
        );
        const { code, out } = await cli(["test", ...project, "-s", "stg_payments"], env);
        assert.equal(code, 1, out);
        assert.match(out, /FAIL unit_test\.mrr_playbook\.stg_payments\.payments_in_dollars_sql/);
        assert.match(out, /"dbt_unit_diff":"missing","id":7,"amount":"?7\.5/);
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
