/**
 * Value conversions shared by both backends, so that a parameter, a loaded
 * value and a returned column mean the same on PGlite and on PostgreSQL.
 *
 * @module
 */

import type { BulkRows, SqlValue, TemporalKind } from "./types.ts";

/** What the drivers receive: text the server types from context, or bytes. */
export type DriverParam = string | number | null | Uint8Array;

/** Converts parameters to driver values (see `SqlValue` for the rules). */
export function toDriverParams(params: readonly SqlValue[] | undefined): DriverParam[] {
  return params ? params.map(toDriverParam) : [];
}

function toDriverParam(value: SqlValue, index: number): DriverParam {
  if (value === null || typeof value === "string" || typeof value === "number") return value;
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "boolean") return value ? "true" : "false";
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return value;
  if (typeof value === "object") return JSON.stringify(value);
  throw new TypeError(`Cannot bind parameter $${index + 1}: ${typeof value} is not a SqlValue`);
}

/** Postgres type OIDs whose default driver parsing differs between backends. */
export const Oid = {
  bool: 16,
  bytea: 17,
  int8: 20,
  json: 114,
  jsonb: 3802,
  numeric: 1700,
  date: 1082,
  timestamp: 1114,
  timestamptz: 1184,
} as const;

/** The date or time type of a column of type `oid`, null for the others. */
export function temporalOfOid(oid: number): TemporalKind | null {
  return oid === Oid.date
    ? "date"
    : oid === Oid.timestamp
    ? "timestamp"
    : oid === Oid.timestamptz
    ? "timestamptz"
    : null;
}

/** Text-to-value parsers applied by both drivers, keyed by type OID. */
export const PARSERS: Readonly<Record<number, (text: string) => unknown>> = {
  [Oid.bool]: (text) => text === "t",
  [Oid.json]: (text) => JSON.parse(text),
  [Oid.jsonb]: (text) => JSON.parse(text),
  [Oid.int8]: (text) => BigInt(text),
  [Oid.bytea]: parseByteaHex,
  // A date or timestamp without zone is read as UTC, whatever the process's TZ.
  [Oid.date]: (text) => new Date(`${text}T00:00:00Z`),
  [Oid.timestamp]: (text) => new Date(`${text.replace(" ", "T")}Z`),
  [Oid.timestamptz]: (text) => new Date(text),
};

/** Decodes Postgres' `\x0a1b...` bytea output. */
export function parseByteaHex(text: string): Uint8Array {
  const out = new Uint8Array((text.length - 2) >> 1);
  for (let i = 0; i < out.length; i++) {
    out[i] = parseInt(text.substring(2 + 2 * i, 4 + 2 * i), 16);
  }
  return out;
}

/** Encodes bytes as Postgres' `\x0a1b...` bytea input. */
export function byteaHex(bytes: Uint8Array): string {
  let out = "\\x";
  for (const byte of bytes) out += HEX[byte];
  return out;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_SPECIAL_ALL = /[\\\n\r\t]/g;
const COPY_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** A string as a field of COPY's text format (tab-separated, backslash escapes). */
function escapeCopyText(text: string): string {
  return COPY_SPECIAL.test(text)
    ? text.replace(COPY_SPECIAL_ALL, (char) => COPY_ESCAPES[char] ?? char)
    : text;
}

/** One value as a field of COPY's text format; `\N` is NULL. */
export function copyField(value: SqlValue): string {
  if (value === null) return "\\N";
  switch (typeof value) {
    case "string":
      return escapeCopyText(value);
    case "number":
      return String(value);
    case "bigint":
      return value.toString();
    case "boolean":
      return value ? "t" : "f";
  }
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Uint8Array) return escapeCopyText(byteaHex(value));
  if (typeof value === "object") return escapeCopyText(JSON.stringify(value));
  throw new TypeError(`Cannot load ${typeof value}: it is not a SqlValue`);
}

function copyLine(row: readonly SqlValue[], width: number, index: number): string {
  if (!Array.isArray(row) || row.length !== width) {
    const got = Array.isArray(row) ? `${row.length} values` : typeof row;
    throw new RangeError(`Cannot load row ${index}: it has ${got}, expected ${width} values`);
  }
  let line = copyField(row[0] as SqlValue);
  for (let i = 1; i < width; i++) line += "\t" + copyField(row[i] as SqlValue);
  return line + "\n";
}

/** Counts the rows a {@linkcode copyChunks} stream has encoded so far. */
export interface RowCounter {
  /** Rows encoded so far. */
  rows: number;
}

/**
 * A failure of the caller's rows (their iterator threw, or a row was
 * malformed): rethrown unwrapped, never reported as a server failure.
 */
export class RowSourceError {
  /** Creates the wrapper around what the row source threw. */
  constructor(readonly error: unknown) {}
}

/**
 * Encodes rows as COPY text-format chunks of about `chunkChars` characters.
 * A sync iterable is walked synchronously: an `await` per row would cost more
 * than encoding it.
 */
export function copyChunks(
  rows: BulkRows,
  width: number,
  chunkChars: number,
  counter: RowCounter,
): AsyncIterable<string> {
  return Symbol.asyncIterator in rows
    ? asyncChunks(rows, width, chunkChars, counter)
    : syncChunks(rows, width, chunkChars, counter);
}

async function* asyncChunks(
  rows: AsyncIterable<readonly SqlValue[]>,
  width: number,
  chunkChars: number,
  counter: RowCounter,
): AsyncGenerator<string> {
  let chunk = "";
  try {
    for await (const row of rows) {
      chunk += copyLine(row, width, counter.rows);
      counter.rows++;
      if (chunk.length < chunkChars) continue;
      yield chunk;
      chunk = "";
    }
  } catch (error) {
    throw new RowSourceError(error);
  }
  if (chunk) yield chunk;
}

async function* syncChunks(
  rows: Iterable<readonly SqlValue[]>,
  width: number,
  chunkChars: number,
  counter: RowCounter,
): AsyncGenerator<string> {
  let chunk = "";
  try {
    for (const row of rows) {
      chunk += copyLine(row, width, counter.rows);
      counter.rows++;
      if (chunk.length < chunkChars) continue;
      yield chunk;
      chunk = "";
    }
  } catch (error) {
    throw new RowSourceError(error);
  }
  if (chunk) yield chunk;
}
