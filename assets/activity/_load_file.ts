/**
 * Loads one activity drop into its `raw.*` table in one transaction: delete
 * the rows of the file's previous version, stream the file through the CSV
 * reader and the row parser into COPY, check the bad-row tolerance, record
 * the manifest row. Any problem of the file itself rolls everything back and
 * comes out as a {@linkcode FileRejectedError}; anything else is rethrown.
 *
 * @module
 */

import type { ObjectStore } from "../../resources/object_store/types.ts";
import { WarehouseQueryError } from "../../resources/warehouse/errors.ts";
import type { SqlValue, Warehouse } from "../../resources/warehouse/types.ts";
import {
  AmbiguousDateOrderError,
  type BadValue,
  checkExcelSeparator,
  DayFirstDateError,
  type DropKind,
  DuplicateColumnsError,
  excelSeparator,
  FileStats,
  loadColumns,
  MissingColumnsError,
  RowParser,
} from "./_columns.ts";
import { InvalidUtf8Error, NotCsvTextError, readCsv, RecordTooLongError } from "./_csv.ts";
import { deleteRowsOf, lockFile, manifestEntry, upsertManifest } from "./_warehouse.ts";
import { FileRejectedError } from "./errors.ts";

/** Bad values kept for a report; the totals are always exact. */
export const MAX_LISTED_ERRORS = 100;

/** What {@linkcode loadFile} needs. */
export interface LoadFileInput {
  readonly warehouse: Warehouse;
  readonly lake: ObjectStore;
  readonly bucket: string;
  readonly key: string;
  /** File name, as in the manifest and in `source_file`. */
  readonly name: string;
  readonly kind: DropKind;
  /** SHA-256 recorded in the manifest. */
  readonly sha256: string;
  /** Largest accepted `bad_rows / data_rows`. */
  readonly tolerance: number;
  /** The last date a row may carry (`YYYY-MM-DD`); later ones are bad rows. */
  readonly latestDate: string;
  readonly signal: AbortSignal;
  /** Told every {@linkcode PROGRESS_ROWS} data rows read, for progress lines on big files. */
  readonly onProgress?: (rowsRead: number) => void;
}

/** Data rows between two progress reports. */
export const PROGRESS_ROWS = 1_000_000;

/** What became of one file. */
export type FileOutcome =
  | {
    /** Another run loaded the same bytes while this one waited for the file's lock. */
    readonly status: "skipped";
  }
  | {
    readonly status: "loaded";
    /** Rows loaded. */
    readonly rows: number;
    /** Rows of the previous version deleted first. */
    readonly replaced: number;
    readonly stats: FileStats;
  }
  | {
    readonly status: "rejected";
    readonly error: FileRejectedError;
    readonly stats: FileStats;
    /** The header, when it could be read. */
    readonly header: readonly string[] | null;
    readonly missingColumns: readonly string[];
    readonly encodingError: { byte_offset: number; line: number } | null;
  };

/** Loads (or rejects) one file; see the module doc. */
export async function loadFile(input: LoadFileInput): Promise<FileOutcome> {
  const { warehouse, lake, kind, name } = input;
  const stats = new FileStats(MAX_LISTED_ERRORS);
  const seen: { header: readonly string[] | null } = { header: null };
  try {
    const loaded = await warehouse.transaction(async (tx) => {
      // Two runs loading the same file at once would collide on the unique
      // key (and quarantine a good file) or duplicate sleep rows: the second
      // waits here, then sees the first's manifest row.
      await lockFile(tx, name);
      const current = await manifestEntry(tx, name);
      if (current?.status === "loaded" && current.checksum_sha256 === input.sha256) {
        return undefined;
      }
      const replaced = await deleteRowsOf(tx, kind, name);
      const object = await lake.get(input.bucket, input.key);
      try {
        let rows: number;
        try {
          rows = await tx.bulkLoad(
            kind.table,
            loadColumns(kind),
            rowsOf(object.body, input, stats, seen),
          );
        } catch (error) {
          // A user and day twice: the unique key of raw.daily_activity says so.
          if (error instanceof WarehouseQueryError && error.sqlState === "23505") {
            throw (await duplicateRows(input)) ?? error;
          }
          throw error;
        }
        if (!kind.uniqueDays && await hasRepeatedDays(tx, kind, name)) {
          throw (await duplicateRows(input)) ?? new FileRejectedError(
            "duplicate_rows",
            name,
            "it holds one user twice on one day; remove the repeats and drop the file again",
          );
        }
        if (seen.header === null) {
          throw new FileRejectedError(
            "empty_file",
            name,
            "the file is empty; drop it again with a header line and rows",
          );
        }
        const ratio = stats.dataRows === 0 ? 0 : stats.badRows / stats.dataRows;
        if (ratio > input.tolerance) throw tooManyBadRows(name, stats, ratio, input.tolerance);
        await upsertManifest(tx, {
          source_filename: name,
          checksum_sha256: input.sha256,
          row_count: rows,
          status: "loaded",
        });
        return { rows, replaced };
      } finally {
        if (!object.body.locked) await object.body.cancel().catch(() => {}); // never read
      }
    });
    if (loaded === undefined) return { status: "skipped" };
    return { status: "loaded", rows: loaded.rows, replaced: loaded.replaced, stats };
  } catch (error) {
    const rejected = asRejection(error, name);
    if (!rejected) throw error;
    return {
      status: "rejected",
      error: rejected,
      stats,
      header: seen.header,
      missingColumns: error instanceof MissingColumnsError ? error.missing : [],
      encodingError: error instanceof InvalidUtf8Error
        ? { byte_offset: error.byteOffset, line: error.line }
        : null,
    };
  }
}

