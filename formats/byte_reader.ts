/**
 * Ranged reads as the format readers see them: a function returning `length`
 * bytes at `offset` (fewer at the end of the object). The object store's
 * ranged `getBytes`, a local file or an in-memory buffer all fit, so the
 * readers never hold a whole object in memory and never know where it lives.
 *
 * @module
 */

/** Reads `length` bytes at `offset` (fewer at the end of the object). */
export type ByteReader = (offset: number, length: number) => Promise<Uint8Array>;

/** Bytes cached by {@linkcode cachedReader}: the header, ghost area and IFDs of a COG sit in them. */
export const FIRST_CHUNK = 64 * 1024;

/**
 * Caches the first {@linkcode FIRST_CHUNK} bytes of an object, where a COG
 * keeps all its IFDs, so many small reads there cost one request.
 *
 * @example
 * ```ts
 * import { bytesReader, cachedReader } from "./byte_reader.ts";
 * const read = cachedReader(bytesReader(new Uint8Array(100)));
 * console.log((await read(10, 4)).length); // 4
 * ```
 */
export function cachedReader(read: ByteReader): ByteReader {
  let first: Promise<Uint8Array> | undefined;
  return async (offset, length) => {
    if (offset + length <= FIRST_CHUNK) {
      first ??= read(0, FIRST_CHUNK);
      const bytes = await first;
      if (offset + length <= bytes.length) return bytes.subarray(offset, offset + length);
    }
    return await read(offset, length);
  };
}

/** A {@linkcode ByteReader} over bytes in memory (tests, small objects). */
export function bytesReader(bytes: Uint8Array): ByteReader {
  return (offset, length) =>
    Promise.resolve(bytes.subarray(Math.min(offset, bytes.length), offset + length));
}

/** A {@linkcode ByteReader} over a local file. */
export function fileReader(file: Deno.FsFile): ByteReader {
  return async (offset, length) => {
    await file.seek(offset, Deno.SeekMode.Start);
    const buffer = new Uint8Array(length);
    let filled = 0;
    while (filled < length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return buffer.subarray(0, filled);
  };
}
