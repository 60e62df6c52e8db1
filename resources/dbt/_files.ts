/**
 * Lists a project's files under its configured paths, sorted, with
 * project-relative `/` paths, and hashes their text.
 *
 * @module
 */

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
 * Paths (relative to `root`, `/`-separated, sorted) of every file ending with
 * one of `extensions` under `root` of `projectDir`, recursively. A missing
 * root yields nothing.
 */
export async function listPaths(
  projectDir: string,
  root: string,
  extensions: readonly string[],
): Promise<string[]> {
  const found: string[] = [];
  const walk = async (relative: string) => {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(`${projectDir}/${root}${relative}`));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    for (const entry of entries) {
      const child = `${relative}/${entry.name}`;
      if (entry.isDirectory) await walk(child);
      else if (entry.isFile && extensions.some((ext) => entry.name.endsWith(ext))) {
        found.push(child.slice(1));
      }
    }
  };
  await walk("");
  return found.sort();
}

/**
 * Every file ending with one of `extensions` under `root` (relative to
 * `projectDir`), recursively, sorted by path, with its text.
 */
export async function listSources(
  projectDir: string,
  root: string,
  extensions: readonly string[],
): Promise<ProjectSource[]> {
  const paths = await listPaths(projectDir, root, extensions);
  return await Promise.all(paths.map(async (path) => {
    const file = `${root.replace(/\/+$/, "")}/${path}`;
    return { file, path, text: await Deno.readTextFile(`${projectDir}/${file}`) };
  }));
}

/** Hex digest of `text` with `algorithm` (`sha256`, `md5`). */
export function digest(text: string, algorithm: "sha256" | "md5" = "sha256"): string {
  return createHash(algorithm).update(text).digest("hex");
}

/** Writes `value` as JSON to `dir/name` atomically (temp file, then rename). */
export async function writeJsonAtomic(dir: string, name: string, value: unknown): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir}/${name}`;
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(value, null, 2) + "\n");
  await Deno.rename(tmp, path);
  return path;
}
