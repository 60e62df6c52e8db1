/**
 * The Date and DateTime values of a GeoPackage (or SQLite/SpatiaLite)
 * layer that GDAL would publish as nothing or as an impossible date, found
 * before GDAL reads them. These files store dates as text, which any tool
 * may write. Measured with GDAL 3.6 through `group:spatial`, on both
 * engines:
 *
 * - `2024-13-45`, `2024-01-01 25:61:00`, `0000-00-00`, `2024-00-10` and
 *   `T24:00:00` are read as null, with a CE_Warning ("Invalid content for
 *   record 1 in column day") that neither engine's run shows;
 * - `not a date`, `yesterday` and numbers (a Julian day, `20240105`) are read
 *   as null without any warning, so surfacing GDAL's warnings would not catch
 *   them: hence this check instead;
 * - `2024-02-30`, `2023-02-29` and `2024-04-31` are published as those
 *   impossible dates.
 *
 * What GDAL reads right is left alone: `YYYY-M-D`, `/` separators, a space
 * instead of `T`, no seconds, fractions, `Z` or offsets, blanks around the
 * value. An empty or blank text is a null date, as a blank `.dbf` date is
 * (see `_dbf_dates.ts`).
 *
 * The GeoPackage spec's own spellings (`YYYY-MM-DD`, `YYYY-MM-DDTHH:MM:SS[.SSS]Z`,
 * what GDAL writes) pass in SQL; only the other rows are read into
 * JavaScript. Views (whose SQL may need GDAL's own functions) are not read.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { openSqlite } from "../../resources/_sqlite.ts";
import { isCalendarDay } from "./_dbf_dates.ts";

/** One Date or DateTime value GDAL would lose or publish wrong. */
export interface BadSqliteDate {
  /** The layer (table). */
  layer: string;
  /** The column. */
  field: string;
  /** The row's feature id (the table's rowid: GDAL's FID). */
  fid: number;
  /** The value as stored (text, or a number's text). */
  value: string;
}

/** A layer's date columns, as GDAL types them. */
export interface DateColumns {
  /** The layer, the table of the same name. */
  layer: string;
  /** Columns GDAL reads as Date. */
  dates: string[];
  /** Columns GDAL reads as DateTime. */
  dateTimes: string[];
}

/** Most bad values listed (the first ones in the file). */
const MAX_LISTED = 5;

const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

const DATE = /^(-?\d{1,4})[-/](\d{1,2})[-/](\d{1,2})/;
const TIME =
  /^(?:[T ](\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.\d+)?)?)?(?:Z|[+-]\d{1,2}(?::?\d{2})?)?$/;

/**
 * Whether a stored value of a Date (`dateTime` false) or DateTime column is
 * one GDAL reads as that date, or blank (null); `null` itself is not asked.
 */
export function isSqliteDateOrBlank(value: unknown, dateTime: boolean): boolean {
  if (typeof value !== "string") return false;
  const text = value.trim();
  if (text === "") return true;
  const date = DATE.exec(text);
  if (!date) return false;
  if (!isCalendarDay(Number(date[1]), Number(date[2]), Number(date[3]))) return false;
  const rest = text.slice(date[0].length);
  // A Date column keeps the day of a date-time value (GDAL reads 2024-01-05T00:00:00Z so).
  if (!dateTime) return rest === "" || /^[T ]/.test(rest);
  const time = TIME.exec(rest);
  if (!time) return false;
  if (time[1] === undefined) return true;
  return Number(time[1]) <= 23 && Number(time[2]) <= 59 && Number(time[3] ?? 0) <= 60;
}

/**
 * SQL true for the GeoPackage spec's own spelling of a valid value of
 * `column` (NULL, not false, for text SQLite's date() cannot read); SQLite's time()
 * takes 24:00:00, which GDAL reads as null.
 */
function specSpelling(column: string, dateTime: boolean): string {
  const c = quote(column);
  if (!dateTime) return `(typeof(${c}) = 'text' AND date(${c}) = ${c})`;
  const day = `substr(${c}, 1, 10)`;
  const clock = `substr(${c}, 12, 8)`;
  const tail = `substr(${c}, 20)`;
  return `(typeof(${c}) = 'text' AND date(${day}) = ${day} AND substr(${c}, 11, 1) = 'T' AND ` +
    `time(${clock}) = ${clock} AND substr(${c}, 12, 2) < '24' AND ` +
    `(${tail} IN ('', 'Z') OR ${tail} GLOB '.[0-9]*Z'))`;
}

