/**
 * The temp folder holding the UI's HTTP socket when no socket path is given
 * (tests, `deno run main.ts ui` without the launcher), and the sweep of those
 * that killed processes left: a `kill -9` runs no `finally`, and each killed
 * UI left a `/tmp/platform-ui-XXXX/http.sock` for good.
 *
 * New folders are lock-owned (`resources/_owned_folders.ts`): a folder is
 * removed only while its remover holds the lock its dead owner held. Folders
 * of versions that took no lock (`platform-ui-` and 16 hex digits) are
 * removed when they belong to this user and nothing listens on their socket
 * (a connection to it is refused), or, empty, once an hour old (their maker
 * died between making the folder and listening, which takes milliseconds).
 *
 * Under the launcher (`deno task ui`) the socket is `platform-ui-<launcher
 * pid>.sock`, with no folder; a UI killed with -9 under a launcher that then
 * ended left that socket file. Such files of this user whose launcher is gone
 * (`kill -0` says so: the UI may run `kill`) are removed too.
 *
 * @module
 */

import { join } from "node:path";
import {
  createOwnedFolder,
  type OwnedFolder,
  removeAbandonedFolders,
} from "../resources/_owned_folders.ts";

/** Prefix of the socket folders under the temp folder. */
export const SOCKET_FOLDER_PREFIX = "platform-ui-";

const LEGACY = /^platform-ui-[0-9a-f]{1,16}$/;
const LAUNCHER_SOCKET = /^platform-ui-(\d+)\.sock$/;
const EMPTY_GRACE_MS = 60 * 60 * 1000;

/**
 * Removes the socket folders of UIs that are gone, then makes this one's.
 * Permissions missing for the sweep (no net access to another socket) leave
 * those folders alone.
 */
export async function socketFolder(tempDir?: string): Promise<OwnedFolder> {
  await removeAbandonedFolders(SOCKET_FOLDER_PREFIX, tempDir).catch(() => []);
  await removeLegacyFolders(tempDir).catch(() => []);
  return await createOwnedFolder(SOCKET_FOLDER_PREFIX, tempDir);
}

/** Removes the lock-less folders of older versions whose UI is gone; returns them. */
export async function removeLegacyFolders(tempDir?: string): Promise<string[]> {
  const parent = tempDir ?? Deno.env.get("TMPDIR") ?? "/tmp";
  const uid = Deno.uid();
  const removed: string[] = [];
  // Listed first: removing entries while the listing is read may skip others.
  for (const entry of await Array.fromAsync(Deno.readDir(parent))) {
    if (!entry.isDirectory || !LEGACY.test(entry.name)) continue;
    const dir = join(parent, entry.name);
    try {
      const info = await Deno.stat(dir);
      if (uid !== null && info.uid !== uid) continue;
      const names: string[] = [];
      for await (const inner of Deno.readDir(dir)) names.push(inner.name);
      if (names.length === 0) {
        if (info.mtime === null || Date.now() - info.mtime.getTime() < EMPTY_GRACE_MS) continue;
      } else if (
        names.length !== 1 || names[0] !== "http.sock" || await listening(join(dir, "http.sock"))
      ) {
        continue;
      }
      await Deno.remove(dir, { recursive: true });
      removed.push(dir);
    } catch {
      // Gone meanwhile, or not ours to read or remove: left alone.
    }
  }
  return removed;
}

/** Whether a server accepts connections on the Unix socket at `path` (throws when it cannot tell). */
async function listening(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return false;
    throw error;
  }
}

/**
 * Removes the `platform-ui-<pid>.sock` sockets of this user whose launcher
 * (`pid`) is gone; returns them. `alive` decides, and any doubt keeps the file.
 */
export async function removeOrphanSockets(
  tempDir?: string,
  alive: (pid: number) => Promise<boolean> = processAlive,
): Promise<string[]> {
  const parent = tempDir ?? Deno.env.get("TMPDIR") ?? "/tmp";
  const uid = Deno.uid();
  const removed: string[] = [];
  // Listed first: removing entries while the listing is read may skip others.
  for (const entry of await Array.fromAsync(Deno.readDir(parent))) {
    const pid = Number(LAUNCHER_SOCKET.exec(entry.name)?.[1] ?? NaN);
    if (!Number.isSafeInteger(pid) || pid <= 1 || pid === Deno.pid) continue;
    const path = join(parent, entry.name);
    try {
      const info = await Deno.lstat(path);
      if (info.isSocket !== true || (uid !== null && info.uid !== uid)) continue;
      if (await alive(pid)) continue;
      await Deno.remove(path);
      removed.push(path);
    } catch {
      // Gone meanwhile, not ours, or no way to tell: left alone.
    }
  }
  return removed;
}

/** Whether process `pid` exists (`kill -0`); true when that cannot be told. */
async function processAlive(pid: number): Promise<boolean> {
  try {
    const { code, stderr } = await new Deno.Command("kill", {
      args: ["-0", String(pid)],
      stdout: "null",
      stderr: "piped",
    }).output();
    // 'No such process' is the only answer that means gone (EPERM: alive, another user's).
    return code === 0 || !/no such process/i.test(new TextDecoder().decode(stderr));
  } catch {
    return true;
  }
}
