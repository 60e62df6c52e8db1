/**
 * agate's `Table.print_table()` as dbt projects call it on a `run_query`
 * result (`{% do results.print_table() %}` in a run-operation): a `|`-framed
 * text table, numbers right-aligned with thousands separators and at most
 * three decimals, text left-aligned, long values and names cut at 20
 * characters, at most 20 rows and 6 columns (then `...`). Hand-written
 * because there is no agate here; the layout is agate 1.x's.
 *
 * @module
 */

import { PyFloat } from "./py_number.ts";
import { pyStr } from "./py_repr.ts";

/** `print_table`'s keyword arguments (agate's names and defaults). */
export interface PrintTableOptions {
  /** Rows shown (default 20); `none` shows all. */
  readonly max_rows?: number | null;
  /** Columns shown (default 6); `none` shows all. */
  readonly max_columns?: number | null;
  /** Longest value or name shown (default 20); `none` cuts nothing. */
  readonly max_column_width?: number | null;
  /** Most decimals of a number (default 3); more are cut and marked with `…`. */
  readonly max_precision?: number;
}

const ELLIPSIS = "...";

function isNumber(value: unknown): boolean {
  return typeof value === "number" || typeof value === "bigint" || value instanceof PyFloat;
}

/** Decimal places of a number as Python's `Decimal(str(v))` has them (`10.0` has one). */
function places(value: unknown): number {
  const text = pyStr(value instanceof PyFloat ? value : Number(value));
  const dot = text.indexOf(".");
  return dot < 0 || /e/i.test(text) ? 0 : text.length - dot - 1;
}

function formatNumber(value: unknown, decimals: number, cut: boolean): string {
  const n = Number(value instanceof PyFloat ? value.valueOf() : value);
  if (!Number.isFinite(n)) return pyStr(value);
  const text = n.toLocaleString("en-US", {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
    useGrouping: true,
  });
  return cut ? `${text}…` : text;
}

/**
 * A value as Python's `str()` prints it. A warehouse's `date` arrives as a
 * Date at midnight UTC: printed as a date (`2026-12-07`); any other Date as
 * a naive datetime (`2026-12-07 10:30:05`, microseconds when there are
 * some), not JavaScript's `Mon Dec 07 2026 ...`.
 */
function cellText(value: unknown): string {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) return pyStr(value);
  const iso = value.toISOString();
  if (iso.endsWith("T00:00:00.000Z")) return iso.slice(0, 10);
  const ms = value.getUTCMilliseconds();
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${
    ms === 0 ? "" : `.${String(ms * 1000).padStart(6, "0")}`
  }`;
}

/** The lines agate's `print_table` writes for `columns` and `rows`. */
export function printTableLines(
  columns: readonly string[],
  rows: readonly (readonly unknown[])[],
  options: PrintTableOptions = {},
): string[] {
  const maxRows = options.max_rows === null ? rows.length : options.max_rows ?? 20;
  const maxColumns = options.max_columns === null ? columns.length : options.max_columns ?? 6;
  const maxWidth = options.max_column_width === null ? Infinity : options.max_column_width ?? 20;
  const maxPrecision = options.max_precision ?? 3;
  const cutText = (text: string) =>
    text.length > maxWidth ? `${text.slice(0, Math.max(0, maxWidth - 3))}...` : text;
  const shown = columns.slice(0, maxColumns);
  const names = shown.map(cutText);
  const columnsCut = maxColumns < columns.length;
  if (columnsCut) names.push(ELLIPSIS);
  const kept = rows.slice(0, maxRows);
  // agate's column types: a column of numbers (and nulls) is a Number, right-aligned like every
  // type but Text.
  const numeric = shown.map((_, j) =>
    rows.some((r) => r[j] !== null && r[j] !== undefined) &&
    rows.every((r) => r[j] === null || r[j] === undefined || isNumber(r[j]))
  );
  const text = shown.map((_, j) => rows.some((r) => typeof r[j] === "string"));
  const decimals = shown.map((_, j) => {
    if (!numeric[j]) return { places: 0, cut: false };
    const most = Math.max(0, ...kept.map((r) => (isNumber(r[j]) ? places(r[j]) : 0)));
    return { places: Math.min(most, maxPrecision), cut: most > maxPrecision };
  });
  const formatted = kept.map((row) => {
    const cells = shown.map((_, j) => {
      const v = row[j];
      if (v === null || v === undefined) return "";
      const d = decimals[j] as { places: number; cut: boolean };
      return cutText(numeric[j] ? formatNumber(v, d.places, d.cut) : cellText(v));
    });
    if (columnsCut) cells.push(ELLIPSIS);
    return cells;
  });
  const widths = names.map((name, j) =>
    Math.max(name.length, ...formatted.map((r) => r[j]!.length))
  );
  const line = (cells: readonly string[]) =>
    `|${
      cells.map((cell, j) => ` ${text[j] ? cell.padEnd(widths[j]!) : cell.padStart(widths[j]!)} `)
        .join("|")
    }|`;
  const out = [line(names), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`];
  for (const cells of formatted) out.push(line(cells));
  if (maxRows < rows.length) out.push(line(names.map(() => ELLIPSIS)));
  return out;
}
