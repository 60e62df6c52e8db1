/**
 * Opening DuckDB databases: the warehouse's options and `duckdb:` URLs,
 * one instance per file per process (shared and reference-counted: two
 * instances on one file would corrupt it), waiting out another process's
 * file lock, and the settings that keep queries off the network.
 *
 * @module
 */

import { dirname } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { ConfigError } from "../../core/errors.ts";
import { unreachable } from "./_errors.ts";
import { duckdbMessage } from "./_duckdb_errors.ts";
import {
  type DuckdbBuild,
  EXTENSION_NAME,
  extensionAdvice,
  type ExtensionStatus,
  prepareExtensions,
  readBuild,
  sqlString,
} from "./_duckdb_extensions.ts";
import { WriteLock } from "./_duckdb_pool.ts";
import { WarehouseLockedError } from "./errors.ts";

/** The path of an in-memory DuckDB database. */
export const DUCKDB_MEMORY = ":memory:";

/** Options of {@linkcode DuckdbWarehouse.open}. */
export interface DuckdbWarehouseOptions {
  /**
   * How long to wait for another process holding the database file, in
   * milliseconds, before failing with `warehouse.locked`.
   * @default 60000
   */
  lockTimeoutMs?: number;
  /**
   * How often to try the file again while waiting, in milliseconds.
   * @default 250
   */
  lockPollMs?: number;
  /**
   * Told once when the file is held by another process.
   * @default console.error
   */
  onLockWait?: (message: string) => void;
  /**
   * Extensions to make available at open (e.g. `["httpfs", "spatial"]`). One
   * that cannot be made available is reported through `onNotice` and in
   * {@linkcode DuckdbWarehouse.extensions}; queries that need it then fail
   * naming it and how to provide it.
   * @default []
   */
  extensions?: readonly string[];
  /**
   * A folder laid out as a DuckDB extension repository
   * (`<folder>/<version>/<platform>/<name>.duckdb_extension[.gz]`), used to
   * install requested extensions offline; an http(s) URL needs `allowDownloads`.
   * @default none
   */
  extensionRepository?: string;
  /**
   * Whether a requested extension may be downloaded from the network at open
   * (bounded by `downloadTimeoutMs`). Queries never download.
   * @default false
   */
  allowDownloads?: boolean;
  /**
   * Longest wait for one extension download, in milliseconds.
   * @default 30000
   */
  downloadTimeoutMs?: number;
  /**
   * DuckDB settings for the database (`threads`, `memory_limit`,
   * `access_mode`, `extension_directory`, ...), applied at open. An unknown
   * setting fails the open with `warehouse.invalid_url`.
   * @default {}
   */
  settings?: Readonly<Record<string, string>>;
  /**
   * Most connections open at once (parallel readers).
   * @default 4
   */
  maxConnections?: number;
  /**
   * Receives what the warehouse has to say at open (missing extensions).
   * @default console.error
   */
  onNotice?: (message: string) => void;
}

/** Settings the warehouse owns: setting them would break its promises. */
const OWNED_SETTINGS = new Set([
  "autoinstall_known_extensions",
  "autoinstall_extension_repository",
  "custom_extension_repository",
]);

/**
 * Run on every new connection. TEMP macros live in the connection, so
 * nothing is written into the user's database file.
 */
export const CONNECTION_SETUP = `
CREATE OR REPLACE TEMP MACRO pg_advisory_xact_lock(key) AS NULL, (key1, key2) AS NULL;
CREATE OR REPLACE TEMP MACRO hashtextextended(t, seed) AS
  (hash(t, seed) % 9223372036854775807)::BIGINT;
`;

/** One DuckDB database shared by every open of it in this process. */
export interface Database {
  readonly key: string | undefined;
  readonly instance: DuckDBInstance;
  readonly writeLock: WriteLock;
  readonly build: DuckdbBuild;
  readonly extensions: readonly ExtensionStatus[];
  readonly signature: string;
  readonly readOnly: boolean;
  /**
   * Downloads abandoned at open, each settling once its connection is
   * disconnected: the instance closes only after them.
   */
  readonly abandoned: readonly Promise<void>[];
  refs: number;
  closed: boolean;
}

