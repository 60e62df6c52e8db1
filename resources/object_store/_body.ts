/**
 * Reading put bodies chunk by chunk while hashing them, so a large stream is
 * hashed and written without ever being held in memory at once.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import type { ObjectBody } from "./types.ts";

/** Running SHA-256 and byte count of a body being written. */
export class ContentHasher {
  #hash: Hash = createHash("sha256");
  #size = 0;

  /** Adds a chunk. */
  update(chunk: Uint8Array): void {
    this.#hash.update(chunk);
    this.#size += chunk.byteLength;
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** Lowercase hex digest; call once, at the end. */
  digest(): string {
    return this.#hash.digest("hex");
  }
}

/** Etag of the local and memory backends: derived from the SHA-256, opaque to callers. */
export function etagFromSha256(sha256: string): string {
  return sha256.slice(0, 32);
}

/** Throws a `TypeError` unless `body` is a `Uint8Array` or a `ReadableStream`. */
export function assertBody(body: unknown, input: string): asserts body is ObjectBody {
  if (body instanceof Uint8Array || body instanceof ReadableStream) return;
  throw new TypeError(`Body for '${input}' must be a Uint8Array or a ReadableStream<Uint8Array>`);
}

/** Yields the body's chunks, hashing each; a stream is canceled if the consumer stops early. */
export async function* hashedChunks(
  body: ObjectBody,
  hasher: ContentHasher,
): AsyncGenerator<Uint8Array> {
  if (body instanceof Uint8Array) {
    hasher.update(body);
    yield body;
    return;
  }
  for await (const chunk of body) {
    if (!(chunk instanceof Uint8Array)) {
      throw new TypeError(`Body stream yielded a ${typeof chunk}, expected Uint8Array chunks`);
    }
    hasher.update(chunk);
    yield chunk;
  }
}

/**
 * Regroups chunks into parts of exactly `partSize` bytes (the last may be
 * shorter, or empty for an empty body), so S3 multipart parts meet its minimum.
 */
export async function* fixedParts(
  chunks: AsyncIterable<Uint8Array>,
  partSize: number,
): AsyncGenerator<Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingSize = 0;
  let yielded = false;
  for await (const chunk of chunks) {
    pending.push(chunk);
    pendingSize += chunk.byteLength;
    while (pendingSize >= partSize) {
      const all = pending.length === 1 ? pending[0]! : concat(pending, pendingSize);
      yield all.subarray(0, partSize);
      yielded = true;
      pending = pendingSize > partSize ? [all.subarray(partSize)] : [];
      pendingSize -= partSize;
    }
  }
  if (pendingSize > 0 || !yielded) yield concat(pending, pendingSize);
}

/**
 * Cancels a body stream a failed put did not finish reading, so its source
 * (a file, a socket) is released; a stream already read or locked is left alone.
 */
export async function discardBody(body: ObjectBody): Promise<void> {
  if (body instanceof ReadableStream && !body.locked) await body.cancel().catch(() => {});
}

/** Reads a whole stream into one buffer. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of stream) {
    chunks.push(chunk);
    size += chunk.byteLength;
  }
  return concat(chunks, size);
}

/** Joins chunks whose total length is known. */
export function concat(chunks: Uint8Array[], size: number): Uint8Array {
  const out = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return out;
}

/** A stream over a copy of `bytes`, so a reader cannot alter what is stored. */
export function streamOf(bytes: Uint8Array): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      if (bytes.byteLength > 0) controller.enqueue(bytes.slice());
      controller.close();
    },
  });
}
