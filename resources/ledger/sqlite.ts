/**
 * The embedded ledger: SQLite through `node:sqlite`, the default on a machine
 * with nothing but Deno.
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
import { PlatformError, ResourceError } from "../../core/errors.ts";
import type { LedgerDocument, LedgerDocumentInput } from "./schema.ts";
import type { FindByAssetOptions, Ledger, LedgerClock, ScanOptions } from "./types.ts";
import {
  closedError,
  corruptDocument,
  notFound,
  parseStored,
  planUpsert,
  requirePartition,
  requireScan,
  requireSha256,
  requireString,
  settle,
  systemClock,
  validateInput,
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
  readonly clock?: LedgerClock;
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
export class SqliteLedger implements Ledger {
  /** `sqlite <path>`. */
  readonly description: string;
  readonly #db: DatabaseSync;
  readonly #statements: Statements;
  readonly #clock: LedgerClock;
  readonly #busyTimeoutMs: number;

  /**
   * Opens (and creates, with its folder) the database at `path`;
   * `:memory:` for a private in-memory database.
   *
   * @throws {ResourceError} `ledger.unreachable` when the file cannot be opened.
   */
  constructor(path: string, options: SqliteLedgerOptions = {}) {
    requireString("open", "path", path);
    this.description = `sqlite ${path}`;
    this.#clock = options.clock ?? systemClock;
    this.#busyTimeoutMs = checkTimeout(options.busyTimeoutMs ?? 5000);
    this.#db = openDatabase(path, this.#busyTimeoutMs);
    this.#statements = prepareAll(this.#db);
  }

  /** See {@linkcode Ledger.upsert}. */
  upsert(input: LedgerDocumentInput): Promise<LedgerDocument> {
    return this.#do("record a document", () => {
      const valid = validateInput(input);
      return this.#transaction(() => {
        const { bucket, key, sha256 } = valid;
        const existing = this.#one(this.#statements.triple, bucket, key, sha256);
        const latest = this.#one(this.#statements.latest, bucket, key);
        const plan = planUpsert(valid, existing, latest, this.#clock.now());
        if (plan.action === "insert") this.#statements.insert.run(...toRow(plan.doc));
        if (plan.action === "touch") this.#statements.touch.run(plan.doc.updated_at, plan.doc.id);
        return plan.doc;
      });
    });
  }

  /** See {@linkcode Ledger.get}. */
  get(id: string): Promise<LedgerDocument> {
    return this.#do("read a document", () => {
      const doc = this.#one(this.#statements.get, requireString("get", "id", id));
      if (doc === undefined) throw notFound(id, this.description);
      return doc;
    });
  }

  /** See {@linkcode Ledger.findByKey}. */
  findByKey(bucket: string, key: string): Promise<LedgerDocument | undefined> {
    return this.#do("find a document by key", () => {
      requireString("findByKey", "bucket", bucket);
      requireString("findByKey", "key", key);
      return this.#one(this.#statements.latest, bucket, key);
    });
  }

  /** See {@linkcode Ledger.findByHash}. */
  findByHash(sha256: string): Promise<LedgerDocument[]> {
    return this.#do("find documents by hash", () => {
      return this.#all(this.#statements.byHash, requireSha256(sha256));
    });
  }

  /** See {@linkcode Ledger.findByRun}. */
  findByRun(runId: string): Promise<LedgerDocument[]> {
    return this.#do("find documents by run", () => {
      return this.#all(this.#statements.byRun, requireString("findByRun", "runId", runId));
    });
  }

  /** See {@linkcode Ledger.findByBatch}. */
  findByBatch(batchId: string): Promise<LedgerDocument[]> {
    return this.#do("find documents by batch", () => {
      return this.#all(this.#statements.byBatch, requireString("findByBatch", "batchId", batchId));
    });
  }

  /** See {@linkcode Ledger.findByAsset}. */
  findByAsset(assetKey: string, options?: FindByAssetOptions): Promise<LedgerDocument[]> {
    return this.#do("find documents by asset", () => {
      requireString("findByAsset", "assetKey", assetKey);
      const partition = requirePartition(options);
      if (partition === undefined) return this.#all(this.#statements.byAsset, assetKey);
      return this.#all(this.#statements.byAssetPartition, assetKey, partition);
    });
  }

  /** See {@linkcode Ledger.scan}. */
  scan(options?: ScanOptions): Promise<LedgerDocument[]> {
    return this.#do("scan documents", () => {
      const { bucket, after, limit } = requireScan(options);
      if (bucket === undefined) return this.#all(this.#statements.scan, after, limit);
      return this.#all(this.#statements.scanBucket, bucket, after, limit);
    });
  }

  /** See {@linkcode Ledger.delete}. */
  delete(id: string): Promise<boolean> {
    return this.#do("delete a document", () => {
      const result = this.#statements.delete.run(requireString("delete", "id", id));
      return Number(result.changes) > 0;
    });
  }

  /** See {@linkcode Ledger.ping}. */
  ping(): Promise<void> {
    return this.#do("ping", () => {
      this.#db.prepare("SELECT 1").get();
    });
  }

  /** Closes the database; later calls fail with `ledger.closed`. Safe to repeat. */
  [Symbol.asyncDispose](): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
    return Promise.resolve();
  }

  // Runs one operation: refuses after close, and turns SQLite failures into
  // typed errors that say which database and what to do.
  #do<T>(action: string, work: () => T): Promise<T> {
    return settle(() => {
      if (!this.#db.isOpen) throw closedError(this.description);
      try {
        return work();
      } catch (error) {
        throw this.#translate(action, error);
      }
    });
  }

  #transaction<T>(work: () => T): T {
    // IMMEDIATE takes the write lock up front: a deferred transaction that
    // upgrades from read to write can fail with SQLITE_BUSY without waiting.
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
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

  #translate(action: string, error: unknown): unknown {
    if (error instanceof PlatformError || error instanceof TypeError) return error;
    if (error instanceof RangeError) return error;
    const message = error instanceof Error ? error.message : String(error);
    if (/database (?:table )?is locked|SQLITE_BUSY/i.test(message)) {
      return new ResourceError(
        "ledger.busy",
        `Cannot ${action} in ${this.description}: another connection held the write lock for ` +
          `more than ${this.#busyTimeoutMs} ms; retry, or raise busyTimeoutMs`,
        { resourceKey: "ledger", cause: error },
      );
    }
    return new ResourceError(
      "ledger.storage_failed",
      `Cannot ${action} in ${this.description}: ${message}`,
      { resourceKey: "ledger", cause: error },
    );
  }
}

