/**
 * The proof of #18: a project shaped like dbt Labs' current jaffle-shop
 * (tests/fixtures/dbt/jaffle_shop_modern: seeds in a subfolder enabled by a
 * var, packages from a local folder and a git repo, a dispatching macro,
 * dbt.date_trunc, a surrogate key from a package, unit tests, a
 * relationships test to a downstream model, semantic models) goes through
 * `deno task dbt deps` and `build` unchanged, on PGlite and on a real
 * PostgreSQL, from a fresh warehouse and again after new raw rows; a wrong
 * unit test expectation fails and skips its model. Every artifact the runs
 * write (manifest, run_results, catalog from `docs generate`, sources from
 * `source freshness`) follows dbt's whole published schema (./_dbt_schemas.ts).
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { needs, type Tool } from "../../_helpers/tools.ts";
import { assertValidArtifactFile } from "./_dbt_schemas.ts";

const FIXTURES = new URL("../../fixtures/dbt/", import.meta.url).pathname;

interface Copy extends AsyncDisposable {
  readonly dir: string;
  readonly project: string;
  readonly gitRepo: string;
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.isDirectory) await copyTree(`${from}/${entry.name}`, `${to}/${entry.name}`);
    else await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
  }
}

async function git(cwd: string, ...args: string[]): Promise<void> {
  const out = await new Deno.Command("git", {
    args: ["-c", "user.email=test@example.com", "-c", "user.name=test", ...args],
    cwd,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** The fixture in a temp dir, with the git package as a real repository. */
