/**
 * The DuckDB warehouse: DuckDB (npm:@duckdb/node-api) in this process, on a
 * database file or in memory. It implements the same {@linkcode Warehouse}
 * contract as PGlite and PostgreSQL, in DuckDB's own SQL dialect
 * (`dialect: "duckdb"`), and reads the lake's Parquet and JSON files
 * directly (`read_parquet`, `read_json`).
 *
 * Concurrency, as it makes sense for a DuckDB file:
 *
 * - Across processes, DuckDB locks the file: one process may open it for
 *   writing (or many read-only, `access_mode=read_only`). A second process
 *   waits up to `lockTimeoutMs`, printing once who holds it, then fails with
 *   `warehouse.locked` naming the pid. The lock dies with its process, so a
 *   killed process never leaves a stale lock; DuckDB replays its WAL at the
 *   next open, keeping committed work and dropping the rest.
 * - Within a process, every open of the same file shares one DuckDB
 *   instance (two instances on one file would corrupt it); reads run in
 *   parallel on a pool of connections, writes take turns (see
 *   `_duckdb_pool.ts`). Because writers never overlap, Postgres' transaction
 *   advisory locks are already held by every transaction here, and
 *   `pg_advisory_xact_lock` / `hashtextextended` exist as macros that do
 *   nothing, so loaders written for Postgres run unchanged.
 *
 * @example
 * ```ts
 * import { DuckdbWarehouse } from "./duckdb.ts";
 * await using warehouse = await DuckdbWarehouse.open(":memory:");
 * const [row] = await warehouse.query("SELECT 40 + $1::int AS n", [2]);
 * console.log(row); // { n: 42 }
 * ```
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import {
  type DuckDBAppender,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBType,
  type DuckDBValue,
  StatementType,
} from "@duckdb/node-api";
import { ConfigError } from "../../core/errors.ts";
import { copyStatement } from "./_session.ts";
import { closedError, type FailureContext, unreachable } from "./_errors.ts";
import {
  duckdbFailure,
  duckdbMessage,
  type ExtensionAdvice,
  writeInsideTransaction,
} from "./_duckdb_errors.ts";
import {
  type DuckdbBuild,
  EXTENSION_NAME,
  extensionAdvice,
  type ExtensionStatus,
  installedPath,
  prepareExtensions,
  readBuild,
  sqlString,
} from "./_duckdb_extensions.ts";
import { ConnectionPool, WriteLock } from "./_duckdb_pool.ts";
import {
  bindParams,
  columnWriter,
  toRowObjects,
  type ValueConverter,
  valueConverter,
  ValueRejected,
} from "./_duckdb_values.ts";
import { RowSourceError } from "./_values.ts";
import { WarehouseLockedError, WarehouseQueryError } from "./errors.ts";
import { quoteIdent, quoteTable } from "./sql.ts";
import type {
  BulkRows,
  ColumnInfo,
  Row,
  SqlValue,
  TableRef,
  Warehouse,
  WarehouseSession,
} from "./types.ts";

export type { ExtensionStatus } from "./_duckdb_extensions.ts";

/** The path of an in-memory DuckDB database. */
export const DUCKDB_MEMORY = ":memory:";

/** Options of {@linkcode DuckdbWarehouse.open}. */
export interface DuckdbWarehouseOptions {
  /**
   * How long to wait for another process holding the database file, in
   * milliseconds, before failing with `warehouse.locked`.
   * @default 60000
   */
  lockTimeoutMs?: number;
  /**
   * How often to try the file again while waiting, in milliseconds.
   * @default 250
   */
  lockPollMs?: number;
  /**
   * Told once when the file is held by another process.
   * @default console.error
   */
  onLockWait?: (message: string) => void;
  /**
   * Extensions to make available at open (e.g. `["httpfs", "spatial"]`). One
   * that cannot be made available is reported through `onNotice` and in
   * {@linkcode DuckdbWarehouse.extensions}; queries that need it then fail
   * naming it and how to provide it.
   * @default []
   */
  extensions?: readonly string[];
  /**
   * A folder laid out as a DuckDB extension repository
   * (`<folder>/<version>/<platform>/<name>.duckdb_extension[.gz]`), used to
   * install requested extensions offline; an http(s) URL needs `allowDownloads`.
   * @default none
   */
  extensionRepository?: string;
  /**
   * Whether a requested extension may be downloaded from the network at open
   * (bounded by `downloadTimeoutMs`). Queries never download.
   * @default false
   */
  allowDownloads?: boolean;
  /**
   * Longest wait for one extension download, in milliseconds.
   * @default 30000
   */
  downloadTimeoutMs?: number;
  /**
   * DuckDB settings for the database (`threads`, `memory_limit`,
   * `access_mode`, `extension_directory`, ...), applied at open. An unknown
   * setting fails the open with `warehouse.invalid_url`.
   * @default {}
   */
  settings?: Readonly<Record<string, string>>;
  /**
   * Most connections open at once (parallel readers).
   * @default 4
   */
  maxConnections?: number;
  /**
   * Receives what the warehouse has to say at open (missing extensions).
   * @default console.error
   */
  onNotice?: (message: string) => void;
}

