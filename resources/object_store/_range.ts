/**
 * Byte-range arithmetic shared by the local and memory backends, matching
 * what S3 answers to `Range: bytes=start-end`.
 *
 * @module
 */

import { invalidRange } from "./_errors.ts";
import type { ByteRange } from "./types.ts";

/** Throws a `RangeError` unless the range is made of non-negative integers in order. */
export function assertRange(range: ByteRange | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new RangeError(`Range start must be a non-negative integer, got ${start}`);
  }
  if (end !== undefined && (!Number.isSafeInteger(end) || end < start)) {
    throw new RangeError(`Range end must be an integer >= start (${start}), got ${end}`);
  }
}

/**
 * Resolves a requested range against the object size (end clamped to the
 * last byte); throws `object_store.invalid_range` when it starts past the end.
 */
export function resolveRange(
  bucket: string,
  key: string,
  range: ByteRange,
  size: number,
): { start: number; end: number } {
  if (range.start >= size) throw invalidRange(bucket, key, range.start, size);
  return { start: range.start, end: Math.min(range.end ?? size - 1, size - 1) };
}

/** `Range` header value for a validated range. */
export function rangeHeader(range: ByteRange): string {
  return `bytes=${range.start}-${range.end ?? ""}`;
}
