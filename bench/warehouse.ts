/**
 * Warehouse bulk load: a 1,000,000-row CSV (a few typed columns, some quoted
 * fields with commas, quotes and newlines, some NULLs) loaded by our
 * `bulkLoad` into each backend, in the same run, each beside its native
 * loader of the same file:
 *
 * - PostgreSQL (a throwaway cluster): our `bulkLoad` (CSV parsed in Deno,
 *   streamed into COPY) vs `psql \copy` (target psql_time / our_time >= 0.8);
 * - DuckDB (a database file): our `bulkLoad` (CSV parsed in Deno, Appender
 *   data chunks) vs DuckDB's own `COPY ... FROM` (its parallel CSV reader);
 * - PGlite (a data dir): our `bulkLoad` (COPY from blobs).
 *
 * Checks that each pair of tables holds the same data, then prints one table
 * of the three backends with PGlite/DuckDB/Postgres ratios.
 *
 *     deno run -A bench/warehouse.ts [rows]
 *
 * @module
 */

import { openWarehouse, type Warehouse } from "../resources/warehouse/mod.ts";
import { findPostgresBinDir, startPostgres } from "../tests/_helpers/postgres.ts";
import { best, list, median, seconds, timed, type Timing } from "./_timing.ts";

const COLUMNS = ["id", "name", "amount", "at", "flag", "score"];
const TABLE_COLUMNS =
  'id bigint, name text, amount numeric(12,2), "at" timestamptz, flag boolean, score float8';
/** Rounds per loader, alternating; best and median are reported (the first pays for JIT warm-up). */
const ROUNDS = 3;

/** One backend's figures for the summary. */
interface Row {
  readonly backend: string;
  readonly ours: readonly Timing[];
  readonly native?: { readonly label: string; readonly timings: readonly Timing[] };
}

