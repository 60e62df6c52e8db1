/**
 * DuckDB extensions for the warehouse: which ones a database can use here,
 * made available at open without ever hanging on a download.
 *
 * The npm build of DuckDB carries `parquet`, `json`, `icu` and
 * `core_functions` built in; every other extension (`httpfs`, `spatial`,
 * ...) is a file DuckDB downloads from its extension repository on first
 * use. Offline that download cannot happen, and on a black-holed network it
 * would wait on a socket. So the warehouse:
 *
 * - turns DuckDB's automatic install off (`autoinstall_known_extensions`),
 *   keeps automatic loading of extensions already on disk, and points plain
 *   `INSTALL x` statements at a local folder, so that nothing in a query
 *   reaches the network;
 * - at open, makes each requested extension available from, in order: the
 *   build, the extension directory, a local repository folder
 *   (`extension_repository`), and only when `allow_downloads` is set, the
 *   network, bounded by `download_timeout_ms`;
 * - reports every requested extension it could not make available, naming
 *   where it looked and how to provide it, instead of failing the open: a
 *   query that needs the extension then fails with the same advice.
 *
 * @module
 */

import type { DuckDBConnection } from "@duckdb/node-api";
import { duckdbMessage } from "./_duckdb_errors.ts";

/** How a requested extension stands after open. */
export interface ExtensionStatus {
  /** Extension name, e.g. `spatial`. */
  readonly name: string;
  /** Whether it is loaded and usable. */
  readonly available: boolean;
  /** How it was made available, or why it is not (names the places looked at). */
  readonly detail: string;
}

/** Where extensions may come from; see the module doc. */
export interface ExtensionSources {
  /** A local folder laid out as a DuckDB extension repository, or an http(s) URL. */
  readonly repository: string | undefined;
  /** Whether the network may be used (DuckDB's repository, or an http(s) `repository`). */
  readonly allowDownloads: boolean;
  /** Longest wait for one download, in milliseconds. */
  readonly downloadTimeoutMs: number;
  /** Opens a connection of its own for a download. */
  readonly connect: () => Promise<DuckDBConnection>;
  /**
   * Told of a download abandoned at its time-out: `disconnected` settles once
   * its native call has returned and its connection is disconnected. The
   * instance must stay open until then (see {@linkcode install}).
   */
  readonly abandon: (disconnected: Promise<void>) => void;
}

/** Facts about the running DuckDB that extension paths and advice depend on. */
export interface DuckdbBuild {
  /** e.g. `v1.5.5`. */
  readonly version: string;
  /** e.g. `linux_amd64`. */
  readonly platform: string;
  /** The extension directory in force (DuckDB's default when not set). */
  readonly extensionDirectory: string;
}

/** Extension names as DuckDB spells them; anything else never reaches SQL. */
export const EXTENSION_NAME = /^[a-z][a-z0-9_]{0,63}$/;

/** Reads version, platform and extension directory from a connection. */
export async function readBuild(connection: DuckDBConnection): Promise<DuckdbBuild> {
  const reader = await connection.runAndReadAll(
    "SELECT version() AS version, (SELECT platform FROM pragma_platform()) AS platform, " +
      "current_setting('extension_directory') AS dir",
  );
  const [version, platform, dir] = (reader.getRows()[0] ?? []).map(String) as [
    string,
    string,
    string,
  ];
  const home = Deno.env.get("HOME") ?? "~";
  return { version, platform, extensionDirectory: dir || `${home}/.duckdb/extensions` };
}

/** Where DuckDB looks for an installed extension file. */
export function installedPath(build: DuckdbBuild, name: string): string {
  return `${build.extensionDirectory}/${build.version}/${build.platform}/${name}.duckdb_extension`;
}

/** How to make a missing extension available here, in one sentence. */
export function extensionAdvice(build: DuckdbBuild, name: string): string {
  return `DuckDB's '${name}' extension is not available here and is never downloaded ` +
    `implicitly; on a machine with network run \`INSTALL ${name}\` in DuckDB ${build.version} ` +
    `(${build.platform}) and copy ${name}.duckdb_extension to ` +
    `${build.extensionDirectory}/${build.version}/${build.platform}/, or set ` +
    "extension_repository=<folder> (or allow_downloads=true) in WAREHOUSE_URL";
}