async function copyJaffle(): Promise<Copy> {
  const dir = await Deno.makeTempDir({ prefix: "jaffle-" });
  await copyTree(`${FIXTURES}/jaffle_shop_modern`, `${dir}/proj`);
  await copyTree(`${FIXTURES}/packages`, `${dir}/packages`);
  const gitRepo = `${dir}/jaffle_date_repo`;
  await copyTree(`${FIXTURES}/packages/jaffle_date`, gitRepo);
  await git(gitRepo, "init", "-q", "-b", "main");
  await git(gitRepo, "add", "-A");
  await git(gitRepo, "commit", "-qm", "jaffle_date");
  return {
    dir,
    project: `${dir}/proj`,
    gitRepo,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function cli(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; out: string; stdout: string }> {
  const lines: string[] = [];
  const stdout: string[] = [];
  const code = await runDbtCli(args, {
    out: (line) => {
      lines.push(line);
      stdout.push(line);
    },
    err: (line) => lines.push(line),
  }, { env: (name) => env[name] });
  return { code, out: lines.join("\n"), stdout: stdout.join("\n") };
}

interface Target {
  readonly name: string;
  /** Native tools or servers it needs (the test's `ignore:` probes them). */
  readonly needs: readonly Tool[];
  open(dir: string): Promise<{ url: string } & AsyncDisposable>;
}

const TARGETS: readonly Target[] = [
  {
    name: "pglite",
    needs: [],
    open: (dir) =>
      Promise.resolve({ url: `pglite:${dir}/warehouse`, [Symbol.asyncDispose]: async () => {} }),
  },
  {
    name: "postgres",
    needs: ["postgres"],
    open: async () => {
      const pg = await startPostgres();
      return { url: pg.url, [Symbol.asyncDispose]: () => pg.stop() };
    },
  },
];

async function count(url: string, sql: string): Promise<number> {
  await using warehouse = await openWarehouse(url);
  const [row] = await warehouse.query<{ n: bigint | number }>(sql);
  return Number(row?.n ?? -1);
}

for (const target of TARGETS) {
  Deno.test(`jaffle_shop_modern builds unchanged on ${target.name}`, {
    ignore: await needs(...target.needs),
  }, async (t) => {
    await using copy = await copyJaffle();
    await using db = await target.open(copy.dir);
    const env = {
      JAFFLE_DATE_REPO: `file://${copy.gitRepo}`,
      WAREHOUSE_URL: db.url,
      STATE_DIR: `${copy.dir}/state`,
      HOME: copy.dir,
    };
    const project = ["--project-dir", copy.project];

    await t.step("deps installs the local and the git package and writes the lock", async () => {
      const { code, out } = await cli(["deps", ...project], env);
      assert.equal(code, 0, out);
      const lock = await Deno.readTextFile(`${copy.project}/package-lock.yml`);
      assert.match(lock, /local: \.\.\/packages\/jaffle_utils/);
      assert.match(lock, /revision: [0-9a-f]{40}/);
      await Deno.stat(`${copy.project}/dbt_packages/jaffle_date/macros/day_series.sql`);
    });

    await t.step("without the var the seeds are disabled and the sources are missing", async () => {
      const { code, out, stdout } = await cli(["ls", ...project, "--resource-type", "seed"], env);
      assert.equal(code, 0, out);
      assert.equal(stdout.trim(), "");
      const enabled = await cli([
        "ls",
        ...project,
        "--resource-type",
        "seed",
        "--vars",
        "{load_source_data: true}",
        "--output",
        "name",
      ], env);
      assert.deepEqual(enabled.stdout.split("\n").sort(), [
        "raw_customers",
        "raw_items",
        "raw_orders",
        "raw_products",
        "raw_stores",
        "raw_supplies",
      ]);
    });

    await t.step("build from a fresh warehouse: every node and test passes", async () => {
      const { code, out } = await cli(
        ["build", ...project, "--vars", "{load_source_data: true}"],
        env,
      );
      assert.equal(code, 0, out);
      assert.match(out, /Done\. PASS=48 WARN=0 ERROR=0 SKIP=0 TOTAL=48/);
      assert.match(out, /note: skipped 1 semantic model: they are in manifest\.json/);
      assert.equal(await count(db.url, "select count(*) as n from jaffle.orders"), 40);
      assert.equal(await count(db.url, "select count(*) as n from jaffle.customers"), 10);
      // The dispatching macro and the package's surrogate key ran.
      assert.equal(
        await count(db.url, "select count(distinct supply_uuid) as n from jaffle.supplies"),
        6,
      );
      const runResults = JSON.parse(
        await Deno.readTextFile(`${copy.dir}/state/dbt/proj/target/run_results.json`),
      );
      assert.equal(runResults.args.which, "build");
      // With STATE_DIR set nothing is written into the project (a read-only code tree works).
      await assert.rejects(Deno.stat(`${copy.project}/target`), Deno.errors.NotFound);
      assert.deepEqual(runResults.args.vars, { load_source_data: true });
      assert.ok(
        runResults.results.some((r: { unique_id: string; status: string }) =>
          r.unique_id.startsWith("unit_test.") && r.status === "pass"
        ),
      );
    });

    await t.step("every artifact follows dbt's whole published schema", async () => {
      const out = `${copy.dir}/state/dbt/proj`;
      const built = await assertValidArtifactFile(out, "run_results");
      assert.ok((built.results as unknown[]).length >= 48);
      const vars = ["--vars", "{load_source_data: true}"];
      const docs = await cli(["docs", "generate", ...project, ...vars], env);
      assert.equal(docs.code, 0, docs.out);
      const catalog = await assertValidArtifactFile(out, "catalog");
      const catalogNodes = catalog.nodes as Record<string, { columns: Record<string, unknown> }>;
      assert.ok(catalogNodes["model.jaffle_shop.orders"]?.columns.order_id);
      assert.ok(catalogNodes["seed.jaffle_shop.raw_orders"]);
      const fresh = await cli(["source", "freshness", ...project, ...vars], env);
      assert.ok(fresh.code === 0 || fresh.code === 1, fresh.out);
      await assertValidArtifactFile(out, "sources");
      // The manifest written last (by source freshness) carries every node kind the project has.
      const manifest = await assertValidArtifactFile(out, "manifest");
      const kinds = new Set(
        Object.values(manifest.nodes as Record<string, { resource_type: string }>)
          .map((n) => n.resource_type),
      );
      assert.deepEqual([...kinds].sort(), ["model", "seed", "test"]);
      for (const key of ["sources", "macros", "docs", "unit_tests"] as const) {
        assert.ok(Object.keys(manifest[key] as object).length > 0, `manifest.${key} is empty`);
      }
      // The semantic model is recorded as dbt records it (and skipped at build time with a note).
      const semantic = manifest.semantic_models as Record<string, Record<string, unknown>>;
      assert.deepEqual(Object.keys(semantic), ["semantic_model.jaffle_shop.orders"]);
      assert.deepEqual(semantic["semantic_model.jaffle_shop.orders"]?.depends_on, {
        macros: [],
        nodes: ["model.jaffle_shop.orders"],
      });
    });

    await t.step("again after new raw rows: the marts follow", async () => {
      await using warehouse = await openWarehouse(db.url);
      await warehouse.exec(`
        insert into jaffle_raw.raw_orders values
          ('o9999', 'c001', '2017-01-02 10:00:00', 's1', 1100, 66, 1166);
        insert into jaffle_raw.raw_items values ('i99999', 'o9999', 'JAF-001');
      `);
      await warehouse.close();
      const { code, out } = await cli(
        [
          "build",
          ...project,
          "--vars",
          "{load_source_data: true}",
          "--exclude",
          "resource_type:seed",
        ],
        env,
      );
      assert.equal(code, 0, out);
      assert.match(out, /ERROR=0 SKIP=0/);
      assert.equal(await count(db.url, "select count(*) as n from jaffle.orders"), 41);
      assert.equal(
        await count(
          db.url,
          "select count_lifetime_orders as n from jaffle.customers where customer_id = 'c001'",
        ) >= 1,
        true,
      );
    });

    await t.step("a wrong unit test expectation fails and skips its model", async () => {
      const file = `${copy.project}/models/marts/marts.yml`;
      const text = await Deno.readTextFile(file);
      assert.match(text, /order_id: 2,\s*count_food_items: 1,\s*count_drink_items: 0/);
      await Deno.writeTextFile(
        file,
        text.replace(/(order_id: 2,\s*count_food_items: 1,\s*count_drink_items:) 0/, "$1 5"),
      );
      const { code, out } = await cli(
        ["build", ...project, "--vars", "{load_source_data: true}", "-s", "+orders"],
        env,
      );
      assert.equal(code, 1, out);
      assert.match(
        out,
        /unit test 'test_order_items_compute_to_bools_correctly' of 'orders': actual rows differ/,
      );
      assert.match(out, /SKIP=[1-9]/);
    });
  });
}

for (const target of TARGETS) {
  Deno.test(`jaffle_shop_classic builds unchanged on ${target.name}`, {
    ignore: await needs(...target.needs),
  }, async () => {
    const dir = await Deno.makeTempDir({ prefix: "jaffle-classic-" });
    try {
      await copyTree(`${FIXTURES}/jaffle_shop_classic`, `${dir}/proj`);
      await using db = await target.open(dir);
      const env = { WAREHOUSE_URL: db.url, STATE_DIR: `${dir}/state`, HOME: dir };
      const { code, out } = await cli(["build", "--project-dir", `${dir}/proj`], env);
      assert.equal(code, 0, out);
      assert.match(out, /Done\. PASS=24 WARN=0 ERROR=0 SKIP=0 TOTAL=24/);
      assert.equal(await count(db.url, "select count(*) as n from classic.orders"), 60);
      assert.equal(
        await count(
          db.url,
          "select count(*) as n from classic.customers where number_of_orders > 0",
        ) >
          0,
        true,
      );
      const manifest = JSON.parse(
        await Deno.readTextFile(`${dir}/state/dbt/proj/target/manifest.json`),
      );
      assert.match(
        manifest.nodes["model.jaffle_shop.orders"].columns.status.description,
        /Orders can be one of the following statuses/,
      );
      assert.equal(manifest.nodes["model.jaffle_shop.orders"].config.materialized, "table");
      assert.equal(manifest.nodes["model.jaffle_shop.stg_orders"].config.materialized, "view");
      const targetDir = `${dir}/state/dbt/proj`;
      await assertValidArtifactFile(targetDir, "manifest");
      await assertValidArtifactFile(targetDir, "run_results");
      const docs = await cli(["docs", "generate", "--project-dir", `${dir}/proj`], env);
      assert.equal(docs.code, 0, docs.out);
      const catalog = await assertValidArtifactFile(targetDir, "catalog");
      assert.ok((catalog.nodes as Record<string, unknown>)["model.jaffle_shop.customers"]);
      const fresh = await cli(["source", "freshness", "--project-dir", `${dir}/proj`], env);
      assert.equal(fresh.code, 0, fresh.out);
      await assertValidArtifactFile(targetDir, "sources");
      const last = await assertValidArtifactFile(targetDir, "manifest");
      assert.ok((last.docs as Record<string, unknown>)["doc.jaffle_shop.orders_status"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
