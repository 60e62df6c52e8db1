/**
 * The Open-Meteo contract: which variables are asked for, how a request URL
 * is built, and the zod schema every response must match before it is stored
 * or loaded. The same schema guards `raw_weather` (on fetch) and
 * `bronze_weather` (on load), so a response the warehouse cannot take never
 * reaches the lake as "good".
 *
 * @module
 */

import { z } from "zod";
import { PlatformError } from "../../core/errors.ts";
import { formatIssues } from "./_issues.ts";
import type { Place } from "./places.ts";

/** Hourly variables requested, in the order Open-Meteo returns them. */
export const HOURLY_VARIABLES = [
  "temperature_2m",
  "precipitation",
  "snowfall",
  "wind_speed_10m",
  "weather_code",
] as const;

/** Daily variables requested. */
export const DAILY_VARIABLES = [
  "temperature_2m_max",
  "temperature_2m_min",
  "precipitation_sum",
  "snowfall_sum",
  "wind_speed_10m_max",
  "weather_code",
] as const;

/** Which Open-Meteo API serves a day: the archive for past days, the forecast for today. */
export type WeatherEndpoint = "archive" | "forecast";

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const HOUR = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/;

// Open-Meteo writes `null` where a model has no value (e.g. the archive's
// last days before reanalysis catches up), so values are nullable; the
// bronze check reports them.
const values = () => z.array(z.number({ error: "expected a number or null" }).nullable());
const codes = () => z.array(z.int({ error: "expected a whole number or null" }).nullable());
const unit = (expected: string) =>
  z.literal(expected, { error: `expected '${expected}' (the units the warehouse columns hold)` });

/** Arrays of a block (hourly or daily) must all have one value per `time`. */
function sameLengths(block: Record<string, unknown[]>, name: string, ctx: z.RefinementCtx): void {
  const times = block.time?.length ?? 0;
  for (const [variable, list] of Object.entries(block)) {
    if (variable !== "time" && list.length !== times) {
      ctx.addIssue({
        code: "custom",
        path: [name, variable],
        message: `has ${list.length} values for ${times} times`,
      });
    }
  }
}

/**
 * The response of both the archive and the forecast API for the variables
 * above, in GMT, Celsius, millimetres and km/h. Unknown fields are allowed
 * (Open-Meteo adds some over time); the raw bytes are stored as received.
 */
export const WeatherResponse = z.object({
  latitude: z.number().min(-90).max(90),
  longitude: z.number().min(-180).max(180),
  utc_offset_seconds: z.literal(0, { error: "expected 0 (the request asks for timezone=GMT)" }),
  timezone: z.string(),
  elevation: z.number().nullable().optional(),
  hourly_units: z.object({
    time: unit("iso8601"),
    temperature_2m: unit("°C"),
    precipitation: unit("mm"),
    snowfall: unit("cm"),
    wind_speed_10m: unit("km/h"),
    weather_code: unit("wmo code"),
  }),
  hourly: z.object({
    time: z.array(z.string().regex(HOUR, { error: "expected a time like 2026-11-20T13:00" })),
    temperature_2m: values(),
    precipitation: values(),
    snowfall: values(),
    wind_speed_10m: values(),
    weather_code: codes(),
  }).superRefine((block, ctx) => sameLengths(block, "hourly", ctx)),
  daily: z.object({
    time: z.array(z.string().regex(DAY, { error: "expected a date like 2026-11-20" })),
    temperature_2m_max: values(),
    temperature_2m_min: values(),
    precipitation_sum: values(),
    snowfall_sum: values(),
    wind_speed_10m_max: values(),
    weather_code: codes(),
  }).superRefine((block, ctx) => sameLengths(block, "daily", ctx)),
});

/** A validated Open-Meteo response. */
export type WeatherResponse = z.output<typeof WeatherResponse>;

/** A response (or stored raw object) does not match {@linkcode WeatherResponse}. */
export class WeatherResponseError extends PlatformError {}