/** The bad values of one table (at most `limit`). */
function badOfTable(db: DatabaseSync, columns: DateColumns, limit: number): BadSqliteDate[] {
  const all = [
    ...columns.dates.map((name) => ({ name, dateTime: false })),
    ...columns.dateTimes.map((name) => ({ name, dateTime: true })),
  ];
  const suspect = all.map(({ name, dateTime }) =>
    `(${quote(name)} IS NOT NULL AND NOT coalesce(${specSpelling(name, dateTime)}, 0))`
  ).join(" OR ");
  const select = all.map(({ name }) => quote(name)).join(", ");
  const statement = db.prepare(
    `SELECT rowid AS fid__, ${select} FROM ${quote(columns.layer)} WHERE ${suspect} ORDER BY rowid`,
  );
  const bad: BadSqliteDate[] = [];
  for (const row of statement.iterate() as Iterable<Record<string, unknown>>) {
    for (const { name, dateTime } of all) {
      const value = row[name];
      if (value === null || value === undefined || isSqliteDateOrBlank(value, dateTime)) continue;
      bad.push({ layer: columns.layer, field: name, fid: Number(row.fid__), value: String(value) });
      if (bad.length >= limit) return bad;
    }
  }
  return bad;
}

/**
 * The Date/DateTime values of the layers `layers` of the SQLite database at
 * `path` (a GeoPackage) that GDAL would read as null or as an impossible
 * date (at most {@linkcode MAX_LISTED}); layers that are views, or that the
 * file does not hold as tables, are not read.
 */
export function badSqliteDates(path: string, layers: DateColumns[]): BadSqliteDate[] {
  const wanted = layers.filter((l) => l.dates.length + l.dateTimes.length > 0);
  if (wanted.length === 0) return [];
  const db = openSqlite(path, { mode: "read" });
  try {
    const tables = new Set(
      (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
        name: string;
      }[]).map((t) => t.name),
    );
    const bad: BadSqliteDate[] = [];
    for (const layer of wanted) {
      if (!tables.has(layer.layer)) continue;
      bad.push(...badOfTable(db, layer, MAX_LISTED - bad.length));
      if (bad.length >= MAX_LISTED) break;
    }
    return bad;
  } finally {
    db.close();
  }
}

/**
 * DateTime text of minutes then `Z` (`2024-01-05T10:00Z`, `2024-01-05 10:00Z`),
 * as some tools write: GDAL 3.6 (the native engine here) reads it as a time
 * of no zone, while gdal3.js's GDAL 3.8 reads it as UTC, so one file gave two
 * tables. Measured with ogrinfo 3.6: offsets (`10:00+02:00`) and seconds
 * (`10:00:00Z`) keep their zone on both.
 */
const MINUTES_Z = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][T ][0-9][0-9]:[0-9][0-9][Zz]";

/** The tables of `layers` that are tables of the database, with their DateTime columns. */
function dateTimeTables(db: DatabaseSync, layers: DateColumns[]): DateColumns[] {
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as {
      name: string;
    }[]).map((t) => t.name),
  );
  return layers.filter((l) => l.dateTimes.length > 0 && tables.has(l.layer));
}

/** Whether a DateTime column of `layers` in the database at `path` holds minutes-then-Z text. */
export function hasMinutesZ(path: string, layers: DateColumns[]): boolean {
  const db = openSqlite(path, { mode: "read" });
  try {
    return dateTimeTables(db, layers).some((l) =>
      db.prepare(
        `SELECT 1 FROM ${quote(l.layer)} WHERE ${
          l.dateTimes.map((c) => `${quote(c)} GLOB '${MINUTES_Z}'`).join(" OR ")
        } LIMIT 1`,
      ).get() !== undefined
    );
  } finally {
    db.close();
  }
}

/**
 * Writes the seconds into every minutes-then-Z DateTime of `layers` in the
 * database at `path` (`10:00Z` becomes `10:00:00Z`, the same instant), so
 * that every GDAL reads it as UTC. `path` must be a private copy: the
 * tables' triggers (a GeoPackage's R-tree triggers call GDAL's SQL functions,
 * which plain SQLite lacks) are dropped from it first.
 */
export function addZeroSeconds(path: string, layers: DateColumns[]): void {
  const db = openSqlite(path, { mode: "scratch" });
  try {
    for (const l of dateTimeTables(db, layers)) {
      const triggers = db.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ?",
      ).all(l.layer) as { name: string }[];
      for (const t of triggers) db.exec(`DROP TRIGGER ${quote(t.name)}`);
      for (const c of l.dateTimes) {
        db.exec(
          `UPDATE ${quote(l.layer)} SET ${quote(c)} = substr(${quote(c)}, 1, 16) || ':00Z' ` +
            `WHERE ${quote(c)} GLOB '${MINUTES_Z}'`,
        );
      }
    }
  } finally {
    db.close();
  }
}
