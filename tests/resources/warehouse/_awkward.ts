/**
 * Rows full of values that break naive loaders: COPY's own escapes, quotes,
 * newlines, NULL look-alikes, unicode, extreme numbers, bytes.
 *
 * @module
 */

import type { JsonValue, SqlValue, WarehouseDialect } from "../../../resources/warehouse/mod.ts";

/** Strings that a naive COPY or CSV writer gets wrong. */
export const AWKWARD_STRINGS: readonly string[] = [
  "plain",
  "tab\there",
  "new\nline",
  "carriage\r\nreturn",
  "back\\slash",
  "\\N",
  "\\.",
  "'single' \"double\"",
  "unicode: héllo wörld — 日本語 🎉 e\u0301",
  "trailing backslash \\",
  "comma, and; semicolon",
  "\\x41",
  "mixed\t\\n\n\\t\\\\",
  " leading and trailing spaces ",
];

/**
 * `CREATE TABLE` for {@linkcode awkwardRow}'s columns. DuckDB has no
 * unbounded `numeric` (it means `decimal(18,3)`) and no `jsonb`.
 */
export function awkwardTableSql(qualifiedName: string, dialect: WarehouseDialect): string {
  const [numeric, json] = dialect === "duckdb" ? ["decimal(38,4)", "json"] : ["numeric", "jsonb"];
  return `CREATE TABLE ${qualifiedName} (
    id int PRIMARY KEY, txt text, num ${numeric}, f float8, big int8,
    ts timestamptz, d date, flag bool, doc ${json}, bin bytea
  )`;
}

/** Column names in load order. */
export const AWKWARD_COLUMNS = [
  "id",
  "txt",
  "num",
  "f",
  "big",
  "ts",
  "d",
  "flag",
  "doc",
  "bin",
] as const;

/** The row as loaded, and as `SELECT *` must return it. */
export interface AwkwardRow {
  id: number;
  txt: string | null;
  num: string | null;
  f: number | null;
  big: bigint | null;
  ts: Date | null;
  d: Date | null;
  flag: boolean | null;
  doc: JsonValue;
  bin: Uint8Array | null;
}

/** Row number `i`, deterministic. */
export function awkwardRow(i: number): AwkwardRow {
  return {
    id: i,
    txt: text(i),
    num: i % 11 === 0 ? null : `${i % 2 ? "-" : ""}${i}.${String(i % 100).padStart(2, "0")}00`,
    f: float(i),
    big: i % 13 === 0 ? null : (2n ** 62n + BigInt(i) * 12_345n) * (i % 2 ? -1n : 1n),
    ts: i % 17 === 0 ? null : new Date(Date.UTC(2024, 0, 1) + i * 61_001),
    d: i % 19 === 0 ? null : new Date(Date.UTC(2020, 0, 1 + (i % 2000))),
    flag: i % 3 === 0 ? null : i % 2 === 0,
    doc: i % 23 === 0 ? null : {
      i,
      s: AWKWARD_STRINGS[i % AWKWARD_STRINGS.length] ?? "",
      list: [i, "x", null, true],
      nested: { 'key with "quotes"': "v\\" },
    },
    bin: i % 5 === 0 ? null : new Uint8Array([i & 255, 0, 92, 9, 10, 13, 255]),
  };
}

function text(i: number): string | null {
  if (i % 16 === 15) return null;
  if (i % 16 === 14) return "";
  return `${AWKWARD_STRINGS[i % AWKWARD_STRINGS.length]} #${i}`;
}

function float(i: number): number | null {
  if (i % 1000 === 0) return null;
  if (i % 1000 === 1) return Number.POSITIVE_INFINITY;
  if (i % 1000 === 2) return Number.NaN;
  return i / 7 - 1000.125;
}

/** The row as `bulkLoad` values, in {@linkcode AWKWARD_COLUMNS} order. */
export function awkwardValues(row: AwkwardRow): SqlValue[] {
  return AWKWARD_COLUMNS.map((column) => row[column] as SqlValue);
}
