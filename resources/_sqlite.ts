/**
 * SQLite as the project uses it: one way to open a database file, and one
 * way to write to it. Three uses, one opener ({@linkcode OpenSqliteOptions.mode}):
 *
 * - `shared` (the embedded stores: run store, ledger): a file several
 *   processes read and write for a long time;
 * - `read` (the spatial code reading a GeoPackage GDAL wrote): opened
 *   read-only, nothing about the file changed (no journal switch), so the
 *   file stays exactly as its writer left it;
 * - `scratch` (a work file one process fills and closes before anything else
 *   reads it, e.g. a PostGIS table dumped for the GeoParquet writer): the
 *   rollback journal in memory and no sync, since a crash throws the whole
 *   folder away anyway (`journal_mode = OFF` is refused by Deno's SQLite,
 *   which runs in defensive mode).
 *
 * For `shared`:
 *
 * - **WAL** lets readers go on while one process writes;
 * - **`busy_timeout`** makes a writer wait for another process's lock instead
 *   of failing at once with `SQLITE_BUSY` (it is set first: switching to WAL
 *   and creating tables need the lock too);
 * - **`BEGIN IMMEDIATE`** takes the write lock when the transaction starts:
 *   a deferred transaction that upgrades from read to write can fail with
 *   `SQLITE_BUSY` without waiting, and a read-then-write must be atomic.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { basename, dirname } from "node:path";
import { lastingFailure, toError } from "../core/errors.ts";
import { lowOnSpace } from "./_space_reserve.ts";

/** Options of {@linkcode openSqlite}. */
export interface OpenSqliteOptions {
  /**
   * How long a write waits for another connection's lock, in milliseconds.
   * @default {5000}
   */
  readonly busyTimeoutMs?: number;
  /**
   * `PRAGMA synchronous`: `NORMAL` is durable across process crashes in WAL
   * mode (only a power loss can lose the last commits), `FULL` also across those.
   * @default {"FULL"}
   */
  readonly synchronous?: "NORMAL" | "FULL";
  /** Runs once the pragmas are set, before the database is returned (schema, migration). */
  readonly setup?: (db: DatabaseSync) => void;
  /**
   * What the file is for (see the module doc): `shared` (WAL, busy timeout,
   * `synchronous`), `read` (an existing file, read-only, left untouched) or
   * `scratch` (a work file: journal in memory, no sync).
   * @default {"shared"}
   */
  readonly mode?: "shared" | "read" | "scratch";
}

/**
 * Opens (and creates, with its folder) the database at `path` in WAL mode
 * with a busy timeout; `:memory:` and `file:` URIs are passed through. With
 * `mode: "read"` the file must exist and is opened read-only; with
 * `mode: "scratch"` its journal is in memory and it is never synced. The database is closed
 * again when a pragma or `setup` throws, and the error is rethrown as is
 * (callers wrap it in their own typed error).
 *
 * @example
 * ```ts
 * import { openSqlite } from "./_sqlite.ts";
 * const db = openSqlite(":memory:", { setup: (db) => db.exec("CREATE TABLE t (x)") });
 * db.close();
 * ```
 */
export function openSqlite(path: string, options: OpenSqliteOptions = {}): DatabaseSync {
  const busy = options.busyTimeoutMs ?? 5000;
  if (!Number.isInteger(busy) || busy < 0) {
    throw new RangeError(`Cannot open SQLite '${path}': busyTimeoutMs must be an integer >= 0`);
  }
  const mode = options.mode ?? "shared";
  if (mode !== "read" && path !== ":memory:" && !path.startsWith("file:")) {
    Deno.mkdirSync(dirname(path), { recursive: true });
  }
  if (mode === "shared") refuseCutFile(path);
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(path, { readOnly: mode === "read" });
    db.exec(`PRAGMA busy_timeout = ${busy}`);
    if (mode === "shared") {
      setWal(db, busy);
      db.exec(`PRAGMA synchronous = ${options.synchronous ?? "FULL"}`);
    } else if (mode === "scratch") {
      db.exec("PRAGMA journal_mode = MEMORY");
      db.exec("PRAGMA synchronous = OFF");
    }
    options.setup?.(db);
    return db;
  } catch (error) {
    if (db?.isOpen) db.close(); // e.g. the file is not a database: release it
    throw error;
  }
}

/**
 * How long a file another process is creating may stay at zero bytes: SQLite
 * makes the file at open and writes its first page when the journal is
 * switched to WAL, microseconds later; older than this, zero bytes is a cut file.
 */
const CREATING_MS = 10_000;

/**
 * A store file that is empty (0 bytes), which SQLite would open as a new
 * empty database: a `shared` file is never left empty once made, so it was
 * cut (a full disk, a copy that failed, `> runs.db`) and its runs or
 * documents are gone. Reported as damaged (SQLITE_NOTADB), so it is not retried.
 */
export class SqliteFileCutError extends Error {
  /** Stable code. */
  readonly code = "sqlite.empty_file";
  /** SQLite's SQLITE_NOTADB, so {@linkcode sqliteOpenHint} calls the file damaged. */
  readonly errcode = 26;
  /** Builds the error for the file at `path`, last changed at `changed`. */
  constructor(path: string, changed: Date) {
    super(
      `the file is empty (0 bytes, last changed ${changed.toISOString()}), but a store is ` +
        `never left empty once made: it was cut (a full disk, a copy that failed, '> ${
          basename(path)
        }'), and what it held is gone. If it never held anything, delete it`,
    );
    this.name = "SqliteFileCutError";
  }
}

