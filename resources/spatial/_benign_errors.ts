/**
 * GDAL errors (CE_Failure) that do not mean the output is wrong. Both
 * engines fail a conversion on any error GDAL reports, even when it wrote an
 * output, since most are a file read half-way (a corrupt tile). These few are
 * not: `gdal_translate -stats` (and the COG driver's `STATISTICS=YES`) on a
 * band whose every pixel is nodata (a tile of sea in a DEM) reports "Failed
 * to compute statistics, no valid pixels found in sampling" and writes the
 * file without statistics, as the gdal_translate command does (exit 0).
 *
 * @module
 */

const BENIGN = [/Failed to compute statistics, no valid pixels found in sampling/];

/** Whether a GDAL error message is one that leaves the output right (see the module doc). */
export function isBenignGdalError(message: string): boolean {
  return BENIGN.some((pattern) => pattern.test(message));
}
