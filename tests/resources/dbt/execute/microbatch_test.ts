/**
 * dbt's `microbatch` incremental strategy (resources/dbt/execute/microbatch.ts
 * and its use in materialize.ts, run.ts, cli.ts, retry.ts): which batches a
 * run builds, inputs with `event_time` read through the batch's window,
 * lookback and late rows, `--event-time-start/-end`, a failed batch giving
 * `partial success` with `batch_results`, and `retry` rebuilding only that
 * batch, on PGlite, DuckDB and PostgreSQL through `deno task dbt`.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../../resources/dbt/cli.ts";
import { loadProject } from "../../../../resources/dbt/mod.ts";
import { DbtErrorCode } from "../../../../resources/dbt/errors.ts";
import {
  batchId,
  ceilingTime,
  offsetTime,
  planBatches,
  truncateTime,
} from "../../../../resources/dbt/execute/microbatch.ts";
import type { MicrobatchConfig } from "../../../../resources/dbt/nodes.ts";
import { openWarehouse } from "../../../../resources/warehouse/mod.ts";
import { startPostgres } from "../../../_helpers/postgres.ts";
import { needs } from "../../../_helpers/tools.ts";
import { assertValidArtifact } from "../_dbt_schemas.ts";
import { writeProject } from "../_fixture.ts";

const t = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

Deno.test("microbatch: batches laid out as dbt's MicrobatchBuilder lays them", () => {
  assert.equal(iso(truncateTime(t("2024-09-17T16:06:00Z"), "hour")), "2024-09-17T16:00:00.000Z");
  assert.equal(iso(truncateTime(t("2024-09-17T16:06:00Z"), "month")), "2024-09-01T00:00:00.000Z");
  assert.equal(iso(offsetTime(t("2024-09-17T16:06:00Z"), "month", -1)), "2024-08-01T00:00:00.000Z");
  assert.equal(iso(offsetTime(t("2024-01-31T00:00:00Z"), "month", 1)), "2024-02-01T00:00:00.000Z");
  assert.equal(iso(offsetTime(t("2024-09-17T16:06:00Z"), "year", 1)), "2025-01-01T00:00:00.000Z");
  assert.equal(iso(ceilingTime(t("2024-09-17T16:06:00Z"), "day")), "2024-09-18T00:00:00.000Z");
  assert.equal(iso(ceilingTime(t("2024-09-17T00:00:00Z"), "day")), "2024-09-17T00:00:00.000Z");
  assert.equal(batchId(t("2024-09-17T16:00:00Z"), "hour"), "20240917T16");
  assert.equal(batchId(t("2024-09-01T00:00:00Z"), "month"), "20240901");
  const config: MicrobatchConfig = {
    eventTime: "at",
    batchSize: "day",
    begin: t("2024-01-01T00:00:00Z"),
    lookback: 1,
    concurrentBatches: null,
  };
  const now = t("2024-01-05T10:00:00Z");
  const ids = (input: Parameters<typeof planBatches>[1], c = config) =>
    planBatches(c, input).map((b) => `${b.id} ${iso(b.start)}..${iso(b.end)}`);
  // First run: every batch from begin to the one now falls in.
  assert.equal(ids({ incremental: false, now }).length, 5);
  assert.deepEqual(
    ids({ incremental: false, now }).at(-1),
    [
      "20240105 2024-01-05T00:00:00.000Z..2024-01-06T00:00:00.000Z",
    ].at(0),
  );
  // Incremental: lookback (1) batches before the current one, and the current one.
  assert.deepEqual(ids({ incremental: true, now }), [
    "20240104 2024-01-04T00:00:00.000Z..2024-01-05T00:00:00.000Z",
    "20240105 2024-01-05T00:00:00.000Z..2024-01-06T00:00:00.000Z",
  ]);
  assert.equal(ids({ incremental: true, now }, { ...config, lookback: 3 }).length, 4);
  // --event-time-start/-end: the window, cut to batches, the last ending exactly at the end.
  assert.deepEqual(
    ids({
      incremental: true,
      now,
      eventTimeStart: t("2023-12-30T12:00:00Z"),
      eventTimeEnd: t("2024-01-01T06:00:00Z"),
    }),
    [
      "20231230 2023-12-30T00:00:00.000Z..2023-12-31T00:00:00.000Z",
      "20231231 2023-12-31T00:00:00.000Z..2024-01-01T00:00:00.000Z",
      "20240101 2024-01-01T00:00:00.000Z..2024-01-02T00:00:00.000Z",
    ],
  );
  const monthly = { ...config, batchSize: "month" as const };
  assert.deepEqual(ids({ incremental: true, now: t("2024-03-10T00:00:00Z") }, monthly), [
    "20240201 2024-02-01T00:00:00.000Z..2024-03-01T00:00:00.000Z",
    "20240301 2024-03-01T00:00:00.000Z..2024-04-01T00:00:00.000Z",
  ]);
  // A begin after now builds nothing rather than a backwards batch.
  assert.deepEqual(ids({ incremental: false, now }, { ...config, begin: t("2025-01-01") }), []);
});

const MODEL = `{{ config(
    materialized='incremental',
    incremental_strategy='microbatch',
    event_time='event_at',
    batch_size='day',
    begin='2024-01-01',
    unique_key='id'
) }}
select e.id, e.event_at, e.amount, cast(e.qty as integer) as qty, u.name,
  '{{ model.batch.id }}' as batch_id
from {{ source('raw', 'events') }} e
join {{ ref('users_dim') }} u on u.user_id = e.user_id
`;

const PROFILES = `demo:
  target: embedded
  outputs:
    embedded:
      type: postgres
      host: localhost
      schema: analytics
    duck:
      type: duckdb
      path: ":memory:"
      schema: analytics
`;

function files(model = MODEL): Record<string, string> {
  return {
    "profiles.yml": PROFILES,
    "models/sources.yml": `version: 2
sources:
  - name: raw
    schema: raw
    tables:
      - name: events
        config:
          event_time: event_at
      - name: users
`,
    // No event_time: read whole in every batch.
    "models/users_dim.sql":
      "{{ config(materialized='table') }}select * from {{ source('raw', 'users') }}",
    "models/daily_events.sql": model,
    "models/event_totals.sql":
      "{{ config(materialized='table') }}select count(*) as n from {{ ref('daily_events') }}",
  };
}

/** Raw rows: one per day from 2023-12-31 (before begin) to 2024-01-06 (after the first now). */
const RAW_SQL = [
  "create schema raw",
  "create table raw.users (user_id integer, name text)",
  "insert into raw.users values (1, 'ada'), (2, 'bob')",
  "create table raw.events (id integer, user_id integer, event_at timestamp, amount integer, qty text)",
  `insert into raw.events values
    (1, 1, '2023-12-31 23:00:00', 10, '1'),
    (2, 1, '2024-01-01 00:00:00', 11, '1'),
    (3, 2, '2024-01-02 05:00:00', 12, '2'),
    (4, 1, '2024-01-03 12:00:00', 13, '3'),
    (5, 2, '2024-01-04 23:59:59', 14, '4'),
    (6, 1, '2024-01-05 09:00:00', 15, '5'),
    (7, 2, '2024-01-06 01:00:00', 16, '6')`,
];

