/**
 * THE definitions of this project: which assets, checks, sensors, schedules
 * and resources make up the graph. Resources and pipeline settings come from
 * the configuration (environment and `.env`).
 *
 * @module
 */

import { defineGraph } from "./core/definitions.ts";
import { activityAssets } from "./assets/activity/mod.ts";
import { dbtAssets } from "./assets/dbt/mod.ts";
import { warehouseDatabase } from "./resources/dbt/mod.ts";
import { opsAssets } from "./assets/ops/mod.ts";
import { spatialAssets } from "./assets/spatial/mod.ts";
import { loadPlaces, weatherAssets } from "./assets/weather/mod.ts";
import { openMeteoSamples } from "./assets/weather/samples.ts";
import { type AppResources, appResources, loadConfig } from "./resources/mod.ts";
import { sensors } from "./sensors/mod.ts";
import { activitySensor } from "./sensors/activity_sensor.ts";
import { withAutomation } from "./core/automation/apply.ts";
import {
  and,
  cronTickPassed,
  eager,
  initialEvaluation,
  inLatestTimeWindow,
  newlyRequested,
  newlyUpdated,
  not,
  onCron,
  or,
} from "./core/automation/condition.ts";
import { freshness } from "./core/automation/freshness_policy.ts";
import { onCheckFailure, onFreshnessBreach, onRunFailure } from "./core/automation/alerts.ts";
import { ensureWritable, writablePlaces } from "./resources/writable.ts";

const config = loadConfig();
// Fail at once, naming the variable, when a place the run writes to is not writable.
await ensureWritable(writablePlaces(config));
// A malformed WEATHER_PLACES_FILE fails every command at start (exit 2, naming the file), not
// the first raw_weather run hours later; each run reads it again, so an edit needs no restart.
await loadPlaces(config.WEATHER_PLACES_FILE);

/**
 * The dbt project (`dbt/`, or DBT_PROJECT_DIR): one asset per model, seed and
 * snapshot, one check per test. Its target/ (artifacts, parse cache) always
 * goes under STATE_DIR (default `.state`), so the code tree is never written.
 */
const dbtProjectDir = config.DBT_PROJECT_DIR ?? new URL("./dbt", import.meta.url).pathname;
/**
 * The profile target whose type matches the warehouse: the SQL of a model is
 * written for one dialect (`duckdb__` vs `postgres__` macros). DBT_TARGET
 * wins; a DuckDB warehouse otherwise builds the `duckdb` target.
 */
const dbtTarget = config.DBT_TARGET ??
  (config.WAREHOUSE_URL.startsWith("duckdb:") ? "duckdb" : undefined);
const marts = await dbtAssets(dbtProjectDir, {
  fullRefresh: config.DBT_FULL_REFRESH,
  // Relations name the database of the warehouse the models build in, not the profile's.
  database: warehouseDatabase(config.WAREHOUSE_URL),
  ...(dbtTarget ? { target: dbtTarget } : {}),
  vars: { lake_root: lakeRoot(config.LAKE_URL, config.LAKE_BUCKET) },
  targetDir: `${config.STATE_DIR}/dbt/${dbtProjectDir.replace(/\/+$/, "").split("/").at(-1)}`,
});

/**
 * Where DuckDB models read the lake's objects in place (the `lake_root` var
 * of dbt/): the bucket's folder for a local lake, `s3://bucket` for S3 (read
 * through DuckDB's httpfs extension where it is installed).
 */
function lakeRoot(lakeUrl: string, bucket: string): string {
  if (lakeUrl.startsWith("file:")) {
    const folder = decodeURIComponent(lakeUrl.replace(/^file:(\/\/)?/, "")).replace(/\/+$/, "");
    return `${folder}/${bucket}`;
  }
  return `s3://${bucket}`;
}

/**
 * When things run on their own (`deno task sensor`): activity drops load as
 * they land (the `activity_drops` sensor), spatial batches as their manifest
 * is committed (the manifest sensor), weather on cron — today's partition
 * every six hours from the forecast, yesterday's once a day from the archive
 * — and every dbt model eagerly, as soon as its sources or parents have new
 * data (`+meta: {automation: eager}` in dbt/dbt_project.yml). The marts must
 * stay younger than 7 h (freshness checks), and failures, failed checks and
 * freshness breaches notify NOTIFY_URLS.
 */
const weatherOnCron = or(
  onCron("5 */6 * * *"),
  and(
    inLatestTimeWindow({ lookbackDays: 1 }),
    not(inLatestTimeWindow()),
    cronTickPassed("15 1 * * *").since(or(newlyRequested(), newlyUpdated(), initialEvaluation())),
  ).withLabel("yesterday_from_archive(15 1 * * *)"),
).withLabel("weather_on_cron");
const martsFreshness = freshness({ maxLagMinutes: 7 * 60, warnLagMinutes: 6 * 60 + 30 });

const ui = config.UI_URL ? { uiUrl: config.UI_URL } : {};

/** The asset graph `deno task materialize` runs and `deno task sensor` watches. */
export const graph = defineGraph<AppResources>({
  assets: withAutomation([
    ...weatherAssets({ startDate: config.WEATHER_START_DATE }),
    ...activityAssets({ samples: config.SAMPLE_DATA }),
    ...spatialAssets({ samples: config.SAMPLE_DATA }),
    ...marts.assets,
    ...opsAssets(),
  ], {
    raw_weather: { automation: weatherOnCron },
    bronze_weather: { automation: eager({ lookbackDays: 1 }) },
    ...(marts.assets.some((a) => a.key === "fct_weather_daily")
      ? { fct_weather_daily: { freshness: martsFreshness } }
      : {}),
  }),
  checks: [...marts.checks],
  sensors: [
    ...sensors,
    activitySensor(),
    // Alerts only where someone listens (an alert sensor first started later
    // notifies from then on, not about the history before).
    ...(config.NOTIFY_URLS ? [onRunFailure(ui), onCheckFailure(ui), onFreshnessBreach(ui)] : []),
  ],
  // The weather schedules of sensors/weather_schedules.ts are replaced by
  // raw_weather's condition above (same crons, same partitions).
  schedules: [],
  resources: appResources(config, {
    samples: [openMeteoSamples(new URL("./sample_data/weather/", import.meta.url))],
  }),
});
