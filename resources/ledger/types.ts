/**
 * The `Ledger` role: the lineage registry. If an object is not in the ledger,
 * it does not exist.
 *
 * @module
 */

import type { LedgerDocument, LedgerDocumentInput } from "./schema.ts";

/** Options of {@linkcode Ledger.findByAsset}. */
export interface FindByAssetOptions {
  /**
   * Only documents of this partition; `null` for unpartitioned documents.
   * @default undefined (every partition)
   */
  readonly partition?: string | null;
}

/** Options of {@linkcode Ledger.scan}. */
export interface ScanOptions {
  /**
   * Only documents of this bucket.
   * @default undefined (every bucket)
   */
  readonly bucket?: string;
  /**
   * Only documents whose id sorts after this one: pass the last id of the
   * previous page. Paging by id (keyset) stays correct while documents are
   * deleted between pages.
   * @default undefined (from the first document)
   */
  readonly after?: string;
  /**
   * Most documents in one page, 1 to {@linkcode MAX_SCAN_LIMIT}.
   * @default 1000
   */
  readonly limit?: number;
}

/** Largest page {@linkcode Ledger.scan} returns. */
export const MAX_SCAN_LIMIT = 10_000;

/**
 * A registry of ledger documents, one per version of each object in the lake.
 *
 * Every document is validated against {@linkcode LedgerDocument} on write and
 * on read: a bad input fails with a `LedgerDocumentError` coded
 * `ledger.invalid_document` and stores nothing; a corrupt stored document
 * fails with `ledger.corrupt_document` naming its id and fields. Lists are
 * ordered oldest first (by `created_at`, then `id`).
 *
 * @example
 * ```ts
 * import { openLedger } from "./mod.ts";
 * await using ledger = await openLedger("memory:");
 * const doc = await ledger.upsert({
 *   bucket: "data-lake",
 *   key: "raw/weather/2024/05/01/billings.json",
 *   sha256: "a".repeat(64),
 *   size: 1234,
 *   run_id: "run-1",
 *   asset_key: "raw_weather",
 *   partition: "2024-05-01",
 *   format: "json",
 * });
 * console.log((await ledger.findByKey("data-lake", doc.key))?.id === doc.id); // true
 * ```
 */
export interface Ledger extends AsyncDisposable {
  /** Backend and location, passwords removed, e.g. `sqlite .state/ledger.db`. */
  readonly description: string;

  /**
   * Records an object version, idempotently by (bucket, key, sha256).
   *
   * - A triple already stored: returns the stored document unchanged (same id;
   *   other fields of `input` are ignored, the first write wins). If another
   *   version of the key was recorded since, its `updated_at` is moved to now so
   *   it becomes the latest again (the object was rewritten with old content).
   * - A new sha256 for a known key: a new document; older ones stay as history.
   *
   * @throws {TypeError} when `input` is not an object.
   * @throws {LedgerDocumentError} `ledger.invalid_document`, naming the fields.
   */
  upsert(input: LedgerDocumentInput): Promise<LedgerDocument>;

  /**
   * The document with this id.
   *
   * @throws {ResourceError} `ledger.not_found` when no document has this id.
   */
  get(id: string): Promise<LedgerDocument>;

  /** The latest document of an object (greatest `updated_at`), or `undefined`. */
  findByKey(bucket: string, key: string): Promise<LedgerDocument | undefined>;

  /**
   * Every document with this content hash, in any bucket.
   *
   * @throws {RangeError} when `sha256` is not 64 lowercase hexadecimal characters.
   */
  findByHash(sha256: string): Promise<LedgerDocument[]>;

  /** Every document written by a run. */
  findByRun(runId: string): Promise<LedgerDocument[]>;

  /** Every document of a landing-zone batch. */
  findByBatch(batchId: string): Promise<LedgerDocument[]>;

  /** Every document of an asset, optionally of one partition. */
  findByAsset(assetKey: string, options?: FindByAssetOptions): Promise<LedgerDocument[]>;

  /**
   * One page of every document (optionally of one bucket), in ascending `id`
   * order (UUIDv7, so roughly creation order). An empty page, or one shorter
   * than `limit`, is the last.
   *
   * @example Walk the whole ledger a page at a time
   * ```ts
   * import { openLedger } from "./open.ts";
   * await using ledger = await openLedger("memory:");
   * let after: string | undefined;
   * for (;;) {
   *   const page = await ledger.scan({ limit: 500, ...(after ? { after } : {}) });
   *   for (const doc of page) console.log(doc.key);
   *   if (page.length < 500) break;
   *   after = page.at(-1)?.id;
   * }
   * ```
   *
   * @throws {TypeError} when `bucket` or `after` is not a non-empty string.
   * @throws {RangeError} when `limit` is not an integer from 1 to {@linkcode MAX_SCAN_LIMIT}.
   */
  scan(options?: ScanOptions): Promise<LedgerDocument[]>;

  /** Removes a document; `false` when there was none (so it is safe to repeat). */
  delete(id: string): Promise<boolean>;

  /**
   * Checks that the backend answers.
   *
   * @throws {ResourceError} `ledger.unreachable` (or `ledger.closed`).
   */
  ping(): Promise<void>;
}
