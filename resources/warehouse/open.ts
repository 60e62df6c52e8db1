/**
 * Picks the {@linkcode Warehouse} implementation a `WAREHOUSE_URL` names.
 *
 * @module
 */

import { ConfigError } from "../../core/errors.ts";
import type { PgliteWarehouseOptions } from "./pglite.ts";
import { redactUrl } from "../../core/secrets.ts";
import type { PostgresWarehouseOptions } from "./postgres.ts";
import type { DuckdbWarehouseOptions } from "./duckdb.ts";
import type { Warehouse } from "./types.ts";

/** `pglite:` + this opens an in-memory PGlite (pglite.ts `MEMORY`, kept here so the error needs no PGlite load). */
const MEMORY = "memory:";

/** Options of {@linkcode openWarehouse}; each backend reads its own. */
export type OpenWarehouseOptions =
  & PgliteWarehouseOptions
  & PostgresWarehouseOptions
  & DuckdbWarehouseOptions;

/** The embedded default, a data dir under `.state/`. */
export const DEFAULT_WAREHOUSE_URL = "pglite:.state/warehouse";

/**
 * Opens the warehouse a URL names:
 *
 * - `pglite:<dir>` (also `pglite://<dir>`): embedded PGlite on a data dir,
 *   relative to the working directory unless absolute;
 * - `pglite:memory:`: embedded, in memory, gone on close (unit tests);
 * - `postgres://...` or `postgresql://...`: a PostgreSQL server;
 * - `duckdb:<file>[?settings]` (also `duckdb://<file>`): embedded DuckDB on a
 *   database file; `duckdb::memory:` in memory. The query string carries
 *   DuckDB settings and `extensions=`, `extension_repository=`,
 *   `allow_downloads=` (see `parseDuckdbUrl`).
 *
 * Throws `ConfigError` (`warehouse.unknown_scheme`) for anything else, naming
 * the scheme; the URL's password never appears in an error.
 *
 * @example
 * ```ts
 * import { openWarehouse } from "./open.ts";
 * await using warehouse = await openWarehouse("pglite:memory:");
 * console.log(await warehouse.ping());
 * ```
 */
export async function openWarehouse(
  url: string,
  options: OpenWarehouseOptions = {},
): Promise<Warehouse> {
  // Each backend's module (PGlite, postgres.js, DuckDB's native addon) is
  // loaded only when its URL asks for it: together they cost ~0.4 s of start-up.
  if (url.startsWith("pglite:")) {
    const dir = pgliteDir(url);
    return await (await import("./pglite.ts")).PgliteWarehouse.open(dir, options);
  }
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    return await (await import("./postgres.ts")).PostgresWarehouse.open(url, options);
  }
  if (url.startsWith("duckdb:")) {
    return await (await import("./duckdb.ts")).openDuckdbWarehouse(url, options);
  }
  throw unknownScheme(url);
}

function pgliteDir(url: string): string {
  const rest = url.slice("pglite:".length);
  const dir = rest.startsWith("//") ? rest.slice(2) : rest;
  if (dir.length === 0) {
    throw new ConfigError(
      "warehouse.invalid_url",
      `Cannot open the warehouse '${url}': expected pglite:<dir> or pglite:${MEMORY}`,
      { resourceKey: "warehouse", input: url },
    );
  }
  return dir;
}

function unknownScheme(url: string): ConfigError {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1];
  const shown = redactUrl(url);
  const what = scheme ? `unknown scheme '${scheme}:'` : "no scheme";
  return new ConfigError(
    "warehouse.unknown_scheme",
    `Cannot open the warehouse '${shown}': ${what} ` +
      `(expected pglite:<dir>, pglite:${MEMORY}, postgres://, postgresql://, duckdb:<file> ` +
      "or duckdb::memory:)",
    { resourceKey: "warehouse", input: shown },
  );
}
