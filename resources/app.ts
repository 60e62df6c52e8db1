/**
 * The application's resources: {@linkcode AppResources}, every resource an
 * asset of this project may declare, and {@linkcode appResources}, the
 * factories that open the implementation each configured URL names.
 *
 * @module
 */

import { defineResource, type ResourceSources } from "../core/resource.ts";
import type { Config } from "./config.ts";
import { redactUrl } from "../core/secrets.ts";
import { FetchHttpClient } from "./http/fetch_client.ts";
import { ReplayHttpClient, type ReplaySource } from "./http/replay_client.ts";
import type { HttpClient } from "./http/types.ts";
import { openLake } from "./lake.ts";
import { openLedger } from "./ledger/open.ts";
import type { Ledger } from "./ledger/types.ts";
import type { ObjectStore } from "./object_store/types.ts";
import type { SpatialEngine } from "./spatial/engine.ts";
import type { GdalEngine } from "./spatial/gdal.ts";
import { openGdal, openSpatialEngine } from "./spatial/open.ts";
import { openWarehouse } from "./warehouse/open.ts";
import type { Notifier } from "../core/automation/notification.ts";
import { openNotifiers } from "./notifier/open.ts";
import type { Warehouse } from "./warehouse/types.ts";

/** Every resource an asset of this project may declare. */
export interface AppResources {
  /** The parsed configuration (pipeline settings such as the weather start date). */
  readonly config: Config;
  /** The object store holding the landing zone and the data lake buckets. */
  readonly lake: ObjectStore;
  /** The lineage registry: one document per object written to the lake. */
  readonly ledger: Ledger;
  /** The SQL warehouse holding `raw.*` tables and the dbt marts. */
  readonly warehouse: Warehouse;
  /** The HTTP client for public APIs (Open-Meteo): timeouts, retries, typed errors. */
  readonly http: HttpClient;
  /** Where spatial SQL runs (SpatiaLite embedded, PostGIS on a server): `SPATIAL_URL`. */
  readonly spatial: SpatialEngine;
  /** The GDAL build reading and writing spatial files (gdal3.js or native): `GDAL_ENGINE`. */
  readonly gdal: GdalEngine;
  /** Where alert sensors deliver notifications: `NOTIFY_URLS` (none by default). */
  readonly notifiers: readonly Notifier[];
}

/** Options of {@linkcode appResources}. */
export interface AppResourcesOptions {
  /**
   * What the `http` resource answers from when `SAMPLE_DATA=true` (the
   * pipelines' sample responses, e.g. the weather samples).
   * @default {[]}
   */
  readonly samples?: readonly ReplaySource[];
}

/**
 * Resource factories for `config`; each opens on first use in a run and
 * closes at its end. `SAMPLE_DATA=true` makes `http` the replay client over
 * `options.samples` (offline, never the network); `false` makes it the live
 * client.
 */
export function appResources(
  config: Config,
  options: AppResourcesOptions = {},
): ResourceSources<AppResources> {
  return {
    config,
    http: config.SAMPLE_DATA
      ? defineResource(
        "http client replaying sample data (SAMPLE_DATA=true)",
        () =>
          new ReplayHttpClient(options.samples ?? [], {
            hint: "set SAMPLE_DATA=false to call the live API",
          }),
      )
      : defineResource(
        `http client (timeout ${config.HTTP_TIMEOUT_MS} ms)`,
        (ctx) =>
          new FetchHttpClient({
            timeoutMs: config.HTTP_TIMEOUT_MS,
            onRetry: (retry) =>
              ctx.log.warn(`retrying GET ${retry.url} in ${retry.delayMs} ms: ${retry.reason}`),
          }),
      ),
    lake: defineResource(
      `object store ${redactUrl(config.LAKE_URL)}`,
      () => openLake(config),
    ),
    ledger: defineResource(
      `ledger ${redactUrl(config.LEDGER_URL)}`,
      () => openLedger(config.LEDGER_URL),
    ),
    warehouse: defineResource(
      `warehouse ${redactUrl(config.WAREHOUSE_URL)}`,
      (ctx) =>
        openWarehouse(config.WAREHOUSE_URL, {
          onLockWait: (message) => ctx.log.warn(message),
          onCreate: (message) => ctx.log.info(message),
        }),
    ),
    gdal: defineResource(`GDAL (${config.GDAL_ENGINE})`, () => openGdal(config.GDAL_ENGINE)),
    spatial: defineResource(
      `spatial engine ${redactUrl(config.SPATIAL_URL)}`,
      () => openSpatialEngine(config.SPATIAL_URL),
    ),
    // Opened now, so a bad NOTIFY_URLS fails at start naming the variable.
    notifiers: openNotifiers(config.NOTIFY_URLS),
  };
}
