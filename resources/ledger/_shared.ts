/**
 * What every ledger backend shares: validation, argument checks and the
 * upsert decision, so the backends only differ in how they store.
 *
 * @module
 */

import type { z } from "zod";
// UUIDv7 (RFC 9562): time-ordered, and strictly increasing within a process (a counter breaks
// ties in one millisecond), so ids sort by creation time.
import { v7 as uuidv7 } from "uuid";
import { ResourceError } from "../../core/errors.ts";
import { LedgerDocumentError, type LedgerFieldIssue } from "./errors.ts";
import { LedgerDocument, LedgerDocumentInput, type ValidLedgerDocumentInput } from "./schema.ts";
import { type FindByAssetOptions, MAX_SCAN_LIMIT, type ScanOptions } from "./types.ts";

/** Validates what a caller passes to `upsert`. */
export function validateInput(input: unknown): ValidLedgerDocumentInput {
  if (typeof input !== "object" || input === null || Array.isArray(input)) {
    throw new TypeError(
      `Ledger.upsert: input must be a LedgerDocumentInput object, got ${kind(input)}`,
    );
  }
  const result = LedgerDocumentInput.safeParse(input);
  if (result.success) return result.data;
  const target = targetOf(input);
  const label = target === undefined ? "an object without a key" : `'${target}'`;
  const issues = toIssues(result.error);
  throw new LedgerDocumentError(
    "ledger.invalid_document",
    `Cannot write ledger document for ${label}: ${formatIssues(issues)}. Fix the caller so ` +
      "the document matches LedgerDocumentInput (resources/ledger/schema.ts).",
    { issues, ...(target === undefined ? {} : { input: target }) },
  );
}

/** Validates a complete document just before it is stored. */
export function validateDocument(doc: LedgerDocument): LedgerDocument {
  const result = LedgerDocument.safeParse(doc);
  if (result.success) return result.data;
  const issues = toIssues(result.error);
  throw new LedgerDocumentError(
    "ledger.invalid_document",
    `Cannot write ledger document '${doc.id}': ${formatIssues(issues)}`,
    { issues, documentId: doc.id, input: `${doc.bucket}/${doc.key}` },
  );
}

/**
 * Validates a stored document on its way out.
 *
 * @param where names the store, so a person knows where to repair it.
 */
export function parseStored(raw: unknown, id: string, where: string): LedgerDocument {
  const result = LedgerDocument.safeParse(raw);
  if (result.success) return result.data;
  throw corruptDocument(id, where, toIssues(result.error));
}

/** The error for a stored document that fails validation. */
export function corruptDocument(
  id: string,
  where: string,
  issues: readonly LedgerFieldIssue[],
): LedgerDocumentError {
  return new LedgerDocumentError(
    "ledger.corrupt_document",
    `Cannot read ledger document '${id}' from ${where}: ${formatIssues(issues)}. ` +
      `The stored record is corrupt: repair it, or delete it (ledger.delete('${id}')) ` +
      "and re-materialize the asset that wrote it.",
    { issues, documentId: id },
  );
}

function toIssues(error: z.ZodError): LedgerFieldIssue[] {
  return error.issues.map((issue) => {
    if (issue.code === "unrecognized_keys") {
      return { field: issue.keys.join(", "), message: "is not a ledger document field" };
    }
    const field = issue.path.map(String).join(".") || "(document)";
    return { field, message: describeIssue(issue) };
  });
}

// zod's own wording ("Invalid input: expected string, received undefined")
// is replaced where a person would say it more plainly.
function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === "invalid_union") {
    return "must be a JSON value (string, finite number, boolean, null, array, object)";
  }
  if (issue.code === "invalid_type" && /received undefined$/.test(issue.message)) {
    return "is required";
  }
  if (issue.code === "invalid_type" && issue.message.startsWith("Invalid input: expected")) {
    return `must be ${issue.message.slice("Invalid input: expected ".length)}`;
  }
  return issue.message;
}

function formatIssues(issues: readonly LedgerFieldIssue[]): string {
  return issues.map((issue) => `${issue.field} ${issue.message}`).join("; ");
}

/** `bucket/key` of an input, as far as it has them. */
function targetOf(input: object): string | undefined {
  const { bucket, key } = input as { bucket?: unknown; key?: unknown };
  if (typeof key !== "string") return undefined;
  return typeof bucket === "string" ? `${bucket}/${key}` : key;
}

/** A short name of a value's type for error messages. */
export function kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value;
}

/** Throws a `TypeError` unless `value` is a non-empty string. */
export function requireString(method: string, name: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) {
    throw new TypeError(`Ledger.${method}: ${name} must be a non-empty string, got ${kind(value)}`);
  }
  return value;
}

