/**
 * Creating a new PGlite data dir in a child process. PGlite runs initdb in
 * WASM, which peaks at 600-750 MiB of memory (measured: a brand-new data
 * dir took a `dbt build` of jaffle_shop from a 256 MiB process peak, on an
 * existing dir, to 832 MiB). In a short-lived child that memory is given
 * back when it exits and never counts in the long-running process's peak;
 * a worker would not help (same process). The parent then opens the finished
 * dir as it opens any existing one.
 *
 * Where no child can be started (no `--allow-run`, or a `deno compile`d
 * binary, which cannot run this file), the dir is created in this process.
 *
 * **Crash safety.** initdb writes into a staging folder next to the data dir
 * (`<dir>.creating-<id>`), which is renamed to the data dir only once
 * complete, so the data dir either does not exist or is whole. This matters
 * because a process killed with -9 while its child runs initdb leaves that
 * child running, an orphan still writing: when it wrote into the data dir
 * itself, the next open (taking over the dead process's lock) ran initdb
 * again in the same folder, and the orphan's later writes replaced the
 * catalog of a warehouse already in use (tables written meanwhile were gone),
 * or the two initdb runs failed each other. Staging folders left by a killed
 * creation are removed by the next creation, which runs under the warehouse
 * lock.
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import { basename, dirname, resolve } from "node:path";
import { toError } from "../../core/errors.ts";
import { npmCacheDir } from "../permissions.ts";

/** What a staging folder's name adds to the data dir's name. */
const STAGING = ".creating-";

/**
 * Names a folder made by Postgres's initdb holds (PostgreSQL 15-17): a folder
 * holding only these is a creation that was cut short, safe to remove.
 */
const DATA_DIR_ENTRIES = new Set([
  "base",
  "global",
  "pg_commit_ts",
  "pg_dynshmem",
  "pg_hba.conf",
  "pg_ident.conf",
  "pg_logical",
  "pg_multixact",
  "pg_notify",
  "pg_replslot",
  "pg_serial",
  "pg_snapshots",
  "pg_stat",
  "pg_stat_tmp",
  "pg_subtrans",
  "pg_tblspc",
  "pg_twophase",
  "pg_wal",
  "pg_xact",
  "postgresql.auto.conf",
  "postgresql.conf",
  "postmaster.opts",
  "postmaster.pid",
]);

/** Whether `path` exists. */
async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return false;
    }
    throw error;
  }
}

/** Whether `location` holds a PGlite (Postgres) data dir already. */
export function isDataDir(location: string): Promise<boolean> {
  return exists(`${location}/PG_VERSION`);
}

/**
 * Creates the data dir `location` (initdb) in a child process, else in this
 * one, through a staging folder renamed into place when complete. Call it
 * holding the warehouse lock. A half-made dir is removed, so the next open
 * does not take it for a database. Throws with the child's error message.
 */
export async function createDataDir(location: string): Promise<void> {
  await removeStaging(location);
  await removeHalfMade(location);
  const staging = `${location}${STAGING}${crypto.randomUUID().slice(0, 8)}`;
  try {
    if (!(await createInChild(staging))) await createHere(staging);
    await Deno.rename(staging, location);
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(ignoreNotFound);
  }
}

/** Removes the staging folders of creations that were killed (their orphans may still write). */
async function removeStaging(location: string): Promise<void> {
  const prefix = `${basename(location)}${STAGING}`;
  let entries: Deno.DirEntry[];
  try {
    entries = await Array.fromAsync(Deno.readDir(dirname(location)));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  for (const entry of entries) {
    if (!entry.isDirectory || !entry.name.startsWith(prefix)) continue;
    // An orphan still writing can make a removal fail; the next creation tries again.
    await Deno.remove(`${dirname(location)}/${entry.name}`, { recursive: true }).catch(() => {});
  }
}

/**
 * Removes `location` when it is an empty folder or a data dir whose creation
 * was cut short (made in place by an earlier version); refuses a folder that
 * holds anything else, so a user's files are never taken for a database or
 * deleted.
 */
async function removeHalfMade(location: string): Promise<void> {
  let names: string[];
  try {
    names = (await Array.fromAsync(Deno.readDir(location))).map((entry) => entry.name);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  const foreign = names.filter((name) => !DATA_DIR_ENTRIES.has(name));
  if (foreign.length > 0) {
    throw new Error(
      `'${location}' is not empty and is not a PGlite data dir (it holds ${
        foreign.slice(0, 3).map((name) => `'${name}'`).join(", ")
      }${foreign.length > 3 ? ", ..." : ""}): point WAREHOUSE_URL at a new or empty folder`,
    );
  }
  await Deno.remove(location, { recursive: true });
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}

async function createHere(location: string): Promise<void> {
  const db = await PGlite.create(location);
  await db.close();
}

/** Runs this module as a child for `location`; false when no child can be started here. */
async function createInChild(location: string): Promise<boolean> {
  // In a compiled binary Deno.execPath() is the binary (the platform's CLI), not deno, and
  // deno.json is not among its files: the data dir is made in this process.
  if (Deno.build.standalone) return false;
  const self = new URL(import.meta.url);
  const config = new URL("../../deno.json", import.meta.url);
  if (self.protocol !== "file:" || !(await exists(config.pathname))) return false;
  const deno = Deno.execPath();
  if ((await Deno.permissions.query({ name: "run", command: deno })).state !== "granted") {
    return false;
  }
  // The child gets what initdb needs and no more: PGlite's files in the npm
  // cache, the new data dir; no network, no subprocess.
  const dir = resolve(location);
  const child = new Deno.Command(deno, {
    args: [
      "run",
      "--no-prompt",
      `--allow-read=${dir},${npmCacheDir(Deno.env)},${new URL("../..", import.meta.url).pathname}`,
      `--allow-write=${dir}`,
      "--config",
      config.pathname,
      self.pathname,
      dir,
    ],
    stdout: "null",
    stderr: "piped",
    stdin: "null",
  });
  const out = await child.output();
  if (!out.success) {
    const message = new TextDecoder().decode(out.stderr).trim().split("\n").at(-1) ?? "";
    // The child's last line is what it threw; PGlite's file-system errors are
    // JSON `{"name":"ErrnoError","errno":51}`: kept as the cause, so a full disk
    // is told as such (see lastingFailure).
    throw new Error(`initdb in a child process failed (exit ${out.code}): ${message}`, {
      cause: parsedOrText(message),
    });
  }
  return true;
}

function parsedOrText(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch {
    return line; // not JSON: the text is the cause
  }
}

if (import.meta.main) {
  try {
    await createHere(Deno.args[0] ?? "");
  } catch (error) {
    console.error(toError(error).message);
    Deno.exit(1);
  }
}
