import assert from "node:assert/strict";
import { RejectionReportSchema } from "../../../assets/activity/mod.ts";
import {
  ACTIVITY_HEADER,
  activityCsv,
  activityRow,
  BUCKET,
  harness,
  readJson,
  SLEEP_HEADER,
  warehouseTargets,
} from "./_fixtures.ts";
import type { Warehouse } from "../../../resources/warehouse/mod.ts";
import { needs } from "../../_helpers/tools.ts";

/** A case of the suite: run against every warehouse target. */
type Case = (t: Deno.TestContext) => Promise<void>;
const cases: [string, Case][] = [];
function suite(name: string, fn: Case): void {
  cases.push([name, fn]);
}

let current: Warehouse | undefined;
function shared(): Warehouse {
  if (!current) throw new Error("no warehouse open");
  return current;
}

const SLEEP_CSV = `${SLEEP_HEADER}\n` +
  "u1,10/1/2026 12:00:00 AM,1,420,450\n" +
  "u2,10/1/2026 12:00:00 AM,2,380,\n" +
  "u1,2026-10-02,1,400,430\n";

suite("bronze_activity loads drops into raw tables and records them in the manifest", async (t) => {
  await using h = await harness({ warehouse: shared() });
  await h.drop("daily_activity_a.csv", activityCsv(20));
  await h.drop("sleep_a.csv", SLEEP_CSV);
  await h.drop("notes.txt", "not a drop");
  await h.drop("sub/daily_activity_nested.csv", activityCsv(3));

  const first = await h.run();

  await t.step("loads every row of both kinds, with typed values", async () => {
    assert.equal(await h.count("raw.daily_activity"), 20);
    assert.equal(await h.count("raw.sleep"), 3);
    const [row] = await h.warehouse.query(
      "SELECT * FROM raw.sleep WHERE user_id = 'u2'",
    );
    assert.deepEqual(
      { ...row, loaded_at: undefined },
      {
        user_id: "u2",
        sleep_date: new Date("2026-10-01T00:00:00Z"),
        minutes_asleep: 380,
        minutes_in_bed: null,
        sleep_records: 2,
        source_file: "sleep_a.csv",
        loaded_at: undefined,
      },
    );
    const [activity] = await h.warehouse.query(
      "SELECT total_steps, total_distance_km, calories FROM raw.daily_activity " +
        "WHERE user_id = 'u0' AND activity_date = '2026-10-01'",
    );
    assert.deepEqual(activity, { total_steps: 5001, total_distance_km: 3.5, calories: 2100 });
  });

  await t.step("stamps a file's rows with one loaded_at, its manifest's ingested_at", async () => {
    const [stamp] = await h.warehouse.query<{ stamps: bigint; same: boolean }>(
      `SELECT count(DISTINCT loaded_at) AS stamps, min(loaded_at) = (SELECT ingested_at
         FROM ops.raw_ingest_manifest WHERE source_filename = 'daily_activity_a.csv') AS same
       FROM raw.daily_activity WHERE source_file = 'daily_activity_a.csv'`,
    );
    assert.deepEqual(stamp, { stamps: 1n, same: true });
  });

  await t.step("ignores other names and nested folders", () => {
    assert.equal(first.metadata.files_seen, 2);
  });

  await t.step("reports files and rows in the metadata", () => {
    assert.equal(first.metadata.files_loaded, 2);
    assert.equal(first.metadata.files_skipped, 0);
    assert.equal(first.metadata.files_rejected, 0);
    assert.equal(first.metadata.rows_loaded, 23);
    assert.equal(first.metadata.null_values, 1);
    assert.ok(first.logs.some((l) => l.startsWith("info: loaded daily_activity_a.csv: 20 rows")));
  });

  await t.step("is idempotent: a second run skips both files and changes nothing", async () => {
    const manifest = await h.manifest();
    assert.equal(manifest["daily_activity_a.csv"]?.status, "loaded");
    assert.equal(manifest["daily_activity_a.csv"]?.rows, 20);
    assert.match(manifest["sleep_a.csv"]?.checksum ?? "", /^[0-9a-f]{64}$/);
    const second = await h.run();
    assert.equal(second.metadata.files_loaded, 0);
    assert.equal(second.metadata.files_skipped, 2);
    assert.equal(second.metadata.rows_loaded, 0);
    assert.ok(second.logs.some((l) => l.startsWith("info: skipped sleep_a.csv")));
    assert.equal(await h.count("raw.daily_activity"), 20);
    assert.equal(await h.count("raw.sleep"), 3);
    assert.deepEqual(await h.manifest(), manifest);
    // Same data version: the eager models downstream are not rebuilt for a run that loaded nothing.
    assert.match(String(first.metadata.data_version), /^[0-9a-f]{64}$/);
    assert.equal(second.metadata.data_version, first.metadata.data_version);
  });

  await t.step("a changed file replaces its own rows and only those", async () => {
    await h.drop("daily_activity_b.csv", activityCsv(10));
    await h.run();
    await h.drop("daily_activity_a.csv", activityCsv(7, { steps: 999 }));
    const before = (await h.manifest())["daily_activity_a.csv"];
    const run = await h.run();
    assert.equal(run.metadata.files_loaded, 1);
    assert.equal(run.metadata.files_skipped, 2);
    assert.notEqual(run.metadata.data_version, first.metadata.data_version);
    assert.equal(await h.count("raw.daily_activity", "daily_activity_a.csv"), 7);
    assert.equal(await h.count("raw.daily_activity", "daily_activity_b.csv"), 10);
    const [steps] = await h.warehouse.query<{ min: number; max: number }>(
      "SELECT min(total_steps) AS min, max(total_steps) AS max FROM raw.daily_activity " +
        "WHERE source_file = 'daily_activity_a.csv'",
    );
    assert.deepEqual(steps, { min: 999, max: 999 });
    const after = (await h.manifest())["daily_activity_a.csv"];
    assert.equal(after?.rows, 7);
    assert.notEqual(after?.checksum, before?.checksum);
    assert.ok(run.logs.some((l) => l.includes("replacing 20 rows of its previous version")));
  });
});

