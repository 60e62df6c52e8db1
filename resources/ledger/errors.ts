/**
 * Errors specific to the ledger. Failures to reach a backend use
 * {@linkcode ResourceError} from `core/errors.ts` directly, with codes
 * `ledger.unreachable`, `ledger.busy`, `ledger.not_found`, `ledger.closed`.
 *
 * @module
 */

import { ResourceError } from "../../core/errors.ts";

/** One field of a document that does not match the ledger schema. */
export interface LedgerFieldIssue {
  /** Dotted path of the field, e.g. `sha256` or `metadata.bbox`. */
  readonly field: string;
  /** What is wrong with it. */
  readonly message: string;
}

/** Why a document was rejected: on the way in, or on the way out. */
export type LedgerDocumentErrorCode = "ledger.invalid_document" | "ledger.corrupt_document";

/** Fields of a {@linkcode LedgerDocumentError}. */
export interface LedgerDocumentErrorFields {
  /** Id of the stored document, when there is one. */
  readonly documentId?: string;
  /** `bucket/key` of the document, when known. */
  readonly input?: string;
  /** Every field that failed. */
  readonly issues: readonly LedgerFieldIssue[];
}

/**
 * A document does not match the ledger schema.
 *
 * - `ledger.invalid_document`: the caller tried to write it; nothing was stored.
 * - `ledger.corrupt_document`: a stored document failed validation on read.
 *
 * @example
 * ```ts
 * import { LedgerDocumentError } from "./errors.ts";
 * const error = new LedgerDocumentError("ledger.invalid_document", "Cannot write...", {
 *   issues: [{ field: "sha256", message: "must be 64 lowercase hexadecimal characters" }],
 * });
 * console.log(error.fields); // ["sha256"]
 * ```
 */
export class LedgerDocumentError extends ResourceError {
  /** Id of the stored document (for `ledger.corrupt_document`), if known. */
  readonly documentId: string | undefined;
  /** Every field that failed, with what is wrong with it. */
  readonly issues: readonly LedgerFieldIssue[];

  /** Creates the error; `resourceKey` is always `ledger`. */
  constructor(code: LedgerDocumentErrorCode, message: string, fields: LedgerDocumentErrorFields) {
    super(code, message, {
      resourceKey: "ledger",
      ...(fields.input === undefined ? {} : { input: fields.input }),
    });
    this.documentId = fields.documentId;
    this.issues = fields.issues;
  }

  /** Names of the fields that failed, e.g. `["sha256", "size"]`. */
  get fields(): string[] {
    return [...new Set(this.issues.map((issue) => issue.field))];
  }
}
