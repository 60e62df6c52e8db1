/**
 * The embedded ledger: SQLite through `node:sqlite`, the default on a machine
 * with nothing but Deno.
 *
 * @module
 */

import { crashPoint } from "../../core/crash_point.ts";
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { Clock } from "../../core/clock.ts";
import { DiskFullError, PlatformError, ResourceError, toError } from "../../core/errors.ts";
import {
  immediateTransaction,
  openSqlite,
  sqliteDiskFull,
  sqliteOpenHint,
  sqliteOpenNeedsAPerson,
} from "../_sqlite.ts";
import { LedgerBase, type LedgerFilter } from "./_base.ts";
import type { LedgerDocument, ValidLedgerDocumentInput } from "./schema.ts";
import {
  corruptDocument,
  parseStored,
  planUpsert,
  requireString,
  type ValidScan,
} from "./_shared.ts";

/** Options of {@linkcode SqliteLedger}. */
export interface SqliteLedgerOptions {
  /**
   * How long a write waits for another connection (or process) holding the
   * database lock before failing with `ledger.busy`, in milliseconds. The wait
   * blocks the calling thread, as SQLite's busy handler does.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
  /**
   * Source of `created_at` / `updated_at`.
   * @default the system clock
   */
  readonly clock?: Clock;
}

const SCHEMA_VERSION = 1;

const COLUMNS = [
  "id",
  "bucket",
  "key",
  "sha256",
  "size",
  "run_id",
  "asset_key",
  "partition",
  "batch_id",
  "format",
  "content_type",
  "created_at",
  "updated_at",
  "metadata",
] as const;

