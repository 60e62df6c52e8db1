/**
 * `raw_weather`: for one day, fetch each configured place's weather from
 * Open-Meteo (the archive for past days, the forecast for today) and keep the
 * response unchanged in the lake, with its ledger document.
 *
 * @module
 */

import type { AssetDefinition } from "../../core/asset.ts";
import { ResourceError } from "../../core/errors.ts";
import { dailyPartitions } from "../../core/partitions.ts";
import type { RetryPolicy } from "../../core/retry.ts";
import type { LedgerDocument } from "../../resources/ledger/schema.ts";
import type { Ledger } from "../../resources/ledger/types.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import { asset } from "../_define.ts";
import { sha256Hex } from "./_hash.ts";
import {
  parseWeatherResponse,
  rawWeatherKey,
  type WeatherEndpoint,
  weatherRequestUrl,
} from "./open_meteo.ts";
import { loadPlaces } from "./places.ts";

/** The first day of the weather partitions when none is configured (the config default). */
export const DEFAULT_WEATHER_START_DATE = "2026-11-01";

/** Two retries five minutes apart: Open-Meteo outages and rate limits pass within minutes. */
export const DEFAULT_WEATHER_RETRY: Partial<RetryPolicy> = Object.freeze({
  maxAttempts: 3,
  delayMs: 300_000,
  backoff: "constant",
});

/** Options of {@linkcode rawWeatherAsset}. */
export interface RawWeatherOptions {
  /**
   * First daily partition, `YYYY-MM-DD` (pass `config.WEATHER_START_DATE`).
   * @default {"2026-11-01"}
   */
  readonly startDate?: string;
  /**
   * Asset-level retry policy.
   * @default {{ maxAttempts: 3, delayMs: 300000, backoff: "constant" }}
   */
  readonly retry?: Partial<RetryPolicy>;
}

/** Whether one place's object was written or was already there with the same data. */
type StoreOutcome = "written" | "unchanged";

/** One fetched response, ready to be stored. */
interface RawObject {
  readonly bucket: string;
  readonly key: string;
  readonly bytes: Uint8Array;
  readonly runId: string;
  readonly day: string;
  readonly metadata: Record<string, string | number>;
}

/** UTC day of `ms`, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

/**
 * The endpoint serving `day` when today (UTC) is `today`; throws for a future
 * day. The archive lags real time by a few days (its recent hours are `null`),
 * so days less than `archiveLagDays` old come from the forecast API, which
 * also serves the recent past.
 *
 * @example
 * ```ts
 * import { endpointFor } from "./raw_weather.ts";
 * endpointFor("2026-11-20", "2026-11-23", 0); // "archive"
 * endpointFor("2026-11-20", "2026-11-23", 5); // "forecast"
 * ```
 */
export function endpointFor(day: string, today: string, archiveLagDays = 0): WeatherEndpoint {
  if (day > today) {
    throw new RangeError(`Cannot fetch weather for ${day}: it is after today (${today} UTC)`);
  }
  const age = (Date.parse(today) - Date.parse(day)) / 86_400_000;
  return day === today || age < archiveLagDays ? "forecast" : "archive";
}

/**
 * Builds the `raw_weather` asset: daily partitions from `startDate` up to
 * today (UTC), group `weather`.
 */