/** The model's rows computed from the raw tables in one query, for events in `[from, to)`. */
const reference = (from: string, to: string) =>
  `select e.id, e.amount, cast(e.qty as integer) as qty, u.name from raw.events e
   join raw.users u on u.user_id = e.user_id
   where e.event_at >= '${from}' and e.event_at < '${to}' order by e.id`;
const BUILT = "select id, amount, qty, name from analytics.daily_events order by id";

interface Target {
  readonly name: string;
  readonly tools: readonly "postgres"[];
  readonly cliArgs: readonly string[];
  open(dir: string): Promise<{ url: string } & AsyncDisposable>;
}

const TARGETS: readonly Target[] = [
  {
    name: "pglite",
    tools: [],
    cliArgs: [],
    open: (dir) =>
      Promise.resolve({ url: `pglite:${dir}/warehouse`, [Symbol.asyncDispose]: async () => {} }),
  },
  {
    name: "duckdb",
    tools: [],
    cliArgs: ["-t", "duck"],
    open: (dir) =>
      Promise.resolve({
        url: `duckdb:${dir}/warehouse.duckdb`,
        [Symbol.asyncDispose]: async () => {},
      }),
  },
  {
    name: "postgres",
    tools: ["postgres"],
    cliArgs: [],
    open: async () => {
      const pg = await startPostgres();
      return { url: pg.url, [Symbol.asyncDispose]: () => pg.stop() };
    },
  },
];

type Row = Record<string, unknown>;

async function query(url: string, sql: string): Promise<Row[]> {
  await using warehouse = await openWarehouse(url, { onNotice: () => {} });
  return (await warehouse.query<Row>(sql)).map((row) =>
    Object.fromEntries(
      Object.entries(row).map(([k, v]) => [k, typeof v === "bigint" ? Number(v) : v]),
    )
  );
}

