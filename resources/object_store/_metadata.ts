/**
 * User metadata rules. S3 lowercases metadata keys and only carries ASCII in
 * headers, so every backend applies the same rules and a test on memory
 * predicts what S3 will return.
 *
 * `-` and `_` in names are one character to the store: servers behind WSGI
 * (OpenStack Swift's s3api returns `mongodb_doc_id` as `mongodb-doc-id` after a
 * multipart upload) or behind proxies that drop headers with underscores
 * (nginx's default) cannot keep them apart. Names are therefore canonical with
 * `_` (`Source-File` reads back as `source_file` on every backend), travel to
 * S3 with `-` (which survives every implementation), and any `-` read back is
 * an `_` again.
 *
 * @module
 */

import { storeError } from "./_errors.ts";
import type { PutOptions } from "./types.ts";

/** Metadata key under which the content's SHA-256 is stored. */
export const SHA256_KEY = "sha256";

/** S3's limit on user metadata (keys plus values, in bytes). */
export const MAX_METADATA_BYTES = 2048;

/** Content type recorded when `put` is given none. */
export const DEFAULT_CONTENT_TYPE = "application/octet-stream";

const TOKEN_PATTERN = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const VALUE_PATTERN = /^[\x20-\x7e]*$/;
const SHA256_BYTES = SHA256_KEY.length + 64;

/** Validates and lowercases user metadata; throws `object_store.invalid_metadata`. */
export function normalizeMetadata(
  input: string,
  metadata: PutOptions["metadata"],
): Record<string, string> {
  if (metadata === undefined) return {};
  if (typeof metadata !== "object" || metadata === null) {
    throw new TypeError(`Metadata for '${input}' must be an object of strings`);
  }
  // A Map, then fromEntries, so names like `__proto__` stay plain own properties.
  const normalized = new Map<string, string>();
  let bytes = SHA256_BYTES;
  for (const [rawName, value] of Object.entries(metadata)) {
    const name = canonicalName(rawName);
    if (typeof value !== "string") {
      throw new TypeError(`Metadata '${rawName}' for '${input}' must be a string`);
    }
    checkEntry(input, name, value, normalized.has(name));
    normalized.set(name, value);
    bytes += name.length + value.length;
  }
  if (bytes > MAX_METADATA_BYTES) {
    throw invalid(
      input,
      `it takes ${bytes} bytes with the sha256, over S3's ${MAX_METADATA_BYTES}`,
    );
  }
  return Object.fromEntries(normalized);
}

function checkEntry(input: string, name: string, value: string, duplicate: boolean): void {
  if (name === SHA256_KEY) throw invalid(input, `'${SHA256_KEY}' is reserved for the content hash`);
  if (duplicate) {
    throw invalid(input, `'${name}' is given twice (names differ only in case or in '-' vs '_')`);
  }
  if (!TOKEN_PATTERN.test(name)) {
    throw invalid(input, `the name ${JSON.stringify(name)} is not an HTTP token`);
  }
  if (!VALUE_PATTERN.test(value)) {
    throw invalid(input, `the value of '${name}' is not printable ASCII`);
  }
}

function invalid(input: string, problem: string) {
  return storeError(
    "invalid_metadata",
    `Cannot write '${input}': its metadata is invalid, ${problem}. ` +
      `Use lowercase ASCII names and printable ASCII values (encode other text, e.g. as base64).`,
    input,
  );
}

/** A metadata name as the store gives it back: lowercase, `_` for `-`. */
export function canonicalName(name: string): string {
  return name.toLowerCase().replaceAll("-", "_");
}

/** Metadata with canonical names (for sidecars and stores written before the rule). */
export function canonicalMetadata(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metadata).map(([name, value]) => [canonicalName(name), value]),
  );
}

/** Metadata as sent to S3: names with `-` for `_` (see the module comment). */
export function wireMetadata(metadata: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(metadata).map(([name, value]) => [name.replaceAll("_", "-"), value]),
  );
}

/** Splits stored metadata into the content hash and the user's own entries. */
export function splitStoredMetadata(
  stored: Record<string, string> | undefined,
): { sha256?: string; metadata: Record<string, string> } {
  const entries = Object.entries(stored ?? {}).map(([name, value]) => [canonicalName(name), value]);
  const sha256 = entries.find(([name]) => name === SHA256_KEY)?.[1];
  const metadata = Object.fromEntries(entries.filter(([name]) => name !== SHA256_KEY));
  return sha256 === undefined ? { metadata } : { sha256, metadata };
}
