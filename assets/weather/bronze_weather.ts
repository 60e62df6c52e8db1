/**
 * `bronze_weather`: load one day of raw Open-Meteo responses from the lake
 * into `raw.raw_weather`, one row per place and hour, replacing that day's
 * rows in one transaction so a reload never duplicates and never half-applies.
 *
 * @module
 */

import type { AssetDefinition, CheckSpec } from "../../core/asset.ts";
import { PlatformError, ResourceError } from "../../core/errors.ts";
import { dailyPartitions } from "../../core/partitions.ts";
import type { AppResources } from "../../resources/app.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import type { SqlValue, Warehouse } from "../../resources/warehouse/types.ts";
import { asset } from "../_define.ts";
import { parseWeatherResponse, rawWeatherPrefix } from "./open_meteo.ts";
import { DEFAULT_WEATHER_START_DATE } from "./raw_weather.ts";

/** The table bronze_weather loads (the shared `raw.raw_weather` contract). */
export const RAW_WEATHER_TABLE = { schema: "raw", name: "raw_weather" } as const;

/** Columns of `raw.raw_weather`, in load order. */
export const RAW_WEATHER_COLUMNS = [
  "place",
  "latitude",
  "longitude",
  "partition_date",
  "observed_at",
  "temperature_c",
  "precipitation_mm",
  "snowfall_cm",
  "wind_speed_kmh",
  "weather_code",
  "source_key",
  "loaded_at",
] as const;

/** DDL of `raw.raw_weather`; idempotent. */
export const RAW_WEATHER_DDL = `
CREATE SCHEMA IF NOT EXISTS raw;
CREATE TABLE IF NOT EXISTS raw.raw_weather (
  place text NOT NULL,
  latitude double precision NOT NULL,
  longitude double precision NOT NULL,
  partition_date date NOT NULL,
  observed_at timestamptz NOT NULL,
  temperature_c double precision,
  precipitation_mm double precision,
  snowfall_cm double precision,
  wind_speed_kmh double precision,
  weather_code integer,
  source_key text NOT NULL,
  loaded_at timestamptz NOT NULL,
  PRIMARY KEY (place, observed_at)
);
CREATE INDEX IF NOT EXISTS raw_weather_partition_date_idx ON raw.raw_weather (partition_date);
`;

// Any constant works; it only has to be the same in every process, so two
// runs creating the table at once take turns instead of racing on the catalog.
const DDL_LOCK = 7_240_113_001;

/** Resources bronze_weather and its check declare. */
type BronzeResources = "config" | "lake" | "warehouse";

/** Hours in a UTC day: the expected rows per place and partition. */
export const HOURS_PER_DAY = 24;

/** Options of {@linkcode bronzeWeatherAsset}. */
export interface BronzeWeatherOptions {
  /**
   * First daily partition, `YYYY-MM-DD`; the same as raw_weather's.
   * @default {"2026-11-01"}
   */
  readonly startDate?: string;
}

/** Creates `raw.raw_weather` if it does not exist (serialised by an advisory lock). */
export async function ensureRawWeatherTable(warehouse: Warehouse): Promise<void> {
  if (await warehouse.tableExists(RAW_WEATHER_TABLE.schema, RAW_WEATHER_TABLE.name)) return;
  await warehouse.transaction(async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [DDL_LOCK]);
    await tx.exec(RAW_WEATHER_DDL);
  });
}

/** The place a raw key names: `raw/weather/2026/11/20/red-lodge.json` -> `red-lodge`. */
function placeOf(key: string): string {
  return key.slice(key.lastIndexOf("/") + 1, -".json".length);
}

/** Keys of the raw objects of `day`, sorted; empty when there are none (or no bucket). */
async function rawKeys(lake: ObjectStore, bucket: string, day: string): Promise<string[]> {
  const keys: string[] = [];
  try {
    for await (const object of lake.listAll(bucket, { prefix: rawWeatherPrefix(day) })) {
      if (object.key.endsWith(".json")) keys.push(object.key);
    }
  } catch (error) {
    if (error instanceof PlatformError && error.code === "object_store.bucket_not_found") return [];
    throw error;
  }
  return keys.sort();
}

/** Rows of one raw object, validated with the same schema raw_weather used. */
async function rowsOf(
  lake: ObjectStore,
  bucket: string,
  key: string,
  day: string,
  loadedAt: Date,
): Promise<SqlValue[][]> {
  const text = new TextDecoder().decode(await lake.getBytes(bucket, key));
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (error) {
    throw new ResourceError(
      "weather.invalid_raw_object",
      `Cannot load ${bucket}/${key}: it is not JSON (${(error as Error).message}); ` +
        "materialize raw_weather again for this day",
      { resourceKey: "lake", input: key, cause: error },
    );
  }
  const weather = parseWeatherResponse(body, day, `${bucket}/${key}`);
  const place = placeOf(key);
  const hourly = weather.hourly;
  return hourly.time.map((time, i) => [
    place,
    weather.latitude,
    weather.longitude,
    day,
    new Date(`${time}:00Z`),
    hourly.temperature_2m[i] ?? null,
    hourly.precipitation[i] ?? null,
    hourly.snowfall[i] ?? null,
    hourly.wind_speed_10m[i] ?? null,
    hourly.weather_code[i] ?? null,
    key,
    loadedAt,
  ]);
}

