/**
 * The two kinds of activity drop, their CSV columns, the `raw.*` columns they
 * load into, and the typed parser of one CSV row.
 *
 * Rows are parsed by hand, not with zod: a drop can hold millions of rows and
 * a per-row schema parse would cost more than the load itself. The shapes
 * people read (the rejection report, the manifest row) are zod schemas
 * (`report.ts`).
 *
 * @module
 */

import type { SqlValue, TableRef } from "../../resources/warehouse/types.ts";
import type { CsvRecord } from "./_csv.ts";

/** How a CSV value is read. */
export type ValueKind = "id" | "date" | "count" | "minutes" | "km";

/** One CSV column and the warehouse column it loads into. */
export interface ColumnSpec {
  /**
   * Header in the CSV (matched case-insensitively, surrounding spaces and
   * invisible format characters such as a zero-width space ignored).
   */
  readonly csv: string;
  /** Column of the `raw.*` table. */
  readonly column: string;
  /** How the value is parsed. */
  readonly kind: ValueKind;
}

/** A kind of drop: which files, which table, which columns. */
export interface DropKind {
  /** `daily_activity` or `sleep`. */
  readonly name: "daily_activity" | "sleep";
  /** File names of this kind, directly under `activity/` in the landing zone. */
  readonly pattern: RegExp;
  /** The table it loads into. */
  readonly table: TableRef;
  /** Columns in load order; `source_file` follows (`loaded_at` is the table's default). */
  readonly columns: readonly ColumnSpec[];
  /**
   * Whether the table's unique key refuses one user twice on one day of one
   * file (else the loader checks after loading).
   */
  readonly uniqueDays: boolean;
  /**
   * What must hold between the values of one row (each value already valid on
   * its own; blank optional ones are `null`): the problem, or `undefined`.
   */
  readonly rowRule?: (values: readonly SqlValue[]) => string | undefined;
}

/** Minutes in a day: no day holds more activity or sleep than this. */
export const MINUTES_PER_DAY = 1440;

/** A validated whole-number value as a number (blank = 0). */
function minutes(value: SqlValue | undefined): number {
  return typeof value === "string" ? Number(value) : 0;
}

/** Daily activity drops (`daily_activity*.csv`) into `raw.daily_activity`. */
export const DAILY_ACTIVITY: DropKind = {
  name: "daily_activity",
  pattern: /^daily_activity[^/]*\.csv$/i,
  table: { schema: "raw", name: "daily_activity" },
  uniqueDays: true,
  columns: [
    { csv: "Id", column: "user_id", kind: "id" },
    { csv: "ActivityDate", column: "activity_date", kind: "date" },
    { csv: "TotalSteps", column: "total_steps", kind: "count" },
    { csv: "TotalDistance", column: "total_distance_km", kind: "km" },
    { csv: "VeryActiveMinutes", column: "very_active_minutes", kind: "minutes" },
    { csv: "FairlyActiveMinutes", column: "fairly_active_minutes", kind: "minutes" },
    { csv: "LightlyActiveMinutes", column: "lightly_active_minutes", kind: "minutes" },
    { csv: "SedentaryMinutes", column: "sedentary_minutes", kind: "minutes" },
    { csv: "Calories", column: "calories", kind: "count" },
  ],
  rowRule(values) {
    // VeryActive + FairlyActive + LightlyActive + Sedentary (columns 4-7) share one day.
    const total = minutes(values[4]) + minutes(values[5]) + minutes(values[6]) + minutes(values[7]);
    return total > MINUTES_PER_DAY
      ? `VeryActiveMinutes + FairlyActiveMinutes + LightlyActiveMinutes + SedentaryMinutes = ` +
        `${total}, more than the ${MINUTES_PER_DAY} minutes of a day`
      : undefined;
  },
};

/** Sleep drops (`sleep*.csv`) into `raw.sleep`. */
export const SLEEP: DropKind = {
  name: "sleep",
  pattern: /^sleep[^/]*\.csv$/i,
  table: { schema: "raw", name: "sleep" },
  uniqueDays: false,
  columns: [
    { csv: "Id", column: "user_id", kind: "id" },
    { csv: "SleepDay", column: "sleep_date", kind: "date" },
    { csv: "TotalSleepRecords", column: "sleep_records", kind: "count" },
    { csv: "TotalMinutesAsleep", column: "minutes_asleep", kind: "minutes" },
    { csv: "TotalTimeInBed", column: "minutes_in_bed", kind: "minutes" },
  ],
  rowRule(values) {
    const [asleep, inBed] = [values[3], values[4]];
    if (typeof asleep !== "string" || typeof inBed !== "string") return undefined;
    return Number(asleep) > Number(inBed)
      ? `TotalMinutesAsleep (${asleep}) is more than TotalTimeInBed (${inBed}): ` +
        "nobody sleeps longer than they are in bed"
      : undefined;
  },
};

