/**
 * Temp folders owned by a lock, so that those of a process killed with
 * SIGKILL (no `finally`, no unload handler runs) can be removed by the next
 * process without ever removing a live process's folder. Used by both GDAL
 * engines (native GDAL's scratch folders and gdal3.js's shared folder, whose
 * intermediate files, a warped raster, a converted layer, a SpatiaLite
 * workspace, can be large) and by the local object store's journal of
 * temporary files (`object_store/_local_journal.ts`).
 *
 * The owner opens its folder and holds an exclusive `flock` on it for the
 * folder's whole life ({@linkcode Deno.FsFile.tryLock}: `flock(2)` with
 * `LOCK_EX|LOCK_NB` on Linux, checked with strace). The kernel drops the
 * lock when the owner dies, however it dies and whatever its pid namespace;
 * a second open file of the same folder, even in the owner's own process,
 * cannot take it, and closing one does not let the owner's go (fcntl locks
 * would do both). A janitor removes a folder only while it holds that lock
 * itself. Why not the owner's pid, as before: an owner judged from a pid
 * file and `/proc` is wrong for a process in another pid namespace, after
 * pid reuse, and while the pid file is still empty (just created, read as
 * pid 0, "dead"); the final CI of 2026-12-07 saw a live conversion lose its
 * scratch folder to that janitor (which of these it was was not pinned
 * down).
 *
 * A folder is made as `<prefix>XXXX.creating`, locked, then renamed to
 * `<prefix>XXXX.owned` (the lock stays with the folder): a janitor never
 * sees an `.owned` folder that is not locked yet. (Letting a janitor take
 * a new folder between `mkdir` and the lock, its maker making another, was
 * tried and dropped: with processes sweeping back to back at load 20-30, a
 * maker lost 8 folders in a row.) A `.creating` folder is empty; one left
 * by a process killed before its rename is removed once an hour old and
 * unlocked; younger ones are not even opened.
 *
 * Folders of the same prefix with neither suffix were made by versions that
 * held no lock (a pid file, or nothing), and are left alone, as a live
 * process of such a version cannot be told from a dead one.
 *
 * @module
 */

import path from "node:path";
import { toError } from "../core/errors.ts";

/** How the names of lock-owned folders end (older versions' folders do not). */
export const OWNED_SUFFIX = ".owned";
/** How the name of a folder being made ends, before its lock is taken. */
export const CREATING_SUFFIX = ".creating";
/** Age after which an unlocked `.creating` folder is a killed maker's (a make takes microseconds). */
export const CREATING_GRACE_MS = 60 * 60 * 1000;

/** Whether folders can be opened and locked (flock); not on Windows. */
const LOCKABLE = Deno.build.os !== "windows";

/** Attempts at a new folder (one fails only if a janitor removed it after an hour's stall). */
const CREATE_ATTEMPTS = 3;

/** A temp folder this process owns until {@linkcode OwnedFolder.remove}. */
export interface OwnedFolder {
  /** The folder's path. */
  readonly path: string;
  /** Removes the folder, then lets the lock go. */
  remove(): Promise<void>;
  /** {@linkcode OwnedFolder.remove}, synchronously (for `unload` handlers). */
  removeSync(): void;
}

/** The folder temp folders go to: Deno.makeTempDir's (TMPDIR, else /tmp). */
function tempParent(tempDir?: string): string {
  return tempDir ?? Deno.env.get("TMPDIR") ?? "/tmp";
}

/** Whether `dir` is still the folder `handle` has open (not removed, nor made anew). */
async function stillNames(dir: string, handle: Deno.FsFile): Promise<boolean> {
  const [named, held] = await Promise.all([
    Deno.stat(dir).catch((error) => {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }),
    handle.stat(),
  ]);
  return named !== undefined && named.ino === held.ino && named.dev === held.dev;
}

/**
 * Makes a folder `<tempDir>/<prefix>XXXX.owned`, locked before it gets that
 * name; the lock is held until the folder is removed or the process ends.
 */