/** Files open in this process, by absolute path. */
const OPEN_FILES = new Map<string, Promise<Database>>();

/**
 * Files whose last close waits for a download abandoned at open, by absolute
 * path: a new open of the file waits for that instance to close, since two
 * instances on one file in one process corrupt it or crash.
 */
const CLOSING_FILES = new Map<string, Promise<void>>();

/**
 * Closes `instance` once every abandoned download's connection is
 * disconnected (at once when there are none): a connection still open keeps
 * a closed instance alive, and its call still runs on it.
 */
function closeAfter(
  key: string | undefined,
  instance: DuckDBInstance,
  abandoned: readonly Promise<void>[],
): void {
  if (abandoned.length === 0) return instance.closeSync();
  const closing = Promise.all(abandoned).then(() => instance.closeSync()).catch((error) =>
    // Nobody awaits this close any more: say it failed rather than reject unhandled.
    console.error(
      `warehouse ${key ?? ":memory:"}: closing DuckDB after an abandoned extension ` +
        `download failed: ${duckdbMessage(error)}`,
    )
  );
  if (key === undefined) return;
  CLOSING_FILES.set(key, closing);
  closing.finally(() => {
    if (CLOSING_FILES.get(key) === closing) CLOSING_FILES.delete(key);
  });
}

/** DuckDB config for `DuckDBInstance.create`, validated. */
export function checkedConfig(
  path: string,
  options: DuckdbWarehouseOptions,
): Record<string, string> {
  const config: Record<string, string> = {};
  for (const [key, value] of Object.entries(options.settings ?? {})) {
    if (OWNED_SETTINGS.has(key.toLowerCase())) {
      throw invalidSetting(path, `${key} is managed by the warehouse (use allow_downloads)`);
    }
    config[key] = String(value);
  }
  for (const name of options.extensions ?? []) {
    if (!EXTENSION_NAME.test(name)) {
      throw invalidSetting(
        path,
        `extension name ${JSON.stringify(name)} is not a DuckDB extension name`,
      );
    }
  }
  const max = options.maxConnections ?? 4;
  if (!Number.isInteger(max) || max < 1) {
    throw new RangeError(
      `Cannot open the warehouse: maxConnections must be a positive integer, got ${max}`,
    );
  }
  const timeout = options.downloadTimeoutMs ?? 30_000;
  if (!(timeout > 0)) {
    throw new RangeError(
      `Cannot open the warehouse: downloadTimeoutMs must be positive, got ${timeout}`,
    );
  }
  // Queries never install: only the open does, bounded in time.
  config["autoinstall_known_extensions"] = "false";
  return config;
}

/** The configuration error of a DuckDB URL or setting that cannot be used, naming it and why. */
function invalidSetting(path: string, why: string): ConfigError {
  return new ConfigError(
    "warehouse.invalid_url",
    `Cannot open the DuckDB warehouse '${path}': ${why}`,
    { resourceKey: "warehouse", input: path },
  );
}

/** What must match for two opens of one file to share its instance. */
function signatureOf(config: Record<string, string>, options: DuckdbWarehouseOptions): string {
  return JSON.stringify({
    config: Object.entries(config).sort(),
    extensions: [...new Set(options.extensions ?? [])].sort(),
    repository: options.extensionRepository ?? null,
    downloads: options.allowDownloads ?? false,
  });
}

/**
 * The open DuckDB instance of `location` in this process, opened on first use
 * and shared after (DuckDB locks a file to one instance per process): a
 * second open with other settings or extensions is refused, not given the
 * first one's silently. Each user calls {@linkcode release} once.
 */