/** Every kind of drop. */
export const DROP_KINDS: readonly DropKind[] = [DAILY_ACTIVITY, SLEEP];

/** The kind a file name belongs to, or `undefined` for files to leave alone. */
export function dropKindOf(fileName: string): DropKind | undefined {
  return DROP_KINDS.find((kind) => kind.pattern.test(fileName));
}

/** Warehouse columns loaded for a kind, in order. */
export function loadColumns(kind: DropKind): string[] {
  return [...kind.columns.map((c) => c.column), "source_file"];
}

/** One value that could not be used. */
export interface BadValue {
  /** Data row (1 = first row after the header). */
  readonly row: number;
  /** File line where the row starts. */
  readonly line: number;
  /** CSV column, or `null` when the whole row is wrong (field count, quoting). */
  readonly column: string | null;
  /** The value as written, cut to 100 characters; `null` for a whole-row problem. */
  readonly value: string | null;
  /** What is wrong with it. */
  readonly problem: string;
}

/** Counts kept while a file is read: what the tolerance and the report are computed from. */
export class FileStats {
  /** Data rows read (bad ones included). */
  dataRows = 0;
  /** Rows with at least one bad value (not loaded). */
  badRows = 0;
  /** Bad values in all (a row may have several). */
  badValues = 0;
  /** Blank optional values, loaded as NULL. */
  nullValues = 0;
  /** The first bad values, up to `limit`. */
  readonly issues: BadValue[] = [];

  /** Creates counters keeping at most `limit` bad values in `issues`. */
  constructor(readonly limit: number) {}

  /** Records a bad value (kept only while under the limit). */
  add(issue: BadValue): void {
    this.badValues++;
    if (this.issues.length < this.limit) this.issues.push(issue);
  }
}

/** The header names a column twice: which of the two holds the data is anyone's guess. */
export class DuplicateColumnsError extends Error {
  /** Creates the error listing each repeated name with its (1-based) positions. */
  constructor(readonly repeated: readonly { name: string; positions: number[] }[]) {
    super(
      `the header names ${
        repeated.map((r) =>
          `'${r.name}' ${r.positions.length} times (columns ${r.positions.join(", ")})`
        )
          .join(", ")
      }`,
    );
  }
}

/**
 * A slash date that only reads day-first (`13/3/2026`): the file was exported
 * as D/M/YYYY, so its other slash dates (`1/3/2026`) would load month-first,
 * on the wrong days, without a bad row to say so. The whole file is refused.
 */
export class DayFirstDateError extends Error {
  /** Creates the error for the first such value. */
  constructor(
    /** Data row (1 = first row after the header). */
    readonly row: number,
    /** File line of the row. */
    readonly line: number,
    /** CSV column. */
    readonly column: string,
    /** The value as written. */
    readonly value: string,
  ) {
    super(
      `row ${row} (line ${line}) has ${column} '${value}', a day-first date (D/M/YYYY): ` +
        "its other slash dates cannot be read as Fitbit's month-first M/D/YYYY without " +
        "landing on the wrong days",
    );
  }
}

/**
 * Slash dates that read both ways (no part above 12) and, read month-first,
 * fall on one day of different months (`1/3/2026` ... `12/3/2026` as January
 * 3rd ... December 3rd): daily data does not, so the file is day-first
 * (D/M/YYYY) and would load on the wrong days. The whole file is refused.
 */
export class AmbiguousDateOrderError extends Error {
  /** Creates the error naming the column and the first and last dates as written. */
  constructor(
    /** CSV column. */
    readonly column: string,
    /** The earliest and latest dates as written, and as month-first would load them. */
    readonly span: {
      readonly first: string;
      readonly last: string;
      readonly firstDay: string;
      readonly lastDay: string;
    },
  ) {
    super(
      `its ${column} dates ('${span.first}' ... '${span.last}') read as Fitbit's month-first ` +
        `M/D/YYYY fall on the same day of different months (${span.firstDay} ... ` +
        `${span.lastDay}), which daily data does not: they look day-first (D/M/YYYY)`,
    );
  }
}