// STRICT keeps SQLite from coercing types, so a bad value is refused at the
// database too; the zod schema still checks everything on read.
const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS ledger_documents (
  "id" TEXT PRIMARY KEY NOT NULL,
  "bucket" TEXT NOT NULL,
  "key" TEXT NOT NULL,
  "sha256" TEXT NOT NULL,
  "size" INTEGER NOT NULL,
  "run_id" TEXT NOT NULL,
  "asset_key" TEXT NOT NULL,
  "partition" TEXT,
  "batch_id" TEXT,
  "format" TEXT NOT NULL,
  "content_type" TEXT,
  "created_at" TEXT NOT NULL,
  "updated_at" TEXT NOT NULL,
  "metadata" TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX IF NOT EXISTS ledger_documents_triple
  ON ledger_documents ("bucket", "key", "sha256");
CREATE INDEX IF NOT EXISTS ledger_documents_key
  ON ledger_documents ("bucket", "key", "updated_at", "id");
CREATE INDEX IF NOT EXISTS ledger_documents_bucket_id ON ledger_documents ("bucket", "id");
CREATE INDEX IF NOT EXISTS ledger_documents_sha256 ON ledger_documents ("sha256");
CREATE INDEX IF NOT EXISTS ledger_documents_run_id ON ledger_documents ("run_id");
CREATE INDEX IF NOT EXISTS ledger_documents_batch_id ON ledger_documents ("batch_id");
CREATE INDEX IF NOT EXISTS ledger_documents_asset
  ON ledger_documents ("asset_key", "partition");
`;

const SELECT = `SELECT ${COLUMNS.map((name) => `"${name}"`).join(", ")} FROM ledger_documents`;
const ORDER = `ORDER BY "created_at", "id"`;

const QUERIES = {
  insert: `INSERT INTO ledger_documents (${COLUMNS.map((name) => `"${name}"`).join(", ")})
    VALUES (${COLUMNS.map(() => "?").join(", ")})`,
  touch: `UPDATE ledger_documents SET "updated_at" = ? WHERE "id" = ?`,
  delete: `DELETE FROM ledger_documents WHERE "id" = ?`,
  get: `${SELECT} WHERE "id" = ?`,
  triple: `${SELECT} WHERE "bucket" = ? AND "key" = ? AND "sha256" = ?`,
  latest:
    `${SELECT} WHERE "bucket" = ? AND "key" = ? ORDER BY "updated_at" DESC, "id" DESC LIMIT 1`,
  byHash: `${SELECT} WHERE "sha256" = ? ${ORDER}`,
  byRun: `${SELECT} WHERE "run_id" = ? ${ORDER}`,
  byBatch: `${SELECT} WHERE "batch_id" = ? ${ORDER}`,
  byAsset: `${SELECT} WHERE "asset_key" = ? ${ORDER}`,
  byAssetPartition: `${SELECT} WHERE "asset_key" = ? AND "partition" IS ? ${ORDER}`,
  scan: `${SELECT} WHERE "id" > ? ORDER BY "id" LIMIT ?`,
  scanBucket: `${SELECT} WHERE "bucket" = ? AND "id" > ? ORDER BY "id" LIMIT ?`,
} as const;

type Statements = { readonly [name in keyof typeof QUERIES]: StatementSync };
type Row = Record<string, unknown>;

/**
 * A {@linkcode Ledger} in one SQLite file, safe to share between processes:
 * WAL mode lets readers go on while one process writes, `busy_timeout` makes a
 * writer wait for the lock instead of failing, and every upsert runs in a
 * `BEGIN IMMEDIATE` transaction so its read-then-write is atomic.
 *
 * @example
 * ```ts
 * import { SqliteLedger } from "./sqlite.ts";
 * await using ledger = new SqliteLedger(":memory:");
 * await ledger.ping();
 * ```
 */
export class SqliteLedger extends LedgerBase {
  /** `sqlite <path>`. */
  readonly description: string;
  readonly #db: DatabaseSync;
  readonly #statements: Statements;
  readonly #busyTimeoutMs: number;
  readonly #path: string;

  /**
   * Opens (and creates, with its folder) the database at `path`;
   * `:memory:` for a private in-memory database.
   *
   * @throws {ResourceError} `ledger.unreachable` when the file cannot be opened.
   */
  constructor(path: string, options: SqliteLedgerOptions = {}) {
    super(options.clock);
    requireString("open", "path", path);
    this.description = `sqlite ${path}`;
    this.#path = path;
    this.#busyTimeoutMs = checkTimeout(options.busyTimeoutMs ?? 5000);
    this.#db = openDatabase(path, this.#busyTimeoutMs);
    this.#statements = prepareAll(this.#db);
  }

  /** Closes the database; later calls fail with `ledger.closed`. Safe to repeat. */
  [Symbol.asyncDispose](): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }

  /** Whether the database was closed. */
  protected get closed(): boolean {
    return !this.#db.isOpen;
  }

  /** Keeps, touches or inserts, in one immediate transaction (the read-then-write is atomic). */
  protected store(valid: ValidLedgerDocumentInput): Promise<LedgerDocument> {
    crashPoint("ledger.write", `${valid.bucket}/${valid.key}`);
    const written = immediateTransaction(this.#db, () => {
      const { bucket, key, sha256 } = valid;
      const existing = this.#one(this.#statements.triple, bucket, key, sha256);
      const latest = this.#one(this.#statements.latest, bucket, key);
      const plan = planUpsert(valid, existing, latest, this.clock.now());
      if (plan.action === "insert") this.#statements.insert.run(...toRow(plan.doc));
      if (plan.action === "touch") this.#statements.touch.run(plan.doc.updated_at, plan.doc.id);
      return plan.doc;
    });
    crashPoint("ledger.written", `${valid.bucket}/${valid.key}`);
    return Promise.resolve(written);
  }

  /** The document with this id. */
  protected readById(id: string): Promise<LedgerDocument | undefined> {
    return Promise.resolve(this.#one(this.#statements.get, id));
  }

  /** The latest version of (bucket, key). */
  protected readLatest(bucket: string, key: string): Promise<LedgerDocument | undefined> {
    return Promise.resolve(this.#one(this.#statements.latest, bucket, key));
  }

  /** The documents matching `filter`, oldest first. */
  protected readWhere(filter: LedgerFilter): Promise<LedgerDocument[]> {
    const s = this.#statements;
    switch (filter.field) {
      case "sha256":
        return Promise.resolve(this.#all(s.byHash, filter.value));
      case "run_id":
        return Promise.resolve(this.#all(s.byRun, filter.value));
      case "batch_id":
        return Promise.resolve(this.#all(s.byBatch, filter.value));
      case "asset_key":
        return Promise.resolve(
          filter.partition === undefined
            ? this.#all(s.byAsset, filter.value)
            : this.#all(s.byAssetPartition, filter.value, filter.partition),
        );
    }
  }

  /** One page of documents by id. */
  protected readPage({ bucket, after, limit }: ValidScan): Promise<LedgerDocument[]> {
    return Promise.resolve(
      bucket === undefined
        ? this.#all(this.#statements.scan, after, limit)
        : this.#all(this.#statements.scanBucket, bucket, after, limit),
    );
  }

  /** Deletes a document. */
  protected remove(id: string): Promise<boolean> {
    return Promise.resolve(Number(this.#statements.delete.run(id).changes) > 0);
  }

  /** One round trip to the database. */
  protected check(): Promise<void> {
    this.#db.prepare("SELECT 1").get();
    return Promise.resolve();
  }

  /** SQLite failures as typed errors that say which database and what to do. */
  protected translate(action: string, error: unknown): unknown {
    if (error instanceof PlatformError || error instanceof TypeError) return error;
    if (error instanceof RangeError) return error;
    const message = toError(error).message;
    if (/database (?:table )?is locked|SQLITE_BUSY/i.test(message)) {
      return new ResourceError(
        "ledger.busy",
        `Cannot ${action} in ${this.description}: another connection held the write lock for ` +
          `more than ${this.#busyTimeoutMs} ms; retry, or raise busyTimeoutMs`,
        { resourceKey: "ledger", cause: error, transient: true },
      );
    }
    if (sqliteDiskFull(error, this.#path)) {
      return new DiskFullError(`the ledger '${this.#path}'`, this.#path, {
        resourceKey: "ledger",
        cause: error,
      });
    }
    return new ResourceError(
      "ledger.storage_failed",
      `Cannot ${action} in ${this.description}: ${message}`,
      { resourceKey: "ledger", cause: error },
    );
  }

  #one(statement: StatementSync, ...params: SQLInputValue[]): LedgerDocument | undefined {
    const row = statement.get(...params);
    return row === undefined ? undefined : this.#parse(row);
  }

  #all(statement: StatementSync, ...params: SQLInputValue[]): LedgerDocument[] {
    return statement.all(...params).map((row) => this.#parse(row));
  }

  #parse(row: Row): LedgerDocument {
    const id = String(row.id);
    return parseStored(fromRow(row, id, this.description), id, this.description);
  }
}

