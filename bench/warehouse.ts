/**
 * Warehouse bulk load: a 1,000,000-row CSV (a few typed columns, some quoted
 * fields with commas, quotes and newlines, some NULLs) loaded into a
 * throwaway PostgreSQL cluster twice, in the same run:
 *
 * - by our `bulkLoad`, streaming the file through a CSV parser into COPY;
 * - by `psql \copy` of the same file into an identical table.
 *
 * Prints both times and psql_time / our_time (target >= 0.8), checks that
 * both tables hold the same data, then loads the same stream into PGlite on a
 * temp data dir and prints its rate.
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
  "id bigint, name text, amount numeric(12,2), at timestamptz, flag boolean, score float8";
/** Rounds per loader, alternating; best and median are reported (the first pays for JIT warm-up). */
const ROUNDS = 3;

/** One timed load. */

/** Runs the benchmark and prints its figures. */
export async function main(rows = Number(Deno.args[0] ?? 1_000_000)): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "bench-warehouse-" });
  try {
    const csv = `${dir}/rows.csv`;
    const generated = await timed(() => writeCsv(csv, rows));
    const size = (await Deno.stat(csv)).size;
    console.log(`CSV: ${rows} rows, ${mb(size)} MB, written in ${seconds(generated.ms)} s`);
    await benchPostgres(csv);
    await benchPglite(csv, `${dir}/pglite`);
    await benchPgliteCopyVsInsert(csv);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function benchPostgres(csv: string): Promise<void> {
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
  console.log(`tables identical: ${await sameContent(warehouse) ? "yes" : "NO"}`);
}

async function benchPglite(csv: string, dataDir: string): Promise<void> {
  await using warehouse = await openWarehouse(`pglite:${dataDir}`);
  await warehouse.exec(`CREATE SCHEMA bench; CREATE TABLE bench.ours (${TABLE_COLUMNS});`);
  const load = await timed(() => loadCsv(warehouse, "ours", csv));
  const rate = Math.round(load.rows / (load.ms / 1000));
  console.log(
    `pglite (data dir), our bulkLoad: ${load.rows} rows in ${seconds(load.ms)} s = ` +
      `${rate.toLocaleString("en-US")} rows/s`,
  );
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

async function sameContent(warehouse: Warehouse): Promise<boolean> {
  const digest = (table: string) =>
    `SELECT count(*) AS n, md5(string_agg(concat_ws('|', id, coalesce(name, '<null>'), amount,
      at, flag, score), E'\\n' ORDER BY id)) AS digest FROM bench.${table}`;
  const [ours] = await warehouse.query(digest("ours"));
  const [theirs] = await warehouse.query(digest("via_psql"));
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

if (import.meta.main) await main();