/** The header lacks required columns. */
export class MissingColumnsError extends Error {
  /**
   * Creates the error listing the missing CSV columns and the header found;
   * `delimiter` is the character the header is separated by instead of a
   * comma, when that is why (a European Excel's `;`, a tab-separated export).
   */
  constructor(
    readonly missing: readonly string[],
    readonly header: readonly string[],
    readonly delimiter?: string,
  ) {
    super(
      delimiter === undefined
        ? `missing column(s) ${missing.join(", ")} (header: ${header.join(",")})`
        : `its columns are separated by ${DELIMITER_NAMES[delimiter] ?? `'${delimiter}'`}, ` +
          `not commas (header: ${header.join(",")})`,
    );
  }
}

/**
 * The separator an Excel `sep=X` first line declares (Excel writes it so that
 * another locale's Excel opens the file right), or `undefined` when `record`
 * is no such line. `sep=,` is read as two fields: `sep=` and an empty one.
 */
export function excelSeparator(record: CsvRecord): string | undefined {
  return /^sep=(.)$/i.exec(record.fields.join(",").trim())?.[1];
}

/**
 * Checks an Excel `sep=X` line (see {@linkcode excelSeparator}): a comma is
 * what this reader reads, any other separator is refused as
 * {@linkcode MissingColumnsError} naming it.
 */
export function checkExcelSeparator(kind: DropKind, separator: string): void {
  if (separator === ",") return;
  throw new MissingColumnsError(kind.columns.map((c) => c.csv), [`sep=${separator}`], separator);
}

/** How a delimiter other than the comma is named in a message. */
const DELIMITER_NAMES: Readonly<Record<string, string>> = {
  ";": "semicolons (';')",
  "\t": "tabs",
  "|": "vertical bars ('|')",
};

/**
 * The delimiter the header uses instead of a comma, when splitting it by that
 * character finds every required column; `undefined` otherwise.
 */
function otherDelimiter(kind: DropKind, header: readonly string[]): string | undefined {
  const line = header.join(",");
  for (const delimiter of Object.keys(DELIMITER_NAMES)) {
    if (!line.includes(delimiter)) continue;
    const names = new Set(
      line.split(delimiter).map((name) => name.trim().replace(/^"|"$/g, "").toLowerCase()),
    );
    if (kind.columns.every((c) => names.has(c.csv.toLowerCase()))) return delimiter;
  }
  return undefined;
}

const PROBLEMS: Readonly<Record<ValueKind, string>> = {
  id: "is not a user id (1 to 64 characters, no control characters such as NUL or a line end)",
  date: "is not a date (expected M/D/YYYY, optionally with a time, or YYYY-MM-DD)",
  count: "is not a whole number between 0 and 2147483647",
  minutes: "is not a whole number of minutes between 0 and 1440",
  km: "is not a distance in km (a number >= 0)",
};

/** Options of {@linkcode RowParser.fromHeader}. */
export interface RowParserOptions {
  /**
   * The last date a row may carry (`YYYY-MM-DD`): a later one is in the
   * future, a typo (2999) or a clock gone wrong, and the row is bad.
   * @default {"2999-12-31"}
   */
  readonly latestDate?: string;
}

/**
 * Parses the rows of one file after its header: each row becomes the values
 * to load (dates as `YYYY-MM-DD`, numbers as validated text the server casts
 * once) or, when a value is bad, `undefined` with the problems in `stats`.
 * A row whose values are each fine but disagree with each other (the kind's
 * `rowRule`), or whose date is after `latestDate`, is bad too.
 */
