/**
 * What every backend derives from its primitive operations, written once so
 * the backends cannot drift apart on it.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { readAll } from "./_body.ts";
import { location, storeError } from "./_errors.ts";
import { DEFAULT_CONTENT_TYPE, normalizeMetadata } from "./_metadata.ts";
import { validateBucket, validateKey, validatePrefix } from "./_keys.ts";
import type {
  GetFileResult,
  GetOptions,
  GetResult,
  ListOptions,
  ListPage,
  ObjectLocation,
  ObjectStore,
  ObjectSummary,
  PutOptions,
  PutResult,
} from "./types.ts";

/** `getFile` in terms of `get`: streams the object into the file, hashing on the way. */
export async function getFileVia(
  store: Pick<ObjectStore, "get">,
  bucket: string,
  key: string,
  path: string,
): Promise<GetFileResult> {
  const { body, etag } = await store.get(bucket, key);
  return { ...await writeHashed(body, path), etag };
}

/** Writes `body` into the file `path` (replaced), returning its size and SHA-256. */
export async function writeHashed(
  body: ReadableStream<Uint8Array>,
  path: string,
): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  let size = 0;
  let target: Deno.FsFile;
  try {
    target = await Deno.open(path, { write: true, create: true, truncate: true });
  } catch (error) {
    await body.cancel();
    throw error;
  }
  await body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        size += chunk.length;
        controller.enqueue(chunk);
      },
    }),
  ).pipeTo(target.writable);
  return { size, sha256: hash.digest("hex") };
}

/** Size and SHA-256 of a local file, read in large chunks. */
export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(1024 * 1024);
  let size = 0;
  using file = await Deno.open(path);
  for (let read = await file.read(chunk); read !== null; read = await file.read(chunk)) {
    hash.update(chunk.subarray(0, read));
    size += read;
  }
  return { size, sha256: hash.digest("hex") };
}

/** `getBytes` in terms of `get`. */
export async function getBytesVia(
  store: Pick<ObjectStore, "get">,
  bucket: string,
  key: string,
  options?: GetOptions,
): Promise<Uint8Array> {
  const { body } = await store.get(bucket, key, options);
  return await readAll(body);
}

/** `listAll` in terms of `list`: follows continuation tokens to the last page. */
export async function* listAllVia(
  store: Pick<ObjectStore, "list">,
  bucket: string,
  options: Omit<ListOptions, "continuationToken"> = {},
): AsyncGenerator<ObjectSummary> {
  let token: string | undefined;
  do {
    const page = await store.list(
      bucket,
      token === undefined ? options : { ...options, continuationToken: token },
    );
    yield* page.objects;
    token = page.nextContinuationToken;
  } while (token !== undefined);
}

/**
 * The operations every backend derives from `get` and `list`; backends extend
 * it so they cannot drift apart on them.
 */
export abstract class DerivedOperations {
  /** Reads an object (or a range) as a stream. */
  abstract get(bucket: string, key: string, options?: GetOptions): Promise<GetResult>;

  /** Lists one page. */
  abstract list(bucket: string, options?: ListOptions): Promise<ListPage>;

  /** Writes an object. */
  abstract put(
    bucket: string,
    key: string,
    body: ReadableStream<Uint8Array>,
    options?: PutOptions,
  ): Promise<PutResult>;

  /** Writes the object into a local file (a downloaded copy). */
  getFile(bucket: string, key: string, path: string): Promise<GetFileResult> {
    return getFileVia(this, bucket, key, path);
  }

  /** Writes a local file as the object (streamed from the file). */
  async putFile(
    bucket: string,
    key: string,
    path: string,
    options?: PutOptions,
  ): Promise<PutResult> {
    const body = (await Deno.open(path)).readable;
    try {
      return await this.put(bucket, key, body, options);
    } finally {
      // Refused before reading (a bad key, a missing bucket): close the file.
      if (!body.locked) await body.cancel().catch(() => {});
    }
  }

  /** Nothing to remove: only the local store has folders (it overrides this). */
  removeEmptyFolders(bucket: string, prefix: string): Promise<void> {
    validateBucket(bucket);
    validateFolderPrefix(bucket, prefix);
    return Promise.resolve();
  }

  /** Reads a whole object (or a range) into memory; for small objects. */
  getBytes(bucket: string, key: string, options?: GetOptions): Promise<Uint8Array> {
    return getBytesVia(this, bucket, key, options);
  }

  /** Iterates every object matching the options, across pages. */
  listAll(
    bucket: string,
    options?: Omit<ListOptions, "continuationToken">,
  ): AsyncGenerator<ObjectSummary> {
    return listAllVia(this, bucket, options);
  }
}

/** What every backend's `put` and `putFile` check first, and the options as they are stored. */
export interface PutArguments {
  /** The metadata, names normalized (checked: names, values, size). */
  readonly metadata: Record<string, string>;
  /** The content type, `application/octet-stream` when none was given. */
  readonly contentType: string;
}

/**
 * Validates a put's bucket, key and metadata, in that order (so the first
 * problem of a call is the one reported, whatever the backend), and fills
 * in the defaults.
 */
export function putArguments(bucket: string, key: string, options: PutOptions): PutArguments {
  validateBucket(bucket);
  validateKey(bucket, key);
  return {
    metadata: normalizeMetadata(location(bucket, key), options.metadata),
    contentType: options.contentType ?? DEFAULT_CONTENT_TYPE,
  };
}

/** Validates a folder's key for `removeEmptyFolders`: a valid prefix that ends in `/`. */
export function validateFolderPrefix(bucket: string, prefix: string): void {
  validatePrefix(bucket, prefix);
  if (prefix === "" || !prefix.endsWith("/")) {
    throw storeError(
      "invalid_key",
      `removeEmptyFolders in bucket '${bucket}' takes a folder's key ending in '/' ` +
        `(e.g. 'batch-1/'), got '${prefix}'`,
      `${bucket}/${prefix}`,
    );
  }
}

/** Validates both ends of a copy or move before any I/O. */
export function assertLocations(from: ObjectLocation, to: ObjectLocation): void {
  for (const location of [from, to]) {
    if (typeof location !== "object" || location === null) {
      throw new TypeError("Copy and move take { bucket, key } objects");
    }
    validateBucket(location.bucket);
    validateKey(location.bucket, location.key);
  }
}

/** True when both locations name the same object. */
export function sameLocation(from: ObjectLocation, to: ObjectLocation): boolean {
  return from.bucket === to.bucket && from.key === to.key;
}
