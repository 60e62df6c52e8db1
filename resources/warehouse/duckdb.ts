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

import { resolve } from "node:path";
import {
  type DuckDBConnection,
  type DuckDBType,
  DuckDBTypeId,
  StatementType,
} from "@duckdb/node-api";
import { copyStatement } from "./_session.ts";
import { closedError, type FailureContext } from "./_errors.ts";
import { duckdbFailure, type ExtensionAdvice, writeInsideTransaction } from "./_duckdb_errors.ts";
import { extensionAdvice, type ExtensionStatus, installedPath } from "./_duckdb_extensions.ts";
import { appendRows } from "./_duckdb_append.ts";
import {
  checkedConfig,
  CONNECTION_SETUP,
  type Database,
  DUCKDB_MEMORY,
  type DuckdbWarehouseOptions,
  openDatabase,
  parseDuckdbUrl,
  release,
  sharedDatabase,
} from "./_duckdb_open.ts";
import { ConnectionPool } from "./_duckdb_pool.ts";
import { bindParams, fromDuckDB, temporalOfDuckDB, toRowObjects } from "./_duckdb_values.ts";
import { WarehouseQueryError } from "./errors.ts";
import { quoteIdent, quoteTable } from "./sql.ts";
import type {
  BulkRows,
  ColumnInfo,
  QueryTable,
  Row,
  SqlValue,
  TableRef,
  Warehouse,
  WarehouseSession,
} from "./types.ts";

export type { ExtensionStatus } from "./_duckdb_extensions.ts";

export { DUCKDB_MEMORY, type DuckdbWarehouseOptions, parseDuckdbUrl } from "./_duckdb_open.ts";

/** Statements that only read, and so run beside a writer. */
const READ_ONLY_STATEMENTS: ReadonlySet<StatementType> = new Set([
  StatementType.SELECT,
  StatementType.EXPLAIN,
]);

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
  /**
   * Runs `fn`, which may make several `read`/`write` calls, as one piece of
   * work in flight: `close` waits for all of it, not just for each call.
   */
  work<T>(fn: () => Promise<T>): Promise<T>;
  /** Told when a statement failed (a transaction then refuses more work). */
  failed(): void;
}

class DuckdbSession implements WarehouseSession {
  readonly dialect = "duckdb" as const;

  constructor(protected readonly context: SessionContext, private readonly lane: Lane) {}

  async query<T extends object = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
    const result = await this.#run(sql, params, "objects");
    return result.rows as T[];
  }

  async queryTable(sql: string, params?: readonly SqlValue[]): Promise<QueryTable> {
    const { table } = await this.#run(sql, params, "arrays");
    return table;
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
    wantRows: "objects" | "arrays" | false,
  ): Promise<{ rows: Row[]; table: QueryTable; changed: number }> {
    this.context.ensureOpen();
    const execute = async (connection: DuckDBConnection, readOnly: boolean) => {
      const prepared = await connection.prepare(sql);
      try {
        if (readOnly && !READ_ONLY_STATEMENTS.has(prepared.statementType)) return undefined;
        bindParams(prepared, params);
        const result = await prepared.run();
        const all = wantRows || isCountResult(result) ? await result.getRows() : [];
        const names = result.columnNames();
        const types = result.columnTypes();
        const rows = wantRows === "objects" ? toRowObjects(names, types, all) : [];
        const table = {
          columns: names,
          rows: wantRows === "arrays"
            ? all.map((row) => row.map((v, i) => fromDuckDB(v, types[i] as DuckDBType)))
            : [],
          decimals: types.map((type) => type.typeId === DuckDBTypeId.DECIMAL),
          temporal: types.map((type) => temporalOfDuckDB(type.typeId)),
        };
        // CREATE TABLE AS and COPY report their rows in a "Count" column, not rowsChanged.
        const counted = isCountResult(result) ? Number(all[0]?.[0] ?? 0) : 0;
        return { rows, table, changed: result.rowsChanged || counted };
      } finally {
        prepared.destroySync();
      }
    };
    try {
      if (this.lane.inTransaction) return (await this.lane.read((c) => execute(c, false)))!;
      // A read runs at once; a write is prepared again once the write lock is
      // held, so no connection is kept while waiting for the lock. Both steps
      // are one piece of work: a close between them would otherwise shut the
      // pool (or the database) and the write would run on a connection
      // nobody disconnects, keeping a closed instance alive on the file.
      return await this.lane.work(async () => {
        const read = await this.lane.read((c) => execute(c, true));
        return read ?? (await this.lane.write((c) => execute(c, false)))!;
      });
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
      work: track,
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
    work: (fn) => fn(),
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