/** Settings the warehouse owns: setting them would break its promises. */
const OWNED_SETTINGS = new Set([
  "autoinstall_known_extensions",
  "autoinstall_extension_repository",
  "custom_extension_repository",
]);

/** Statements that only read, and so run beside a writer. */
const READ_ONLY_STATEMENTS: ReadonlySet<StatementType> = new Set([
  StatementType.SELECT,
  StatementType.EXPLAIN,
]);

/**
 * Run on every new connection. TEMP macros live in the connection, so
 * nothing is written into the user's database file.
 */
const CONNECTION_SETUP = `
CREATE OR REPLACE TEMP MACRO pg_advisory_xact_lock(key) AS NULL, (key1, key2) AS NULL;
CREATE OR REPLACE TEMP MACRO hashtextextended(t, seed) AS
  (hash(t, seed) % 9223372036854775807)::BIGINT;
`;

/** One DuckDB database shared by every open of it in this process. */
interface Database {
  readonly key: string | undefined;
  readonly instance: DuckDBInstance;
  readonly writeLock: WriteLock;
  readonly build: DuckdbBuild;
  readonly extensions: readonly ExtensionStatus[];
  readonly signature: string;
  readonly readOnly: boolean;
  refs: number;
  closed: boolean;
}

/** Files open in this process, by absolute path. */
const OPEN_FILES = new Map<string, Promise<Database>>();

/** What a session needs from its warehouse. */
interface SessionContext extends FailureContext {
  readonly database: Database;
  readonly advice: ExtensionAdvice;
  ensureOpen(): void;
}

/**
 * Where a session's statements run: on the warehouse, a pooled connection
 * (taking the write lock for writes); in a transaction, its one connection.
 */
interface Lane {
  /** Whether this lane is a transaction's (its connection already holds the write lock). */
  readonly inTransaction: boolean;
  /** Runs `fn` on a connection, without the write lock. */
  read<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T>;
  /** Takes the write lock, then runs `fn` on a connection. */
  write<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T>;
  /** Runs `fn` atomically: in a transaction of its own, or in the one open. */
  atomically<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T>;
  /** Told when a statement failed (a transaction then refuses more work). */
  failed(): void;
}

class DuckdbSession implements WarehouseSession {
  readonly dialect = "duckdb" as const;

  constructor(protected readonly context: SessionContext, private readonly lane: Lane) {}

