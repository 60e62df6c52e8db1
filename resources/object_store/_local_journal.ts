/**
 * The journal of the local backend's temporary files, so that those of a
 * writer killed mid-write (`kill -9`) are removed wherever they are, at a
 * cost that does not grow with the lake. `removeEmptyFolders` only removes
 * dead writers' temporary files in the folders it walks (a batch's landing
 * folder); one left in `archive/`, an asset's outputs or any other prefix
 * stayed for ever.
 *
 * Each process that writes to a store root keeps a journal folder
 * `<root>/.locks/writers/w-XXXX.owned`, locked by it for its life
 * (`resources/_owned_folders.ts`: a flock the kernel drops when the process
 * dies, whatever its pid namespace), holding one file, `journal`. Before it
 * makes the temporary files of a write (an object and its sidecar) it
 * appends their paths under the root to that file, one line; when no
 * write is in flight the file is emptied. The first temporary file a
 * process makes under a root (and one an hour after its last sweep) sweeps
 * the journals whose lock nobody holds: the files they name are removed (a
 * named file that is gone, renamed into place, is nothing to do), then the
 * journal.
 *
 * Cost, measured (load 15-25 on two cores, 100 000 files in the folder
 * written to, 24 interleaved batches of 100 1 KiB puts): a put's wall time
 * 1.04x (durable) and 1.06x (not durable) of the store without the journal,
 * CPU 1.03x and 0.90x, i.e. noise: the line is one synchronous append,
 * ~1 us, and emptying the file ~9 us. A file per record instead (made,
 * then removed) cost 1.18x-1.31x wall and 1.4x CPU: making a file costs
 * ~0.7 ms of CPU on this machine's ext4. A sweep reads the journals only:
 * 3 ms with no dead writer, 84 ms removing three killed writers' 1 MiB
 * files, whatever the size of their folders; listing the folder of 100 000
 * names once (what a sweep at a process's first put into each folder
 * would cost) took 138-524 ms, and would still miss the folders nobody
 * writes to again.
 *
 * A process that always has a write in flight (a daemon with overlapping
 * runs) never empties its file: once the file passes
 * {@linkcode COMPACT_BYTES} and holds more than twice the lines of the
 * writes in flight, it is compacted: those lines are written to
 * `journal.next` and renamed over `journal` (one atomic step: a kill at any
 * moment leaves the old journal or the new one, each naming every write in
 * flight; a `journal.next` left behind goes with the folder).
 *
 * What the journal cannot see: temporary files of versions before it,
 * lines lost with a power cut (the file is not synced; neither is the
 * temporary file's name), and writes made after someone removed the
 * journal folder by hand (the process appends to a removed file).
 * `removeEmptyFolders` still removes those by their writer's pid and host
 * (`_local_temp.ts`) in the folders it walks.
 *
 * @module
 */

import { basename, isAbsolute, join, normalize, relative, sep } from "node:path";
import { createOwnedFolder, type OwnedFolder, removeAbandonedFolders } from "../_owned_folders.ts";
import { isReservedName, tempName } from "./_local_temp.ts";

/** The journals' folder under a store root (`.locks`, which no bucket can be named). */
export const JOURNALS_DIR = join(".locks", "writers");

/** The file, in a journal folder, that lists the temporary files (one write a line). */
export const JOURNAL_FILE = "journal";

/** How often a process writing to a root sweeps again after its first write. */
export const SWEEP_INTERVAL_MS = 60 * 60 * 1000;

/**
 * Size past which a journal whose writes are never all ended is rewritten
 * with the lines of the writes in flight only (about 400 writes' lines).
 */
export const COMPACT_BYTES = 64 * 1024;

/** The file a compaction writes before renaming it over the journal. */
const NEXT_FILE = `${JOURNAL_FILE}.next`;

/** How a journal folder's name starts. */
const JOURNAL_PREFIX = "w-";

const encoder = new TextEncoder();

/** Whether `name` is a temporary file's name the backend makes (never a key). */
function isTempName(name: string): boolean {
  return isReservedName(name) && name.endsWith(".partial");
}

/** An open journal: its locked folder and its file, open for appending. */
interface Opened {
  folder: OwnedFolder;
  file: Deno.FsFile;
}

/** The temporary files one process makes under one store root, recorded as it makes them. */
export class TempJournal {
  #root: string;
  #opening: Promise<Opened> | undefined;
  #opened: Opened | undefined;
  /** Writes begun and not ended (first path -> its line): when none is left, the file is emptied. */
  #inFlight = new Map<string, Uint8Array>();
  /** Bytes in the file now. */
  #bytes = 0;
  /** When the last sweep of dead writers' journals ended (`-Infinity`: none yet). */
  #sweptAt = -Infinity;
  #sweeping: Promise<unknown> | undefined;

  /** The journal of this process under `root` (made at the first temporary file). */
  constructor(root: string) {
    this.#root = root;
  }