export async function sharedDatabase(
  location: string,
  config: Record<string, string>,
  options: DuckdbWarehouseOptions,
): Promise<Database> {
  const signature = signatureOf(config, options);
  let database: Database;
  do {
    let opening = OPEN_FILES.get(location);
    if (!opening) {
      const closing = CLOSING_FILES.get(location);
      opening = closing
        ? closing.then(() => openDatabase(location, location, config, options))
        : openDatabase(location, location, config, options);
      OPEN_FILES.set(location, opening);
      opening.catch(() => OPEN_FILES.delete(location));
    }
    database = await opening;
  } while (database.closed); // closed by its last user while we waited: open it anew
  if (database.signature !== signature) {
    throw new WarehouseLockedError(
      `Cannot open the warehouse ${location}: it is already open in this process with other ` +
        "settings or extensions; open it once and share it, or close the other one first",
      location,
      Deno.pid,
    );
  }
  database.refs++;
  return database;
}

/**
 * Drops one user of `database`; the last one closes it: at once, or, after a
 * download abandoned at open, once that download ended (the next open of the
 * file in this process waits for it).
 */
export function release(database: Database): void {
  if (--database.refs > 0) return;
  database.closed = true;
  const key = database.key;
  if (key !== undefined) OPEN_FILES.delete(key);
  closeAfter(key, database.instance, database.abandoned);
}

/** Creates the instance (waiting out another process's lock), then sets it up. */
export async function openDatabase(
  key: string | undefined,
  location: string,
  config: Record<string, string>,
  options: DuckdbWarehouseOptions,
): Promise<Database> {
  if (key !== undefined) await Deno.mkdir(dirname(location), { recursive: true });
  const instance = await createWaiting(location, config, options);
  const abandoned: Promise<void>[] = [];
  try {
    const setup = await instance.connect();
    try {
      await setup.run("SET GLOBAL TimeZone = 'UTC'");
      const build = await readBuild(setup);
      const repository = options.extensionRepository;
      // Plain `INSTALL x` in user SQL then looks in a local folder, never on the network.
      const installFrom = options.allowDownloads ? repository : (
        repository !== undefined && !/^https?:/i.test(repository)
          ? repository
          : `${build.extensionDirectory}/offline-no-repository`
      );
      if (installFrom !== undefined) {
        await setup.run(`SET GLOBAL custom_extension_repository = ${sqlString(installFrom)}`);
      }
      const notice = options.onNotice ?? ((message: string) => console.error(message));
      const extensions = await prepareExtensions(setup, options.extensions ?? [], {
        repository,
        allowDownloads: options.allowDownloads ?? false,
        downloadTimeoutMs: options.downloadTimeoutMs ?? 30_000,
        connect: () => instance.connect(),
        abandon: (disconnected) =>
          abandoned.push(disconnected.catch((error) =>
            notice(
              `warehouse ${location}: the connection of an extension download abandoned at ` +
                `open did not disconnect (${duckdbMessage(error)}); the file stays open ` +
                "until this process exits.",
            )
          )),
      }, build);
      for (const status of extensions) {
        if (status.available) continue;
        notice(
          `warehouse ${location}: DuckDB extension '${status.name}' is not available (${status.detail}). ` +
            `Queries that need it will fail. ${extensionAdvice(build, status.name)}.`,
        );
      }
      const accessMode = Object.entries(config).find(([k]) => k.toLowerCase() === "access_mode");
      return {
        key,
        instance,
        writeLock: new WriteLock(),
        build,
        extensions,
        signature: signatureOf(config, options),
        readOnly: accessMode?.[1].toLowerCase() === "read_only",
        abandoned,
        refs: key === undefined ? 1 : 0,
        closed: false,
      };
    } finally {
      setup.disconnectSync();
    }
  } catch (error) {
    closeAfter(key, instance, abandoned);
    throw unreachable({ location }, new Error(duckdbMessage(error)), "open");
  }
}

const LOCK_HELD = /Could not set lock on file .*Conflicting lock is held in .*\(PID (\d+)\)/s;
const BAD_SETTING =
  /unrecognized configuration|not recognized|Invalid Input Error: .*(option|setting)|Could not find/i;

