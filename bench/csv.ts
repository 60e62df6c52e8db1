/**
 * CSV parsing alone: the activity drops' hand-written reader
 * (assets/activity/_csv.ts, `readCsv`) against npm `csv-parse` on the same
 * bytes, in the same run, rounds alternating. Its doc claims the hand-written
 * reader is several times faster because the common line has no quote; this
 * is the measurement behind (or against) that claim.
 *
 * Both read a stream of 1 MiB chunks from memory (no disk, no database),
 * decode UTF-8 and give every record with its file line, as the loader needs
 * for its rejection report (`csv-parse` with `info: true`). The file is the
 * Fitbit-style `daily_activity` shape of bench/activity.ts, with one record
 * in a hundred quoted (a quoted name with a comma) so the careful path runs
 * too.
 *
 *     deno run -A bench/csv.ts                # 1,000,000 rows (~80 MB)
 *     deno run -A bench/csv.ts --rows 200000  # quicker
 *
 * Prints records/s of both, best and median of the rounds, and
 * csv-parse time / readCsv time (above 1: the hand-written reader is faster).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parse } from "csv-parse";
import { readCsv } from "../assets/activity/_csv.ts";
import { best, list, median, seconds, timed, type Timing } from "./_timing.ts";

/** Rounds per parser, alternating; best and median are reported. */
const ROUNDS = 5;
const CHUNK = 1 << 20;

/** Runs the benchmark and prints its figures. */
export async function main(args: string[] = []): Promise<void> {
  const { values } = parseArgs({ args, options: { rows: { type: "string" } } });
  const rows = Number(values.rows ?? 1_000_000);
  const bytes = activityCsv(rows);
  console.log(`${rows.toLocaleString("en-US")} rows, ${(bytes.length / 1e6).toFixed(1)} MB`);
  const ours: Timing[] = [];
  const theirs: Timing[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    ours.push(await timed(() => withReadCsv(bytes)));
    theirs.push(await timed(() => withCsvParse(bytes)));
  }
  for (const t of [...ours, ...theirs]) {
    if (t.rows !== rows + 1) throw new Error(`a parser read ${t.rows} records, not ${rows + 1}`);
  }
  console.log(`readCsv:   best ${rate(rows, best(ours))} records/s (${list(ours)})`);
  console.log(`csv-parse: best ${rate(rows, best(theirs))} records/s (${list(theirs)})`);
  console.log(
    `csv-parse / readCsv time: best ${(best(theirs) / best(ours)).toFixed(2)}, median ${
      (median(theirs) / median(ours)).toFixed(2)
    } (medians ${seconds(median(theirs))} s / ${seconds(median(ours))} s)`,
  );
}

/** Records (header included) read by the project's reader. */
async function withReadCsv(bytes: Uint8Array): Promise<number> {
  let records = 0;
  let lastLine = 0;
  for await (const batch of readCsv(chunks(bytes))) {
    records += batch.length;
    lastLine = batch.at(-1)?.line ?? lastLine;
  }
  if (lastLine !== records) throw new Error(`readCsv ended on line ${lastLine}`);
  return records;
}

/** Records (header included) read by csv-parse, with their line numbers. */
async function withCsvParse(bytes: Uint8Array): Promise<number> {
  const parser = parse({ info: true, relax_column_count: true, encoding: "utf8" });
  const feeding = (async () => {
    for (let start = 0; start < bytes.length; start += CHUNK) {
      if (!parser.write(bytes.subarray(start, start + CHUNK))) {
        await new Promise((resolve) => parser.once("drain", resolve));
      }
    }
    parser.end();
  })();
  let records = 0;
  let lastLine = 0;
  for await (const { info } of parser as AsyncIterable<{ info: { lines: number } }>) {
    records++;
    lastLine = info.lines;
  }
  await feeding;
  if (lastLine !== records) throw new Error(`csv-parse ended on line ${lastLine}`);
  return records;
}

/** `bytes` as a stream of 1 MiB chunks. */
function chunks(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let start = 0;
  return new ReadableStream({
    pull(controller) {
      if (start >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(start, start + CHUNK));
      start += CHUNK;
    },
  });
}

/** A `daily_activity` CSV of `rows` rows; every hundredth has a quoted field with a comma. */
function activityCsv(rows: number): Uint8Array {
  const parts = [
    "Id,ActivityDate,TotalSteps,TotalDistance,VeryActiveMinutes,FairlyActiveMinutes," +
    "LightlyActiveMinutes,SedentaryMinutes,Calories,Note\n",
  ];
  for (let i = 0; i < rows; i++) {
    const steps = (i * 7919) % 25_000;
    const note = i % 100 === 0 ? `"walk, then ""run"""` : "";
    parts.push(
      `${1_000_000_000 + (i % 5_000)},4/${1 + (i % 28)}/2016,${steps},${
        (steps * 0.00074).toFixed(2)
      },${i % 90},${i % 45},${120 + (i % 300)},${400 + (i % 600)},${1_400 + (i % 2_500)},${note}\n`,
    );
  }
  return new TextEncoder().encode(parts.join(""));
}

function rate(rows: number, ms: number): string {
  return Math.round(rows / (ms / 1000)).toLocaleString("en-US");
}

if (import.meta.main) await main(Deno.args);
