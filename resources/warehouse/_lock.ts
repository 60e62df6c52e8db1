/**
 * A pid lock file: PGlite's data dir must be opened by one process at a time,
 * and PGlite itself does not check.
 *
 * The lock is a file created exclusively (`createNew`) holding the owner's pid,
 * host and a random token. A lock whose pid is dead on this host is stale and
 * taken over; a live one is waited for, up to a timeout.
 *
 * @module
 */

import { WarehouseLockedError } from "./errors.ts";

/** Options of {@linkcode acquireLock}. */
export interface LockOptions {
  /** Give up after this many milliseconds of waiting for a live holder. */
  readonly timeoutMs: number;
  /** Look again this often while waiting. */
  readonly pollMs: number;
  /** Told once when the lock is held by another live process. */
  readonly onWait: (message: string) => void;
}

/** A held lock; `release()` removes the file if it is still ours. */
export interface FileLock {
  /** The lock file. */
  readonly path: string;
  /** Removes the lock file when it still holds our token. Safe to call twice. */
  release(): Promise<void>;
}

interface Holder {
  readonly pid: number;
  readonly hostname: string;
  readonly token: string;
}

/** A file being written this recently may just be half-written by its creator. */
const GARBLED_GRACE_MS = 10_000;

/** Takes the lock at `path`, waiting for a live holder and taking over a dead one. */
export async function acquireLock(path: string, options: LockOptions): Promise<FileLock> {
  const me: Holder = { pid: Deno.pid, hostname: hostname(), token: crypto.randomUUID() };
  const deadline = Date.now() + options.timeoutMs;
  let announced = false;
  while (true) {
    if (await tryCreate(path, me)) return heldLock(path, me.token);
    const raw = await readText(path);
    if (raw === undefined) continue; // released between our two calls
    const holder = parseHolder(raw);
    if (holder?.pid === me.pid && holder.hostname === me.hostname) {
      throw lockedError(path, holder.pid, "it is already open in this process");
    }
    if (await isStale(path, holder, me.hostname)) {
      await takeOver(path, raw);
      continue;
    }
    if (!announced) {
      announced = true;
      options.onWait(`waiting for the warehouse (held by pid ${holder?.pid ?? "?"} at ${path})`);
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const seconds = Math.round(options.timeoutMs / 1000);
      throw lockedError(path, holder?.pid, `still held after ${seconds} s`);
    }
    await sleep(Math.min(options.pollMs, left));
  }
}

function lockedError(path: string, pid: number | undefined, why: string): WarehouseLockedError {
  return new WarehouseLockedError(
    `Cannot open the warehouse: ${why} (pid ${pid ?? "unknown"}, lock file ${path}). ` +
      "Stop that process, or delete the lock file if no such process runs.",
    path,
    pid,
  );
}

async function tryCreate(path: string, me: Holder): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { write: true, createNew: true });
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  }
  try {
    await file.write(new TextEncoder().encode(JSON.stringify(me)));
  } finally {
    file.close();
  }
  return true;
}

function heldLock(path: string, token: string): FileLock {
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      const holder = parseHolder(await readText(path) ?? "");
      if (holder?.token === token) await Deno.remove(path).catch(ignoreNotFound);
    },
  };
}

async function isStale(path: string, holder: Holder | undefined, host: string): Promise<boolean> {
  if (!holder) return await olderThan(path, GARBLED_GRACE_MS);
  if (holder.hostname !== host) return false; // another machine's pid says nothing here
  return !(await processAlive(holder.pid));
}

/**
 * Moves the stale file aside before deleting it, so that two processes taking
 * over at once cannot delete each other's fresh lock: only the one whose move
 * caught the stale content deletes; a fresh lock caught by mistake is put back.
 */
async function takeOver(path: string, staleContent: string): Promise<void> {
  const aside = `${path}.stale-${Deno.pid}-${crypto.randomUUID()}`;
  try {
    await Deno.rename(path, aside);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return;
    throw error;
  }
  if (await readText(aside) !== staleContent) {
    await Deno.link(aside, path).catch(() => {}); // fails only if someone re-locked already
  }
  await Deno.remove(aside).catch(ignoreNotFound);
}

/** Whether `pid` runs (a zombie does not count). Uses /proc, else `kill -0`. */
async function processAlive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound && await exists("/proc/self/stat")) return false;
  }
  const out = await new Deno.Command("kill", { args: ["-0", String(pid)], stderr: "piped" })
    .output();
  return out.success || !/no such process/i.test(new TextDecoder().decode(out.stderr));
}

function parseHolder(raw: string): Holder | undefined {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== "object" || value === null) return undefined;
    const { pid, hostname, token } = value as Record<string, unknown>;
    if (typeof pid !== "number" || typeof hostname !== "string" || typeof token !== "string") {
      return undefined;
    }
    return { pid, hostname, token };
  } catch {
    return undefined; // empty or half-written
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

async function olderThan(path: string, ms: number): Promise<boolean> {
  try {
    const { mtime } = await Deno.stat(path);
    return mtime !== null && Date.now() - mtime.getTime() > ms;
  } catch {
    return false; // gone: the next attempt will create it
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return ""; // without --allow-sys every holder looks local, which is the common case
  }
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
