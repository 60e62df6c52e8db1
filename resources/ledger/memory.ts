/**
 * The in-memory twin of the ledger, for unit tests and `memory:` URLs.
 *
 * @module
 */

import type { LedgerDocument, LedgerDocumentInput } from "./schema.ts";
import type { FindByAssetOptions, Ledger, LedgerClock, ScanOptions } from "./types.ts";
import {
  byCreation,
  closedError,
  latestOf,
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

/** Options of {@linkcode MemoryLedger}. */
export interface MemoryLedgerOptions {
  /**
   * Where documents live, by id. Share one map between twins to simulate
   * reopening the same store; values are validated when read, like a database.
   * @default a new, empty `Map`
   */
  readonly store?: Map<string, unknown>;
  /**
   * Source of `created_at` / `updated_at`.
   * @default the system clock
   */
  readonly clock?: LedgerClock;
}

type Row = Readonly<Record<string, unknown>>;

/**
 * A {@linkcode Ledger} held in a `Map`, with the same validation and
 * semantics as the database backends.
 *
 * @example
 * ```ts
 * import { MemoryLedger } from "./memory.ts";
 * await using ledger = new MemoryLedger();
 * await ledger.ping();
 * ```
 */
export class MemoryLedger implements Ledger {
  /** Always `memory`. */
  readonly description = "memory";
  readonly #store: Map<string, unknown>;
  readonly #clock: LedgerClock;
  #closed = false;

  /** Creates an empty ledger, or one over `options.store`. */
  constructor(options: MemoryLedgerOptions = {}) {
    this.#store = options.store ?? new Map();
    this.#clock = options.clock ?? systemClock;
  }

  /** See {@linkcode Ledger.upsert}. */
  upsert(input: LedgerDocumentInput): Promise<LedgerDocument> {
    return settle(() => {
      this.#assertOpen();
      const valid = validateInput(input);
      const versions = this.#select((row) => row.bucket === valid.bucket && row.key === valid.key);
      const existing = versions.find((doc) => doc.sha256 === valid.sha256);
      const plan = planUpsert(valid, existing, latestOf(versions), this.#clock.now());
      if (plan.action !== "keep") this.#store.set(plan.doc.id, structuredClone(plan.doc));
      return plan.doc;
    });
  }

  /** See {@linkcode Ledger.get}. */
  get(id: string): Promise<LedgerDocument> {
    return settle(() => {
      this.#assertOpen();
      requireString("get", "id", id);
      if (!this.#store.has(id)) throw notFound(id, this.description);
      return this.#parse(id, this.#store.get(id));
    });
  }

  /** See {@linkcode Ledger.findByKey}. */
  findByKey(bucket: string, key: string): Promise<LedgerDocument | undefined> {
    return settle(() => {
      this.#assertOpen();
      requireString("findByKey", "bucket", bucket);
      requireString("findByKey", "key", key);
      return latestOf(this.#select((row) => row.bucket === bucket && row.key === key));
    });
  }

  /** See {@linkcode Ledger.findByHash}. */
  findByHash(sha256: string): Promise<LedgerDocument[]> {
    return this.#list(() => {
      requireSha256(sha256);
      return (row) => row.sha256 === sha256;
    });
  }

  /** See {@linkcode Ledger.findByRun}. */
  findByRun(runId: string): Promise<LedgerDocument[]> {
    return this.#list(() => {
      requireString("findByRun", "runId", runId);
      return (row) => row.run_id === runId;
    });
  }

  /** See {@linkcode Ledger.findByBatch}. */
  findByBatch(batchId: string): Promise<LedgerDocument[]> {
    return this.#list(() => {
      requireString("findByBatch", "batchId", batchId);
      return (row) => row.batch_id === batchId;
    });
  }

  /** See {@linkcode Ledger.findByAsset}. */
  findByAsset(assetKey: string, options?: FindByAssetOptions): Promise<LedgerDocument[]> {
    return this.#list(() => {
      requireString("findByAsset", "assetKey", assetKey);
      const partition = requirePartition(options);
      return (row) =>
        row.asset_key === assetKey && (partition === undefined || row.partition === partition);
    });
  }

  /** See {@linkcode Ledger.scan}. */
  scan(options?: ScanOptions): Promise<LedgerDocument[]> {
    return settle(() => {
      this.#assertOpen();
      const { bucket, after, limit } = requireScan(options);
      // Ids are picked and sorted first, so only the page is validated.
      const ids = [...this.#store].filter(([id, value]) => {
        const row: Row = typeof value === "object" && value !== null ? value as Row : {};
        return id > after && (bucket === undefined || row.bucket === bucket);
      }).map(([id]) => id).sort().slice(0, limit);
      return ids.map((id) => this.#parse(id, this.#store.get(id)));
    });
  }

  /** See {@linkcode Ledger.delete}. */
  delete(id: string): Promise<boolean> {
    return settle(() => {
      this.#assertOpen();
      return this.#store.delete(requireString("delete", "id", id));
    });
  }

  /** See {@linkcode Ledger.ping}. */
  ping(): Promise<void> {
    return settle(() => this.#assertOpen());
  }

  /** Closes the ledger; later calls fail with `ledger.closed`. The store is kept. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #list(filter: () => (row: Row) => boolean): Promise<LedgerDocument[]> {
    return settle(() => {
      this.#assertOpen();
      return this.#select(filter()).sort(byCreation);
    });
  }

  // Filters on the raw values and validates only the matches, so one corrupt
  // document fails the lookups that return it and no others.
  #select(matches: (row: Row) => boolean): LedgerDocument[] {
    const found: LedgerDocument[] = [];
    for (const [id, value] of this.#store) {
      const row: Row = typeof value === "object" && value !== null ? value as Row : {};
      if (matches(row)) found.push(this.#parse(id, value));
    }
    return found;
  }

  #parse(id: string, value: unknown): LedgerDocument {
    return structuredClone(parseStored(value, id, this.description));
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError(this.description);
  }
}
