/**
 * Time columns of the Postgres run store are `timestamptz`: SQL users query
 * `ops.pipeline_runs` and get timestamps, the store still hands out epoch
 * milliseconds, and schemas made when the columns were `BIGINT` milliseconds
 * are migrated at open.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import postgres from "postgres";
import { ResourceError } from "../../../core/mod.ts";
import { PostgresRunStore, runStoreDdl } from "../../../resources/run_store/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { needs } from "../../_helpers/tools.ts";
import { rejected as rejects } from "../../_helpers/assert_errors.ts";

const T0 = Date.parse("2024-05-01T12:00:00.123Z");

/** The tables as versions before `timestamptz` made them: times in `BIGINT` milliseconds. */
async function createLegacySchema(admin: postgres.Sql, schema: string): Promise<void> {
  // The tables of that version: none of the run index, automation state or ticks.
  const later =
    /run_tags|run_assets|automation_|pipeline_runs_order|pipeline_runs_status_order|run_events_asset/;
  for (const statement of runStoreDdl("postgres", schema)) {
    if (later.test(statement)) continue;
    await admin.unsafe(statement.replaceAll("TIMESTAMPTZ", "BIGINT"));
  }
  await admin.unsafe(
    `INSERT INTO ${schema}.pipeline_runs VALUES
       ('old-1', 'failed', '', NULL, '{"sensor":"s"}', ${T0}, ${T0 + 61_877}, 'boom'),
       ('old-2', 'running', 'group:weather', NULL, '{}', ${T0 + 100_000}, NULL, NULL)`,
  );
  await admin.unsafe(
    `INSERT INTO ${schema}.run_steps (run_id, asset_key, partition_key, status, attempts,
       started_at, finished_at, reason)
     VALUES ('old-1', 'a', '', 'failed', 2, ${T0 + 1}, ${T0 + 2}, 'boom'),
            ('old-1', 'b', '2024-01-01', 'skipped', 0, NULL, NULL, 'upstream failed')`,
  );
  await admin.unsafe(
    `INSERT INTO ${schema}.run_events (run_id, type, time, asset_key, partition_key, data)
     VALUES ('old-1', 'log', ${T0 + 3}, NULL, NULL, '{"message":"hi"}'),
            ('old-1', 'materialization', ${
      T0 + 4
    }, 'a', NULL, '{"metadata":{},"codeVersion":null}')`,
  );
  await admin.unsafe(
    `INSERT INTO ${schema}.materializations VALUES ('a', '', 'old-1', ${
      T0 + 4
    }, '{"rows":3}', 'v1')`,
  );
  await admin.unsafe(`INSERT INTO ${schema}.sensor_cursors VALUES ('s', 'c1', ${T0 + 5})`);
  await admin.unsafe(`INSERT INTO ${schema}.run_keys VALUES ('s', 'k1', 'old-1', ${T0 + 6})`);
}

async function columnTypes(admin: postgres.Sql, schema: string): Promise<string[]> {
  const rows = await admin.unsafe(
    `SELECT table_name, column_name, data_type FROM information_schema.columns
     WHERE table_schema = $1 AND column_name IN ('started_at', 'finished_at', 'time',
       'updated_at', 'created_at')
     ORDER BY table_name, column_name`,
    [schema],
  );
  return rows.map((r) => `${r.table_name}.${r.column_name} ${r.data_type}`);
}

/** Checks that the legacy rows read back through the store with the same milliseconds. */
async function assertLegacyData(store: PostgresRunStore): Promise<void> {
  const run = await store.getRun("old-1");
  assertEquals([run?.startedAt, run?.finishedAt, run?.errorSummary], [T0, T0 + 61_877, "boom"]);
  assertEquals((await store.listRuns()).map((r) => r.runId), ["old-2", "old-1"]);
  // Indexed for the run list's filters when the index tables were added.
  assertEquals((await store.listRuns({ tags: { sensor: "s" } })).map((r) => r.runId), ["old-1"]);
  assertEquals((await store.listRuns({ asset: "b" })).map((r) => r.runId), ["old-1"]);
  assertEquals(
    (await store.listSteps("old-1")).map((s) => [s.assetKey, s.startedAt, s.finishedAt]),
    [["a", T0 + 1, T0 + 2], ["b", null, null]],
  );
  assertEquals((await store.listEvents("old-1")).map((e) => e.time), [T0 + 3, T0 + 4]);
  assertEquals((await store.lastMaterialization("a"))?.time, T0 + 4);
  assertEquals(await store.getCursor("s"), "c1");
  assertEquals(await store.claimRunKey("s", "k1", "new"), { claimed: false, runId: "old-1" });
}

