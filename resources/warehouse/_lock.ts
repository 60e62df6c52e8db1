/**
 * The PGlite data dir lock: the data dir must be opened by one process at a
 * time, and PGlite itself does not check.
 *
 * The lock is an exclusive `flock(2)` on `<dir>.lock`, held by an open file
 * for as long as the warehouse is open ({@linkcode Deno.FsFile.tryLock}, as
 * `resources/_owned_folders.ts` does). The kernel lets it go when the holder
 * dies, however it dies, so nobody judges whether a holder still lives: the
 * earlier lock, a file naming its holder's host and pid, took a dead
 * holder's recycled pid for a live one (waiting for an unrelated process),
 * and another container's lock (same volume, another pid namespace or host
 * name) for one it could say nothing about, so after a `kill -9` there the
 * warehouse stayed locked until someone deleted the file. The file's text
 * (pid, host, since when) is only there to name the holder to those who wait.
 *
 * The file is never deleted: a process that opened it just before a delete
 * would lock the deleted file while another locks a new one, both "holding"
 * the warehouse.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { WarehouseLockedError } from "./errors.ts";

/** Options of {@linkcode acquireLock}. */
export interface LockOptions {
  /** Give up after this many milliseconds of waiting for the holder. */
  readonly timeoutMs: number;
  /** Look again this often while waiting. */
  readonly pollMs: number;
  /** Told once when the lock is held by another process. */
  readonly onWait: (message: string) => void;
}

/** A held lock; `release()` lets it go. */
export interface FileLock {
  /** The lock file. */
  readonly path: string;
  /** Lets the lock go (the file stays, emptied). Safe to call twice. */
  release(): Promise<void>;
}

/** Who holds a lock, as its holder wrote it: only for messages. */
interface Holder {
  readonly pid: number;
  readonly hostname: string;
}

/**
 * Lock files this process holds: a second open file of the same lock cannot
 * take it (flock is per open file), which would only wait for ourselves.
 */
const heldHere = new Set<string>();

/** Takes the lock at `path`, waiting for its holder up to `timeoutMs`. */
export async function acquireLock(path: string, options: LockOptions): Promise<FileLock> {
  const key = await lockKey(path);
  if (heldHere.has(key)) {
    throw lockedError(path, Deno.pid, "it is already open in this process");
  }
  heldHere.add(key);
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { read: true, write: true, create: true });
    const deadline = Date.now() + options.timeoutMs;
    let announced = false;
    while (!(await file.tryLock(true))) {
      const holder = parseHolder(await readText(path));
      if (!announced) {
        announced = true;
        options.onWait(
          `waiting for the warehouse (held by pid ${holder?.pid ?? "?"}${
            holder && holder.hostname !== hostname() ? ` on ${holder.hostname}` : ""
          } at ${path})`,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const seconds = Math.round(options.timeoutMs / 1000);
        throw lockedError(path, holder?.pid, `still held after ${seconds} s`);
      }
      await sleep(Math.min(options.pollMs, left));
    }
    // Ours now: name the holder for those who wait.
    await file.truncate(0);
    const me = { pid: Deno.pid, hostname: hostname(), since: new Date().toISOString() };
    await file.write(new TextEncoder().encode(JSON.stringify(me)));
  } catch (error) {
    file?.close(); // lets the lock go, if it was taken
    heldHere.delete(key);
    throw error;
  }
  return heldLock(path, key, file);
}

/**
 * The lock file's path with its folder's links resolved: the same data dir
 * reached through a symlink is the same lock (else this process would wait
 * for itself until the timeout).
 */
async function lockKey(path: string): Promise<string> {
  try {
    return join(await Deno.realPath(dirname(path)), basename(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return path; // opening it will say so
    throw error;
  }
}

function lockedError(path: string, pid: number | undefined, why: string): WarehouseLockedError {
  return new WarehouseLockedError(
    `Cannot open the warehouse: ${why} (pid ${pid ?? "unknown"}, lock file ${path}). ` +
      "Stop that process; the lock is the operating system's (flock), freed when it exits, " +
      "so deleting the file does not help.",
    path,
    pid,
  );
}

function heldLock(path: string, key: string, file: Deno.FsFile): FileLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      try {
        await file.truncate(0); // names nobody once let go
      } finally {
        file.close();
        heldHere.delete(key);
      }
    },
  };
}

function parseHolder(raw: string | undefined): Holder | undefined {
  try {
    const value: unknown = JSON.parse(raw ?? "");
    if (typeof value !== "object" || value === null) return undefined;
    const { pid, hostname } = value as Record<string, unknown>;
    if (typeof pid !== "number" || typeof hostname !== "string") return undefined;
    return { pid, hostname };
  } catch {
    return undefined; // empty (being written, or written by an older version)
  }
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return ""; // without --allow-sys every holder looks local, which is the common case
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
