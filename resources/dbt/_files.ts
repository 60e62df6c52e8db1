/**
 * Lists a project's files under its configured paths, sorted, with
 * project-relative `/` paths, and hashes their text.
 *
 * @module
 */

import { asDiskFull, toError } from "../../core/errors.ts";
import { clip, quote } from "../../core/printable.ts";
import { DbtError, DbtErrorCode } from "./errors.ts";
import { createHash } from "node:crypto";

/** A file of the project. */
export interface ProjectSource {
  /** Path relative to the project folder, e.g. `models/staging/stg.sql`. */
  readonly file: string;
  /** Path relative to the resource folder it was found under, e.g. `staging/stg.sql`. */
  readonly path: string;
  /** Its text. */
  readonly text: string;
}

/**
 * The files under a project's folders, each folder walked once: a package's
 * model paths are listed for their property files, their SQL and their docs
 * (10k models: three walks of 10k entries, ~30 ms of a cold load, became one).
 * Holds what it listed: make one per read of a package, not longer.
 */
export class FolderListing {
  readonly #walked = new Map<string, readonly string[]>();

  /** Every file under `root` of `projectDir` (relative, `/`-separated, unsorted); none when missing. */
  files(projectDir: string, root: string): readonly string[] {
    const key = `${projectDir}/${root}`;
    let files = this.#walked.get(key);
    if (files === undefined) {
      files = walkFiles(projectDir, root);
      this.#walked.set(key, files);
    }
    return files;
  }
}

/**
 * Paths (relative to `root`, `/`-separated, sorted) of every file ending with
 * one of `extensions` under `root` of `projectDir`, recursively. A missing
 * root yields nothing. `listing` walks each folder once across calls.
 */
export function listPaths(
  projectDir: string,
  root: string,
  extensions: readonly string[],
  listing?: FolderListing,
): Promise<string[]> {
  return Promise.resolve(listPathsSync(projectDir, root, extensions, listing));
}

function listPathsSync(
  projectDir: string,
  root: string,
  extensions: readonly string[],
  listing: FolderListing | undefined,
): string[] {
  const files = listing ? listing.files(projectDir, root) : walkFiles(projectDir, root);
  return files.filter((file) => extensions.some((ext) => file.endsWith(ext))).sort();
}

