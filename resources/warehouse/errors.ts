/**
 * Typed errors of the warehouse resource. All are {@linkcode ResourceError}s
 * with `resourceKey: "warehouse"` and one of the stable codes below.
 *
 * @module
 */

import { type ErrorFields, ResourceError } from "../../core/errors.ts";

/**
 * Stable error codes of the warehouse.
 *
 * - `unreachable`: the server (or embedded data dir) cannot be reached or opened.
 * - `query_failed`: the server rejected a statement.
 * - `locked`: another process holds the embedded warehouse.
 * - `invalid_identifier`: a schema, table or column name cannot be used.
 * - `closed`: the warehouse was used after `close()`.
 */
export const WarehouseErrorCode = {
  unreachable: "warehouse.unreachable",
  queryFailed: "warehouse.query_failed",
  locked: "warehouse.locked",
  invalidIdentifier: "warehouse.invalid_identifier",
  closed: "warehouse.closed",
} as const;

/** One of the {@linkcode WarehouseErrorCode} values. */
export type WarehouseErrorCode = typeof WarehouseErrorCode[keyof typeof WarehouseErrorCode];

/**
 * The server rejected a statement (`warehouse.query_failed`). The message
 * names the statement's first line and carries the server's message.
 *
 * @example Tell a duplicate key from other failures
 * ```ts
 * import { WarehouseQueryError } from "./errors.ts";
 * import { openWarehouse } from "./open.ts";
 * await using warehouse = await openWarehouse("pglite:memory:");
 * try {
 *   await warehouse.execute("INSERT INTO raw.t (id) VALUES ($1)", [1]);
 * } catch (error) {
 *   if (error instanceof WarehouseQueryError && error.sqlState === "23505") {
 *     // already loaded
 *   } else throw error;
 * }
 * ```
 */
export class WarehouseQueryError extends ResourceError {
  /** The server's SQLSTATE, e.g. `42P01` (undefined table), when it sent one. */
  readonly sqlState: string | undefined;
  /** The first line of the statement that failed. */
  readonly statement: string;

  /** Creates a query error; `statement` is the first line of the SQL. */
  constructor(
    message: string,
    statement: string,
    sqlState: string | undefined,
    fields: ErrorFields = {},
  ) {
    super(WarehouseErrorCode.queryFailed, message, { resourceKey: "warehouse", ...fields });
    this.statement = statement;
    this.sqlState = sqlState;
  }
}

/**
 * The embedded warehouse is held by another live process and did not become
 * free in time (`warehouse.locked`).
 */
export class WarehouseLockedError extends ResourceError {
  /** Pid recorded in the lock file, when it could be read. */
  readonly holderPid: number | undefined;
  /** The lock file. */
  readonly lockPath: string;

  /** Creates a lock error naming the holder and the lock file. */
  constructor(message: string, lockPath: string, holderPid: number | undefined) {
    super(WarehouseErrorCode.locked, message, { resourceKey: "warehouse", input: lockPath });
    this.lockPath = lockPath;
    this.holderPid = holderPid;
  }
}
