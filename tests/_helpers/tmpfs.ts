/**
 * A small tmpfs of its own for the tests of a full disk: mounted on a temp
 * folder, filled to a chosen number of free bytes, freed again, unmounted by
 * `await using`. Mounting needs root (or CAP_SYS_ADMIN); elsewhere
 * {@linkcode tmpfsSkip} prints one line saying so and the tests skip.
 *
 * @example
 * ```ts ignore
 * import { mountTmpfs, tmpfsSkip } from "../_helpers/tmpfs.ts";
 * Deno.test("full disk", { ignore: await tmpfsSkip() }, async () => {
 *   await using disk = await mountTmpfs(4 * 1024 * 1024);
 *   await disk.fill(0); // not one byte free
 *   await disk.free();
 * });
 * ```
 *
 * @module
 */

import { relative } from "node:path";

/** A mounted tmpfs. */
export interface Tmpfs extends AsyncDisposable {
  /** Its mount point. */
  readonly path: string;
  /** Fills it with a filler file until `leaveBytes` (rounded to pages) are free. */
  fill(leaveBytes?: number): Promise<void>;
  /** Removes the filler file. */
  free(): Promise<void>;
  /** Bytes free now. */
  available(): Promise<number>;
}

async function run(cmd: string, args: string[]): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  return { ok: out.success, text: decode(out.stdout) + decode(out.stderr) };
}

/** Mounts a tmpfs of `sizeBytes` on a new temp folder. */
export async function mountTmpfs(sizeBytes: number): Promise<Tmpfs> {
  const path = await Deno.makeTempDir({ prefix: "tmpfs_test_" });
  const mounted = await run("mount", ["-t", "tmpfs", "-o", `size=${sizeBytes}`, "tmpfs", path]);
  if (!mounted.ok) {
    await Deno.remove(path);
    throw new Error(`Cannot mount a tmpfs on ${path}: ${mounted.text}`);
  }
  const filler = `${path}/.filler`;
  const available = async () => {
    const df = await run("df", ["-B1", "--output=avail", path]);
    return Number(df.text.trim().split("\n").at(-1));
  };
  return {
    path,
    available,
    async fill(leaveBytes = 0) {
      const file = await Deno.open(filler, { write: true, create: true, append: true });
      try {
        const chunk = new Uint8Array(64 * 1024).fill(7);
        for (;;) await file.write(chunk);
      } catch (error) {
        if ((error as { code?: unknown }).code !== "ENOSPC") throw error;
      } finally {
        file.close();
      }
      if (leaveBytes > 0) {
        const size = (await Deno.stat(filler)).size;
        await Deno.truncate(filler, Math.max(0, size - leaveBytes));
      }
    },
    async free() {
      await Deno.remove(filler).catch((error) => {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      });
    },
    async [Symbol.asyncDispose]() {
      const unmounted = await run("umount", ["-l", path]);
      if (!unmounted.ok) throw new Error(`Cannot unmount ${path}: ${unmounted.text}`);
      await Deno.remove(path);
    },
  };
}

let checked: Promise<string> | undefined;

/**
 * The `ignore:` of a test that needs its own tmpfs: `true` (after one line
 * naming why) when this process cannot mount one.
 */
export async function tmpfsSkip(): Promise<boolean> {
  checked ??= (async () => {
    if (Deno.uid() !== 0) return "mounting a tmpfs needs root (run the tests as root)";
    try {
      await using _probe = await mountTmpfs(64 * 1024);
      return "";
    } catch (error) {
      return `cannot mount a tmpfs (${(error as Error).message.trim()})`;
    }
  })();
  const why = await checked;
  if (why !== "") {
    const file = new Error().stack?.split("\n").find((line) =>
      !line.includes("tmpfs.ts") &&
      line.includes("file://")
    )?.match(/file:\/\/([^:)]+)/)?.[1];
    console.log(`SKIP ${file ? relative(Deno.cwd(), file) : "a test"}: ${why}`);
  }
  return why !== "";
}