  /**
   * Fresh temporary file paths, one in each of `dirs` (under the root), for
   * one write (an object and its sidecar), recorded on one line before they
   * are returned: make the files only after this. The line is appended
   * with a synchronous write (about 1 us of CPU, where making a file costs
   * 0.7 ms here: see the module doc).
   */
  async begin(dirs: string[]): Promise<string[]> {
    const temps = dirs.map((dir) => join(dir, tempName()));
    const line = encoder.encode(temps.map((t) => relative(this.#root, t)).join("\t") + "\n");
    await this.#sweepIfDue();
    const { file } = await this.#open();
    for (let written = 0; written < line.byteLength;) {
      written += file.writeSync(line.subarray(written));
    }
    this.#bytes += line.byteLength;
    this.#inFlight.set(temps[0]!, line);
    return temps;
  }

  /**
   * Ends a write `begin` recorded, once its temporary files are renamed
   * into place or removed (a second end of the same write is nothing). When
   * no write is left in flight, the file is emptied (so it stays small). Never throws: the caller's write is done,
   * and lines left behind only name files that are gone, which the sweep
   * after this process passes over.
   */
  end(temps: string[]): void {
    if (!this.#inFlight.delete(temps[0]!)) return; // Ended already.
    if (this.#opened === undefined) return;
    if (this.#inFlight.size > 0) {
      this.#compactIfDue(this.#opened);
      return;
    }
    try {
      this.#opened.file.truncateSync(0);
      this.#bytes = 0;
    } catch {
      // See above: harmless.
    }
  }

  /**
   * Rewrites the file with the lines of the writes in flight only, when it
   * has grown past {@linkcode COMPACT_BYTES} and most of it names ended
   * writes (see the module doc). Synchronous, like the appends, so no line
   * is appended to the old file meanwhile; never throws (the old file,
   * still whole, stays in use).
   */
  #compactIfDue(opened: Opened): void {
    if (this.#bytes < COMPACT_BYTES) return;
    const lines = [...this.#inFlight.values()];
    const live = lines.reduce((sum, line) => sum + line.byteLength, 0);
    if (live * 2 > this.#bytes) return;
    const folder = opened.folder.path;
    const next = join(folder, NEXT_FILE);
    let file: Deno.FsFile | undefined;
    try {
      // Opened for appending, as the journal it replaces: a later truncate to
      // empty must put the next line at byte 0, not at this file's end (a
      // hole of NUL bytes the sweep would read as part of a path). Append and
      // truncate cannot be asked together, hence the truncate after.
      file = Deno.openSync(next, { append: true, create: true });
      file.truncateSync(0);
      for (const line of lines) {
        for (let written = 0; written < line.byteLength;) {
          written += file.writeSync(line.subarray(written));
        }
      }
      Deno.renameSync(next, join(folder, JOURNAL_FILE));
    } catch {
      file?.close();
      try {
        Deno.removeSync(next);
      } catch {
        // Never made, or renamed already.
      }
      return;
    }
    opened.file.close();
    opened.file = file;
    this.#bytes = live;
  }

  /**
   * Sweeps dead writers' journals at this process's first temporary file
   * under the root, then at most once an hour (a daemon writing for weeks
   * still reaches the files of the runs killed meanwhile).
   */
  async #sweepIfDue(): Promise<void> {
    if (Date.now() - this.#sweptAt < SWEEP_INTERVAL_MS) return;
    this.#sweeping ??= sweepJournals(this.#root).then(
      () => {
        this.#sweptAt = Date.now();
        this.#sweeping = undefined;
      },
      (error) => {
        this.#sweeping = undefined;
        throw error;
      },
    );
    await this.#sweeping;
  }

  #open(): Promise<Opened> {
    this.#opening ??= this.#make().then((opened) => (this.#opened = opened), (error) => {
      this.#opening = undefined;
      throw error;
    });
    return this.#opening;
  }

  async #make(): Promise<Opened> {
    const parent = join(this.#root, JOURNALS_DIR);
    await Deno.mkdir(parent, { recursive: true });
    const folder = await createOwnedFolder(JOURNAL_PREFIX, parent);
    let file: Deno.FsFile;
    try {
      file = await Deno.open(join(folder.path, JOURNAL_FILE), { append: true, createNew: true });
    } catch (error) {
      await folder.remove();
      throw error;
    }
    const opened: Opened = { folder, file };
    globalThis.addEventListener("unload", () => {
      try {
        opened.file.close(); // the one open now (a compaction replaces it)
        folder.removeSync();
      } catch {
        // Gone with its root, or left for the next process's sweep.
      }
    });
    return opened;
  }
}

/** This process's journal of each store root (one, whatever the number of stores on it). */
const journals = new Map<string, TempJournal>();

/** The journal of this process under `root` (an absolute path). */
export function journalOf(root: string): TempJournal {
  let journal = journals.get(root);
  if (journal === undefined) journals.set(root, journal = new TempJournal(root));
  return journal;
}

/**
 * Removes the journals under `root` of writers that are gone, and the
 * temporary files they record. Returns the temporary files removed.
 */
export async function sweepJournals(root: string): Promise<string[]> {
  const removed: string[] = [];
  const parent = join(root, JOURNALS_DIR);
  if (!(await Deno.stat(parent).then(() => true, () => false))) return removed; // No writer yet.
  await removeAbandonedFolders(JOURNAL_PREFIX, parent, {
    beforeRemove: async (journal) => {
      for (const temp of await recordedTemps(root, join(journal, JOURNAL_FILE))) {
        if (await removeFile(temp)) removed.push(temp);
      }
    },
  });
  return removed;
}

/**
 * The temporary files a journal names that are temporary files inside the
 * lake (a journal is never trusted to name a key or anything outside).
 */
async function recordedTemps(root: string, file: string): Promise<string[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return []; // Killed before making it.
    throw error;
  }
  return text.split(/[\t\n]/).filter((path) =>
    isTempName(basename(path)) && !isAbsolute(path) && normalize(path) === path &&
    !path.startsWith(`..${sep}`)
  ).map((path) => join(root, path));
}

/** Removes a regular file (not a link, not a folder); false when there is none. */
async function removeFile(path: string): Promise<boolean> {
  // Gone (renamed into place), or a key now stands where its folder was: nothing to remove.
  const gone = (error: unknown) =>
    error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory;
  const info = await Deno.lstat(path).catch((error) => {
    if (gone(error)) return undefined;
    throw error;
  });
  if (!info?.isFile) return false;
  await Deno.remove(path).catch((error) => {
    if (!gone(error)) throw error;
  });
  return true;
}