export class RowParser {
  readonly #indexes: readonly number[];
  readonly #width: number;
  readonly #dates = new Map<string, string | undefined>();
  #lastDate = "";
  #lastParsed: string | undefined;
  readonly #latestDate: string;
  /** The parts of the slash dates seen, while none proves them month-first (a day above 12). */
  #slash: { months: Set<number>; days: Set<number>; proven: boolean } = {
    months: new Set(),
    days: new Set(),
    proven: false,
  };
  /** The earliest and latest slash dates: [as written, as loaded]. */
  #slashSpan: { first?: [string, string]; last?: [string, string] } = {};

  private constructor(
    private readonly kind: DropKind,
    header: readonly string[],
    indexes: readonly number[],
    private readonly sourceFile: string,
    private readonly stats: FileStats,
    latestDate: string,
  ) {
    this.#indexes = indexes;
    this.#width = header.length;
    this.#latestDate = latestDate;
  }

  /**
   * Reads the header record; throws {@linkcode DuplicateColumnsError} when a
   * name appears twice (case and surrounding spaces ignored) and
   * {@linkcode MissingColumnsError} naming every required column that is
   * absent. Extra columns are ignored.
   */
  static fromHeader(
    kind: DropKind,
    header: CsvRecord,
    sourceFile: string,
    stats: FileStats,
    options: RowParserOptions = {},
  ): RowParser {
    // Invisible format characters (a zero-width space or joiner pasted with a name, a second
    // BOM from concatenated exports) are ignored like case and spaces: 'Id\u200b' printed as
    // 'Id' in the "missing column(s) Id" message, next to a header that showed it.
    const names = header.fields.map((name) => name.replace(/\p{Cf}/gu, "").trim().toLowerCase());
    const positions = new Map<string, number[]>();
    names.forEach((name, i) => {
      if (name !== "") positions.set(name, [...(positions.get(name) ?? []), i + 1]);
    });
    const repeated = [...positions.values()].filter((at) => at.length > 1).map((at) => ({
      name: header.fields[at[0]! - 1]!.trim(),
      positions: at,
    }));
    if (repeated.length > 0) throw new DuplicateColumnsError(repeated);
    const indexes = kind.columns.map((c) => names.indexOf(c.csv.toLowerCase()));
    const missing = kind.columns.filter((_, i) => indexes[i] === -1).map((c) => c.csv);
    if (missing.length > 0) {
      throw new MissingColumnsError(missing, header.fields, otherDelimiter(kind, header.fields));
    }
    return new RowParser(
      kind,
      header.fields,
      indexes,
      sourceFile,
      stats,
      options.latestDate ?? "2999-12-31",
    );
  }

  /** The values to load for `record`, or `undefined` when it is bad (recorded in the stats). */
  parse(record: CsvRecord): SqlValue[] | undefined {
    const stats = this.stats;
    const row = ++stats.dataRows;
    const fields = record.fields;
    if (record.malformed || fields.length !== this.#width) {
      stats.badRows++;
      stats.add({
        row,
        line: record.line,
        column: null,
        value: null,
        problem: record.malformed ??
          `has ${fields.length} field(s), the header has ${this.#width}`,
      });
      return undefined;
    }
    const columns = this.kind.columns;
    const out: SqlValue[] = new Array(columns.length + 1);
    let bad = false;
    for (let c = 0; c < columns.length; c++) {
      const spec = columns[c] as ColumnSpec;
      const raw = fields[this.#indexes[c] as number] as string;
      const value = this.#value(spec.kind, raw);
      if (value === undefined) {
        if (spec.kind === "date" && isDayFirst(raw.trim())) {
          throw new DayFirstDateError(row, record.line, spec.csv, raw.trim().slice(0, 100));
        }
        bad = true;
        stats.add({
          row,
          line: record.line,
          column: spec.csv,
          value: raw.length > 100 ? `${raw.slice(0, 100)}...` : raw,
          problem: raw.trim() === "" ? "is blank (required)" : PROBLEMS[spec.kind],
        });
      } else if (spec.kind === "date" && value !== null && value > this.#latestDate) {
        bad = true;
        stats.add({
          row,
          line: record.line,
          column: spec.csv,
          value: raw.length > 100 ? `${raw.slice(0, 100)}...` : raw,
          problem: `is in the future (after ${this.#latestDate})`,
        });
      } else {
        if (value === null) stats.nullValues++;
        out[c] = value;
      }
    }
    const clash = bad ? undefined : this.kind.rowRule?.(out);
    if (clash !== undefined) {
      bad = true;
      stats.add({ row, line: record.line, column: null, value: null, problem: clash });
    }
    if (bad) {
      stats.badRows++;
      return undefined;
    }
    out[columns.length] = this.sourceFile;
    return out;
  }

  /** The value to load, `null` for a blank optional value, `undefined` when bad. */
  #value(kind: ValueKind, raw: string): string | null | undefined {
    const text = raw.trim();
    if (text.length === 0) return kind === "id" || kind === "date" ? undefined : null;
    switch (kind) {
      case "id":
        // A NUL cannot be stored in a text column (the warehouse refused the whole file, naming
        // its COPY line, not the file's), and a line end or other control character in an id
        // is damage, not a user.
        return text.length <= 64 && !CONTROL.test(text) ? text : undefined;
      case "date":
        return this.#date(text);
      case "count":
        return isWhole(text, 2147483647, 10) ? text : undefined;
      case "minutes":
        return isWhole(text, 1440, 4) ? text : undefined;
      case "km":
        return isDecimal(text) ? text : undefined;
    }
  }

  /**
   * Dates repeat on every row of a day: parse each spelling once (the cache
   * stays small), and files are mostly in date order, so the last one is
   * checked first.
   */
  #date(text: string): string | undefined {
    if (text === this.#lastDate) return this.#lastParsed;
    let parsed = this.#dates.get(text);
    if (parsed === undefined && !this.#dates.has(text)) {
      parsed = parseDate(text);
      if (parsed !== undefined) this.#noteSlashDate(text, parsed);
      if (this.#dates.size >= 4096) this.#dates.clear();
      this.#dates.set(text, parsed);
    }
    this.#lastDate = text;
    this.#lastParsed = parsed;
    return parsed;
  }

  #noteSlashDate(text: string, parsed: string): void {
    const slash = this.#slash;
    if (slash.proven) return;
    const us = US_DATE.exec(text);
    if (!us) return;
    slash.months.add(Number(us[1]));
    slash.days.add(Number(us[2]));
    if (Number(us[2]) > 12) slash.proven = true;
    const span = this.#slashSpan;
    if (span.first === undefined || parsed < span.first[1]) span.first = [text, parsed];
    if (span.last === undefined || parsed > span.last[1]) span.last = [text, parsed];
  }

  /**
   * Called after the last row: throws {@linkcode AmbiguousDateOrderError}
   * when the file's slash dates can only be day-first (see there); a file
   * whose dates read both ways otherwise loads month-first, as Fitbit writes.
   */
  finish(): void {
    const { months, days, proven } = this.#slash;
    const { first, last } = this.#slashSpan;
    if (proven || months.size < 2 || days.size !== 1 || !first || !last) return;
    const column = this.kind.columns.find((c) => c.kind === "date")?.csv ?? "date";
    throw new AmbiguousDateOrderError(column, {
      first: first[0],
      last: last[0],
      firstDay: first[1],
      lastDay: last[1],
    });
  }
}

