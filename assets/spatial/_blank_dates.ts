/**
 * A Shapefile's blank dates as nulls on both engines.
 *
 * A `.dbf` Date field left blank (eight spaces: how many exporters write a
 * null date) is null to native GDAL 3.6, but gdal3.js's GDAL 3.8 reads it
 * as the date 0000/00/00, which its GeoPackage then holds as `0000-00-00`:
 * the wasm engine published that for every null date (measured: the matrix
 * case `v_shp_blank_dates`). No calendar has a month 0, so such a value is
 * only ever a blank: set back to NULL in the converted layer before it is
 * written.
 *
 * @module
 */

import { openSqlite } from "../../resources/_sqlite.ts";

/** What gdal3.js's GeoPackage holds for a blank `.dbf` date. */
const BLANK_DATE = "0000-00-00";

/**
 * Sets the Date columns `columns` of `table` in the converted GeoPackage at
 * `gpkg` to NULL where they hold {@linkcode BLANK_DATE}; returns the values
 * changed.
 */
export function blankDatesToNull(gpkg: string, table: string, columns: readonly string[]): number {
  if (columns.length === 0) return 0;
  const db = openSqlite(gpkg, { mode: "scratch" });
  try {
    let changed = 0;
    const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;
    for (const column of columns) {
      const result = db.prepare(
        `UPDATE ${quote(table)} SET ${quote(column)} = NULL WHERE ${quote(column)} = ?`,
      ).run(BLANK_DATE);
      changed += Number(result.changes);
    }
    return changed;
  } finally {
    db.close();
  }
}
