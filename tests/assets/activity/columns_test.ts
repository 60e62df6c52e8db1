import assert from "node:assert/strict";
import {
  DAILY_ACTIVITY,
  dropKindOf,
  DuplicateColumnsError,
  FileStats,
  MissingColumnsError,
  parseDate,
  RowParser,
  SLEEP,
} from "../../../assets/activity/_columns.ts";

Deno.test("parseDate reads Fitbit and ISO dates and refuses days that do not exist", () => {
  assert.equal(parseDate("4/12/2016"), "2016-04-12");
  assert.equal(parseDate("4/12/2016 12:00:00 AM"), "2016-04-12");
  assert.equal(parseDate("12/31/2026 23:59"), "2026-12-31");
  assert.equal(parseDate("2024-02-29"), "2024-02-29");
  assert.equal(parseDate("2024-02-29T00:00:00Z"), "2024-02-29");
  for (
    const bad of [
      "2023-02-29",
      "13/1/2026",
      "10/32/2026",
      "0/1/2026",
      "2026-1-5",
      "yesterday",
      "4/12/16",
      "4/12/2016 13:00 PM",
    ]
  ) {
    assert.equal(parseDate(bad), undefined, bad);
  }
});

Deno.test("dropKindOf picks the table by file name", () => {
  assert.equal(dropKindOf("daily_activity_2026-10.csv"), DAILY_ACTIVITY);
  assert.equal(dropKindOf("sleep.csv"), SLEEP);
  assert.equal(dropKindOf("Sleep_Week1.CSV"), SLEEP);
  assert.equal(dropKindOf("dailyActivity_merged.csv"), undefined);
  assert.equal(dropKindOf("sleep_2026.csv.bak"), undefined);
});

Deno.test("RowParser validates each value and records every problem of a bad row", () => {
  const stats = new FileStats(10);
  const header = { fields: SLEEP.columns.map((c) => c.csv), line: 1 };
  const parser = RowParser.fromHeader(
    SLEEP,
    header,
    "sleep.csv",
    stats,
  );
  assert.deepEqual(parser.parse({ fields: [" u1 ", "10/1/2026", "1", " 420 ", ""], line: 2 }), [
    "u1",
    "2026-10-01",
    "1",
    "420",
    null,
    "sleep.csv",
  ]);
  assert.equal(
    parser.parse({ fields: ["", "10/1/2026", "-1", "1441", "1.5"], line: 3 }),
    undefined,
  );
  assert.deepEqual(stats.issues.map((i) => [i.row, i.line, i.column, i.value]), [
    [2, 3, "Id", ""],
    [2, 3, "TotalSleepRecords", "-1"],
    [2, 3, "TotalMinutesAsleep", "1441"],
    [2, 3, "TotalTimeInBed", "1.5"],
  ]);
  assert.equal(stats.issues[0]?.problem, "is blank (required)");
  assert.deepEqual(
    {
      dataRows: stats.dataRows,
      badRows: stats.badRows,
      badValues: stats.badValues,
      nulls: stats.nullValues,
    },
    { dataRows: 2, badRows: 1, badValues: 4, nulls: 1 },
  );
});

Deno.test("RowParser names every missing column", () => {
  const error = (() => {
    try {
      RowParser.fromHeader(
        DAILY_ACTIVITY,
        { fields: ["Id", "TotalSteps"], line: 1 },
        "f",
        new FileStats(1),
      );
    } catch (e) {
      return e;
    }
  })();
  assert.ok(error instanceof MissingColumnsError);
  assert.deepEqual(error.missing, [
    "ActivityDate",
    "TotalDistance",
    "VeryActiveMinutes",
    "FairlyActiveMinutes",
    "LightlyActiveMinutes",
    "SedentaryMinutes",
    "Calories",
  ]);
});

