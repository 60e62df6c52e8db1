/**
 * What the weather tests share: a loopback Open-Meteo, a places file in a
 * temp dir, a configuration pointing at both, in-memory lake and ledger, a
 * fake clock, and a way to call an asset's `materialize` (and its checks)
 * directly.
 *
 * @module
 */

import type { AssetDefinition, CheckResult, Materialization } from "../../../core/asset.ts";
import type { Metadata } from "../../../core/metadata.ts";
import { buildAssetContext, FakeClock } from "../../../core/testing.ts";
import { FetchHttpClient } from "../../../resources/http/mod.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { type Config, loadConfig } from "../../../resources/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import type { Warehouse } from "../../../resources/warehouse/mod.ts";
import { BILLINGS, type OpenMeteoServer, startOpenMeteo } from "../../_helpers/open_meteo.ts";

/** A place as written in a places file. */
export interface PlaceInput {
  name: string;
  label: string;
  latitude: number;
  longitude: number;
}

/** Billings (the recorded place) and Bozeman. */
export const TWO_PLACES: readonly PlaceInput[] = [
  { name: "billings", label: "Billings, Montana", ...BILLINGS },
  { name: "bozeman", label: "Bozeman, Montana", latitude: 45.6793, longitude: -111.0373 },
];

/** Everything a weather test needs; dispose it to stop the server and remove the temp dir. */
export interface WeatherHarness extends AsyncDisposable {
  readonly api: OpenMeteoServer;
  readonly config: Config;
  readonly clock: FakeClock;
  readonly lake: MemoryObjectStore;
  readonly ledger: MemoryLedger;
  readonly http: FetchHttpClient;
  readonly placesFile: string;
  /** Resources for raw_weather and bronze_weather. */
  resources(warehouse?: Warehouse): Record<string, unknown>;
  /** Calls `asset.materialize` for `partition` as run `runId`. */
  run(asset: AssetDefinition, partition: string, options?: RunOptions): Promise<Metadata>;
  /** Runs the checks of `asset` against a materialization with `metadata`. */
  check(
    asset: AssetDefinition,
    partition: string,
    metadata: Metadata,
    warehouse?: Warehouse,
  ): Promise<(CheckResult & { name: string })[]>;
}

/** Options of {@linkcode WeatherHarness.run}. */
export interface RunOptions {
  runId?: string;
  warehouse?: Warehouse;
}

/** Options of {@linkcode weatherHarness}. */
export interface WeatherHarnessOptions {
  /** Places in the places file. */
  places?: readonly PlaceInput[];
  /** The fake clock's start, an ISO instant. */
  now?: string;
  /** Extra configuration variables. */
  env?: Record<string, string>;
}

/** Starts the server, writes the places file and builds the configuration. */
export async function weatherHarness(options: WeatherHarnessOptions = {}): Promise<WeatherHarness> {
  const api = await startOpenMeteo();
  const dir = await Deno.makeTempDir({ prefix: "weather-test-" });
  const placesFile = `${dir}/places.json`;
  await Deno.writeTextFile(placesFile, JSON.stringify({ places: options.places ?? TWO_PLACES }));
  const config = loadConfig({
    dotenvPath: null,
    env: {
      WEATHER_PLACES_FILE: placesFile,
      OPEN_METEO_ARCHIVE_URL: api.archiveUrl,
      OPEN_METEO_FORECAST_URL: api.forecastUrl,
      WEATHER_START_DATE: "2026-11-01",
      // Tests of the archive path use recent days; the lag has its own test.
      WEATHER_ARCHIVE_LAG_DAYS: "0",
      ...options.env,
    },
  });
  const clock = new FakeClock(Date.parse(options.now ?? "2026-11-23T15:00:00Z"));
  const lake = new MemoryObjectStore();
  const ledger = new MemoryLedger({ clock });
  // The fake API answers at once; the timeout is only a bound for a loaded machine, where
  // PGlite's queries on this thread (WASM, not yielding) can hold a reply back for seconds.
  const http = new FetchHttpClient({ clock, random: () => 0.5, timeoutMs: 30_000 });
  const resources = (warehouse?: Warehouse) => ({
    config,
    http,
    lake,
    ledger,
    ...(warehouse ? { warehouse } : {}),
  });
  const context = (
    asset: AssetDefinition,
    partition: string,
    runId: string,
    warehouse?: Warehouse,
  ) => ({
    ...buildAssetContext({
      resources: resources(warehouse),
      partitionKey: partition,
      clock,
      assetKey: asset.key,
    }),
    runId,
  });
  return {
    api,
    config,
    clock,
    lake,
    ledger,
    http,
    placesFile,
    resources,
    async run(asset, partition, runOptions = {}) {
      const ctx = context(asset, partition, runOptions.runId ?? "run-1", runOptions.warehouse);
      return (await asset.materialize(ctx)) ?? {};
    },
    async check(asset, partition, metadata, warehouse) {
      const materialization: Materialization = {
        runId: "run-1",
        assetKey: asset.key,
        partition,
        time: clock.now(),
        metadata,
        codeVersion: asset.codeVersion,
      };
      const ctx = { ...context(asset, partition, "run-1", warehouse), materialization };
      const results = [];
      for (const check of asset.checks) {
        const result = await check.run(ctx);
        results.push({
          name: check.name,
          ...(typeof result === "boolean" ? { passed: result } : result),
        });
      }
      return results;
    },
    async [Symbol.asyncDispose]() {
      await api.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Every object key in the lake bucket, sorted. */
export async function lakeKeys(lake: MemoryObjectStore, bucket = "data-lake"): Promise<string[]> {
  const keys: string[] = [];
  for await (const object of lake.listAll(bucket)) keys.push(object.key);
  return keys.sort();
}