Deno.test({
  name: "PostgresRunStore times are timestamptz",
  ignore: await needs("postgres"),
  async fn(t) {
    await using pg = await startPostgres();
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      await t.step("SQL users query ops.pipeline_runs and get timestamps", async () => {
        await using store = await PostgresRunStore.open(pg.url);
        await store.createRun({
          runId: "r-ok",
          status: "running",
          selection: "",
          partitions: null,
          tags: {},
          startedAt: T0,
          finishedAt: null,
          errorSummary: null,
        });
        await store.updateRun("r-ok", { status: "success", finishedAt: T0 + 1_500 });
        await store.createRun({
          runId: "r-running",
          status: "running",
          selection: "group:weather",
          partitions: null,
          tags: {},
          startedAt: T0 + 60_000,
          finishedAt: null,
          errorSummary: null,
        });
        await store.createRun({
          runId: "r-failed",
          status: "running",
          selection: "",
          partitions: null,
          tags: {},
          startedAt: T0 - 1,
          finishedAt: null,
          errorSummary: null,
        });
        await store.updateRun("r-failed", {
          status: "failed",
          finishedAt: T0 + 2,
          errorSummary: "raw_weather: HTTP 500",
        });
        const rows = await admin.unsafe(
          "select run_id, status, started_at, finished_at, error_summary from ops.pipeline_runs order by run_id",
        );
        const plain = rows.map((r) => ({
          run_id: r.run_id,
          status: r.status,
          started_at: r.started_at instanceof Date ? r.started_at.toISOString() : r.started_at,
          finished_at: r.finished_at instanceof Date ? r.finished_at.toISOString() : r.finished_at,
          error_summary: r.error_summary,
        }));
        assertEquals(plain, [
          {
            run_id: "r-failed",
            status: "failed",
            started_at: "2024-05-01T12:00:00.122Z",
            finished_at: "2024-05-01T12:00:00.125Z",
            error_summary: "raw_weather: HTTP 500",
          },
          {
            run_id: "r-ok",
            status: "success",
            started_at: "2024-05-01T12:00:00.123Z",
            finished_at: "2024-05-01T12:00:01.623Z",
            error_summary: null,
          },
          {
            run_id: "r-running",
            status: "running",
            started_at: "2024-05-01T12:01:00.123Z",
            finished_at: null,
            error_summary: null,
          },
        ]);
        // Timestamp arithmetic and formatting work as on any timestamptz column.
        const [row] = await admin.unsafe(
          `select (finished_at - started_at)::text as took,
             to_char(started_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') as utc
           from ops.pipeline_runs where run_id = 'r-ok'`,
        );
        assertEquals([row?.took, row?.utc], ["00:00:01.5", "2024-05-01 12:00:00.123"]);
        const recent = await admin.unsafe(
          `select run_id from ops.pipeline_runs
           where started_at >= '2024-05-01T12:00:00.123Z'::timestamptz order by started_at`,
        );
        assertEquals(recent.map((r) => r.run_id), ["r-ok", "r-running"]);
      });

      await t.step("steps, events, materializations, cursors and run keys too", async () => {
        await using store = await PostgresRunStore.open(pg.url, { schema: "others" });
        await store.putStep({
          runId: "r1",
          assetKey: "a",
          partition: null,
          status: "success",
          attempts: 1,
          startedAt: T0,
          finishedAt: T0 + 7,
          reason: null,
        });
        await store.appendEvents([{
          runId: "r1",
          type: "materialization",
          time: T0 + 8,
          assetKey: "a",
          partition: null,
          data: { metadata: {}, codeVersion: null },
        }]);
        const before = Date.now();
        await store.setCursor("s", "c");
        await store.claimRunKey("s", "k", "r1");
        await store.flush();
        const [row] = await admin.unsafe(
          `select s.started_at, s.finished_at, e.time as event_time, m.time as materialized_at,
             c.updated_at, k.created_at
           from others.run_steps s, others.run_events e, others.materializations m,
             others.sensor_cursors c, others.run_keys k`,
        );
        assert(row);
        for (const value of Object.values(row)) assert(value instanceof Date, String(value));
        assertEquals(
          [row.started_at, row.finished_at, row.event_time, row.materialized_at].map((d) =>
            (d as Date).getTime()
          ),
          [T0, T0 + 7, T0 + 8, T0 + 8],
        );
        for (const stamp of [row.updated_at, row.created_at]) {
          const ms = (stamp as Date).getTime();
          assert(ms >= before && ms <= Date.now(), `${ms} is the wall clock time of the write`);
        }
      });

      await t.step("the server's time zone changes nothing", async () => {
        const [{ db } = { db: "" }] = await admin.unsafe("select current_database() as db");
        await admin.unsafe(`ALTER DATABASE "${db}" SET timezone = 'Asia/Kolkata'`);
        try {
          await using store = await PostgresRunStore.open(pg.url, { schema: "zoned" });
          await store.createRun({
            runId: "z",
            status: "success",
            selection: "",
            partitions: null,
            tags: {},
            startedAt: T0,
            finishedAt: T0 + 1,
            errorSummary: null,
          });
          const run = await store.getRun("z");
          assertEquals([run?.startedAt, run?.finishedAt], [T0, T0 + 1]);
        } finally {
          await admin.unsafe(`ALTER DATABASE "${db}" RESET timezone`);
        }
      });

      await t.step("a schema with BIGINT milliseconds is migrated at open", async () => {
        await createLegacySchema(admin, "legacy");
        assert((await columnTypes(admin, "legacy")).every((c) => c.endsWith(" bigint")));
        await using store = await PostgresRunStore.open(pg.url, { schema: "legacy" });
        assertEquals(await columnTypes(admin, "legacy"), [
          "automation_records.time timestamp with time zone",
          "automation_state.updated_at timestamp with time zone",
          "automation_ticks.time timestamp with time zone",
          "materializations.time timestamp with time zone",
          "pipeline_runs.finished_at timestamp with time zone",
          "pipeline_runs.started_at timestamp with time zone",
          "run_assets.started_at timestamp with time zone",
          "run_events.time timestamp with time zone",
          "run_keys.created_at timestamp with time zone",
          "run_steps.finished_at timestamp with time zone",
          "run_steps.started_at timestamp with time zone",
          "run_tags.started_at timestamp with time zone",
          "sensor_cursors.updated_at timestamp with time zone",
        ]);
        await assertLegacyData(store);
        const [row] = await admin.unsafe(
          "select started_at, finished_at from legacy.pipeline_runs where run_id = 'old-1'",
        );
        assertEquals(
          [(row?.started_at as Date).toISOString(), (row?.finished_at as Date).toISOString()],
          ["2024-05-01T12:00:00.123Z", "2024-05-01T12:01:02.000Z"],
        );
        const [index] = await admin.unsafe(
          "select indexdef from pg_indexes where schemaname = 'legacy' and indexname = 'pipeline_runs_started'",
        );
        assert(String(index?.indexdef).includes("started_at DESC"), "the index survives");
        // Made before runs had owners: the owner, heartbeat and cancel columns are added,
        // old runs have no owner (and so are never reaped), new ones can be owned.
        const added = await admin.unsafe(
          `SELECT column_name FROM information_schema.columns
           WHERE table_schema = 'legacy' AND table_name = 'pipeline_runs' AND column_name LIKE ANY
             (ARRAY['owner_%', 'heartbeat_%', 'cancel_%']) ORDER BY ordinal_position`,
        );
        assertEquals(added.map((r) => r.column_name), [
          "owner_id",
          "owner_host",
          "owner_pid",
          "heartbeat_at",
          "heartbeat_timeout_ms",
          "cancel_requested_at",
          "cancel_reason",
        ]);
        assertEquals((await store.getRun("old-1"))?.owner, null);
        assertEquals(await store.reapRuns({ now: T0 + 86_400_000 }), []);
        // Opening again finds nothing to migrate and changes nothing.
        await using again = await PostgresRunStore.open(pg.url, { schema: "legacy" });
        await assertLegacyData(again);
      });

      await t.step("processes opening a legacy schema at once migrate it once", async () => {
        await createLegacySchema(admin, "legacy_racing");
        const stores = await Promise.all(
          Array.from(
            { length: 5 },
            () => PostgresRunStore.open(pg.url, { schema: "legacy_racing" }),
          ),
        );
        try {
          assert((await columnTypes(admin, "legacy_racing")).every((c) => c.endsWith(" zone")));
          for (const store of stores) await assertLegacyData(store);
        } finally {
          await Promise.all(stores.map((s) => s[Symbol.asyncDispose]()));
        }
      });

      await t.step({
        name: "a role that may not alter the tables gets run_store.schema_outdated",
        // Roles are server-wide: only on a throwaway cluster of our own.
        ignore: Boolean(Deno.env.get("DATABASE_URL")),
        fn: async () => {
          await createLegacySchema(admin, "legacy_granted");
          await admin.unsafe("CREATE ROLE runs_reader LOGIN");
          await admin.unsafe("GRANT USAGE ON SCHEMA legacy_granted TO runs_reader");
          await admin.unsafe(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA legacy_granted TO runs_reader",
          );
          const url = new URL(pg.url);
          url.username = "runs_reader";
          url.password = "reader-secret";
          const error = await rejects(
            () => PostgresRunStore.open(url.href, { schema: "legacy_granted" }),
            ResourceError,
          );
          assertEquals(error.code, "run_store.schema_outdated");
          assert(error.message.includes("'legacy_granted'"), error.message);
          assert(error.message.includes("BIGINT milliseconds"), error.message);
          assert(
            error.message.includes(
              "ALTER TABLE legacy_granted.pipeline_runs ALTER COLUMN started_at TYPE timestamptz",
            ),
            error.message,
          );
          assert(!error.message.includes("reader-secret"), error.message);
          // Nothing changed: the failed migration rolled back as a whole.
          assert((await columnTypes(admin, "legacy_granted")).every((c) => c.endsWith(" bigint")));
          // The owner then migrates it by opening the store.
          await using owner = await PostgresRunStore.open(pg.url, { schema: "legacy_granted" });
          await assertLegacyData(owner);
        },
      });
    } finally {
      await admin.end({ timeout: 5 });
    }
  },
});
