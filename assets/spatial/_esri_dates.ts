/**
 * Esri JSON dates as both engines publish them. An Esri JSON field of type
 * `esriFieldTypeDate` holds milliseconds since 1970 (UTC). GDAL 3.7 and
 * later (gdal3.js) read it as a DateTime, published as ISO 8601 text
 * (`2024-01-01T10:00:00.123Z`); GDAL 3.6 (Debian's, the native engine)
 * reads the same field as text and published the number itself
 * (`1704103200123`): the two engines made different tables of one file.
 * When GDAL reads a date field as text, the file is given to it with those
 * values already written as GDAL 3.7+ writes them.
 *
 * @module
 */

/** Most bytes of an Esri JSON rewritten here (GDAL itself holds the whole file in memory). */
const MAX_BYTES = 512 * 1024 * 1024;

/** The names of the `esriFieldTypeDate` fields the Esri JSON `text` declares. */
function dateFields(text: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON GDAL could read either: GDAL's own error is the one reported.
    return [];
  }
  const fields = (parsed as { fields?: unknown } | null)?.fields;
  if (!Array.isArray(fields)) return [];
  return fields.flatMap((f) => {
    const { name, type } = (f ?? {}) as { name?: unknown; type?: unknown };
    return type === "esriFieldTypeDate" && typeof name === "string" ? [name] : [];
  });
}

/** Milliseconds since 1970 as GDAL 3.7+ publishes them, or `undefined` out of its range. */
function isoOf(ms: number): string | undefined {
  const date = new Date(Math.trunc(ms));
  const year = date.getUTCFullYear();
  return Number.isNaN(date.getTime()) || year < 1 || year > 9999 ? undefined : date.toISOString();
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * A copy of the Esri JSON at `host` whose values of the date fields in
 * `readAsText` (fields GDAL reads as String) are ISO 8601 text, written
 * under `into` with the same file name (so GDAL names its layer alike);
 * `undefined` when no such field is declared a date, or nothing changed.
 */
export async function esriDatesAsText(
  host: string,
  readAsText: readonly string[],
  into: string,
): Promise<string | undefined> {
  if (readAsText.length === 0) return undefined;
  const size = (await Deno.stat(host)).size;
  if (size > MAX_BYTES) return undefined;
  const text = await Deno.readTextFile(host);
  const dates = dateFields(text).filter((name) => readAsText.includes(name));
  if (dates.length === 0) return undefined;
  // `"NAME": 1704103200000` (or the number as a string) as an attribute; a quote
  // escaped inside a string value (\") is never taken for a key's.
  const value = new RegExp(
    `(?<!\\\\)"(${dates.map(escapeRegExp).join("|")})"(\\s*:\\s*)` +
      `(?:(-?\\d+(?:\\.\\d+)?(?:[eE][+-]?\\d+)?)|"(-?\\d+)")`,
    "g",
  );
  let changed = false;
  const rewritten = text.replace(value, (whole, name, colon, number, quoted) => {
    const iso = isoOf(Number(number ?? quoted));
    if (iso === undefined) return whole;
    changed = true;
    return `"${name}"${colon}"${iso}"`;
  });
  if (!changed) return undefined;
  await Deno.mkdir(into, { recursive: true });
  const target = `${into}/${host.slice(host.lastIndexOf("/") + 1)}`;
  await Deno.writeTextFile(target, rewritten);
  return target;
}
