/**
 * One contract for every warehouse: PGlite in memory, PGlite on disk,
 * PostgreSQL from a throwaway Debian cluster, and DuckDB in memory and on a
 * file. Each backend gets one open warehouse; each step works in its own
 * schema. Where the dialects spell a thing differently, {@linkcode SPELLING}
 * says how; the behaviour asserted is the same.
 */

import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { ResourceError } from "../../../core/errors.ts";
import {
  type ColumnInfo,
  openWarehouse,
  type Warehouse,
  type WarehouseDialect,
  WarehouseQueryError,
  type WarehouseSession,
} from "../../../resources/warehouse/mod.ts";
import {
  AWKWARD_COLUMNS,
  type AwkwardRow,
  awkwardRow,
  awkwardTableSql,
  awkwardValues,
} from "./_awkward.ts";
import { TARGETS } from "./_targets.ts";
import { needs } from "../../_helpers/tools.ts";

/** What differs between the dialects, and nothing else. */
interface Spelling {
  /** An exact decimal type wide enough for 20 integer and 6 fraction digits. */
  readonly numeric: string;
  /** The binary JSON type. */
  readonly json: string;
  /** How `columns()` reports the mixed-case table of `schemaHelpers`. */
  readonly mixedCaseColumns: readonly ColumnInfo[];
  /** Whether quoted names differing only in case name different tables. */
  readonly caseSensitiveNames: boolean;
  /** The server's wording for a missing relation. */
  readonly missingRelation: RegExp;
}

const SPELLING: Readonly<Record<WarehouseDialect, Spelling>> = {
  postgres: {
    numeric: "numeric",
    json: "jsonb",
    mixedCaseColumns: [
      { name: "id", type: "bigint", nullable: false },
      { name: "Total Steps", type: "integer", nullable: true },
      { name: "amount", type: "numeric(12,2)", nullable: true },
      { name: "at", type: "timestamp with time zone", nullable: true },
      { name: "tags", type: "text[]", nullable: true },
    ],
    caseSensitiveNames: true,
    missingRelation: /relation "c_missing.nowhere" does not exist/,
  },
  duckdb: {
    numeric: "decimal(38,6)",
    json: "json",
    mixedCaseColumns: [
      { name: "id", type: "BIGINT", nullable: false },
      { name: "Total Steps", type: "INTEGER", nullable: true },
      { name: "amount", type: "DECIMAL(12,2)", nullable: true },
      { name: "at", type: "TIMESTAMP WITH TIME ZONE", nullable: true },
      { name: "tags", type: "VARCHAR[]", nullable: true },
    ],
    caseSensitiveNames: false,
    missingRelation: /Table with name "c_missing.nowhere" does not exist/,
  },
};

for (const target of TARGETS) {
  Deno.test(`warehouse contract: ${target.name}`, {
    ignore: await needs(...target.needs),
  }, async (t) => {
    await using fixture = await target.open();
    const wh = fixture.warehouse;
    assert.equal(wh.dialect, target.dialect);
    await t.step("binds every kind of parameter", () => bindsParameters(wh));
    await t.step("stores parameters verbatim, never as SQL", () => storesVerbatim(wh));
    await t.step("queryTable names the columns of any result", () => tablesColumns(wh));
    await t.step("execute returns the affected row count", () => countsRows(wh));
    await t.step("exec runs a multi-statement script", () => runsScripts(wh));
    await t.step("transaction commits", () => commits(wh));
    await t.step("transaction rolls back and rethrows", () => rollsBack(wh));
    await t.step("bulkLoad round-trips 50k awkward rows", () => roundTrips(wh, 50_000));
    await t.step("bulkLoad is all or nothing", () => loadsAtomically(wh));
    await t.step("bulkLoad inside a transaction rolls back with it", () => loadsInTx(wh));
    await t.step("schema helpers", () => schemaHelpers(wh));
    await t.step("one new schema ensured by many sessions at once", () => ensuresAtOnce(wh));
    await t.step("invalid identifiers are rejected", () => rejectsIdentifiers(wh));
    await t.step("a failed statement is a typed error naming it", () => namesStatement(wh));
    await t.step("ping measures a round trip", async () => {
      const ms = await wh.ping();
      assert.ok(ms >= 0 && ms < 5_000, `ping ${ms}`);
    });
    await t.step("a closed warehouse refuses work", () => refusesAfterClose(wh));
  });
}