// Sync file system calls here: a project is thousands of small files, and each async call
// costs 2-3x a sync one in Deno (measured: 10k files read in 0.25 s sync, 0.45-0.67 s async).
function walkFiles(projectDir: string, root: string): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    let entries: Iterable<Deno.DirEntry>;
    try {
      entries = Deno.readDirSync(`${projectDir}/${root}${relative}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      // A path of dbt_project.yml naming a file, or a name too long for the file system, came
      // out of `deno task dbt` as an uncaught error and a stack.
      if (relative === "" && !(error instanceof Deno.errors.PermissionDenied)) {
        throw new DbtError(
          DbtErrorCode.invalidProject,
          `cannot read the folder ${quote(clip(root, 120))} (${
            toError(error).message.replace(/\s*\(os error \d+\).*$/s, "")
          }): each of model-paths, seed-paths, test-paths, macro-paths, snapshot-paths and ` +
            "analysis-paths names a folder of the project",
          { file: "dbt_project.yml" },
          error,
        );
      }
      throw error;
    }
    for (const entry of entries) {
      const child = `${relative}/${entry.name}`;
      if (entry.isDirectory) walk(child);
      else if (entry.isFile) found.push(child.slice(1));
    }
  };
  walk("");
  return found;
}

/**
 * Every file ending with one of `extensions` under `root` (relative to
 * `projectDir`), recursively, sorted by path, with its text. `listing` walks
 * each folder once across calls.
 */
export function listSources(
  projectDir: string,
  root: string,
  extensions: readonly string[],
  listing?: FolderListing,
): Promise<ProjectSource[]> {
  const base = root.replace(/\/+$/, "");
  return Promise.resolve(
    listPathsSync(projectDir, root, extensions, listing).map((path) => {
      const file = `${base}/${path}`;
      return { file, path, text: readText(`${projectDir}/${file}`) };
    }),
  );
}

/**
 * Texts read by this process, by path, with the size and modification time
 * they had. A reload (a daemon, a watch loop) reads again only files whose
 * size or time changed, or that changed less than {@linkcode RACY_MS} before
 * they were read (a later edit within the same clock tick would look
 * unchanged: git's "racily clean" rule).
 */
const TEXTS = new Map<string, { size: number; mtime: number; readAt: number; text: string }>();
const TEXTS_MAX = 50_000;
const RACY_MS = 2_000;

function readText(path: string): string {
  const known = TEXTS.get(path);
  if (known === undefined) {
    // A first read takes no stat (a stat costs about half a small file's read, and most
    // processes load once): the entry's unknown time makes the next load read it again,
    // with its stat.
    const readAt = Date.now();
    const text = Deno.readTextFileSync(path);
    TEXTS.set(path, { size: -1, mtime: -1, readAt, text });
    if (TEXTS.size > TEXTS_MAX) TEXTS.delete(TEXTS.keys().next().value as string);
    return text;
  }
  const stat = Deno.statSync(path);
  const mtime = stat.mtime?.getTime() ?? -1;
  if (
    known.size === stat.size && known.mtime === mtime && mtime >= 0 &&
    mtime < known.readAt - RACY_MS
  ) return known.text;
  // Wall time, not a Clock: it is compared with the file system's mtimes, which a fake clock does not move.
  const readAt = Date.now();
  const text = Deno.readTextFileSync(path);
  TEXTS.set(path, { size: stat.size, mtime, readAt, text });
  if (TEXTS.size > TEXTS_MAX) TEXTS.delete(TEXTS.keys().next().value as string);
  return text;
}

/** Whether this process has read `path` before (a reload reads it through its stat). */
export function knownText(path: string): boolean {
  return TEXTS.has(path);
}

/**
 * Records the text of `path` read elsewhere (the YAML parse worker) at wall
 * time `readAt`, as a first read does: without its stat, so the next load
 * reads it again.
 */
export function rememberText(path: string, text: string, readAt: number): void {
  TEXTS.set(path, { size: -1, mtime: -1, readAt, text });
  if (TEXTS.size > TEXTS_MAX) TEXTS.delete(TEXTS.keys().next().value as string);
}

/** The text of `path`, read through this process's texts (see {@linkcode listSources}). */
export function readSourceText(path: string): string {
  return readText(path);
}

/** Hex digest of `text` with `algorithm` (`sha256`, `md5`). */
export function digest(text: string, algorithm: "sha256" | "md5" = "sha256"): string {
  // The encoding named: without one, Deno's Node polyfill looks it up on its slow path each
  // call (30k test ids and 10k file checksums per 10k-model parse: 83-118 ms against 112-206
  // ms for 30k md5s at load 21).
  return createHash(algorithm).update(text, "utf8").digest("hex");
}

/**
 * Writes `value` as JSON to `dir/name` atomically (temp file, then rename),
 * indented by `indent` spaces (0: on one line).
 */
export async function writeJsonAtomic(
  dir: string,
  name: string,
  value: unknown,
  indent = 2,
): Promise<string> {
  return await writeTextAtomic(dir, name, JSON.stringify(value, null, indent) + "\n");
}

/**
 * Writes `text` to `dir/name` through a temp file and a rename; returns the
 * path. A failure (the disk full) removes the temp file, and a full disk is
 * `disk_full` naming `dir/name`, not the temp file.
 */
export async function writeTextAtomic(dir: string, name: string, text: string): Promise<string> {
  const path = `${dir}/${name}`;
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.mkdir(dir, { recursive: true });
    await Deno.writeTextFile(tmp, text);
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {}); // the error thrown is the one to report
    throw asDiskFull(error, `dbt's '${name}' (${path})`, path);
  }
  return path;
}