suite("a file missing a column is quarantined with a report; the others still load", async () => {
  await using h = await harness({ warehouse: shared() });
  const header = ACTIVITY_HEADER.replace(",Calories", "");
  await h.drop("daily_activity_bad.csv", `${header}\nu1,10/1/2026,1,1,1,1,1,1\n`);
  await h.drop("daily_activity_good.csv", activityCsv(5));
  await h.drop("sleep_good.csv", SLEEP_CSV);

  const { metadata, logs } = await h.run();

  assert.equal(metadata.files_loaded, 2);
  assert.equal(metadata.files_rejected, 1);
  assert.deepEqual(metadata.rejected_files, ["daily_activity_bad.csv"]);
  assert.equal(await h.count("raw.daily_activity"), 5);
  assert.equal(await h.count("raw.daily_activity", "daily_activity_bad.csv"), 0);
  assert.deepEqual(await h.keys("quarantine/"), [
    "quarantine/activity/daily_activity_bad.csv",
    "quarantine/activity/daily_activity_bad.csv.error.json",
  ]);
  assert.deepEqual(await h.keys("activity/"), [
    "activity/daily_activity_good.csv",
    "activity/sleep_good.csv",
  ]);
  const report = RejectionReportSchema.parse(
    await readJson(h.lake, "quarantine/activity/daily_activity_bad.csv.error.json"),
  );
  assert.equal(report.reason, "missing_columns");
  assert.deepEqual(report.missing_columns, ["Calories"]);
  assert.match(
    report.message,
    /Cannot load 'daily_activity_bad.csv': missing column\(s\) Calories/,
  );
  assert.equal(report.file, `${BUCKET}/activity/daily_activity_bad.csv`);
  assert.equal(report.quarantined_as, `${BUCKET}/quarantine/activity/daily_activity_bad.csv`);
  assert.equal((await h.manifest())["daily_activity_bad.csv"]?.status, "rejected");
  assert.ok(logs.some((l) => l.startsWith("error: rejected daily_activity_bad.csv")));
});

