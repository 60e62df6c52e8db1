/**
 * What only the Postgres run store does: tables in schema `ops`, clear and
 * fast failures for a server it cannot reach (never showing the password),
 * and buffered writes that survive a failed commit.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import postgres from "postgres";
import { ResourceError, type RunEvent } from "../../../core/mod.ts";
import { PostgresRunStore, runStoreDdl } from "../../../resources/run_store/mod.ts";
import { EVENT_LOCK } from "../../../resources/run_store/_postgres_batch.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { needs } from "../../_helpers/tools.ts";
import { rejected as rejects } from "../../_helpers/assert_errors.ts";

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Resolves once `n` run store connections wait for a lock. */
async function waitForLockWaits(
  admin: postgres.Sql,
  n: number,
): Promise<void> {
  // Ends as soon as they wait; the deadline is for a loaded CI machine, where opening the
  // connections and sending their statements can take seconds.
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const [row] = await admin.unsafe(
      `SELECT count(*)::int AS n FROM pg_stat_activity
       WHERE application_name = 'platform-run-store' AND wait_event_type = 'Lock'`,
    );
    if (Number(row?.n) >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`no ${n} connection(s) waiting for a lock after 60 s`);
}

function assertNoSecret(error: Error, secret: string): void {
  const seen = [error.message, String(error.stack), String((error.cause as Error)?.message)];
  for (const text of seen) assert(!text.includes(secret), `'${secret}' leaked: ${text}`);
}

Deno.test("runStoreDdl: Postgres tables live in schema ops, SQLite has none", () => {
  const pg = runStoreDdl("postgres");
  assertEquals(pg[0], "CREATE SCHEMA IF NOT EXISTS ops");
  const tables = pg.filter((s) => s.startsWith("CREATE TABLE"));
  assertEquals(tables.length, 12);
  for (const sql of tables) assert(/CREATE TABLE IF NOT EXISTS ops\.\w+ \(/.test(sql), sql);
  assert(pg.every((s) => !s.includes("{{")), "every placeholder is filled");
  assert(pg.some((s) => s.includes("BIGSERIAL PRIMARY KEY")));
  assert(pg.every((s) => !s.includes("BIGINT")), "no time column is epoch milliseconds");
  const lite = runStoreDdl("sqlite");
  assert(lite.every((s) => !s.includes("ops.") && !s.includes("{{")));
  assert(lite.every((s) => !s.includes("TIMESTAMPTZ")), "SQLite keeps epoch milliseconds");
  assert(lite.some((s) => s.includes("INTEGER PRIMARY KEY")));
  assertEquals(runStoreDdl("postgres", "runs_2")[0], "CREATE SCHEMA IF NOT EXISTS runs_2");
  for (const schema of ["Ops", "ops; DROP TABLE x", "", "1ops", 'a"b']) {
    let thrown: unknown;
    try {
      runStoreDdl("postgres", schema);
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof RangeError, `schema '${schema}' is refused`);
  }
});

Deno.test("PostgresRunStore: a refused connection fails at once, naming the URL without password", async () => {
  const url = `postgres://etl:hunter2@127.0.0.1:${freePort()}/platform`;
  const started = performance.now();
  // A long connect timeout: a refused connection that waited it out would
  // cost a minute, far from the milliseconds expected under any load.
  const error = await rejects(
    () => PostgresRunStore.open(url, { connectTimeoutSeconds: 60 }),
    ResourceError,
  );
  assert(performance.now() - started < 30_000, "within seconds");
  assertEquals(error.code, "run_store.unreachable");
  assert(error.message.includes("postgres://etl:***@127.0.0.1:"), error.message);
  assert(error.message.includes("RUNS_URL"), error.message);
  assertNoSecret(error, "hunter2");
});

Deno.test("PostgresRunStore: a server that never answers fails after connectTimeoutSeconds", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn); // accept, never reply
  })();
  try {
    const url = `postgresql://etl:s3cr%40t@127.0.0.1:${listener.addr.port}/platform`;
    const started = performance.now();
    // Above the 5 s default, so "not before the timeout asked for" (which load
    // cannot break) tells an honoured option from an ignored one.
    const error = await rejects(
      () => PostgresRunStore.open(url, { connectTimeoutSeconds: 6 }),
      ResourceError,
    );
    const elapsed = performance.now() - started;
    assert(elapsed >= 5_900 && elapsed < 60_000, `gave up after ${elapsed} ms`);
    assertEquals(error.code, "run_store.unreachable");
    assert(error.message.includes(`127.0.0.1:${listener.addr.port}`), error.message);
    assertNoSecret(error, "s3cr");
  } finally {
    listener.close();
    for (const conn of held) conn.close();
    await accepting.catch(() => {});
  }
});