/**
 * Validates `body` and checks that every hour lies on `day`; `source` names
 * the response in the message (the URL or the lake key).
 *
 * @throws {WeatherResponseError} `weather.invalid_response`, naming each field path.
 *
 * @example
 * ```ts
 * import { parseWeatherResponse } from "./open_meteo.ts";
 * const body: unknown = JSON.parse(Deno.readTextFileSync("sample_data/weather/billings.json"));
 * const weather = parseWeatherResponse(body, "2026-11-20", "GET https://archive-api.open-meteo.com/...");
 * ```
 */
export function parseWeatherResponse(body: unknown, day: string, source: string): WeatherResponse {
  // Open-Meteo's error shape, sometimes sent with status 200 (a proxy, an old version): its
  // reason says what is wrong, where the schema's list of every missing field did not.
  const failure = body as { error?: unknown; reason?: unknown } | null;
  if (typeof failure === "object" && failure !== null && failure.error === true) {
    const reason = typeof failure.reason === "string" ? failure.reason.slice(0, 300) : "no reason";
    throw new WeatherResponseError(
      "weather.api_error",
      `Open-Meteo response ${source} is an error, not weather data: ${reason}`,
      { input: source },
    );
  }
  const parsed = WeatherResponse.safeParse(body);
  if (!parsed.success) {
    throw new WeatherResponseError(
      "weather.invalid_response",
      `Open-Meteo response ${source} does not have the expected shape: ` +
        formatIssues(parsed.error.issues),
      { input: source },
    );
  }
  const outside = parsed.data.hourly.time.findIndex((time) => !time.startsWith(`${day}T`));
  if (outside >= 0) {
    throw new WeatherResponseError(
      "weather.invalid_response",
      `Open-Meteo response ${source} does not have the expected shape: hourly.time[${outside}]: ` +
        `'${parsed.data.hourly.time[outside]}' is not on ${day}`,
      { input: source },
    );
  }
  // A repeated hour (a 25-hour day from a zone's clock change, a replayed page) would
  // break raw.raw_weather's key at load time, far from the response that caused it.
  const first = new Map<string, number>();
  for (const [i, time] of parsed.data.hourly.time.entries()) {
    const earlier = first.get(time);
    if (earlier !== undefined) {
      throw new WeatherResponseError(
        "weather.invalid_response",
        `Open-Meteo response ${source} does not have the expected shape: hourly.time[${i}]: ` +
          `'${time}' repeats hourly.time[${earlier}] (one value per hour of the UTC day expected)`,
        { input: source },
      );
    }
    first.set(time, i);
  }
  return parsed.data;
}

/**
 * The request URL for `place` on `day`, from a configured base URL whose own
 * query parameters (such as an `apikey`) are kept.
 *
 * @example
 * ```ts
 * import { weatherRequestUrl } from "./open_meteo.ts";
 * const url = weatherRequestUrl("https://archive-api.open-meteo.com/v1/archive", {
 *   name: "billings", label: "Billings, Montana", latitude: 45.7833, longitude: -108.5007,
 * }, "2026-11-20");
 * url.searchParams.get("start_date"); // "2026-11-20"
 * ```
 */
export function weatherRequestUrl(base: string, place: Place, day: string): URL {
  if (!DAY.test(day)) throw new RangeError(`day must be YYYY-MM-DD, got '${day}'`);
  const url = new URL(base);
  const params = url.searchParams;
  params.set("latitude", String(place.latitude));
  params.set("longitude", String(place.longitude));
  params.set("start_date", day);
  params.set("end_date", day);
  params.set("hourly", HOURLY_VARIABLES.join(","));
  params.set("daily", DAILY_VARIABLES.join(","));
  params.set("timezone", "GMT");
  params.set("temperature_unit", "celsius");
  params.set("wind_speed_unit", "kmh");
  params.set("precipitation_unit", "mm");
  return url;
}

/** Prefix of the raw objects of `day`: `raw/weather/YYYY/MM/DD/`. */
export function rawWeatherPrefix(day: string): string {
  if (!DAY.test(day)) throw new RangeError(`day must be YYYY-MM-DD, got '${day}'`);
  return `raw/weather/${day.replaceAll("-", "/")}/`;
}

/** Key of the raw object of `place` on `day`: `raw/weather/YYYY/MM/DD/<place>.json`. */
export function rawWeatherKey(day: string, place: string): string {
  return `${rawWeatherPrefix(day)}${place}.json`;
}
