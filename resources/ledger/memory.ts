/**
 * The in-memory twin of the ledger, for unit tests and `memory:` URLs.
 *
 * @module
 */

import type { Clock } from "../../core/clock.ts";
import { LedgerBase, type LedgerFilter } from "./_base.ts";
import type { LedgerDocument, ValidLedgerDocumentInput } from "./schema.ts";
import { byCreation, latestOf, parseStored, planUpsert, type ValidScan } from "./_shared.ts";

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
  readonly clock?: Clock;
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
export class MemoryLedger extends LedgerBase {
  /** Always `memory`. */
  readonly description = "memory";
  readonly #store: Map<string, unknown>;
  #closed = false;

  /** Creates an empty ledger, or one over `options.store`. */
  constructor(options: MemoryLedgerOptions = {}) {
    super(options.clock);
    this.#store = options.store ?? new Map();
  }

  /** Closes the ledger; later calls fail with `ledger.closed`. The store is kept. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  /** Whether the ledger was closed. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** Keeps, touches or inserts the document, as `planUpsert` decides. */
  protected store(valid: ValidLedgerDocumentInput): Promise<LedgerDocument> {
    const versions = this.#select((row) => row.bucket === valid.bucket && row.key === valid.key);
    const existing = versions.find((doc) => doc.sha256 === valid.sha256);
    const plan = planUpsert(valid, existing, latestOf(versions), this.clock.now());
    if (plan.action !== "keep") this.#store.set(plan.doc.id, structuredClone(plan.doc));
    return Promise.resolve(plan.doc);
  }

  /** The document with this id. */
  protected readById(id: string): Promise<LedgerDocument | undefined> {
    return Promise.resolve(this.#store.has(id) ? this.#parse(id, this.#store.get(id)) : undefined);
  }

  /** The latest version of (bucket, key). */
  protected readLatest(bucket: string, key: string): Promise<LedgerDocument | undefined> {
    return Promise.resolve(
      latestOf(this.#select((row) => row.bucket === bucket && row.key === key)),
    );
  }

  /** The documents matching `filter`, oldest first. */
  protected readWhere(filter: LedgerFilter): Promise<LedgerDocument[]> {
    const matches = (row: Row) =>
      row[filter.field] === filter.value &&
      (filter.field !== "asset_key" || filter.partition === undefined ||
        row.partition === filter.partition);
    return Promise.resolve(this.#select(matches).sort(byCreation));
  }

  /** One page of documents by id; only the page is validated. */
  protected readPage({ bucket, after, limit }: ValidScan): Promise<LedgerDocument[]> {
    const ids = [...this.#store].filter(([id, value]) => {
      const row: Row = typeof value === "object" && value !== null ? value as Row : {};
      return id > after && (bucket === undefined || row.bucket === bucket);
    }).map(([id]) => id).sort().slice(0, limit);
    return Promise.resolve(ids.map((id) => this.#parse(id, this.#store.get(id))));
  }

  /** Deletes a document. */
  protected remove(id: string): Promise<boolean> {
    return Promise.resolve(this.#store.delete(id));
  }

  /** Always answers while open. */
  protected check(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to translate: the map cannot fail. */
  protected translate(_action: string, error: unknown): unknown {
    return error;
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
}