/** Runs the benchmark and prints its figures. */
export async function main(rows = 1_000_000): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench-warehouse-" });
  try {
    const csv = `${dir}/rows.csv`;
    const generated = await timed(() => writeCsv(csv, rows));
    const size = (await Deno.stat(csv)).size;
    console.log(`CSV: ${rows} rows, ${mb(size)} MB, written in ${seconds(generated.ms)} s`);
    const summary = [
      await benchPglite(csv, `${dir}/pglite`),
      await benchDuckdb(csv, `${dir}/warehouse.duckdb`),
      await benchPostgres(csv),
    ];
    printSummary(summary, rows);
    await benchPgliteCopyVsInsert(csv);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function benchPostgres(csv: string): Promise<Row> {
  await using server = await startPostgres({ databaseUrl: undefined });
  await using warehouse = await openWarehouse(server.url);
  await warehouse.exec(`CREATE SCHEMA bench;
    CREATE TABLE bench.ours (${TABLE_COLUMNS});
    CREATE TABLE bench.via_psql (${TABLE_COLUMNS});`);
  const psql = `${await findPostgresBinDir()}/psql`;
  const ours: Timing[] = [];
  const theirs: Timing[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await warehouse.exec("TRUNCATE bench.ours, bench.via_psql; CHECKPOINT");
    theirs.push(await timed(() => psqlCopy(psql, server.url, csv)));
    ours.push(await timed(() => loadCsv(warehouse, "ours", csv)));
  }
  console.log(`postgres, our bulkLoad (CSV parsed in Deno, COPY text): ${list(ours)}`);
  console.log(`postgres, psql \\copy (server parses the CSV):           ${list(theirs)}`);
  for (const [label, pick] of [["best", best], ["median", median]] as const) {
    const [oursMs, psqlMs] = [pick(ours), pick(theirs)];
    console.log(
      `${label}: ours ${seconds(oursMs)} s, psql ${seconds(psqlMs)} s, ` +
        `psql_time/our_time = ${(psqlMs / oursMs).toFixed(2)} (target >= 0.8)`,
    );
  }
  console.log(`tables identical: ${await sameContent(warehouse, "via_psql") ? "yes" : "NO"}`);
  return { backend: "postgres", ours, native: { label: "psql \\copy", timings: theirs } };
}

/**
 * DuckDB on a database file: our bulkLoad (the same Deno CSV parse, then
 * Appender data chunks) beside DuckDB's own CSV reader, which parses in C++
 * on every core: the ceiling for this file.
 */
async function benchDuckdb(csv: string, file: string): Promise<Row> {
  await using warehouse = await openWarehouse(`duckdb:${file}`);
  await warehouse.exec(`CREATE SCHEMA bench;
    CREATE TABLE bench.ours (${TABLE_COLUMNS});
    CREATE TABLE bench.via_copy (${TABLE_COLUMNS});`);
  const ours: Timing[] = [];
  const theirs: Timing[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await warehouse.exec("DELETE FROM bench.ours; DELETE FROM bench.via_copy; CHECKPOINT");
    theirs.push(
      await timed(() =>
        warehouse.execute(
          `COPY bench.via_copy FROM '${csv}' (FORMAT csv, HEADER true, allow_quoted_nulls false)`,
        )
      ),
    );
    ours.push(await timed(() => loadCsv(warehouse, "ours", csv)));
  }
  console.log(`duckdb (file), our bulkLoad (CSV parsed in Deno, Appender chunks): ${list(ours)}`);
  console.log(`duckdb (file), COPY FROM (DuckDB's parallel CSV reader):         ${list(theirs)}`);
  for (const [label, pick] of [["best", best], ["median", median]] as const) {
    const [oursMs, copyMs] = [pick(ours), pick(theirs)];
    console.log(
      `${label}: ours ${seconds(oursMs)} s, COPY ${seconds(copyMs)} s, ` +
        `copy_time/our_time = ${(copyMs / oursMs).toFixed(2)}`,
    );
  }
  console.log(`tables identical: ${await sameContent(warehouse, "via_copy") ? "yes" : "NO"}`);
  return { backend: "duckdb", ours, native: { label: "COPY FROM csv", timings: theirs } };
}

/** The three backends side by side, with each one's time over Postgres'. */
function printSummary(rows: readonly Row[], count: number): void {
  const postgres = rows.find((r) => r.backend === "postgres");
  const base = postgres ? best(postgres.ours) : NaN;
  console.log(`\nbulkLoad of ${count.toLocaleString("en-US")} rows, best of ${ROUNDS} rounds:`);
  console.log("backend   ours (s)  rows/s      time / postgres  native loader (s)");
  for (const row of rows) {
    const ms = best(row.ours);
    const rate = Math.round(count / (ms / 1000)).toLocaleString("en-US");
    const native = row.native ? `${seconds(best(row.native.timings))} (${row.native.label})` : "-";
    console.log(
      `${row.backend.padEnd(9)} ${seconds(ms).padStart(8)}  ${rate.padStart(10)}  ` +
        `${(ms / base).toFixed(2).padStart(15)}  ${native}`,
    );
  }
  const ratio = rows.map((r) => (best(r.ours) / base).toFixed(2)).join(" : ");
  console.log(`PGlite : DuckDB : Postgres time ratio = ${ratio}`);
}

async function benchPglite(csv: string, dataDir: string): Promise<Row> {
  await using warehouse = await openWarehouse(`pglite:${dataDir}`);
  await warehouse.exec(`CREATE SCHEMA bench; CREATE TABLE bench.ours (${TABLE_COLUMNS});`);
  const ours: Timing[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    await warehouse.exec("TRUNCATE bench.ours; CHECKPOINT");
    ours.push(await timed(() => loadCsv(warehouse, "ours", csv)));
  }
  console.log(`pglite (data dir), our bulkLoad (COPY from blobs): ${list(ours)}`);
  return { backend: "pglite", ours };
}

/**
 * Why PGlite's bulkLoad uses COPY from a blob: the same rows through the
 * alternative, multi-row INSERTs (1,000 rows per statement) in one transaction.
 */
async function benchPgliteCopyVsInsert(csv: string, count = 100_000): Promise<void> {
  await using warehouse = await openWarehouse("pglite:memory:");
  await warehouse.exec(`CREATE SCHEMA bench;
    CREATE TABLE bench.copied (${TABLE_COLUMNS}); CREATE TABLE bench.inserted (${TABLE_COLUMNS});`);
  const rows: (string | null)[][] = [];
  using file = await Deno.open(csv);
  for await (
    const row of parseCsv(file.readable.pipeThrough(new TextDecoderStream()), { header: true })
  ) {
    rows.push(row);
    if (rows.length === count) break;
  }
  const copy = await timed(() =>
    warehouse.bulkLoad({ schema: "bench", name: "copied" }, COLUMNS, rows)
  );
  const insert = await timed(() => insertBatches(warehouse, rows, 1_000));
  console.log(
    `pglite (memory), ${rows.length} rows: COPY from blob ${seconds(copy.ms)} s, ` +
      `multi-row INSERT ${seconds(insert.ms)} s (COPY is ${
        (insert.ms / copy.ms).toFixed(1)
      }x faster)`,
  );
}

async function insertBatches(
  warehouse: Warehouse,
  rows: (string | null)[][],
  batch: number,
): Promise<number> {
  await warehouse.transaction(async (tx) => {
    for (let start = 0; start < rows.length; start += batch) {
      const slice = rows.slice(start, start + batch);
      const tuples = slice.map((_, r) =>
        `(${COLUMNS.map((_, c) => `$${r * COLUMNS.length + c + 1}`).join(", ")})`
      );
      await tx.execute(
        `INSERT INTO bench.inserted (${COLUMNS.join(", ")}) VALUES ${tuples.join(", ")}`,
        slice.flat(),
      );
    }
  });
  return rows.length;
}

async function loadCsv(warehouse: Warehouse, table: string, csv: string): Promise<number> {
  using file = await Deno.open(csv);
  const rows = parseCsv(file.readable.pipeThrough(new TextDecoderStream()), { header: true });
  return await warehouse.bulkLoad({ schema: "bench", name: table }, COLUMNS, rows);
}

async function psqlCopy(psql: string, url: string, csv: string): Promise<number> {
  const command = `\\copy bench.via_psql (${COLUMNS.join(", ")}) FROM '${csv}' ` +
    "WITH (FORMAT csv, HEADER true)";
  const out = await new Deno.Command(psql, { args: [url, "-X", "-c", command] }).output();
  if (!out.success) throw new Error(`psql failed: ${new TextDecoder().decode(out.stderr)}`);
  return Number(/COPY (\d+)/.exec(new TextDecoder().decode(out.stdout))?.[1] ?? NaN);
}

/** Whether `bench.ours` and `bench.<other>` hold the same rows (count and digest). */
async function sameContent(warehouse: Warehouse, other: string): Promise<boolean> {
  const digest = (table: string) =>
    `SELECT count(*) AS n, md5(string_agg(concat_ws('|', id, coalesce(name, '<null>'), amount,
      "at", flag, score), chr(10) ORDER BY id)) AS digest FROM bench.${table}`;
  const [ours] = await warehouse.query(digest("ours"));
  const [theirs] = await warehouse.query(digest(other));
  return ours?.n === theirs?.n && ours?.digest === theirs?.digest;
}

/** Writes `count` rows of CSV with a header, streaming in 1 MB pieces. */
async function writeCsv(path: string, count: number): Promise<number> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const writer = file.writable.getWriter();
  const encoder = new TextEncoder();
  let piece = `${COLUMNS.join(",")}\n`;
  for (let i = 0; i < count; i++) {
    piece += csvLine(i);
    if (piece.length < 1 << 20) continue;
    await writer.write(encoder.encode(piece));
    piece = "";
  }
  await writer.write(encoder.encode(piece));
  await writer.close();
  return count;
}