async function exec(url: string, ...statements: string[]): Promise<void> {
  await using warehouse = await openWarehouse(url, { onNotice: () => {} });
  for (const sql of statements) await warehouse.exec(sql);
}

interface RunResult {
  unique_id: string;
  status: string;
  message: string | null;
  batch_results?: { successful: [string, string][]; failed: [string, string][] };
}

async function runResults(dir: string): Promise<{ results: RunResult[] }> {
  const json = JSON.parse(await Deno.readTextFile(`${dir}/target/run_results.json`));
  await assertValidArtifact("run_results", json);
  return json;
}

const day = (d: string) => [`${d}T00:00:00+00:00`, `${next(d)}T00:00:00+00:00`];
const next = (d: string) =>
  new Date(Date.parse(`${d}T00:00:00Z`) + 86_400_000).toISOString().slice(0, 10);

for (const target of TARGETS) {
  Deno.test(
    `microbatch on ${target.name}: batches, lookback, event-time flags, partial success and retry`,
    {
      ignore: await needs(...target.tools),
    },
    async () => {
      await using project = await writeProject(files());
      await using wh = await target.open(project.dir);
      await exec(wh.url, ...RAW_SQL);
      let now = t("2024-01-05T10:00:00Z");
      const cli = async (...args: string[]) => {
        const out: string[] = [];
        const err: string[] = [];
        const code = await runDbtCli(
          [...args, "--project-dir", project.dir, "--warehouse-url", wh.url, ...target.cliArgs],
          { out: (l) => out.push(l), err: (l) => err.push(l) },
          { env: () => undefined, clock: { now: () => now } },
        );
        return { code, out: out.join("\n"), err: err.join("\n") };
      };
      const node = "model.demo.daily_events";
      const resultOf = async (id = node) =>
        (await runResults(project.dir)).results.find((r) => r.unique_id === id);

      // First run: every batch from begin (2024-01-01) to the day now is in (2024-01-05).
      const first = await cli("build");
      assert.equal(first.code, 0, first.out + first.err);
      assert.deepEqual(
        await query(wh.url, BUILT),
        await query(wh.url, reference("2024-01-01", "2024-01-06")),
      );
      const firstResult = await resultOf();
      assert.equal(firstResult?.status, "success");
      assert.deepEqual(firstResult?.batch_results, {
        successful: ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"].map(day),
        failed: [],
      });
      // model.batch.id is each batch's own id; the unfiltered ref (users_dim) joined every batch.
      assert.deepEqual(
        (await query(wh.url, "select id, batch_id from analytics.daily_events order by id")).map((
          r,
        ) => `${r.id}:${r.batch_id}`),
        ["2:20240101", "3:20240102", "4:20240103", "5:20240104", "6:20240105"],
      );

      // Two days later: new rows, a late row inside the lookback (01-06), one outside it (01-02).
      now = t("2024-01-07T03:00:00Z");
      await exec(
        wh.url,
        `insert into raw.events values
        (8, 1, '2024-01-07 02:00:00', 17, '7'),
        (9, 2, '2024-01-06 22:00:00', 18, '8'),
        (10, 1, '2024-01-02 08:00:00', 19, '9')`,
        "update raw.events set amount = 99 where id = 4",
      );
      const second = await cli("run");
      assert.equal(second.code, 0, second.out + second.err);
      assert.deepEqual((await resultOf())?.batch_results, {
        successful: [day("2024-01-06"), day("2024-01-07")],
        failed: [],
      });
      const expected = (await query(wh.url, reference("2024-01-01", "2024-01-08")))
        .filter((r) => r.id !== 10) // its day (01-02) is outside the lookback: not rebuilt
        .map((r) => r.id === 4 ? { ...r, amount: 13 } : r); // 01-03 not rebuilt either
      assert.deepEqual(await query(wh.url, BUILT), expected);

      // --event-time-start/-end: only the batches of that window (01-02): the late row comes in.
      const window = await cli(
        "run",
        "--event-time-start",
        "2024-01-02",
        "--event-time-end",
        "2024-01-03",
      );
      assert.equal(window.code, 0, window.out + window.err);
      assert.deepEqual((await resultOf())?.batch_results, {
        successful: [day("2024-01-02")],
        failed: [],
      });
      assert.deepEqual(
        (await query(wh.url, BUILT)).map((r) => r.id),
        [2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      assert.equal((await query(wh.url, BUILT)).find((r) => r.id === 4)?.amount, 13);

      // A batch that fails (a bad value only on 01-04) does not lose the others.
      await exec(
        wh.url,
        "insert into raw.events values (11, 2, '2024-01-04 10:00:00', 20, 'oops')",
        "update raw.events set amount = 55 where id in (4, 6)",
      );
      const broken = await cli(
        "build",
        "--event-time-start",
        "2024-01-03",
        "--event-time-end",
        "2024-01-06",
      );
      assert.equal(broken.code, 1, broken.out + broken.err);
      assert.match(broken.out, /PARTIAL SUCCESS/);
      const partial = await resultOf();
      assert.equal(partial?.status, "partial success");
      assert.deepEqual(partial?.batch_results, {
        successful: [day("2024-01-03"), day("2024-01-05")],
        failed: [day("2024-01-04")],
      });
      assert.match(partial?.message ?? "", /batch 20240104/);
      // The successful batches were committed; the failed one left its rows as they were.
      const afterPartial = await query(wh.url, BUILT);
      assert.equal(afterPartial.find((r) => r.id === 4)?.amount, 55);
      assert.equal(afterPartial.find((r) => r.id === 6)?.amount, 55);
      assert.equal(afterPartial.some((r) => r.id === 11), false);
      // Downstream of a partly built model is skipped, as dbt does.
      assert.equal((await resultOf("model.demo.event_totals"))?.status, "skipped");

      // Fix the data; change a row of a batch that succeeded: retry must not rebuild that batch.
      await exec(
        wh.url,
        "update raw.events set qty = '11' where id = 11",
        "update raw.events set amount = 77 where id = 4",
      );
      const retry = await cli("retry");
      assert.equal(retry.code, 0, retry.out + retry.err);
      const retried = await runResults(project.dir);
      assert.deepEqual(
        retried.results.map((r) => `${r.unique_id} ${r.status}`).sort(),
        [`${node} success`, "model.demo.event_totals success"],
      );
      assert.deepEqual((await resultOf())?.batch_results, {
        successful: [day("2024-01-03"), day("2024-01-04"), day("2024-01-05")],
        failed: [],
      });
      const final = await query(wh.url, BUILT);
      assert.equal(final.find((r) => r.id === 11)?.qty, 11, "the failed batch was rebuilt");
      assert.equal(final.find((r) => r.id === 4)?.amount, 55, "a successful batch was not rebuilt");
      assert.deepEqual(await query(wh.url, "select n from analytics.event_totals"), [{
        n: final.length,
      }]);
      // Nothing failed any more: a second retry has nothing to do.
      const again = await cli("retry");
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /Nothing to retry/);

      // --full-refresh: every batch from begin again, the table equal to the reference.
      const full = await cli("run", "--full-refresh", "-s", "daily_events");
      assert.equal(full.code, 0, full.out + full.err);
      assert.equal((await resultOf())?.batch_results?.successful.length, 7);
      assert.deepEqual(
        await query(wh.url, BUILT),
        await query(wh.url, reference("2024-01-01", "2024-01-08")),
      );
    },
  );
}

Deno.test("microbatch: --event-time-start/-end are checked as dbt checks them", async () => {
  await using project = await writeProject(files());
  for (
    const [args, pattern] of [
      [
        ["run", "--event-time-end", "2024-01-02"],
        /`--event-time-end`, `--event-time-start` must also be present/,
      ],
      [
        ["run", "--event-time-start", "2024-01-02"],
        /`--event-time-start`, `--event-time-end` must also be present/,
      ],
      [
        ["build", "--event-time-start", "2024-01-03", "--event-time-end", "2024-01-02"],
        /`--event-time-start` \(2024-01-03\) must be less than `--event-time-end`/,
      ],
      [
        ["run", "--event-time-start", "yesterday", "--event-time-end", "2024-01-02"],
        /--event-time-start 'yesterday' is not a date/,
      ],
      [
        ["test", "--event-time-start", "2024-01-01", "--event-time-end", "2024-01-02"],
        /apply to 'run' and 'build'/,
      ],
    ] as const
  ) {
    const err: string[] = [];
    const code = await runDbtCli([...args, "--project-dir", project.dir], {
      out: () => {},
      err: (l) => err.push(l),
    }, { env: () => undefined });
    assert.equal(code, 2, err.join("\n"));
    assert.match(err.join("\n"), pattern);
  }
  const err: string[] = [];
  const code = await runDbtCli(["retry", "--project-dir", project.dir], {
    out: () => {},
    err: (l) => err.push(l),
  }, { env: () => undefined, clock: { now: () => 0 } });
  assert.equal(code, 2);
  assert.match(err.join("\n"), /no previous run to retry: .*run_results\.json does not exist/);
});

Deno.test("microbatch: a model missing event_time, batch_size or begin fails loudly, naming it", async () => {
  const opts = { cache: false } as const;
  for (
    const [config, pattern] of [
      ["event_time='at', batch_size='day'", /microbatch model 'm' must provide a 'begin' config/],
      [
        "batch_size='day', begin='2024-01-01'",
        /microbatch model 'm' must provide an 'event_time' config/,
      ],
      [
        "event_time='at', begin='2024-01-01'",
        /microbatch model 'm' must provide a 'batch_size' config that is one of \[hour, day, month, year\]/,
      ],
      [
        "event_time='at', batch_size='week', begin='2024-01-01'",
        /one of \[hour, day, month, year\], not "week"/,
      ],
      ["event_time='at', batch_size='day', begin='soon'", /'begin'.*"soon" is not one/],
      // Not a string: named as given, never [object Object].
      [
        "event_time='at', batch_size='day', begin={'year': 2024}",
        /'begin'.*\{"year":2024\} is not one/,
      ],
      ["event_time='at', batch_size='day', begin='2024-01-01', lookback='2'", /'lookback' "2"/],
      [
        "event_time='at', batch_size='day', begin='2024-01-01', concurrent_batches='yes'",
        /'concurrent_batches' "yes"/,
      ],
    ] as const
  ) {
    await using project = await writeProject({
      "models/m.sql":
        `{{ config(materialized='incremental', incremental_strategy='microbatch', ${config}) }}\nselect 1 as id`,
    });
    await assert.rejects(loadProject(project.dir, opts), (error: Error & { code?: string }) => {
      assert.equal(error.code, DbtErrorCode.invalidProject);
      assert.match(error.message, /models\/m\.sql/);
      assert.match(error.message, pattern);
      return true;
    });
  }
  // begin as a Jinja datetime and as a datetime text are both read, in UTC.
  await using project = await writeProject({
    "models/a.sql":
      "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='at', batch_size='hour', begin=modules.datetime.datetime(2024, 2, 3, 4), lookback=0) }}select 1 as id",
    "models/b.sql":
      "{{ config(materialized='incremental', incremental_strategy='microbatch', event_time='at', batch_size='year', begin='2020-06-01 12:30:00') }}select 1 as id",
  });
  const loaded = await loadProject(project.dir, opts);
  assert.equal(
    iso(loaded.models.get("a")?.config.microbatch?.begin ?? 0),
    "2024-02-03T04:00:00.000Z",
  );
  assert.equal(loaded.models.get("a")?.config.microbatch?.lookback, 0);
  assert.equal(
    iso(loaded.models.get("b")?.config.microbatch?.begin ?? 0),
    "2020-06-01T12:30:00.000Z",
  );
});

Deno.test("microbatch: inputs with event_time read the batch's window; .render() and inputs without it read whole", async () => {
  await using project = await writeProject({
    "seeds/readings.csv": "id,read_at\n1,2024-01-01\n",
    "seeds/readings.yml":
      "version: 2\nseeds:\n  - name: readings\n    config:\n      event_time: read_at\n",
    "models/whole.sql": "{{ config(materialized='table') }}select 1 as id",
    "models/m.sql": `{{ config(materialized='incremental', incremental_strategy='microbatch',
      event_time='read_at', batch_size='day', begin='2024-01-01', unique_key='id') }}
select * from {{ ref('readings') }} r
-- as dbt prints it: {{ ref('readings') }}
join {{ ref('whole') }} w using (id)
join {{ ref('readings').render() }} raw using (id)
-- {{ model.batch.id }} {{ model.batch.event_time_start }} {{ model.batch.event_time_end }}`,
  });
  const p = await loadProject(project.dir, { cache: false });
  const sql = await p.compileNode("m", {
    isIncremental: true,
    batch: { id: "20240102", start: t("2024-01-02T00:00:00Z"), end: t("2024-01-03T00:00:00Z") },
  });
  assert.match(
    sql,
    /-- as dbt prints it: \(select \* from "postgres"\."analytics"\."readings" where read_at >= '2024-01-02 00:00:00\+00:00' and read_at < '2024-01-03 00:00:00\+00:00'\) _dbt_et_filter_subq_readings\n/,
  );
  // Given its own alias, the input keeps it (dbt would print two: dbt-labs/dbt-adapters#658).
  assert.match(sql, /from \(select \* from "postgres"\."analytics"\."readings" where [^)]*\) r\n/);
  assert.match(sql, /join "postgres"\."analytics"\."whole" w/);
  assert.match(sql, /join "postgres"\."analytics"\."readings" raw/);
  assert.match(sql, /-- 20240102 2024-01-02 00:00:00 2024-01-03 00:00:00/);
  // Outside a batch (compile, manifest): no filter.
  assert.match(p.models.get("m")?.compiledCode ?? "", /from "postgres"\."analytics"\."readings" r/);
});

