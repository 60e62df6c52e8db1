/**
 * Disk space an embedded store keeps aside so that it can still record what
 * matters most (a run's end) once its disk is full: a file of a fixed size
 * next to the database, given back when a write fails for lack of space.
 *
 * Why a file and not free pages inside the database: in WAL mode every write
 * first appends to the `-wal` file, which grows on disk whatever SQLite has
 * free inside the main file; only deleting a file is sure to give the file
 * system blocks back. Its bytes are random, not zeros, so no compressing or
 * deduplicating file system stores it smaller than it looks.
 *
 * Several processes share one store (a daemon and a `materialize`): the file
 * is theirs together. Whoever meets the full disk first deletes it; the others
 * then find it gone. It is made again at the next open that has the room.
 *
 * @module
 */

import { dirname } from "node:path";
import { lastingFailure } from "../core/errors.ts";

/** Size of the reserve: the end of a run is a few pages; a whole step batch fits too. */
export const RESERVE_BYTES = 1024 * 1024;

/** The reserve file of one database. */
export class SpaceReserve {
  /** The reserve file's path (`<database>-reserve`, beside its `-wal` and `-shm`). */
  readonly path: string;
  readonly #bytes: number;

  /** The reserve of the database at `database` (nothing is written until {@linkcode ensure}). */
  constructor(database: string, bytes = RESERVE_BYTES) {
    this.path = `${database}-reserve`;
    this.#bytes = bytes;
  }

  /**
   * Makes the file when it is missing or short; `false` when it cannot be
   * made now: no room (the partial file is removed), or a read-only or
   * unwritable folder, whose writes the store reports itself. The store then
   * runs without a reserve until the next open. Written under a temporary
   * name and renamed, so no process ever counts a half-written file as a
   * reserve.
   */
  ensure(): boolean {
    try {
      if (Deno.statSync(this.path).size >= this.#bytes) return true;
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    const temp = `${this.path}.${Deno.pid}.tmp`;
    try {
      const bytes = new Uint8Array(this.#bytes);
      for (let at = 0; at < bytes.length; at += 65_536) {
        crypto.getRandomValues(bytes.subarray(at, at + 65_536));
      }
      Deno.writeFileSync(temp, bytes);
      Deno.renameSync(temp, this.path);
      return true;
    } catch (error) {
      try {
        Deno.removeSync(temp);
      } catch {
        // Never made, or already gone: nothing to give back.
      }
      if (lastingFailure(error) !== undefined) return false;
      throw error;
    }
  }

  /** Deletes the file, giving its space back; `false` when there was none (another process took it). */
  release(): boolean {
    try {
      Deno.removeSync(this.path);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw error;
    }
  }
}

/**
 * Whether the folder of `path` has no room for `bytes` more: SQLite reports a
 * full disk met while opening (making `-shm`, mapping it) as a mere "disk I/O
 * error", which this tells apart. Found by writing a probe file of that size
 * (removed again), not by `statfs`, which needs a permission (`--allow-sys`)
 * the platform does not ask for. `false` when the folder cannot be written
 * for another reason: that failure is the caller's to report.
 */
export function lowOnSpace(path: string, bytes = 64 * 1024): boolean {
  const probe = `${dirname(path)}/.space-probe-${Deno.pid}`;
  try {
    Deno.writeFileSync(probe, new Uint8Array(bytes).fill(1));
    return false;
  } catch (error) {
    return lastingFailure(error) === "disk_full";
  } finally {
    try {
      Deno.removeSync(probe);
    } catch {
      // Not made (the write failed before creating it): nothing to remove.
    }
  }
}
