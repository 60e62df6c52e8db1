/**
 * Scratch folders of GDAL work that outlive a process killed with SIGKILL
 * (no `finally`, no unload handler runs): each such folder under the temp
 * folder (TMPDIR, else /tmp) records its owner's pid in `owner.pid`, and the
 * next process that makes one removes those whose owner is gone. Used by
 * both GDAL engines (gdal3.js's shared folder, native GDAL's scratch
 * folders), whose intermediate files (a warped raster, a converted layer)
 * can be large.
 *
 * @module
 */

import path from "node:path";

/** The file in a scratch folder that names the process owning it. */
export const OWNER_FILE = "owner.pid";

/**
 * Removes the folders under `tempDir` whose names start with `prefix` and
 * whose owner process is gone (Linux: `/proc`; elsewhere nothing is removed).
 * Returns the folders removed.
 */
export async function removeStaleFolders(prefix: string, tempDir?: string): Promise<string[]> {
  // Deno.makeTempDir creates under TMPDIR, else the system's /tmp.
  const parent = tempDir ?? Deno.env.get("TMPDIR") ?? "/tmp";
  const removed: string[] = [];
  for await (const entry of Deno.readDir(parent)) {
    if (!entry.isDirectory || !entry.name.startsWith(prefix)) continue;
    const dir = path.join(parent, entry.name);
    let pid: number;
    try {
      pid = Number((await Deno.readTextFile(path.join(dir, OWNER_FILE))).trim());
    } catch {
      continue; // Being created, or not ours: leave it.
    }
    if (pid === Deno.pid || !Number.isInteger(pid) || await isAlive(pid)) continue;
    try {
      await Deno.remove(dir, { recursive: true });
      removed.push(dir);
    } catch (error) {
      // Another process starting at the same time may have removed it first.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return removed;
}

async function isAlive(pid: number): Promise<boolean> {
  try {
    await Deno.stat(`/proc/${pid}`);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      // Without /proc (not Linux) nothing can be told: keep the folder.
      return !(await Deno.stat("/proc/self").then(() => true, () => false));
    }
    return true;
  }
}