Deno.test("microbatch on PGlite: a model without unique_key is refused by name (dbt-postgres merges on it)", async () => {
  await using project = await writeProject(files(MODEL.replace(",\n    unique_key='id'", "")));
  const dir = await Deno.makeTempDir({ prefix: "dbt-microbatch-" });
  try {
    const url = `pglite:${dir}/warehouse`;
    await exec(url, ...RAW_SQL);
    const out: string[] = [];
    const code = await runDbtCli(["run", "--project-dir", project.dir, "--warehouse-url", url], {
      out: (l) => out.push(l),
      err: (l) => out.push(l),
    }, { env: () => undefined, clock: { now: () => t("2024-01-03T00:00:00Z") } });
    assert.equal(code, 1);
    assert.match(out.join("\n"), /microbatch model 'daily_events'.*unique_key/);
    assert.deepEqual(
      await query(
        url,
        "select count(*) as n from information_schema.tables where table_name = 'daily_events'",
      ),
      [{ n: 0 }],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("microbatch: +event_time of dbt_project.yml's sources: filters a source input; batches run as many at once as --threads says", async () => {
  // Before: the sources: block of dbt_project.yml was ignored (a warning said so), so the
  // source was read whole by every batch; and batches ran at most the profile's threads
  // (1 here) at once whatever --threads said.
  const { runProject } = await import("../../../../resources/dbt/execute/run.ts");
  await using project = await writeProject({
    "dbt_project.yml": `name: demo
version: "1.0.0"
config-version: 2
profile: demo
sources:
  demo:
    staging:
      raw:
        events:
          +event_time: event_at
`,
    "models/staging/sources.yml":
      "version: 2\nsources:\n  - name: raw\n    schema: raw\n    tables:\n      - name: events\n",
    "models/m.sql": `{{ config(materialized='incremental', incremental_strategy='microbatch',
      event_time='event_at', batch_size='day', begin='2024-01-01', unique_key='id') }}
select id, event_at from {{ source('raw', 'events') }}`,
  });
  const p = await loadProject(project.dir, { cache: false });
  assert.deepEqual(p.warnings.filter((w) => w.includes("sources")), []);
  const sql = await p.compileNode("m", {
    isIncremental: true,
    batch: { id: "20240102", start: t("2024-01-02T00:00:00Z"), end: t("2024-01-03T00:00:00Z") },
  });
  assert.match(sql, /where event_at >= '2024-01-02 00:00:00\+00:00' and event_at < '2024-01-03/);

  await using warehouse = await openWarehouse("pglite:memory:");
  await warehouse.exec(
    "create schema raw; create table raw.events (id integer, event_at timestamp);" +
      "insert into raw.events values (1, '2024-01-01 01:00'), (2, '2024-01-02 01:00'), " +
      "(3, '2024-01-03 01:00'), (4, '2024-01-04 01:00'), (5, '2024-01-05 01:00')",
  );
  let inFlight = 0;
  let most = 0;
  const counted = new Proxy(warehouse, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (key !== "transaction") return typeof value === "function" ? value.bind(target) : value;
      return async <R>(fn: (tx: unknown) => Promise<R>) => {
        most = Math.max(most, ++inFlight);
        try {
          return await target.transaction(fn);
        } finally {
          inFlight--;
        }
      };
    },
  });
  const built = await runProject(p, counted, {
    threads: 3,
    writeArtifacts: false,
    hooks: false,
    microbatch: { now: t("2024-01-05T10:00:00Z") },
  });
  assert.equal(built.success, true, JSON.stringify(built.results));
  assert.equal(p.target.threads, 1);
  assert.ok(most >= 2, `batches ran at most ${most} at once with --threads 3`);
  assert.deepEqual(
    await warehouse.query("select id from analytics.m order by id"),
    [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }, { id: 5 }],
  );
});
