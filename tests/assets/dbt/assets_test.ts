/**
 * dbt models as assets in the core graph: keys, groups, deps (sources mapped
 * to the assets that load them), tests as checks, and end to end from seeded
 * raw tables to the marts with core `materialize()`.
 */

import assert from "node:assert/strict";
import { assetFactory, defineGraph, materialize } from "../../../core/mod.ts";
import { dbtAssets, type DbtResources } from "../../../assets/dbt/mod.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import {
  activitySql,
  copyRepoProject,
  RAW_TABLES_SQL,
  weatherSql,
  writeProject,
} from "../../resources/dbt/_fixture.ts";

const asset = assetFactory<DbtResources>();

/** Stand-ins for the pipelines' loaders: they create and fill the raw tables. */
function bronzeStubs() {
  return [
    asset({
      key: "bronze_weather",
      group: "weather",
      resources: ["warehouse"],
      materialize: async (ctx) => {
        const wh = ctx.resources.warehouse;
        if (!(await wh.tableExists("raw", "raw_weather"))) await wh.exec(RAW_TABLES_SQL);
        await wh.execute(weatherSql("Billings MT", "2024-06-01", 3));
        await wh.execute(weatherSql("Bozeman MT", "2024-06-01", 2));
        return { rows: 120 };
      },
    }),
    asset({
      key: "bronze_activity",
      deps: ["bronze_weather"], // the raw tables are created once, by the weather stub
      group: "activity",
      resources: ["warehouse"],
      materialize: async (ctx) => {
        await ctx.resources.warehouse.exec(`${activitySql("u1", "2024-05-01", 40)};
          ${activitySql("u2", "2024-05-20", 10)}`);
        return { rows: 100 };
      },
    }),
  ];
}

Deno.test("dbt assets: definitions from the repo project", async () => {
  await using project = await copyRepoProject();
  const dbt = await dbtAssets(project.dir, { writeArtifacts: false });
  const byKey = new Map(dbt.assets.map((a) => [a.key, a]));
  assert.deepEqual([...byKey.keys()].sort(), [
    "fct_weather_daily",
    "int_user_days",
    "outdoor_conditions_daily",
    "stg_daily_activity",
    "stg_sleep",
    "stg_weather_data",
    "user_baselines",
    "user_deviations",
  ]);
  for (const a of dbt.assets) {
    assert.equal(a.group, "marts");
    assert.deepEqual(a.resources, ["warehouse"]);
    assert.ok(a.description.length > 0, a.key);
  }
  assert.deepEqual(byKey.get("stg_weather_data")?.deps, ["bronze_weather"]);
  assert.deepEqual(byKey.get("stg_daily_activity")?.deps, ["bronze_activity"]);
  assert.deepEqual(byKey.get("stg_sleep")?.deps, ["bronze_activity"]);
  assert.deepEqual(byKey.get("fct_weather_daily")?.deps, ["stg_weather_data"]);
  assert.deepEqual(byKey.get("user_deviations")?.deps, ["int_user_days", "user_baselines"]);
  const outdoor = byKey.get("outdoor_conditions_daily")?.checks ?? [];
  assert.ok(outdoor.some((c) => c.name === "assert_trail_hours_within_observed" && c.blocking));
  const warn = outdoor.find((c) => c.name.startsWith("relationships_"));
  assert.equal(warn?.severity, "warn");
  assert.equal(warn?.blocking, false);
  assert.ok(outdoor.filter((c) => c.name.startsWith("not_null_")).every((c) => c.blocking));
  assert.ok(dbt.assets.every((a) => a.checks.length > 0 || a.key === "int_user_days"));
  assert.deepEqual(dbt.checks, []);
  const withSources = await dbtAssets(project.dir, { writeArtifacts: false, sourceChecks: true });
  assert.deepEqual(
    [...new Set(withSources.checks.map((c) => c.assetKey))].sort(),
    ["bronze_activity", "bronze_weather"],
  );
});

