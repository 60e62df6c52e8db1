/**
 * The ledger: the lineage registry of every object in the lake. If it is not
 * in the ledger, it does not exist.
 *
 * Open one with {@linkcode openLedger} from a URL (`sqlite:`, `mongodb://`,
 * `memory:`); every backend implements the same {@linkcode Ledger} interface
 * and validates documents with the zod schemas of `schema.ts`.
 *
 * @example
 * ```ts
 * import { openLedger } from "./mod.ts";
 * await using ledger = await openLedger("memory:");
 * const doc = await ledger.upsert({
 *   bucket: "data-lake",
 *   key: "project/b1/roads.parquet",
 *   sha256: "b".repeat(64),
 *   size: 52_000,
 *   run_id: "run-7",
 *   asset_key: "spatial/vector",
 *   batch_id: "b1",
 *   format: "geoparquet",
 *   metadata: { crs: "EPSG:4326", feature_count: 120 },
 * });
 * console.log((await ledger.findByBatch("b1")).length); // 1
 * ```
 *
 * @module
 */

export type { FindByAssetOptions, Ledger, ScanOptions } from "./types.ts";
export { MAX_SCAN_LIMIT } from "./types.ts";
export {
  LedgerDocument,
  LedgerDocumentInput,
  ledgerMongoValidator,
  type MongoJsonSchema,
  type MongoValidator,
  toMongoJsonSchema,
  type ValidLedgerDocumentInput,
} from "./schema.ts";
export {
  LedgerDocumentError,
  type LedgerDocumentErrorCode,
  type LedgerDocumentErrorFields,
  type LedgerFieldIssue,
} from "./errors.ts";
export { MemoryLedger, type MemoryLedgerOptions } from "./memory.ts";
export { SqliteLedger, type SqliteLedgerOptions } from "./sqlite.ts";
export { MongoLedger, type MongoLedgerOptions, openMongoLedger } from "./mongodb.ts";
export { type LedgerTarget, openLedger, type OpenLedgerOptions, parseLedgerUrl } from "./open.ts";