async function tablesColumns(wh: Warehouse): Promise<void> {
  // dbt's run_query of a query that finds nothing still has columns (get_single_value's default).
  const empty = await wh.queryTable("SELECT 1 AS a, 'x' AS b WHERE 1 = 0");
  assert.deepStrictEqual(empty, {
    columns: ["a", "b"],
    rows: [],
    decimals: [false, false],
    temporal: [null, null],
  });
  const twice = await wh.queryTable("SELECT $1::int AS n, 'y' AS n", [7]);
  assert.deepStrictEqual(twice, {
    columns: ["n", "n"],
    rows: [[7, "y"]],
    decimals: [false, false],
    temporal: [null, null],
  });
  // An exact decimal arrives as text; `decimals` tells it from a text column (dbt's run_query
  // makes it a number, as agate's Decimal).
  const money = await wh.queryTable("SELECT CAST(2.5 AS DECIMAL(10, 2)) AS fee, '2.50' AS label");
  assert.deepStrictEqual(money, {
    columns: ["fee", "label"],
    rows: [["2.50", "2.50"]],
    decimals: [true, false],
    temporal: [null, null],
  });
  // A date, a naive and a zoned time all arrive as Dates; `temporal` tells them apart (dbt's
  // run_query gives a date, a naive datetime and an aware one, which print differently).
  const times = await wh.queryTable(
    "SELECT CAST('2017-01-02' AS DATE) AS d, CAST('2017-01-02 03:04:05' AS TIMESTAMP) AS ts, " +
      "CAST('2017-01-02 03:04:05+00' AS TIMESTAMPTZ) AS tz, 'x' AS t",
  );
  assert.deepStrictEqual(times.temporal, ["date", "timestamp", "timestamptz", null]);
  assert.deepStrictEqual(times.rows[0]?.slice(0, 2), [
    new Date("2017-01-02T00:00:00Z"),
    new Date("2017-01-02T03:04:05Z"),
  ]);
  await wh.transaction(async (tx) => {
    const inside = await tx.queryTable("SELECT 2 AS only WHERE false");
    assert.deepStrictEqual(inside.columns, ["only"]);
  });
  await assert.rejects(wh.queryTable("SELECT * FROM no_such_table_here"), WarehouseQueryError);
}

async function bindsParameters(wh: Warehouse): Promise<void> {
  const when = new Date("2024-05-06T07:08:09.123Z");
  const doc = { nested: { a: [1, "two", null, false] }, "quote'key": 'x"y' };
  const bytes = new Uint8Array([0, 1, 92, 255]);
  const { json, numeric } = SPELLING[wh.dialect];
  const [row] = await wh.query(
    `SELECT $1::text AS s, $2::int AS i, $3::float8 AS f, $4::bool AS yes, $5::bool AS no,
      $6::timestamptz AS ts, $7::date AS d, $8::${json} AS doc, $9::${json} AS list,
      $10::text AS nothing, $11::int8 AS big, $12::bytea AS bin, $13::${numeric} AS num`,
    [
      `O'Reilly "q" \\ back`,
      -42,
      3.25,
      true,
      false,
      when,
      new Date("2024-02-29"),
      doc,
      [1, "a"],
      null,
      9_007_199_254_740_993n,
      bytes,
      "12345678901234567890.000001",
    ],
  );
  assert.deepStrictEqual(row, {
    s: `O'Reilly "q" \\ back`,
    i: -42,
    f: 3.25,
    yes: true,
    no: false,
    ts: when,
    d: new Date("2024-02-29T00:00:00Z"),
    doc,
    list: [1, "a"],
    nothing: null,
    big: 9_007_199_254_740_993n,
    bin: bytes,
    num: "12345678901234567890.000001",
  });
}

async function storesVerbatim(wh: Warehouse): Promise<void> {
  await wh.ensureSchema("c_verbatim");
  // `at` is a keyword in DuckDB: quoted, it is a plain name everywhere.
  await wh.exec('CREATE TABLE c_verbatim.t (id int, v text, flag bool, "at" timestamptz)');
  const hostile = "x'); DROP TABLE c_verbatim.t; --";
  const at = new Date("2030-01-02T03:04:05.678Z");
  await wh.execute("INSERT INTO c_verbatim.t VALUES ($1, $2, $3, $4)", [1, hostile, false, at]);
  await wh.execute("INSERT INTO c_verbatim.t VALUES ($1, $2, $3, $4)", [2, null, true, null]);
  const rows = await wh.query("SELECT * FROM c_verbatim.t WHERE v = $1 OR v IS NULL ORDER BY id", [
    hostile,
  ]);
  assert.deepStrictEqual(rows, [
    { id: 1, v: hostile, flag: false, at },
    { id: 2, v: null, flag: true, at: null },
  ]);
}

