/**
 * What the DuckDB warehouse adds to the shared contract: its URL, the
 * database file shared within a process and locked across processes, crash
 * recovery, read-only opens, writers taking turns, SQLSTATEs mapped from
 * DuckDB's errors, per-type bulk loads and results, and the lake's Parquet
 * and JSON read in place.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../../core/errors.ts";
import {
  DuckdbWarehouse,
  openWarehouse,
  parseDuckdbUrl,
  WarehouseLockedError,
  WarehouseQueryError,
  type WarehouseSession,
} from "../../../resources/warehouse/mod.ts";
import { collect, exitedWithin, tempDir } from "./_child.ts";

const CHILD = fileURLToPath(new URL("./_duckdb_child.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../../../deno.json", import.meta.url));

function child(...args: string[]): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `--config=${CONFIG}`, CHILD, ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}

async function memory(): Promise<DuckdbWarehouse> {
  return await DuckdbWarehouse.open(":memory:", { onNotice: () => {} });
}

Deno.test("duckdb url: path, warehouse options and DuckDB settings", () => {
  const cases: [string, ReturnType<typeof parseDuckdbUrl>][] = [
    ["duckdb::memory:", { path: ":memory:", options: {} }],
    ["duckdb:.state/wh.duckdb", { path: ".state/wh.duckdb", options: {} }],
    ["duckdb:///abs/wh.duckdb", { path: "/abs/wh.duckdb", options: {} }],
    [
      "duckdb:wh.duckdb?threads=2&memory_limit=1GB&extensions=httpfs,%20spatial" +
      "&allow_downloads=true&download_timeout_ms=500&max_connections=3" +
      "&extension_repository=/srv/duckdb-ext",
      {
        path: "wh.duckdb",
        options: {
          settings: { threads: "2", memory_limit: "1GB" },
          extensions: ["httpfs", "spatial"],
          allowDownloads: true,
          downloadTimeoutMs: 500,
          maxConnections: 3,
          extensionRepository: "/srv/duckdb-ext",
        },
      },
    ],
  ];
  for (const [url, expected] of cases) assert.deepStrictEqual(parseDuckdbUrl(url), expected, url);
  for (
    const bad of [
      "duckdb:",
      "duckdb:?threads=1",
      "duckdb:x.duckdb?allow_downloads=maybe",
      "duckdb:x.duckdb?download_timeout_ms=0",
      "duckdb:x.duckdb?max_connections=two",
    ]
  ) {
    assert.throws(
      () => parseDuckdbUrl(bad),
      (error) => error instanceof ConfigError && error.code === "warehouse.invalid_url",
      bad,
    );
  }
});

Deno.test("duckdb url: a bad setting or extension name fails the open as a configuration error", async () => {
  for (
    const url of [
      "duckdb::memory:?no_such_setting=1",
      "duckdb::memory:?autoinstall_known_extensions=true",
      "duckdb::memory:?extensions=spatial;DROP",
    ]
  ) {
    const error = await rejection(openWarehouse(url, { onNotice: () => {} }));
    assert.ok(error instanceof ConfigError, `${url}: ${error}`);
    assert.equal(error.code, "warehouse.invalid_url");
  }
  const unknown = await rejection(openWarehouse("duckdb::memory:?no_such_setting=1"));
  assert.match(String((unknown as Error).message), /no_such_setting/);
});

Deno.test("duckdb: settings reach DuckDB; sessions run in UTC", async () => {
  await using wh = await openWarehouse("duckdb::memory:?threads=1&memory_limit=512MB");
  assert.equal(wh.backend, "duckdb");
  assert.equal(wh.dialect, "duckdb");
  const [row] = await wh.query(
    `SELECT current_setting('threads') AS threads, current_setting('memory_limit') AS mem,
      current_setting('TimeZone') AS tz, current_setting('autoinstall_known_extensions') AS auto`,
  );
  assert.deepStrictEqual(row, { threads: 1n, mem: "488.2 MiB", tz: "UTC", auto: false });
});

Deno.test("duckdb: two memory databases are separate", async () => {
  await using a = await memory();
  await using b = await memory();
  await a.exec("CREATE TABLE t (id int)");
  assert.equal(await a.tableExists("main", "t"), true);
  assert.equal(await b.tableExists("main", "t"), false);
});

Deno.test("duckdb file: close waits for a write in flight, on the last open and beside another", async () => {
  await using dir = await tempDir("duckdb-close-write-");
  const url = `duckdb:${dir.path}/warehouse.duckdb`;
  {
    // The last open: closing must not shut the database under the write.
    const a = await openWarehouse(url);
    await a.exec("CREATE TABLE t (id int)");
    const write = a.execute("INSERT INTO t VALUES ($1)", [1]);
    await a.close();
    assert.equal(await write, 1);
  }
  // Beside another open: when close returns, the write is done (not left
  // running on a connection the closed warehouse no longer tracks).
  await using keep = await openWarehouse(url);
  for (let i = 2; i <= 4; i++) {
    const b = await openWarehouse(url);
    const write = b.execute("INSERT INTO t VALUES ($1)", [i]);
    await b.close();
    assert.deepStrictEqual(await keep.query("SELECT count(*)::int AS n FROM t"), [{ n: i }]);
    assert.equal(await write, 1);
  }
});

Deno.test("duckdb file: opens of one file in one process share it; each close is its own", async () => {
  await using dir = await tempDir("duckdb-share-");
  const url = `duckdb:${dir.path}/db/warehouse.duckdb`; // the folder is created
  const a = await openWarehouse(url);
  const b = await openWarehouse(url);
  await a.exec("CREATE TABLE t (id int)");
  await a.execute("INSERT INTO t VALUES ($1)", [1]);
  assert.deepStrictEqual(await b.query("SELECT id FROM t"), [{ id: 1 }]);
  await a.close();
  await b.execute("INSERT INTO t VALUES ($1)", [2]);
  const other = await rejection(openWarehouse(`${url}?threads=1`));
  assert.ok(other instanceof WarehouseLockedError, String(other));
  assert.match(other.message, /already open in this process with other settings/);
  await b.close();
  // Released: a new open (with other settings now) gets the file and its data.
  await using c = await openWarehouse(`${url}?threads=1`);
  assert.deepStrictEqual(await c.query("SELECT id FROM t ORDER BY id"), [{ id: 1 }, { id: 2 }]);
});

Deno.test("duckdb file: another process waits for the file, then proceeds", async () => {
  await using dir = await tempDir("duckdb-lock-");
  const path = `${dir.path}/warehouse.duckdb`;
  const first = await openWarehouse(`duckdb:${path}`);
  const waiting = child("open", `duckdb:${path}`, "60000");
  const stderr = collect(waiting.stderr);
  const stdout = collect(waiting.stdout);
  try {
    const told = await stderr.waitFor(/waiting for the warehouse \(held by pid (\d+) at (.+)\)/);
    assert.equal(Number(told[1]), Deno.pid);
    assert.equal(told[2], path);
    assert.equal(await exitedWithin(waiting, 300), false, "the child must still be waiting");
  } finally {
    await first.close();
    await waiting.stdin.close();
  }
  const status = await waiting.status;
  assert.equal((await stdout.all).trim(), "opened", await stderr.all);
  assert.equal(status.code, 0);
  assert.equal([...(await stderr.all).matchAll(/waiting for the warehouse/g)].length, 1);
});

Deno.test("duckdb file: a live holder fails the open after the timeout; killed mid-transaction, only committed work survives", async () => {
  await using dir = await tempDir("duckdb-crash-");
  const path = `${dir.path}/warehouse.duckdb`;
  const holder = child("hold", `duckdb:${path}`);
  const out = collect(holder.stdout);
  const err = collect(holder.stderr);
  try {
    await Promise.race([out.waitFor(/loading/), err.all.then((e) => Promise.reject(new Error(e)))]);
    const told: string[] = [];
    const started = performance.now();
    const error = await rejection(openWarehouse(`duckdb:${path}`, {
      lockTimeoutMs: 400,
      lockPollMs: 50,
      onLockWait: (m) => told.push(m),
    }));
    assert.ok(error instanceof WarehouseLockedError, String(error));
    assert.equal(error.code, "warehouse.locked");
    assert.equal(error.holderPid, holder.pid);
    assert.equal(error.lockPath, path);
    assert.match(error.message, new RegExp(`still held after 0 s \\(pid ${holder.pid}`));
    assert.ok(performance.now() - started >= 400);
    assert.deepStrictEqual(told, [
      `waiting for the warehouse (held by pid ${holder.pid} at ${path})`,
    ]);
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
    await holder.stdin.close().catch(() => {});
    await out.all;
    await err.all;
  }
  // The lock died with the process; DuckDB replays its log: the committed row only.
  const told: string[] = [];
  await using wh = await openWarehouse(`duckdb:${path}`, { onLockWait: (m) => told.push(m) });
  assert.deepStrictEqual(told, []);
  assert.deepStrictEqual(await wh.query("SELECT id, v FROM main.t"), [{ id: 1, v: "committed" }]);
  await wh.execute("INSERT INTO main.t VALUES ($1, $2)", [2, "after the crash"]);
  assert.deepStrictEqual(await wh.query("SELECT count(*)::int AS n FROM main.t"), [{ n: 2 }]);
});

Deno.test("duckdb file: read-only opens share the file across processes and refuse writes", async () => {
  await using dir = await tempDir("duckdb-ro-");
  const path = `${dir.path}/warehouse.duckdb`;
  {
    await using wh = await openWarehouse(`duckdb:${path}`);
    await wh.exec("CREATE TABLE main.t (id int); INSERT INTO main.t VALUES (1), (2), (3)");
  }
  const url = `duckdb:${path}?access_mode=read_only`;
  const reader = child("read", url, "5000");
  const out = collect(reader.stdout);
  try {
    assert.deepStrictEqual([...await out.waitFor(/rows (\d+)/)].slice(1), ["3"]);
    await using wh = await openWarehouse(url, { lockTimeoutMs: 2000 }) as DuckdbWarehouse;
    assert.equal(wh.readOnly, true);
    assert.deepStrictEqual(await wh.query("SELECT count(*)::int AS n FROM main.t"), [{ n: 3 }]);
    const error = await rejection(wh.execute("INSERT INTO main.t VALUES (4)"));
    assert.ok(error instanceof WarehouseQueryError, String(error));
    assert.match(error.message, /read-only/);
  } finally {
    await reader.stdin.close();
    assert.equal((await reader.status).code, 0);
  }
});

Deno.test("duckdb: writers take turns, so loaders' check-then-insert never conflicts", async () => {
  await using wh = await memory();
  await wh.exec("CREATE TABLE manifest (name text PRIMARY KEY, loads int)");
  // What bronze_activity does per file, written for Postgres: lock, read, upsert.
  const load = (name: string) =>
    wh.transaction(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [name]);
      const [seen] = await tx.query<{ loads: number }>(
        "SELECT loads FROM manifest WHERE name = $1",
        [name],
      );
      await new Promise((resolve) => setTimeout(resolve, 5)); // let the others try to overlap
      if (seen) await tx.execute("UPDATE manifest SET loads = loads + 1 WHERE name = $1", [name]);
      else await tx.execute("INSERT INTO manifest VALUES ($1, 1)", [name]);
    });
  await Promise.all(Array.from({ length: 12 }, (_, i) => load(`file-${i % 3}`)));
  assert.deepStrictEqual(await wh.query("SELECT name, loads FROM manifest ORDER BY name"), [
    { name: "file-0", loads: 4 },
    { name: "file-1", loads: 4 },
    { name: "file-2", loads: 4 },
  ]);
  // Plain statements outside transactions take turns too (DDL on one schema included).
  await Promise.all(
    Array.from({ length: 8 }, (_, i) => wh.exec(`CREATE TABLE IF NOT EXISTS s_${i % 2} (id int)`)),
  );
});

Deno.test("duckdb: reads go on while a transaction holds the write turn", async () => {
  await using wh = await memory();
  await wh.exec("CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let inside: () => void = () => {};
  const entered = new Promise<void>((resolve) => (inside = resolve));
  const tx = wh.transaction(async (tx) => {
    await tx.execute("INSERT INTO t VALUES (2)");
    inside();
    await held;
  });
  await entered;
  // Not blocked, and sees the last committed state only.
  assert.deepStrictEqual(await wh.query("SELECT count(*)::int AS n FROM t"), [{ n: 1 }]);
  release();
  await tx;
  assert.deepStrictEqual(await wh.query("SELECT count(*)::int AS n FROM t"), [{ n: 2 }]);
});

Deno.test("duckdb: a write through the warehouse inside its own transaction fails at once", async () => {
  await using wh = await memory();
  await wh.exec("CREATE TABLE t (id int)");
  const started = performance.now();
  const error = await rejection(wh.transaction(async () => {
    await wh.execute("INSERT INTO t VALUES (1)");
  }));
  assert.ok(error instanceof TypeError, String(error));
  assert.match(error.message, /inside one of its own transactions/);
  const nested = await rejection(wh.transaction(() => wh.transaction(async () => {})));
  assert.ok(nested instanceof TypeError, String(nested));
  // Refused, not waited on: a deadlock would hang here, and a wait that ends
  // in a lock timeout would cost far more than load adds to a few statements.
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 30_000, `took ${elapsed} ms`);
  // Reads through the warehouse inside a transaction are fine.
  await wh.transaction(async () => {
    assert.deepStrictEqual(await wh.query("SELECT count(*)::int AS n FROM t"), [{ n: 0 }]);
  });
});

Deno.test("duckdb: after a failed statement a transaction refuses more work and rolls back", async () => {
  await using wh = await memory();
  await wh.exec("CREATE TABLE t (id int PRIMARY KEY)");
  const error = await rejection(wh.transaction(async (tx) => {
    await tx.execute("INSERT INTO t VALUES (1)");
    await tx.execute("INSERT INTO t VALUES (1)").catch(() => {}); // swallowed by the caller
    await tx.execute("INSERT INTO t VALUES (2)");
  }));
  assert.ok(error instanceof WarehouseQueryError, String(error));
  assert.equal(error.sqlState, "25P02");
  const swallowed = await rejection(wh.transaction(async (tx) => {
    await tx.bulkLoad({ schema: "main", name: "t" }, ["id"], [[3], ["x"]]).catch(() => {});
  }));
  assert.ok(swallowed instanceof WarehouseQueryError, String(swallowed));
  assert.match(swallowed.message, /Cannot commit .* rolled back/);
  assert.deepStrictEqual(await wh.query("SELECT * FROM t"), []);
  let kept: WarehouseSession | undefined;
  await wh.transaction((tx) => Promise.resolve(void (kept = tx)));
  const late = await rejection(kept?.query("SELECT 1") ?? Promise.resolve());
  assert.ok(late instanceof TypeError, String(late));
  assert.match(late.message, /after it ended/);
});

Deno.test("duckdb: DuckDB's errors carry the SQLSTATE Postgres gives", async () => {
  await using wh = await memory();
  await wh.exec(`CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL, n int CHECK (n > 0));
    INSERT INTO t VALUES (1, 'a', 1)`);
  const cases: [string, string][] = [
    ["INSERT INTO t VALUES (1, 'b', 1)", "23505"],
    ["INSERT INTO t VALUES (2, NULL, 1)", "23502"],
    ["INSERT INTO t VALUES (3, 'c', -1)", "23514"],
    ["SELECT nope FROM t", "42703"],
    ["SELECT * FROM nowhere", "42P01"],
    ["SELECT * FROM nosuch.t", "42P01"],
    ["SELEC 1", "42601"],
    ["SELECT 'abc'::int", "22P02"],
    ["SELECT no_such_function(1)", "42883"],
    ["CREATE TABLE t (id int)", "42P07"],
    ["SELECT 1::tinyint * 1000::tinyint", "22003"],
  ];
  for (const [sql, state] of cases) {
    const error = await rejection(wh.query(sql));
    assert.ok(error instanceof WarehouseQueryError, `${sql}: ${error}`);
    assert.equal(error.sqlState, state, `${sql}: ${error.message}`);
    assert.match(error.message, new RegExp(`SQLSTATE ${state}$`));
  }
});

Deno.test("duckdb bulkLoad: values convert per column type, as COPY reads their text", async () => {
  await using wh = await memory();
  await wh.exec(`CREATE TABLE v (
    b bool, ti tinyint, hi hugeint, ub ubigint, r real, d decimal(10,2), s varchar, j json,
    bl blob, dt date, ts timestamp, tz timestamptz, tms timestamp_ms, u uuid, tm time,
    l int[], st struct(a int, b text), m map(text, int)
  )`);
  const columns = [
    "b",
    "ti",
    "hi",
    "ub",
    "r",
    "d",
    "s",
    "j",
    "bl",
    "dt",
    "ts",
    "tz",
    "tms",
    "u",
    "tm",
    "l",
    "st",
    "m",
  ];
  const loaded = await wh.bulkLoad({ schema: "main", name: "v" }, columns, [
    [
      "yes",
      "-128",
      2n ** 100n,
      "18446744073709551615",
      "1.5",
      "1.005",
      42,
      { k: [1] },
      "\\x00ff",
      "2024-02-29T23:00:00Z",
      "2024-01-02 03:04:05.123456+02",
      "2024-01-02 03:04:05+02:00",
      new Date("2024-01-02T03:04:05.678Z"),
      "783acad3-cad5-4cad-90af-0d2dafef83df",
      "01:02:03",
      [1, null, 3],
      '{"a": 1, "b": "x"}',
      { k: 7 },
    ],
    [
      false,
      127,
      -1,
      0,
      Number.NaN,
      -2.345,
      true,
      "[1,2]",
      new Uint8Array([9]),
      new Date(0),
      null,
      null,
      null,
      null,
      null,
      "[]",
      { a: null, b: null },
      {},
    ],
  ]);
  assert.equal(loaded, 2);
  const rows = await wh.query("SELECT * FROM v ORDER BY b DESC");
  assert.deepStrictEqual(rows[0], {
    b: true,
    ti: -128,
    hi: 2n ** 100n,
    ub: 18446744073709551615n,
    r: 1.5,
    d: "1.01", // rounded half away from zero, as Postgres rounds numeric
    s: "42",
    j: { k: [1] },
    bl: new Uint8Array([0, 255]),
    dt: new Date("2024-02-29T00:00:00Z"), // the time part of a date's text is ignored
    ts: new Date("2024-01-02T03:04:05.123Z"), // a zone on a plain timestamp is ignored
    tz: new Date("2024-01-02T01:04:05Z"),
    tms: new Date("2024-01-02T03:04:05.678Z"),
    u: "783acad3-cad5-4cad-90af-0d2dafef83df",
    tm: "01:02:03",
    l: [1, null, 3],
    st: { a: 1, b: "x" },
    m: { k: 7 },
  });
  assert.deepStrictEqual(rows[1], {
    b: false,
    ti: 127,
    hi: -1n,
    ub: 0n,
    r: Number.NaN,
    d: "-2.35",
    s: "t",
    j: [1, 2],
    bl: new Uint8Array([9]),
    dt: new Date(0),
    ts: null,
    tz: null,
    tms: null,
    u: null,
    tm: null,
    l: [],
    st: { a: null, b: null },
    m: {},
  });
});

Deno.test("duckdb bulkLoad: a value that does not fit names its column and line; nothing is loaded", async () => {
  await using wh = await memory();
  await wh.exec(`CREATE TABLE t (i int, d decimal(5,2), dt date, j json, iv interval,
    k int DEFAULT 7, stamped_at timestamptz DEFAULT now())`);
  const cases: [string[], unknown[], RegExp, string][] = [
    [
      ["i"],
      ["3000000000"],
      /value "3000000000" is out of range for type integer \(column i, line 3\)/,
      "22003",
    ],
    [["i"], [1.5], /invalid input syntax for type integer: "1.5" \(column i, line 3\)/, "22P02"],
    [["d"], ["1234.5"], /numeric field overflow: "1234.5" does not fit decimal\(5,2\)/, "22003"],
    [["dt"], ["2024-02-30"], /invalid input syntax for type date: "2024-02-30"/, "22P02"],
    [["j"], ["{not json"], /invalid input syntax for type json/, "22P02"],
    [["iv"], ["1 day"], /cannot convert values for a column of type interval; load text/, "0A000"],
  ];
  for (const [columns, bad, message, state] of cases) {
    const good = columns.map(() => null);
    // Two good rows then the bad one: the row-by-row path (defaults for the other columns).
    const error = await rejection(
      wh.bulkLoad({ schema: "main", name: "t" }, columns, [good, good, bad as never]),
    );
    assert.ok(error instanceof WarehouseQueryError, String(error));
    assert.match(error.message, message);
    assert.equal(error.sqlState, state);
  }
  assert.deepStrictEqual(await wh.query("SELECT count(*)::int AS n FROM t"), [{ n: 0 }]);
  const structural: [string[], RegExp, string][] = [
    [["nope"], /column "nope" of relation "main.t" does not exist/, "42703"],
    [["i", "I"], /column "i" specified more than once/, "42701"],
  ];
  for (const [columns, message, state] of structural) {
    const error = await rejection(wh.bulkLoad({ schema: "main", name: "t" }, columns, [[1, 2]]));
    assert.ok(error instanceof WarehouseQueryError, String(error));
    assert.match(error.message, message);
    assert.equal(error.sqlState, state);
  }
  const missing = await rejection(wh.bulkLoad({ schema: "main", name: "nope" }, ["a"], [[1]]));
  assert.equal((missing as WarehouseQueryError).sqlState, "42P01");
  // Columns left out take their defaults, per row.
  await wh.bulkLoad({ schema: "main", name: "t" }, ["i"], [[1], [2]]);
  assert.deepStrictEqual(
    await wh.query("SELECT i, k, stamped_at IS NOT NULL AS stamped FROM t ORDER BY i"),
    [{ i: 1, k: 7, stamped: true }, { i: 2, k: 7, stamped: true }],
  );
});

Deno.test("duckdb bulkLoad: a constraint broken by the load is a typed error and loads nothing", async () => {
  await using wh = await memory();
  await wh.exec("CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)");
  const rows = Array.from({ length: 5000 }, (_, i) => [i, "v"]);
  const duplicate = await rejection(
    wh.bulkLoad({ schema: "main", name: "t" }, ["id", "v"], [...rows, [7, "again"]]),
  );
  assert.equal((duplicate as WarehouseQueryError).sqlState, "23505", String(duplicate));
  const nulls = await rejection(
    wh.bulkLoad({ schema: "main", name: "t" }, ["id", "v"], [[1, null]]),
  );
  assert.equal((nulls as WarehouseQueryError).sqlState, "23502", String(nulls));
  assert.deepStrictEqual(await wh.query("SELECT count(*)::int AS n FROM t"), [{ n: 0 }]);
});

Deno.test("duckdb: results come back in the shared JS forms", async () => {
  await using wh = await memory();
  const [row] = await wh.query(`SELECT 1::tinyint AS ti, 2::smallint AS si, 3::integer AS i,
    4::bigint AS bi, 170141183460469231731687303715884105727::hugeint AS hi, 1.5::float AS fl,
    12.50::decimal(10,2) AS dec, 'x' AS s, '{"a": [1, null]}'::json AS j, '\\x01'::blob AS b,
    date '1969-12-31' AS d, timestamp '1969-12-31 23:59:59.999' AS ts,
    timestamp_ns '2024-01-01 00:00:00.123456789' AS tns, interval 3 day AS iv,
    '783acad3-cad5-4cad-90af-0d2dafef83df'::uuid AS u, time '01:02:03' AS tm,
    [[1, 2], [3]] AS nested, {'a': 1, 'b': [true]} AS st, map {1: 'one'} AS m,
    'nan'::double AS nan, NULL::int AS nothing, count(*) AS n`);
  assert.deepStrictEqual(row, {
    ti: 1,
    si: 2,
    i: 3,
    bi: 4n,
    hi: 2n ** 127n - 1n,
    fl: 1.5,
    dec: "12.50",
    s: "x",
    j: { a: [1, null] },
    b: new Uint8Array([1]),
    d: new Date("1969-12-31T00:00:00Z"),
    ts: new Date("1969-12-31T23:59:59.999Z"),
    tns: new Date("2024-01-01T00:00:00.123Z"),
    iv: "3 days",
    u: "783acad3-cad5-4cad-90af-0d2dafef83df",
    tm: "01:02:03",
    nested: [[1, 2], [3]],
    st: { a: 1, b: [true] },
    m: [{ key: 1, value: "one" }],
    nan: Number.NaN,
    nothing: null,
    n: 1n,
  });
});

Deno.test("duckdb: the lake's Parquet and JSON files are read in place (built-in extensions)", async () => {
  await using dir = await tempDir("duckdb-lake-");
  await using wh = await DuckdbWarehouse.open(":memory:", {
    extensions: ["parquet", "json"],
    onNotice: (m) => assert.fail(`unexpected notice: ${m}`),
  });
  assert.deepStrictEqual(wh.extensions, [
    { name: "parquet", available: true, detail: "built in" },
    { name: "json", available: true, detail: "built in" },
  ]);
  const parquet = `${dir.path}/part-0.parquet`;
  await wh.exec(
    `COPY (SELECT range::int AS id, 'p' || range AS name FROM range(1000)) TO '${parquet}' (FORMAT parquet)`,
  );
  await Deno.writeTextFile(`${dir.path}/doc.json`, '[{"id": 1, "tags": ["a", "b"]}]');
  const [summary] = await wh.query(
    "SELECT count(*)::int AS n, max(name) AS top FROM read_parquet($1)",
    [`${dir.path}/*.parquet`],
  );
  assert.deepStrictEqual(summary, { n: 1000, top: "p999" });
  assert.deepStrictEqual(
    await wh.query("SELECT id, tags FROM read_json($1)", [`${dir.path}/doc.json`]),
    [{ id: 1n, tags: ["a", "b"] }],
  );
});

Deno.test("duckdb bulkLoad: decimals stay exact on every path, short or long", async () => {
  await using wh = await memory();
  await wh.exec("CREATE TABLE d (a decimal(38,6), b decimal(12,2))");
  const rows: [string, string][] = [
    ["123456789.123456", "1234567890.12"], // short: the fast path
    ["-0.5", "-0.5"],
    ["12345678901234567890.000001", "0.125"], // long / rounding: the exact path
    ["1e3", "-1.005"],
  ];
  await wh.bulkLoad({ schema: "main", name: "d" }, ["a", "b"], rows);
  assert.deepStrictEqual(await wh.query("SELECT a, b FROM d"), [
    { a: "123456789.123456", b: "1234567890.12" },
    { a: "-0.500000", b: "-0.50" },
    { a: "12345678901234567890.000001", b: "0.13" },
    { a: "1000.000000", b: "-1.01" },
  ]);
});
