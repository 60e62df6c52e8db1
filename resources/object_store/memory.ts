/**
 * `MemoryObjectStore`: the in-memory twin of the object store, with the same
 * validation, errors, ordering and pagination as the local and S3 backends,
 * for fast unit tests.
 *
 * @module
 */

import { type Clock, systemClock } from "../../core/clock.ts";
import { assertLocations, DerivedOperations, sameLocation } from "./_base.ts";
import {
  assertBody,
  concat,
  ContentHasher,
  etagFromSha256,
  hashedChunks,
  streamOf,
} from "./_body.ts";
import { bucketNotFound, location, notFound } from "./_errors.ts";
import { compareKeys, validateBucket, validateKey, validatePrefix } from "./_keys.ts";
import { DEFAULT_CONTENT_TYPE, normalizeMetadata } from "./_metadata.ts";
import { buildKeyPage, type Cursor } from "./_paging.ts";
import { assertRange, resolveRange } from "./_range.ts";
import type {
  GetOptions,
  GetResult,
  ListOptions,
  ListPage,
  ObjectBody,
  ObjectHead,
  ObjectLocation,
  ObjectStore,
  PutOptions,
  PutResult,
} from "./types.ts";

interface StoredObject {
  bytes: Uint8Array;
  head: ObjectHead;
}

/** Options of {@linkcode MemoryObjectStore}. */
export interface MemoryObjectStoreOptions {
  /**
   * The clock stamping each object's `lastModified` (tests pass a `FakeClock`).
   *
   * @default {systemClock}
   */
  readonly clock?: Pick<Clock, "now">;
}

/**
 * Object store held in memory; everything is lost when it is garbage collected.
 *
 * @example
 * ```ts
 * import { MemoryObjectStore } from "./memory.ts";
 * const store = new MemoryObjectStore();
 * await store.ensureBucket("landing-zone");
 * await store.put("landing-zone", "b1/a.csv", new TextEncoder().encode("x,y\n"));
 * console.log((await store.head("landing-zone", "b1/a.csv"))?.size); // 4
 * ```
 */
export class MemoryObjectStore extends DerivedOperations implements ObjectStore {
  /** Always `"memory"`. */
  readonly backend = "memory" as const;
  #buckets = new Map<string, Map<string, StoredObject>>();
  #clock: Pick<Clock, "now">;

  /** An empty store; `lastModified` is stamped from `options.clock`. */
  constructor(options: MemoryObjectStoreOptions = {}) {
    super();
    this.#clock = options.clock ?? systemClock;
  }

