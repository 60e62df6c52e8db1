/**
 * Typed errors of the HTTP client. Each names the URL without its secrets and
 * says whether waiting and trying again could help (`retryable`), which the
 * executor reads to decide on asset-level retries.
 *
 * @module
 */

import { ResourceError } from "../../core/errors.ts";

/** Stable codes of HTTP client errors. */
export const HttpErrorCode = {
  /** The server answered with a status that is not a success. */
  status: "http.status",
  /** The host could not be reached at all (DNS failure, refused, no route). */
  unreachable: "http.unreachable",
  /** An attempt took longer than its timeout. */
  timeout: "http.timeout",
  /** The connection broke after it was made (reset, truncated body). */
  network: "http.network",
  /** A success response whose body is not JSON. */
  invalidJson: "http.invalid_json",
  /** A response body larger than the client accepts (not an API answer: a wrong URL, a runaway server). */
  tooLarge: "http.too_large",
  /** The retries would take longer than the client's total time budget. */
  deadline: "http.deadline",
  /** The replay client (SAMPLE_DATA=true) holds no response for the request. */
  noSample: "http.no_sample",
} as const;

/** Fields every HTTP error carries. */
export interface HttpErrorFields {
  /** The requested URL, secrets redacted. */
  readonly url: string;
  /** Attempts made before giving up. */
  readonly attempts: number;
  /** Whether retrying later (e.g. an asset retry) could help. */
  readonly retryable: boolean;
  /** The underlying error, kept for its stack. */
  readonly cause?: unknown;
}

/** Base class of HTTP client errors; `input` and `url` hold the redacted URL. */
export class HttpError extends ResourceError {
  /** The requested URL, secrets redacted. */
  readonly url: string;
  /** Attempts made before giving up. */
  readonly attempts: number;
  /**
   * Whether trying again later could help. The executor skips asset retries
   * when this is `false`.
   */
  readonly retryable: boolean;

  /** Creates an error for `fields.url`. */
  constructor(code: string, message: string, fields: HttpErrorFields) {
    super(code, message, {
      resourceKey: "http",
      input: fields.url,
      ...(fields.cause === undefined ? {} : { cause: fields.cause }),
    });
    this.url = fields.url;
    this.attempts = fields.attempts;
    this.retryable = fields.retryable;
  }
}

/** The server answered with a status other than 2xx. */
export class HttpStatusError extends HttpError {
  /** The HTTP status, e.g. 404. */
  readonly status: number;
  /** The start of the response body, for the reason the server gave (at most 500 characters). */
  readonly bodyExcerpt: string;

  /** Creates the error for a response with `status`. */
  constructor(message: string, fields: HttpErrorFields & { status: number; bodyExcerpt: string }) {
    super(HttpErrorCode.status, message, fields);
    this.status = fields.status;
    this.bodyExcerpt = fields.bodyExcerpt;
  }
}

/**
 * The host could not be reached: no network, DNS failure, nothing listening.
 * Not retryable at the asset level, so a run without network fails in
 * seconds rather than after minutes of asset retries.
 */
export class HttpUnreachableError extends HttpError {
  /** The host (and port, when given) that could not be reached. */
  readonly host: string;

  /** Creates the error for `host`. */
  constructor(message: string, fields: HttpErrorFields & { host: string }) {
    super(HttpErrorCode.unreachable, message, fields);
    this.host = fields.host;
  }
}

/** An attempt took longer than its timeout. */
export class HttpTimeoutError extends HttpError {
  /** The timeout of one attempt, in milliseconds. */
  readonly timeoutMs: number;

  /** Creates the error for an attempt that ran over `timeoutMs`. */
  constructor(message: string, fields: HttpErrorFields & { timeoutMs: number }) {
    super(HttpErrorCode.timeout, message, fields);
    this.timeoutMs = fields.timeoutMs;
  }
}
