/**
 * Turns driver errors (postgres.js, PGlite, sockets) into the warehouse's
 * typed errors, with messages that never carry a password.
 *
 * @module
 */

import { ResourceError } from "../../core/errors.ts";
import { WarehouseErrorCode, WarehouseQueryError } from "./errors.ts";
import { RowSourceError } from "./_values.ts";
import { scrub } from "../_url_secrets.ts";

/** The fields postgres.js and PGlite errors share; sockets only set `code`. */
interface DriverErrorShape {
  readonly message?: unknown;
  readonly code?: unknown;
  readonly severity?: unknown;
  readonly detail?: unknown;
  readonly hint?: unknown;
  readonly where?: unknown;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Connection-level failures: the statement never reached a working server. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/** SQLSTATEs meaning "cannot use this server/database/login", not "bad statement". */
function isConnectionState(state: string): boolean {
  return state.startsWith("08") || state.startsWith("28") || state === "3D000" ||
    state === "57P01" || state === "57P02" || state === "57P03";
}

function shapeOf(error: unknown): DriverErrorShape {
  return typeof error === "object" && error !== null ? error : { message: String(error) };
}

function text(value: unknown): string | undefined {
  return typeof value === "string" && value.length > 0 ? value : undefined;
}

/** The SQLSTATE of a server error, or undefined for socket and library errors. */
export function sqlStateOf(error: unknown): string | undefined {
  const shape = shapeOf(error);
  const code = text(shape.code);
  return code && SQLSTATE.test(code) && /\d/.test(code) ? code : undefined;
}

/** Whether `error` means the server could not be reached or refused the session. */
export function isConnectionFailure(error: unknown): boolean {
  const state = sqlStateOf(error);
  if (state) return isConnectionState(state);
  const code = text(shapeOf(error).code);
  return code !== undefined && CONNECTION_CODES.has(code);
}

/** First non-empty line of a statement, shortened for messages. */
export function firstLine(sql: string): string {
  const line = sql.split("\n").map((l) => l.trim()).find((l) => l.length > 0) ?? "";
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** The driver's message with the server's detail and context appended. */
export function serverMessage(error: unknown): string {
  const shape = shapeOf(error);
  const parts = [text(shape.message) ?? String(error)];
  const detail = text(shape.detail);
  const where = text(shape.where);
  if (detail) parts.push(`detail: ${detail}`);
  if (where) parts.push(`at ${where}`);
  const state = sqlStateOf(error);
  const code = text(shape.code);
  if (state) parts.push(`SQLSTATE ${state}`);
  else if (code) parts.push(code);
  return parts.join("; ");
}

/** Context of a failure: where the warehouse is (safe to log) and which secrets to hide. */
export interface FailureContext {
  /** The warehouse location without password. */
  readonly location: string;
  /** Strings that must never appear in a message (the password). */
  readonly secrets: readonly string[];
}

/** `warehouse.unreachable` for a warehouse that cannot be reached (server) or opened (data dir). */
export function unreachable(
  context: FailureContext,
  cause: unknown,
  action: "reach" | "open" = "reach",
): ResourceError {
  const message = scrub(
    `Cannot ${action} the warehouse at ${context.location}: ${serverMessage(cause)}`,
    context.secrets,
  );
  return new ResourceError(WarehouseErrorCode.unreachable, message, {
    resourceKey: "warehouse",
    input: context.location,
    cause: sanitizedCause(cause, context.secrets),
  });
}

/**
 * The typed error for a failed statement: unreachable or query_failed. What
 * the caller's row source threw comes back unwrapped, as the caller's own.
 */
export function queryFailure(context: FailureContext, sql: string, cause: unknown): unknown {
  if (cause instanceof RowSourceError) return cause.error;
  if (cause instanceof ResourceError || cause instanceof TypeError || cause instanceof RangeError) {
    return cause; // already typed, or a bad argument of ours: keep it as is
  }
  if (isConnectionFailure(cause)) return unreachable(context, cause);
  const statement = firstLine(sql);
  const message = scrub(
    `Cannot run "${statement}" on the warehouse: ${serverMessage(cause)}`,
    context.secrets,
  );
  return new WarehouseQueryError(message, statement, sqlStateOf(cause), {
    input: context.location,
    cause: sanitizedCause(cause, context.secrets),
  });
}

/** `warehouse.closed` for use after `close()`. */
export function closedError(location: string): ResourceError {
  return new ResourceError(
    WarehouseErrorCode.closed,
    `Cannot use the warehouse at ${location}: it was closed`,
    { resourceKey: "warehouse", input: location },
  );
}

/**
 * The driver error may be printed with its fields (Deno.inspect shows them),
 * so a cause that mentions a secret is replaced by a scrubbed copy.
 */
function sanitizedCause(cause: unknown, secrets: readonly string[]): unknown {
  const real = secrets.filter((s) => s.length > 0);
  if (real.length === 0 || !mentionsAny(cause, real)) return cause;
  const copy = new Error(scrub(cause instanceof Error ? cause.message : String(cause), real));
  copy.name = cause instanceof Error ? cause.name : "Error";
  return copy;
}

function mentionsAny(cause: unknown, secrets: readonly string[]): boolean {
  let shown: string;
  try {
    shown = cause instanceof Error
      ? `${cause.message}\n${cause.stack ?? ""}\n${JSON.stringify({ ...cause }, bigintAsText)}`
      : String(cause);
  } catch {
    return true; // circular fields cannot be checked: assume the worst
  }
  return secrets.some((secret) => shown.includes(secret));
}

function bigintAsText(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? `${value}` : value;
}

/**
 * Runs `body` through a driver's `begin`: an error `body` threw passes through
 * unchanged, any other failure is the COMMIT's and is reported as such.
 */
export async function inTransaction<Tx, T>(
  context: FailureContext,
  begin: (run: (tx: Tx) => Promise<T>) => Promise<T>,
  body: (tx: Tx) => Promise<T>,
): Promise<T> {
  let thrownByBody: { error: unknown } | undefined;
  try {
    return await begin(async (tx) => {
      try {
        return await body(tx);
      } catch (error) {
        thrownByBody = { error };
        throw error;
      }
    });
  } catch (error) {
    if (thrownByBody && thrownByBody.error === error) throw error;
    throw queryFailure(context, "COMMIT", error);
  }
}
