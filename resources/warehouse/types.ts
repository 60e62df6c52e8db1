/**
 * The `Warehouse` resource: a SQL database that assets load into and dbt
 * builds marts in. PGlite (embedded) and PostgreSQL (server) speak the
 * `postgres` dialect, DuckDB (embedded, reads the lake's Parquet directly)
 * the `duckdb` dialect; all three implement the same interface and pass the
 * same contract tests.
 *
 * @module
 */

/** A value that JSON can represent. */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * A value bound to a `$n` parameter or loaded by `bulkLoad`.
 *
 * Parameters travel as text and the server types them from context, so the
 * same call behaves the same on every backend; add a cast (`$1::int`) where
 * the context says nothing (e.g. `SELECT $1`).
 *
 * - `Date` is sent as an ISO-8601 instant (UTC).
 * - Plain objects and arrays are sent as JSON text (for `json`/`jsonb`);
 *   for a Postgres array, pass JSON and unpack it in SQL
 *   (`jsonb_array_elements_text($1)`) or pass an array literal string.
 * - `Uint8Array` is sent as `bytea`.
 */
export type SqlValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Date
  | Uint8Array
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/**
 * A row as returned by `query`. Column values come back as:
 * `int2`/`int4`/`float4`/`float8`/`oid` -> `number`, `int8` -> `bigint`,
 * `numeric` -> `string` (exact), `bool` -> `boolean`, `json`/`jsonb` -> parsed
 * value, `bytea` -> `Uint8Array`, `date`/`timestamp`/`timestamptz` -> `Date`
 * (`timestamp` and `date` read as UTC), arrays of these -> arrays, anything
 * else -> its text form. Sessions run with `TimeZone=UTC`.
 */
export type Row = Record<string, unknown>;

/**
 * What {@linkcode WarehouseSession.queryTable} returns: the result's column
 * names as the statement gives them (even when it returns no rows, and
 * repeated names kept) and each row's values in column order.
 */
export interface QueryTable {
  /** Column names, in order. */
  readonly columns: readonly string[];
  /** Rows, one value per column, converted as {@linkcode Row} says. */
  readonly rows: readonly (readonly unknown[])[];
  /**
   * Per column, whether it holds exact decimals (Postgres `numeric`, DuckDB
   * `DECIMAL`), which arrive as strings: a reader that needs numbers (dbt's
   * `run_query`, whose agate table has Decimals) tells them from text.
   */
  readonly decimals?: readonly boolean[];
  /**
   * Per column, which date or time type it is (null for the others): a
   * `Date` value alone cannot tell a `date` from a `timestamp` nor a naive
   * time from a zoned one, which dbt's agate table keeps apart.
   */
  readonly temporal?: readonly (TemporalKind | null)[];
}

/** The date and time types a result column may hold (see {@linkcode QueryTable.temporal}). */
export type TemporalKind = "date" | "timestamp" | "timestamptz";

/** A table named by schema and name; both are identifiers and get validated and quoted. */
export interface TableRef {
  /** Schema name, e.g. `raw`. */
  readonly schema: string;
  /** Table name, e.g. `raw_weather`. */
  readonly name: string;
}

/** One column of a table, as reported by {@linkcode WarehouseSession.columns}. */
export interface ColumnInfo {
  /** Column name. */
  readonly name: string;
  /**
   * Type as the engine prints it: Postgres `integer`, `numeric(12,2)`,
   * `timestamp with time zone`; DuckDB `INTEGER`, `DECIMAL(12,2)`, `TIMESTAMP WITH TIME ZONE`.
   */
  readonly type: string;
  /** Whether the column accepts NULL. */
  readonly nullable: boolean;
}

/** Rows for `bulkLoad`: each row has one value per listed column, in order. */
export type BulkRows =
  | Iterable<readonly SqlValue[]>
  | AsyncIterable<readonly SqlValue[]>;

/** Which engine serves a warehouse: PGlite and PostgreSQL speak `postgres`, DuckDB `duckdb`. */
export type WarehouseBackend = "pglite" | "postgres" | "duckdb";

/** The SQL dialect of a warehouse, for code that generates SQL. */
export type WarehouseDialect = "postgres" | "duckdb";

