/**
 * File-system mechanics of the local backend: temporary files renamed into
 * place, sidecar metadata tied to the data file by inode, sorted directory
 * walks, and a per-key lock so two writers in this process commit in turn.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { compareKeys } from "./_keys.ts";
import { isReservedName, removeIfAbandoned } from "./_local_temp.ts";
import type { Cursor } from "./_paging.ts";

/** What the sidecar JSON records next to each object. */
export interface Sidecar {
  /** Inode of the data file it describes; a mismatch means it is stale. */
  ino: number | null;
  size: number;
  etag: string;
  sha256: string;
  contentType: string;
  metadata: Record<string, string>;
}

/** Writes all of `chunk`, since `write` may write less than asked. */
export async function writeAll(file: Deno.FsFile, chunk: Uint8Array): Promise<void> {
  let written = 0;
  while (written < chunk.byteLength) written += await file.write(chunk.subarray(written));
}

/** Writes the sidecar to `temp`, a temporary file next to its final path (made with its folder). */
export async function writeSidecarTemp(temp: string, sidecar: Sidecar): Promise<void> {
  await inFolder(
    dirname(temp),
    () => Deno.writeTextFile(temp, JSON.stringify(sidecar), { createNew: true }),
  );
}

/** Reads a sidecar; `undefined` when missing or unreadable (objects dropped in by hand). */
export async function readSidecar(path: string): Promise<Sidecar | undefined> {
  try {
    const parsed: unknown = JSON.parse(await Deno.readTextFile(path));
    return isSidecar(parsed) ? parsed : undefined;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof SyntaxError) return undefined;
    if (error instanceof Deno.errors.NotADirectory) return undefined;
    throw error;
  }
}

function isSidecar(value: unknown): value is Sidecar {
  if (typeof value !== "object" || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.etag === "string" && typeof record.sha256 === "string" &&
    typeof record.contentType === "string" && typeof record.metadata === "object" &&
    record.metadata !== null && typeof record.size === "number";
}

/** Removes a file, ignoring a missing one. */
export async function removeIfPresent(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Attempts at a folder that something removes between its mkdir and its use. */
const FOLDER_ATTEMPTS = 10;

/**
 * Makes `dir` (with its parents, through `make`) and runs `use` in it.
 * `removeEmptyFolders` (of this store in another process), a person or
 * another tool may remove an empty one between the mkdir and its use (the
 * race of #15 item 11); then the folder is made again and `use` retried.
 * `use` creates a file in `dir`, or links or renames `source` into it: a
 * `NotFound` is the folder's, unless `source` is missing (that is thrown at
 * once). Whether the folder exists after the failure tells nothing: a
 * concurrent writer may have made it again meanwhile.
 */
export async function inFolder<T>(
  dir: string,
  use: () => Promise<T>,
  make: (dir: string) => Promise<void> = (d) => Deno.mkdir(d, { recursive: true }),
  source?: string,
): Promise<T> {
  for (let attempt = 1;; attempt++) {
    try {
      await makeFolder(dir, make);
      return await use();
    } catch (error) {
      if (attempt >= FOLDER_ATTEMPTS || !(error instanceof Deno.errors.NotFound)) throw error;
      if (source !== undefined && !(await Deno.lstat(source).then(() => true, () => false))) {
        throw error; // Not the folder: what was to go into it.
      }
      // A short random pause, so a remover running in a loop does not keep pace with us.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * attempt));
    }
  }
}

/**
 * Runs `make(dir)`. A recursive mkdir that finds a folder already there
 * checks that it is a folder afterwards; a remover striking between the two
 * makes it fail with `AlreadyExists` (Rust's `create_dir_all`), though
 * nothing but a removed folder stands there. That is reported as the
 * folder's `NotFound`, so `inFolder` makes it again; an `AlreadyExists` with
 * a file standing at `dir` (or above it) is a real key conflict and stays.
 */
async function makeFolder(dir: string, make: (dir: string) => Promise<void>): Promise<void> {
  try {
    await make(dir);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    const info = await Deno.lstat(dir).catch((lstatError) => {
      if (lstatError instanceof Deno.errors.NotFound) return undefined;
      throw error;
    });
    if (info !== undefined && !info.isDirectory) throw error;
    throw new Deno.errors.NotFound(`${dir} was removed while it was being made`);
  }
}

/**
 * Removes `dir` and every folder below it that holds nothing, deepest first
 * (`rmdir`: a folder that is not empty, or becomes non-empty meanwhile,
 * stays). Temporary files whose writer is certainly gone (killed mid-write)
 * are removed first, so they do not keep their folder forever; a live
 * writer's stay, and so does its folder. Symbolic links are neither followed
 * nor removed; a missing `dir` is nothing to do.
 */
export async function removeEmptyTree(dir: string): Promise<void> {
  try {
    const temps: string[] = [];
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && !entry.isSymlink) await removeEmptyTree(join(dir, entry.name));
      else if (entry.isFile && isReservedName(entry.name)) temps.push(entry.name);
    }
    for (const name of temps) await removeIfAbandoned(dir, name);
    await Deno.remove(dir); // Not recursive: only an empty folder goes.
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) return;
    if ((error as { code?: unknown }).code === "ENOTEMPTY") return;
    throw error;
  }
}