/** Checks the argument of `findByHash`. */
export function requireSha256(value: unknown): string {
  const sha256 = requireString("findByHash", "sha256", value);
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new RangeError(
      "Ledger.findByHash: sha256 must be 64 lowercase hexadecimal characters " +
        `(got ${sha256.length} characters); lowercase it before looking it up`,
    );
  }
  return sha256;
}

/** Checks the options of `findByAsset`; `undefined` partition means any. */
export function requirePartition(
  options: FindByAssetOptions | undefined,
): string | null | undefined {
  if (options === undefined) return undefined;
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`Ledger.findByAsset: options must be an object, got ${kind(options)}`);
  }
  const { partition } = options;
  if (partition === undefined || partition === null) return partition;
  return requireString("findByAsset", "options.partition", partition);
}

/** {@linkcode ScanOptions} checked, with the default limit applied. */
export interface ValidScan {
  /** Only this bucket, or every bucket. */
  readonly bucket: string | undefined;
  /** Ids greater than this; `""` (below every id) from the start. */
  readonly after: string;
  /** Page size. */
  readonly limit: number;
}

/** Checks the options of `scan`. */
export function requireScan(options: ScanOptions | undefined): ValidScan {
  if (options === undefined) return { bucket: undefined, after: "", limit: 1000 };
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new TypeError(`Ledger.scan: options must be an object, got ${kind(options)}`);
  }
  const { bucket, after, limit = 1000 } = options;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_SCAN_LIMIT) {
    throw new RangeError(
      `Ledger.scan: limit must be an integer from 1 to ${MAX_SCAN_LIMIT}, got ${limit}`,
    );
  }
  return {
    bucket: bucket === undefined ? undefined : requireString("scan", "options.bucket", bucket),
    after: after === undefined ? "" : requireString("scan", "options.after", after),
    limit,
  };
}

/** The error for an id that is not in the ledger. */
export function notFound(id: string, where: string): ResourceError {
  return new ResourceError(
    "ledger.not_found",
    `Ledger document '${id}' does not exist in ${where}: the object that points to it has no ` +
      "lineage; run the reconciler to re-register it, or re-materialize its asset",
    { resourceKey: "ledger", input: id },
  );
}

/** The error for a call on a ledger after it was disposed. */
export function closedError(where: string): ResourceError {
  return new ResourceError(
    "ledger.closed",
    `Cannot use the ledger ${where}: it was closed; open a new one with openLedger()`,
    { resourceKey: "ledger" },
  );
}

/** What `upsert` must do, decided from what is stored. */
export type UpsertPlan =
  | { readonly action: "keep"; readonly doc: LedgerDocument }
  | { readonly action: "touch"; readonly doc: LedgerDocument }
  | { readonly action: "insert"; readonly doc: LedgerDocument };

/**
 * Decides an upsert.
 *
 * @param existing the stored document with the same (bucket, key, sha256).
 * @param latest the latest stored document of (bucket, key).
 */
export function planUpsert(
  input: ValidLedgerDocumentInput,
  existing: LedgerDocument | undefined,
  latest: LedgerDocument | undefined,
  nowMs: number,
): UpsertPlan {
  if (existing !== undefined) {
    if (latest === undefined || latest.id === existing.id) return { action: "keep", doc: existing };
    const updated_at = timestampAfter(nowMs, latest.updated_at);
    return { action: "touch", doc: { ...existing, updated_at } };
  }
  const at = timestampAfter(nowMs, latest?.updated_at);
  const doc = { id: uuidv7(), ...input, created_at: at, updated_at: at };
  return { action: "insert", doc: validateDocument(doc) };
}

/**
 * `nowMs` as an ISO timestamp, nudged to 1 ms after `previous` when the clock
 * has not moved past it: "latest" is decided by `updated_at`, so two versions
 * of a key written in the same millisecond must still be ordered.
 */
export function timestampAfter(nowMs: number, previous: string | undefined): string {
  const floor = previous === undefined ? -Infinity : Date.parse(previous) + 1;
  return new Date(Math.max(nowMs, floor)).toISOString();
}

/** Orders documents oldest first, as every list of the ledger is. */
export function byCreation(a: LedgerDocument, b: LedgerDocument): number {
  return compare(a.created_at, b.created_at) || compare(a.id, b.id);
}

/** The latest of some versions of one key: greatest `updated_at`, then `id`. */
export function latestOf(docs: readonly LedgerDocument[]): LedgerDocument | undefined {
  let latest: LedgerDocument | undefined;
  for (const doc of docs) {
    if (
      latest === undefined ||
      (compare(doc.updated_at, latest.updated_at) || compare(doc.id, latest.id)) > 0
    ) {
      latest = doc;
    }
  }
  return latest;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
