/**
 * Whether a Shapefile's (or a CSV's) text can be read right, and the
 * `ENCODING` GDAL must be told when it would misread what the user declared.
 *
 * GDAL recodes a `.dbf` to UTF-8 from the code page its `.cpg` names, or
 * else its language driver id (header byte 29). With neither (old ArcView
 * and many converters wrote none), GDAL 3.6 passes the bytes through as
 * they are: right when they are UTF-8 or ASCII, but Latin-1 or Windows
 * text becomes invalid UTF-8, which the GeoParquet writer can only replace
 * with U+FFFD ("Zürich" published as "Z�rich"). Guessing a code page would
 * publish Cyrillic as Latin letters just as silently, so such a file is
 * refused with what to declare instead. The same holds for a `.cpg` that
 * says UTF-8 over text that is not (a `.cpg` copied from another export).
 *
 * GDAL 3.6 also misreads two spellings ArcGIS writes into `.cpg` files
 * (measured with ogrinfo): `ANSI 1252` (it knows only `ANSI 1251`) and
 * `8859_1` (it reads `8859-1` and `88591`); the text then passes through
 * unrecoded, garbled. Those are handed to GDAL as the `ENCODING` open
 * option, which it reads right. Every other `.cpg` is left to GDAL.
 *
 * A zipped Shapefile is looked at inside its zip (the `.cpg` and `.dbf`
 * beside its `.shp`), as GDAL reads it there.
 *
 * The check reads the `.dbf` once, streaming, and only when its code page
 * could be wrong; it stops at the first byte sequence that is not UTF-8.
 *
 * @module
 */

import path from "node:path";
import {
  zipEntries,
  type ZipEntry,
  zipEntryStream,
  ZipListingError,
} from "../../formats/zip_names.ts";

/** The `.dbf` header's language driver id byte, and where the records start. */
const LDID_OFFSET = 29;
const HEADER_LENGTH_OFFSET = 8;

/** What GDAL needs to read a Shapefile's text right (`encoding`: its ENCODING option), or why it cannot. */
export type DbfText = { encoding?: string } | { problem: string };

/** One Shapefile's sidecars as the check reads them (beside it on disk, or in its zip). */
interface Sidecars {
  /** How the user knows the `.dbf` (its name, with its folder inside a zip). */
  dbfName: string;
  /** The `.cpg` text, if there is one. */
  cpg(): Promise<string | undefined>;
  /** The `.dbf` bytes, if there is one. */
  dbf(): Promise<ReadableStream<Uint8Array> | undefined>;
}

/**
 * What GDAL needs to read the text of the Shapefile at `shp` (a local path
 * of a `.shp`, a `.zip`, `<zip>/<path inside>.shp`, or `<zip>/<folder>` for
 * the Shapefiles of that folder). A `.dbf` that cannot
 * be read is left to GDAL to report.
 */
export async function dbfText(shp: string): Promise<DbfText> {
  const zip = shp.match(/^(.*?\.zip)(?:\/(.+))?$/i);
  let shapefiles: Sidecars[];
  try {
    shapefiles = zip ? await zipped(zip[1]!, zip[2]) : [await beside(shp)];
  } catch (error) {
    if (error instanceof ZipListingError) return {};
    throw error;
  }
  let encoding: string | undefined;
  for (const s of shapefiles) {
    // A zip entry that cannot be read or inflated is left to GDAL to report.
    const text = await judge(s).catch((error): DbfText => {
      if (error instanceof ZipListingError || error instanceof TypeError) return {};
      throw error;
    });
    if ("problem" in text) return text;
    encoding ??= text.encoding;
  }
  return encoding === undefined ? {} : { encoding };
}

/** The ENCODING a `.cpg` means when GDAL 3.6 would misread it, else undefined. */
export function misreadCodePage(cpg: string): string | undefined {
  const text = cpg.trim();
  const ansi = text.match(/^ANSI\s+(\d{3,5})$/i)?.[1];
  if (ansi !== undefined && ansi !== "1251") return `CP${ansi}`;
  const iso = text.match(/^8859_(\d{1,2})$/)?.[1];
  return iso === undefined ? undefined : `ISO-8859-${iso}`;
}

