/**
 * Streams over open files and the translation of file-system errors into the
 * object store's typed errors, for the local backend.
 *
 * @module
 */

import { DiskFullError, lastingFailure, PlatformError } from "../../core/errors.ts";
import { RESOURCE_KEY, storeError } from "./_errors.ts";

const READ_CHUNK = 256 * 1024;

/**
 * A stream of `length` bytes read from the file's current position. The file
 * is closed when the stream ends, errors or is canceled, so a reader that
 * stops early still releases it.
 */
export function fileStream(file: Deno.FsFile, length: number): ReadableStream<Uint8Array> {
  let remaining = length;
  let closed = false;
  const close = () => {
    if (!closed) file.close();
    closed = true;
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = new Uint8Array(Math.min(READ_CHUNK, remaining));
        const read = remaining === 0 ? null : await file.read(chunk);
        if (read === null) {
          close();
          return controller.close();
        }
        remaining -= read;
        controller.enqueue(chunk.subarray(0, read));
      } catch (error) {
        close();
        controller.error(error);
      }
    },
    cancel: close,
  });
}

/** Maps with at most `limit` calls in flight, so a big page does not exhaust file handles. */
export async function mapLimited<T, R>(
  items: T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Turns a file-system error into a typed store error naming the object;
 * platform errors, argument errors and errors from the caller's own stream
 * pass through unchanged.
 */
export function toStoreError(error: unknown, input: string, path: string): unknown {
  if (error instanceof PlatformError || !isFsError(error)) return error;
  if (
    error instanceof Deno.errors.NotADirectory || error instanceof Deno.errors.IsADirectory ||
    error instanceof Deno.errors.AlreadyExists
  ) {
    return storeError(
      "key_conflict",
      `Cannot write '${input}': on the local store a key cannot be both an object and a folder ` +
        `(e.g. 'a' and 'a/b'). Choose keys that do not nest inside each other.`,
      input,
      error,
    );
  }
  if (/\(os error 36\)/.test(error.message)) {
    return storeError(
      "invalid_key",
      `Invalid object key '${input}': a name between slashes is longer than the local file ` +
        `system allows (255 bytes). Use shorter names.`,
      input,
      error,
    );
  }
  if (lastingFailure(error) === "disk_full") {
    return new DiskFullError(`lake object '${input}' (at ${path})`, path, {
      folder: path,
      input,
      resourceKey: RESOURCE_KEY,
      cause: error,
    });
  }
  const code = error instanceof Deno.errors.PermissionDenied ? "access_denied" : "io_failed";
  return storeError(code, `Cannot access '${input}' at ${path}: ${error.message}`, input, error);
}

function isFsError(error: unknown): error is Error {
  if (!(error instanceof Error)) return false;
  if (Object.values(Deno.errors).some((kind) => error instanceof kind)) return true;
  return /\(os error \d+\)/.test(error.message);
}
