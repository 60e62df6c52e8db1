/**
 * The object store resource: buckets of byte objects with S3 semantics, on a
 * local folder (embedded default), S3/MinIO (server) or memory (tests).
 *
 * @example Open from configuration and write an object with its ledger id
 * ```ts
 * import { openObjectStore } from "./mod.ts";
 * await using store = openObjectStore("memory:");
 * await store.ensureBucket("data-lake");
 * const written = await store.put("data-lake", "p1/b1/roads.parquet", new Uint8Array([1, 2, 3]), {
 *   metadata: { mongodb_doc_id: "65f0c0ffee" },
 * });
 * console.log(written.sha256);
 * ```
 *
 * @module
 */

export type {
  ByteRange,
  GetOptions,
  GetResult,
  ListOptions,
  ListPage,
  ObjectBody,
  ObjectHead,
  ObjectLocation,
  ObjectStore,
  ObjectStoreBackend,
  ObjectSummary,
  PutOptions,
  PutResult,
} from "./types.ts";
export { LocalObjectStore, type LocalObjectStoreOptions } from "./local.ts";
export { MemoryObjectStore } from "./memory.ts";
export { type S3Credentials, S3ObjectStore, type S3ObjectStoreOptions } from "./s3.ts";
export { openObjectStore, type OpenObjectStoreOptions } from "./open.ts";