async function judge(s: Sidecars): Promise<DbfText> {
  const cpg = await s.cpg();
  if (cpg !== undefined) {
    const encoding = misreadCodePage(cpg);
    if (encoding !== undefined) return { encoding };
    if (!/^(UTF-?8|65001)$/i.test(cpg.trim())) return {};
  }
  const stream = await s.dbf();
  if (stream === undefined) return {};
  const { ldid, utf8 } = await readDbf(stream);
  if (utf8) return {};
  if (cpg !== undefined) {
    return {
      problem: `its .cpg says ${cpg.trim()}, yet its .dbf (${s.dbfName}) holds text that is not ` +
        "UTF-8, so it would be published garbled; correct the .cpg to the code page the .dbf " +
        "was written in (e.g. 1252 for Windows Western European, 1251 for Cyrillic), or set " +
        'open_options: ["ENCODING=CP1252"] on the file',
    };
  }
  if (ldid !== 0) return {};
  return {
    problem: `its .dbf (${s.dbfName}) holds text that is not UTF-8 and nothing says its code ` +
      "page (no .cpg, no language driver id in the .dbf), so it would be published garbled; " +
      "upload a .cpg beside it naming the code page (e.g. CP1252, ISO-8859-1, CP1251), or set " +
      'open_options: ["ENCODING=CP1252"] on the file',
  };
}

/**
 * What says the code page of the Shapefile at `shp` (as {@linkcode dbfText}
 * takes it), for a report: its `.cpg` (`its .cpg 'CP437'`), else its
 * `.dbf`'s language driver id (`its .dbf's language driver id 0x01`), or
 * `undefined` when nothing does. Only the first Shapefile of a zip is read.
 */