function checkTimeout(ms: number): number {
  if (!Number.isInteger(ms) || ms < 0) {
    throw new RangeError(`SqliteLedger: busyTimeoutMs must be an integer >= 0, got ${ms}`);
  }
  return ms;
}

function openDatabase(path: string, busyTimeoutMs: number): DatabaseSync {
  let db: DatabaseSync | undefined;
  try {
    if (path !== ":memory:" && !path.startsWith("file:")) {
      Deno.mkdirSync(dirname(path), { recursive: true });
    }
    db = new DatabaseSync(path);
    // Set first: switching to WAL and creating the schema need the lock too.
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}`);
    db.exec("PRAGMA journal_mode = WAL");
    migrate(db, path);
    return db;
  } catch (error) {
    if (db?.isOpen) db.close();
    if (error instanceof PlatformError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new ResourceError(
      "ledger.unreachable",
      `Cannot open the ledger database '${path}': ${reason}; check that its folder is writable`,
      { resourceKey: "ledger", input: path, cause: error },
    );
  }
}

function migrate(db: DatabaseSync, path: string): void {
  db.exec("BEGIN IMMEDIATE");
  try {
    const version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
    if (version > SCHEMA_VERSION) {
      throw new ResourceError(
        "ledger.unsupported_version",
        `Cannot open the ledger database '${path}': its schema version ${version} is newer than ` +
          `this code supports (${SCHEMA_VERSION}); upgrade the platform`,
        { resourceKey: "ledger", input: path },
      );
    }
    db.exec(SCHEMA_SQL);
    db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
    db.exec("COMMIT");
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
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