/** A SQL string literal. */
export function sqlString(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

interface Known {
  readonly loaded: boolean;
  readonly installed: boolean;
  readonly path: string;
}

/** Makes each of `names` available if it can; never throws for a missing one. */
export async function prepareExtensions(
  connection: DuckDBConnection,
  names: readonly string[],
  sources: ExtensionSources,
  build: DuckdbBuild,
): Promise<ExtensionStatus[]> {
  const statuses: ExtensionStatus[] = [];
  for (const name of new Set(names)) {
    statuses.push(await prepareOne(connection, name, sources, build));
  }
  return statuses;
}

async function known(connection: DuckDBConnection, name: string): Promise<Known | undefined> {
  const reader = await connection.runAndReadAll(
    "SELECT loaded, installed, coalesce(install_path, '') FROM duckdb_extensions() " +
      "WHERE extension_name = $1",
    [name],
  );
  const row = reader.getRows()[0];
  if (!row) return undefined;
  return { loaded: row[0] === true, installed: row[1] === true, path: String(row[2]) };
}

async function prepareOne(
  connection: DuckDBConnection,
  name: string,
  sources: ExtensionSources,
  build: DuckdbBuild,
): Promise<ExtensionStatus> {
  const before = await known(connection, name);
  if (before?.loaded) {
    const how = before.path === "(BUILT-IN)" ? "built in" : `loaded from ${before.path}`;
    return { name, available: true, detail: how };
  }
  const tried: string[] = [];
  if (before?.installed) {
    const loaded = await attempt(connection, `LOAD ${name}`);
    if (loaded === undefined) {
      return { name, available: true, detail: `loaded from ${before.path}` };
    }
    tried.push(`installed at ${before.path} but cannot be loaded: ${loaded}`);
  } else tried.push(`not installed in ${installedPath(build, name).replace(/\/[^/]+$/, "")}`);

  const repository = sources.repository;
  if (repository !== undefined) {
    const remote = /^https?:\/\//i.test(repository);
    if (remote && !sources.allowDownloads) {
      tried.push(`not fetched from ${repository}: downloads are off (allow_downloads=false)`);
    } else {
      const result = await install(connection, name, repository, sources, remote);
      if (result === undefined) {
        return { name, available: true, detail: `installed from ${repository}` };
      }
      tried.push(`not made available from ${repository}: ${result}`);
    }
  }
  if (sources.allowDownloads && repository === undefined) {
    const result = await install(connection, name, undefined, sources, true);
    if (result === undefined) {
      return { name, available: true, detail: "downloaded from DuckDB's repository" };
    }
    tried.push(`not downloaded: ${result}`);
  } else if (!sources.allowDownloads) {
    tried.push("downloads are off (offline)");
  }
  if (before === undefined && repository === undefined) {
    tried.unshift("not an extension this DuckDB knows");
  }
  return { name, available: false, detail: tried.join("; ") };
}

/**
 * Runs `INSTALL` then `LOAD`; undefined on success. An install that may use
 * the network runs on a connection of its own, bounded in time: on time-out
 * that connection is interrupted and abandoned (its native call may finish
 * later, its outcome ignored), so the open goes on. An abandoned connection
 * is disconnected once its call returns (not before: the call still uses it),
 * and handed to `sources.abandon`: left open, it kept the instance, and its
 * lock on the file, alive after the warehouse's last close, beside the next
 * instance this process opened on the file (the two-instances crash class).
 */
async function install(
  connection: DuckDBConnection,
  name: string,
  repository: string | undefined,
  sources: ExtensionSources,
  network: boolean,
): Promise<string | undefined> {
  const from = repository === undefined ? "" : ` FROM ${sqlString(repository)}`;
  const sql = `INSTALL ${name}${from}`;
  let problem: string | undefined;
  if (network) {
    const side = await sources.connect();
    const work = attempt(side, sql);
    const outcome = await withDeadline(work, sources.downloadTimeoutMs, () => {
      side.interrupt();
    });
    if (outcome.timedOut) sources.abandon(work.then(() => side.disconnectSync()));
    else side.disconnectSync();
    problem = outcome.problem;
  } else problem = await attempt(connection, sql);
  if (problem !== undefined) return problem;
  const loading = await attempt(connection, `LOAD ${name}`);
  return loading === undefined ? undefined : `installed, but cannot be loaded: ${loading}`;
}

/** Runs a statement; the error message on failure, undefined on success. */
async function attempt(connection: DuckDBConnection, sql: string): Promise<string | undefined> {
  try {
    await connection.run(sql);
    return undefined;
  } catch (error) {
    return duckdbMessage(error);
  }
}

/** What {@linkcode withDeadline} saw: the work's outcome, or its time-out. */
interface Deadlined {
  readonly timedOut: boolean;
  /** The work's error message, or the time-out's; undefined on success. */
  readonly problem: string | undefined;
}

/**
 * Waits for `work` at most `ms`. On time-out it asks DuckDB to stop
 * (`interrupt`) and returns a message; the native call may still finish in
 * the background, and its outcome is then ignored.
 */
async function withDeadline(
  work: Promise<string | undefined>,
  ms: number,
  interrupt: () => void,
): Promise<Deadlined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<Deadlined>((resolve) => {
    timer = setTimeout(() => {
      try {
        interrupt();
      } catch {
        // nothing more can be done; the message below says what happened
      }
      resolve({ timedOut: true, problem: `no answer within ${ms} ms (download_timeout_ms)` });
    }, ms);
  });
  try {
    return await Promise.race([work.then((problem) => ({ timedOut: false, problem })), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
