/**
 * Whole numbers of a Shapefile's `.dbf` that GDAL would publish changed,
 * found before GDAL reads them. GDAL reads a numeric field of no decimals
 * and 19 or more characters (ArcGIS's N(19,0) or N(20,0) of parcel and
 * feature ids) as Real, a double: measured with GDAL 3.6 on both engines,
 * `1234567890123456789` is published as 1234567890123456768 and
 * `9007199254740993` as 9007199254740992, without a word. Such a value is
 * refused, naming it; one a double holds exactly is left alone.
 *
 * @module
 */

import { scanDbf } from "./_dbf_scan.ts";

/** One whole number a double cannot hold. */
export interface InexactNumber {
  /** The field's name. */
  field: string;
  /** The record's place in the file, from 1. */
  row: number;
  /** The number as stored. */
  value: string;
  /** What GDAL would publish instead. */
  published: string;
}

/** Most values listed (the first ones in the file). */
const MAX_LISTED = 5;

/** The narrowest numeric field of no decimals GDAL 3.6 reads as Real. */
const REAL_WIDTH = 19;

/**
 * The whole numbers of the `.dbf` at `dbf` in fields GDAL reads as Real
 * that a double does not hold exactly (at most {@linkcode MAX_LISTED}).
 */
export async function inexactDbfNumbers(dbf: string): Promise<InexactNumber[]> {
  const found: InexactNumber[] = [];
  await scanDbf(
    dbf,
    (f) => (f.type === "N" || f.type === "F") && f.decimals === 0 && f.length >= REAL_WIDTH,
    (field, row, raw) => {
      const value = raw.trim();
      if (!/^[-+]?\d+$/.test(value)) return true;
      const exact = BigInt(value);
      const published = Number(value);
      if (BigInt(published) !== exact) {
        found.push({ field: field.name, row, value, published: BigInt(published).toString() });
      }
      return found.length < MAX_LISTED;
    },
  );
  return found;
}
