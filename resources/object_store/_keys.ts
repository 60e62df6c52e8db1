/**
 * Bucket and key rules shared by every implementation. Keys are restricted to
 * a portable subset of S3 keys so that the same key names exactly one file on
 * the local backend: no `.`/`..`/empty segments (which a file system folds or
 * escapes through), no absolute paths, backslashes or control characters.
 *
 * @module
 */

import { storeError } from "./_errors.ts";

/** S3's limit on the UTF-8 length of a key. */
export const MAX_KEY_BYTES = 1024;

/**
 * Segment prefix reserved for the local backend's temporary files, so that a
 * half-written file can never be mistaken for (or collide with) an object.
 */
export const RESERVED_SEGMENT_PREFIX = ".objstore-";

const encoder = new TextEncoder();
const BUCKET_PATTERN = /^[a-z0-9][a-z0-9.-]*[a-z0-9]$/;
const IPV4_PATTERN = /^\d{1,3}(\.\d{1,3}){3}$/;
// deno-lint-ignore no-control-regex
const CONTROL_PATTERN = /[\u0000-\u001f\u007f]/;

/** Throws `object_store.invalid_bucket` unless `bucket` follows the S3 naming rules. */
export function validateBucket(bucket: unknown): asserts bucket is string {
  if (typeof bucket !== "string") {
    throw new TypeError(`Bucket name must be a string, got ${typeof bucket}`);
  }
  const problem = bucketProblem(bucket);
  if (problem === undefined) return;
  throw storeError(
    "invalid_bucket",
    `Invalid bucket name '${printable(bucket)}': ${problem}. ` +
      `Use 3 to 63 lowercase letters, digits, hyphens or dots, starting and ending with a letter or digit.`,
    printable(bucket),
  );
}

/**
 * Why `bucket` breaks the S3 naming rules (3 to 63 lowercase letters, digits,
 * hyphens or dots, starting and ending with a letter or digit, no `..`, not
 * an IP address), or `undefined` when it follows them.
 */
export function bucketProblem(bucket: string): string | undefined {
  if (bucket.length < 3 || bucket.length > 63) return `it has ${bucket.length} characters`;
  if (!BUCKET_PATTERN.test(bucket)) return "it contains characters S3 does not allow there";
  if (bucket.includes("..")) return "it contains two adjacent dots";
  if (IPV4_PATTERN.test(bucket)) return "it looks like an IP address";
  return undefined;
}

/** Throws `object_store.invalid_key` unless `key` is a valid, portable object key. */
export function validateKey(bucket: string, key: unknown): asserts key is string {
  if (typeof key !== "string") {
    throw new TypeError(`Object key in bucket '${bucket}' must be a string, got ${typeof key}`);
  }
  const problem = keyProblem(key);
  if (problem === undefined) return;
  throw storeError(
    "invalid_key",
    `Invalid object key '${printable(key)}' in bucket '${bucket}': ${problem}. ` +
      `Use a relative path of '/'-separated names, without '.', '..', empty names, ` +
      `backslashes or control characters.`,
    `${bucket}/${printable(key)}`,
  );
}

/** Throws `object_store.invalid_key` unless `prefix` can start a valid key. */
export function validatePrefix(bucket: string, prefix: unknown): asserts prefix is string {
  if (typeof prefix !== "string") {
    throw new TypeError(`List prefix in bucket '${bucket}' must be a string, got ${typeof prefix}`);
  }
  // A prefix is valid when some key can start with it; its last name may be partial.
  const problem = prefix === "" ? undefined : keyProblem(`${prefix}x`);
  if (problem === undefined) return;
  throw storeError(
    "invalid_key",
    `Invalid list prefix '${printable(prefix)}' in bucket '${bucket}': ${problem}. ` +
      `A prefix must be the start of a valid key.`,
    `${bucket}/${printable(prefix)}`,
  );
}

function keyProblem(key: string): string | undefined {
  if (key === "") return "it is empty";
  if (!key.isWellFormed()) return "it contains an unpaired surrogate (not valid UTF-8)";
  const bytes = encoder.encode(key).length;
  if (bytes > MAX_KEY_BYTES) return `it is ${bytes} bytes long, over the ${MAX_KEY_BYTES} limit`;
  if (CONTROL_PATTERN.test(key)) return "it contains a NUL or control character";
  if (key.includes("\\")) return "it contains a backslash";
  if (key.startsWith("/")) return "it is an absolute path";
  return segmentProblem(key.split("/"));
}

function segmentProblem(segments: string[]): string | undefined {
  for (const segment of segments) {
    if (segment === "") return "it contains an empty name ('//' or a trailing '/')";
    if (segment === "." || segment === "..") return `it contains a '${segment}' name`;
    if (segment.startsWith(RESERVED_SEGMENT_PREFIX)) {
      return `names starting with '${RESERVED_SEGMENT_PREFIX}' are reserved for temporary files`;
    }
  }
  return undefined;
}

/**
 * Orders keys as S3 does (by UTF-8 bytes). JavaScript compares UTF-16 code
 * units, which disagrees for characters above U+FFFF versus U+E000..U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

// Surrogates encode code points above U+FFFF, which sort after every BMP character in UTF-8.
function utf8Rank(codeUnit: number): number {
  if (codeUnit >= 0xd800 && codeUnit <= 0xdfff) return codeUnit + 0x2000;
  if (codeUnit >= 0xe000) return codeUnit - 0x800;
  return codeUnit;
}

// Keeps error messages on one line and free of raw control characters.
function printable(text: string): string {
  const shown = text.length > 120 ? `${text.slice(0, 120)}...` : text;
  return JSON.stringify(shown).slice(1, -1);
}
