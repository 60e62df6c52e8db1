/**
 * What only the SQLite run store does: buffered writes that survive a failed
 * commit (another process holding the lock), and an open that fails clearly.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { ResourceError } from "../../../core/mod.ts";
import { SqliteRunStore } from "../../../resources/run_store/mod.ts";
import { rejected as rejects } from "../../_helpers/assert_errors.ts";

Deno.test("SqliteRunStore: a commit that fails keeps the writes for the next flush", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_store_sqlite_" });
  try {
    const path = `${dir}/runs.db`;
    // The timer never fires here: the flush below is the commit that fails (a
    // failing timed commit is covered by the buffer's own test, _buffer_test.ts).
    await using store = SqliteRunStore.open(path, { busyTimeoutMs: 20, flushIntervalMs: 600_000 });
    const other = new DatabaseSync(path);
    other.exec("BEGIN IMMEDIATE"); // another writer holds the lock
    await store.putStep({
      runId: "r1",
      assetKey: "a",
      partition: "p",
      status: "success",
      attempts: 2,
      startedAt: 1,
      finishedAt: 3,
      reason: null,
    });
    await store.appendEvents([{
      runId: "r1",
      type: "log",
      time: 1,
      assetKey: "a",
      partition: "p",
      data: { message: "kept" },
    }]);
    const error = await rejects(() => store.flush(), ResourceError);
    assertEquals(error.code, "run_store.write_failed");
    assert(error.message.includes(path), error.message);
    other.exec("COMMIT");
    other.close();
    await store.flush();
    assertEquals((await store.listSteps("r1")).map((s) => s.attempts), [2]);
    assertEquals((await store.listEvents("r1")).map((e) => e.data), [{ message: "kept" }]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteRunStore: a path it cannot open (a folder, not a database) fails naming it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_store_sqlite_" });
  try {
    await Deno.mkdir(`${dir}/runs.db`); // a directory where the file should be
    await Deno.writeTextFile(`${dir}/notes.db`, "not a database, just text ".repeat(100));
    for (const path of [`${dir}/runs.db`, `${dir}/notes.db`]) {
      let thrown: unknown;
      try {
        SqliteRunStore.open(path);
      } catch (error) {
        thrown = error;
      }
      assert(thrown instanceof ResourceError, String(thrown));
      assertEquals(thrown.code, "run_store.unavailable");
      assert(thrown.message.includes(path), thrown.message);
    }
    // A damaged file says what to do about it.
    const damaged = (() => {
      try {
        SqliteRunStore.open(`${dir}/notes.db`);
      } catch (error) {
        return String((error as Error).message);
      }
    })();
    assert(
      /file is not a database; the file is damaged .*move it aside/.test(damaged ?? ""),
      damaged,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteRunStore: a zero-byte runs.db (cut) is damaged and named, not opened as a new store; one being created opens", async () => {
  // Before: SQLite opened it as a new empty store, and every run recorded in it was silently gone.
  const dir = await Deno.makeTempDir({ prefix: "run_store_sqlite_" });
  try {
    const path = `${dir}/runs.db`;
    await Deno.writeFile(path, new Uint8Array(0));
    const minuteAgo = new Date(Date.now() - 60_000);
    await Deno.utime(path, minuteAgo, minuteAgo);
    let thrown: unknown;
    try {
      SqliteRunStore.open(path);
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof ResourceError, String(thrown));
    assertEquals(thrown.code, "run_store.unavailable");
    assert(thrown.message.includes(`'${path}'`), thrown.message);
    assert(/empty \(0 bytes.*was cut.*move it aside/.test(thrown.message), thrown.message);
    assertEquals((await Deno.stat(path)).size, 0, "the cut file is left as it was");
    // Zero bytes for an instant: another process is making it (two daemons started together).
    await Deno.utime(path, new Date(), new Date());
    await using store = SqliteRunStore.open(path);
    assertEquals(await store.listRuns({ limit: 1 }), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteRunStore: a file made before runs had owners gets the owner columns at open", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_store_sqlite_" });
  try {
    const path = `${dir}/runs.db`;
    // The pipeline_runs table as released before owners and heartbeats, with one running run.
    const old = new DatabaseSync(path);
    old.exec(`CREATE TABLE pipeline_runs (run_id TEXT PRIMARY KEY, status TEXT NOT NULL,
      selection TEXT NOT NULL, partitions TEXT, tags TEXT NOT NULL, started_at INTEGER NOT NULL,
      finished_at INTEGER, error_summary TEXT)`);
    old.exec(
      `INSERT INTO pipeline_runs VALUES ('old', 'running', '', NULL, '{}', 1000, NULL, NULL)`,
    );
    old.close();
    // Two processes opening it at once add the columns once (the second finds them).
    await using store = SqliteRunStore.open(path);
    await using again = SqliteRunStore.open(path);
    const run = await store.getRun("old");
    assertEquals([run?.status, run?.owner, run?.heartbeatAt], ["running", null, null]);
    assertEquals(await again.reapRuns({ now: 1e12 }), [], "a run without owner is never reaped");
    const owner = { instanceId: "i1", host: "h", pid: 7 };
    await store.createRun({
      runId: "new",
      status: "running",
      selection: "",
      partitions: null,
      tags: {},
      startedAt: 2000,
      finishedAt: null,
      errorSummary: null,
      owner,
      heartbeatTimeoutMs: 500,
    });
    assertEquals((await again.reapRuns({ now: 2501 })).map((r) => r.runId), ["new"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteRunStore: a file another process keeps locked fails naming it and what to do", async () => {
  // Before: "database is locked" and nothing more (no hint that another process holds it).
  const dir = await Deno.makeTempDir({ prefix: "run_store_sqlite_" });
  try {
    const path = `${dir}/runs.db`;
    await SqliteRunStore.open(path)[Symbol.asyncDispose]();
    const other = new DatabaseSync(path);
    other.exec("BEGIN EXCLUSIVE"); // e.g. a sqlite3 shell left in a transaction
    try {
      let thrown: unknown;
      try {
        SqliteRunStore.open(path, { busyTimeoutMs: 50 });
      } catch (error) {
        thrown = error;
      }
      assert(thrown instanceof ResourceError, String(thrown));
      assertEquals(thrown.code, "run_store.unavailable");
      assert(thrown.message.includes(`'${path}'`), thrown.message);
      assert(
        /database is locked; another process has held a lock/.test(thrown.message),
        thrown.message,
      );
      assert(/`fuser`/.test(thrown.message), thrown.message);
    } finally {
      other.exec("ROLLBACK");
      other.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("SqliteRunStore: a file from a newer build (schema version above this one's) is refused naming it, not misread", async () => {
  // Before: opened as if this build's, whatever a newer build had changed in it.
  const dir = await Deno.makeTempDir({ prefix: "run_store_sqlite_" });
  try {
    const path = `${dir}/runs.db`;
    await SqliteRunStore.open(path)[Symbol.asyncDispose]();
    const db = new DatabaseSync(path);
    assertEquals(db.prepare("PRAGMA user_version").get()?.user_version, 1, "stamped at open");
    db.exec("PRAGMA user_version = 7");
    db.close();
    let thrown: unknown;
    try {
      SqliteRunStore.open(path);
    } catch (error) {
      thrown = error;
    }
    assert(thrown instanceof ResourceError, String(thrown));
    assertEquals(thrown.code, "run_store.unsupported_version");
    assertEquals(
      thrown.message,
      `Cannot open the run store at '${path}': its schema version 7 is newer than this build ` +
        "reads (1); upgrade the platform, or point RUNS_URL (or STATE_DIR) at another file",
    );
    assertEquals((thrown as { retryable?: unknown }).retryable, false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
