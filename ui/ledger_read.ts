/**
 * Reading one ledger document for the lake pages and the API, without ever
 * hiding a failure: "no such document" is an answer (`undefined`), anything
 * else — the ledger cannot be opened or reached, the stored document fails
 * the schema — is a {@linkcode LedgerReadError} that names the document, so
 * the page shows the error instead of an empty page or a "not found".
 *
 * @module
 */

import { PlatformError, toError } from "../core/errors.ts";
import { LedgerDocumentError, type LedgerFieldIssue } from "../resources/ledger/errors.ts";
import type { LedgerDocument } from "../resources/ledger/schema.ts";
import type { Ledger } from "../resources/ledger/types.ts";

/** Codes of the ledger's own errors that mean its backend could not answer now. */
const UNAVAILABLE = new Set(["ledger.unreachable", "ledger.busy", "ledger.closed"]);

/**
 * A ledger document could not be read. `code` is `ui.ledger_unavailable`
 * (the ledger could not be opened or reached: try again, check LEDGER_URL)
 * or `ui.ledger_document_unreadable` (the stored document is corrupt:
 * `issues` names its bad fields). The ledger's own error is the `cause`.
 */
export class LedgerReadError extends PlatformError {
  /** Id of the document asked for. */
  readonly documentId: string;
  /** The ledger's code (e.g. `ledger.corrupt_document`), or `undefined` for a foreign error. */
  readonly ledgerCode: string | undefined;
  /** Fields of a corrupt document that fail the schema (empty otherwise). */
  readonly issues: readonly LedgerFieldIssue[];

  /** Wraps `cause`, the failure to read document `documentId`. */
  constructor(documentId: string, cause: unknown, opening = false) {
    const error = toError(cause);
    const ledgerCode = cause instanceof PlatformError ? cause.code : undefined;
    const corrupt = cause instanceof LedgerDocumentError;
    super(
      corrupt ? "ui.ledger_document_unreadable" : "ui.ledger_unavailable",
      corrupt
        ? `Ledger document '${documentId}' is stored but does not match the ledger schema: ` +
          `${error.message}. Re-register its object (the reconciler) or re-materialize its asset`
        : `Cannot read ledger document '${documentId}': ${
          opening ? "the ledger did not open: " : ""
        }${error.message}. Check LEDGER_URL and that the ledger is up, then reload`,
      { resourceKey: "ledger", input: documentId, cause },
    );
    this.documentId = documentId;
    this.ledgerCode = ledgerCode;
    this.issues = corrupt ? cause.issues : [];
  }

  /** The HTTP status it answers with: 503 when the ledger is down, else 500. */
  get status(): 500 | 503 {
    return this.code === "ui.ledger_unavailable" &&
        (this.ledgerCode === undefined || UNAVAILABLE.has(this.ledgerCode))
      ? 503
      : 500;
  }
}

/**
 * The document `id` of the ledger `opening` resolves to, or `undefined` when
 * the ledger has no such document (`ledger.not_found`).
 * @throws {LedgerReadError} for any other failure, naming `id`.
 */
export async function readLedgerDocument(
  opening: Promise<Ledger>,
  id: string,
): Promise<LedgerDocument | undefined> {
  let ledger: Ledger;
  try {
    ledger = await opening;
  } catch (error) {
    throw new LedgerReadError(id, error, true);
  }
  try {
    return await ledger.get(id);
  } catch (error) {
    if (error instanceof PlatformError && error.code === "ledger.not_found") return undefined;
    throw new LedgerReadError(id, error);
  }
}