function csvLine(i: number): string {
  const name = i % 50 === 0
    ? "" // unquoted empty: NULL
    : i % 7 === 0
    ? `"Smith, ""Jr"" ${i}"`
    : i % 101 === 0
    ? `"two\nlines ${i}"`
    : `name ${i} é`;
  const amount = `${(i * 37) % 100_000}.${String(i % 100).padStart(2, "0")}`;
  const at = new Date(Date.UTC(2024, 0, 1) + i * 1_000).toISOString();
  const score = i % 13 === 0 ? "" : String(i / 3);
  return `${i},${name},${amount},${at},${i % 2 === 0},${score}\n`;
}

/**
 * Streaming CSV (RFC 4180): `,` separated, `"` quoted with `""` escapes,
 * LF or CRLF line ends. An unquoted empty field is NULL, a quoted one is "",
 * as in PostgreSQL's CSV format. A row cut by a chunk boundary is parsed again
 * with the next chunk (rows are short, so re-reading costs little).
 */
export async function* parseCsv(
  chunks: AsyncIterable<string>,
  options: { header: boolean },
): AsyncGenerator<(string | null)[]> {
  let pending = "";
  let skip = options.header;
  for await (const chunk of chunks) {
    const { rows, rest } = parseRows(pending + chunk, false);
    pending = rest;
    for (const row of rows) {
      if (skip) skip = false;
      else yield row;
    }
  }
  if (pending) yield* parseRows(pending, true).rows;
}

