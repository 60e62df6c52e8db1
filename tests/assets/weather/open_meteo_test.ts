import assert from "node:assert/strict";
import {
  parseWeatherResponse,
  rawWeatherKey,
  weatherRequestUrl,
  WeatherResponseError,
} from "../../../assets/weather/mod.ts";
import { fixtureJson, RECORDED } from "../../_helpers/open_meteo.ts";

const BILLINGS = {
  name: "billings",
  label: "Billings, Montana",
  latitude: 45.7833,
  longitude: -108.5007,
};

function failure(body: unknown, day: string = RECORDED.archive.day): WeatherResponseError {
  try {
    parseWeatherResponse(body, day, "test.json");
  } catch (error) {
    assert.ok(error instanceof WeatherResponseError);
    assert.equal(error.code, "weather.invalid_response");
    return error;
  }
  assert.fail("expected the response to be rejected");
}

Deno.test("the recorded archive and forecast responses match the schema", async () => {
  const archive = parseWeatherResponse(
    await fixtureJson(RECORDED.archive.file),
    RECORDED.archive.day,
    "a",
  );
  assert.equal(archive.hourly.time.length, 24);
  assert.equal(archive.daily.time[0], RECORDED.archive.day);
  const forecast = parseWeatherResponse(
    await fixtureJson(RECORDED.forecast.file),
    RECORDED.forecast.day,
    "f",
  );
  assert.equal(forecast.hourly.weather_code.length, 24);
});

Deno.test("a response of the wrong shape fails naming each field path", async () => {
  const body = await fixtureJson(RECORDED.archive.file) as {
    hourly: Record<string, unknown[]>;
    hourly_units: Record<string, string>;
    utc_offset_seconds: number;
  };
  const wrongType = structuredClone(body);
  wrongType.hourly.temperature_2m![5] = "cold";
  assert.match(
    failure(wrongType).message,
    /^Open-Meteo response test\.json does not have the expected shape: hourly\.temperature_2m\[5\]: expected a number or null$/,
  );

  const short = structuredClone(body);
  short.hourly.precipitation!.pop();
  assert.match(failure(short).message, /hourly\.precipitation: has 23 values for 24 times/);

  const units = structuredClone(body);
  units.hourly_units.wind_speed_10m = "mp/h";
  assert.match(failure(units).message, /hourly_units\.wind_speed_10m: expected 'km\/h'/);

  const missing = structuredClone(body) as Record<string, unknown>;
  delete missing.daily;
  assert.match(failure(missing).message, /daily: /);

  assert.match(
    failure(body, "2026-11-21").message,
    /hourly\.time\[0\]: '2026-11-20T00:00' is not on 2026-11-21/,
  );
  assert.match(failure([1, 2]).message, /\(root\): /);

  // A 25-hour day (an hour given twice, as a local clock falling back writes it).
  const repeated = structuredClone(body);
  for (const list of Object.values(repeated.hourly)) list.splice(2, 0, list[1]);
  assert.match(
    failure(repeated).message,
    /hourly\.time\[2\]: '2026-11-20T01:00' repeats hourly\.time\[1\]/,
  );
});

Deno.test("weatherRequestUrl keeps the base URL's own parameters and asks for UTC", () => {
  const url = weatherRequestUrl(
    "https://customer-archive-api.open-meteo.com/v1/archive?apikey=k",
    BILLINGS,
    "2026-11-20",
  );
  assert.equal(url.origin + url.pathname, "https://customer-archive-api.open-meteo.com/v1/archive");
  assert.equal(url.searchParams.get("apikey"), "k");
  assert.equal(url.searchParams.get("latitude"), "45.7833");
  assert.equal(url.searchParams.get("longitude"), "-108.5007");
  assert.equal(url.searchParams.get("timezone"), "GMT");
  assert.equal(url.searchParams.get("wind_speed_unit"), "kmh");
  assert.throws(() => weatherRequestUrl("https://x/", BILLINGS, "20-11-2026"), RangeError);
  assert.equal(rawWeatherKey("2026-11-20", "red-lodge"), "raw/weather/2026/11/20/red-lodge.json");
});
