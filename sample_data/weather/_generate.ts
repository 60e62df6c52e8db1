/**
 * Generates the synthetic Open-Meteo responses in this folder: one archive
 * response per place of `index.json` and day of the sample fortnight, exactly
 * as `GET /v1/archive?latitude=..&longitude=..&start_date=DAY&end_date=DAY&
 * hourly=..&daily=..&timezone=GMT` answers (compact JSON, same fields, same
 * order, same units, coordinates snapped to a model grid). The values are
 * invented from a fixed seed: a Montana November with a diurnal cycle, a
 * few-day weather wave, lapse rate by elevation, and occasional rain or snow.
 * Running it again rewrites the same bytes (a test checks that the files and
 * the generator agree).
 *
 *     deno run --allow-read=sample_data/weather --allow-write=sample_data/weather sample_data/weather/_generate.ts
 *
 * @module
 */

import { mulberry32 } from "../_random.ts";

/** One place of the index: the coordinates the request carries (config/places.json). */
export interface SamplePlace {
  readonly name: string;
  readonly latitude: number;
  readonly longitude: number;
  /** Metres above sea level, as the response's `elevation`. */
  readonly elevation: number;
}

/** `index.json`: which requests the samples answer. */
export interface SampleIndex {
  /** Always true: these responses are invented, not recorded. */
  readonly synthetic: true;
  readonly places: readonly SamplePlace[];
  /** The days held, `YYYY-MM-DD`, consecutive. */
  readonly days: readonly string[];
}

/** Hourly variables, in the order the platform requests them. */
const HOURLY = ["temperature_2m", "precipitation", "snowfall", "wind_speed_10m", "weather_code"];
const SEED = 20261101;
const MS_PER_DAY = 86_400_000;


/**
 * A number the way the API writes floats: always with a decimal point
 * (`950.0`, `0.0`), which `JSON.stringify` alone would drop.
 */
function float(value: number): unknown {
  const text = String(value);
  return (JSON as unknown as { rawJSON(text: string): unknown }).rawJSON(/[.eE]/.test(text) ? text : `${text}.0`);
}

const floats = (values: number[]) => values.map(float);

const round = (value: number, digits: number) => {
  const f = 10 ** digits;
  // Avoid "-0" in the output, which the API never writes.
  return Math.round(value * f) / f + 0;
};