/**
 * The rows to load, parsed from the file's byte stream as COPY pulls them.
 * Rows come one at a time (that is what `bulkLoad` takes) but are produced a
 * chunk at a time: see {@linkcode flatten}.
 */
function rowsOf(
  body: ReadableStream<Uint8Array>,
  input: LoadFileInput,
  stats: FileStats,
  seen: { header: readonly string[] | null },
): AsyncIterable<SqlValue[]> {
  return flatten(rowBatches(body, input, stats, seen));
}

async function* rowBatches(
  body: ReadableStream<Uint8Array>,
  input: LoadFileInput,
  stats: FileStats,
  seen: { header: readonly string[] | null },
): AsyncGenerator<SqlValue[][]> {
  let parser: RowParser | undefined;
  let first = true;
  for await (const records of readCsv(body, { signal: input.signal })) {
    let i = 0;
    if (parser === undefined) {
      // Excel's 'sep=,' line before the header (a locale's export): skipped, as Excel does.
      const separator = first && records[0] ? excelSeparator(records[0]) : undefined;
      if (records.length > 0) first = false;
      if (separator !== undefined) {
        checkExcelSeparator(input.kind, separator);
        i = 1;
      }
      const header = records[i];
      if (header === undefined) continue;
      seen.header = header.fields;
      parser = RowParser.fromHeader(input.kind, header, input.name, stats, {
        latestDate: input.latestDate,
      });
      i++;
    }
    const rows: SqlValue[][] = [];
    const before = stats.dataRows;
    for (; i < records.length; i++) {
      const row = parser.parse(records[i]!);
      if (row !== undefined) rows.push(row);
    }
    if (Math.floor(stats.dataRows / PROGRESS_ROWS) > Math.floor(before / PROGRESS_ROWS)) {
      input.onProgress?.(stats.dataRows);
    }
    if (rows.length > 0) yield rows;
  }
  parser?.finish();
}

/**
 * One item at a time from batches. A hand-written iterator rather than an
 * async generator: `yield` in an async generator costs several promise turns
 * per row, which measured as about a quarter of the parse time on a
 * million-row file; here a row costs one resolved promise.
 */
function flatten<T>(batches: AsyncGenerator<T[]>): AsyncIterable<T> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<T> {
      let batch: T[] = [];
      let i = 0;
      return {
        async next(): Promise<IteratorResult<T>> {
          while (i >= batch.length) {
            const next = await batches.next();
            if (next.done) return { done: true, value: undefined };
            batch = next.value;
            i = 0;
          }
          return { done: false, value: batch[i++] as T };
        },
        async return(): Promise<IteratorResult<T>> {
          await batches.return(undefined); // closes the reader: the stream is canceled
          return { done: true, value: undefined };
        },
      };
    },
  };
}

/**
 * Whether the rows just loaded from `name` hold one user twice on one day
 * (sleep has no unique key to say so, and some exports repeat rows).
 */
async function hasRepeatedDays(
  tx: Pick<Warehouse, "query">,
  kind: DropKind,
  name: string,
): Promise<boolean> {
  const [user, day] = kind.columns.map((c) => c.column);
  const table = `${kind.table.schema}.${kind.table.name}`;
  const found = await tx.query(
    `SELECT 1 AS found FROM ${table} WHERE source_file = $1 ` +
      `GROUP BY ${user}, ${day} HAVING count(*) > 1 LIMIT 1`,
    [name],
  );
  return found.length > 0;
}

/** Pairs of repeated rows named in a report, at most. */
const MAX_LISTED_DUPLICATES = 20;

/**
 * The file's rejection naming the rows that repeat a user and day, found by
 * reading it once more (only after the warehouse said there are some, so a
 * good file is read once); `undefined` when the file itself holds none.
 * Remembers every (user, day) until the first repeat, then only the repeats.
 */