/**
 * Renames `from` to `to`. Folders are not objects: an empty folder standing
 * at `to` (left behind when the keys under `to/` were deleted; folders are
 * never removed then, an uploader may be writing into them) gives way, as the
 * name is free in S3. A folder that holds anything is a real key conflict and
 * the rename's error is thrown.
 */
export async function renameOver(from: string, to: string): Promise<void> {
  try {
    await Deno.rename(from, to);
  } catch (error) {
    if (!(error instanceof Deno.errors.IsADirectory)) throw error;
    try {
      await Deno.remove(to); // Not recursive: only an empty folder goes.
    } catch {
      throw error;
    }
    await Deno.rename(from, to);
  }
}

/**
 * The folder lock of one store root, shared across processes (`flock` on
 * `<root>/.locks/folders`): writers hold it shared from a folder's mkdir
 * until their first file is in it, `removeEmptyFolders` holds it exclusive.
 * Retrying after a removal (`inFolder`) is not enough against a remover in
 * a loop on a busy machine: the writer can lose the window between mkdir and
 * write ten times running (seen on CI). The kernel drops the lock of a
 * killed process. Any other remover (a person, a cleanup script) is still
 * met by the retry.
 */
export class FolderLock {
  #path: string;
  #made = false;

  /** A lock on `path` (made with its folder on first use). */
  constructor(path: string) {
    this.#path = path;
  }

  /** Runs `fn` under the lock: shared for writers, exclusive for removers. */
  async run<T>(mode: "shared" | "exclusive", fn: () => Promise<T>): Promise<T> {
    using file = await this.#open();
    await file.lock(mode === "exclusive");
    return await fn(); // Closing the file (`using`) releases the lock.
  }

  async #open(): Promise<Deno.FsFile> {
    const open = () => Deno.open(this.#path, { read: true, write: true, create: true });
    if (this.#made) {
      try {
        return await open();
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error; // Its folder was removed.
      }
    }
    await Deno.mkdir(dirname(this.#path), { recursive: true });
    this.#made = true;
    return await open();
  }
}

/** Serializes async sections per key within this process. */
export class KeyedLock {
  #tails = new Map<string, Promise<void>>();

  /** Runs `fn` once every earlier section on the same keys has finished. */
  async run<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const previous = sorted.map((key) => this.#tails.get(key) ?? Promise.resolve());
    const { promise: done, resolve } = Promise.withResolvers<void>();
    for (const key of sorted) this.#tails.set(key, done);
    try {
      await Promise.all(previous);
      return await fn();
    } finally {
      resolve();
      for (const key of sorted) if (this.#tails.get(key) === done) this.#tails.delete(key);
    }
  }
}

interface Entry {
  name: string;
  isDirectory: boolean;
  sortName: string;
}

async function sortedEntries(dir: string): Promise<Entry[]> {
  const entries: Entry[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      // Symlinks are skipped so a listing never reaches outside the bucket folder.
      if (isReservedName(entry.name) || entry.isSymlink) continue;
      if (!entry.isFile && !entry.isDirectory) continue;
      const sortName = entry.isDirectory ? `${entry.name}/` : entry.name;
      entries.push({ name: entry.name, isDirectory: entry.isDirectory, sortName });
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory) {
      return [];
    }
    throw error;
  }
  // A folder sorts as "name/", which places its keys exactly where S3 would.
  return entries.sort((a, b) => compareKeys(a.sortName, b.sortName));
}

/** Walks keys under `bucketDir` in UTF-8 order from the cursor, skipping done subtrees. */
export function walkKeys(
  bucketDir: string,
  prefix: string,
  cursor: Cursor,
): AsyncGenerator<string> {
  const start = prefix.slice(0, prefix.lastIndexOf("/") + 1);
  return walkDir(bucketDir, start, prefix, cursor);
}

async function* walkDir(
  bucketDir: string,
  rel: string,
  prefix: string,
  cursor: Cursor,
): AsyncGenerator<string> {
  for (const entry of await sortedEntries(join(bucketDir, rel))) {
    const key = rel + entry.sortName;
    if (entry.isDirectory) {
      if (wantsSubtree(key, prefix, cursor)) yield* walkDir(bucketDir, key, prefix, cursor);
    } else if (wantsKey(key, prefix, cursor)) {
      yield key;
    }
  }
}

function wantsKey(key: string, prefix: string, cursor: Cursor): boolean {
  if (!key.startsWith(prefix) || compareKeys(key, cursor.after) <= 0) return false;
  return cursor.skip === undefined || !key.startsWith(cursor.skip);
}

// `dirKey` ends with "/"; every key below it starts with it and sorts after it.
function wantsSubtree(dirKey: string, prefix: string, cursor: Cursor): boolean {
  if (!dirKey.startsWith(prefix) && !prefix.startsWith(dirKey)) return false;
  if (cursor.skip !== undefined && dirKey.startsWith(cursor.skip)) return false;
  return compareKeys(dirKey, cursor.after) > 0 || cursor.after.startsWith(dirKey);
}