/** The response for `place` on `day` (index `dayIndex` of the fortnight), as JSON text. */
export function sampleResponse(place: SamplePlace, day: string, dayIndex: number): string {
  const rand = mulberry32(SEED + dayIndex * 101 + hashName(place.name));
  // A weather wave of about six days shared by all places, colder with height.
  const wave = 5 * Math.sin((dayIndex / 6) * 2 * Math.PI);
  const base = 0.5 + wave - (place.elevation - 950) * 0.0065 + (rand() - 0.5) * 3;
  const wet = rand() < 0.35;
  const wetStart = Math.floor(rand() * 18);
  const wetHours = wet ? 2 + Math.floor(rand() * 6) : 0;
  const windBase = 8 + rand() * 14;
  const temperature: number[] = [];
  const precipitation: number[] = [];
  const snowfall: number[] = [];
  const wind: number[] = [];
  const code: number[] = [];
  const cloudy = rand();
  for (let hour = 0; hour < 24; hour++) {
    // Coldest near 13:00 UTC (06:00 MST), warmest near 22:00 UTC (15:00 MST).
    const diurnal = 4.5 * Math.cos(((hour - 22) / 24) * 2 * Math.PI);
    const t = round(base + diurnal + (rand() - 0.5) * 0.8, 1);
    const raining = hour >= wetStart && hour < wetStart + wetHours;
    const p = raining ? round(0.1 + rand() * 1.1, 1) : 0;
    const snow = p > 0 && t <= 0.5 ? round(p * 0.7, 2) : 0;
    const w = round(windBase * (0.8 + 0.4 * Math.sin(((hour - 20) / 24) * 2 * Math.PI)) +
      (raining ? 6 : 0) + rand() * 3, 1);
    temperature.push(t);
    precipitation.push(p);
    snowfall.push(snow);
    wind.push(w);
    code.push(weatherCode(p, snow, cloudy + (raining ? 0.5 : 0)));
  }
  const sum = (values: number[], digits: number) => round(values.reduce((a, b) => a + b, 0), digits);
  const body = {
    latitude: float(snap(place.latitude)),
    longitude: float(snap(place.longitude)),
    generationtime_ms: float(0.04 + rand() * 0.1),
    utc_offset_seconds: 0,
    timezone: "GMT",
    timezone_abbreviation: "GMT",
    elevation: float(place.elevation),
    hourly_units: {
      time: "iso8601",
      temperature_2m: "°C",
      precipitation: "mm",
      snowfall: "cm",
      wind_speed_10m: "km/h",
      weather_code: "wmo code",
    },
    hourly: {
      time: Array.from({ length: 24 }, (_, h) => `${day}T${String(h).padStart(2, "0")}:00`),
      [HOURLY[0]!]: floats(temperature),
      [HOURLY[1]!]: floats(precipitation),
      [HOURLY[2]!]: floats(snowfall),
      [HOURLY[3]!]: floats(wind),
      [HOURLY[4]!]: code,
    },
    daily_units: {
      time: "iso8601",
      temperature_2m_max: "°C",
      temperature_2m_min: "°C",
      precipitation_sum: "mm",
      snowfall_sum: "cm",
      wind_speed_10m_max: "km/h",
      weather_code: "wmo code",
    },
    daily: {
      time: [day],
      temperature_2m_max: floats([Math.max(...temperature)]),
      temperature_2m_min: floats([Math.min(...temperature)]),
      precipitation_sum: floats([sum(precipitation, 1)]),
      snowfall_sum: floats([sum(snowfall, 2)]),
      wind_speed_10m_max: floats([Math.max(...wind)]),
      weather_code: [severest(code)],
    },
  };
  return JSON.stringify(body);
}

/** WMO code of an hour: snow, rain, or cloud cover from clear (0) to overcast (3). */
function weatherCode(precipitation: number, snow: number, cloud: number): number {
  if (snow > 0) return snow >= 0.5 ? 73 : 71;
  if (precipitation > 0) return precipitation >= 0.5 ? 63 : 61;
  return Math.min(3, Math.floor(cloud * 4));
}

/** The day's code is its most severe hour's (as Open-Meteo's daily aggregation does). */
function severest(codes: number[]): number {
  return codes.reduce((a, b) => (b > a ? b : a), 0);
}

/** Coordinates as the API echoes them: the centre of the model cell, six decimals. */
function snap(degrees: number): number {
  const cell = 0.0703125; // 1/14.2 degree, the archive's ~7 km grid
  return round(Math.round(degrees / cell) * cell, 6);
}

function hashName(name: string): number {
  let h = 0;
  for (const ch of name) h = (Math.imul(h, 31) + ch.charCodeAt(0)) >>> 0;
  return h % 100_000;
}

/** Days of the fortnight starting `first`. */
export function fortnight(first: string): string[] {
  const start = Date.parse(`${first}T00:00:00Z`);
  return Array.from({ length: 14 }, (_, i) => new Date(start + i * MS_PER_DAY).toISOString().slice(0, 10));
}

/** Every file the generator writes: path relative to this folder, and its text. */
export function sampleFiles(index: SampleIndex): { path: string; text: string }[] {
  const files: { path: string; text: string }[] = [];
  for (const place of index.places) {
    index.days.forEach((day, i) => {
      files.push({ path: `${place.name}/${day}.json`, text: sampleResponse(place, day, i) });
    });
  }
  return files;
}

if (import.meta.main) {
  const dir = new URL("./", import.meta.url);
  const index = JSON.parse(await Deno.readTextFile(new URL("index.json", dir))) as SampleIndex;
  for (const file of sampleFiles(index)) {
    const url = new URL(file.path, dir);
    await Deno.mkdir(new URL("./", url), { recursive: true });
    await Deno.writeTextFile(url, file.text);
  }
  console.log(`wrote ${index.places.length * index.days.length} responses`);
}
