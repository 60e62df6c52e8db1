/**
 * The server warehouse: PostgreSQL (or PostGIS) through postgres.js.
 *
 * @module
 */

import { once } from "node:events";
import type { Writable } from "node:stream";
import postgres from "postgres";
import { closedError, type FailureContext, inTransaction, queryFailure } from "./_errors.ts";
import { copyStatement, SessionBase } from "./_session.ts";
import {
  byteaHex,
  copyChunks,
  Oid,
  PARSERS,
  type RowCounter,
  temporalOfOid,
  toDriverParams,
} from "./_values.ts";
import type {
  BulkRows,
  QueryTable,
  Row,
  SqlValue,
  TableRef,
  Warehouse,
  WarehouseSession,
} from "./types.ts";
import { connectPostgres } from "../_postgres.ts";

/** What the warehouse's connection is for, in messages. */
const WAREHOUSE_TARGET = {
  what: "the warehouse",
  variable: "WAREHOUSE_URL",
  code: "warehouse.unreachable",
  resourceKey: "warehouse",
} as const;

/** Options of {@linkcode PostgresWarehouse.open}. */
export interface PostgresWarehouseOptions {
  /**
   * Seconds to wait for a connection before failing with `warehouse.unreachable`.
   * @default 5
   */
  connectTimeoutSeconds?: number;
  /**
   * Most connections kept open at once.
   * @default 10
   */
  maxConnections?: number;
  /**
   * Receives server notices (e.g. "schema already exists, skipping").
   * @default notices are dropped
   */
  onNotice?: (message: string) => void;
  /**
   * Longest a statement may run on the server before it is canceled
   * (`statement_timeout`), in milliseconds; `0` for no bound.
   * @default 3600000 (an hour: a dbt model over a large table may take long)
   */
  statementTimeoutMs?: number;
}

const UTF8 = new TextEncoder();

/** Characters per COPY data message: large enough to amortise a write, small enough to stream. */
const COPY_CHUNK_CHARS = 256 * 1024;

/**
 * postgres.js parsers and serializers matching the shared value rules
 * (`_values.ts`). postgres.js serializes a parameter by the type the server
 * describes for it, and its defaults would turn our text forms into wrong
 * values (`"true"` -> `f` for bool, JSON text -> a JSON string for jsonb), so
 * every serializer lets text through for the server to parse.
 */
const TYPES = {
  int8: textOr(Oid.int8, [Oid.int8], (value: bigint) => value.toString()),
  bytea: textOr(Oid.bytea, [Oid.bytea], byteaHex),
  json: textOr(Oid.json, [Oid.json, Oid.jsonb], (value: unknown) => JSON.stringify(value)),
  bool: textOr(Oid.bool, [Oid.bool], (value: boolean) => (value ? "t" : "f")),
  date: textOr(Oid.date, [Oid.date], (value: Date) => value.toISOString()),
  timestamp: textOr(Oid.timestamp, [Oid.timestamp], (value: Date) => value.toISOString()),
  timestamptz: textOr(Oid.timestamptz, [Oid.timestamptz], (value: Date) => value.toISOString()),
};

function textOr<T>(oid: number, from: number[], encode: (value: T) => string) {
  return {
    to: oid,
    from,
    serialize: (value: T | string) => typeof value === "string" ? value : encode(value),
    parse: PARSERS[oid] ?? ((text: string) => text),
  };
}

/**
 * postgres.js picks the simple protocol for a query without parameters; we
 * want the extended one (single statement, as on PGlite). `simple` is not in
 * its typings, hence the separate constant rather than a literal.
 */
const EXTENDED_PROTOCOL = { prepare: false, simple: false } as const;

/** The part of postgres.js a session uses; a pool and a transaction both provide it. */
type SqlHandle = Pick<postgres.Sql, "unsafe">;

/** A query whose rejection can be observed after it resolved (see `watchServerError`). */
interface RejectHook {
  reject: (error: unknown) => void;
}

/** Statements on a pool connection or inside a transaction. */
class PostgresSession extends SessionBase {
  constructor(
    protected readonly sql: SqlHandle,
    protected readonly context: FailureContext,
    private readonly ensureOpen: () => void,
  ) {
    super();
  }

  override async query<T extends object = Row>(
    text: string,
    params?: readonly SqlValue[],
  ): Promise<T[]> {
    const result = await this.run(text, params);
    return Array.from(result) as T[];
  }

  override async queryTable(text: string, params?: readonly SqlValue[]): Promise<QueryTable> {
    this.ensureOpen();
    try {
      const result = await this.sql
        .unsafe(text, toDriverParams(params) as never[], EXTENDED_PROTOCOL)
        .values();
      return {
        columns: (result.columns ?? []).map((column) => String(column.name)),
        rows: Array.from(result),
        decimals: (result.columns ?? []).map((column) => column.type === Oid.numeric),
        temporal: (result.columns ?? []).map((column) => temporalOfOid(column.type)),
      };
    } catch (error) {
      throw queryFailure(this.context, text, error);
    }
  }

  override async execute(text: string, params?: readonly SqlValue[]): Promise<number> {
    const result = await this.run(text, params);
    return result.count ?? 0;
  }

  override async exec(script: string): Promise<void> {
    this.ensureOpen();
    try {
      await this.sql.unsafe(script).simple();
    } catch (error) {
      throw queryFailure(this.context, script, error);
    }
  }

