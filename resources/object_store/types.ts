/**
 * The `ObjectStore` role: buckets of immutable byte objects addressed by key,
 * with the S3 semantics every implementation (local folder, S3/MinIO, memory)
 * shares, so a pipeline never knows which one it writes to.
 *
 * @module
 */

/** Bytes to store: a whole buffer, or a stream that is never held in memory at once. */
export type ObjectBody = Uint8Array | ReadableStream<Uint8Array>;

/** Options of {@linkcode ObjectStore.put}. */
export interface PutOptions {
  /**
   * MIME type returned by `head` and `get`.
   *
   * @default {"application/octet-stream"}
   */
  contentType?: string;
  /**
   * User metadata, e.g. `{ mongodb_doc_id: "..." }`. Keys are lowercased
   * (S3 lowercases them on the wire, so every backend does) and read back
   * with `_` in place of `-` (some S3 servers cannot keep the two apart, so
   * every backend treats them as one: `Source-File` reads as `source_file`);
   * they must be HTTP token characters, and `sha256` is reserved. Values must
   * be printable ASCII. Keys and values together may not exceed 2 KiB (the S3
   * limit).
   *
   * @default {{}}
   */
  metadata?: Record<string, string>;
}

/** What {@linkcode ObjectStore.put} wrote. */
export interface PutResult {
  /** Opaque version tag of the content; compare it, do not parse it. */
  etag: string;
  /** Number of bytes written. */
  size: number;
  /** Lowercase hex SHA-256 of the content, computed while writing. */
  sha256: string;
}

/** What {@linkcode ObjectStore.getFile} wrote. */
export interface GetFileResult {
  /** Number of bytes in the file. */
  size: number;
  /** Lowercase hex SHA-256 of the file's bytes, computed from them. */
  sha256: string;
  /** Version tag of the object that was read. */
  etag: string;
}

/** Everything known about a stored object without reading it. */
export interface ObjectHead {
  /** Size of the whole object in bytes (not of a requested range). */
  size: number;
  /** Opaque version tag of the content. */
  etag: string;
  /**
   * Lowercase hex SHA-256 of the content. Absent for objects written by other
   * tools, which did not record it.
   */
  sha256?: string;
  /** When the object was last written. */
  lastModified: Date;
  /** MIME type given at put, if any was recorded. */
  contentType?: string;
  /** User metadata given at put (lowercase keys with `_` for `-`, without the reserved `sha256`). */
  metadata: Record<string, string>;
}

/**
 * A byte range of an object. `end` is the last byte included, as in an HTTP
 * `Range: bytes=start-end` header; it is clamped to the object's last byte.
 */
export interface ByteRange {
  /** Offset of the first byte, from 0. */
  start: number;
  /**
   * Offset of the last byte included.
   *
   * @default {the last byte of the object}
   */
  end?: number;
}

/** Options of {@linkcode ObjectStore.get}. */
export interface GetOptions {
  /**
   * Read only these bytes. A `start` at or past the end of the object fails
   * with `object_store.invalid_range`.
   *
   * @default {the whole object}
   */
  range?: ByteRange;
}

/** A readable object: its head and a stream of its (possibly ranged) bytes. */
export interface GetResult extends ObjectHead {
  /** The bytes; read it to the end or cancel it, or the connection stays open. */
  body: ReadableStream<Uint8Array>;
  /** The range actually returned (inclusive), when a range was asked for. */
  range?: { start: number; end: number };
}

/** Options of {@linkcode ObjectStore.list} and {@linkcode ObjectStore.listAll}. */
export interface ListOptions {
  /**
   * Only keys starting with this string.
   *
   * @default {""}
   */
  prefix?: string;
  /**
   * Group keys that contain this string after the prefix into `prefixes`
   * (use `"/"` to list one "folder" level).
   *
   * @default {undefined, no grouping}
   */
  delimiter?: string;
  /**
   * Most entries (objects plus prefixes) in one page, 1 to 1000.
   *
   * @default {1000}
   */
  pageSize?: number;
  /** `nextContinuationToken` of the previous page. */
  continuationToken?: string;
}

/** One object in a listing. */
export interface ObjectSummary {
  /** The object's key. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** Opaque version tag of the content. */
  etag: string;
  /** When the object was last written. */
  lastModified: Date;
}

/** One page of a listing, in ascending key order (UTF-8 byte order, like S3). */
export interface ListPage {
  /** Objects on this page. */
  objects: ObjectSummary[];
  /** Common prefixes (each ends with the delimiter) on this page. */
  prefixes: string[];
  /** Pass it back as `continuationToken` for the next page; absent on the last page. */
  nextContinuationToken?: string;
}

/** Where an object lives: used by `copy` and `move`. */
export interface ObjectLocation {
  /** Bucket name (S3 rules). */
  bucket: string;
  /** Object key (see the key rules in `validateKey`). */
  key: string;
}

