/**
 * A Shapefile's `.dbf` Date values that are not dates, found before GDAL
 * reads them: GDAL publishes them garbled or as something else, without an
 * error. Measured with GDAL 3.6: `20241345` is read as the impossible date
 * 2024-13-45 (then NULL, with only a warning, wherever it is written as a
 * date), `2024XX01` as 0000-20-24. A blank value (spaces, or `00000000`)
 * is a null date, as every reader takes it, and is left alone.
 *
 * Reads the `.dbf` once, streaming, only when it has Date fields; records
 * flagged deleted are skipped, as GDAL skips them.
 *
 * @module
 */

/** One Date value that is not a date. */
export interface BadDate {
  /** The field's name. */
  field: string;
  /** The record's place in the file, from 1 (a spreadsheet's row). */
  row: number;
  /** The eight characters as stored. */
  value: string;
}

/** Most bad values listed (the first ones in the file). */
const MAX_LISTED = 5;

const latin1 = new TextDecoder("latin1");

/** Whether eight `.dbf` date characters are a date, or a blank (null) one. */
export function isDateOrBlank(value: string): boolean {
  if (/^[ 0]*$/.test(value)) return true;
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (!match) return false;
  return isCalendarDay(Number(match[1]), Number(match[2]), Number(match[3]));
}

/** Whether year, month and day make a day of the (proleptic) Gregorian calendar. */
export function isCalendarDay(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const days = new Date(Date.UTC(2000, month, 0)).getUTCDate(); // a leap year: Feb 29
  if (day > days) return false;
  return month !== 2 || day !== 29 ||
    (year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0));
}

/**
 * The Date values of the `.dbf` at `dbf` that are not dates (at most
 * {@linkcode MAX_LISTED}); `[]` when there are none, no Date field, or no
 * such file.
 */
export async function badDbfDates(dbf: string): Promise<BadDate[]> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(dbf);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  // The stream closes the file when it ends or is canceled.
  const reader = file.readable.getReader({ mode: "byob" });
  let buffer = new Uint8Array(0);
  let ended = false;
  /** Waits until `n` bytes are buffered (fewer only at the end of the file). */
  const need = async (n: number) => {
    while (buffer.length < n && !ended) {
      const { value, done } = await reader.read(new Uint8Array(1 << 20));
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
    if (buffer.length < 32) return [];
    const view = new DataView(buffer.buffer, buffer.byteOffset);
    const records = view.getUint32(4, true);
    const headerLength = view.getUint16(8, true);
    const recordLength = view.getUint16(10, true);
    await need(headerLength);
    const dates: { name: string; offset: number }[] = [];
    let offset = 1; // the deletion flag
    for (let at = 32; at + 32 <= headerLength && buffer[at] !== 0x0d; at += 32) {
      const length = buffer[at + 16]!;
      if (buffer[at + 11] === 0x44 /* D */ && length === 8) {
        const raw = latin1.decode(buffer.subarray(at, at + 11));
        dates.push({ name: raw.replace(/\0.*$/s, ""), offset });
      }
      offset += length;
    }
    if (dates.length === 0 || recordLength === 0) return [];
    buffer = buffer.subarray(headerLength);
    const bad: BadDate[] = [];
    for (let row = 1; row <= records && bad.length < MAX_LISTED; row++) {
      await need(recordLength);
      if (buffer.length < recordLength) break;
      if (buffer[0] !== 0x2a /* * deleted */) {
        for (const { name, offset } of dates) {
          const value = latin1.decode(buffer.subarray(offset, offset + 8));
          if (!isDateOrBlank(value)) bad.push({ field: name, row, value });
        }
      }
      buffer = buffer.subarray(recordLength);
    }
    return bad.slice(0, MAX_LISTED);
  } finally {
    await reader.cancel().catch(() => {});
  }
}