suite("too many bad values: rejected whole, report names row, line and column", async () => {
  await using h = await harness({ warehouse: shared() });
  const lines = activityCsv(50).trimEnd().split("\n");
  lines[3] = lines[3]!.replace(/,5001,/, ",5O01,"); // row 3, TotalSteps
  lines[10] = lines[10]!.replace(",10/2/2026,", ",10/2/2O26,"); // row 10, ActivityDate
  lines[20] = "u9,10/9/2026,1,2"; // row 20, wrong field count
  await h.drop("daily_activity_dirty.csv", lines.join("\n") + "\n");
  await h.drop("sleep_ok.csv", SLEEP_CSV);

  const { metadata } = await h.run();

  assert.equal(metadata.files_rejected, 1);
  assert.equal(await h.count("raw.daily_activity"), 0, "nothing of the file is loaded");
  assert.equal(await h.count("raw.sleep"), 3, "the other file still loads");
  const report = RejectionReportSchema.parse(
    await readJson(h.lake, "quarantine/activity/daily_activity_dirty.csv.error.json"),
  );
  assert.equal(report.reason, "too_many_bad_rows");
  assert.equal(report.data_rows, 50);
  assert.equal(report.bad_rows, 3);
  assert.equal(report.errors_total, 3);
  assert.equal(report.bad_row_ratio, 0.06);
  assert.equal(report.tolerance, 0.02);
  assert.deepEqual(report.errors, [
    {
      row: 3,
      line: 4,
      column: "TotalSteps",
      value: "5O01",
      problem: "is not a whole number between 0 and 2147483647",
    },
    {
      row: 10,
      line: 11,
      column: "ActivityDate",
      value: "10/2/2O26",
      problem: "is not a date (expected M/D/YYYY, optionally with a time, or YYYY-MM-DD)",
    },
    { row: 20, line: 21, column: null, value: null, problem: "has 4 field(s), the header has 9" },
  ]);
  assert.match(report.message, /3 of 50 rows \(6%\) have bad values/);
});

suite("the error list of a report is capped, its totals are not", async () => {
  await using h = await harness({ warehouse: shared() });
  const lines = [ACTIVITY_HEADER];
  for (let i = 0; i < 300; i++) lines.push(`u${i},10/1/2026,x,y,1,1,1,1,1`);
  await h.drop("daily_activity_junk.csv", lines.join("\n"));
  await h.run();
  const report = RejectionReportSchema.parse(
    await readJson(h.lake, "quarantine/activity/daily_activity_junk.csv.error.json"),
  );
  assert.equal(report.errors.length, 100);
  assert.equal(report.errors_total, 600);
  assert.equal(report.bad_rows, 300);
  assert.equal(report.bad_row_ratio, 1);
});

suite(
  "tolerance edge: a ratio equal to the tolerance loads, one more bad row rejects",
  async (t) => {
    const withBad = (bad: number) => {
      const lines = activityCsv(100).trimEnd().split("\n");
      for (let i = 1; i <= bad; i++) lines[i * 10] = lines[i * 10]!.replace(/,200,/, ",2x0,");
      return lines.join("\n") + "\n";
    };
    await t.step("2 bad of 100 with tolerance 0.02: loaded, the 98 good rows in", async () => {
      await using h = await harness({ warehouse: shared(), tolerance: 0.02 });
      await h.drop("daily_activity_edge.csv", withBad(2));
      const { metadata, logs } = await h.run();
      assert.equal(metadata.files_loaded, 1);
      assert.equal(metadata.bad_rows_skipped, 2);
      assert.equal(await h.count("raw.daily_activity"), 98);
      assert.ok(logs.some((l) => l.includes("skipped 2 bad row(s) of daily_activity_edge.csv")));
      assert.ok(logs.some((l) => l.includes("row 10 (line 11) LightlyActiveMinutes: '2x0'")));
    });
    await t.step("3 bad of 100: rejected, nothing loaded", async () => {
      await using h = await harness({ warehouse: shared(), tolerance: 0.02 });
      await h.drop("daily_activity_edge.csv", withBad(3));
      const { metadata } = await h.run();
      assert.equal(metadata.files_rejected, 1);
      assert.equal(await h.count("raw.daily_activity"), 0);
    });
    await t.step("tolerance 0: a single bad row rejects", async () => {
      await using h = await harness({ warehouse: shared(), tolerance: 0 });
      await h.drop("daily_activity_edge.csv", withBad(1));
      assert.equal((await h.run()).metadata.files_rejected, 1);
    });
  },
);

