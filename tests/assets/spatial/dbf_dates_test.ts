/**
 * The `.dbf` Date values that are not dates (assets/spatial/_dbf_dates.ts),
 * read from a `.dbf` built here byte by byte: blanks are null dates, deleted
 * records are skipped as GDAL skips them, the calendar is checked.
 */

import assert from "node:assert/strict";
import { badDbfDates, isDateOrBlank } from "../../../assets/spatial/_dbf_dates.ts";

/** A dBASE III file of one Character(4) field `name` and one Date field `day`. */
function dbf(rows: { deleted?: boolean; name: string; day: string }[]): Uint8Array {
  const fields = [["name", 0x43, 4], ["day", 0x44, 8]] as const;
  const headerLength = 32 + 32 * fields.length + 1;
  const recordLength = 1 + 4 + 8;
  const out = new Uint8Array(headerLength + recordLength * rows.length + 1);
  const view = new DataView(out.buffer);
  out[0] = 3;
  view.setUint32(4, rows.length, true);
  view.setUint16(8, headerLength, true);
  view.setUint16(10, recordLength, true);
  fields.forEach(([name, type, length], i) => {
    const at = 32 + 32 * i;
    out.set(new TextEncoder().encode(name), at);
    out[at + 11] = type;
    out[at + 16] = length;
  });
  out[headerLength - 1] = 0x0d;
  rows.forEach((row, i) => {
    const at = headerLength + recordLength * i;
    out[at] = row.deleted ? 0x2a : 0x20;
    out.set(new TextEncoder().encode(row.name.padEnd(4).slice(0, 4) + row.day), at + 1);
  });
  out[out.length - 1] = 0x1a;
  return out;
}

Deno.test("isDateOrBlank: calendar dates and blanks, nothing else", () => {
  for (const ok of ["20240229", "20000229", "19991231", "        ", "00000000", "12180101"]) {
    assert.ok(isDateOrBlank(ok), ok);
  }
  for (
    const bad of [
      "20230229",
      "19000229",
      "20241345",
      "20240431",
      "2024XX01",
      "2024-1-1",
      "2024010 ",
    ]
  ) {
    assert.ok(!isDateOrBlank(bad), bad);
  }
});

Deno.test("badDbfDates names the field, row and value; skips deleted records and blanks", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbf-dates-test-" });
  try {
    await Deno.writeFile(
      `${dir}/a.dbf`,
      dbf([
        { name: "a", day: "20240229" },
        { name: "b", day: "        " },
        { name: "c", day: "20241345" },
        { deleted: true, name: "d", day: "garbage!" },
        { name: "e", day: "2024XX01" },
      ]),
    );
    assert.deepEqual(await badDbfDates(`${dir}/a.dbf`), [
      { field: "day", row: 3, value: "20241345" },
      { field: "day", row: 5, value: "2024XX01" },
    ]);
    await Deno.writeFile(`${dir}/b.dbf`, dbf([{ name: "a", day: "20240229" }]));
    assert.deepEqual(await badDbfDates(`${dir}/b.dbf`), []);
    assert.deepEqual(await badDbfDates(`${dir}/missing.dbf`), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
