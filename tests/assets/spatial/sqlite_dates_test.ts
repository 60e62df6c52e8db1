/**
 * GeoPackage/SQLite date text that GDAL would publish as null or as an
 * impossible day is found (the matrix's v_gpkg_bad_dates runs it through
 * both engines); what GDAL reads right is left alone.
 */

import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { badSqliteDates, isSqliteDateOrBlank } from "../../../assets/spatial/_sqlite_dates.ts";

Deno.test("sqlite dates: GDAL's readable spellings pass, the rest does not", () => {
  for (const ok of ["2024-02-29", "2024-1-5", "2024/01/05", " 2024-01-05 ", "", "  "]) {
    assert.ok(isSqliteDateOrBlank(ok, false), ok);
  }
  for (
    const bad of ["2024-13-45", "2023-02-29", "2024-04-31", "not a date", "0000-00-00", 20240105]
  ) {
    assert.ok(!isSqliteDateOrBlank(bad, false), String(bad));
  }
  for (
    const ok of [
      "2024-01-05T10:00:00.123Z",
      "2024-01-05 10:00:00",
      "2024-01-05T10:00:00+02:00",
      "2024-01-05T10:00:00+0200",
      "2024-01-05",
      "2024-01-05T23:59:60Z",
    ]
  ) {
    assert.ok(isSqliteDateOrBlank(ok, true), ok);
  }
  for (const bad of ["2024-01-05T24:00:00Z", "2024-01-01 25:61:00", "yesterday", 2460000.5]) {
    assert.ok(!isSqliteDateOrBlank(bad, true), String(bad));
  }
});

Deno.test("sqlite dates: the first bad values of the layers' tables, by fid; views are not read", async () => {
  const dir = await Deno.makeTempDir({ prefix: "sqlite-dates-" });
  try {
    const path = `${dir}/t.gpkg`;
    const db = new DatabaseSync(path);
    db.exec(`CREATE TABLE "my ""roads""" (fid INTEGER PRIMARY KEY, day DATE, at DATETIME)`);
    db.exec(`INSERT INTO "my ""roads""" VALUES (1, '2024-01-01', '2024-01-01T00:00:00.000Z'),
      (2, '2024-02-30', NULL), (3, NULL, '2024-01-01T24:00:00Z'), (4, '', 'x'),
      (5, 20240105, '2024-01-01T10:00:00Z')`);
    db.exec(`CREATE VIEW v AS SELECT * FROM "my ""roads"""`);
    db.close();
    const layer = { layer: 'my "roads"', dates: ["day"], dateTimes: ["at"] };
    assert.deepEqual(
      badSqliteDates(path, [layer, { ...layer, layer: "v" }]).map((b) => [b.fid, b.field, b.value]),
      [[2, "day", "2024-02-30"], [3, "at", "2024-01-01T24:00:00Z"], [4, "at", "x"], [
        5,
        "day",
        "20240105",
      ]],
    );
    assert.deepEqual(badSqliteDates(path, [{ ...layer, dates: [], dateTimes: [] }]), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