export async function saidCodePage(shp: string): Promise<string | undefined> {
  const zip = shp.match(/^(.*?\.zip)(?:\/(.+))?$/i);
  let s: Sidecars | undefined;
  try {
    s = zip ? (await zipped(zip[1]!, zip[2]))[0] : await beside(shp);
  } catch (error) {
    if (error instanceof ZipListingError || error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (s === undefined) return undefined;
  const cpg = (await s.cpg())?.trim();
  if (cpg) return `its .cpg '${cpg}'`;
  const stream = await s.dbf();
  if (stream === undefined) return undefined;
  const reader = stream.getReader();
  const header = new Uint8Array(LDID_OFFSET + 1);
  let have = 0;
  try {
    while (have < header.length) {
      const { done, value } = await reader.read();
      if (done) break;
      const part = value.subarray(0, header.length - have);
      header.set(part, have);
      have += part.length;
    }
  } finally {
    await reader.cancel();
  }
  const ldid = have === header.length ? header[LDID_OFFSET]! : 0;
  return ldid === 0
    ? undefined
    : `its .dbf's language driver id 0x${ldid.toString(16).padStart(2, "0").toUpperCase()}`;
}

/** The sidecars of a Shapefile on disk, found whatever the case of their extension. */
async function beside(shp: string): Promise<Sidecars> {
  const dir = path.dirname(shp);
  const stem = path.basename(shp).replace(/\.shp$/i, "").toLowerCase();
  const found = new Map<string, string>();
  for await (const entry of Deno.readDir(dir)) {
    const ext = entry.name.slice(stem.length).toLowerCase();
    if (entry.isFile && entry.name.toLowerCase().startsWith(stem) && /^\.(cpg|dbf)$/.test(ext)) {
      found.set(ext, path.join(dir, entry.name));
    }
  }
  const cpg = found.get(".cpg");
  const dbf = found.get(".dbf");
  return {
    dbfName: path.basename(dbf ?? `${stem}.dbf`),
    cpg: () => cpg === undefined ? Promise.resolve(undefined) : Deno.readTextFile(cpg),
    dbf: async () => dbf === undefined ? undefined : (await Deno.open(dbf)).readable,
  };
}

/**
 * The sidecars of the Shapefiles of a zip (`inner`: the one at that path
 * inside, or those of that folder).
 */
async function zipped(zip: string, inner: string | undefined): Promise<Sidecars[]> {
  const entries = await zipEntries(zip);
  const byName = new Map(entries.map((e) => [e.name.toLowerCase(), e]));
  const shp = (e: ZipEntry) => /\.shp$/i.test(e.name) && !/(^|\/)(__MACOSX\/|\._)/.test(e.name);
  const shps = entries.filter((e) =>
    inner === undefined
      ? shp(e)
      : /\.shp$/i.test(inner)
      ? e.name === inner
      : shp(e) && e.name.slice(0, e.name.lastIndexOf("/")) === inner
  );
  const read = async (entry: ZipEntry | undefined) =>
    entry === undefined ? undefined : await zipEntryStream(zip, entry);
  return shps.map((shp) => {
    const stem = shp.name.replace(/\.shp$/i, "").toLowerCase();
    const cpg = byName.get(`${stem}.cpg`);
    const dbf = byName.get(`${stem}.dbf`);
    return {
      dbfName: dbf?.name ?? `${stem}.dbf`,
      cpg: async () => {
        const stream = await read(cpg);
        return stream === undefined ? undefined : await new Response(stream).text();
      },
      dbf: () => read(dbf),
    };
  });
}

/** Bytes of one field descriptor of a `.dbf` header, and of the name at its start. */
const DESCRIPTOR = 32;
const NAME_LENGTH = 11;

/**
 * Whether the field names of a `.dbf` header (`fields`: the bytes after its
 * first 32, up to the records) are UTF-8. GDAL recodes names as it recodes
 * values: a Latin-1 name (`HÖHE`) with no code page said became a column
 * named `H�HE`, even when every value is ASCII.
 */
function namesUtf8(fields: Uint8Array): boolean {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  for (let at = 0; at + DESCRIPTOR <= fields.length && fields[at] !== 0x0d; at += DESCRIPTOR) {
    const name = fields.subarray(at, at + NAME_LENGTH);
    const end = name.indexOf(0);
    try {
      decoder.decode(end < 0 ? name : name.subarray(0, end));
    } catch (error) {
      if (error instanceof TypeError) return false;
      throw error;
    }
  }
  return true;
}

/** The `.dbf`'s language driver id, and whether its field names and records are UTF-8 (read streaming). */
async function readDbf(stream: ReadableStream<Uint8Array>) {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const header = new Uint8Array(32);
  let headerBytes = 0;
  let start = Infinity;
  let at = 0;
  // The field descriptors, between the first 32 bytes and the records.
  let fields: Uint8Array | undefined;
  let fieldBytes = 0;
  const utf8 = (bytes: Uint8Array, last = false) => {
    try {
      decoder.decode(bytes, { stream: !last });
      return true;
    } catch (error) {
      if (error instanceof TypeError) return false;
      throw error;
    }
  };
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (headerBytes < 32) {
        const part = value.subarray(0, 32 - headerBytes);
        header.set(part, headerBytes);
        headerBytes += part.length;
        if (headerBytes === 32) {
          start = header[HEADER_LENGTH_OFFSET]! | (header[HEADER_LENGTH_OFFSET + 1]! << 8);
          fields = new Uint8Array(Math.max(0, start - 32));
        }
      }
      if (fields !== undefined && fieldBytes < fields.length) {
        // This chunk's bytes between offset 32 and the records.
        const part = value.subarray(Math.max(0, 32 - at), Math.max(0, start - at));
        fields.set(part.subarray(0, fields.length - fieldBytes), fieldBytes);
        fieldBytes += part.length;
        if (fieldBytes >= fields.length && !namesUtf8(fields)) {
          await reader.cancel();
          return { ldid: header[LDID_OFFSET]!, utf8: false };
        }
      }
      const from = Math.max(0, start - at);
      at += value.length;
      if (from < value.length && !utf8(value.subarray(from))) {
        await reader.cancel();
        return { ldid: header[LDID_OFFSET]!, utf8: false };
      }
    }
    return { ldid: header[LDID_OFFSET]!, utf8: utf8(new Uint8Array(0), true) };
  } finally {
    reader.releaseLock();
  }
}