suite("a file that is not UTF-8 is rejected, naming the byte and line", async () => {
  await using h = await harness({ warehouse: shared() });
  const good = new TextEncoder().encode(activityCsv(4));
  // Windows-1252 'é' (0xE9) in a user id on line 3.
  const text = activityCsv(4).split("\n");
  const prefix = new TextEncoder().encode(text.slice(0, 2).join("\n") + "\nRen");
  const bytes = new Uint8Array([
    ...prefix,
    0xe9,
    ...new TextEncoder().encode("e,10/1/2026,1,1,1,1,1,1,1\n"),
  ]);
  await h.drop("sleep_latin1.csv", bytes);
  await h.drop("daily_activity_utf16.csv", new Uint8Array([0xff, 0xfe, 0x49, 0x00]));
  await h.drop("daily_activity_fine.csv", good);

  const { metadata } = await h.run();

  assert.equal(metadata.files_rejected, 2);
  assert.equal(metadata.files_loaded, 1);
  assert.equal(await h.count("raw.daily_activity"), 4);
  assert.equal(await h.count("raw.sleep"), 0);
  const report = RejectionReportSchema.parse(
    await readJson(h.lake, "quarantine/activity/sleep_latin1.csv.error.json"),
  );
  assert.equal(report.reason, "invalid_encoding");
  assert.deepEqual(report.encoding_error, { byte_offset: prefix.length, line: 3 });
  assert.match(report.message, /is not UTF-8: byte \d+ \(line 3\)/);
  const utf16 = RejectionReportSchema.parse(
    await readJson(h.lake, "quarantine/activity/daily_activity_utf16.csv.error.json"),
  );
  assert.deepEqual(utf16.encoding_error, { byte_offset: 0, line: 1 });
});

suite("a changed file that is bad keeps the previous version's rows and says so", async () => {
  await using h = await harness({ warehouse: shared() });
  await h.drop("daily_activity_a.csv", activityCsv(10));
  await h.run();
  await h.drop("daily_activity_a.csv", "Id,ActivityDate\nu1,10/1/2026\n");
  const { metadata } = await h.run();
  assert.equal(metadata.files_rejected, 1);
  assert.equal(await h.count("raw.daily_activity", "daily_activity_a.csv"), 10);
  const report = RejectionReportSchema.parse(
    await readJson(h.lake, "quarantine/activity/daily_activity_a.csv.error.json"),
  );
  assert.equal(report.previous_rows_kept, 10);
  assert.equal((await h.manifest())["daily_activity_a.csv"]?.status, "rejected");
});

