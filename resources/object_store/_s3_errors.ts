/**
 * Translation of AWS SDK and network failures into the object store's typed
 * errors. Messages name the endpoint (never its credentials) and say what to do.
 *
 * @module
 */

import { PlatformError } from "../../core/errors.ts";
import { bucketNotFound, location, notFound, storeError } from "./_errors.ts";

/** What was being done when an S3 call failed, for the message. */
export interface S3CallContext {
  /** Verb, e.g. `"read"`, `"write"`, `"list"`. */
  action: string;
  bucket: string;
  key?: string;
  /** Endpoint as shown to people (credentials already removed). */
  endpoint: string;
}

const NETWORK_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EPIPE",
  "ECONNABORTED",
]);
const DENIED_NAMES = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  message?: string;
  syscall?: string;
  $metadata?: { httpStatusCode?: number };
}

/** True when the SDK error means "no such object" (HEAD answers a bare 404). */
export function isNotFound(error: unknown): boolean {
  const e = error as SdkErrorShape;
  return e?.name === "NoSuchKey" || e?.name === "NotFound" ||
    (e?.$metadata?.httpStatusCode === 404 && e?.name !== "NoSuchBucket");
}

/** True when the SDK error means "no such bucket". */
export function isNoSuchBucket(error: unknown): boolean {
  return (error as SdkErrorShape)?.name === "NoSuchBucket";
}

/**
 * Maps an error thrown during an S3 call. Errors that are not from the SDK or
 * the network (argument errors, the caller's failing stream) pass through.
 */
export function fromS3Error(error: unknown, context: S3CallContext): unknown {
  if (error instanceof PlatformError || typeof error !== "object" || error === null) return error;
  const e = error as SdkErrorShape;
  const input = location(context.bucket, context.key);
  if (isNoSuchBucket(error)) return bucketNotFound(context.bucket, context.action, context.key);
  if (context.key !== undefined && isNotFound(error)) return notFound(context.bucket, context.key);
  if (isNetworkError(e)) return unreachable(error, context, input);
  if (e.$metadata === undefined) return error;
  const status = e.$metadata.httpStatusCode;
  if (e.name === "InvalidRange" || status === 416) {
    return storeError(
      "invalid_range",
      `Cannot read '${input}': the range starts at or past the end of the object. ` +
        `Ask for a range that starts before its end.`,
      input,
      error,
    );
  }
  if (DENIED_NAMES.has(e.name ?? "") || status === 403) return denied(error, context, input);
  return storeError(
    "request_failed",
    `Cannot ${context.action} '${input}' on ${context.endpoint}: the server answered ` +
      `${status ?? "?"} ${e.name ?? ""}: ${e.message ?? ""}`.trimEnd(),
    input,
    error,
  );
}

function isNetworkError(e: SdkErrorShape): boolean {
  if (e.name === "TimeoutError" || e.name === "RequestTimeout") return true;
  if (NETWORK_CODES.has(e.code ?? "")) return true;
  // Any other failure of the socket calls themselves (e.g. EADDRNOTAVAIL).
  return e.syscall === "connect" || e.syscall === "getaddrinfo";
}

function unreachable(error: unknown, context: S3CallContext, input: string) {
  const e = error as SdkErrorShape;
  const reason = e.code ?? e.name ?? "network error";
  return storeError(
    "unreachable",
    `Cannot ${context.action} '${input}': S3 endpoint ${context.endpoint} is unreachable ` +
      `(${reason}). Check that the server is running and that the object store URL points at it.`,
    input,
    error,
  );
}

function denied(error: unknown, context: S3CallContext, input: string) {
  const e = error as SdkErrorShape;
  return storeError(
    "access_denied",
    `Cannot ${context.action} '${input}' on ${context.endpoint}: access denied (${e.name}). ` +
      `Check the access key, the secret and the bucket policy.`,
    input,
    error,
  );
}