  /** Creates the bucket if it does not exist. */
  ensureBucket(bucket: string): Promise<void> {
    return settle(() => {
      validateBucket(bucket);
      if (!this.#buckets.has(bucket)) this.#buckets.set(bucket, new Map());
    });
  }

  /** Buffers the body, then stores it in one step, so a failing stream stores nothing. */
  async put(
    bucket: string,
    key: string,
    body: ObjectBody,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const objects = this.#objectsFor(bucket, key, "write");
    const metadata = normalizeMetadata(location(bucket, key), options.metadata);
    assertBody(body, location(bucket, key));
    const hasher = new ContentHasher();
    const chunks: Uint8Array[] = [];
    for await (const chunk of hashedChunks(body, hasher)) chunks.push(chunk.slice());
    const bytes = concat(chunks, hasher.size);
    const sha256 = hasher.digest();
    const etag = etagFromSha256(sha256);
    const contentType = options.contentType ?? DEFAULT_CONTENT_TYPE;
    const head = {
      size: bytes.byteLength,
      etag,
      sha256,
      lastModified: new Date(this.#clock.now()),
      contentType,
      metadata,
    };
    objects.set(key, { bytes, head });
    return { etag, size: bytes.byteLength, sha256 };
  }

  /** Returns a stream over a copy of the stored bytes. */
  get(bucket: string, key: string, options: GetOptions = {}): Promise<GetResult> {
    return settle(() => {
      const stored = this.#stored(bucket, key);
      assertRange(options.range);
      if (options.range === undefined) {
        return { ...cloneHead(stored.head), body: streamOf(stored.bytes) };
      }
      const range = resolveRange(bucket, key, options.range, stored.head.size);
      const body = streamOf(stored.bytes.subarray(range.start, range.end + 1));
      return { ...cloneHead(stored.head), body, range };
    });
  }

  /** Describes the object, or `undefined` when it or its bucket is missing. */
  head(bucket: string, key: string): Promise<ObjectHead | undefined> {
    return settle(() => {
      validateBucket(bucket);
      validateKey(bucket, key);
      const stored = this.#buckets.get(bucket)?.get(key);
      return stored === undefined ? undefined : cloneHead(stored.head);
    });
  }

  /** Lists one page in UTF-8 key order. */
  async list(bucket: string, options: ListOptions = {}): Promise<ListPage> {
    validateBucket(bucket);
    validatePrefix(bucket, options.prefix ?? "");
    const objects = this.#buckets.get(bucket);
    if (objects === undefined) throw bucketNotFound(bucket, "list");
    const sorted = [...objects.keys()].sort(compareKeys);
    const page = await buildKeyPage(
      bucket,
      (prefix, cursor) => walk(sorted, prefix, cursor),
      options,
    );
    const summaries = page.keys.flatMap((key) => {
      const head = objects.get(key)?.head;
      return head === undefined
        ? []
        : [{ key, size: head.size, etag: head.etag, lastModified: head.lastModified }];
    });
    const result: ListPage = { objects: summaries, prefixes: page.prefixes };
    if (page.nextContinuationToken !== undefined) {
      result.nextContinuationToken = page.nextContinuationToken;
    }
    return result;
  }

  /** Copies bytes and metadata; the copy gets its own last-modified time. */
  copy(from: ObjectLocation, to: ObjectLocation): Promise<void> {
    return settle(() => {
      assertLocations(from, to);
      const stored = this.#stored(from.bucket, from.key);
      const target = this.#objectsFor(to.bucket, to.key, "copy to");
      if (sameLocation(from, to)) return;
      const head = { ...cloneHead(stored.head), lastModified: new Date(this.#clock.now()) };
      target.set(to.key, { bytes: stored.bytes, head });
    });
  }

  /** Moves in one step: no moment where both or neither key exist. */
  move(from: ObjectLocation, to: ObjectLocation): Promise<void> {
    return settle(() => {
      assertLocations(from, to);
      const stored = this.#stored(from.bucket, from.key);
      const target = this.#objectsFor(to.bucket, to.key, "move to");
      if (sameLocation(from, to)) return;
      target.set(to.key, stored);
      this.#buckets.get(from.bucket)?.delete(from.key);
    });
  }

  /** Deletes the object if present. */
  delete(bucket: string, key: string): Promise<void> {
    return settle(() => {
      validateBucket(bucket);
      validateKey(bucket, key);
      this.#buckets.get(bucket)?.delete(key);
    });
  }

  /** Nothing to release. */
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }

  #objectsFor(bucket: string, key: string, action: string): Map<string, StoredObject> {
    validateBucket(bucket);
    validateKey(bucket, key);
    const objects = this.#buckets.get(bucket);
    if (objects === undefined) throw bucketNotFound(bucket, action, key);
    return objects;
  }

  #stored(bucket: string, key: string): StoredObject {
    const stored = this.#objectsFor(bucket, key, "read").get(key);
    if (stored === undefined) throw notFound(bucket, key);
    return stored;
  }
}

// Runs synchronous work but reports its errors as a rejected promise, as the
// asynchronous backends do, so callers need only one way to catch them.
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (error) {
    return Promise.reject(error);
  }
}

function cloneHead(head: ObjectHead): ObjectHead {
  return { ...head, lastModified: new Date(head.lastModified), metadata: { ...head.metadata } };
}

async function* walk(sorted: string[], prefix: string, cursor: Cursor): AsyncGenerator<string> {
  for (const key of sorted) {
    if (!key.startsWith(prefix) || compareKeys(key, cursor.after) <= 0) continue;
    if (cursor.skip !== undefined && key.startsWith(cursor.skip)) continue;
    yield key;
  }
}
