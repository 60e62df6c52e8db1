/**
 * The embedded warehouse: PGlite (PostgreSQL compiled to WASM) in this
 * process, on a data dir or in memory.
 *
 * @module
 */

import { crashPoint } from "../../core/crash_point.ts";
import { toError } from "../../core/errors.ts";
import { dirname, resolve } from "node:path";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import {
  closedError,
  type FailureContext,
  inTransaction,
  queryFailure,
  unreachable,
  warehouseDiskFull,
} from "./_errors.ts";
import { acquireLock, type FileLock } from "./_lock.ts";
import { createDataDir, isDataDir } from "./_pglite_create.ts";
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

/** Where an in-memory PGlite lives, for {@linkcode PgliteWarehouse.open}. */
export const MEMORY = "memory:";

/** Options of {@linkcode PgliteWarehouse.open}. */
export interface PgliteWarehouseOptions {
  /**
   * How long to wait for another process holding the data dir, in milliseconds,
   * before failing with `warehouse.locked`.
   * @default 60000
   */
  lockTimeoutMs?: number;
  /**
   * How often to look at the lock while waiting, in milliseconds.
   * @default 250
   */
  lockPollMs?: number;
  /**
   * Told once when the data dir is held by another process.
   * @default console.error
   */
  onLockWait?: (message: string) => void;
  /**
   * Told once when the data dir does not exist yet and is being created
   * (PGlite's initdb: seconds, run in a worker so the caller stays responsive).
   * @default {() => {}}
   */
  onCreate?: (message: string) => void;
}

/**
 * Characters per COPY. PGlite reads COPY input from one in-memory blob, so a
 * big load goes in slices. Measured on 500k six-column rows: 1 MB slices ran
 * about 25% slower than 8 MB, 8-64 MB were within noise; COPY itself loads
 * about 4x faster than multi-row INSERTs (`bench/warehouse.ts`).
 */
const COPY_BATCH_CHARS = 8 * 1024 * 1024;

/** The part of PGlite a session uses; the database and a transaction both provide it. */
type PgliteHandle = Pick<Transaction, "query" | "exec">;

/** Runs `fn` atomically: in a new transaction, or in the one already open. */
type Atomically = <T>(fn: (handle: PgliteHandle) => Promise<T>) => Promise<T>;

class PgliteSession extends SessionBase {
  constructor(
    protected readonly handle: PgliteHandle,
    protected readonly context: FailureContext,
    private readonly ensureOpen: () => void,
    private readonly atomically: Atomically,
  ) {
    super();
  }

  override async query<T extends object = Row>(
    text: string,
    params?: readonly SqlValue[],
  ): Promise<T[]> {
    return (await this.run<T>(text, params)).rows;
  }

  override async queryTable(text: string, params?: readonly SqlValue[]): Promise<QueryTable> {
    const result = await this.run<unknown[]>(text, params, true);
    return {
      columns: result.fields.map((field) => field.name),
      rows: result.rows,
      decimals: result.fields.map((field) => field.dataTypeID === Oid.numeric),
      temporal: result.fields.map((field) => temporalOfOid(field.dataTypeID)),
    };
  }

  override async execute(text: string, params?: readonly SqlValue[]): Promise<number> {
    const result = await this.run(text, params);
    return result.rowCount ?? result.affectedRows ?? 0;
  }

  override async exec(script: string): Promise<void> {
    this.ensureOpen();
    try {
      await this.handle.exec(script);
    } catch (error) {
      throw queryFailure(this.context, script, error);
    }
    crashPoint("warehouse.statement"); // with @ms: inside the statements that follow
  }

  override async bulkLoad(
    table: TableRef,
    columns: readonly string[],
    rows: BulkRows,
  ): Promise<number> {
    this.ensureOpen();
    const statement = copyStatement(table, columns, "'/dev/blob'");
    const counter: RowCounter = { rows: 0 };
    const chunks = copyChunks(rows, columns.length, COPY_BATCH_CHARS, counter);
    try {
      await this.atomically(async (handle) => {
        for await (const chunk of chunks) {
          await handle.query(statement, [], { blob: new Blob([chunk]) });
        }
      });
    } catch (error) {
      throw queryFailure(this.context, statement, error);
    }
    return counter.rows;
  }

  private async run<T>(text: string, params: readonly SqlValue[] | undefined, arrays = false) {
    this.ensureOpen();
    let result;
    try {
      result = await this.handle.query<T>(
        text,
        toDriverParams(params),
        arrays ? { rowMode: "array" } : undefined,
      );
    } catch (error) {
      throw queryFailure(this.context, text, error);
    }
    crashPoint("warehouse.statement");
    return result;
  }
}

/**
 * A warehouse embedded in this process. On a data dir, an flock on a file next
 * to it (`<dir>.lock`) keeps a second process out until this one closes or dies.
 *
 * PGlite is one connection: statements from concurrent callers run one after
 * the other, and a transaction (or a `bulkLoad`, which runs in one) holds it
 * until it ends. So inside `transaction(fn)` use only `tx`, and a `bulkLoad`
 * row source must not query the warehouse itself: either would wait forever.
 *
 * @example
 * ```ts
 * import { PgliteWarehouse } from "./pglite.ts";
 * await using warehouse = await PgliteWarehouse.open(".state/warehouse");
 * await warehouse.exec("CREATE TABLE IF NOT EXISTS t (id int)");
 * ```
 */
