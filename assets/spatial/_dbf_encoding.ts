/**
 * Whether a Shapefile's text can be read without knowing its code page.
 *
 * GDAL recodes a `.dbf` to UTF-8 from the code page its `.cpg` names, or
 * else its language driver id (header byte 29). With neither (old ArcView
 * and many converters wrote none), GDAL 3.6 passes the bytes through as
 * they are: right when they are UTF-8 or ASCII, but Latin-1 or Windows
 * text becomes invalid UTF-8, which the GeoParquet writer can only replace
 * with U+FFFD ("Zürich" published as "Z�rich"). Guessing a code page would
 * publish Cyrillic as Latin letters just as silently, so such a file is
 * refused with what to declare instead.
 *
 * The check reads the `.dbf` once, streaming, and only when nothing
 * declares its code page; it stops at the first byte sequence that is not
 * UTF-8.
 *
 * @module
 */

/** The `.dbf` header's language driver id byte, and where the records start. */
const LDID_OFFSET = 29;
const HEADER_LENGTH_OFFSET = 8;

/**
 * Whether the Shapefile at `shp` (a local path) holds text GDAL would read
 * as invalid UTF-8: no `.cpg` beside it, a language driver id of 0, and
 * records that are not UTF-8. A `.dbf` that cannot be read is left to GDAL
 * to report.
 */
export async function undeclaredNonUtf8(shp: string): Promise<boolean> {
  const stem = shp.replace(/\.shp$/i, "");
  const exists = (p: string) => Deno.stat(p).then((s) => s.isFile, () => false);
  for (const ext of [".cpg", ".CPG", ".Cpg"]) {
    if (await exists(`${stem}${ext}`)) return false;
  }
  const dbf = (await exists(`${stem}.dbf`))
    ? `${stem}.dbf`
    : (await exists(`${stem}.DBF`))
    ? `${stem}.DBF`
    : undefined;
  if (dbf === undefined) return false;
  using file = await Deno.open(dbf);
  const header = new Uint8Array(32);
  if ((await file.read(header)) !== 32 || header[LDID_OFFSET] !== 0) return false;
  const start = header[HEADER_LENGTH_OFFSET]! | (header[HEADER_LENGTH_OFFSET + 1]! << 8);
  await file.seek(start, Deno.SeekMode.Start);
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const buffer = new Uint8Array(1 << 20);
  try {
    for (;;) {
      const n = await file.read(buffer);
      if (n === null) break;
      decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    decoder.decode();
    return false;
  } catch (error) {
    if (error instanceof TypeError) return true;
    throw error;
  }
}
