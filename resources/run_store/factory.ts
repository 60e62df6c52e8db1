/**
 * Picks the run store implementation from `RUNS_URL`.
 *
 * @module
 */

import { ConfigError, MemoryRunStore, type RunStore } from "../../core/mod.ts";
import { SqliteRunStore } from "./sqlite.ts";

/**
 * Opens the run store named by `url`: `sqlite:PATH` (embedded default) or
 * `memory:`.
 *
 * @example
 * ```ts
 * import { openRunStore } from "./factory.ts";
 * await using store = await openRunStore("memory:");
 * ```
 */
export function openRunStore(url: string): Promise<RunStore> {
  if (url === "memory:") return Promise.resolve(new MemoryRunStore());
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length).replace(/^\/\/(?=\.|\/)/, "");
    if (path === "") return Promise.reject(new ConfigError("config.runs_url", "RUNS_URL 'sqlite:' needs a path, e.g. sqlite:.state/runs.db", { input: "RUNS_URL" }));
    return Promise.resolve(SqliteRunStore.open(path));
  }
  const scheme = url.split(":")[0];
  return Promise.reject(
    new ConfigError("config.runs_url", `RUNS_URL scheme '${scheme}:' is not supported; use sqlite:PATH or memory:`, {
      input: "RUNS_URL",
    }),
  );
}
