/**
 * The files in a zip archive, read from its central directory (the end of
 * the file), and the content of one small entry. A Shapefile downloaded from
 * a portal often sits in a folder of its zip (`export/data/parcels.shp`),
 * which GDAL does not look into when opening the zip itself, so the pipeline
 * finds it here first; and a zipped `.dbf` is read here to tell its code
 * page (see assets/spatial/_dbf_encoding.ts). GDAL's `/vsizip/` reads the
 * data itself.
 *
 * Hand-written: deno.json has no zip library, and listing names takes only
 * the end-of-central-directory record and the fixed-size part of each
 * central directory entry (APPNOTE 4.3.12, 4.3.16; ZIP64 archives, over
 * 65,535 entries or 4 GiB, read their locator 4.3.15). It reads at
 * most 64 KiB of the archive's end, then the directory itself. An entry's
 * content is its local header (4.3.7) and its data, stored or deflated
 * (the web platform's `DecompressionStream("deflate-raw")` inflates it).
 *
 * @module
 */

/** The archive is not a zip (no end-of-central-directory record) or is cut short. */
export class ZipListingError extends Error {}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
/** A 32-bit size or offset field that says "see the ZIP64 extra field". */
const ZIP64_MARK = 0xffffffff;

/** One file of a zip archive, as its central directory describes it. */
export interface ZipEntry {
  /** Path inside the archive, `/`-separated. */
  name: string;
  /** Compression method: 0 stored, 8 deflated (others are not read here). */
  method: number;
  /** Bytes of the compressed data. */
  compressedSize: number;
  /** Bytes once inflated. */
  size: number;
  /** Where its local header starts. */
  offset: number;
}

/** Reads `length` bytes at `offset` of an open file. */
async function readAt(file: Deno.FsFile, offset: number, length: number): Promise<DataView> {
  const bytes = new Uint8Array(length);
  await file.seek(offset, Deno.SeekMode.Start);
  let done = 0;
  while (done < length) {
    const n = await file.read(bytes.subarray(done));
    if (n === null) throw new ZipListingError("the zip archive is cut short");
    done += n;
  }
  return new DataView(bytes.buffer);
}

/** The names (paths inside the archive, `/`-separated) of every entry of the zip at `hostPath`. */
export async function zipNames(hostPath: string): Promise<string[]> {
  return (await zipEntries(hostPath)).map((e) => e.name);
}

/** Every entry of the zip at `hostPath`, from its central directory. */
export async function zipEntries(hostPath: string): Promise<ZipEntry[]> {
  using file = await Deno.open(hostPath);
  const size = (await file.stat()).size;
  const tail = Math.min(size, 22 + 65_535);
  const end = await readAt(file, size - tail, tail);
  let at = -1;
  for (let i = tail - 22; i >= 0; i--) {
    if (end.getUint32(i, true) === EOCD) {
      at = i;
      break;
    }
  }
  if (at < 0) throw new ZipListingError("no zip central directory found");
  let count = end.getUint16(at + 10, true);
  let length = end.getUint32(at + 12, true);
  let offset = end.getUint32(at + 16, true);
  if (at >= 20 && end.getUint32(at - 20, true) === ZIP64_LOCATOR) {
    const record = await readAt(file, Number(end.getBigUint64(at - 12, true)), 56);
    if (record.getUint32(0, true) !== ZIP64_EOCD) throw new ZipListingError("bad ZIP64 record");
    count = Number(record.getBigUint64(32, true));
    length = Number(record.getBigUint64(40, true));
    offset = Number(record.getBigUint64(48, true));
  }
  const directory = await readAt(file, offset, length);
  const decoder = new TextDecoder();
  const entries: ZipEntry[] = [];
  for (let p = 0, i = 0; i < count; i++) {
    if (directory.getUint32(p, true) !== CENTRAL) {
      throw new ZipListingError("bad central directory");
    }
    const nameLength = directory.getUint16(p + 28, true);
    const extraLength = directory.getUint16(p + 30, true);
    const commentLength = directory.getUint16(p + 32, true);
    entries.push({
      name: decoder.decode(new Uint8Array(directory.buffer, p + 46, nameLength))
        .replaceAll("\\", "/"),
      method: directory.getUint16(p + 10, true),
      compressedSize: directory.getUint32(p + 20, true),
      size: directory.getUint32(p + 24, true),
      offset: directory.getUint32(p + 42, true),
    });
    p += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

/**
 * The content of `entry` of the zip at `hostPath`, inflated, as a stream.
 * Throws {@linkcode ZipListingError} for what this reader does not take:
 * another method than stored or deflated, encryption, ZIP64 sizes.
 */
export async function zipEntryStream(
  hostPath: string,
  entry: ZipEntry,
): Promise<ReadableStream<Uint8Array>> {
  if (entry.method !== 0 && entry.method !== 8) {
    throw new ZipListingError(`compression method ${entry.method} of '${entry.name}'`);
  }
  if ([entry.compressedSize, entry.size, entry.offset].includes(ZIP64_MARK)) {
    throw new ZipListingError(`'${entry.name}' is a ZIP64 entry`);
  }
  const file = await Deno.open(hostPath);
  try {
    const local = await readAt(file, entry.offset, 30);
    if (local.getUint32(0, true) !== LOCAL) throw new ZipListingError("bad local header");
    if (local.getUint16(6, true) & 1) throw new ZipListingError(`'${entry.name}' is encrypted`);
    await file.seek(
      entry.offset + 30 + local.getUint16(26, true) + local.getUint16(28, true),
      Deno.SeekMode.Start,
    );
  } catch (error) {
    file.close();
    throw error;
  }
  let left = entry.compressedSize;
  const data = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const chunk = new Uint8Array(Math.min(left, 1 << 16));
      const n = left === 0 ? null : await file.read(chunk);
      if (n === null) {
        file.close();
        if (left > 0) controller.error(new ZipListingError("the zip archive is cut short"));
        else controller.close();
        return;
      }
      left -= n;
      controller.enqueue(chunk.subarray(0, n));
    },
    cancel() {
      file.close();
    },
  });
  if (entry.method === 0) return data;
  const inflate = new DecompressionStream("deflate-raw");
  return data.pipeThrough({
    writable: inflate.writable as WritableStream<Uint8Array>,
    readable: inflate.readable,
  });
}
