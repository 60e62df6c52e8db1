/**
 * Builders of the typed errors every implementation throws, so the same
 * failure reads the same whatever the backend.
 *
 * @module
 */

import { ResourceError } from "../../core/errors.ts";

/** Resource key carried by every object store error. */
export const RESOURCE_KEY = "object_store";

/** `bucket/key` as it appears in messages and in `error.input`. */
export function location(bucket: string, key?: string): string {
  return key === undefined ? bucket : `${bucket}/${key}`;
}

/** Builds a `ResourceError` of the object store with its input filled in. */
export function storeError(
  code: string,
  message: string,
  input: string,
  cause?: unknown,
): ResourceError {
  return new ResourceError(`object_store.${code}`, message, {
    resourceKey: RESOURCE_KEY,
    input,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** The object is missing. */
export function notFound(bucket: string, key: string): ResourceError {
  return storeError(
    "not_found",
    `Cannot read '${location(bucket, key)}': no object has this key. ` +
      `Check the key (list the bucket with its prefix) or write it first.`,
    location(bucket, key),
  );
}

/** The bucket is missing; `action` is a verb such as `"read"` or `"list"`. */
export function bucketNotFound(bucket: string, action: string, key?: string): ResourceError {
  return storeError(
    "bucket_not_found",
    `Cannot ${action} '${location(bucket, key)}': bucket '${bucket}' does not exist. ` +
      `Create it with ensureBucket('${bucket}') first.`,
    bucket,
  );
}

/**
 * On the local store, the bucket's folder is something else (a file put in
 * its place): nothing in the bucket can be read or written until it is moved.
 */
export function bucketNotAFolder(bucket: string, path: string, cause?: unknown): ResourceError {
  const error = storeError(
    "bucket_not_a_folder",
    `Cannot use bucket '${bucket}': '${path}' is not a folder (the local store keeps each ` +
      `bucket in a folder of its name). Move that file away, then run again.`,
    bucket,
    cause,
  );
  // Retrying cannot help until a person moves the file.
  return Object.defineProperty(error, "retryable", { value: false });
}

/** The range starts at or past the end of the object. */
export function invalidRange(bucket: string, key: string, start: number, size: number) {
  return storeError(
    "invalid_range",
    `Cannot read '${location(bucket, key)}' from byte ${start}: the object has ${size} bytes. ` +
      `Ask for a range that starts before its end.`,
    location(bucket, key),
  );
}
