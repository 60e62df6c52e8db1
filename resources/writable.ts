/**
 * The places the platform writes at run time, and a check, at start, that
 * each is writable. Everything written goes under one of them, never the
 * code tree (which may be a read-only image):
 *
 * - `STATE_DIR` (default `.state`): dbt's target/ and parse cache, and the
 *   embedded stores unless their own URL moves them;
 * - the files or folders of `LEDGER_URL`, `WAREHOUSE_URL`, `RUNS_URL` when
 *   they are embedded (SQLite, PGlite, DuckDB);
 * - the local lake of `LAKE_URL` when it is a `file:` URL;
 * - `TMPDIR` (default `/tmp`): gdal3.js and native GDAL scratch folders.
 *
 * A refused write fails at once with the path, why, and the variable that
 * moves it, instead of a stack trace from deep inside a run.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { ConfigError, toError } from "../core/errors.ts";
import type { Config } from "./config.ts";
import { localFolder } from "./object_store/_local_url.ts";

/** One folder the platform writes into, and the variable that chooses it. */
export interface WritablePlace {
  /** The variable moving it, e.g. `STATE_DIR`. */
  readonly variable: string;
  /** The folder, absolute. */
  readonly path: string;
  /** What is written there, for the message. */
  readonly holds: string;
}

/** Every folder `config` makes the platform write into (deduplicated, in this order). */
export function writablePlaces(
  config: Config,
  env: { get(name: string): string | undefined } = Deno.env,
): WritablePlace[] {
  const places: WritablePlace[] = [
    {
      variable: "STATE_DIR",
      path: resolve(config.STATE_DIR),
      holds: "dbt's target/ and run state",
    },
  ];
  const stores: [string, string, string][] = [
    ["LEDGER_URL", config.LEDGER_URL, "the ledger"],
    ["WAREHOUSE_URL", config.WAREHOUSE_URL, "the warehouse"],
    ["RUNS_URL", config.RUNS_URL, "the run store"],
  ];
  for (const [variable, url, holds] of stores) {
    const file = embeddedPath(url);
    if (file) places.push({ variable, path: dirname(resolve(file)), holds });
  }
  const lake = localFolder(config.LAKE_URL);
  if (lake) places.push({ variable: "LAKE_URL", path: resolve(lake), holds: "the local lake" });
  places.push({
    variable: "TMPDIR",
    path: resolve(env.get("TMPDIR") || "/tmp"),
    holds: "GDAL scratch files",
  });
  const seen = new Set<string>();
  return places.filter((p) => !seen.has(p.path) && seen.add(p.path));
}

/**
 * The place {@linkcode writablePlaces} lists for the store of `variable`
 * (`RUNS_URL`, `LEDGER_URL`, `WAREHOUSE_URL`): `STATE_DIR` when the store is
 * in it, `undefined` for a server or memory store.
 */
export function storePlace(
  config: Config,
  variable: "RUNS_URL" | "LEDGER_URL" | "WAREHOUSE_URL",
): WritablePlace | undefined {
  const file = embeddedPath(config[variable]);
  if (!file) return undefined;
  const folder = dirname(resolve(file));
  return writablePlaces(config).find((place) => place.path === folder);
}

/** The file or folder of an embedded store URL, or `undefined` (memory, servers). */
function embeddedPath(url: string): string | undefined {
  const match = /^(sqlite|pglite|duckdb):(.*)$/.exec(url);
  if (!match) return undefined;
  const rest = match[2]!.replace(/^\/\/(?=[./])/, "");
  if (rest === "" || rest.includes("memory:")) return undefined;
  return rest;
}

/**
 * Creates each place (with its parents) and writes and removes a probe file
 * in it. Throws a {@linkcode ConfigError} `config.not_writable` naming the
 * first place that refuses, why, and the variable to set.
 */
export async function ensureWritable(places: readonly WritablePlace[]): Promise<void> {
  for (const place of places) {
    const probe = `${place.path}/.write-probe-${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    try {
      await Deno.mkdir(place.path, { recursive: true });
      await Deno.writeFile(probe, new Uint8Array(0), { createNew: true });
      await Deno.remove(probe);
    } catch (error) {
      throw new ConfigError(
        "config.not_writable",
        `Cannot write to ${place.path} (${reason(error)}): the platform keeps ${place.holds} ` +
          `there. Set ${place.variable} to a writable folder` +
          (place.variable === "STATE_DIR"
            ? ""
            : " (or STATE_DIR, which the embedded defaults follow)"),
        { input: place.variable, cause: error },
      );
    }
  }
}

function reason(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Deno.errors.NotCapable) return "not allowed by the task's --allow-write";
  const message = toError(error).message;
  if (/os error 30/.test(message)) return "read-only file system";
  return message.replace(/\s*\(os error \d+\).*$/, "") || "unknown error";
}
