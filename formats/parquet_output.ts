/**
 * Writes a Parquet byte stream (parquet-wasm's output) to a file in one
 * pass: one key-value metadata value of its footer is replaced on the way
 * (the GeoParquet writer's reserved `geo` value, known only once every row
 * was written), and the file's SHA-256 is computed from the bytes as they
 * are written, so that publishing does not read the file again to hash it.
 *
 * The end of the stream is held back in memory (about
 * {@linkcode HELD_BYTES}) until the stream ends: the footer, which sits at
 * the very end, is patched there before it reaches the disk. A footer longer
 * than what was held (tens of thousands of row groups) is patched in the file
 * afterwards, and the file is then hashed again from the disk: same result,
 * one more read.
 *
 * Before, the writer wrote the file, opened it again to patch the footer,
 * and publishing read it once more to hash it (1M points, ~40 MB: ~40 ms of
 * hashing and reading on top of the batch, bench/spatial.ts).
 *
 * @module
 */

import { createHash } from "node:crypto";
import { GeoParquetError } from "./geoparquet_errors.ts";

/** Size and SHA-256 of a file as written. */
export interface WrittenFile {
  /** Bytes in the file. */
  size: number;
  /** Lowercase hex SHA-256 of its bytes. */
  sha256: string;
}

/**
 * Bytes of the stream's end kept in memory until it ends. A footer holds a
 * few hundred bytes per column and row group plus the key-value metadata: a
 * 1.77M-polygon layer's is ~200 KB.
 */
export const HELD_BYTES = 2 ** 20;

/**
 * The bytes `value` replaces `reserved` with: `value` padded with spaces to
 * the same length. `path` (here and below) is what messages name: the
 * user's file when the caller gave it.
 */
function padded(path: string, reserved: Uint8Array, value: string): Uint8Array {
  const bytes = new TextEncoder().encode(value);
  if (bytes.length > reserved.length) {
    throw new GeoParquetError(
      "spatial.geoparquet_metadata",
      `Cannot write GeoParquet for '${path}': its geo metadata (${bytes.length} bytes) outgrew the ` +
        `${reserved.length} bytes reserved for it.`,
      { input: path },
    );
  }
  const out = new Uint8Array(reserved.length).fill(0x20);
  out.set(bytes);
  return out;
}

/** Index of `needle` in `haystack`, or -1. */
function indexOfBytes(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  outer: for (
    let i = haystack.indexOf(first!);
    i >= 0 && i <= haystack.length - needle.length;
    i = haystack.indexOf(first!, i + 1)
  ) {
    for (let j = 1; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

function notInFooter(path: string): GeoParquetError {
  return new GeoParquetError(
    "spatial.geoparquet_metadata",
    `Cannot write GeoParquet for '${path}': the reserved geo metadata is not in its footer.`,
    { input: path },
  );
}

async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  let written = 0;
  while (written < bytes.length) written += await file.write(bytes.subarray(written));
}

async function readExactly(file: Deno.FsFile, into: Uint8Array): Promise<void> {
  let read = 0;
  while (read < into.length) {
    const n = await file.read(into.subarray(read));
    if (n === null) throw new RangeError("unexpected end of file");
    read += n;
  }
}

/**
 * Where the footer of the Parquet bytes `tail` (the end of a file) starts in
 * `tail`: negative when it starts before them.
 */
function footerStart(path: string, tail: Uint8Array): number {
  const magic = tail.length >= 8 && new TextDecoder().decode(tail.subarray(tail.length - 4));
  if (magic !== "PAR1") {
    throw new GeoParquetError(
      "spatial.geoparquet_metadata",
      `Cannot write GeoParquet for '${path}': the writer's output does not end as a Parquet file.`,
      { input: path },
    );
  }
  const length = new DataView(tail.buffer, tail.byteOffset + tail.length - 8, 4).getUint32(0, true);
  return tail.length - 8 - length;
}

/** Patches the footer of the file at `path` on the disk (a footer longer than the held bytes). */
async function patchOnDisk(
  path: string,
  reserved: Uint8Array,
  value: Uint8Array,
  name: string,
): Promise<void> {
  using file = await Deno.open(path, { read: true, write: true });
  const size = (await file.stat()).size;
  const tail = new Uint8Array(Math.min(size, 8));
  await file.seek(size - tail.length, Deno.SeekMode.Start);
  await readExactly(file, tail);
  const start = size - tail.length + footerStart(name, tail);
  const footer = new Uint8Array(size - 8 - start);
  await file.seek(start, Deno.SeekMode.Start);
  await readExactly(file, footer);
  const at = indexOfBytes(footer, reserved);
  if (at < 0) throw notInFooter(name);
  await file.seek(start + at, Deno.SeekMode.Start);
  await writeAll(file, value);
}

async function hashOnDisk(path: string): Promise<WrittenFile> {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(2 ** 20);
  let size = 0;
  using file = await Deno.open(path);
  for (let n = await file.read(chunk); n !== null; n = await file.read(chunk)) {
    hash.update(chunk.subarray(0, n));
    size += n;
  }
  return { size, sha256: hash.digest("hex") };
}

/**
 * Writes `bytes` (a whole Parquet file) to `path` (replaced), with the
 * footer's key-value metadata value `reserved` replaced by `value()` padded
 * with spaces to the same length (`value` is called once the stream ended);
 * returns the size and SHA-256 of the file written.
 */
export async function writeParquetPatched(
  bytes: ReadableStream<Uint8Array>,
  path: string,
  reserved: string,
  value: () => string,
  options: {
    heldBytes?: number;
    /** The user's file the Parquet is made from, named in messages instead of `path` (a scratch file). */
    label?: string;
  } = {},
): Promise<WrittenFile> {
  const heldBytes = options.heldBytes ?? HELD_BYTES;
  const name = options.label ?? path;
  const reservedBytes = new TextEncoder().encode(reserved);
  const hash = createHash("sha256");
  let size = 0;
  const held: Uint8Array[] = [];
  let heldSize = 0;
  let patch: Uint8Array;
  {
    using file = await Deno.open(path, { write: true, create: true, truncate: true });
    for await (const chunk of bytes) {
      held.push(chunk);
      heldSize += chunk.length;
      // Written once what stays held is enough without it.
      while (held.length > 1 && heldSize - held[0]!.length >= heldBytes) {
        const out = held.shift()!;
        heldSize -= out.length;
        hash.update(out);
        size += out.length;
        await writeAll(file, out);
      }
    }
    const tail = new Uint8Array(heldSize);
    let at = 0;
    for (const chunk of held) {
      tail.set(chunk, at);
      at += chunk.length;
    }
    const start = footerStart(name, tail);
    patch = padded(name, reservedBytes, value());
    if (start < 0) {
      await writeAll(file, tail);
    } else {
      const found = indexOfBytes(tail.subarray(start, tail.length - 8), reservedBytes);
      if (found < 0) throw notInFooter(name);
      tail.set(patch, start + found);
      hash.update(tail);
      await writeAll(file, tail);
      return { size: size + tail.length, sha256: hash.digest("hex") };
    }
  }
  // The footer began before the held bytes: patched on the disk, hashed from there.
  await patchOnDisk(path, reservedBytes, patch, name);
  return await hashOnDisk(path);
}
