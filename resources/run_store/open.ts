/**
 * Picks the run store implementation from `RUNS_URL`.
 *
 * @module
 */

import { ConfigError } from "../../core/errors.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import type { RunStore } from "../../core/run_store/types.ts";
import type { PostgresRunStoreOptions } from "./postgres.ts";
import { SqliteRunStore, type SqliteRunStoreOptions } from "./sqlite.ts";
import { redactUrl } from "../../core/secrets.ts";

/** Options of {@linkcode openRunStore}, passed to the backend the URL selects. */
export type OpenRunStoreOptions = SqliteRunStoreOptions & PostgresRunStoreOptions;

/**
 * Opens the run store named by `url`: `sqlite:PATH` (embedded default),
 * `postgres://...` / `postgresql://...` (tables in schema `ops`) or `memory:`.
 * Any other URL fails with a `ConfigError` (code `config.runs_url`) naming
 * `RUNS_URL`.
 *
 * @example
 * ```ts
 * import { openRunStore } from "./open.ts";
 * await using store = await openRunStore("memory:");
 * ```
 */
export function openRunStore(url: string, options: OpenRunStoreOptions = {}): Promise<RunStore> {
  if (url === "memory:") return Promise.resolve(new MemoryRunStore());
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length).replace(/^\/\/(?=\.|\/)/, "");
    if (path === "") {
      return Promise.reject(
        new ConfigError(
          "config.runs_url",
          "RUNS_URL 'sqlite:' needs a path, e.g. sqlite:.state/runs.db",
          { input: "RUNS_URL" },
        ),
      );
    }
    try {
      return Promise.resolve(SqliteRunStore.open(path, options));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  if (/^postgres(ql)?:\/\//i.test(url)) {
    // postgres.js is loaded only when a postgres: URL asks for it.
    return import("./postgres.ts").then(({ PostgresRunStore }) =>
      PostgresRunStore.open(url, options)
    );
  }
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0];
  return Promise.reject(
    new ConfigError(
      "config.runs_url",
      `RUNS_URL ${scheme ? `scheme '${scheme}'` : `'${redactUrl(url)}'`} is not supported; ` +
        "use sqlite:PATH, postgres://USER@HOST:PORT/DB or memory:",
      { input: "RUNS_URL" },
    ),
  );
}