Deno.test("dbt assets: end to end from raw tables to marts with materialize()", async (t) => {
  await using project = await copyRepoProject();
  await using warehouse = await openWarehouse("pglite:memory:");
  const dbt = await dbtAssets(project.dir);
  const graph = defineGraph<DbtResources>({
    assets: [...bronzeStubs(), ...dbt.assets],
    resources: { warehouse },
  });

  await t.step("+fct_weather_daily builds exactly what it needs, in order", async () => {
    const run = await materialize(graph, { selection: "+fct_weather_daily", concurrency: 2 });
    assert.equal(run.status, "success", run.errorSummary ?? "");
    assert.deepEqual(run.steps.map((s) => s.assetKey), [
      "bronze_weather",
      "stg_weather_data",
      "fct_weather_daily",
    ]);
    const rows = await warehouse.query<{ place: string; hours: number }>(
      `select place, hours_observed as hours from analytics_marts.fct_weather_daily order by place, weather_date`,
    );
    assert.equal(rows.length, 5);
    assert.ok(rows.every((r) => Number(r.hours) === 24));
    await warehouse.exec("drop schema raw cascade"); // the full run below loads again
  });

  await t.step("a full run builds every mart and every check passes", async () => {
    const run = await materialize(graph, { concurrency: 2 });
    assert.equal(run.status, "success", run.errorSummary ?? "");
    assert.ok(run.steps.every((s) => s.status === "success"), JSON.stringify(run.steps));
    const checks = run.steps.flatMap((s) => s.checks);
    assert.ok(checks.length >= 40, `${checks.length} checks`);
    const failed = checks.filter((c) => !c.passed);
    assert.deepEqual(failed, []);
    const [outdoor] = await warehouse.query<{ friendly: number; rating: string }>(
      `select trail_friendly_hours as friendly, conditions_rating as rating
       from analytics_marts.outdoor_conditions_daily
       where place = 'Billings MT' and weather_date = '2024-06-01'`,
    );
    // 10 + hour °C: hours 0..20 within 5..30 °C, minus the rainy noon hour.
    assert.equal(Number(outdoor?.friendly), 20);
    assert.equal(outdoor?.rating, "good");
    const deviations = await warehouse.query<{ status: string; n: bigint }>(
      `select steps_status as status, count(*) as n from analytics_marts.user_deviations
       group by 1 order by 1`,
    );
    const byStatus = Object.fromEntries(deviations.map((d) => [d.status, Number(d.n)]));
    assert.equal((byStatus.no_baseline ?? 0) > 0, true); // each user's first days
    assert.equal(Object.values(byStatus).reduce((a, b) => a + b, 0), 50);
    const [baseline] = await warehouse.query<{ days: bigint }>(
      `select baseline_days as days from analytics_marts.user_baselines
       where user_id = 'u1' and activity_date = '2024-06-09'`,
    );
    assert.equal(Number(baseline?.days), 28);
  });

  await t.step(
    "a second run is incremental for fct_weather_daily and adds no duplicates",
    async () => {
      await warehouse.execute(weatherSql("Billings MT", "2024-06-04", 1));
      const run = await materialize(graph, { selection: "fct_weather_daily" });
      assert.equal(run.status, "success", run.errorSummary ?? "");
      const metadata = run.steps[0]?.materialization?.metadata;
      assert.equal(metadata?.incremental, true);
      const [count] = await warehouse.query<{ n: bigint; distinct_ids: bigint }>(
        `select count(*) as n, count(distinct weather_day_id) as distinct_ids
       from analytics_marts.fct_weather_daily`,
      );
      assert.equal(Number(count?.n), 6);
      assert.equal(Number(count?.distinct_ids), 6);
    },
  );

  await t.step("artifacts are written to the project's target/", async () => {
    const manifest = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
    assert.ok(manifest.nodes["model.platform_marts.fct_weather_daily"]);
    const results = JSON.parse(await Deno.readTextFile(`${project.dir}/target/run_results.json`));
    assert.deepEqual(
      results.results.map((r: { unique_id: string }) => r.unique_id).filter((id: string) =>
        id.startsWith("model.")
      ),
      ["model.platform_marts.fct_weather_daily"],
    );
  });
});