async function countsRows(wh: Warehouse): Promise<void> {
  await wh.ensureSchema("c_count");
  await wh.exec("CREATE TABLE c_count.t (id int)");
  assert.equal(await wh.execute("INSERT INTO c_count.t SELECT * FROM generate_series(1, 7)"), 7);
  assert.equal(await wh.execute("UPDATE c_count.t SET id = id + 1 WHERE id > $1", [4]), 3);
  assert.equal(await wh.execute("DELETE FROM c_count.t WHERE id = $1", [99]), 0);
}

async function runsScripts(wh: Warehouse): Promise<void> {
  await wh.exec(`
    CREATE SCHEMA c_script;
    CREATE TABLE c_script.a (id int);
    INSERT INTO c_script.a VALUES (1), (2);
    CREATE VIEW c_script.v AS SELECT count(*)::int AS n FROM c_script.a;
  `);
  assert.deepStrictEqual(await wh.query("SELECT n FROM c_script.v"), [{ n: 2 }]);
}

async function commits(wh: Warehouse): Promise<void> {
  await wh.ensureSchema("c_commit");
  await wh.exec("CREATE TABLE c_commit.t (id int)");
  const result = await wh.transaction(async (tx) => {
    await tx.execute("INSERT INTO c_commit.t VALUES ($1)", [1]);
    await tx.execute("INSERT INTO c_commit.t VALUES ($1)", [2]);
    return (await tx.query<{ n: number }>("SELECT count(*)::int AS n FROM c_commit.t"))[0]?.n;
  });
  assert.equal(result, 2);
  assert.deepStrictEqual(await wh.query("SELECT id FROM c_commit.t ORDER BY id"), [
    { id: 1 },
    { id: 2 },
  ]);
}

async function rollsBack(wh: Warehouse): Promise<void> {
  await wh.ensureSchema("c_rollback");
  await wh.exec("CREATE TABLE c_rollback.t (id int PRIMARY KEY)");
  const boom = new Error("boom");
  await assert.rejects(
    wh.transaction(async (tx) => {
      await tx.execute("INSERT INTO c_rollback.t VALUES (1)");
      throw boom;
    }),
    (error) => error === boom,
  );
  await assert.rejects(
    wh.transaction(async (tx) => {
      await tx.execute("INSERT INTO c_rollback.t VALUES (2)");
      await tx.execute("INSERT INTO c_rollback.t VALUES (2)");
    }),
    (error) => error instanceof WarehouseQueryError && error.sqlState === "23505",
  );
  assert.deepStrictEqual(await wh.query("SELECT * FROM c_rollback.t"), []);
}

async function roundTrips(wh: Warehouse, count: number): Promise<void> {
  await wh.ensureSchema("c_bulk");
  await wh.exec(awkwardTableSql("c_bulk.awkward", wh.dialect));
  const expected = Array.from({ length: count }, (_, i) => awkwardRow(i));
  const half = count / 2;
  // First half from an async generator, second from an array: both paths.
  async function* firstHalf() {
    for (const row of expected.slice(0, half)) yield awkwardValues(row);
  }
  const table = { schema: "c_bulk", name: "awkward" };
  assert.equal(await wh.bulkLoad(table, AWKWARD_COLUMNS, firstHalf()), half);
  const rest = expected.slice(half).map(awkwardValues);
  assert.equal(await wh.bulkLoad(table, AWKWARD_COLUMNS, rest), count - half);
  const actual = await wh.query<AwkwardRow>("SELECT * FROM c_bulk.awkward ORDER BY id");
  assert.equal(actual.length, count);
  assertRowsEqual(actual, expected);
}

function assertRowsEqual(actual: AwkwardRow[], expected: AwkwardRow[]): void {
  for (let i = 0; i < expected.length; i++) {
    if (!isDeepStrictEqual(actual[i], expected[i])) {
      assert.deepStrictEqual(actual[i], expected[i], `row ${i} differs`);
    }
  }
}

