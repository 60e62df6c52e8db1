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
 * @module
 */

import { PGlite } from "@electric-sql/pglite";
import { resolve } from "node:path";
import { npmCacheDir } from "../permissions.ts";

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
 * one. A half-made dir is removed, so the next open does not take it for a
 * database. Throws with the child's error message.
 */
export async function createDataDir(location: string): Promise<void> {
  const existed = await exists(location);
  try {
    if (!(await createInChild(location))) await createHere(location);
  } catch (error) {
    if (!existed) await Deno.remove(location, { recursive: true }).catch(() => {});
    throw error;
  }
}

async function createHere(location: string): Promise<void> {
  const db = await PGlite.create(location);
  await db.close();
}

/** Runs this module as a child for `location`; false when no child can be started here. */
async function createInChild(location: string): Promise<boolean> {
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
    throw new Error(`initdb in a child process failed (exit ${out.code}): ${message}`);
  }
  return true;
}

if (import.meta.main) {
  try {
    await createHere(Deno.args[0] ?? "");
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    Deno.exit(1);
  }
}
