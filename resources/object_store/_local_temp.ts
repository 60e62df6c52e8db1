/**
 * Temporary files of the local backend and their writers. Each object is
 * written to a temporary file in its target folder and renamed into place; a
 * writer killed mid-write (`kill -9`, a power cut) leaves that file behind,
 * hidden from listings but taking disk and keeping its folder from being
 * removed by `removeEmptyFolders`. The name therefore says who writes it:
 *
 *     .objstore-p<pid>-h<host tag>-<random>.partial
 *
 * The host tag is a hash of the host name and the process-id namespace, so a
 * pid is only ever checked on the machine (and in the container) it belongs
 * to. A temporary file is abandoned only when its writer is certainly gone:
 * same host tag and no process with that pid (`kill(pid, 0)` fails with
 * `ESRCH`; `EPERM`, a zombie or a missing permission count as alive). A pid
 * taken again by an unrelated process keeps the file until that one ends,
 * which errs on the side of keeping. Names without a writer (written before
 * writers were named, or by a process that could not learn its host name)
 * are abandoned once unchanged for {@linkcode UNOWNED_TEMP_MAX_AGE_MS}: a
 * writer still streaming keeps changing the file's mtime.
 *
 * These rules serve `removeEmptyFolders`, in the folders it walks; the
 * writers' journals (`_local_journal.ts`) reach dead writers' files
 * everywhere else.
 *
 * @module
 */

import { createHash } from "node:crypto";
import process from "node:process";
import { RESERVED_SEGMENT_PREFIX } from "./_keys.ts";

const TEMP_SUFFIX = ".partial";

/** How long a temporary file that names no writer may stay unchanged before it is abandoned. */
export const UNOWNED_TEMP_MAX_AGE_MS = 24 * 60 * 60 * 1000;

const OWNED_TEMP = /^\.objstore-p(\d{1,10})-h([0-9a-f]{12})-[0-9a-f]{12}\.partial$/;

let ownHostTag: string | null | undefined;

/**
 * This process's host tag, or `null` when the host name cannot be read (no
 * `--allow-sys`): its files then name no host and fall under the age rule.
 */
function hostTag(): string | null {
  if (ownHostTag !== undefined) return ownHostTag;
  let host: string;
  try {
    host = Deno.hostname();
  } catch {
    return (ownHostTag = null); // No permission: name no host rather than a wrong one.
  }
  // Two containers may share a host name and a volume but not their pids.
  let pidSpace = "";
  try {
    pidSpace = Deno.readLinkSync("/proc/self/ns/pid");
  } catch {
    // Not Linux, or not readable: the host name alone tells machines apart.
  }
  const tag = createHash("sha256").update(`${host}\0${pidSpace}`).digest("hex").slice(0, 12);
  return (ownHostTag = tag);
}

/** A fresh temporary file name naming this process; reserved, so never a key and never listed. */
export function tempName(): string {
  const random = crypto.randomUUID().replaceAll("-", "").slice(0, 12);
  return `${RESERVED_SEGMENT_PREFIX}p${Deno.pid}-h${
    hostTag() ?? "unknown"
  }-${random}${TEMP_SUFFIX}`;
}

/** True for names the backend creates for itself (temporary files). */
export function isReservedName(name: string): boolean {
  return name.startsWith(RESERVED_SEGMENT_PREFIX);
}

/** True unless `kill(pid, 0)` says no such process; anything else (EPERM, no permission) is alive. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: unknown }).code !== "ESRCH";
  }
}

/**
 * Removes the temporary file `name` in `dir` if its writer is certainly gone
 * (see the module doc); returns whether it did. A file renamed into place or
 * removed meanwhile is nothing to do.
 */
export async function removeIfAbandoned(
  dir: string,
  name: string,
  now: number = Date.now(),
): Promise<boolean> {
  if (!isReservedName(name) || !name.endsWith(TEMP_SUFFIX)) return false;
  const path = `${dir}/${name}`;
  try {
    const owner = OWNED_TEMP.exec(name);
    if (owner !== null) {
      const own = hostTag();
      if (own === null || owner[2] !== own || processAlive(Number(owner[1]))) return false;
    } else {
      const info = await Deno.lstat(path);
      if (!info.isFile || info.mtime === null) return false;
      if (now - info.mtime.getTime() <= UNOWNED_TEMP_MAX_AGE_MS) return false;
    }
    await Deno.remove(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}
