/**
 * Which GDAL driver reads a KML, so that both engines give the same table.
 *
 * GDAL has two KML readers with different tables: `KML` (in every build,
 * gdal3.js's included) gives `Name` and `Description` and drops the rest;
 * `LIBKML` (native GDAL prefers it) adds `timestamp`, `begin`, `end`,
 * `altitudeMode`, `tessellate`, `extrude`, `visibility`, `drawOrder`, `icon`
 * and the `ExtendedData` fields. Left to GDAL, the same file made different
 * GeoParquet on each engine. The rule:
 *
 * - a KML with nothing but names, descriptions and geometries is read by
 *   `KML` on both engines (the same driver, so the same columns and types);
 * - a KML carrying `ExtendedData`, a `Schema`, `TimeStamp`/`TimeSpan` or a
 *   `gx:Track` is read by `LIBKML` (`KML` would silently drop those
 *   columns); the wasm engine, without LIBKML, leaves it pending for the
 *   native engine instead of publishing a poorer table;
 * - a KMZ is read as the KML inside it: its one `.kml` by `KML` when that
 *   holds nothing only LIBKML reads (`/vsizip/`), else the KMZ by `LIBKML`.
 *
 * @module
 */

import { zipEntries, zipEntryStream, ZipListingError } from "../../formats/zip_names.ts";

/** KML elements whose content only LIBKML turns into columns (or geometries). */
const LIBKML_ONLY = /<(?:kml:)?(?:ExtendedData|Schema|TimeStamp|TimeSpan)\b|<gx:Track\b/;

/** Bytes of the file read at a time while looking for those elements. */
const CHUNK = 1 << 20;

/**
 * Whether the KML at `hostPath` holds elements the `KML` driver drops (see
 * the module doc). Read in 1 MiB steps with an overlap, stopping at the
 * first hit: a large file of plain placemarks is read once.
 */
export async function kmlNeedsLibkml(hostPath: string): Promise<boolean> {
  const file = await Deno.open(hostPath);
  return await streamNeedsLibkml(file.readable);
}

/** {@linkcode kmlNeedsLibkml} of a KML's bytes as a stream (cancelled at the first hit). */
async function streamNeedsLibkml(stream: ReadableStream<Uint8Array>): Promise<boolean> {
  const decoder = new TextDecoder("utf-8");
  const reader = stream.getReader();
  let tail = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      const text = tail + decoder.decode(value, { stream: true });
      if (LIBKML_ONLY.test(text)) return true;
      // An element name cut between two reads is found in the next one.
      tail = text.slice(-32);
    }
  } finally {
    await reader.cancel();
  }
}

/**
 * The KML document of the KMZ at `hostPath` that the `KML` driver can read
 * in place of LIBKML (see the module doc): its path inside the zip, when the
 * KMZ holds exactly one `.kml` (images and other files beside it are fine)
 * and that KML has nothing only LIBKML reads. `undefined` otherwise: the
 * KMZ is read by LIBKML, as before; `{ damaged }` (why) when the file is no
 * zip at all (a KML renamed .kmz, a KMZ cut off in transfer), which neither
 * driver reads: gdal3.js left such a file pending for LIBKML instead of
 * saying it is damaged, as native GDAL does.
 */
export async function plainKmzDocument(
  hostPath: string,
): Promise<{ document: string } | { damaged: string } | undefined> {
  let entries;
  try {
    entries = await zipEntries(hostPath);
  } catch (error) {
    if (error instanceof ZipListingError) return { damaged: error.message };
    throw error;
  }
  const documents = entries.filter((e) => /\.kml$/i.test(e.name) && !e.name.endsWith("/"));
  if (documents.length !== 1) return undefined;
  const [document] = documents;
  // A name GDAL's /vsizip/ path would take for folders outside the zip (`../x.kml`): LIBKML's.
  if (/^\/|\\|(^|\/)\.\.?(\/|$)/.test(document!.name)) return undefined;
  try {
    const needs = await streamNeedsLibkml(await zipEntryStream(hostPath, document!));
    return needs ? undefined : { document: document!.name };
  } catch (error) {
    // A compression method or ZIP64 entry this reader does not take: LIBKML's route.
    if (error instanceof ZipListingError) return undefined;
    throw error;
  }
}

/** What of a KML only LIBKML reads: the attribute names and the kinds of elements. */
export interface LibkmlContent {
  /** Names of the `ExtendedData` fields (a Schema's SimpleFields, SimpleData, Data), in order. */
  fields: string[];
  /** The other LIBKML-only elements present (`TimeStamp`, `TimeSpan`, `gx:Track`). */
  elements: string[];
}

/** Most field names listed (a KML of thousands of free `Data` names is told in part). */
const MAX_NAMES = 20;

const FIELD_NAME =
  /<(?:kml:)?(?:SimpleField|SimpleData|Data)\b[^>]*?\bname\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
const OTHER_ELEMENTS = [["TimeStamp", /<(?:kml:)?TimeStamp\b/], [
  "TimeSpan",
  /<(?:kml:)?TimeSpan\b/,
], [
  "gx:Track",
  /<gx:Track\b/,
]] as const;

/**
 * The names of what the `KML` driver would drop from the KML at `hostPath`
 * (see the module doc), for a message that says exactly which of the
 * user's data a build without LIBKML cannot read. Reads the whole file
 * (1 MiB at a time): only called when the file is refused for it.
 */
export async function libkmlContent(hostPath: string): Promise<LibkmlContent> {
  using file = await Deno.open(hostPath);
  const decoder = new TextDecoder("utf-8");
  const buffer = new Uint8Array(CHUNK);
  const fields = new Set<string>();
  const elements = new Set<string>();
  let tail = "";
  for (;;) {
    const n = await file.read(buffer);
    const text = tail + (n === null ? decoder.decode() : decoder.decode(buffer.subarray(0, n), {
      stream: true,
    }));
    // Tags are matched whole: a tag cut by the read is kept for the next one.
    const cut = text.lastIndexOf("<");
    const whole = n === null || cut < 0 || text.indexOf(">", cut) >= 0 ? text : text.slice(0, cut);
    for (const match of whole.matchAll(FIELD_NAME)) {
      if (fields.size < MAX_NAMES) fields.add(match[1] ?? match[2] ?? "");
    }
    for (const [name, pattern] of OTHER_ELEMENTS) if (pattern.test(whole)) elements.add(name);
    if (n === null) break;
    tail = text.slice(whole.length);
  }
  return { fields: [...fields], elements: [...elements] };
}

/**
 * The drivers that must read a declared KML (`path` ends in `.kml`, `.kmz`,
 * or is the `.kml` inside a KMZ), given whether the file holds LIBKML-only
 * elements.
 */
export function kmlDrivers(path: string, needsLibkml: boolean): ["KML"] | ["LIBKML"] {
  return /\.kmz$/i.test(path) || needsLibkml ? ["LIBKML"] : ["KML"];
}
