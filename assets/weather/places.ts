/**
 * The places whose weather is fetched: one JSON file (`WEATHER_PLACES_FILE`,
 * `config/places.json` by default), validated with zod.
 *
 * @module
 */

import { z } from "zod";
import { ConfigError } from "../../core/errors.ts";
import { formatIssues } from "./_issues.ts";

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
  let text: string;
  try {
    text = await Deno.readTextFile(path);
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
  return parsePlaces(text, path);
}
