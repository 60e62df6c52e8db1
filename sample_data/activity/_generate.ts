/**
 * Generates the synthetic Fitbit-style activity drops in this folder:
 * 6 users, 28 days (2026-10-05 to 2026-11-01), split into two drops of 14
 * days each for daily activity and for sleep, with a few dirty rows that stay
 * under the default bad-row tolerance (2%). Deterministic: a fixed seed, so
 * running it again rewrites the same bytes.
 *
 *     deno run --allow-write=sample_data/activity sample_data/activity/_generate.ts
 *
 * @module
 */

import { mulberry32 } from "../_random.ts";

/** What a generated file holds, for the tests. */
export interface SampleFile {
  /** File name. */
  readonly name: string;
  /** The CSV text. */
  readonly text: string;
  /** Data rows in the file (header excluded). */
  readonly dataRows: number;
  /** Rows with a value that does not parse (skipped at load). */
  readonly badRows: number;
  /** Blank optional values (loaded as NULL). */
  readonly nullValues: number;
}

/** Fitbit-style user ids (10 digits) and how active each user is. */
const USERS = [
  { id: "1503960366", steps: 11_500, stride: 0.00078, bmr: 1_500 },
  { id: "1624580081", steps: 5_800, stride: 0.00072, bmr: 1_350 },
  { id: "2022484408", steps: 9_900, stride: 0.00074, bmr: 1_900 },
  { id: "4319703577", steps: 7_300, stride: 0.00068, bmr: 1_600 },
  { id: "6962181067", steps: 9_700, stride: 0.0007, bmr: 1_450 },
  { id: "8877689391", steps: 16_000, stride: 0.00082, bmr: 2_300 },
] as const;

const FIRST_DAY = Date.UTC(2026, 9, 5); // Monday 2026-10-05
const DAYS_PER_DROP = 14;
const DROPS = 2;
const SEED = 20261005;

