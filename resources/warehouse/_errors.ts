/**
 * Turns driver errors (postgres.js, PGlite, sockets) into the warehouse's
 * typed errors. Messages never carry a password: the location is shown
 * through `redactUrl`, which registers the URL's secrets, and every platform
 * error redacts its message and cause chain (core/secrets.ts). Which errors
 * mean "unreachable" is decided once, in `resources/_postgres.ts`.
 *
 * @module
 */

import { DiskFullError, lastingFailure, ResourceError } from "../../core/errors.ts";
import { WarehouseErrorCode, WarehouseQueryError } from "./errors.ts";
import { RowSourceError } from "./_values.ts";
import { isConnectionFailure, isTransient, serverMessage, sqlStateOf } from "../_postgres.ts";

/**
 * First non-empty line of a statement after its leading comments, shortened for messages:
 * dbt opens every statement with its query comment (`/* {"app": "dbt", ...} *\/`), and the
 * message named only that comment, never the statement that failed.
 */
export function firstLine(sql: string): string {
  const body = sql.replace(/^\s*(?:\/\*[\s\S]*?\*\/\s*)+/, "");
  const line = (body || sql).split("\n").map((l) => l.trim()).find((l) => l.length > 0) ?? "";
  return line.length > 120 ? `${line.slice(0, 117)}...` : line;
}

/** Context of a failure: where the warehouse is (safe to log). */
export interface FailureContext {
  /** The warehouse location without password (`redactUrl`). */
  readonly location: string;
}

/**
 * `disk_full` naming the warehouse (and the statement, when there is one) for
 * a failure whose cause is a full disk; `undefined` for any other. A server's
 * full disk (SQLSTATE 53100) is named by its URL: its folder is the server's.
 */
export function warehouseDiskFull(
  context: FailureContext,
  cause: unknown,
  statement?: string,
): DiskFullError | undefined {
  if (cause instanceof DiskFullError || lastingFailure(cause) !== "disk_full") return undefined;
  const what = `the warehouse ${context.location}${
    statement === undefined ? "" : ` (running "${statement}")`
  }`;
  return new DiskFullError(what, context.location, {
    resourceKey: "warehouse",
    folder: context.location,
    cause,
  });
}

/** `warehouse.unreachable` for a warehouse that cannot be reached (server) or opened (data dir). */
export function unreachable(
  context: FailureContext,
  cause: unknown,
  action: "reach" | "open" = "reach",
  hint?: string,
): ResourceError {
  const full = warehouseDiskFull(context, cause);
  if (full) return full;
  const message = `Cannot ${action} the warehouse at ${context.location} (WAREHOUSE_URL): ${
    serverMessage(cause)
  }${hint ? `; ${hint}` : ""}`;
  return new ResourceError(WarehouseErrorCode.unreachable, message, {
    resourceKey: "warehouse",
    input: context.location,
    cause,
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
  const full = warehouseDiskFull(context, cause, statement);
  if (full) return full;
  const message = `Cannot run "${statement}" on the warehouse: ${serverMessage(cause)}`;
  return new WarehouseQueryError(message, statement, sqlStateOf(cause), {
    input: context.location,
    cause,
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
