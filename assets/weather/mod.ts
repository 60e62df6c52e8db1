/**
 * The weather pipeline: `raw_weather` fetches Open-Meteo per configured place
 * and UTC day into the lake; `bronze_weather` loads a day into
 * `raw.raw_weather` (with its blocking check `one_row_per_place_and_hour`).
 *
 * @example Wire it into graph.ts
 * ```ts
 * import { defineGraph } from "../../core/definitions.ts";
 * import { type AppResources, appResources } from "../../resources/app.ts";
 * import { loadConfig } from "../../resources/config.ts";
 * import { weatherAssets } from "./mod.ts";
 * const config = loadConfig();
 * const graph = defineGraph<AppResources>({
 *   assets: [...weatherAssets({ startDate: config.WEATHER_START_DATE })],
 *   resources: appResources(config),
 * });
 * ```
 *
 * @module
 */

import type { AssetDefinition } from "../../core/asset.ts";
import type { RetryPolicy } from "../../core/retry.ts";
import { bronzeWeatherAsset } from "./bronze_weather.ts";
import { rawWeatherAsset } from "./raw_weather.ts";

/** Options of {@linkcode weatherAssets}. */
export interface WeatherAssetsOptions {
  /**
   * First daily partition, `YYYY-MM-DD`: pass `config.WEATHER_START_DATE`.
   * @default {"2026-11-01"}
   */
  readonly startDate?: string;
  /**
   * Retry policy of `raw_weather`.
   * @default {{ maxAttempts: 3, delayMs: 300000, backoff: "constant" }}
   */
  readonly retry?: Partial<RetryPolicy>;
}

/**
 * The weather assets, `raw_weather` then `bronze_weather`; their checks are
 * attached to them.
 */
export function weatherAssets(options: WeatherAssetsOptions = {}): AssetDefinition[] {
  const startDate = options.startDate === undefined ? {} : { startDate: options.startDate };
  return [
    rawWeatherAsset({ ...startDate, ...(options.retry ? { retry: options.retry } : {}) }),
    bronzeWeatherAsset(startDate),
  ];
}

export {
  DEFAULT_WEATHER_RETRY,
  DEFAULT_WEATHER_START_DATE,
  endpointFor,
  rawWeatherAsset,
  type RawWeatherOptions,
  utcDay,
} from "./raw_weather.ts";
export {
  bronzeWeatherAsset,
  type BronzeWeatherOptions,
  ensureRawWeatherTable,
  HOURS_PER_DAY,
  onePerPlaceAndHour,
  RAW_WEATHER_COLUMNS,
  RAW_WEATHER_DDL,
  RAW_WEATHER_TABLE,
} from "./bronze_weather.ts";
export {
  DAILY_VARIABLES,
  HOURLY_VARIABLES,
  parseWeatherResponse,
  rawWeatherKey,
  rawWeatherPrefix,
  type WeatherEndpoint,
  weatherRequestUrl,
  WeatherResponse,
  WeatherResponseError,
} from "./open_meteo.ts";
export { loadPlaces, parsePlaces, Place, PlacesFile } from "./places.ts";
