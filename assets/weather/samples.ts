/**
 * The weather pipeline's sample data as a replay source: the synthetic
 * Open-Meteo responses of `sample_data/weather/` answer the requests
 * `raw_weather` makes, so `SAMPLE_DATA=true` (the quick start) runs the whole
 * weather pipeline offline through the same HTTP resource as the live API.
 *
 * The samples hold one response per place of their `index.json` and day of a
 * fortnight. A request for one of those days gets the file's bytes verbatim.
 * Any other day gets the response of the same position in the fortnight's
 * cycle, re-dated to the requested day (only the dates change, as text, so
 * the format stays byte-for-byte the API's): the quick start materializes
 * today's partition, whatever today is. Every answer says which file it came
 * from and whether it was re-dated, and `raw_weather` records that as the
 * ledger document's `source`.
 *
 * A request the samples cannot answer (another place, other variables or
 * units, a range of days) gets no answer, and the replay client fails naming
 * the request and what the samples hold.
 *
 * @module
 */

import { z } from "zod";
import { ConfigError } from "../../core/errors.ts";
import type { ReplayAnswer, ReplaySource } from "../../resources/http/replay_client.ts";
import { DAILY_VARIABLES, HOURLY_VARIABLES } from "./open_meteo.ts";

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MS_PER_DAY = 86_400_000;

/** `sample_data/weather/index.json`: what the samples hold. */
export const SampleIndex = z.object({
  synthetic: z.literal(true, { error: "must be true: the samples are invented data" }),
  places: z.array(z.object({
    name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
    elevation: z.number(),
  })).min(1),
  days: z.array(z.string().regex(DAY)).min(1),
});

/** A parsed {@linkcode SampleIndex}. */
export type SampleIndex = z.output<typeof SampleIndex>;

/** Options of {@linkcode openMeteoSamples}. */
export interface OpenMeteoSamplesOptions {
  /**
   * How the folder is named in `source` strings and messages.
   * @default {"sample_data/weather"}
   */
  readonly label?: string;
}

/**
 * A replay source over the samples in `dir` (a folder URL ending in `/`).
 * The index is read on first use; a broken index fails that request with a
 * {@linkcode ConfigError} naming the file.
 */
export function openMeteoSamples(dir: URL, options: OpenMeteoSamplesOptions = {}): ReplaySource {
  const label = options.label ?? "sample_data/weather";
  let index: Promise<SampleIndex> | undefined;
  const load = () => index ??= readIndex(new URL("index.json", dir), `${label}/index.json`);
  return {
    description: `synthetic Open-Meteo responses in ${label} (see its README) for the places ` +
      "of its index.json, hourly " + HOURLY_VARIABLES.join(",") + ", one day per request",
    async answer(url: URL): Promise<ReplayAnswer | undefined> {
      const request = sampleRequest(url);
      if (!request) return undefined;
      const held = await load();
      const place = held.places.find((p) =>
        p.latitude === request.latitude && p.longitude === request.longitude
      );
      if (!place) return undefined;
      const sampleDay = cycleDay(held.days, request.day);
      const path = `${place.name}/${sampleDay}.json`;
      const bytes = await Deno.readFile(new URL(path, dir));
      if (sampleDay === request.day) {
        return { bytes, source: `synthetic sample ${label}/${path}` };
      }
      return {
        bytes: redate(bytes, sampleDay, request.day),
        source: `synthetic sample ${label}/${path}, re-dated to ${request.day}`,
      };
    },
  };
}

/** The request's place and day when it asks for what the samples hold, else `undefined`. */
function sampleRequest(url: URL): { latitude: number; longitude: number; day: string } | undefined {
  const q = url.searchParams;
  if (!/\/(archive|forecast)$/.test(url.pathname)) return undefined;
  const day = q.get("start_date") ?? "";
  if (!DAY.test(day) || q.get("end_date") !== day) return undefined;
  if (q.get("hourly") !== HOURLY_VARIABLES.join(",")) return undefined;
  if (q.get("daily") !== DAILY_VARIABLES.join(",")) return undefined;
  if (q.get("timezone") !== "GMT") return undefined;
  const units: [string, string][] = [
    ["temperature_unit", "celsius"],
    ["wind_speed_unit", "kmh"],
    ["precipitation_unit", "mm"],
  ];
  if (units.some(([name, unit]) => (q.get(name) ?? unit) !== unit)) return undefined;
  const latitude = Number(q.get("latitude"));
  const longitude = Number(q.get("longitude"));
  if (!Number.isFinite(latitude) || !Number.isFinite(longitude)) return undefined;
  return { latitude, longitude, day };
}

/** The sample day answering `day`: itself when held, else its place in the cycle of held days. */
export function cycleDay(days: readonly string[], day: string): string {
  if (days.includes(day)) return day;
  const first = Date.parse(`${days[0]}T00:00:00Z`);
  const offset = Math.round((Date.parse(`${day}T00:00:00Z`) - first) / MS_PER_DAY);
  const n = days.length;
  return days[((offset % n) + n) % n]!;
}

/** `bytes` with every date `from` (in `"YYYY-MM-DD"` and `"YYYY-MM-DDTHH:MM"` strings) set to `to`. */
function redate(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const text = new TextDecoder().decode(bytes)
    .replaceAll(`"${from}T`, `"${to}T`)
    .replaceAll(`"${from}"`, `"${to}"`);
  return new TextEncoder().encode(text);
}

async function readIndex(url: URL, shown: string): Promise<SampleIndex> {
  let raw: unknown;
  try {
    raw = JSON.parse(await Deno.readTextFile(url));
  } catch (error) {
    throw new ConfigError(
      "weather.samples",
      `Cannot read the weather samples' index ${shown}: ` +
        `${
          error instanceof Error ? error.message : error
        }; restore it from git or set SAMPLE_DATA=false`,
      { input: shown, cause: error },
    );
  }
  const parsed = SampleIndex.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      "weather.samples",
      `The weather samples' index ${shown} is invalid: ${issue?.path.join(".")}: ${issue?.message}`,
      { input: shown },
    );
  }
  const days = parsed.data.days;
  days.forEach((day, i) => {
    if (i > 0 && Date.parse(day) - Date.parse(days[i - 1]!) !== MS_PER_DAY) {
      throw new ConfigError(
        "weather.samples",
        `The weather samples' index ${shown} is invalid: days must be consecutive, ` +
          `${days[i - 1]} is followed by ${day}`,
        { input: shown },
      );
    }
  });
  return parsed.data;
}
