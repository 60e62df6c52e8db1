/**
 * Chooses and opens a ledger backend from a URL, such as `LEDGER_URL`.
 *
 * @module
 */

import { ConfigError } from "../../core/errors.ts";
import { MemoryLedger } from "./memory.ts";
import { SqliteLedger } from "./sqlite.ts";
import type { Clock } from "../../core/clock.ts";
import type { Ledger } from "./types.ts";
import { kind } from "./_shared.ts";

/** Options of {@linkcode openLedger}. */
export interface OpenLedgerOptions {
  /**
   * Name of the variable the URL came from, quoted in error messages.
   * @default "LEDGER_URL"
   */
  readonly variable?: string;
  /**
   * Source of `created_at` / `updated_at`.
   * @default the system clock
   */
  readonly clock?: Clock;
  /**
   * SQLite only: how long a write waits for the lock, in milliseconds.
   * @default 5000
   */
  readonly busyTimeoutMs?: number;
  /**
   * MongoDB only: how long to look for a server, in milliseconds, unless the
   * URL sets `serverSelectionTimeoutMS`.
   * @default 3000
   */
  readonly serverSelectionTimeoutMS?: number;
}

/** Which backend a ledger URL selects, and where. */
export type LedgerTarget =
  | { readonly kind: "sqlite"; readonly path: string }
  | { readonly kind: "mongodb"; readonly uri: string }
  | { readonly kind: "memory" };

const EXPECTED = "expected sqlite:PATH (or sqlite::memory:), mongodb://HOST/DB, " +
  "mongodb+srv://HOST/DB or memory:";

/**
 * Reads a ledger URL without opening anything.
 *
 * - `sqlite:PATH`, `sqlite:///ABSOLUTE/PATH`, `sqlite::memory:`
 * - `mongodb://...`, `mongodb+srv://...`
 * - `memory:`
 *
 * @throws {ConfigError} `ledger.unknown_scheme` or `ledger.invalid_url`; the
 *   message names the variable and the scheme, never the rest of the URL.
 *
 * @example
 * ```ts
 * import { parseLedgerUrl } from "./open.ts";
 * parseLedgerUrl("sqlite:.state/ledger.db"); // { kind: "sqlite", path: ".state/ledger.db" }
 * ```
 */
export function parseLedgerUrl(url: string, variable = "LEDGER_URL"): LedgerTarget {
  if (typeof url !== "string") {
    throw new TypeError(`parseLedgerUrl: url must be a string, got ${kind(url)}`);
  }
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url.trim())?.[1]?.toLowerCase();
  if (scheme === undefined) throw invalidUrl(variable, "it has no scheme");
  const rest = url.trim().slice(scheme.length + 1);
  if (scheme === "memory") return { kind: "memory" };
  if (scheme === "sqlite") return { kind: "sqlite", path: sqlitePath(rest, variable) };
  if (scheme === "mongodb" || scheme === "mongodb+srv") {
    if (!rest.startsWith("//") || rest.length <= 2) {
      throw invalidUrl(variable, `a ${scheme}: URL must look like ${scheme}://HOST/DB`);
    }
    return { kind: "mongodb", uri: url.trim() };
  }
  throw new ConfigError(
    "ledger.unknown_scheme",
    `Cannot open the ledger: ${variable} has the unknown scheme '${scheme}:'; ${EXPECTED}`,
    { resourceKey: "ledger", input: variable },
  );
}

/**
 * Opens the ledger a URL selects (see {@linkcode parseLedgerUrl}).
 *
 * @example The embedded default
 * ```ts
 * import { openLedger } from "./open.ts";
 * await using ledger = await openLedger(Deno.env.get("LEDGER_URL") ?? "sqlite::memory:");
 * await ledger.ping();
 * ```
 */
export async function openLedger(url: string, options: OpenLedgerOptions = {}): Promise<Ledger> {
  const target = parseLedgerUrl(url, options.variable);
  const clock = options.clock === undefined ? {} : { clock: options.clock };
  switch (target.kind) {
    case "memory":
      return new MemoryLedger(clock);
    case "sqlite": {
      const timeout = options.busyTimeoutMs;
      return new SqliteLedger(target.path, {
        ...clock,
        ...(timeout === undefined ? {} : { busyTimeoutMs: timeout }),
      });
    }
    case "mongodb": {
      const timeout = options.serverSelectionTimeoutMS;
      // The MongoDB driver takes ~0.2 s to load: only when a mongodb: URL asks for it.
      const { openMongoLedger } = await import("./mongodb.ts");
      return await openMongoLedger(target.uri, {
        ...clock,
        ...(timeout === undefined ? {} : { serverSelectionTimeoutMS: timeout }),
      });
    }
  }
}

function sqlitePath(rest: string, variable: string): string {
  // `sqlite:///abs/path` is the URL form of `sqlite:/abs/path`.
  const path = rest.startsWith("//") ? rest.slice(2) : rest;
  if (path.length === 0) {
    throw invalidUrl(variable, "a sqlite: URL needs a file path, e.g. sqlite:.state/ledger.db");
  }
  return path;
}

function invalidUrl(variable: string, reason: string): ConfigError {
  return new ConfigError(
    "ledger.invalid_url",
    `Cannot open the ledger: ${variable} is not a valid ledger URL (${reason}); ${EXPECTED}`,
    { resourceKey: "ledger", input: variable },
  );
}
