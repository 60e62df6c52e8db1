import assert from "node:assert/strict";
import { join } from "node:path";
import { immediateTransaction, openSqlite } from "../../resources/_sqlite.ts";

Deno.test("openSqlite makes the folder, uses WAL and the busy timeout, runs setup", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = openSqlite(join(dir, "nested", "x.db"), {
      busyTimeoutMs: 1234,
      setup: (db) => db.exec("CREATE TABLE t (x INTEGER)"),
    });
    try {
      assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "wal");
      assert.equal(db.prepare("PRAGMA busy_timeout").get()?.timeout, 1234);
      assert.equal(db.prepare("PRAGMA synchronous").get()?.synchronous, 2); // FULL
      db.exec("INSERT INTO t VALUES (1)");
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openSqlite closes the file again when it is not a database, and rethrows", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "garbage.db");
  try {
    await Deno.writeTextFile(
      path,
      "this is not a database, just text long enough to look like a header",
    );
    assert.throws(() => openSqlite(path), /not a database|file is not a database/i);
    await Deno.remove(path); // would fail on a platform that keeps open files locked
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openSqlite refuses a bad busy timeout", () => {
  assert.throws(() => openSqlite(":memory:", { busyTimeoutMs: -1 }), RangeError);
});

Deno.test("immediateTransaction commits on return and rolls back on throw, rethrowing", () => {
  const db = openSqlite(":memory:", { setup: (db) => db.exec("CREATE TABLE t (x INTEGER)") });
  try {
    assert.equal(immediateTransaction(db, () => db.exec("INSERT INTO t VALUES (1)")), undefined);
    const boom = new Error("boom");
    assert.throws(
      () =>
        immediateTransaction(db, () => {
          db.exec("INSERT INTO t VALUES (2)");
          throw boom;
        }),
      (error) => error === boom,
    );
    assert.equal(db.isTransaction, false);
    assert.deepEqual(db.prepare("SELECT x FROM t").all().map((r) => r.x), [1]);
  } finally {
    db.close();
  }
});

Deno.test("a second connection waits for the writer instead of failing at once", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const path = join(dir, "shared.db");
    const a = openSqlite(path, { setup: (db) => db.exec("CREATE TABLE t (x INTEGER)") });
    const b = openSqlite(path, { busyTimeoutMs: 0 });
    try {
      a.exec("BEGIN IMMEDIATE");
      // b cannot take the write lock while a holds it: with no wait it fails at once.
      assert.throws(
        () => immediateTransaction(b, () => b.exec("INSERT INTO t VALUES (1)")),
        /locked|busy/i,
      );
      a.exec("COMMIT");
      immediateTransaction(b, () => b.exec("INSERT INTO t VALUES (1)"));
    } finally {
      a.close();
      b.close();
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openSqlite mode read: the file is opened read-only and left exactly as its writer made it", async () => {
  const dir = await Deno.makeTempDir();
  const path = join(dir, "layer.gpkg");
  try {
    // As GDAL leaves a GeoPackage: rollback journal, not WAL.
    const writer = openSqlite(path, { mode: "scratch" });
    writer.exec("PRAGMA journal_mode = DELETE");
    writer.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (7)");
    writer.close();
    const before = await Deno.readFile(path);
    const db = openSqlite(path, { mode: "read" });
    try {
      assert.equal(db.prepare("SELECT x FROM t").get()?.x, 7);
      assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "delete");
      assert.throws(() => db.exec("INSERT INTO t VALUES (8)"), /readonly|read-only/i);
    } finally {
      db.close();
    }
    assert.deepEqual(await Deno.readFile(path), before);
    assert.deepEqual((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), ["layer.gpkg"]);
    // Nothing is created for a file that is not there.
    assert.throws(() => openSqlite(join(dir, "missing", "x.gpkg"), { mode: "read" }));
    await assert.rejects(() => Deno.stat(join(dir, "missing")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openSqlite mode scratch: journal in memory and no sync (a work file)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const db = openSqlite(join(dir, "work", "dump.sqlite"), { mode: "scratch" });
    try {
      assert.equal(db.prepare("PRAGMA journal_mode").get()?.journal_mode, "memory");
      assert.equal(db.prepare("PRAGMA synchronous").get()?.synchronous, 0); // OFF
      db.exec("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)");
    } finally {
      db.close();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