/**
 * Whether a CSV at `path` (a local path) holds text that is not UTF-8: GDAL's
 * CSV driver has no encoding option and passes bytes through, so Excel's
 * "CSV" (the Windows ANSI code page) would be published garbled as above.
 * GDAL's JSON drivers pass bytes through alike (asked of GeoJSON too).
 */
export async function csvNotUtf8(path: string): Promise<boolean> {
  using file = await Deno.open(path);
  return !(await isUtf8(file));
}

/**
 * The line (from 1) of the quote a CSV at `path` never closes, or
 * `undefined` when every quote is closed. GDAL's CSV reader toggles "in a
 * quoted value" at every `"` (an escaped `""` inside one toggles nothing) and
 * joins lines while it is in one, so an odd count of quotes means its last
 * row runs to the end of the file. Measured with GDAL 3.6 on both engines: a
 * CSV cut off inside a quoted value (`2,"b`) was published with that row cut
 * short (name `b`, no geometry), without an error or a warning.
 */
export async function csvUnclosedQuote(path: string): Promise<number | undefined> {
  using file = await Deno.open(path);
  const buffer = new Uint8Array(1 << 20);
  let quoted = false;
  let line = 1;
  let openedOn = 0;
  for (;;) {
    const n = await file.read(buffer);
    if (n === null) break;
    for (let i = 0; i < n; i++) {
      const byte = buffer[i];
      if (byte === 0x0a) line++;
      else if (byte === 0x22) {
        quoted = !quoted;
        if (quoted) openedOn = line;
      }
    }
  }
  return quoted ? openedOn : undefined;
}

/**
 * Whether the MapInfo Interchange file at `mif` (a local `.mif` path) says
 * nothing of its code page (`Charset "Neutral"`, or no Charset line) while
 * its `.mid` holds text that is not UTF-8. GDAL recodes a `.mid` from the
 * code page its Charset names, and passes a Neutral one's bytes through:
 * measured with GDAL 3.6, a Latin-1 "Zürich" under `Charset "Neutral"` was
 * published as "Z\uFFFDrich" on both engines. `undefined` when there is no `.mid`.
 */
export async function mifNeutralNotUtf8(mif: string): Promise<boolean | undefined> {
  const head = await Deno.open(mif).then(async (file) => {
    using f = file;
    const buffer = new Uint8Array(4096);
    const n = await f.read(buffer);
    return new TextDecoder("latin1").decode(buffer.subarray(0, n ?? 0));
  });
  const charset = /^\s*Charset\s+"([^"]*)"/im.exec(head.split(/^\s*Data\s*$/im)[0] ?? "")?.[1];
  if (charset !== undefined && !/^neutral$/i.test(charset)) return false;
  const mid = [mif.replace(/\.mif$/i, ".mid"), mif.replace(/\.mif$/i, ".MID")];
  for (const candidate of mid) {
    try {
      using file = await Deno.open(candidate);
      return !(await isUtf8(file));
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }
  return undefined;
}

/** Whether the rest of `file` is UTF-8, read streaming, stopping at the first bad sequence. */
async function isUtf8(file: Deno.FsFile): Promise<boolean> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  const buffer = new Uint8Array(1 << 20);
  try {
    for (;;) {
      const n = await file.read(buffer);
      if (n === null) break;
      decoder.decode(buffer.subarray(0, n), { stream: true });
    }
    decoder.decode();
    return true;
  } catch (error) {
    if (error instanceof TypeError) return false;
    throw error;
  }
}
