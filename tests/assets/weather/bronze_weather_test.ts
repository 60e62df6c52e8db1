// bronze_weather on PGlite in memory: typed rows, partition replacement,
// atomicity, and its blocking check.

import assert from "node:assert/strict";
import {
  bronzeWeatherAsset,
  RAW_WEATHER_COLUMNS,
  rawWeatherAsset,
} from "../../../assets/weather/mod.ts";
import { openWarehouse, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { RECORDED } from "../../_helpers/open_meteo.ts";
import { weatherHarness } from "./_harness.ts";

const raw = rawWeatherAsset();
const bronze = bronzeWeatherAsset();
const DAY = RECORDED.archive.day;

interface WeatherRow {
  place: string;
  partition_date: Date;
  observed_at: Date;
  temperature_c: number | null;
  weather_code: number | null;
  source_key: string;
  loaded_at: Date;
}

async function rows(warehouse: Warehouse, day?: string): Promise<WeatherRow[]> {
  return await warehouse.query<WeatherRow>(
    `SELECT * FROM raw.raw_weather ${day ? "WHERE partition_date = $1::date" : ""}
     ORDER BY partition_date, place, observed_at`,
    day ? [day] : [],
  );
}

Deno.test("bronze_weather", async (t) => {
  await using warehouse = await openWarehouse("pglite:memory:");
  await using h = await weatherHarness();

  await t.step("loads one typed row per place and hour, creating the table", async () => {
    await h.run(raw, DAY);
    const metadata = await h.run(bronze, DAY, { warehouse });
    assert.deepEqual(metadata, {
      partition: DAY,
      rows: 48,
      replaced_rows: 0,
      places: ["billings", "bozeman"],
      source_keys: ["raw/weather/2026/11/20/billings.json", "raw/weather/2026/11/20/bozeman.json"],
    });
    const columns = await warehouse.columns("raw", "raw_weather");
    assert.deepEqual(columns.map((c) => c.name), [...RAW_WEATHER_COLUMNS]);
    assert.deepEqual(
      Object.fromEntries(columns.map((c) => [c.name, c.type])),
      {
        place: "text",
        latitude: "double precision",
        longitude: "double precision",
        partition_date: "date",
        observed_at: "timestamp with time zone",
        temperature_c: "double precision",
        precipitation_mm: "double precision",
        snowfall_cm: "double precision",
        wind_speed_kmh: "double precision",
        weather_code: "integer",
        source_key: "text",
        loaded_at: "timestamp with time zone",
      },
    );
    const loaded = await rows(warehouse, DAY);
    assert.equal(loaded.length, 48);
    const first = loaded[0]!;
    assert.equal(first.place, "billings");
    assert.equal(first.observed_at.toISOString(), "2026-11-20T00:00:00.000Z");
    assert.equal(loaded[23]!.observed_at.toISOString(), "2026-11-20T23:00:00.000Z");
    assert.equal(first.partition_date.toISOString().slice(0, 10), DAY);
    assert.equal(first.source_key, "raw/weather/2026/11/20/billings.json");
    assert.equal(first.loaded_at.getTime(), h.clock.now());
    const recorded = JSON.parse(
      new TextDecoder().decode(await h.lake.getBytes("data-lake", first.source_key)),
    );
    assert.deepEqual(
      loaded.slice(0, 24).map((r) => r.temperature_c),
      recorded.hourly.temperature_2m,
    );
    assert.deepEqual(loaded.slice(0, 24).map((r) => r.weather_code), recorded.hourly.weather_code);

    const checks = await h.check(bronze, DAY, metadata, warehouse);
    assert.deepEqual(checks.map((c) => [c.name, c.passed]), [["one_row_per_place_and_hour", true]]);
    assert.equal(bronze.checks[0]?.blocking, true);
  });

  await t.step("a reload replaces the day's rows, other days stay", async () => {
    await h.run(raw, "2026-11-19");
    await h.run(bronze, "2026-11-19", { warehouse });
    const otherDay = await rows(warehouse, "2026-11-19");

    h.api.transform = (body) => {
      const hourly = body.hourly as { temperature_2m: number[] };
      hourly.temperature_2m = hourly.temperature_2m.map((value) => value + 10);
    };
    const rewritten = await h.run(raw, DAY, { runId: "run-2" });
    assert.equal(rewritten.objects_written, 2);
    h.clock.advance(60_000);
    const metadata = await h.run(bronze, DAY, { warehouse, runId: "run-2" });
    assert.equal(metadata.rows, 48);
    assert.equal(metadata.replaced_rows, 48);

    const reloaded = await rows(warehouse, DAY);
    assert.equal(reloaded.length, 48, "replaced, not duplicated");
    assert.ok(reloaded.every((r) => r.loaded_at.getTime() === h.clock.now()));
    assert.ok(reloaded.some((r) => (r.temperature_c ?? 0) > 10), "the new values");
    assert.deepEqual(await rows(warehouse, "2026-11-19"), otherDay, "other partitions untouched");
    assert.equal((await rows(warehouse)).length, 96);
    h.api.transform = undefined;
  });

  await t.step("a bad raw object fails the load and keeps the previous rows", async () => {
    const before = await rows(warehouse, DAY);
    await h.lake.put(
      "data-lake",
      "raw/weather/2026/11/20/bozeman.json",
      new TextEncoder().encode('{"latitude": 1}'),
    );
    await assert.rejects(h.run(bronze, DAY, { warehouse }), (error: Error) => {
      assert.match(error.message, /data-lake\/raw\/weather\/2026\/11\/20\/bozeman\.json/);
      assert.match(error.message, /hourly: /);
      return true;
    });
    assert.deepEqual(await rows(warehouse, DAY), before);
  });

  await t.step("a day raw_weather never fetched is a clear error", async () => {
    await assert.rejects(
      h.run(bronze, "2026-11-02", { warehouse }),
      /no objects under data-lake\/raw\/weather\/2026\/11\/02\/; materialize raw_weather for 2026-11-02 first/,
    );
  });

  await t.step("the check fails on null temperatures and on missing hours", async () => {
    h.api.transform = (body) => {
      (body.hourly as { temperature_2m: (number | null)[] }).temperature_2m[7] = null;
    };
    await h.run(raw, "2026-11-17");
    const metadata = await h.run(bronze, "2026-11-17", { warehouse });
    h.api.transform = undefined;
    let [result] = await h.check(bronze, "2026-11-17", metadata, warehouse);
    assert.equal(result?.passed, false);
    assert.match(
      result?.description ?? "",
      /billings: 1 null temperatures; bozeman: 1 null temperatures/,
    );

    await warehouse.execute(
      "DELETE FROM raw.raw_weather WHERE place = 'bozeman' AND partition_date = '2026-11-19' AND observed_at > '2026-11-19T20:00Z'",
    );
    [result] = await h.check(bronze, "2026-11-19", { places: ["billings", "bozeman"] }, warehouse);
    assert.equal(result?.passed, false);
    assert.match(result?.description ?? "", /bozeman: 21 rows/);
  });
});