export async function createOwnedFolder(prefix: string, tempDir?: string): Promise<OwnedFolder> {
  const parent = tempParent(tempDir);
  let lastError: unknown;
  for (let attempt = 0; attempt < CREATE_ATTEMPTS; attempt++) {
    const creating = await Deno.makeTempDir({ dir: parent, prefix, suffix: CREATING_SUFFIX });
    // Windows cannot open a folder to lock it: no janitor there removes one.
    if (!LOCKABLE) return unlockedFolder(creating);
    const dir = creating.slice(0, -CREATING_SUFFIX.length) + OWNED_SUFFIX;
    let handle: Deno.FsFile | undefined;
    try {
      handle = await Deno.open(creating, { read: true });
      // Blocking: only a janitor removing it after an hour's stall holds it, and
      // then the folder is gone once it has the lock.
      await handle.lock(true);
      if (await stillNames(creating, handle)) {
        await Deno.rename(creating, dir);
        return ownedFolder(dir, handle);
      }
    } catch (error) {
      // Removed by a janitor between the mkdir and the lock (only after an hour's stall).
      if (!(error instanceof Deno.errors.NotFound)) {
        handle?.close();
        throw error;
      }
      lastError = error;
    }
    handle?.close();
  }
  throw new Error(
    `Cannot make a temp folder under ${parent}: ${CREATE_ATTEMPTS} new folders ` +
      `were removed before they could be locked` +
      (lastError === undefined ? "" : ` (${toError(lastError).message})`),
  );
}

function unlockedFolder(dir: string): OwnedFolder {
  return {
    path: dir,
    remove: () => Deno.remove(dir, { recursive: true }),
    removeSync: () => Deno.removeSync(dir, { recursive: true }),
  };
}

function ownedFolder(dir: string, handle: Deno.FsFile): OwnedFolder {
  let open = true;
  const letGo = () => {
    if (open) handle.close();
    open = false;
  };
  return {
    path: dir,
    async remove() {
      try {
        await Deno.remove(dir, { recursive: true });
      } finally {
        // A folder not removed (e.g. a file held by another program) is the next janitor's.
        letGo();
      }
    },
    removeSync() {
      try {
        Deno.removeSync(dir, { recursive: true });
      } finally {
        letGo();
      }
    },
  };
}

/** Whether `dir` was last changed more than `ms` ago (false once it is gone). */
async function olderThan(dir: string, ms: number): Promise<boolean> {
  try {
    const { mtime } = await Deno.stat(dir);
    return mtime !== null && Date.now() - mtime.getTime() > ms;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Options of {@linkcode removeAbandonedFolders}. */
export interface RemoveOptions {
  /**
   * Runs on an abandoned folder before it is removed, under its lock (e.g.
   * to remove what it records). When it throws, the folder stays for the
   * next sweep.
   */
  beforeRemove?: (dir: string) => Promise<void>;
}

/**
 * Removes the folders under `tempDir` named `<prefix>…` + {@linkcode OWNED_SUFFIX}
 * whose lock nobody holds (their owner is gone), and `.creating` ones an
 * hour old and unlocked (their maker was killed before locking). Folders
 * this process or any live process owns are kept, as are folders this user
 * cannot open. Returns the folders removed.
 */
export async function removeAbandonedFolders(
  prefix: string,
  tempDir?: string,
  options: RemoveOptions = {},
): Promise<string[]> {
  if (!LOCKABLE) return [];
  const parent = tempParent(tempDir);
  const removed: string[] = [];
  for await (const entry of Deno.readDir(parent)) {
    const { name } = entry;
    if (!entry.isDirectory || !name.startsWith(prefix)) continue;
    const creating = name.endsWith(CREATING_SUFFIX);
    if (!creating && !name.endsWith(OWNED_SUFFIX)) continue;
    const dir = path.join(parent, name);
    // A young `.creating` folder is not even opened: its lock is its maker's to take.
    if (creating && !await olderThan(dir, CREATING_GRACE_MS)) continue;
    let handle: Deno.FsFile;
    try {
      handle = await Deno.open(dir, { read: true });
    } catch (error) {
      // Renamed, or removed by another janitor meanwhile, or another user's: not ours to remove.
      if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.PermissionDenied) {
        continue;
      }
      throw error;
    }
    try {
      if (!await handle.tryLock(true) || !await stillNames(dir, handle)) continue;
      await options.beforeRemove?.(dir);
      await Deno.remove(dir, { recursive: true });
      removed.push(dir);
    } catch (error) {
      // NotFound: another janitor that held the lock before us removed it as we came.
      // Otherwise the folder stays for the next sweep, and the caller's work goes on.
      if (!(error instanceof Deno.errors.NotFound)) {
        const reason = toError(error).message;
        console.error(
          `Cannot remove ${dir}, a temp folder left by a process that was killed ` +
            `(${reason}); remove it by hand.`,
        );
      }
    } finally {
      handle.close();
    }
  }
  return removed;
}