function usDate(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`;
}

function isoDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/** A dirty value planted at (drop, row index, column). */
interface Dirt {
  readonly drop: number;
  readonly row: number;
  readonly column: string;
  readonly value: string;
  readonly bad: boolean;
}

const ACTIVITY_DIRT: readonly Dirt[] = [
  { drop: 0, row: 17, column: "TotalSteps", value: "1O234", bad: true }, // letter O for zero
  { drop: 0, row: 40, column: "TotalDistance", value: "", bad: false }, // not synced
  { drop: 1, row: 9, column: "Calories", value: "", bad: false },
  { drop: 1, row: 63, column: "SedentaryMinutes", value: "1502", bad: true }, // more than a day
];

const SLEEP_DIRT: readonly Dirt[] = [
  { drop: 0, row: 12, column: "TotalTimeInBed", value: "", bad: false },
  { drop: 0, row: 33, column: "TotalMinutesAsleep", value: "4o5", bad: true },
  { drop: 1, row: 21, column: "SleepDay", value: "10/32/2026 12:00:00 AM", bad: true },
];

const ACTIVITY_HEADER = [
  "Id",
  "ActivityDate",
  "TotalSteps",
  "TotalDistance",
  "VeryActiveMinutes",
  "FairlyActiveMinutes",
  "LightlyActiveMinutes",
  "SedentaryMinutes",
  "Calories",
];

const SLEEP_HEADER = [
  "Id",
  "SleepDay",
  "TotalSleepRecords",
  "TotalMinutesAsleep",
  "TotalTimeInBed",
];

/** Every sample file, generated in memory. */
export function generateSamples(): SampleFile[] {
  const next = mulberry32(SEED);
  const activity: Record<string, string>[][] = [[], []];
  const sleep: Record<string, string>[][] = [[], []];
  for (let day = 0; day < DAYS_PER_DROP * DROPS; day++) {
    const ms = FIRST_DAY + day * 86_400_000;
    const weekend = new Date(ms).getUTCDay() % 6 === 0;
    const drop = Math.floor(day / DAYS_PER_DROP);
    for (const user of USERS) {
      const asleep = Math.round(330 + next() * 160 + (weekend ? 40 : 0));
      const inBed = asleep + Math.round(8 + next() * 50);
      const steps = Math.max(
        0,
        Math.round(user.steps * (weekend ? 0.8 : 1) * (0.55 + next() * 0.9)),
      );
      const veryActive = Math.round((steps / 1000) * (1.2 + next() * 2));
      const fairlyActive = Math.round((steps / 1000) * (0.5 + next() * 1.5));
      const lightlyActive = Math.round(120 + steps / 60 + next() * 60);
      const sedentary = 1440 - veryActive - fairlyActive - lightlyActive - asleep;
      const calories = Math.round(
        user.bmr + steps * 0.045 + veryActive * 9 + fairlyActive * 5 + next() * 120,
      );
      activity[drop]!.push({
        Id: user.id,
        ActivityDate: usDate(ms),
        TotalSteps: String(steps),
        TotalDistance: (steps * user.stride).toFixed(2),
        VeryActiveMinutes: String(veryActive),
        FairlyActiveMinutes: String(fairlyActive),
        LightlyActiveMinutes: String(lightlyActive),
        SedentaryMinutes: String(sedentary),
        Calories: String(calories),
      });
      if (next() < 0.8) { // the tracker is not worn every night
        sleep[drop]!.push({
          Id: user.id,
          SleepDay: `${usDate(ms)} 12:00:00 AM`,
          TotalSleepRecords: next() < 0.9 ? "1" : "2",
          TotalMinutesAsleep: String(asleep),
          TotalTimeInBed: String(inBed),
        });
      }
    }
  }
  const files: SampleFile[] = [];
  for (let drop = 0; drop < DROPS; drop++) {
    const from = isoDate(FIRST_DAY + drop * DAYS_PER_DROP * 86_400_000);
    const to = isoDate(FIRST_DAY + ((drop + 1) * DAYS_PER_DROP - 1) * 86_400_000);
    const period = `${from}_${to}`;
    files.push(
      render(
        `daily_activity_${period}.csv`,
        ACTIVITY_HEADER,
        activity[drop]!,
        ACTIVITY_DIRT,
        drop,
        {
          // The first drop comes from a Windows export: CRLF line ends, ids quoted.
          crlf: drop === 0,
          quoteIds: drop === 0,
        },
      ),
      render(`sleep_${period}.csv`, SLEEP_HEADER, sleep[drop]!, SLEEP_DIRT, drop, {
        crlf: false,
        quoteIds: false,
      }),
    );
  }
  return files;
}

function render(
  name: string,
  header: readonly string[],
  rows: Record<string, string>[],
  dirt: readonly Dirt[],
  drop: number,
  style: { crlf: boolean; quoteIds: boolean },
): SampleFile {
  let badRows = 0;
  let nullValues = 0;
  for (const d of dirt.filter((d) => d.drop === drop)) {
    const row = rows[d.row];
    if (!row) throw new RangeError(`${name}: no row ${d.row} to make dirty`);
    row[d.column] = d.value;
    if (d.bad) badRows++;
    else nullValues++;
  }
  const eol = style.crlf ? "\r\n" : "\n";
  const lines = [header.join(",")];
  for (const row of rows) {
    lines.push(header.map((h) => h === "Id" && style.quoteIds ? `"${row[h]}"` : row[h]).join(","));
  }
  return { name, text: lines.join(eol) + eol, dataRows: rows.length, badRows, nullValues };
}

if (import.meta.main) {
  const dir = new URL("./", import.meta.url);
  for (const file of generateSamples()) {
    await Deno.writeTextFile(new URL(file.name, dir), file.text);
    console.log(
      `${file.name}: ${file.dataRows} rows, ${file.badRows} bad, ${file.nullValues} blank -> ` +
        `${file.dataRows - file.badRows} loaded`,
    );
  }
}
