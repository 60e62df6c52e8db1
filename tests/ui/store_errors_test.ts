/**
 * A run store that fails under the UI (a damaged file, a lock another
 * process holds): every page and endpoint answers 503 naming the store and
 * what to do, the failure is logged for the operator, and the UI stays up.
 */

import { DatabaseSync } from "node:sqlite";
import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { createLogger, type LogRecord } from "../../core/logger.ts";
import { materialize } from "../../core/executor.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { SqliteRunStore } from "../../resources/run_store/sqlite.ts";
import { serveUi } from "../../ui/serve.ts";
import { fixtureGraph } from "./_fixture.ts";

/** A SQLite run store at `path` where the fixture graph ran, everything in the main file. */
async function ranSqlite(path: string, graph: ReturnType<typeof fixtureGraph>["graph"]) {
  const store = SqliteRunStore.open(path, { busyTimeoutMs: 200 });
  await materialize(graph, { runStore: store, exclude: "slow" });
  await store.flush();
  const other = new DatabaseSync(path);
  other.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  other.close();
  return store;
}

Deno.test("store errors: a run store file damaged under the UI is a 503 naming it and what to do; the UI stays up", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ui-store-damaged-" });
  const path = `${dir}/runs.db`;
  const { graph, release } = fixtureGraph();
  const records: LogRecord[] = [];
  try {
    await using store = await ranSqlite(path, graph);
    // The pages the open store has not read yet are gone: SQLite reads them as a
    // malformed image. Damaged before the UI starts, because the UI's warm-up reads
    // the runs at once, and pages SQLite has cached stay readable after the damage
    // (under load the warm-up could finish first and the page was a 200).
    await Deno.truncate(path, 8192);
    await using server = await serveUi({
      graph,
      store,
      port: 0,
      log: createLogger((r) => records.push(r)),
    });
    for (const path_ of ["/runs", "/api/runs"]) {
      const res = await fetch(`${server.url}${path_}`);
      const text = await res.text();
      assertEquals(res.status, 503, `${path_}: ${text.slice(0, 300)}`);
      assertMatch(text, /malformed/);
      assert(text.includes(path), `${path_} names the file: ${text.slice(0, 300)}`);
      assertMatch(text, /move it aside/);
      assert(!/\bat [\w.]+ \(/.test(text), "no stack");
    }
    const logged = records.filter((r) => r.level === "error");
    assert(
      logged.some((r) => r.message.includes("GET /runs") && r.message.includes("malformed")),
      `the failure is logged: ${JSON.stringify(records)}`,
    );
    // Still serving: a page that needs no store answers.
    assertEquals(
      (await fetch(`${server.url}/launch`).then(async (r) => [r.status, await r.text()]))[0],
      200,
    );
  } finally {
    release();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store errors: a write lock held by another process is a 503 with Retry-After that says to try again", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ui-store-locked-" });
  const path = `${dir}/runs.db`;
  const { graph, release } = fixtureGraph();
  const holder = new DatabaseSync(path, { open: false });
  try {
    await using store = await ranSqlite(path, graph);
    await using server = await serveUi({ graph, store, port: 0 });
    holder.open();
    holder.exec("BEGIN IMMEDIATE");
    const res = await fetch(`${server.url}/actions/automation/inbox`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enabled: false }),
    });
    const body = await res.json();
    assertEquals(res.status, 503, JSON.stringify(body));
    assertEquals(res.headers.get("retry-after"), "5");
    assertMatch(body.message, /database is locked/);
    assertMatch(body.message, /another process holds a write transaction/);
    assert(body.message.includes(path), body.message);
    holder.exec("ROLLBACK");
    // The lock released, the same request works.
    const again = await fetch(`${server.url}/actions/automation/inbox`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ enabled: false }),
    });
    assertEquals(again.status, 200, await again.text());
  } finally {
    if (holder.isOpen) holder.close();
    release();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store errors: a run store file deleted or replaced under the UI is a 503 saying so; nothing is recorded into the lost file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ui-store-deleted-" });
  const path = `${dir}/runs.db`;
  const { graph, release } = fixtureGraph();
  try {
    await ranSqlite(path, graph).then((s) => s[Symbol.asyncDispose]());
    await using store = SqliteRunStore.open(path, { fileCheckIntervalMs: 0 });
    await using server = await serveUi({ graph, store, port: 0 });
    const first = await fetch(`${server.url}/api/runs`);
    await first.body?.cancel();
    assertEquals(first.status, 200);
    await Deno.copyFile(path, `${dir}/backup.db`);
    for (const suffix of ["", "-wal", "-shm"]) {
      await Deno.remove(`${path}${suffix}`).catch(() => {});
    }
    const page = await fetch(`${server.url}/runs`);
    const text = await page.text();
    assertEquals(page.status, 503, text.slice(0, 300));
    assertMatch(text, /the file was deleted while this process had it open/);
    assert(text.includes(path), text.slice(0, 300));
    const launch = await fetch(`${server.url}/actions/launch`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ selection: "marts/summary" }),
    });
    const body = await launch.json();
    assertEquals(launch.status, 503, JSON.stringify(body));
    assertEquals(body.error, "run_store.file_replaced");
    // Another file put at the path (a backup restored) is not this store's file either.
    await Deno.rename(`${dir}/backup.db`, path);
    const replaced = await fetch(`${server.url}/api/runs`).then((r) => r.json());
    assertMatch(replaced.message, /replaced by another file/);
  } finally {
    release();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("store errors: a failure whose text holds a configured secret is logged with the secret masked", async () => {
  const { graph, release } = fixtureGraph();
  const records: LogRecord[] = [];
  const secret = "s3cret-pw-for-runs";
  try {
    await using store = new MemoryRunStore();
    // A driver's own error (not one of ours, which mask at construction) naming the URL.
    store.listRuns = () =>
      Promise.reject(new Error(`cannot reach postgres://app:${secret}@db.internal:5432/runs`));
    await using server = await serveUi({
      graph,
      store,
      port: 0,
      secrets: [secret],
      log: createLogger((r) => records.push(r)),
    });
    const res = await fetch(`${server.url}/api/runs`);
    const text = await res.text();
    assertEquals(res.status, 500, text.slice(0, 300));
    assert(!text.includes(secret), `the answer shows the secret: ${text.slice(0, 300)}`);
    const logged = records.filter((r) => r.level === "error");
    assert(logged.some((r) => r.message.includes("GET /api/runs")), JSON.stringify(records));
    assert(
      !JSON.stringify(records).includes(secret),
      `logged in clear: ${JSON.stringify(records)}`,
    );
  } finally {
    release();
  }
});