Deno.test("dbt assets: failing tests and SQL errors in the asset graph", async () => {
  await using project = await writeProject({
    "models/schema.yml": `version: 2
models:
  - name: dupes
    description: Has a duplicate id.
    columns:
      - name: id
        data_tests: [unique]
  - name: after_dupes
    description: Downstream of a blocking failure.
  - name: warned
    description: Fails a warn-severity test only.
    columns:
      - name: id
        data_tests:
          - not_null:
              config:
                severity: warn
  - name: after_warned
    description: Downstream of a warning.
  - name: broken
    description: Bad SQL.
  - name: after_broken
    description: Downstream of bad SQL.
`,
    "models/dupes.sql": "select 1 as id union all select 1",
    "models/after_dupes.sql": "select * from {{ ref('dupes') }}",
    "models/warned.sql": "select null::int as id",
    "models/after_warned.sql": "select * from {{ ref('warned') }}",
    "models/broken.sql": "select from_nowhere",
    "models/after_broken.sql": "select * from {{ ref('broken') }}",
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const dbt = await dbtAssets(project.dir);
  const graph = defineGraph<DbtResources>({ assets: dbt.assets, resources: { warehouse } });
  const run = await materialize(graph, { concurrency: 1 });
  const status = Object.fromEntries(run.steps.map((s) => [s.assetKey, s.status]));
  assert.deepEqual(status, {
    dupes: "success",
    after_dupes: "skipped",
    warned: "success",
    after_warned: "success",
    broken: "failed",
    after_broken: "skipped",
  });
  assert.equal(run.status, "failed");
  const broken = run.steps.find((s) => s.assetKey === "broken");
  assert.match(broken?.error?.message ?? "", /^models\/broken\.sql:1: model 'broken' failed/);
  const dupes = run.steps.find((s) => s.assetKey === "dupes");
  assert.equal(dupes?.checks[0]?.passed, false);
  assert.equal(dupes?.checks[0]?.metadata.failures, 1);
  const results = JSON.parse(await Deno.readTextFile(`${project.dir}/target/run_results.json`));
  const byId = Object.fromEntries(
    results.results.map((r: { unique_id: string; status: string }) => [r.unique_id, r.status]),
  );
  assert.equal(byId["model.demo.broken"], "error");
  assert.equal(byId["model.demo.dupes"], "success");
  const warnedTest = Object.entries(byId).find(([id]) =>
    id.startsWith("test.demo.not_null_warned")
  );
  assert.equal(warnedTest?.[1], "warn");
});

Deno.test("dbt assets: a test reading two models is a check on the downstream one", async () => {
  await using project = await writeProject({
    "models/order_items.sql": "select 1 as order_id",
    "models/orders.sql": "select distinct order_id from {{ ref('order_items') }}",
    "models/schema.yml": `version: 2
models:
  - name: order_items
    columns:
      - name: order_id
        data_tests:
          - relationships: {to: ref('orders'), field: order_id}
`,
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const dbt = await dbtAssets(project.dir, { writeArtifacts: false });
  const checksOf = (key: string) =>
    dbt.assets.find((a) => a.key === key)?.checks.map((c) => c.name) ?? [];
  assert.deepEqual(checksOf("order_items"), []);
  assert.equal(checksOf("orders").length, 1);
  // A fresh warehouse: every asset and check passes (the test waits for orders).
  const graph = defineGraph<DbtResources>({ assets: dbt.assets, resources: { warehouse } });
  const run = await materialize(graph, { concurrency: 1 });
  assert.equal(run.status, "success", JSON.stringify(run.steps.map((s) => s.error?.message)));
  assert.equal(run.steps.find((s) => s.assetKey === "orders")?.checks[0]?.passed, true);
});

Deno.test("dbt assets: a source never loaded names the command to run", async () => {
  await using project = await writeProject({
    "models/sources.yml": `version: 2
sources:
  - name: raw
    tables:
      - name: weather
        meta: {asset: raw_weather}
`,
    "models/stg_weather.sql": "select * from {{ source('raw', 'weather') }}",
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const dbt = await dbtAssets(project.dir, { writeArtifacts: false });
  const raw = assetFactory<DbtResources>()({ key: "raw_weather", materialize: () => ({}) });
  const graph = defineGraph<DbtResources>({
    assets: [raw, ...dbt.assets],
    resources: { warehouse },
  });
  const run = await materialize(graph, { selection: "stg_weather" });
  const step = run.steps.find((s) => s.assetKey === "stg_weather");
  assert.equal(step?.status, "failed");
  assert.match(step?.error?.message ?? "", /raw_weather.*never been materialized/);
  assert.match(step?.error?.message ?? "", /deno task materialize \+stg_weather/);
  assert.doesNotMatch(step?.error?.message ?? "", /Fix its SQL/);
});

Deno.test("dbt assets: jaffle_shop_classic materializes with every check passing", async () => {
  const fixture = new URL("../../fixtures/dbt/jaffle_shop_classic", import.meta.url).pathname;
  const dir = await Deno.makeTempDir();
  try {
    await using warehouse = await openWarehouse("pglite:memory:");
    const dbt = await dbtAssets(fixture, { targetDir: dir });
    // Seeds are assets too, upstream of the staging models.
    assert.deepEqual(
      dbt.assets.find((a) => a.key === "stg_orders")?.deps,
      ["raw_orders"],
    );
    const graph = defineGraph<DbtResources>({ assets: dbt.assets, resources: { warehouse } });
    const run = await materialize(graph, { concurrency: 2 });
    assert.equal(run.status, "success", JSON.stringify(run.steps.map((s) => s.error?.message)));
    const checks = run.steps.flatMap((s) => s.checks);
    assert.ok(checks.length >= 15);
    assert.ok(checks.every((c) => c.passed), JSON.stringify(checks.filter((c) => !c.passed)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("dbt assets: on-run-start runs once per run, on-run-end after every node", async () => {
  await using project = await writeProject({
    "dbt_project.yml": `name: demo
config-version: 2
profile: demo
on-run-start: "create table if not exists public.hook_log (what text); insert into public.hook_log values ('start')"
on-run-end: "insert into public.hook_log select 'end ' || count(*) from {{ ref('b') }}"
`,
    "models/a.sql": "select 1 as id",
    "models/b.sql": "select * from {{ ref('a') }}",
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const dbt = await dbtAssets(project.dir, { writeArtifacts: false });
  assert.deepEqual(dbt.assets.find((a) => a.key === "dbt_on_run_end")?.deps, ["b"]);
  const graph = defineGraph<DbtResources>({ assets: dbt.assets, resources: { warehouse } });
  const run = await materialize(graph, { concurrency: 2 });
  assert.equal(run.status, "success", JSON.stringify(run.steps.map((s) => s.error?.message)));
  const rows = await warehouse.query<{ what: string }>("select what from public.hook_log");
  assert.deepEqual(rows.map((r) => r.what), ["start", "end 1"]);
});

Deno.test("dbt assets: on-run-end runs after a failed model, with results and the project's macros", async () => {
  await using project = await writeProject({
    "dbt_project.yml": `name: demo
config-version: 2
profile: demo
on-run-end: "{{ log_results(results) }}"
`,
    "macros/log_results.sql": `{% macro log_results(results) %}
create table if not exists public.run_log (node text, status text, message text);
{% for res in results %}
insert into public.run_log values ('{{ res.node.name }}', '{{ res.status }}', {{ "'" ~ (res.message or '') | replace("'", "''") ~ "'" }});
{% endfor %}
{% endmacro %}`,
    "models/a.sql": "select 1 as id",
    "models/broken.sql": "select * from {{ ref('a') }} where no_such_column = 1",
    "models/after_broken.sql": "select * from {{ ref('broken') }}",
    "models/fine.sql": "select * from {{ ref('a') }}",
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const dbt = await dbtAssets(project.dir, { writeArtifacts: false });
  const hook = dbt.assets.find((a) => a.key === "dbt_on_run_end");
  assert.equal(hook?.alwaysRun, true);
  const graph = defineGraph<DbtResources>({ assets: dbt.assets, resources: { warehouse } });
  const run = await materialize(graph, { concurrency: 2 });
  const status = Object.fromEntries(run.steps.map((s) => [s.assetKey, s.status]));
  assert.deepEqual(status, {
    a: "success",
    broken: "failed",
    after_broken: "skipped",
    fine: "success",
    dbt_on_run_end: "success",
  });
  const rows = await warehouse.query<{ node: string; status: string; message: string }>(
    "select node, status, message from public.run_log order by node",
  );
  assert.deepEqual(rows.map((r) => [r.node, r.status]), [
    ["a", "success"],
    ["after_broken", "skipped"],
    ["broken", "error"],
    ["fine", "success"],
  ]);
  assert.match(rows.find((r) => r.node === "broken")?.message ?? "", /no_such_column/);
  assert.match(rows.find((r) => r.node === "after_broken")?.message ?? "", /upstream 'broken'/);
});

Deno.test("dbt assets: what a model's macros log goes to that asset's run log", async () => {
  await using project = await writeProject({
    "dbt_project.yml": "name: demo\nconfig-version: 2\nprofile: demo\n",
    "macros/say.sql":
      "{% macro say(what) %}{% do log('say ' ~ what ~ ' for ' ~ this.name, info=True) %}{% endmacro %}",
    "models/a.sql": "{{ say('hello') }}{{ print('printed by a') }}select 1 as id",
    "models/b.sql": "{{ say('hi') }}select * from {{ ref('a') }}",
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const dbt = await dbtAssets(project.dir, { writeArtifacts: false });
  const graph = defineGraph<DbtResources>({ assets: dbt.assets, resources: { warehouse } });
  const logs: [string | null, string][] = [];
  const run = await materialize(graph, {
    concurrency: 1,
    onEvent: (e) => {
      if (e.type === "log") logs.push([e.assetKey, String(e.data.message)]);
    },
  });
  assert.equal(run.status, "success", JSON.stringify(run.steps.map((s) => s.error?.message)));
  const of = (key: string) => logs.filter(([k]) => k === key).map(([, m]) => m);
  assert.deepEqual(of("a").filter((m) => !m.startsWith("a:")), ["say hello for a", "printed by a"]);
  assert.deepEqual(of("b").filter((m) => !m.startsWith("b:")), ["say hi for b"]);
});

/** A project whose microbatch model reads a source loaded by the asset `raw_events`. */
async function microbatchProject() {
  return await writeProject({
    "models/sources.yml": `version: 2
sources:
  - name: raw
    tables:
      - name: events
        meta: {asset: raw_events}
        config: {event_time: at}
`,
    "models/daily_events.sql":
      `{{ config(materialized='incremental', incremental_strategy='microbatch',
  event_time='at', batch_size='day', begin=(modules.datetime.datetime.utcnow() - modules.datetime.timedelta(days=3)).strftime('%Y-%m-%d'),
  unique_key='id') }}
select id, at, 10 / n as tenth from {{ source('raw', 'events') }}`,
  });
}

/** `YYYY-MM-DD` of today minus `back` days (UTC). */
const dayBack = (back: number) =>
  new Date(Date.now() - back * 86_400_000).toISOString().slice(0, 10);

/** The stand-in loader: one event at noon on each of the last four days (today included). */
const rawEvents = (badDay?: string) =>
  assetFactory<DbtResources>()({
    key: "raw_events",
    resources: ["warehouse"],
    materialize: async (ctx) => {
      const wh = ctx.resources.warehouse;
      await wh.exec("create schema if not exists raw; drop table if exists raw.events");
      await wh.exec("create table raw.events (id integer, at timestamp, n integer)");
      for (const [i, back] of [3, 2, 1, 0].entries()) {
        const day = dayBack(back);
        await wh.execute(
          `insert into raw.events values (${i + 1}, '${day} 12:00:00', ${day === badDay ? 0 : 2})`,
        );
      }
      return { rows: 4 };
    },
  });

Deno.test("dbt assets: a microbatch model materializes its batches; a failed batch fails the step, keeping the others", async () => {
  await using project = await microbatchProject();
  await using warehouse = await openWarehouse("pglite:memory:");
  const dbt = await dbtAssets(project.dir, { writeArtifacts: false });
  assert.equal(dbt.assets.find((a) => a.key === "daily_events")?.partitions, undefined);
  const ok = await materialize(
    defineGraph<DbtResources>({ assets: [rawEvents(), ...dbt.assets], resources: { warehouse } }),
    { selection: "+daily_events" },
  );
  assert.equal(ok.status, "success", ok.errorSummary ?? "");
  const step = ok.steps.find((s) => s.assetKey === "daily_events");
  assert.match(String(step?.materialization?.metadata.message), /MICROBATCH 4 of 4 batches/);
  const ids = async () =>
    (await warehouse.query<{ id: number }>("select id from analytics.daily_events order by id"))
      .map((r) => Number(r.id));
  assert.deepEqual(await ids(), [1, 2, 3, 4]);
  // A division by zero only in yesterday's data: that batch fails, today's and the day before's
  // (the lookback) go in, and the step fails saying so.
  await warehouse.exec("drop schema analytics cascade");
  const broken = await materialize(
    defineGraph<DbtResources>({
      assets: [rawEvents(dayBack(2)), ...dbt.assets],
      resources: { warehouse },
    }),
    { selection: "+daily_events" },
  );
  const failed = broken.steps.find((s) => s.assetKey === "daily_events");
  assert.equal(failed?.status, "failed");
  assert.match(
    failed?.error?.message ?? "",
    /1 of 4 batches failed \(batch \d{8}: .*division by zero/,
  );
  assert.match(failed?.error?.message ?? "", /deno task dbt retry/);
  assert.deepEqual(await ids(), [1, 3, 4]);
});

Deno.test("dbt assets: with microbatchPartitions, a day partition builds that day's batch", async () => {
  await using project = await microbatchProject();
  await using warehouse = await openWarehouse("pglite:memory:");
  const dbt = await dbtAssets(project.dir, { writeArtifacts: false, microbatchPartitions: true });
  const asset = dbt.assets.find((a) => a.key === "daily_events");
  assert.deepEqual(asset?.partitions, { kind: "daily", start: dayBack(3), endOffset: 1 });
  const graph = defineGraph<DbtResources>({
    assets: [rawEvents(), ...dbt.assets],
    resources: { warehouse },
  });
  const loaded = await materialize(graph, { selection: "raw_events" });
  assert.equal(loaded.status, "success", loaded.errorSummary ?? "");
  const run = await materialize(graph, {
    selection: "daily_events",
    partitions: { keys: [dayBack(2)] },
  });
  assert.equal(run.status, "success", run.errorSummary ?? "");
  assert.deepEqual(run.steps.map((s) => `${s.assetKey}[${s.partition}]`), [
    `daily_events[${dayBack(2)}]`,
  ]);
  const rows = await warehouse.query<{ id: number }>("select id from analytics.daily_events");
  assert.deepEqual(rows.map((r) => Number(r.id)), [2]);
  const more = await materialize(graph, {
    selection: "daily_events",
    partitions: { from: dayBack(1), to: dayBack(0) },
  });
  assert.equal(more.status, "success", more.errorSummary ?? "");
  const after = await warehouse.query<{ id: number }>(
    "select id from analytics.daily_events order by id",
  );
  assert.deepEqual(after.map((r) => Number(r.id)), [2, 3, 4]);
});