async function duplicateRows(input: LoadFileInput): Promise<FileRejectedError | undefined> {
  const stats = new FileStats(0);
  const first = new Map<string, { row: number; line: number }>();
  const pairs: { key: [string, string]; rows: [number, number]; lines: [number, number] }[] = [];
  let repeats = 0;
  let parser: RowParser | undefined;
  let firstRecord = true;
  const object = await input.lake.get(input.bucket, input.key);
  for await (const records of readCsv(object.body, { signal: input.signal })) {
    for (const record of records) {
      if (parser === undefined) {
        const sepLine = firstRecord && excelSeparator(record) !== undefined;
        firstRecord = false;
        if (sepLine) continue;
        parser = RowParser.fromHeader(input.kind, record, input.name, stats, {
          latestDate: input.latestDate,
        });
        continue;
      }
      const values = parser.parse(record);
      if (values === undefined) continue;
      const key = `${values[0]}\u0000${values[1]}`;
      const seen = first.get(key);
      if (seen === undefined) {
        if (repeats === 0) first.set(key, { row: stats.dataRows, line: record.line });
        continue;
      }
      repeats++;
      if (pairs.length < MAX_LISTED_DUPLICATES) {
        pairs.push({
          key: [String(values[0]), String(values[1])],
          rows: [seen.row, stats.dataRows],
          lines: [seen.line, record.line],
        });
      }
    }
  }
  const [one] = pairs;
  if (one === undefined) return undefined;
  const [user, day] = one.key;
  const rows: BadValue[] = pairs.map((pair) => ({
    row: pair.rows[1],
    line: pair.lines[1],
    column: null,
    value: null,
    problem: `repeats user '${pair.key[0]}' on ${pair.key[1]} of row ${pair.rows[0]} ` +
      `(line ${pair.lines[0]})`,
  }));
  return new FileRejectedError(
    "duplicate_rows",
    input.name,
    `rows ${one.rows[0]} and ${one.rows[1]} (lines ${one.lines[0]} and ${one.lines[1]}) are ` +
      `both user '${user}' on ${day}${
        repeats > 1 ? ` (and ${repeats - 1} more repeated row(s), listed in the report)` : ""
      }; a file holds one row per user and day: remove the repeats and drop the file again`,
    { rows },
  );
}

function tooManyBadRows(name: string, stats: FileStats, ratio: number, tolerance: number) {
  const first = stats.issues[0];
  const where = first
    ? ` (first: row ${first.row}${first.column ? `, column ${first.column}` : ""}: ${
      first.value === null ? "" : `'${first.value}' `
    }${first.problem})`
    : "";
  return new FileRejectedError(
    "too_many_bad_rows",
    name,
    `${stats.badRows} of ${stats.dataRows} rows (${percent(ratio)}) have bad values, ` +
      `more than ACTIVITY_BAD_ROW_TOLERANCE ${percent(tolerance)}${where}; ` +
      "fix the rows listed in the report and drop the file again",
  );
}

function percent(ratio: number): string {
  return `${Number((ratio * 100).toFixed(2))}%`;
}

/** The rejection a file's own problem means, or `undefined` for other failures. */
function asRejection(error: unknown, name: string): FileRejectedError | undefined {
  if (error instanceof FileRejectedError) return error;
  if (error instanceof DuplicateColumnsError) {
    return new FileRejectedError(
      "duplicate_columns",
      name,
      `${error.message}; keep one column of each name and drop the file again`,
      { cause: error },
    );
  }
  if (error instanceof MissingColumnsError) {
    return new FileRejectedError(
      "missing_columns",
      name,
      error.delimiter === undefined
        ? `${error.message}; add the column(s) and drop the file again`
        : `${error.message}; save it comma-separated (Excel: 'CSV UTF-8 (Comma delimited)') ` +
          "and drop it again",
      { cause: error },
    );
  }
  if (error instanceof DayFirstDateError) {
    return new FileRejectedError(
      "day_first_dates",
      name,
      `${error.message}; export the dates as YYYY-MM-DD (or M/D/YYYY) and drop the file again`,
      {
        cause: error,
        rows: [{
          row: error.row,
          line: error.line,
          column: error.column,
          value: error.value,
          problem: "is a day-first date (D/M/YYYY)",
        }],
      },
    );
  }
  if (error instanceof AmbiguousDateOrderError) {
    return new FileRejectedError(
      "day_first_dates",
      name,
      `${error.message}; export the dates as YYYY-MM-DD (or M/D/YYYY) and drop the file again`,
      { cause: error },
    );
  }
  if (error instanceof NotCsvTextError) {
    return new FileRejectedError(
      "invalid_encoding",
      name,
      `${error.what}, not CSV text in UTF-8; ${error.remedy}`,
      { cause: error },
    );
  }
  if (error instanceof InvalidUtf8Error) {
    return new FileRejectedError(
      "invalid_encoding",
      name,
      `the file is not UTF-8: ${error.message}; save it as UTF-8 and drop it again`,
      { cause: error },
    );
  }
  if (error instanceof RecordTooLongError) {
    return new FileRejectedError(
      "record_too_long",
      name,
      `${error.message} (a missing line end or an unclosed quote); fix it and drop the file again`,
      { cause: error },
    );
  }
  // Class 22 (data exception) and 23 (integrity, e.g. a user and day twice in one file).
  const state = error instanceof WarehouseQueryError ? error.sqlState : undefined;
  if (state && (state.startsWith("22") || state.startsWith("23"))) {
    // The server's reason, not the statement: the user wrote a file, not SQL.
    const why = (error as Error).message.replace(/^Cannot run ".*?" on the warehouse: /s, "");
    return new FileRejectedError(
      "load_failed",
      name,
      `the warehouse refused its rows: ${why}; fix the file and drop it again`,
      { cause: error },
    );
  }
  return undefined;
}