/** Which implementation is behind an {@linkcode ObjectStore}. */
export type ObjectStoreBackend = "local" | "memory" | "s3";

/**
 * A store of byte objects in buckets, with S3 semantics.
 *
 * Every method validates the bucket and key before any I/O and throws a
 * `ResourceError` with a stable code: `object_store.invalid_key`,
 * `object_store.invalid_bucket`, `object_store.invalid_metadata`,
 * `object_store.not_found`, `object_store.bucket_not_found`,
 * `object_store.bucket_not_a_folder` (local: a file where the bucket folder belongs),
 * `object_store.invalid_range`, `object_store.unreachable`,
 * `object_store.access_denied`, `object_store.request_failed`,
 * `object_store.key_conflict` / `object_store.io_failed` (local files, S3's
 * spool file) or `object_store.metadata_lost` (an S3 server that did not
 * keep a multipart upload's metadata; the put fails, never silently).
 *
 * Writes are atomic: an object is visible at its key only once complete, and a
 * failed write leaves the previous object (or nothing) in place. An object
 * never exists without its `sha256`. Folders are not objects: no backend
 * removes or requires one (see `LocalObjectStore`).
 *
 * @example Round trip
 * ```ts
 * import { openObjectStore } from "./mod.ts";
 * await using store = openObjectStore("memory:");
 * await store.ensureBucket("data-lake");
 * const { sha256 } = await store.put("data-lake", "raw/a.json", new TextEncoder().encode("{}"), {
 *   contentType: "application/json",
 *   metadata: { mongodb_doc_id: "65f0c0ffee" },
 * });
 * const head = await store.head("data-lake", "raw/a.json");
 * console.log(head?.sha256 === sha256, head?.metadata.mongodb_doc_id);
 * ```
 */
export interface ObjectStore extends AsyncDisposable {
  /** Which implementation this is. */
  readonly backend: ObjectStoreBackend;

  /** Creates the bucket if it does not exist; safe to call again. */
  ensureBucket(bucket: string): Promise<void>;

  /** Writes an object atomically, replacing any object at the key. */
  put(bucket: string, key: string, body: ObjectBody, options?: PutOptions): Promise<PutResult>;

  /** Opens an object for reading; throws `object_store.not_found` if it is missing. */
  get(bucket: string, key: string, options?: GetOptions): Promise<GetResult>;

  /**
   * Writes the object into the local file `path` (replaced if it exists) and
   * returns its size and the SHA-256 of its bytes. Treat the file as
   * read-only: the local store gives the object's own file a second name (a
   * hard link; a new version of the object replaces it by rename, so the
   * file keeps the bytes it had), where other backends download a copy. For
   * large objects a pipeline hands to a tool that wants a path (GDAL).
   */
  getFile(bucket: string, key: string, path: string): Promise<GetFileResult>;

  /**
   * Writes the local file `path` as the object, like `put` with its bytes.
   * The local store links the file in instead of copying it when both are on
   * one file system: do not change the file afterwards (deleting it is fine).
   */
  putFile(bucket: string, key: string, path: string, options?: PutOptions): Promise<PutResult>;

  /** Reads a whole object (or a range) into memory; for small objects. */
  getBytes(bucket: string, key: string, options?: GetOptions): Promise<Uint8Array>;

  /** Describes an object, or returns `undefined` if it (or its bucket) is missing. */
  head(bucket: string, key: string): Promise<ObjectHead | undefined>;

  /** Lists one page of objects and common prefixes. */
  list(bucket: string, options?: ListOptions): Promise<ListPage>;

  /** Iterates every object matching the options across pages (prefixes are not yielded). */
  listAll(bucket: string, options?: Omit<ListOptions, "continuationToken">): AsyncIterable<
    ObjectSummary
  >;

  /** Copies an object with its content type, user metadata and SHA-256. */
  copy(from: ObjectLocation, to: ObjectLocation): Promise<void>;

  /** Moves an object with its metadata; atomic on local and memory, copy-then-delete on S3. */
  move(from: ObjectLocation, to: ObjectLocation): Promise<void>;

  /** Deletes an object; deleting a missing object (or from a missing bucket) succeeds. */
  delete(bucket: string, key: string): Promise<void>;

  /**
   * Removes the folders under `prefix` (a folder's key, ending in `/`) that
   * hold no object, that folder included: only the local store has folders
   * (S3 and the memory store have none; nothing to do there). Call it for a
   * prefix that is finished, such as a batch's landing folder once the
   * batch is archived, never for one uploaders keep writing into
   * (`manifests/`). A folder that holds anything stays; this store's own
   * writes into a folder removed under them make it again.
   */
  removeEmptyFolders(bucket: string, prefix: string): Promise<void>;
}
