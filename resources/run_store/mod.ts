/**
 * Run store implementations: SQLite (embedded default) and Postgres (server,
 * schema `ops`); the interface and the in-memory twin live in
 * `core/run_store/`. {@linkcode openRunStore} picks one from `RUNS_URL`.
 *
 * @module
 */

export { SqliteRunStore, type SqliteRunStoreOptions } from "./sqlite.ts";
export { PostgresRunStore, type PostgresRunStoreOptions } from "./postgres.ts";
export { POSTGRES_RUN_STORE_SCHEMA, runStoreDdl } from "./_schema.ts";
export { openRunStore, type OpenRunStoreOptions } from "./open.ts";