Deno.test("RowParser keeps integers inside int4 and minutes inside a day", () => {
  const stats = new FileStats(10);
  const header = { fields: DAILY_ACTIVITY.columns.map((c) => c.csv), line: 1 };
  const parser = RowParser.fromHeader(DAILY_ACTIVITY, header, "d.csv", stats);
  const row = (steps: string, minutes: string, km: string) =>
    parser.parse({ fields: ["u", "2026-10-01", steps, km, minutes, "0", "0", "0", "0"], line: 2 });
  assert.notEqual(row("2147483647", "1440", "12.5"), undefined);
  assert.notEqual(row("0", "0", ".5"), undefined);
  assert.equal(row("2147483648", "0", "1"), undefined);
  assert.equal(row("1", "1441", "1"), undefined);
  assert.equal(row("1", "9999", "1"), undefined);
  assert.equal(row("1", "1", "1e3"), undefined);
  assert.equal(row("1", "1", "-1"), undefined);
  assert.equal(row("1", "1", "1.2.3"), undefined);
  assert.deepEqual(
    stats.issues.map((i) => i.column),
    [
      "TotalSteps",
      "VeryActiveMinutes",
      "VeryActiveMinutes",
      "TotalDistance",
      "TotalDistance",
      "TotalDistance",
    ],
  );
});

Deno.test("RowParser refuses a header naming a column twice, whichever column", () => {
  const cases: [string[], string, number[]][] = [
    [["Id", "SleepDay", "TotalSleepRecords", "TotalMinutesAsleep", "TotalTimeInBed", "id"], "Id", [
      1,
      6,
    ]],
    [
      ["Id", "SleepDay", "TotalSleepRecords", "TotalMinutesAsleep", "TotalTimeInBed", "x", " X "],
      "x",
      [
        6,
        7,
      ],
    ],
  ];
  for (const [fields, name, positions] of cases) {
    const error = (() => {
      try {
        RowParser.fromHeader(SLEEP, { fields, line: 1 }, "s.csv", new FileStats(1));
      } catch (e) {
        return e;
      }
    })();
    assert.ok(error instanceof DuplicateColumnsError, String(error));
    assert.deepEqual(error.repeated, [{ name, positions }]);
    assert.match(
      error.message,
      new RegExp(`names '${name}' 2 times \\(columns ${positions.join(", ")}\\)`),
    );
  }
});

Deno.test("RowParser: rows whose values disagree or lie in the future are bad rows, with the reason", () => {
  const stats = new FileStats(10);
  const daily = RowParser.fromHeader(
    DAILY_ACTIVITY,
    { fields: DAILY_ACTIVITY.columns.map((c) => c.csv), line: 1 },
    "d.csv",
    stats,
    { latestDate: "2026-12-06" },
  );
  const activity = (date: string, minutes: [string, string, string, string]) =>
    daily.parse({ fields: ["u", date, "10", "1.5", ...minutes, "2000"], line: 2 });
  assert.notEqual(activity("2026-12-06", ["60", "60", "300", "1020"]), undefined, "exactly a day");
  assert.notEqual(activity("12/6/2026", ["", "", "", "1440"]), undefined, "blank minutes are 0");
  assert.equal(activity("2026-12-06", ["60", "60", "300", "1021"]), undefined);
  assert.equal(activity("2026-12-07", ["0", "0", "0", "0"]), undefined);
  assert.equal(activity("1/1/2999", ["0", "0", "0", "0"]), undefined);
  const sleep = RowParser.fromHeader(
    SLEEP,
    { fields: SLEEP.columns.map((c) => c.csv), line: 1 },
    "s.csv",
    stats,
    { latestDate: "2026-12-06" },
  );
  const night = (asleep: string, inBed: string) =>
    sleep.parse({ fields: ["u", "2026-10-01", "1", asleep, inBed], line: 3 });
  assert.notEqual(night("420", "420"), undefined);
  assert.notEqual(night("420", ""), undefined, "an unknown time in bed cannot disagree");
  assert.equal(night("421", "420"), undefined);
  assert.deepEqual(stats.issues.map((i) => [i.column, i.problem]), [
    [
      null,
      "VeryActiveMinutes + FairlyActiveMinutes + LightlyActiveMinutes + SedentaryMinutes = " +
      "1441, more than the 1440 minutes of a day",
    ],
    ["ActivityDate", "is in the future (after 2026-12-06)"],
    ["ActivityDate", "is in the future (after 2026-12-06)"],
    [
      null,
      "TotalMinutesAsleep (421) is more than TotalTimeInBed (420): nobody sleeps longer than " +
      "they are in bed",
    ],
  ]);
  assert.equal(stats.badRows, 4);
});