async function loadsAtomically(wh: Warehouse): Promise<void> {
  await wh.ensureSchema("c_atomic");
  await wh.exec("CREATE TABLE c_atomic.t (id int, v text)");
  const table = { schema: "c_atomic", name: "t" };
  const rows = Array.from({ length: 30_000 }, (_, i) => [i, `v${i}`]);
  rows.push(["not a number", "bad"], [30_001, "after"]);
  const error = await rejection(wh.bulkLoad(table, ["id", "v"], rows));
  assert.ok(error instanceof WarehouseQueryError, String(error));
  assert.equal(error.code, "warehouse.query_failed");
  assert.match(error.message, /COPY "c_atomic"\."t" \("id", "v"\)/);
  assert.match(error.message, /invalid input syntax for type integer/);
  assert.match(error.message, /line 30001/);
  const ragged = await rejection(wh.bulkLoad(table, ["id", "v"], [[1, "a"], [2]]));
  assert.ok(ragged instanceof RangeError, String(ragged));
  assert.match(ragged.message, /row 1.*1 values.*expected 2/);
  async function* failingSource() {
    yield [1, "a"];
    throw new Error("source broke");
  }
  const broken = await rejection(wh.bulkLoad(table, ["id", "v"], failingSource()));
  assert.equal((broken as Error).message, "source broke");
  assert.deepStrictEqual(await wh.query("SELECT count(*)::int AS n FROM c_atomic.t"), [{ n: 0 }]);
  assert.equal(await wh.bulkLoad(table, ["id", "v"], []), 0);
}

async function loadsInTx(wh: Warehouse): Promise<void> {
  await wh.ensureSchema("c_txload");
  await wh.exec("CREATE TABLE c_txload.t (day date, v int)");
  const table = { schema: "c_txload", name: "t" };
  const day = new Date("2024-01-01");
  await wh.bulkLoad(table, ["day", "v"], [[day, 1], [day, 2]]);
  // Replace a partition atomically: delete then load, and fail half-way.
  await assert.rejects(wh.transaction(async (tx: WarehouseSession) => {
    await tx.execute("DELETE FROM c_txload.t WHERE day = $1", [day]);
    await tx.bulkLoad(table, ["day", "v"], [[day, 10]]);
    throw new Error("late failure");
  }));
  assert.deepStrictEqual(await wh.query("SELECT v FROM c_txload.t ORDER BY v"), [{ v: 1 }, {
    v: 2,
  }]);
  await wh.transaction(async (tx) => {
    await tx.execute("DELETE FROM c_txload.t WHERE day = $1", [day]);
    await tx.bulkLoad(table, ["day", "v"], [[day, 10]]);
  });
  assert.deepStrictEqual(await wh.query("SELECT v FROM c_txload.t"), [{ v: 10 }]);
}

async function ensuresAtOnce(wh: Warehouse): Promise<void> {
  // dbt builds seeds and models of one schema in parallel, each ensuring the schema first:
  // PostgreSQL's IF NOT EXISTS looks before it inserts, so a second session could fail on the
  // catalog's unique index (seen: a jaffle_shop build's seeds, SQLSTATE 23505).
  for (let round = 0; round < 10; round++) {
    const name = `c_race_${round}`;
    await Promise.all(Array.from({ length: 8 }, () => wh.ensureSchema(name)));
    assert.equal(await wh.tableExists(name, "none"), false);
  }
}

async function schemaHelpers(wh: Warehouse): Promise<void> {
  await wh.ensureSchema("Mixed Case");
  await wh.ensureSchema("Mixed Case"); // idempotent
  assert.equal(await wh.tableExists("Mixed Case", "Daily Activity"), false);
  await wh.exec(
    `CREATE TABLE "Mixed Case"."Daily Activity" (
      id bigint NOT NULL, "Total Steps" integer, amount numeric(12,2),
      "at" timestamp with time zone, tags text[]
    )`,
  );
  const spelling = SPELLING[wh.dialect];
  assert.equal(await wh.tableExists("Mixed Case", "Daily Activity"), true);
  assert.equal(
    await wh.tableExists("mixed case", "daily activity"),
    !spelling.caseSensitiveNames,
  );
  assert.deepStrictEqual(
    await wh.columns("Mixed Case", "Daily Activity"),
    spelling.mixedCaseColumns,
  );
  assert.deepStrictEqual(await wh.columns("Mixed Case", "missing"), []);
  const loaded = await wh.bulkLoad(
    { schema: "Mixed Case", name: "Daily Activity" },
    ["id", "Total Steps"],
    [[1n, 10_000]],
  );
  assert.equal(loaded, 1);
}