/**
 * Digits only, no sign, at most `max`. The number is only built when the text
 * has as many digits as `max` (profiled: converting every value cost more
 * than the digit scan).
 */
function isWhole(text: string, max: number, maxDigits: number): boolean {
  if (text.length > maxDigits) return false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return text.length < maxDigits || Number(text) <= max;
}

/** `12`, `12.5`, `.5`, `12.`: digits with at most one dot, no sign or exponent. */
function isDecimal(text: string): boolean {
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 48 && c <= 57) digits++;
    else if (c === 46) dots++;
    else return false;
  }
  return digits > 0 && dots <= 1 && digits <= 15;
}

/** A control character (C0, DEL). */
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/;
const US_DATE =
  /^(\d{1,2})\/(\d{1,2})\/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\s*([AaPp][Mm]))?)?$/;

/**
 * Whether `text` is a slash date that is not month-first but reads as a real
 * day day-first (`13/3/2026`, `31/12/2026 10:00`).
 */
export function isDayFirst(text: string): boolean {
  const us = US_DATE.exec(text);
  if (!us || Number(us[1]) <= 12) return false;
  const [d, m, y] = [us[2], us[1], us[3]].map(Number) as [number, number, number];
  return parseDate(`${d}/${m}/${y}`) !== undefined;
}

/**
 * A calendar date as `YYYY-MM-DD`, from `YYYY-MM-DD` (optionally with a
 * time) or Fitbit's `M/D/YYYY` (optionally with `h:mm:ss AM`); `undefined`
 * when it is neither or names no real day.
 */
export function parseDate(text: string): string | undefined {
  let year: number, month: number, day: number;
  const iso = ISO_DATE.exec(text);
  if (iso) {
    [year, month, day] = [Number(iso[1]), Number(iso[2]), Number(iso[3])];
  } else {
    const us = US_DATE.exec(text);
    if (!us) return undefined;
    [month, day, year] = [Number(us[1]), Number(us[2]), Number(us[3])];
    if (us[4] !== undefined && (Number(us[4]) > (us[7] ? 12 : 23) || Number(us[5]) > 59)) {
      return undefined;
    }
  }
  if (year < 1900 || year > 2999 || month < 1 || month > 12 || day < 1) return undefined;
  if (day > new Date(Date.UTC(year, month, 0)).getUTCDate()) return undefined;
  return `${year}-${String(month).padStart(2, "0")}-${String(day).padStart(2, "0")}`;
}