  override async bulkLoad(
    table: TableRef,
    columns: readonly string[],
    rows: BulkRows,
  ): Promise<number> {
    this.ensureOpen();
    const statement = copyStatement(table, columns, "STDIN");
    const counter: RowCounter = { rows: 0 };
    try {
      await this.copyIn(statement, copyChunks(rows, columns.length, COPY_CHUNK_CHARS, counter));
    } catch (error) {
      throw queryFailure(this.context, statement, error);
    }
    return counter.rows;
  }

  private async run(text: string, params: readonly SqlValue[] | undefined) {
    this.ensureOpen();
    try {
      return await this.sql.unsafe(text, toDriverParams(params) as never[], EXTENDED_PROTOCOL);
    } catch (error) {
      throw queryFailure(this.context, text, error);
    }
  }

  /**
   * Streams chunks into `COPY ... FROM STDIN`. The simple protocol makes the
   * server answer a bad row at once instead of waiting for a Sync.
   */
  private async copyIn(statement: string, chunks: AsyncIterable<string>): Promise<void> {
    const query = this.sql.unsafe(statement).simple();
    const serverError = watchServerError(query as unknown as RejectHook);
    const stream = await Promise.race([query.writable(), serverError]);
    stream.on("error", () => {}); // reported through serverError or the write loop
    await pump(stream, chunks, serverError);
  }
}

/**
 * postgres.js 3.4.9 resolves a COPY query with its stream, then loses a server
 * error that arrives after `end()` (porsager/postgres#1173: the stream never
 * finishes). The error still goes through the query's `reject`, so we listen
 * there.
 */
function watchServerError(query: RejectHook): Promise<never> {
  let fail: (error: unknown) => void = () => {};
  const failed = new Promise<never>((_, reject) => (fail = reject));
  failed.catch(() => {}); // observed by the races below; never unhandled
  const original = query.reject;
  query.reject = (error) => {
    fail(error);
    original(error);
  };
  return failed;
}

async function pump(
  stream: Writable,
  chunks: AsyncIterable<string>,
  serverError: Promise<never>,
): Promise<void> {
  try {
    for await (const chunk of chunks) {
      // Encoding here, not in the stream: Node's string path measures the
      // (unflattened) chunk with Buffer.byteLength first, which profiled as
      // the costliest single step of a large load.
      const bytes = UTF8.encode(chunk);
      if (!stream.write(bytes)) await Promise.race([once(stream, "drain"), serverError]);
    }
  } catch (error) {
    // Sends CopyFail: the server discards everything loaded by this COPY.
    if (!stream.destroyed) stream.destroy(new Error("bulkLoad aborted by the client"));
    throw error;
  }
  stream.end();
  await Promise.race([once(stream, "finish"), serverError]);
}

/**
 * A warehouse on a PostgreSQL server.
 *
 * @example
 * ```ts
 * import { PostgresWarehouse } from "./postgres.ts";
 * await using warehouse = await PostgresWarehouse.open("postgres://etl@db:5432/platform");
 * console.log(warehouse.location); // postgres://etl@db:5432/platform (never the password)
 * ```
 */
export class PostgresWarehouse extends PostgresSession implements Warehouse {
  /** Always `postgres`. */
  readonly backend = "postgres" as const;
  /** The URL without its password. */
  readonly location: string;
  #pool: postgres.Sql;
  #state: { closed: boolean };

  private constructor(url: string, options: PostgresWarehouseOptions) {
    const db = connectPostgres(url, WAREHOUSE_TARGET, {
      application: "platform-warehouse",
      max: options.maxConnections ?? 10,
      connectTimeoutSeconds: options.connectTimeoutSeconds ?? 5,
      statementTimeoutMs: options.statementTimeoutMs ?? 3_600_000,
      ...(options.onNotice ? { onNotice: options.onNotice } : {}),
      parameters: { TimeZone: "UTC" },
      types: TYPES,
    });
    const location = db.location;
    const state = { closed: false };
    super(db.sql, { location }, () => {
      if (state.closed) throw closedError(location);
    });
    this.location = location;
    this.#pool = db.sql;
    this.#state = state;
  }

  /**
   * Connects to `url` (`postgres://` or `postgresql://`) and checks the
   * connection with one round trip, so a wrong URL fails here with
   * `warehouse.unreachable` within `connectTimeoutSeconds`.
   */
  static async open(
    url: string,
    options: PostgresWarehouseOptions = {},
  ): Promise<PostgresWarehouse> {
    const warehouse = new PostgresWarehouse(url, options);
    try {
      await warehouse.ping();
    } catch (error) {
      await warehouse.close();
      throw error;
    }
    return warehouse;
  }

  /** See {@linkcode Warehouse.transaction}. */
  async transaction<T>(fn: (tx: WarehouseSession) => Promise<T>): Promise<T> {
    if (this.#state.closed) throw closedError(this.location);
    return await inTransaction(
      this.context,
      (run) => this.#pool.begin(run) as Promise<T>,
      (tx: SqlHandle) => fn(new PostgresSession(tx, this.context, () => {})),
    );
  }

  /** See {@linkcode Warehouse.ping}. */
  async ping(): Promise<number> {
    const started = performance.now();
    await this.query("SELECT 1");
    return performance.now() - started;
  }

  /** See {@linkcode Warehouse.close}. */
  async close(): Promise<void> {
    if (this.#state.closed) return;
    this.#state.closed = true;
    await this.#pool.end({ timeout: 5 });
  }

  /** Same as {@linkcode close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}
