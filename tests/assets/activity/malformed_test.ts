/**
 * Malformed activity drops a user really makes, generated from a seed: each
 * must be rejected whole with a report naming the user's file, the row/line
 * where it can and what to do (never a silent wrong load, never the loader's
 * internals such as COPY), while a good file dropped beside it loads.
 *
 * `MALFORMED_SEED` replays a seed; `MALFORMED_ROUNDS` (default 1) runs more
 * rounds of every family (each round: new rows, positions and spellings).
 *
 * @module
 */

import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { type RejectionReport, RejectionReportSchema } from "../../../assets/activity/mod.ts";
import { Random } from "../../_helpers/reliability.ts";
import { ACTIVITY_HEADER, activityCsv, harness, readJson } from "./_fixtures.ts";

const SEED = Number(Deno.env.get("MALFORMED_SEED") ?? Date.now() % 1_000_000);
const ROUNDS = Math.max(1, Number(Deno.env.get("MALFORMED_ROUNDS") ?? 1));
const encoder = new TextEncoder();

interface Attack {
  /** Bytes of the file. */
  readonly bytes: Uint8Array;
  /** The reason the report must give. */
  readonly reason: RejectionReport["reason"];
  /** What the message must say. */
  readonly mentions: readonly RegExp[];
  /** What it must not say (a wrong remedy, internals). */
  readonly forbids?: readonly RegExp[];
  /** The report's first listed row must be on this file line. */
  readonly line?: number;
}

/** `n` good daily activity rows (distinct user and day) in October 2026, M/D/YYYY. */
function rows(rng: Random, n: number): string[][] {
  const out: string[][] = [];
  for (let i = 0; i < n; i++) {
    const steps = rng.int(0, 30000);
    out.push([
      `u${i}`,
      `10/${rng.int(1, 28)}/2026`,
      String(steps),
      (steps * 0.0007).toFixed(2),
      String(rng.int(0, 60)),
      String(rng.int(0, 60)),
      String(rng.int(0, 300)),
      String(rng.int(0, 900)),
      String(rng.int(1200, 4000)),
    ]);
  }
  return out;
}

function csv(header: string, body: string[][], delimiter = ",", eol = "\n"): string {
  return [header.split(",").join(delimiter), ...body.map((r) => r.join(delimiter))].join(eol) +
    eol;
}

function utf16le(text: string, bom: boolean): Uint8Array {
  const out = new Uint8Array((bom ? 2 : 0) + text.length * 2);
  if (bom) out.set([0xff, 0xfe]);
  for (let i = 0; i < text.length; i++) out[(bom ? 2 : 0) + 2 * i] = text.charCodeAt(i);
  return out;
}

const FAMILIES: Record<string, (rng: Random) => Attack> = {
  gzip: (rng) => ({
    bytes: new Uint8Array(gzipSync(encoder.encode(csv(ACTIVITY_HEADER, rows(rng, 5))))),
    reason: "invalid_encoding",
    mentions: [/gzip/, /decompress/],
    forbids: [/save it as UTF-8/],
  }),
  xlsx: (rng) => ({
    // A workbook is a ZIP archive: its local file header, then anything.
    bytes: new Uint8Array([0x50, 0x4b, 0x03, 0x04, ...rows(rng, 1)[0]!.map((v) => v.length)]),
    reason: "invalid_encoding",
    mentions: [/ZIP archive/, /CSV UTF-8/],
    forbids: [/byte \d+/],
  }),
  utf16: (rng) => {
    const bom = rng.chance(0.5);
    return {
      bytes: utf16le(csv(ACTIVITY_HEADER, rows(rng, rng.int(1, 5))), bom),
      reason: "invalid_encoding",
      mentions: [/UTF-16/, /CSV UTF-8/],
    };
  },
  excel_semicolon_sep_line: (rng) => ({
    bytes: encoder.encode(`sep=;\n${csv(ACTIVITY_HEADER, rows(rng, rng.int(1, 5)), ";")}`),
    reason: "missing_columns",
    mentions: [/separated by semicolons/, /comma-separated/],
  }),
  other_delimiter: (rng) => {
    const delimiter = rng.pick([";", "\t", "|"]);
    return {
      bytes: encoder.encode(csv(ACTIVITY_HEADER, rows(rng, rng.int(1, 5)), delimiter)),
      reason: "missing_columns",
      mentions: [/separated by/, /comma-separated/],
      forbids: [/add the column/],
    };
  },
  nul_in_id: (rng) => {
    const body = rows(rng, rng.int(1, 5));
    const at = rng.int(0, body.length - 1);
    body[at]![0] = `u\u0000${at}`;
    return {
      bytes: encoder.encode(csv(ACTIVITY_HEADER, body)),
      reason: "too_many_bad_rows",
      mentions: [new RegExp(`row ${at + 1}, column Id`)],
      forbids: [/COPY/, /SQLSTATE/],
      line: at + 2,
    };
  },
  day_first_dates: (rng) => {
    // A European export: 1/3/2026 would load as January 3rd; only 13/3 and later show it.
    const n = rng.int(60, 120);
    const body = rows(rng, n).map((r, i) => {
      r[1] = `${(i % 28) + 1}/3/2026`;
      return r;
    });
    const firstDayFirst = body.findIndex((r) => Number(r[1]!.split("/")[0]) > 12);
    return {
      bytes: encoder.encode(csv(ACTIVITY_HEADER, body, ",", rng.pick(["\n", "\r\n"]))),
      reason: "day_first_dates",
      mentions: [new RegExp(`row ${firstDayFirst + 1} \\(line ${firstDayFirst + 2}\\)`), /D\/M/],
      line: firstDayFirst + 2,
    };
  },
  ambiguous_day_first_dates: (rng) => {
    // A European export of 1-12 March: every part is <= 12, so no row shows it is D/M/YYYY,
    // and it loaded month-first as January 3rd ... December 3rd (before: silently, exit 0).
    const days = rng.int(2, 12);
    const body = rows(rng, rng.int(days, 60)).map((r, i) => {
      r[1] = `${(i % days) + 1}/3/2026`;
      return r;
    });
    return {
      bytes: encoder.encode(csv(ACTIVITY_HEADER, body, ",", rng.pick(["\n", "\r\n"]))),
      reason: "day_first_dates",
      mentions: [
        new RegExp(`'1/3/2026' \\.\\.\\. '${days}/3/2026'`),
        new RegExp(`2026-01-03 \\.\\.\\. 2026-${String(days).padStart(2, "0")}-03`),
        /day-first \(D\/M\/YYYY\)/,
        /export the dates as YYYY-MM-DD/,
      ],
    };
  },
};