  async query<T extends object = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    const result = await this.#run(sql, params, true);
    return result.rows as T[];
  }

  async execute(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return (await this.#run(sql, params, false)).changed;
  }

  async exec(script: string): Promise<void> {
    this.context.ensureOpen();
    try {
      await this.lane.write((connection) => connection.run(script));
    } catch (error) {
      this.lane.failed();
      throw duckdbFailure(this.context, script, error, this.context.advice);
    }
  }

  async bulkLoad(table: TableRef, columns: readonly string[], rows: BulkRows): Promise<number> {
    this.context.ensureOpen();
    const statement = copyStatement(table, columns, "rows (DuckDB appender)");
    try {
      return await this.lane.atomically((connection) =>
        appendRows(connection, this.context, statement, table, columns, rows)
      );
    } catch (error) {
      this.lane.failed();
      throw duckdbFailure(this.context, statement, error, this.context.advice);
    }
  }

  async ensureSchema(name: string): Promise<void> {
    await this.execute(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(name)}`);
  }

  /**
   * See {@linkcode WarehouseSession.tableExists}. DuckDB matches names
   * without regard to case, even quoted ones, so this does too.
   */
  async tableExists(schema: string, table: string): Promise<boolean> {
    quoteTable({ schema, name: table });
    const rows = await this.query<{ found: boolean }>(
      `SELECT count(*) > 0 AS found FROM (
         SELECT schema_name, table_name AS name, database_name FROM duckdb_tables()
         UNION ALL SELECT schema_name, view_name, database_name FROM duckdb_views() WHERE NOT internal
       ) WHERE database_name = current_database()
         AND lower(schema_name) = lower($1) AND lower(name) = lower($2)`,
      [schema, table],
    );
    return rows[0]?.found === true;
  }

  /** See {@linkcode WarehouseSession.columns}; types as DuckDB prints them (`INTEGER`, `DECIMAL(12,2)`). */
  async columns(schema: string, table: string): Promise<ColumnInfo[]> {
    quoteTable({ schema, name: table });
    return await this.query<ColumnInfo>(
      `SELECT column_name AS name, data_type AS type, is_nullable AS nullable
       FROM duckdb_columns()
       WHERE database_name = current_database()
         AND lower(schema_name) = lower($1) AND lower(table_name) = lower($2)
       ORDER BY column_index`,
      [schema, table],
    );
  }

  async #run(
    sql: string,
    params: readonly SqlValue[] | undefined,
    wantRows: boolean,
  ): Promise<{ rows: Row[]; changed: number }> {
    this.context.ensureOpen();
    const execute = async (connection: DuckDBConnection, readOnly: boolean) => {
      const prepared = await connection.prepare(sql);
      try {
        if (readOnly && !READ_ONLY_STATEMENTS.has(prepared.statementType)) return undefined;
        bindParams(prepared, params);
        const result = await prepared.run();
        const all = wantRows || isCountResult(result) ? await result.getRows() : [];
        const rows = wantRows ? toRowObjects(result.columnNames(), result.columnTypes(), all) : [];
        // CREATE TABLE AS and COPY report their rows in a "Count" column, not rowsChanged.
        const counted = isCountResult(result) ? Number(all[0]?.[0] ?? 0) : 0;
        return { rows, changed: result.rowsChanged || counted };
      } finally {
        prepared.destroySync();
      }
    };
    try {
      if (this.lane.inTransaction) return (await this.lane.read((c) => execute(c, false)))!;
      // A read runs at once; a write is prepared again once the write lock is
      // held, so no connection is kept while waiting for the lock.
      const read = await this.lane.read((c) => execute(c, true));
      return read ?? (await this.lane.write((c) => execute(c, false)))!;
    } catch (error) {
      this.lane.failed();
      throw duckdbFailure(this.context, sql, error, this.context.advice);
    }
  }
}

/** Whether a result is DuckDB's one-row `Count` report of a write. */
function isCountResult(result: { readonly columnCount: number; columnName(i: number): string }) {
  return result.columnCount === 1 && result.columnName(0) === "Count";
}

/** Rows per appender flush in row-by-row loads. */
const FLUSH_ROWS = 100_000;

/** Rows per data chunk: DuckDB's vector size. */
const CHUNK_ROWS = 2048;

/** The body of `bulkLoad`, on a connection inside a transaction. */
async function appendRows(
  connection: DuckDBConnection,
  context: SessionContext,
  statement: string,
  table: TableRef,
  columns: readonly string[],
  rows: BulkRows,
): Promise<number> {
  const target = await targetColumns(connection, statement, table);
  const positions = columns.map((column) => {
    const index = target.findIndex((name) => name.toLowerCase() === column.toLowerCase());
    if (index < 0) {
      throw queryError(
        context,
        statement,
        `column "${column}" of relation "${table.schema}.${table.name}" does not exist`,
        "42703",
      );
    }
    return index;
  });
  const duplicate = positions.find((p, i) => positions.indexOf(p) !== i);
  if (duplicate !== undefined) {
    const name = target[duplicate] ?? "";
    throw queryError(context, statement, `column "${name}" specified more than once`, "42701");
  }
  const appender = await connection.createAppender(target.table, target.schema);
  const types = target.map((_, i) => appender.columnType(i));
  const sourceOf: number[] = target.map(() => -1);
  positions.forEach((position, i) => (sourceOf[position] = i));
  const rejected = (error: unknown, column: number, line: number) => {
    if (!(error instanceof ValueRejected)) return error;
    return queryError(
      context,
      statement,
      `${error.message} (column ${target[column]}, line ${line})`,
      error.sqlState,
    );
  };
  const converters = types.map(valueConverter);
  const sink = sourceOf.every((s) => s >= 0) && converters.every((c) => c !== undefined)
    ? chunkSink(appender, types, converters as ValueConverter[], sourceOf, rejected)
    : rowSink(appender, types, sourceOf, rejected);
  const width = columns.length;
  let count = 0;
  const take = (row: readonly SqlValue[]) => {
    if (!Array.isArray(row) || row.length !== width) {
      const got = Array.isArray(row) ? `${row.length} values` : typeof row;
      throw new RangeError(`Cannot load row ${count}: it has ${got}, expected ${width} values`);
    }
    sink.add(row, ++count);
  };
  try {
    if (Symbol.asyncIterator in rows) {
      const iterator = rows[Symbol.asyncIterator]();
      for (let next = await nextRow(iterator); !next.done; next = await nextRow(iterator)) {
        take(next.value);
      }
    } else {
      // Walked synchronously: an `await` per row would cost more than appending it.
      const iterator = rows[Symbol.iterator]();
      for (let next = nextRowSync(iterator); !next.done; next = nextRowSync(iterator)) {
        take(next.value);
      }
    }
    sink.finish();
    appender.closeSync(); // flushes: constraint violations surface here
  } catch (error) {
    discard(appender);
    throw error;
  }
  return count;
}

/** Where converted rows go: whole data chunks, or the appender row by row. */
interface Sink {
  /** Adds row number `line` (1-based). */
  add(row: readonly SqlValue[], line: number): void;
  /** Hands over what is still buffered. */
  finish(): void;
}

type Rejected = (error: unknown, column: number, line: number) => unknown;

/**
 * Rows gathered into data chunks of DuckDB's vector size: the fast path, used
 * when the load names every column of the table and each has a converter
 * (per-row appends cost up to 25 µs a value for DECIMAL; a chunk ~1 µs).
 */
function chunkSink(
  appender: DuckDBAppender,
  types: readonly DuckDBType[],
  converters: readonly ValueConverter[],
  sourceOf: readonly number[],
  rejected: Rejected,
): Sink {
  const size = CHUNK_ROWS;
  const chunk = DuckDBDataChunk.create(types);
  const columns: DuckDBValue[][] = types.map(() => new Array<DuckDBValue>(size));
  let filled = 0;
  const flush = () => {
    if (filled === 0) return;
    chunk.setColumns(filled === size ? columns : columns.map((c) => c.slice(0, filled)));
    appender.appendDataChunk(chunk);
    filled = 0;
  };
  return {
    add(row, line) {
      for (let c = 0; c < columns.length; c++) {
        const value = row[sourceOf[c] as number];
        try {
          (columns[c] as DuckDBValue[])[filled] = value === null || value === undefined
            ? null
            : (converters[c] as ValueConverter)(value);
        } catch (error) {
          throw rejected(error, c, line);
        }
      }
      if (++filled === size) flush();
    },
    finish: flush,
  };
}

/** Row by row through the appender, with the columns' defaults for columns not loaded. */
function rowSink(
  appender: DuckDBAppender,
  types: readonly DuckDBType[],
  sourceOf: readonly number[],
  rejected: Rejected,
): Sink {
  const writers = types.map((type, c) =>
    (sourceOf[c] as number) >= 0 ? columnWriter(type) : undefined
  );
  return {
    add(row, line) {
      for (let c = 0; c < writers.length; c++) {
        const write = writers[c];
        if (write === undefined) {
          appender.appendDefault();
          continue;
        }
        const value = row[sourceOf[c] as number];
        if (value === null || value === undefined) appender.appendNull();
        else {
          try {
            write(appender, value);
          } catch (error) {
            throw rejected(error, c, line);
          }
        }
      }
      appender.endRow();
      if (line % FLUSH_ROWS === 0) appender.flushSync();
    },
    finish() {},
  };
}

type RowResult = IteratorResult<readonly SqlValue[]>;

/** The next of the caller's rows; what their iterator throws is theirs (see `RowSourceError`). */
async function nextRow(iterator: AsyncIterator<readonly SqlValue[]>): Promise<RowResult> {
  try {
    return await iterator.next();
  } catch (error) {
    throw new RowSourceError(error);
  }
}

function nextRowSync(iterator: Iterator<readonly SqlValue[]>): RowResult {
  try {
    return iterator.next();
  } catch (error) {
    throw new RowSourceError(error);
  }
}

/** Drops what an appender still buffers, after a failure that already decides the outcome. */
function discard(appender: DuckDBAppender): void {
  try {
    appender.clear();
    appender.closeSync();
  } catch {
    // the load failed already; the transaction's rollback discards the rest
  }
}

/** The target table's column names in order, plus its exact schema and name as stored. */
async function targetColumns(
  connection: DuckDBConnection,
  statement: string,
  table: TableRef,
): Promise<string[] & { schema: string; table: string }> {
  const reader = await connection.runAndReadAll(
    `SELECT schema_name, table_name, column_name FROM duckdb_columns()
     WHERE database_name = current_database() AND lower(schema_name) = lower($1)
       AND lower(table_name) = lower($2) AND NOT internal
     ORDER BY column_index`,
    [table.schema, table.name],
  );
  const rows = reader.getRows();
  const first = rows[0];
  if (!first) {
    throw new WarehouseQueryError(
      `Cannot run "${statement}" on the warehouse: relation "${table.schema}.${table.name}" ` +
        "does not exist; SQLSTATE 42P01",
      statement,
      "42P01",
    );
  }
  return Object.assign(rows.map((r) => String(r[2])), {
    schema: String(first[0]),
    table: String(first[1]),
  });
}

function queryError(
  context: SessionContext,
  statement: string,
  message: string,
  sqlState: string,
): WarehouseQueryError {
  return new WarehouseQueryError(
    `Cannot run "${statement}" on the warehouse: ${message}; SQLSTATE ${sqlState}`,
    statement,
    sqlState,
    { input: context.location },
  );
}

/**
 * A warehouse on DuckDB, in this process. See the module doc for what is
 * shared and what waits.
 */
export class DuckdbWarehouse extends DuckdbSession implements Warehouse {
  /** Always `duckdb`. */
  readonly backend = "duckdb" as const;
  /** The absolute database file, or `:memory:`. */
  readonly location: string;
  readonly #database: Database;
  readonly #pool: ConnectionPool;
  readonly #state: { closed: boolean; active: number; idle?: () => void };

  private constructor(database: Database, location: string, pool: ConnectionPool) {
    const state: { closed: boolean; active: number; idle?: () => void } = {
      closed: false,
      active: 0,
    };
    const context: SessionContext = {
      location,
      secrets: [],
      database,
      advice: (name) => extensionAdvice(database.build, name),
      ensureOpen: () => {
        if (state.closed) throw closedError(location);
      },
    };
    const track = async <T>(fn: () => Promise<T>): Promise<T> => {
      state.active++;
      try {
        return await fn();
      } finally {
        if (--state.active === 0) state.idle?.();
      }
    };
    const lane: Lane = {
      inTransaction: false,
      read: (fn) => track(() => pool.use(fn)),
      write: (fn) =>
        track(() => {
          if (database.writeLock.heldHere) throw writeInsideTransaction(location);
          return database.writeLock.withLock(() => pool.use(fn));
        }),
      atomically: (fn) =>
        track(() => {
          if (database.writeLock.heldHere) throw writeInsideTransaction(location);
          return database.writeLock.withLock(() =>
            pool.use((connection) => inTransaction(connection, fn))
          );
        }),
      failed: () => {},
    };
    super(context, lane);
    this.location = location;
    this.#database = database;
    this.#pool = pool;
    this.#state = state;
  }

  /** The DuckDB version, e.g. `v1.5.5`. */
  get version(): string {
    return this.#database.build.version;
  }

  /** Each requested extension and whether it could be made available. */
  get extensions(): readonly ExtensionStatus[] {
    return this.#database.extensions;
  }

  /** Whether the database was opened read-only (`access_mode=read_only`). */
  get readOnly(): boolean {
    return this.#database.readOnly;
  }

  /**
   * How each of `names` stands here, without installing anything: those
   * requested at open as they came out, the others as DuckDB has them
   * (built in, loaded, installed on disk, or missing). For `doctor`.
   */
  async inspectExtensions(names: readonly string[]): Promise<ExtensionStatus[]> {
    const requested = new Map(this.extensions.map((e) => [e.name, e]));
    const rows = await this.query<
      { name: string; loaded: boolean; installed: boolean; path: string }
    >(
      `SELECT extension_name AS name, loaded, installed, coalesce(install_path, '') AS path
       FROM duckdb_extensions()`,
    );
    const known = new Map(rows.map((r) => [r.name, r]));
    return [...new Set(names)].map((name) => {
      const status = requested.get(name);
      if (status) return status;
      const row = known.get(name);
      const where = installedPath(this.#database.build, name).replace(/\/[^/]+$/, "");
      if (row?.loaded) {
        const detail = row.path === "(BUILT-IN)" ? "built in" : `loaded from ${row.path}`;
        return { name, available: true, detail };
      }
      if (row?.installed) return { name, available: true, detail: `installed at ${row.path}` };
      return { name, available: false, detail: `not installed in ${where}` };
    });
  }

  /**
   * Opens (creating if needed) the database file `path`, or a new in-memory
   * database for `:memory:`. Waits while another process holds the file,
   * and fails with `warehouse.locked` after `lockTimeoutMs`; shares the
   * instance with other opens of the same file in this process (which must
   * ask for the same settings and extensions).
   */
  static async open(path: string, options: DuckdbWarehouseOptions = {}): Promise<DuckdbWarehouse> {
    const config = checkedConfig(path, options);
    const location = path === DUCKDB_MEMORY ? DUCKDB_MEMORY : resolve(path);
    let database: Database;
    if (location === DUCKDB_MEMORY) {
      database = await openDatabase(undefined, location, config, options);
    } else {
      database = await sharedDatabase(location, config, options);
    }
    const pool = new ConnectionPool(
      database.instance,
      options.maxConnections ?? 4,
      (connection) => connection.run(CONNECTION_SETUP).then(() => {}),
    );
    return new DuckdbWarehouse(database, location, pool);
  }

  /** See {@linkcode Warehouse.transaction}. */
  async transaction<T>(fn: (tx: WarehouseSession) => Promise<T>): Promise<T> {
    this.context.ensureOpen();
    const database = this.#database;
    if (database.writeLock.heldHere) throw writeInsideTransaction(this.location);
    this.#state.active++;
    try {
      return await database.writeLock.withLock(() =>
        this.#pool.use((connection) => runTransaction(connection, this.context, fn))
      );
    } finally {
      if (--this.#state.active === 0) this.#state.idle?.();
    }
  }

  /** See {@linkcode Warehouse.ping}. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.query("SELECT 1");
    return performance.now() - started;
  }

  /**
   * Closes this warehouse after the work in flight ends; the last close of a
   * file checkpoints it and releases it for other processes. Safe to call twice.
   */
  async close(): Promise<void> {
    if (this.#state.closed) return;
    this.#state.closed = true;
    if (this.#state.active > 0) {
      await new Promise<void>((resolve) => (this.#state.idle = resolve));
    }
    this.#pool.close();
    release(this.#database);
  }

  /** Same as {@linkcode close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** Runs `fn` between BEGIN and COMMIT on `connection`; ROLLBACK when it throws. */
async function inTransaction<T>(
  connection: DuckDBConnection,
  fn: (connection: DuckDBConnection) => Promise<T>,
): Promise<T> {
  await connection.run("BEGIN TRANSACTION");
  let result: T;
  try {
    result = await fn(connection);
  } catch (error) {
    await rollback(connection);
    throw error;
  }
  try {
    await connection.run("COMMIT");
  } catch (error) {
    await rollback(connection);
    throw error;
  }
  return result;
}

async function rollback(connection: DuckDBConnection): Promise<void> {
  try {
    await connection.run("ROLLBACK");
  } catch {
    // already rolled back (DuckDB ends a transaction whose commit failed)
  }
}

/** The body of `transaction`: a session bound to one connection, refusing work once a statement failed. */
async function runTransaction<T>(
  connection: DuckDBConnection,
  context: SessionContext,
  fn: (tx: WarehouseSession) => Promise<T>,
): Promise<T> {
  const state = { failed: false, ended: false };
  const txContext: SessionContext = {
    ...context,
    ensureOpen: () => {
      context.ensureOpen();
      if (state.ended) {
        throw new TypeError(
          `Cannot use a transaction of the warehouse at ${context.location} after it ended`,
        );
      }
      if (state.failed) {
        throw new WarehouseQueryError(
          `Cannot run more statements on the warehouse at ${context.location}: the current ` +
            "transaction is aborted (a statement in it failed); it will be rolled back; SQLSTATE 25P02",
          "",
          "25P02",
          { input: context.location },
        );
      }
    },
  };
  const lane: Lane = {
    inTransaction: true,
    read: (work) => work(connection),
    write: (work) => work(connection),
    atomically: (work) => work(connection),
    failed: () => (state.failed = true),
  };
  const tx = new DuckdbSession(txContext, lane);
  await connection.run("BEGIN TRANSACTION");
  let result: T;
  try {
    result = await fn(tx);
  } catch (error) {
    state.ended = true;
    await rollback(connection);
    throw error;
  }
  state.ended = true;
  if (state.failed) {
    await rollback(connection);
    throw new WarehouseQueryError(
      `Cannot commit on the warehouse at ${context.location}: a statement of the transaction ` +
        "failed, so it was rolled back; SQLSTATE 25P02",
      "COMMIT",
      "25P02",
      { input: context.location },
    );
  }
  try {
    await connection.run("COMMIT");
  } catch (error) {
    await rollback(connection);
    throw duckdbFailure(context, "COMMIT", error, context.advice);
  }
  return result;
}

/** DuckDB config for `DuckDBInstance.create`, validated. */
function checkedConfig(path: string, options: DuckdbWarehouseOptions): Record<string, string> {
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.settings ?? {})) {
    if (OWNED_SETTINGS.has(key.toLowerCase())) {
      throw invalidSetting(path, `${key} is managed by the warehouse (use allow_downloads)`);
    }
    config[key] = String(value);
  }
  for (const name of options.extensions ?? []) {
    if (!EXTENSION_NAME.test(name)) {
      throw invalidSetting(
        path,
        `extension name ${JSON.stringify(name)} is not a DuckDB extension name`,
      );
    }
  }
  const max = options.maxConnections ?? 4;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(
      `Cannot open the warehouse: maxConnections must be a positive integer, got ${max}`,
    );
  }
  const timeout = options.downloadTimeoutMs ?? 30_000;
  if (!(timeout > 0)) {
    throw new RangeError(
      `Cannot open the warehouse: downloadTimeoutMs must be positive, got ${timeout}`,
    );
  }
  // Queries never install: only the open does, bounded in time.
  config["autoinstall_known_extensions"] = "false";
  return config;
}

function invalidSetting(path: string, why: string): ConfigError {
  return new ConfigError(
    "warehouse.invalid_url",
    `Cannot open the DuckDB warehouse '${path}': ${why}`,
    { resourceKey: "warehouse", input: path },
  );
}

/** What must match for two opens of one file to share its instance. */
function signatureOf(config: Record<string, string>, options: DuckdbWarehouseOptions): string {
  return JSON.stringify({
    config: Object.entries(config).sort(),
    extensions: [...new Set(options.extensions ?? [])].sort(),
    repository: options.extensionRepository ?? null,
    downloads: options.allowDownloads ?? false,
  });
}

async function sharedDatabase(
  location: string,
  config: Record<string, string>,
  options: DuckdbWarehouseOptions,
): Promise<Database> {
  const signature = signatureOf(config, options);
  let database: Database;
  do {
    let opening = OPEN_FILES.get(location);
    if (!opening) {
      opening = openDatabase(location, location, config, options);
      OPEN_FILES.set(location, opening);
      opening.catch(() => OPEN_FILES.delete(location));
    }
    database = await opening;
  } while (database.closed); // closed by its last user while we waited: open it anew
  if (database.signature !== signature) {
    throw new WarehouseLockedError(
      `Cannot open the warehouse ${location}: it is already open in this process with other ` +
        "settings or extensions; open it once and share it, or close the other one first",
      location,
      Deno.pid,
    );
  }
  database.refs++;
  return database;
}

function release(database: Database): void {
  if (--database.refs > 0) return;
  database.closed = true;
  if (database.key !== undefined) OPEN_FILES.delete(database.key);
  database.instance.closeSync();
}

/** Creates the instance (waiting out another process's lock), then sets it up. */
async function openDatabase(
  key: string | undefined,
  location: string,
  config: Record<string, string>,
  options: DuckdbWarehouseOptions,
): Promise<Database> {
  if (key !== undefined) await Deno.mkdir(dirname(location), { recursive: true });
  const instance = await createWaiting(location, config, options);
  try {
    const setup = await instance.connect();
    try {
      await setup.run("SET GLOBAL TimeZone = 'UTC'");
      const build = await readBuild(setup);
      const repository = options.extensionRepository;
      // Plain `INSTALL x` in user SQL then looks in a local folder, never on the network.
      const installFrom = options.allowDownloads ? repository : (
        repository !== undefined && !/^https?:/i.test(repository)
          ? repository
          : `${build.extensionDirectory}/offline-no-repository`
      );
      if (installFrom !== undefined) {
        await setup.run(`SET GLOBAL custom_extension_repository = ${sqlString(installFrom)}`);
      }
      const extensions = await prepareExtensions(setup, options.extensions ?? [], {
        repository,
        allowDownloads: options.allowDownloads ?? false,
        downloadTimeoutMs: options.downloadTimeoutMs ?? 30_000,
        connect: () => instance.connect(),
      }, build);
      const notice = options.onNotice ?? ((message: string) => console.error(message));
      for (const status of extensions) {
        if (status.available) continue;
        notice(
          `warehouse ${location}: DuckDB extension '${status.name}' is not available (${status.detail}). ` +
            `Queries that need it will fail. ${extensionAdvice(build, status.name)}.`,
        );
      }
      const accessMode = Object.entries(config).find(([k]) => k.toLowerCase() === "access_mode");
      return {
        key,
        instance,
        writeLock: new WriteLock(),
        build,
        extensions,
        signature: signatureOf(config, options),
        readOnly: accessMode?.[1].toLowerCase() === "read_only",
        refs: key === undefined ? 1 : 0,
        closed: false,
      };
    } finally {
      setup.disconnectSync();
    }
  } catch (error) {
    instance.closeSync();
    throw unreachable({ location, secrets: [] }, new Error(duckdbMessage(error)), "open");
  }
}

const LOCK_HELD = /Could not set lock on file .*Conflicting lock is held in .*\(PID (\d+)\)/s;
const BAD_SETTING =
  /unrecognized configuration|not recognized|Invalid Input Error: .*(option|setting)|Could not find/i;

async function createWaiting(
  location: string,
  config: Record<string, string>,
  options: DuckdbWarehouseOptions,
): Promise<DuckDBInstance> {
  const timeoutMs = options.lockTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  while (true) {
    try {
      return await DuckDBInstance.create(location, config);
    } catch (error) {
      const message = duckdbMessage(error);
      const held = LOCK_HELD.exec(message);
      if (!held) {
        if (BAD_SETTING.test(message)) throw invalidSetting(location, message);
        throw unreachable({ location, secrets: [] }, new Error(message), "open");
      }
      const pid = Number(held[1]);
      if (!announced) {
        announced = true;
        (options.onLockWait ?? ((m: string) => console.error(m)))(
          `waiting for the warehouse (held by pid ${pid} at ${location})`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new WarehouseLockedError(
          `Cannot open the warehouse: still held after ${Math.round(timeoutMs / 1000)} s ` +
            `(pid ${pid}, database file ${location}). Stop that process, or open the file ` +
            "read-only (access_mode=read_only) from every process that only reads.",
          location,
          pid,
        );
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(options.lockPollMs ?? 250, left))
      );
    }
  }
}

/** Query keys of a `duckdb:` URL that are options of the warehouse, not DuckDB settings. */
const URL_OPTIONS = new Set([
  "extensions",
  "extension_repository",
  "allow_downloads",
  "download_timeout_ms",
  "max_connections",
]);

/**
 * Parses `duckdb:<path>[?key=value&...]` (also `duckdb://<path>`) into a path
 * and options: `extensions` (comma-separated), `extension_repository`,
 * `allow_downloads`, `download_timeout_ms`, `max_connections`; every other key
 * is a DuckDB setting (`threads`, `memory_limit`, `access_mode`, ...).
 *
 * @example
 * ```ts
 * import { parseDuckdbUrl } from "./duckdb.ts";
 * const { path, options } = parseDuckdbUrl("duckdb:.state/wh.duckdb?threads=2&extensions=spatial");
 * console.log(path, options.settings, options.extensions); // .state/wh.duckdb { threads: "2" } [ "spatial" ]
 * ```
 */
export function parseDuckdbUrl(url: string): { path: string; options: DuckdbWarehouseOptions } {
  if (!url.startsWith("duckdb:")) {
    throw invalidSetting(url, "expected duckdb:<path> or duckdb::memory:");
  }
  let rest = url.slice("duckdb:".length);
  if (rest.startsWith("//")) rest = rest.slice(2);
  const question = rest.indexOf("?");
  const path = question < 0 ? rest : rest.slice(0, question);
  if (path.length === 0) {
    throw invalidSetting(url, `expected duckdb:<path> or duckdb:${DUCKDB_MEMORY}`);
  }
  const options: DuckdbWarehouseOptions = {};
  const settings: Record<string, string> = {};
  const query = new URLSearchParams(question < 0 ? "" : rest.slice(question + 1));
  for (const [key, value] of query) {
    const name = key.toLowerCase();
    if (!URL_OPTIONS.has(name)) {
      settings[key] = value;
      continue;
    }
    switch (name) {
      case "extensions":
        options.extensions = value.split(",").map((e) => e.trim()).filter((e) => e.length > 0);
        break;
      case "extension_repository":
        options.extensionRepository = value;
        break;
      case "allow_downloads":
        if (!/^(true|false)$/i.test(value)) {
          throw invalidSetting(url, "allow_downloads must be true or false");
        }
        options.allowDownloads = value.toLowerCase() === "true";
        break;
      case "download_timeout_ms":
      case "max_connections": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) {
          throw invalidSetting(url, `${name} must be a positive integer`);
        }
        if (name === "max_connections") options.maxConnections = n;
        else options.downloadTimeoutMs = n;
        break;
      }
    }
  }
  if (Object.keys(settings).length > 0) options.settings = settings;
  return { path, options };
}

/**
 * Opens the warehouse a `duckdb:` URL names; `options` given here win over
 * the URL's.
 */
export async function openDuckdbWarehouse(
  url: string,
  options: DuckdbWarehouseOptions = {},
): Promise<DuckdbWarehouse> {
  const parsed = parseDuckdbUrl(url);
  const merged: DuckdbWarehouseOptions = { ...parsed.options, ...definedOnly(options) };
  if (parsed.options.settings && options.settings) {
    merged.settings = { ...parsed.options.settings, ...options.settings };
  }
  return await DuckdbWarehouse.open(parsed.path, merged);
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Quoting for DuckDB is the shared one: double quotes, names validated. */
export { quoteIdent, quoteTable };

/** Types the DuckDB warehouse uses from the driver, for tests. */
export type { DuckDBType };
