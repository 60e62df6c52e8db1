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
import { opsAssets } from "./assets/ops/mod.ts";
import { spatialAssets } from "./assets/spatial/mod.ts";
import { weatherAssets } from "./assets/weather/mod.ts";
import { type AppResources, appResources, loadConfig } from "./resources/mod.ts";
import { schedules, sensors } from "./sensors/mod.ts";

const config = loadConfig();

/**
 * The dbt project (`dbt/`, or DBT_PROJECT_DIR): one asset per model, seed and
 * snapshot, one check per test. Its target/ goes under STATE_DIR when that is
 * set, so the code tree can be read-only.
 */
const dbtProjectDir = Deno.env.get("DBT_PROJECT_DIR") ?? new URL("./dbt", import.meta.url).pathname;
/**
 * The profile target whose type matches the warehouse: the SQL of a model is
 * written for one dialect (`duckdb__` vs `postgres__` macros). DBT_TARGET
 * wins; a DuckDB warehouse otherwise builds the `duckdb` target.
 */
const dbtTarget = Deno.env.get("DBT_TARGET") ??
  (config.WAREHOUSE_URL.startsWith("duckdb:") ? "duckdb" : undefined);
const marts = await dbtAssets(dbtProjectDir, {
  fullRefresh: config.DBT_FULL_REFRESH,
  ...(dbtTarget ? { target: dbtTarget } : {}),
  vars: { lake_root: lakeRoot(config.LAKE_URL, config.LAKE_BUCKET) },
  ...(Deno.env.get("STATE_DIR")
    ? {
      targetDir: `${config.STATE_DIR}/dbt/${dbtProjectDir.replace(/\/+$/, "").split("/").at(-1)}`,
    }
    : {}),
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

/** The asset graph `deno task materialize` runs and `deno task sensor` watches. */
export const graph = defineGraph<AppResources>({
  assets: [
    ...weatherAssets({ startDate: config.WEATHER_START_DATE }),
    ...activityAssets({ samples: config.SAMPLE_DATA }),
    ...spatialAssets({ samples: config.SAMPLE_DATA }),
    ...marts.assets,
    ...opsAssets(),
  ],
  checks: [...marts.checks],
  sensors,
  schedules,
  resources: appResources(config),
});