/**
 * What can be done inside or outside a transaction.
 *
 * Identifiers passed as arguments (schema, table, column names) are validated
 * and quoted; values are always bound as parameters, never spliced into SQL.
 */
export interface WarehouseSession {
  /** The SQL dialect, for code that generates SQL (dbt adapters, loaders). */
  readonly dialect: WarehouseDialect;

  /**
   * Runs one statement with `$1`-style parameters and returns its rows.
   *
   * @example
   * ```ts
   * import { openWarehouse } from "./open.ts";
   * await using warehouse = await openWarehouse("pglite:memory:");
   * const rows = await warehouse.query<{ n: bigint }>(
   *   "SELECT count(*) AS n FROM raw.raw_weather WHERE place = $1",
   *   ["Billings MT"],
   * );
   * ```
   */
  query<T extends object = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;

  /**
   * Runs one statement like {@linkcode query} and returns its columns with its
   * rows: a query that finds no rows still says which columns it has (dbt's
   * `run_query(...).columns`), and two columns of one name stay two.
   */
  queryTable(sql: string, params?: readonly SqlValue[]): Promise<QueryTable>;

  /** Runs one statement with `$1`-style parameters and returns the row count of its command tag. */
  execute(sql: string, params?: readonly SqlValue[]): Promise<number>;

  /** Runs a script of several statements without parameters (DDL, migrations). */
  exec(script: string): Promise<void>;

  /**
   * Loads rows into `table`, streaming them (COPY on Postgres, the Appender on DuckDB) without
   * holding them all in memory; all or nothing. Returns the number loaded.
   * A malformed row throws `RangeError`, an error thrown by the row source is
   * rethrown as is, a value the server rejects is `warehouse.query_failed`
   * naming the COPY line; in every case nothing is loaded. On PGlite the row
   * source must not use the warehouse (the load holds its only connection).
   *
   * @example
   * ```ts
   * import { openWarehouse } from "./open.ts";
   * await using warehouse = await openWarehouse("pglite:memory:");
   * const loaded = await warehouse.bulkLoad(
   *   { schema: "raw", name: "sleep" },
   *   ["day", "minutes"],
   *   [[new Date("2024-01-01"), 420], [new Date("2024-01-02"), null]],
   * );
   * ```
   */
  bulkLoad(table: TableRef, columns: readonly string[], rows: BulkRows): Promise<number>;

  /** Creates the schema if it does not exist. */
  ensureSchema(name: string): Promise<void>;

  /** Whether a table, view, materialized view or foreign table of that name exists. */
  tableExists(schema: string, table: string): Promise<boolean>;

  /** The table's columns in order; empty when the table does not exist. */
  columns(schema: string, table: string): Promise<ColumnInfo[]>;
}

/**
 * A SQL warehouse connection (or pool). Open it with `openWarehouse(url)` and
 * close it with `await using` or `close()`.
 *
 * @example
 * ```ts
 * import { openWarehouse } from "./open.ts";
 * const rows = [["2024-01-01", 1]];
 * await using warehouse = await openWarehouse("pglite:memory:");
 * await warehouse.ensureSchema("raw");
 * await warehouse.transaction(async (tx) => {
 *   await tx.execute("DELETE FROM raw.t WHERE day = $1", ["2024-01-01"]);
 *   await tx.bulkLoad({ schema: "raw", name: "t" }, ["day", "v"], rows);
 * });
 * ```
 */
export interface Warehouse extends WarehouseSession, AsyncDisposable {
  /** The engine behind this warehouse. */
  readonly backend: WarehouseBackend;
  /** Where it lives, safe to log: a directory, `memory:`, or a URL without its password. */
  readonly location: string;

  /**
   * Runs `fn` in a transaction: commits when it resolves, rolls back and
   * rethrows when it throws. Use only `tx` inside `fn`: on PGlite, a call on
   * the warehouse itself waits for the transaction to end, so it would never
   * return.
   */
  transaction<T>(fn: (tx: WarehouseSession) => Promise<T>): Promise<T>;

  /** Runs a trivial query and returns the round trip in milliseconds. */
  ping(): Promise<number>;

  /** Closes connections (and releases the PGlite lock or the DuckDB file). Safe to call twice. */
  close(): Promise<void>;
}