suite("a user and day twice in one file is rejected naming the rows, not the SQL", async (t) => {
  await using h = await harness({ warehouse: shared() });
  const csv = [
    ACTIVITY_HEADER,
    activityRow("u1", 1),
    activityRow("u2", 1),
    activityRow("u1", 2),
    activityRow("u1", 1, 7777),
    activityRow("u2", 1),
  ].join("\n") + "\n";
  await h.drop("daily_activity_dupes.csv", csv);
  await h.drop(
    "sleep_dupes.csv",
    `${SLEEP_HEADER}\nu1,2026-10-01,1,400,430\nu2,2026-10-01,1,400,430\n` +
      "u1,10/1/2026 12:00:00 AM,1,380,400\n",
  );
  await h.drop("daily_activity_ok.csv", activityCsv(3));
  const { metadata } = await h.run();
  assert.equal(metadata.files_rejected, 2);
  assert.equal(metadata.files_loaded, 1);
  assert.equal(await h.count("raw.daily_activity"), 3);
  assert.equal(await h.count("raw.sleep"), 0);
  await t.step("daily activity: both pairs named, row and line", async () => {
    const report = RejectionReportSchema.parse(
      await readJson(h.lake, "quarantine/activity/daily_activity_dupes.csv.error.json"),
    );
    assert.equal(report.reason, "duplicate_rows");
    assert.match(
      report.message,
      /rows 1 and 4 \(lines 2 and 5\) are both user 'u1' on 2026-10-01 \(and 1 more repeated row/,
    );
    assert.doesNotMatch(report.message, /COPY|duplicate key|constraint/i);
    assert.deepEqual(report.errors.map((e) => [e.row, e.line, e.problem]), [
      [4, 5, "repeats user 'u1' on 2026-10-01 of row 1 (line 2)"],
      [5, 6, "repeats user 'u2' on 2026-10-01 of row 2 (line 3)"],
    ]);
  });
  await t.step("sleep (no unique key): found after loading, spelled two ways", async () => {
    const report = RejectionReportSchema.parse(
      await readJson(h.lake, "quarantine/activity/sleep_dupes.csv.error.json"),
    );
    assert.equal(report.reason, "duplicate_rows");
    assert.match(
      report.message,
      /rows 1 and 3 \(lines 2 and 4\) are both user 'u1' on 2026-10-01;/,
    );
  });
});

suite("a duplicate header name is rejected naming it; a CR-only file loads", async () => {
  await using h = await harness({ warehouse: shared() });
  await h.drop("sleep_twice.csv", `${SLEEP_HEADER},TotalTimeInBed\nu1,2026-10-01,1,400,430,431\n`);
  const mac = activityCsv(4).replaceAll("\n", "\r");
  await h.drop("daily_activity_mac.csv", mac);
  const { metadata } = await h.run();
  assert.deepEqual(metadata.rejected_files, ["sleep_twice.csv"]);
  assert.equal(await h.count("raw.daily_activity", "daily_activity_mac.csv"), 4);
  const report = RejectionReportSchema.parse(
    await readJson(h.lake, "quarantine/activity/sleep_twice.csv.error.json"),
  );
  assert.equal(report.reason, "duplicate_columns");
  assert.match(report.message, /names 'TotalTimeInBed' 2 times \(columns 5, 6\)/);
});

suite(
  "impossible rows count toward the tolerance: a day over 1440 minutes, more sleep than bed, 2999",
  async (t) => {
    await using h = await harness({ warehouse: shared() });
    const good = activityCsv(98).trimEnd().split("\n");
    const bad = [
      "u9,10/1/2026,10,0.01,600,600,600,0,2000", // 1800 minutes in a day
      "u9,1/1/2999,10,0.01,1,1,1,1,2000", // far in the future
    ];
    await h.drop("daily_activity_edge.csv", [...good, ...bad].join("\n") + "\n");
    await h.drop(
      "sleep_impossible.csv",
      `${SLEEP_HEADER}\nu1,2026-10-01,1,500,450\nu2,2026-10-01,1,400,430\n`,
    );
    const { metadata } = await h.run();
    await t.step("2 of 100 bad: within the 2% tolerance, skipped and named", async () => {
      assert.equal(await h.count("raw.daily_activity", "daily_activity_edge.csv"), 98);
      assert.equal(metadata.bad_rows_skipped, 2);
    });
    await t.step("1 of 2 bad: rejected, the report says why", async () => {
      assert.deepEqual(metadata.rejected_files, ["sleep_impossible.csv"]);
      const report = RejectionReportSchema.parse(
        await readJson(h.lake, "quarantine/activity/sleep_impossible.csv.error.json"),
      );
      assert.equal(report.reason, "too_many_bad_rows");
      assert.deepEqual(report.errors.map((e) => [e.row, e.problem]), [[
        1,
        "TotalMinutesAsleep (500) is more than TotalTimeInBed (450): nobody sleeps longer than " +
        "they are in bed",
      ]]);
    });
  },
);

suite("an empty file is rejected; a header-only file loads zero rows", async () => {
  await using h = await harness({ warehouse: shared() });
  await h.drop("sleep_empty.csv", "");
  await h.drop("sleep_header_only.csv", `${SLEEP_HEADER}\r\n`);
  const { metadata } = await h.run();
  assert.deepEqual(metadata.rejected_files, ["sleep_empty.csv"]);
  assert.equal(metadata.files_loaded, 1);
  assert.equal((await h.manifest())["sleep_header_only.csv"]?.rows, 0);
});

suite("headers match case-insensitively, in any order, with extra columns ignored", async () => {
  await using h = await harness({ warehouse: shared() });
  const csv = "totalminutesasleep, SleepDay ,Extra,ID,TotalTimeInBed,TotalSleepRecords\n" +
    "400,10/3/2026,zzz,u7,420,1\n";
  await h.drop("sleep_reordered.csv", csv);
  await h.run();
  const rows = await h.warehouse.query(
    "SELECT user_id, sleep_date, minutes_asleep, minutes_in_bed, sleep_records FROM raw.sleep",
  );
  assert.deepEqual(rows, [{
    user_id: "u7",
    sleep_date: new Date("2026-10-03T00:00:00Z"),
    minutes_asleep: 400,
    minutes_in_bed: 420,
    sleep_records: 1,
  }]);
});

suite("a file copied in by another tool (no recorded SHA-256) is hashed by streaming", async () => {
  await using h = await harness({ warehouse: shared() });
  const text = activityCsv(3);
  await h.drop("daily_activity_x.csv", text);
  const original = h.lake.head.bind(h.lake);
  // As if the object had been written by a tool that records no checksum.
  (h.lake as { head: typeof original }).head = async (bucket, key) => {
    const head = await original(bucket, key);
    if (head) delete head.sha256;
    return head;
  };
  await h.run();
  const expected = Array.from(
    new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text))),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
  assert.equal((await h.manifest())["daily_activity_x.csv"]?.checksum, expected);
  assert.equal((await h.run()).metadata.files_skipped, 1);
});