Deno.test({
  name: "PostgresRunStore on a server",
  ignore: await needs("postgres"),
  async fn(t) {
    await using pg = await startPostgres();
    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    try {
      await t.step("open creates schema ops with the run tables, twice is fine", async () => {
        await using first = await PostgresRunStore.open(pg.url);
        await using second = await PostgresRunStore.open(pg.url);
        assert(first.description.includes("(ops)"), first.description);
        const rows = await admin.unsafe(
          `SELECT table_name, column_name, data_type FROM information_schema.columns
           WHERE table_schema = 'ops' ORDER BY table_name, ordinal_position`,
        );
        const columns = (table: string) =>
          rows.filter((r) => r.table_name === table).map((r) => `${r.column_name} ${r.data_type}`);
        assertEquals(columns("pipeline_runs"), [
          "run_id text",
          "status text",
          "selection text",
          "partitions text",
          "tags text",
          "started_at timestamp with time zone",
          "finished_at timestamp with time zone",
          "error_summary text",
          "owner_id text",
          "owner_host text",
          "owner_pid integer",
          "heartbeat_at timestamp with time zone",
          "heartbeat_timeout_ms integer",
          "cancel_requested_at timestamp with time zone",
          "cancel_reason text",
        ]);
        const timeColumns = rows
          .filter((r) => r.data_type === "timestamp with time zone")
          .map((r) => `${r.table_name}.${r.column_name}`)
          .sort();
        assertEquals(timeColumns, [
          "automation_records.time",
          "automation_state.updated_at",
          "automation_ticks.last_time",
          "automation_ticks.time",
          "materializations.time",
          "pipeline_runs.cancel_requested_at",
          "pipeline_runs.finished_at",
          "pipeline_runs.heartbeat_at",
          "pipeline_runs.started_at",
          "run_assets.started_at",
          "run_events.time",
          "run_keys.created_at",
          "run_steps.finished_at",
          "run_steps.started_at",
          "run_tags.started_at",
          "sensor_cursors.updated_at",
        ]);
        assertEquals(
          rows.filter((r) => r.data_type === "bigint").map((r) =>
            `${r.table_name}.${r.column_name}`
          )
            .sort(),
          [
            "automation_records.id",
            "automation_ticks.id",
            "dynamic_partitions.seq",
            "run_events.id",
            "run_steps.seq",
          ],
          "only serial ids stay bigint",
        );
        assertEquals(
          [...new Set(rows.map((r) => r.table_name))].sort(),
          [
            "automation_records",
            "automation_state",
            "automation_ticks",
            "dynamic_partitions",
            "materializations",
            "pipeline_runs",
            "run_assets",
            "run_events",
            "run_keys",
            "run_steps",
            "run_tags",
            "sensor_cursors",
          ],
        );
        await second.createRun({
          runId: "r1",
          status: "running",
          selection: "",
          partitions: null,
          tags: {},
          startedAt: 1,
          finishedAt: null,
          errorSummary: null,
        });
        assertEquals((await first.getRun("r1"))?.runId, "r1");
      });

      await t.step("processes opening at once all succeed", async () => {
        const stores = await Promise.all(
          Array.from({ length: 5 }, () => PostgresRunStore.open(pg.url, { schema: "racing" })),
        );
        await Promise.all(stores.map((s) => s[Symbol.asyncDispose]()));
      });

      await t.step({
        name: "a role that may not create schemas uses tables made beforehand",
        // Roles are server-wide: only on a throwaway cluster of our own.
        ignore: Boolean(Deno.env.get("DATABASE_URL")),
        fn: async () => {
          const owner = await PostgresRunStore.open(pg.url, { schema: "granted" });
          await owner[Symbol.asyncDispose]();
          await admin.unsafe("CREATE ROLE runs_app LOGIN");
          await admin.unsafe("GRANT USAGE ON SCHEMA granted TO runs_app");
          await admin.unsafe(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA granted TO runs_app",
          );
          await admin.unsafe("GRANT USAGE ON ALL SEQUENCES IN SCHEMA granted TO runs_app");
          const url = new URL(pg.url);
          url.username = "runs_app";
          url.password = "app-secret";
          await using store = await PostgresRunStore.open(url.href, { schema: "granted" });
          await store.putStep({
            runId: "r1",
            assetKey: "a",
            partition: null,
            status: "success",
            attempts: 1,
            startedAt: 1,
            finishedAt: 2,
            reason: null,
          });
          await store.flush();
          assertEquals((await store.listSteps("r1")).length, 1);
          const error = await rejects(
            () => PostgresRunStore.open(url.href, { schema: "not_made" }),
            ResourceError,
          );
          assertEquals(error.code, "run_store.unavailable");
          assert(error.message.includes("'not_made'"), error.message);
          assertNoSecret(error, "app-secret");
        },
      });

      await t.step("fractions of a millisecond (a jittered fake clock) are rounded", async () => {
        await using store = await PostgresRunStore.open(pg.url, { schema: "fractions" });
        await store.createRun({
          runId: "r1",
          status: "running",
          selection: "",
          partitions: null,
          tags: {},
          startedAt: 1000.4,
          finishedAt: null,
          errorSummary: null,
        });
        await store.updateRun("r1", { status: "success", finishedAt: 1999.5 });
        await store.putStep({
          runId: "r1",
          assetKey: "a",
          partition: null,
          status: "success",
          attempts: 2,
          startedAt: 1000.6,
          finishedAt: 1500.2,
          reason: null,
        });
        await store.appendEvents([{
          runId: "r1",
          type: "materialization",
          time: 1500.7,
          assetKey: "a",
          partition: null,
          data: { metadata: {}, codeVersion: null },
        }]);
        await store.flush();
        const run = await store.getRun("r1");
        assertEquals([run?.startedAt, run?.finishedAt], [1000, 2000]);
        const [step] = await store.listSteps("r1");
        assertEquals([step?.startedAt, step?.finishedAt], [1001, 1500]);
        assertEquals((await store.listEvents("r1"))[0]?.time, 1501);
        assertEquals((await store.lastMaterialization("a"))?.time, 1501);
      });

      await t.step("an unknown database fails as unreachable, naming it", async () => {
        const url = new URL(pg.url);
        url.pathname = "/no_such_db";
        url.password = "pw-of-etl";
        const error = await rejects(() => PostgresRunStore.open(url.href), ResourceError);
        assertEquals(error.code, "run_store.unreachable");
        assert(error.message.includes("/no_such_db"), error.message);
        assertNoSecret(error, "pw-of-etl");
      });

      await t.step("a failed commit keeps the writes; a later flush stores them", async () => {
        await using store = await PostgresRunStore.open(pg.url, {
          schema: "retry",
          flushIntervalMs: 60_000,
        });
        await store.putStep({
          runId: "r1",
          assetKey: "a",
          partition: null,
          status: "running",
          attempts: 1,
          startedAt: 5,
          finishedAt: null,
          reason: null,
        });
        await store.appendEvents([{
          runId: "r1",
          type: "log",
          time: 5,
          assetKey: null,
          partition: null,
          data: { message: "kept" },
        }]);
        // Make the commit fail: the steps table is briefly not writable.
        await admin.unsafe("ALTER TABLE retry.run_steps RENAME TO run_steps_away");
        const error = await rejects(() => store.flush(), ResourceError);
        assertEquals(error.code, "run_store.write_failed");
        await admin.unsafe("ALTER TABLE retry.run_steps_away RENAME TO run_steps");
        await store.flush();
        assertEquals((await store.listSteps("r1")).map((s) => s.startedAt), [5]);
        assertEquals((await store.listEvents("r1")).map((e) => e.data), [{ message: "kept" }]);
      });

      await t.step(
        "a batch is one transaction: text that looks like SQL or quote tags reads back exactly, a failure commits none of it",
        async () => {
          await using store = await PostgresRunStore.open(pg.url, {
            schema: "quoted",
            flushIntervalMs: 60_000,
          });
          await using other = await PostgresRunStore.open(pg.url, { schema: "quoted" });
          const nasty = [
            "$b$",
            "$b0$ $b1$",
            "it's '' \\ \\' \"q\"",
            "'); DROP TABLE quoted.run_steps; --",
            "$$ $tag$ ::json ;",
            "ünï 🧪 \u2028",
          ];
          for (const [i, reason] of nasty.entries()) {
            await store.putStep({
              runId: "q",
              assetKey: `a${i}`,
              partition: reason,
              status: "failed",
              attempts: 1,
              startedAt: 1,
              finishedAt: 2,
              reason,
            });
          }
          await store.appendEvents(nasty.map((text) => ({
            runId: "q",
            type: "log",
            time: 3,
            assetKey: null,
            partition: null,
            data: { text },
          })));
          // The events table is briefly not writable: the steps of the same batch must not commit.
          await admin.unsafe("ALTER TABLE quoted.run_events RENAME TO run_events_away");
          const error = await rejects(() => store.flush(), ResourceError);
          assertEquals(error.code, "run_store.write_failed");
          assertEquals(
            (await admin.unsafe("SELECT count(*)::int AS n FROM quoted.run_steps"))[0]?.n,
            0,
          );
          await admin.unsafe("ALTER TABLE quoted.run_events_away RENAME TO run_events");
          await store.flush();
          const steps = await other.listSteps("q");
          assertEquals(steps.map((s) => s.reason), nasty);
          assertEquals(steps.map((s) => s.partition), nasty);
          assertEquals((await other.listEvents("q")).map((e) => e.data.text), nasty);
        },
      );

      await t.step(
        "a batch waits for the event lock as one message: no statement of it is sent before the lock is had",
        async () => {
          await using store = await PostgresRunStore.open(pg.url, {
            schema: "onemessage",
            flushIntervalMs: 60_000,
          });
          await store.putStep({
            runId: "m",
            assetKey: "a",
            partition: null,
            status: "success",
            attempts: 1,
            startedAt: 1,
            finishedAt: 2,
            reason: null,
          });
          await store.appendEvents([{
            runId: "m",
            type: "log",
            time: 2,
            assetKey: null,
            partition: null,
            data: { text: "one message" },
          }]);
          // Another session holds the event lock: the batch's session waits on it. Sent as
          // one message, the text it waits in is the whole batch (with BEGIN/lock/insert
          // round trips it would be the lock statement alone, the inserts not yet sent).
          // (pg_stat_activity keeps the first 1 kB of a query text: the steps' INSERT, which
          // follows the lock statement, is within it.)
          const holder = postgres(pg.url, { max: 1, onnotice: () => {} });
          let flushing: Promise<void> | undefined;
          try {
            await holder`SELECT pg_advisory_lock(${EVENT_LOCK})`;
            flushing = store.flush();
            let waiting: { query: string }[] = [];
            for (let tries = 0; tries < 600 && waiting.length === 0; tries++) {
              waiting = await admin.unsafe<{ query: string }[]>(
                `SELECT query FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'`,
              );
              if (waiting.length === 0) await new Promise((r) => setTimeout(r, 50));
            }
            assertEquals(waiting.length, 1);
            const query = waiting[0]?.query ?? "";
            assert(query.startsWith(`SELECT pg_advisory_xact_lock(${EVENT_LOCK});`), query);
            assert(query.includes("INSERT INTO onemessage.run_steps"), query);
          } finally {
            await holder`SELECT pg_advisory_unlock(${EVENT_LOCK})`;
            await holder.end();
            await flushing;
          }
          assertEquals((await store.listSteps("m")).map((s) => s.status), ["success"]);
          assertEquals((await store.listEvents("m")).map((e) => e.data.text), ["one message"]);
        },
      );

      await t.step("a reader tailing with afterId misses no event of a slow commit", async () => {
        await using a = await PostgresRunStore.open(pg.url, { schema: "tail" });
        await using b = await PostgresRunStore.open(pg.url, { schema: "tail" });
        await using reader = await PostgresRunStore.open(pg.url, { schema: "tail" });
        const log = (n: string): RunEvent => ({
          runId: "r",
          type: "log",
          time: 1,
          assetKey: null,
          partition: null,
          data: { n },
        });
        const m = (time: number): RunEvent => ({
          runId: "r",
          type: "materialization",
          time,
          assetKey: "m",
          partition: null,
          data: { metadata: {}, codeVersion: null },
        });
        await a.appendEvents([m(1)]);
        await a.flush();
        // Holding the materialization row stalls a's next commit after its
        // events took their ids, like a slow network or a busy server would.
        const blocker = postgres(pg.url, { max: 1, onnotice: () => {} });
        try {
          await blocker.unsafe("BEGIN");
          await blocker.unsafe(
            "SELECT * FROM tail.materializations WHERE asset_key = 'm' FOR UPDATE",
          );
          const slow = a.appendEvents([log("a"), m(2)]).then(() => a.flush());
          await waitForLockWaits(admin, 1);
          const fast = b.appendEvents([log("b")]).then(() => b.flush());
          await Promise.race([fast, waitForLockWaits(admin, 2)]);
          const seen = await reader.listEvents("r", { afterId: 1 });
          await blocker.unsafe("COMMIT");
          await Promise.all([slow, fast]);
          const after = seen.at(-1)?.id ?? 1;
          const later = await reader.listEvents("r", { afterId: after });
          const tailed = [...seen, ...later].map((e) => e.data.n ?? e.type);
          assertEquals(tailed.sort(), ["a", "b", "materialization"]);
        } finally {
          await blocker.end({ timeout: 5 });
        }
      });
    } finally {
      await admin.end({ timeout: 5 });
    }
  },
});
