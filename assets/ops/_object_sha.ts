/**
 * The SHA-256 of a stored object, read from its head when the store recorded
 * it, else computed from a stream of its bytes (never held in memory at once).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { ResourceError } from "../../core/errors.ts";
import type { ObjectHead, ObjectStore } from "../../resources/object_store/types.ts";

/**
 * Lowercase hex SHA-256 of `bucket/key`, or `undefined` when the object
 * disappeared between its head and its read.
 *
 * Objects written by other tools carry no recorded hash, so their bytes are
 * streamed through the hash instead of trusting the size alone.
 */
export async function objectSha256(
  lake: ObjectStore,
  location: { readonly bucket: string; readonly key: string; readonly head: ObjectHead },
): Promise<string | undefined> {
  if (location.head.sha256 !== undefined) return location.head.sha256;
  let body: ReadableStream<Uint8Array>;
  try {
    body = (await lake.get(location.bucket, location.key)).body;
  } catch (error) {
    if (error instanceof ResourceError && error.code === "object_store.not_found") return undefined;
    throw error;
  }
  const hash = createHash("sha256");
  for await (const chunk of body) hash.update(chunk);
  return hash.digest("hex");
}
