/**
 * The places whose weather is fetched: one JSON file (`WEATHER_PLACES_FILE`,
 * `config/places.json` by default), validated with zod.
 *
 * @module
 */

import { z } from "zod";
import { ConfigError } from "../../core/errors.ts";
import { formatIssues } from "./_issues.ts";
import { duplicateJsonKey } from "../../formats/json_keys.ts";
import { firstInvalidUtf8 } from "../../formats/utf8.ts";

/** A place name as used in object keys: lower-case letters, digits and single dashes. */
const SLUG = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;

/** One place: a slug for keys and rows, a label for people, and its coordinates. */
export const Place = z.strictObject({
  name: z.string().regex(SLUG, {
    error: "must be a slug of lower-case letters, digits and single dashes, e.g. red-lodge",
  }).max(64, { error: "must be at most 64 characters" }),
  label: z.string().trim().min(1, { error: "must be a non-empty string" }),
  latitude: z.number({ error: "must be a number" }).min(-90, { error: "must be >= -90" }).max(
    90,
    { error: "must be <= 90" },
  ),
  longitude: z.number({ error: "must be a number" }).min(-180, { error: "must be >= -180" }).max(
    180,
    { error: "must be <= 180" },
  ),
});

/** A validated place. */
export type Place = z.output<typeof Place>;

/** The places file: a non-empty list of places with unique names. */
export const PlacesFile = z.strictObject({
  places: z.array(Place).min(1, { error: "must list at least one place" }),
}).superRefine((file, ctx) => {
  const seen = new Set<string>();
  file.places.forEach((place, i) => {
    if (seen.has(place.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["places", i, "name"],
        message: `'${place.name}' is listed twice; names must be unique`,
      });
    }
    seen.add(place.name);
  });
});

/** A validated places file. */
export type PlacesFile = z.output<typeof PlacesFile>;

/**
 * Parses the text of a places file; `path` is only used in messages.
 * Throws {@linkcode ConfigError} `weather.invalid_places` naming the file and the field.
 *
 * @example
 * ```ts
 * import { parsePlaces } from "./places.ts";
 * const places = parsePlaces('{"places":[{"name":"billings","label":"Billings, MT","latitude":45.7833,"longitude":-108.5007}]}', "places.json");
 * places[0]?.name; // "billings"
 * ```
 */
export function parsePlaces(text: string, path: string): Place[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      "weather.invalid_places",
      `Cannot load places file '${path}': it is not JSON (${(error as Error).message})`,
      { input: path, cause: error },
    );
  }
  const twice = duplicateJsonKey(text);
  if (twice) {
    throw new ConfigError(
      "weather.invalid_places",
      `Cannot load places file '${path}': key '${twice.key}' appears twice in one object ` +
        `(line ${twice.line}); remove one of them`,
      { input: path },
    );
  }
  const parsed = PlacesFile.safeParse(json);
  if (!parsed.success) {
    throw new ConfigError(
      "weather.invalid_places",
      `Cannot load places file '${path}': ${formatIssues(parsed.error.issues)}`,
      { input: path },
    );
  }
  return parsed.data.places;
}

/**
 * Reads and validates the places file at `path` (relative to the working
 * directory). A missing file is a {@linkcode ConfigError} that says to set
 * `WEATHER_PLACES_FILE`.
 */
export async function loadPlaces(path: string): Promise<Place[]> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (error) {
    const why = error instanceof Deno.errors.NotFound
      ? "the file does not exist"
      : (error as Error).message;
    throw new ConfigError(
      "weather.places_unreadable",
      `Cannot load places file '${path}': ${why}; set WEATHER_PLACES_FILE to a JSON file ` +
        `like config/places.json`,
      { input: path, cause: error },
    );
  }
  return parsePlaces(decodePlaces(bytes, path), path);
}

/**
 * The text of a places file, which must be UTF-8 (a BOM is dropped):
 * `Deno.readTextFile` turned a Latin-1 `é` into U+FFFD, so a label was
 * stored damaged without a word.
 */
function decodePlaces(bytes: Uint8Array, path: string): string {
  const utf16 = bytes[0] === 0xff && bytes[1] === 0xfe || bytes[0] === 0xfe && bytes[1] === 0xff;
  try {
    if (!utf16) return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    // Reported below with the place of the first byte that is not UTF-8.
  }
  const why = utf16 ? "it is UTF-16 text" : notUtf8(bytes);
  throw new ConfigError(
    "weather.invalid_places",
    `Cannot load places file '${path}': ${why}; save it as UTF-8`,
    { input: path },
  );
}

/** Why `bytes` are not UTF-8: the first byte that breaks it, and its line. */
function notUtf8(bytes: Uint8Array): string {
  const at = firstInvalidUtf8(bytes);
  const byte = at === -1 ? "??" : (bytes[at] ?? 0).toString(16).toUpperCase().padStart(2, "0");
  const line = bytes.subarray(0, Math.max(0, at)).filter((b) => b === 0x0a).length + 1;
  return `it is not UTF-8 (byte 0x${byte} on line ${line}: Latin-1 or Windows-1252 text?)`;
}