const QUOTE = 34, COMMA = 44, LF = 10, CR = 13;

function parseRows(text: string, eof: boolean): { rows: (string | null)[][]; rest: string } {
  const rows: (string | null)[][] = [];
  let i = 0;
  while (i < text.length) {
    const parsed = unquotedLine(text, i) ?? parseRow(text, i, eof);
    if (!parsed) return { rows, rest: text.slice(i) };
    rows.push(parsed.row);
    i = parsed.next;
  }
  return { rows, rest: "" };
}

/**
 * Fast path for the common line without quotes: native `split` instead of a
 * character loop (about 3x faster). Undefined when the line has a quote or
 * is not complete yet.
 */
function unquotedLine(text: string, start: number) {
  const end = text.indexOf("\n", start);
  if (end === -1) return undefined;
  const quote = text.indexOf('"', start);
  if (quote !== -1 && quote < end) return undefined;
  const lineEnd = text.charCodeAt(end - 1) === CR ? end - 1 : end;
  const row: (string | null)[] = text.slice(start, lineEnd).split(",");
  for (let f = 0; f < row.length; f++) if (row[f] === "") row[f] = null;
  return { row, next: end + 1 };
}

/** One row from `start`, or undefined when the text ends inside it (and more may come). */
function parseRow(
  text: string,
  start: number,
  eof: boolean,
): { row: (string | null)[]; next: number } | undefined {
  const row: (string | null)[] = [];
  let i = start;
  while (true) {
    const field = text.charCodeAt(i) === QUOTE
      ? quotedField(text, i, eof)
      : plainField(text, i, eof);
    if (!field) return undefined;
    row.push(field.value);
    i = field.next;
    const c = text.charCodeAt(i);
    if (c === COMMA) {
      i++;
    } else if (c === LF) {
      return { row, next: i + 1 };
    } else if (c === CR) {
      if (i + 1 >= text.length && !eof) return undefined;
      return { row, next: text.charCodeAt(i + 1) === LF ? i + 2 : i + 1 };
    } else if (i >= text.length) {
      return eof ? { row, next: i } : undefined;
    } else {
      throw new SyntaxError(`Cannot parse CSV: unexpected character after a quoted field`);
    }
  }
}

function plainField(text: string, start: number, eof: boolean) {
  let i = start;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === COMMA || c === LF || c === CR) break;
    i++;
  }
  if (i >= text.length && !eof) return undefined;
  return { value: i === start ? null : text.slice(start, i), next: i };
}

function quotedField(text: string, start: number, eof: boolean) {
  let value = "";
  let from = start + 1;
  while (true) {
    const quote = text.indexOf('"', from);
    if (quote === -1 || (quote + 1 >= text.length && !eof)) {
      if (eof) throw new SyntaxError("Cannot parse CSV: a quoted field is never closed");
      return undefined;
    }
    if (text.charCodeAt(quote + 1) !== QUOTE) {
      return { value: value + text.slice(from, quote), next: quote + 1 };
    }
    value += text.slice(from, quote + 1);
    from = quote + 2;
  }
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

if (import.meta.main) await main(Number(Deno.args[0] ?? 1_000_000));
