// What every backend derives from its primitive operations, written once so
// the backends cannot drift apart on it.

import { readAll } from "./_body.ts";
import { validateBucket, validateKey } from "./_keys.ts";
import type {
  GetOptions,
  GetResult,
  ListOptions,
  ListPage,
  ObjectLocation,
  ObjectStore,
  ObjectSummary,
} from "./types.ts";

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