Deno.test("dates that read both ways load month-first (Fitbit's M/D/YYYY) unless only day-first fits", async () => {
  await using h = await harness();
  // 3/1 ... 3/12: every part <= 12, but one month with its days in order: month-first.
  const body = rows(new Random(SEED), 12).map((r, i) => {
    r[1] = `3/${i + 1}/2026`;
    return r;
  });
  await h.drop("daily_activity_march.csv", csv(ACTIVITY_HEADER, body));
  await h.run();
  assert.equal(await h.count("raw.daily_activity", "daily_activity_march.csv"), 12);
  const days = await h.warehouse.query(
    "SELECT min(activity_date)::text AS first, max(activity_date)::text AS last " +
      "FROM raw.daily_activity WHERE source_file = 'daily_activity_march.csv'",
  );
  assert.deepEqual({ ...days[0] }, { first: "2026-03-01", last: "2026-03-12" });
});

Deno.test("an Excel 'sep=,' line before the header is skipped, as Excel does", async () => {
  const rng = new Random(SEED);
  await using h = await harness();
  const body = rows(rng, rng.int(1, 30));
  await h.drop("daily_activity_excel.csv", `sep=,\r\n${csv(ACTIVITY_HEADER, body, ",", "\r\n")}`);
  await h.run();
  assert.equal(await h.count("raw.daily_activity", "daily_activity_excel.csv"), body.length);

  // The repeat finder reads the file again: it skips the line too, and names file rows.
  await h.drop(
    "daily_activity_excel_dup.csv",
    `sep=,\n${csv(ACTIVITY_HEADER, [...body, body[0]!])}`,
  );
  await h.run();
  const report = RejectionReportSchema.parse(
    await readJson(h.lake, "quarantine/activity/daily_activity_excel_dup.csv.error.json"),
  );
  assert.equal(report.reason, "duplicate_rows");
  assert.match(report.message, new RegExp(`rows 1 and ${body.length + 1} \\(lines 3 and `));
});

Deno.test("header names with invisible characters (zero-width space, stray BOM) still match", async () => {
  const rng = new Random(SEED);
  await using h = await harness();
  const body = rows(rng, rng.int(1, 20));
  const header = ACTIVITY_HEADER.replace("Id", "\u200bId").replace("Calories", "Calories\ufeff");
  await h.drop("daily_activity_zw.csv", csv(header, body));
  await h.run();
  assert.equal(await h.count("raw.daily_activity", "daily_activity_zw.csv"), body.length);
});

Deno.test("malformed activity drops are refused naming the file, line and remedy", async (t) => {
  console.log(`MALFORMED_SEED=${SEED} MALFORMED_ROUNDS=${ROUNDS}`);
  const rng = new Random(SEED);
  await using h = await harness();
  for (let round = 0; round < ROUNDS; round++) {
    const names: [string, Attack][] = [];
    for (const [family, make] of Object.entries(FAMILIES)) {
      const name = `daily_activity ${family} ${round}.csv`;
      const attack = make(rng.fork(`${family}:${round}`));
      await h.drop(name, attack.bytes);
      names.push([name, attack]);
    }
    const good = `daily_activity_good_${round}.csv`;
    await h.drop(good, activityCsv(5));
    await h.run();
    await t.step(`round ${round}: the good file loads`, async () => {
      assert.equal(await h.count("raw.daily_activity", good), 5);
    });
    for (const [name, attack] of names) {
      await t.step(`round ${round}: ${name}`, async () => {
        assert.equal(await h.count("raw.daily_activity", name), 0, "nothing of it loaded");
        const report = RejectionReportSchema.parse(
          await readJson(h.lake, `quarantine/activity/${name}.error.json`),
        );
        const context = `seed ${SEED}: ${report.message}`;
        assert.equal(report.reason, attack.reason, context);
        assert.ok(report.message.includes(`'${name}'`), context);
        for (const re of attack.mentions) assert.match(report.message, re, context);
        for (const re of attack.forbids ?? []) assert.doesNotMatch(report.message, re, context);
        assert.doesNotMatch(report.message, /\[object Object\]|\n\s+at /, context);
        if (attack.line !== undefined) assert.equal(report.errors[0]?.line, attack.line, context);
      });
    }
  }
});
