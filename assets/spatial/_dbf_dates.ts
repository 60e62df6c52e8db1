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

import { scanDbf } from "./_dbf_scan.ts";

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
  const bad: BadDate[] = [];
  await scanDbf(
    dbf,
    (f) => f.type === "D" && f.length === 8,
    (field, row, value) => {
      if (!isDateOrBlank(value)) bad.push({ field: field.name, row, value });
      return bad.length < MAX_LISTED;
    },
  );
  return bad.slice(0, MAX_LISTED);
}
