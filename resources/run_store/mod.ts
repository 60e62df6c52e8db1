/**
 * Run store implementations: SQLite (embedded default); the interface and the
 * in-memory twin live in `core/run_store/`.
 *
 * @module
 */

export { SqliteRunStore, type SqliteRunStoreOptions } from "./sqlite.ts";
export { runStoreDdl } from "./_schema.ts";
export { openRunStore } from "./factory.ts";