function checkTimeout(ms: number): number {
  if (!Number.isInteger(ms) || ms < 0) {
    throw new RangeError(`SqliteLedger: busyTimeoutMs must be an integer >= 0, got ${ms}`);
  }
  return ms;
}

function openDatabase(path: string, busyTimeoutMs: number): DatabaseSync {
  try {
    return openSqlite(path, { busyTimeoutMs, setup: (db) => migrate(db, path) });
  } catch (error) {
    if (error instanceof PlatformError) throw error;
    if (sqliteDiskFull(error, path)) {
      throw new DiskFullError(`the ledger '${path}'`, path, {
        resourceKey: "ledger",
        cause: error,
      });
    }
    const reason = toError(error).message;
    const hint = sqliteOpenHint(error);
    const failure = new ResourceError(
      "ledger.unreachable",
      `Cannot open the ledger database '${path}': ${reason}${hint ? `; ${hint}` : ""}`,
      { resourceKey: "ledger", input: path, cause: error },
    );
    // A damaged or unwritable file does not fix itself: an asset's retries (raw_weather waits
    // 5 minutes twice) would only delay the report.
    if (sqliteOpenNeedsAPerson(error)) {
      Object.defineProperty(failure, "retryable", { value: false });
    }
    throw failure;
  }
}

function migrate(db: DatabaseSync, path: string): void {
  immediateTransaction(db, () => {
    const version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
    if (version > SCHEMA_VERSION) {
      const failure = new ResourceError(
        "ledger.unsupported_version",
        `Cannot open the ledger database '${path}': its schema version ${version} is newer than ` +
          `this code supports (${SCHEMA_VERSION}); upgrade the platform`,
        { resourceKey: "ledger", input: path },
      );
      // Only an upgrade fixes it: raw_weather's retry policy waited 5 minutes to fail again.
      Object.defineProperty(failure, "retryable", { value: false });
      throw failure;
    }
    db.exec(SCHEMA_SQL);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  });
}

function prepareAll(db: DatabaseSync): Statements {
  const entries = Object.entries(QUERIES).map(([name, sql]) => [name, db.prepare(sql)]);
  return Object.fromEntries(entries) as Statements;
}

function toRow(doc: LedgerDocument): SQLInputValue[] {
  return COLUMNS.map((column) => {
    if (column === "metadata") return JSON.stringify(doc.metadata);
    return doc[column] ?? null;
  });
}

// The shape the schema expects, built from the stored columns without
// trusting them: parseStored decides whether it is a valid document.
function fromRow(row: Row, id: string, where: string): Row {
  const { content_type, metadata, ...rest } = row;
  return {
    ...rest,
    ...(content_type === null ? {} : { content_type }),
    metadata: parseMetadata(metadata, id, where),
  };
}

function parseMetadata(text: unknown, id: string, where: string): unknown {
  if (typeof text !== "string") return text;
  try {
    return JSON.parse(text);
  } catch {
    throw corruptDocument(id, where, [{ field: "metadata", message: "is not valid JSON text" }]);
  }
}