async function rejectsIdentifiers(wh: Warehouse): Promise<void> {
  const bad = ['x"; DROP SCHEMA public; --', "", "a".repeat(64), "new\nline", "nul\0"];
  for (const name of bad) {
    await assertInvalidIdentifier(wh.ensureSchema(name));
    await assertInvalidIdentifier(wh.tableExists(name, "t"));
    await assertInvalidIdentifier(wh.columns("public", name));
    await assertInvalidIdentifier(wh.bulkLoad({ schema: "public", name }, ["a"], [[1]]));
    await assertInvalidIdentifier(wh.bulkLoad({ schema: "public", name: "t" }, [name], [[1]]));
  }
  await wh.ensureSchema("é".repeat(31)); // 62 bytes: the longest accepted
  assert.equal(await wh.tableExists("public", "a".repeat(63)), false);
}

async function assertInvalidIdentifier(promise: Promise<unknown>): Promise<void> {
  const error = await rejection(promise);
  assert.ok(error instanceof ResourceError, String(error));
  assert.equal(error.code, "warehouse.invalid_identifier");
}

async function namesStatement(wh: Warehouse): Promise<void> {
  const error = await rejection(
    wh.query("SELECT *\n  FROM c_missing.nowhere\n WHERE id = $1", [1]),
  );
  assert.ok(error instanceof WarehouseQueryError, String(error));
  assert.equal(error.code, "warehouse.query_failed");
  assert.equal(error.resourceKey, "warehouse");
  assert.equal(error.statement, "SELECT *");
  assert.equal(error.sqlState, "42P01");
  assert.match(error.message, /Cannot run "SELECT \*" on the warehouse/);
  // dbt's query comment opens every statement: the message named only the comment.
  const commented = await rejection(
    wh.query(`/* {"app": "dbt", "node_id": "model.p.x"} */\n\nselect * from c_missing.elsewhere`),
  );
  assert.ok(commented instanceof WarehouseQueryError, String(commented));
  assert.equal(commented.statement, "select * from c_missing.elsewhere");
  assert.match(error.message, SPELLING[wh.dialect].missingRelation);
  const script = await rejection(wh.exec("CREATE TABLE c_syntax (id int);\nSELEC 1;"));
  assert.ok(script instanceof WarehouseQueryError);
  assert.match(script.message, /syntax error at or near "SELEC"/);
  const [after] = await wh.query("SELECT 1 AS ok"); // the connection survived
  assert.deepStrictEqual(after, { ok: 1 });
}

async function refusesAfterClose(wh: Warehouse): Promise<void> {
  await wh.close();
  await wh.close();
  for (const attempt of [wh.query("SELECT 1"), wh.transaction(async () => {})]) {
    const error = await rejection(attempt);
    assert.ok(error instanceof ResourceError, String(error));
    assert.equal(error.code, "warehouse.closed");
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new assert.AssertionError({ message: "expected a rejection" });
}

Deno.test("postgres: an unreachable server fails fast, without the password", async () => {
  // A refused connection fails at once rather than waiting out the connect
  // timeout: a long timeout makes that defect cost a minute, far from the
  // milliseconds expected and from the seconds a loaded machine adds.
  const started = performance.now();
  const error = await rejection(
    openWarehouse("postgres://u:secret@127.0.0.1:1/db", { connectTimeoutSeconds: 60 }),
  );
  const elapsed = performance.now() - started;
  assert.ok(elapsed < 30_000, `took ${elapsed} ms`);
  assert.ok(error instanceof ResourceError, String(error));
  assert.equal(error.code, "warehouse.unreachable");
  assert.match(error.message, /postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/db/);
  assert.doesNotMatch(error.message, /secret/);
  assert.doesNotMatch(Deno.inspect(error, { depth: 10 }), /secret/);
});

Deno.test("postgres: a server that never answers times out as unreachable", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    // A timeout above the 5 s default: load only delays the error, so "not
    // before the timeout asked for" tells an honoured option from an ignored
    // one without a tight upper bound; the upper one catches a timeout that
    // is not the connect's (e.g. the 1 h statement timeout).
    const started = performance.now();
    const error = await rejection(
      openWarehouse(`postgres://u:hunter22@127.0.0.1:${listener.addr.port}/db`, {
        connectTimeoutSeconds: 6,
      }),
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 5_900 && elapsed < 60_000, `took ${elapsed} ms`);
    assert.ok(error instanceof ResourceError, String(error));
    assert.equal(error.code, "warehouse.unreachable");
    assert.doesNotMatch(Deno.inspect(error, { depth: 10 }), /hunter22/);
  } finally {
    listener.close();
    await accepting;
    for (const conn of held) conn.close();
  }
});
