/**
 * Whether a CSV was cut off inside its last row. GDAL's CSV reader fills
 * the columns a row lacks with nulls, without a word: measured with GDAL 3.6
 * on both engines, `2,-110.25,45.7` under the header `id,lon,lat,name` (the
 * upload stopped in `45.75,b`) was published as a point at latitude 45.7
 * with no name. A row cut off so has no line end and fewer columns than the
 * header and than the row before it; a complete file may lack its last line
 * end, and a writer may leave trailing empty columns out, but not both at
 * once in its last row only.
 *
 * A cut that leaves every column (inside the last value) cannot be told
 * from a complete row and is not caught.
 *
 * @module
 */

/** What {@linkcode csvCutShort} found: the last row, its columns and the header's. */
export interface CsvCut {
  /** The last row as it is in the file, shortened to 80 characters. */
  row: string;
  columns: number;
  expected: number;
}

/** Bytes read at each end of the file: a header and two rows fit. */
const WINDOW = 1 << 16;

/**
 * The separator GDAL's CSV reader picks for a header line: the most frequent
 * of `,` `;` tab outside quotes (GDAL 3.6 tries them in this order and keeps
 * the one the header holds); `undefined` for a single-column header.
 */
function separatorOf(header: string): string | undefined {
  let best: string | undefined;
  let most = 0;
  for (const candidate of [",", ";", "\t"]) {
    const n = columnsOf(header, candidate) - 1;
    if (n > most) [best, most] = [candidate, n];
  }
  return best;
}

/** The number of columns of a CSV line split at `separator` outside quotes. */
function columnsOf(line: string, separator: string): number {
  let quoted = false;
  let columns = 1;
  for (const char of line) {
    if (char === '"') quoted = !quoted;
    else if (char === separator && !quoted) columns++;
  }
  return columns;
}

/**
 * The last record of `tail` (the end of a CSV, which has no unclosed quote: that is refused
 * before) and the one before it, or `undefined` when the tail holds no whole record before
 * the last. A line end is a record's end only outside quotes, which is where an even number
 * of quote characters follows it to the end of the file: a quoted value may hold line ends
 * (`"line one\nline two"`), and its last line is not a row of its own. `whole`: the tail is
 * the whole file, so its first record (the header) counts.
 */
function lastRecords(
  tail: string,
  whole: boolean,
): { last: string; before: string } | undefined {
  const ends: number[] = [];
  let quotes = 0;
  for (let i = tail.length - 1; i >= 0 && ends.length < 2; i--) {
    const char = tail[i];
    if (char === '"') quotes++;
    else if (char === "\n" && quotes % 2 === 0) ends.push(i);
  }
  const [lastEnd, beforeEnd] = ends;
  // The header alone, or a record longer than the window (the tail starts inside it):
  // nothing to compare with.
  if (lastEnd === undefined || (beforeEnd === undefined && !whole)) return undefined;
  return {
    last: tail.slice(lastEnd + 1),
    before: tail.slice(beforeEnd === undefined ? 0 : beforeEnd + 1, lastEnd).replace(/\r$/, "")
      .replace(/^\uFEFF/, ""),
  };
}

/** The CSV at `path` cut off inside its last row, or `undefined` (see the module doc). */
export async function csvCutShort(path: string): Promise<CsvCut | undefined> {
  using file = await Deno.open(path);
  const { size } = await file.stat();
  if (size === 0) return undefined;
  const read = async (at: number, length: number) => {
    const buffer = new Uint8Array(length);
    await file.seek(at, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < length) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    return new TextDecoder().decode(buffer.subarray(0, filled));
  };
  const tail = await read(Math.max(0, size - WINDOW), Math.min(size, WINDOW));
  if (/[\r\n]$/.test(tail)) return undefined;
  const head = size <= WINDOW ? tail : await read(0, WINDOW);
  const header = head.replace(/^\uFEFF/, "").split(/\r?\n/)[0]!;
  const separator = separatorOf(header);
  if (separator === undefined) return undefined;
  const records = lastRecords(tail, size <= WINDOW);
  if (records === undefined) return undefined;
  const { last, before } = records;
  const expected = columnsOf(header, separator);
  const columns = columnsOf(last, separator);
  if (columns >= expected || columns >= columnsOf(before, separator)) return undefined;
  return { row: last.length > 80 ? `${last.slice(0, 77)}...` : last, columns, expected };
}