export class PgliteWarehouse extends PgliteSession implements Warehouse {
  /** Always `pglite`. */
  readonly backend = "pglite" as const;
  /** The absolute data dir, or `memory:`. */
  readonly location: string;
  #db: PGlite;
  #lock: FileLock | undefined;
  #state: { closed: boolean };

  private constructor(db: PGlite, location: string, lock?: FileLock) {
    const state = { closed: false };
    const context = { location };
    super(db, context, () => {
      if (state.closed) throw closedError(location);
    }, (fn) => db.transaction(fn));
    this.location = location;
    this.#db = db;
    this.#lock = lock;
    this.#state = state;
  }

  /**
   * Opens (creating if needed) the data dir `dataDir`, or an in-memory database
   * for `memory:`. Waits while another process holds the dir (printing once
   * who holds it; a dead holder's lock is free at once, whatever its pid or
   * host), and fails with
   * `warehouse.locked` after `lockTimeoutMs`.
   */
  static async open(
    dataDir: string,
    options: PgliteWarehouseOptions = {},
  ): Promise<PgliteWarehouse> {
    if (dataDir === MEMORY) return new PgliteWarehouse(await start(undefined, MEMORY), MEMORY);
    const location = resolve(dataDir);
    // A full disk met making the folder or the lock file is said as such, naming the warehouse.
    const lock = await (async () => {
      await Deno.mkdir(dirname(location), { recursive: true });
      return await acquireLock(`${location}.lock`, {
        timeoutMs: options.lockTimeoutMs ?? 60_000,
        pollMs: options.lockPollMs ?? 250,
        onWait: options.onLockWait ?? ((message) => console.error(message)),
      });
    })().catch((error) => {
      throw warehouseDiskFull({ location }, error) ?? error;
    });
    try {
      const existed = await isDataDir(location);
      // A brand-new dir: initdb in a child process, so its memory peak is not this process's.
      if (!existed) {
        options.onCreate?.(
          `creating the embedded warehouse (PGlite) in ${dataDir}: first run only, about 10 s`,
        );
        await createDataDir(location).catch((error) => {
          throw unreachable({ location }, error, "open");
        });
      }
      return new PgliteWarehouse(
        await start(location, location, existed ? DAMAGED_HINT : undefined),
        location,
        lock,
      );
    } catch (error) {
      await lock.release();
      throw error;
    }
  }

  /** See {@linkcode Warehouse.transaction}. */
  async transaction<T>(fn: (tx: WarehouseSession) => Promise<T>): Promise<T> {
    if (this.#state.closed) throw closedError(this.location);
    return await inTransaction(
      this.context,
      (run) => this.#db.transaction(run),
      (tx: Transaction) => fn(new PgliteSession(tx, this.context, () => {}, (run) => run(tx))),
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
    try {
      crashPoint("warehouse.close"); // with @ms: inside PGlite's checkpoint
      await this.#db.close();
    } finally {
      await this.#lock?.release();
    }
  }

  /** Same as {@linkcode close}, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/** PGlite's bytea serializer rejects text; let `\\x..` text through, as postgres.js does. */
const SERIALIZERS = {
  [Oid.bytea]: (value: unknown) => value instanceof Uint8Array ? byteaHex(value) : String(value),
};

/** What to do about an existing data dir PGlite cannot start on. */
const DAMAGED_HINT = "the data dir may be damaged (a disk error, files changed by hand): put " +
  "back a copy from a backup, or move it aside to start again with a new, empty warehouse";

async function start(
  dataDir: string | undefined,
  location: string,
  hint?: string,
): Promise<PGlite> {
  const options = {
    parsers: { ...PARSERS },
    serializers: SERIALIZERS,
    // PGlite is one process in ours: Postgres's default 128 MB of shared buffers is allocated in the
    // WASM heap up front. 16 MB took a dbt build of jaffle_shop on an existing data dir from a
    // 379 to a 256 MiB process peak (bench/dbt.ts) without slowing it.
    postgresqlconf: ["shared_buffers=16MB"],
  };
  let db: PGlite | undefined;
  try {
    db = dataDir === undefined ? new PGlite(options) : new PGlite(dataDir, options);
    await db.waitReady;
    await db.exec("SET TimeZone = 'UTC'");
    return db;
  } catch (error) {
    await db?.close().catch(() => {}); // half-started: nothing useful to report
    throw unreachable({ location }, startFailure(error), "open", hint);
  }
}

/**
 * What PGlite threw while starting, in words: a data dir it cannot read
 * stops its WebAssembly runtime with Emscripten's "Aborted(). Build with
 * -sASSERTIONS for more info.", which tells the user nothing.
 */
function startFailure(error: unknown): unknown {
  return /^Aborted\(/.test(toError(error).message)
    ? new Error("PGlite stopped while starting (its WebAssembly runtime aborted)", {
      cause: error,
    })
    : error;
}
