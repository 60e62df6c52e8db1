/**
 * Turns driver errors (postgres.js, PGlite, sockets) into the warehouse's
 * typed errors, with messages that never carry a password. Which errors mean
 * "unreachable" is decided once, in `resources/_postgres.ts`.
 *
 * @module
 */

import { ResourceError } from "../../core/errors.ts";
import { WarehouseErrorCode, WarehouseQueryError } from "./errors.ts";
import { RowSourceError } from "./_values.ts";
import { scrub } from "../_url_secrets.ts";
import { isConnectionFailure, isTransient, serverMessage, sqlStateOf } from "../_postgres.ts";

/** First non-empty line of a statement, shortened for messages. */
export function firstLine(sql: string): string {
  const line = sql.split("\n").map((l) => l.trim()).find((l) => l.length > 0) ?? "";
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
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
    `Cannot ${action} the warehouse at ${context.location} (WAREHOUSE_URL): ${
      serverMessage(cause)
    }`,
    context.secrets,
  );
  return new ResourceError(WarehouseErrorCode.unreachable, message, {
    resourceKey: "warehouse",
    input: context.location,
    cause: sanitizedCause(cause, context.secrets),
    transient: isTransient(cause),
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
    // A deadlock or serialization failure: the same statement may well pass next time.
    transient: isTransient(cause),
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