/**
 * One row per place and hour, with a temperature: every place raw_weather
 * reported has 24 rows for the day and none has a null temperature.
 */
export const onePerPlaceAndHour: CheckSpec<Pick<AppResources, BronzeResources>> = {
  name: "one_row_per_place_and_hour",
  description: "24 rows per place for the day, none with a null temperature",
  blocking: true,
  run: async (ctx) => {
    const day = ctx.partitionKey ?? "";
    const rows = await ctx.resources.warehouse.query<
      { place: string; hours: number; temps: number }
    >(
      `SELECT place, count(*)::int AS hours, count(temperature_c)::int AS temps
       FROM raw.raw_weather WHERE partition_date = $1::date GROUP BY place ORDER BY place`,
      [day],
    );
    const reported = ctx.materialization.metadata.places;
    const expected = Array.isArray(reported) ? reported.map(String) : rows.map((r) => r.place);
    const found = new Map(rows.map((r) => [r.place, r]));
    const problems: string[] = [];
    for (const place of expected) {
      const row = found.get(place);
      if (!row) problems.push(`${place}: no rows`);
      else if (row.hours !== HOURS_PER_DAY) problems.push(`${place}: ${row.hours} rows`);
      else if (row.temps !== HOURS_PER_DAY) {
        problems.push(`${place}: ${HOURS_PER_DAY - row.temps} null temperatures`);
      }
    }
    for (const row of rows) {
      if (!expected.includes(row.place)) problems.push(`${row.place}: unexpected`);
    }
    return {
      passed: problems.length === 0 && expected.length > 0,
      metadata: { places: expected.length, problems },
      description: problems.length
        ? `raw.raw_weather on ${day}: ${
          problems.join("; ")
        } (expected ${HOURS_PER_DAY} rows per place)`
        : `${expected.length} places × ${HOURS_PER_DAY} hours on ${day}`,
    };
  },
};

/**
 * Builds the `bronze_weather` asset: same daily partitions as `raw_weather`,
 * group `weather`, with the blocking check {@linkcode onePerPlaceAndHour}.
 */
export function bronzeWeatherAsset(options: BronzeWeatherOptions = {}): AssetDefinition {
  return asset({
    key: "bronze_weather",
    deps: ["raw_weather"],
    group: "weather",
    description: "raw.raw_weather: one row per place and hour, loaded from the day's raw " +
      "Open-Meteo objects; a reload replaces the day's rows in one transaction",
    partitions: dailyPartitions(options.startDate ?? DEFAULT_WEATHER_START_DATE, { endOffset: 1 }),
    codeVersion: "1",
    // The table it writes, for the UI's data preview.
    metadata: { relation: `${RAW_WEATHER_TABLE.schema}.${RAW_WEATHER_TABLE.name}` },
    resources: ["config", "lake", "warehouse"],
    checks: [onePerPlaceAndHour],
    materialize: async (ctx) => {
      const day = ctx.partitionKey;
      if (day === undefined) throw new TypeError("bronze_weather needs a partition (a UTC day)");
      const { config, lake, warehouse } = ctx.resources;
      const bucket = config.LAKE_BUCKET;
      const keys = await rawKeys(lake, bucket, day);
      if (keys.length === 0) {
        throw new ResourceError(
          "weather.no_raw_objects",
          `Cannot load weather for ${day}: no objects under ${bucket}/${rawWeatherPrefix(day)}; ` +
            `materialize raw_weather for ${day} first`,
          { resourceKey: "lake", input: rawWeatherPrefix(day) },
        );
      }
      const loadedAt = new Date(ctx.clock.now());
      // Read and validate everything before touching the table: a bad object
      // fails the load while the previous rows of the day stay in place.
      const rows: SqlValue[][] = [];
      for (const key of keys) rows.push(...await rowsOf(lake, bucket, key, day, loadedAt));
      await ensureRawWeatherTable(warehouse);
      const { deleted, loaded } = await warehouse.transaction(async (tx) => {
        const deleted = await tx.execute(
          "DELETE FROM raw.raw_weather WHERE partition_date = $1::date",
          [day],
        );
        const loaded = await tx.bulkLoad(RAW_WEATHER_TABLE, RAW_WEATHER_COLUMNS, rows);
        return { deleted, loaded };
      });
      ctx.log.info(`loaded ${loaded} rows for ${day}, replacing ${deleted}`, { rows: loaded });
      return {
        partition: day,
        rows: loaded,
        replaced_rows: deleted,
        places: keys.map(placeOf),
        source_keys: keys,
      };
    },
  });
}
