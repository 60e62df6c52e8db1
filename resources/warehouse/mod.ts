/**
 * The warehouse resource: one {@linkcode Warehouse} interface, PGlite embedded
 * by default, PostgreSQL when `WAREHOUSE_URL` points at a server, DuckDB for
 * `duckdb:` URLs.
 *
 * @example
 * ```ts
 * import { openWarehouse } from "./mod.ts";
 * await using warehouse = await openWarehouse(Deno.env.get("WAREHOUSE_URL") ?? "pglite:.state/warehouse");
 * const [row] = await warehouse.query<{ now: Date }>("SELECT now() AS now");
 * ```
 *
 * @module
 */

export type * from "./types.ts";
export { WarehouseErrorCode, WarehouseLockedError, WarehouseQueryError } from "./errors.ts";
export { quoteIdent, quoteTable } from "./sql.ts";
export { MEMORY, PgliteWarehouse, type PgliteWarehouseOptions } from "./pglite.ts";
export { PostgresWarehouse, type PostgresWarehouseOptions } from "./postgres.ts";
export {
  DUCKDB_MEMORY,
  DuckdbWarehouse,
  type DuckdbWarehouseOptions,
  type ExtensionStatus,
  openDuckdbWarehouse,
  parseDuckdbUrl,
} from "./duckdb.ts";
export { DEFAULT_WAREHOUSE_URL, openWarehouse, type OpenWarehouseOptions } from "./open.ts";