suite("two runs at once load each file once (the second waits, then skips)", async () => {
  await using h = await harness({ warehouse: shared() });
  await h.drop("daily_activity_a.csv", activityCsv(30));
  await h.drop("sleep_a.csv", SLEEP_CSV);
  const [one, two] = await Promise.all([h.run(), h.run()]);
  assert.equal(Number(one.metadata.files_loaded) + Number(two.metadata.files_loaded), 2);
  assert.equal(Number(one.metadata.files_skipped) + Number(two.metadata.files_skipped), 2);
  assert.equal(Number(one.metadata.files_rejected) + Number(two.metadata.files_rejected), 0);
  assert.equal(await h.count("raw.daily_activity"), 30);
  assert.equal(await h.count("raw.sleep"), 3);
});

suite("a run canceled mid-file rolls the file back and quarantines nothing", async () => {
  await using h = await harness({ warehouse: shared() });
  await h.drop("daily_activity_big.csv", activityCsv(20_000));
  const controller = new AbortController();
  const original = h.lake.get.bind(h.lake);
  (h.lake as { get: typeof original }).get = async (bucket, key, options) => {
    const result = await original(bucket, key, options);
    const abortAfterFirstChunk = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        out.enqueue(chunk);
        controller.abort(new DOMException("canceled by the test", "AbortError"));
      },
    });
    return { ...result, body: result.body.pipeThrough(abortAfterFirstChunk) };
  };
  await assert.rejects(h.run(undefined, controller.signal), /canceled by the test/);
  assert.equal(await h.count("raw.daily_activity"), 0);
  assert.deepEqual(await h.manifest(), {});
  assert.deepEqual(await h.keys("quarantine/"), []);
  assert.deepEqual(await h.keys("activity/"), ["activity/daily_activity_big.csv"]);
});

for (const target of warehouseTargets()) {
  Deno.test({
    name: `bronze_activity on ${target.name}`,
    ignore: await needs(...target.needs),
    async fn(t) {
      const { warehouse, stop } = await target.open();
      current = warehouse;
      try {
        for (const [name, fn] of cases) {
          const ok = await t.step(name, fn);
          if (!ok) break;
        }
      } finally {
        current = undefined;
        await stop();
      }
    },
  });
}
