/**
 * The warehouse adapters of the dbt runner, by type.
 *
 * @module
 */

export type * from "./types.ts";
export { duckdbAdapter } from "./duckdb.ts";
export { postgresAdapter } from "./postgres.ts";

export { adapterFor, adapterOf } from "./adapter_for.ts";