/** Throws {@linkcode SqliteFileCutError} for a zero-byte file not being created right now. */
function refuseCutFile(path: string): void {
  if (path === ":memory:" || path.startsWith("file:")) return;
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch {
    return; // missing (made now) or unreadable (the open says why)
  }
  if (!info.isFile || info.size !== 0 || !info.mtime) return;
  // Younger: another process opening a new store at the same time (two daemons started together).
  if (Date.now() - info.mtime.getTime() < CREATING_MS) return;
  throw new SqliteFileCutError(path, info.mtime);
}

/**
 * `PRAGMA journal_mode = WAL`, retried for up to `busyMs`: switching a new
 * file to WAL needs a lock that SQLite does not wait for through the busy
 * timeout, so two processes opening one new store at once (two daemons
 * started together) failed with "database is locked" about one time in six.
 */
function setWal(db: DatabaseSync, busyMs: number): void {
  const deadline = Date.now() + busyMs;
  for (let pause = 2;; pause = Math.min(pause * 2, 50)) {
    try {
      db.exec("PRAGMA journal_mode = WAL");
      return;
    } catch (error) {
      if (!/database is locked|SQLITE_BUSY/.test(String(error)) || Date.now() >= deadline) {
        throw error;
      }
      // openSqlite is synchronous: block this thread briefly, as the busy handler would.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pause);
    }
  }
}

/**
 * Runs `work` in a `BEGIN IMMEDIATE` transaction: committed when it returns,
 * rolled back when it throws (the original error is rethrown; SQLite may
 * already have rolled back itself, e.g. on `SQLITE_FULL`).
 *
 * @example
 * ```ts
 * import { immediateTransaction, openSqlite } from "./_sqlite.ts";
 * const db = openSqlite(":memory:");
 * db.exec("CREATE TABLE t (x)");
 * immediateTransaction(db, () => db.exec("INSERT INTO t VALUES (1)"));
 * db.close();
 * ```
 */
export function immediateTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec("BEGIN IMMEDIATE");
  try {
    const result = work();
    db.exec("COMMIT");
    return result;
  } catch (error) {
    if (db.isTransaction) db.exec("ROLLBACK");
    throw error;
  }
}

/**
 * What a person can do about a database file that does not open, from
 * SQLite's error: a damaged file (or one that is not SQLite) is moved aside,
 * a full disk is freed, an unwritable folder is made writable, the process
 * holding a lock past the wait is found. Empty when
 * the error says nothing a hint could add to.
 *
 * @example
 * ```ts
 * import { sqliteOpenHint } from "./_sqlite.ts";
 * sqliteOpenHint(new Error("file is not a database")); // "the file is damaged or ..."
 * ```
 */
export function sqliteOpenHint(error: unknown): string {
  switch (sqliteOpenFailure(error)) {
    case "damaged":
      return "the file is damaged or is not a SQLite database: move it aside (a new one is made " +
        "at the next start) or put back a copy from a backup";
    case "full":
      return "free some space on its disk";
    case "unwritable":
      return "check that the file and its folder are writable";
    case "locked":
      return "another process has held a lock on it for longer than the wait (a long write, " +
        "or a program such as the sqlite3 shell left in a transaction): let it finish or " +
        "stop it (`fuser` on the file names it), then try again";
    default:
      return "";
  }
}

/**
 * Whether a database file that does not open needs a person to fix it
 * (damaged, not SQLite, not writable): trying again minutes later, as an
 * asset's retry policy would, only delays the report.
 */
export function sqliteOpenNeedsAPerson(error: unknown): boolean {
  const kind = sqliteOpenFailure(error);
  return kind === "damaged" || kind === "unwritable";
}

/**
 * Whether opening or writing the database at `path` failed for want of disk
 * space: SQLite says so (SQLITE_FULL), or says only "disk I/O error"
 * (SQLITE_IOERR: a full disk met while making or mapping `-shm`) on a disk
 * that has no room left.
 */
export function sqliteDiskFull(error: unknown, path: string): boolean {
  if (lastingFailure(error) === "disk_full") return true;
  if (path === ":memory:" || path.startsWith("file:")) return false;
  const code = (error as { errcode?: unknown } | null)?.errcode;
  const io = typeof code === "number"
    ? (code & 0xff) === 10
    : /disk I\/O error/i.test(toError(error).message);
  return io && lowOnSpace(path);
}

function sqliteOpenFailure(
  error: unknown,
): "damaged" | "full" | "unwritable" | "locked" | undefined {
  const text = toError(error).message;
  const code = (error as { errcode?: unknown } | null)?.errcode;
  // SQLITE_NOTADB (26), SQLITE_CORRUPT (11).
  if (code === 26 || code === 11 || /not a database|malformed|corrupt/i.test(text)) {
    return "damaged";
  }
  // SQLITE_FULL (13).
  if (code === 13 || /disk is full|no space/i.test(text)) return "full";
  if (/readonly|read-only|permission|unable to open|access/i.test(text)) return "unwritable";
  // SQLITE_BUSY (5), SQLITE_LOCKED (6), with or without extended codes.
  if (
    (typeof code === "number" && ((code & 0xff) === 5 || (code & 0xff) === 6)) ||
    /database is locked|database table is locked/i.test(text)
  ) return "locked";
  return undefined;
}
