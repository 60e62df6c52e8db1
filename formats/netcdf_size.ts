/**
 * Whether a classic netCDF file (CDF-1, or CDF-2 of 64-bit offsets) is cut
 * short of the data its header lays out. The netCDF library reads the
 * variables of a truncated classic file as their fill value without any
 * error, so GDAL (and `gdal_translate`) turn an upload cut off in transfer
 * into a grid of nodata where the data was: nothing else tells.
 *
 * The header is read by netcdfjs (cheminfo); only the first bytes of the
 * file are read, more when the header is longer.
 *
 * @module
 */

import { NetCDFReader } from "netcdfjs";

/** What a cut-short file's header says against what the file holds. */
export interface NetcdfCut {
  /** Bytes the header lays out (the end of the last variable's data). */
  expected: number;
  /** Bytes of the file. */
  actual: number;
}

/** Header bytes tried first; doubled (up to the file) while the header does not fit. */
const FIRST_READ = 1 << 20;

/**
 * The sizes of the classic netCDF file at `path` when it is shorter than its
 * header says, else `undefined` (whole, or not a classic netCDF file: a
 * netCDF-4 file is HDF5, CDF-5 and offsets past 4 GiB are not read by
 * netcdfjs, a header that does not parse is left to GDAL).
 */
export async function netcdfCutShort(path: string): Promise<NetcdfCut | undefined> {
  using file = await Deno.open(path, { read: true });
  const actual = (await file.stat()).size;
  for (let want = Math.min(FIRST_READ, actual); want > 0; want = Math.min(2 * want, actual)) {
    const bytes = new Uint8Array(want);
    let filled = 0;
    await file.seek(0, Deno.SeekMode.Start);
    while (filled < want) {
      const read = await file.read(bytes.subarray(filled));
      if (read === null) break;
      filled += read;
    }
    if (filled < 4 || bytes[0] !== 0x43 || bytes[1] !== 0x44 || bytes[2] !== 0x46) return undefined;
    if (bytes[3] !== 1 && bytes[3] !== 2) return undefined;
    let header: NetCDFReader["header"];
    try {
      header = new NetCDFReader(bytes.subarray(0, filled)).header;
    } catch (error) {
      // Only a header longer than what was read (netcdfjs reads past the buffer: RangeError)
      // is worth a longer read; one netcdfjs refuses (TypeError) would otherwise be read
      // again doubling up to the whole file, gigabytes in memory for a large upload.
      if (!(error instanceof RangeError) || want >= actual) return undefined;
      continue;
    }
    const records = header.recordDimension.length ?? 0;
    const step = header.recordDimension.recordStep ?? 0;
    let expected = 0;
    for (const variable of header.variables) {
      const end = variable.record
        ? variable.offset + Math.max(0, records - 1) * step + variable.size
        : variable.offset + variable.size;
      if (!variable.record || records > 0) expected = Math.max(expected, end);
    }
    // A variable's size is rounded up to 4 bytes in the header; the file may end unpadded.
    return actual + 4 <= expected ? { expected, actual } : undefined;
  }
  return undefined;
}
