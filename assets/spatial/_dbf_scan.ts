/**
 * One streaming pass over the values of some fields of a `.dbf`, for the
 * checks that find what GDAL would publish changed (`_dbf_dates.ts`,
 * `_dbf_numbers.ts`) and for the records flagged deleted, which the `.shp`
 * counts and GDAL skips. Records flagged deleted are skipped, as GDAL skips
 * them; values are read as Latin-1 text (the checks look at digits only).
 *
 * @module
 */

import { zipEntries, zipEntryStream, ZipListingError } from "../../formats/zip_names.ts";

/** A field of a `.dbf` header. */
export interface DbfField {
  /** Its name (up to 10 characters). */
  name: string;
  /** Its type letter: C, N, F, D, L... */
  type: string;
  /** Its width in characters. */
  length: number;
  /** Its decimal count (N and F fields). */
  decimals: number;
}

const latin1 = new TextDecoder("latin1");

/**
 * Reads the `.dbf` at `dbf` (a path, or its bytes, e.g. a zip entry's;
 * nothing when there is no such file, or none of its fields is `select`ed)
 * and calls `visit` with each selected field's
 * value of each record, the record's place from 1; stops when `visit`
 * returns false. `onDeleted` is called with the place of each record flagged
 * deleted (which `visit` never sees).
 */
export async function scanDbf(
  dbf: string | ReadableStream<Uint8Array>,
  select: (field: DbfField) => boolean,
  visit: (field: DbfField, row: number, value: string) => boolean,
  onDeleted?: (row: number) => void,
): Promise<void> {
  let stream: ReadableStream<Uint8Array>;
  if (typeof dbf === "string") {
    try {
      // The stream closes the file when it ends or is canceled.
      stream = (await Deno.open(dbf)).readable;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
  } else stream = dbf;
  const reader = stream.getReader();
  let buffer = new Uint8Array(0);
  let ended = false;
  /** Waits until `n` bytes are buffered (fewer only at the end of the file). */
  const need = async (n: number) => {
    while (buffer.length < n && !ended) {
      const { value, done } = await reader.read();
      if (done || value === undefined) ended = true;
      else {
        const grown = new Uint8Array(buffer.length + value.length);
        grown.set(buffer);
        grown.set(value, buffer.length);
        buffer = grown;
      }
    }
  };
  try {
    await need(32);
    if (buffer.length < 32) return;
    const view = new DataView(buffer.buffer, buffer.byteOffset);
    const records = view.getUint32(4, true);
    const headerLength = view.getUint16(8, true);
    const recordLength = view.getUint16(10, true);
    await need(headerLength);
    const fields: { field: DbfField; offset: number }[] = [];
    let offset = 1; // the deletion flag
    for (let at = 32; at + 32 <= headerLength && buffer[at] !== 0x0d; at += 32) {
      const field: DbfField = {
        name: latin1.decode(buffer.subarray(at, at + 11)).replace(/\0.*$/s, ""),
        type: String.fromCharCode(buffer[at + 11]!),
        length: buffer[at + 16]!,
        decimals: buffer[at + 17]!,
      };
      if (select(field)) fields.push({ field, offset });
      offset += field.length;
    }
    if (fields.length === 0 || recordLength === 0) return;
    buffer = buffer.subarray(headerLength);
    for (let row = 1; row <= records; row++) {
      await need(recordLength);
      if (buffer.length < recordLength) break;
      if (buffer[0] === 0x2a /* * deleted */) onDeleted?.(row);
      else {
        for (const { field, offset } of fields) {
          const value = latin1.decode(buffer.subarray(offset, offset + field.length));
          if (!visit(field, row, value)) return;
        }
      }
      buffer = buffer.subarray(recordLength);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
}

/**
 * How many records of the `.dbf` of the Shapefile layer `layer` at `shp` (a
 * `.shp`, or a zip, `<zip>/<path inside>.shp` or `<zip>/<folder>` as GDAL
 * opens them) are flagged deleted (`*`: an edit in dBASE or ArcView never
 * packed). The `.shp` header counts them as features and GDAL, like every
 * GIS, skips them when reading; 0 when there is no such `.dbf`, or the zip
 * cannot be read here.
 */
export async function deletedDbfRecords(shp: string, layer: string): Promise<number> {
  let deleted = 0;
  const count = async (dbf: string | ReadableStream<Uint8Array>) => {
    let fields = 0;
    // One field selected (the scan reads nothing of a .dbf without), its values unused.
    await scanDbf(dbf, () => fields++ === 0, () => true, () => deleted++);
    return fields > 0;
  };
  const zip = shp.match(/^(.*?\.zip)(?:\/(.+))?$/i);
  if (zip) {
    const inner = zip[2]?.replace(/\.shp$/i, "");
    const wanted = (inner !== undefined && /\.shp$/i.test(zip[2]!) ? inner : layer).toLowerCase();
    try {
      const entry = (await zipEntries(zip[1]!)).find((e) => {
        const name = e.name.toLowerCase();
        return name === `${wanted}.dbf` || name.endsWith(`/${wanted}.dbf`);
      });
      if (entry !== undefined) await count(await zipEntryStream(zip[1]!, entry));
    } catch (error) {
      if (!(error instanceof ZipListingError)) throw error;
    }
    return deleted;
  }
  if (!/\.shp$/i.test(shp)) return 0;
  const stem = shp.slice(0, -4);
  for (const dbf of [`${stem}.dbf`, `${stem}.DBF`]) {
    if (await count(dbf)) return deleted;
  }
  return deleted;
}