async function createWaiting(
  location: string,
  config: Record<string, string>,
  options: DuckdbWarehouseOptions,
): Promise<DuckDBInstance> {
  const timeoutMs = options.lockTimeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  let announced = false;
  while (true) {
    try {
      return await DuckDBInstance.create(location, config);
    } catch (error) {
      const message = duckdbMessage(error);
      const held = LOCK_HELD.exec(message);
      if (!held) {
        if (BAD_SETTING.test(message)) throw invalidSetting(location, message);
        throw unreachable({ location }, new Error(message), "open");
      }
      const pid = Number(held[1]);
      if (!announced) {
        announced = true;
        (options.onLockWait ?? ((m: string) => console.error(m)))(
          `waiting for the warehouse (held by pid ${pid} at ${location})`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new WarehouseLockedError(
          `Cannot open the warehouse: still held after ${Math.round(timeoutMs / 1000)} s ` +
            `(pid ${pid}, database file ${location}). Stop that process, or open the file ` +
            "read-only (access_mode=read_only) from every process that only reads.",
          location,
          pid,
        );
      }
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(options.lockPollMs ?? 250, left))
      );
    }
  }
}

/** Query keys of a `duckdb:` URL that are options of the warehouse, not DuckDB settings. */
const URL_OPTIONS = new Set([
  "extensions",
  "extension_repository",
  "allow_downloads",
  "download_timeout_ms",
  "max_connections",
]);

/**
 * Parses `duckdb:<path>[?key=value&...]` (also `duckdb://<path>`) into a path
 * and options: `extensions` (comma-separated), `extension_repository`,
 * `allow_downloads`, `download_timeout_ms`, `max_connections`; every other key
 * is a DuckDB setting (`threads`, `memory_limit`, `access_mode`, ...).
 *
 * @example
 * ```ts
 * import { parseDuckdbUrl } from "./duckdb.ts";
 * const { path, options } = parseDuckdbUrl("duckdb:.state/wh.duckdb?threads=2&extensions=spatial");
 * console.log(path, options.settings, options.extensions); // .state/wh.duckdb { threads: "2" } [ "spatial" ]
 * ```
 */
export function parseDuckdbUrl(url: string): { path: string; options: DuckdbWarehouseOptions } {
  if (!url.startsWith("duckdb:")) {
    throw invalidSetting(url, "expected duckdb:<path> or duckdb::memory:");
  }
  let rest = url.slice("duckdb:".length);
  if (rest.startsWith("//")) rest = rest.slice(2);
  const question = rest.indexOf("?");
  const path = question < 0 ? rest : rest.slice(0, question);
  if (path.length === 0) {
    throw invalidSetting(url, `expected duckdb:<path> or duckdb:${DUCKDB_MEMORY}`);
  }
  const options: DuckdbWarehouseOptions = {};
  const settings: Record<string, string> = {};
  const query = new URLSearchParams(question < 0 ? "" : rest.slice(question + 1));
  for (const [key, value] of query) {
    const name = key.toLowerCase();
    if (!URL_OPTIONS.has(name)) {
      settings[key] = value;
      continue;
    }
    switch (name) {
      case "extensions":
        options.extensions = value.split(",").map((e) => e.trim()).filter((e) => e.length > 0);
        break;
      case "extension_repository":
        options.extensionRepository = value;
        break;
      case "allow_downloads":
        if (!/^(true|false)$/i.test(value)) {
          throw invalidSetting(url, "allow_downloads must be true or false");
        }
        options.allowDownloads = value.toLowerCase() === "true";
        break;
      case "download_timeout_ms":
      case "max_connections": {
        const n = Number(value);
        if (!Number.isInteger(n) || n < 1) {
          throw invalidSetting(url, `${name} must be a positive integer`);
        }
        if (name === "max_connections") options.maxConnections = n;
        else options.downloadTimeoutMs = n;
        break;
      }
    }
  }
  if (Object.keys(settings).length > 0) options.settings = settings;
  return { path, options };
}