export function rawWeatherAsset(options: RawWeatherOptions = {}): AssetDefinition {
  return asset({
    key: "raw_weather",
    group: "weather",
    tags: ["open_meteo"],
    description: "Open-Meteo responses (hourly and daily) per configured place and UTC day, " +
      "unchanged, at data-lake/raw/weather/YYYY/MM/DD/<place>.json with a ledger document",
    partitions: dailyPartitions(options.startDate ?? DEFAULT_WEATHER_START_DATE, { endOffset: 1 }),
    retry: options.retry ?? DEFAULT_WEATHER_RETRY,
    codeVersion: "1",
    resources: ["config", "http", "lake", "ledger"],
    materialize: async (ctx) => {
      const day = ctx.partitionKey;
      if (day === undefined) throw new TypeError("raw_weather needs a partition (a UTC day)");
      const { config, http, lake, ledger } = ctx.resources;
      const places = await loadPlaces(config.WEATHER_PLACES_FILE);
      const endpoint = endpointFor(day, utcDay(ctx.clock.now()), config.WEATHER_ARCHIVE_LAG_DAYS);
      const base = endpoint === "forecast"
        ? config.OPEN_METEO_FORECAST_URL
        : config.OPEN_METEO_ARCHIVE_URL;
      await lake.ensureBucket(config.LAKE_BUCKET);
      let written = 0;
      let unchanged = 0;
      let bytes = 0;
      const keys: string[] = [];
      const samples: string[] = [];
      // The data of each place as hashed for the lake (generationtime_ms left out).
      const hashes: string[] = [];
      // One place at a time: a handful of requests per day, kind to a free API,
      // and the first unreachable host ends the partition at once.
      for (const place of places) {
        const response = await http.getJson(weatherRequestUrl(base, place, day), {
          signal: ctx.signal,
        });
        const weather = parseWeatherResponse(
          response.body,
          day,
          `for ${place.name} on ${day} (GET ${response.url})`,
        );
        const key = rawWeatherKey(day, place.name);
        const dataHash = await responseHash(response.body);
        hashes.push(`${place.name}=${dataHash}`);
        const outcome = await storeRawObject(lake, ledger, {
          bucket: config.LAKE_BUCKET,
          key,
          bytes: response.bytes,
          runId: ctx.runId,
          day,
          metadata: {
            place: place.name,
            label: place.label,
            url: response.url,
            endpoint,
            latitude: weather.latitude,
            longitude: weather.longitude,
            hours: weather.hourly.time.length,
            response_sha256: dataHash,
            // Provenance: the replay client (SAMPLE_DATA=true) says which sample answered.
            source: response.source ?? `Open-Meteo ${endpoint} API`,
          },
        });
        ctx.log.info(`${place.name}: ${outcome} ${key} (${response.bytes.length} bytes)`, {
          place: place.name,
          key,
          outcome,
        });
        if (outcome === "written") written++;
        else unchanged++;
        bytes += response.bytes.length;
        keys.push(key);
        if (response.source !== undefined) samples.push(response.source);
      }
      return {
        partition: day,
        endpoint,
        places: places.map((p) => p.name),
        bytes,
        objects_written: written,
        objects_unchanged: unchanged,
        keys,
        // Same data, same version: a re-fetch that changed nothing leaves bronze_weather and
        // the marts fresh (without it, the run id was the version and every fetch made them
        // stale, so the 6-hourly forecast re-ran them eagerly for nothing).
        data_version: await sha256Hex(new TextEncoder().encode(hashes.join("\n"))),
        ...(samples.length > 0
          ? { sample_data: `${samples.length} synthetic Open-Meteo responses, e.g. ${samples[0]}` }
          : {}),
      };
    },
  });
}

/**
 * Hash of the response without `generationtime_ms`, which Open-Meteo changes
 * on every call: two responses with the same data hash the same, so an
 * unchanged day writes nothing.
 */
async function responseHash(body: unknown): Promise<string> {
  const { generationtime_ms: _, ...data } = body as Record<string, unknown>;
  return await sha256Hex(new TextEncoder().encode(JSON.stringify(data)));
}

/**
 * Writes one raw object and its ledger document, unless the lake already
 * holds the same data with a matching ledger document.
 *
 * The ledger document is written first and its id goes into the object's
 * user metadata (`mongodb_doc_id`); a crash in between leaves a document
 * without its object, which the next run (or the reconciler) repairs since
 * the head no longer matches the ledger.
 */
async function storeRawObject(
  lake: ObjectStore,
  ledger: Ledger,
  raw: RawObject,
): Promise<StoreOutcome> {
  const [head, latest] = await Promise.all([
    lake.head(raw.bucket, raw.key),
    ledger.findByKey(raw.bucket, raw.key),
  ]);
  if (head && latest && isCurrent(head.sha256, head.metadata.mongodb_doc_id, latest, raw)) {
    return "unchanged";
  }
  const sha256 = await sha256Hex(raw.bytes);
  const doc = await ledger.upsert({
    bucket: raw.bucket,
    key: raw.key,
    sha256,
    size: raw.bytes.length,
    run_id: raw.runId,
    asset_key: "raw_weather",
    partition: raw.day,
    format: "json",
    content_type: "application/json",
    metadata: raw.metadata,
  });
  const put = await lake.put(raw.bucket, raw.key, raw.bytes, {
    contentType: "application/json",
    metadata: { mongodb_doc_id: doc.id },
  });
  if (put.sha256 !== sha256) {
    throw new ResourceError(
      "weather.write_mismatch",
      `Wrote data-lake object '${raw.key}' but the store computed sha256 ${put.sha256}, ` +
        `not ${sha256}; the object store corrupted the write: run raw_weather again`,
      { resourceKey: "lake", input: raw.key },
    );
  }
  return "written";
}

/** The stored object is the ledger's latest version and holds the same response data. */
function isCurrent(
  headSha: string | undefined,
  headDocId: string | undefined,
  latest: LedgerDocument,
  raw: RawObject,
): boolean {
  return headSha === latest.sha256 && headDocId === latest.id &&
    latest.metadata.response_sha256 === raw.metadata.response_sha256;
}
