/**
 * Run store interface and its in-memory twin.
 *
 * @module
 */

export * from "./types.ts";
export { MemoryRunStore } from "./memory.ts";
export * from "./materialization.ts";
export * from "./status.ts";
export { mergeStep, RunStoreBase, type SerializedEvent } from "./base.ts";
