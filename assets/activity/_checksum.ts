/**
 * The SHA-256 of a landing-zone object: the one the store recorded when it
 * was written, or one computed by streaming the object (files copied in by
 * other tools carry none).
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { ObjectStore } from "../../resources/object_store/types.ts";

/**
 * Lowercase hex SHA-256 of the object, without holding it in memory;
 * `undefined` when the object is gone (moved or deleted since the listing).
 */
export async function checksumOf(
  lake: ObjectStore,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  const head = await lake.head(bucket, key);
  if (head === undefined) return undefined;
  if (head.sha256) return head.sha256;
  const { body } = await lake.get(bucket, key);
  const hash = createHash("sha256");
  const reader = body.getReader();
  try {
    while (true) {
      signal?.throwIfAborted();
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {}); // the read error is the one to report
    throw error;
  } finally {
    reader.releaseLock();
  }
  return hash.digest("hex");
}

/** Lowercase hex SHA-256 of bytes in memory (small files). */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}
