/**
 * THE definitions of this project: which assets, checks, sensors, schedules
 * and resources make up the graph. Resources and pipeline settings come from
 * the configuration (environment and `.env`).
 *
 * @module
 */

import { defineGraph } from "./core/mod.ts";
import { demoAssets } from "./assets/demo.ts";
import { spatialAssets } from "./assets/spatial/mod.ts";
import { weatherAssets } from "./assets/weather/mod.ts";
import { type AppResources, appResources, loadConfig } from "./resources/mod.ts";
import { schedules, sensors } from "./sensors/mod.ts";

const config = loadConfig();

/** The asset graph `deno task materialize` runs and `deno task sensor` watches. */
export const graph = defineGraph<AppResources>({
  assets: [
    ...demoAssets,
    ...weatherAssets({ startDate: config.WEATHER_START_DATE }),
    ...spatialAssets({ samples: config.SAMPLE_DATA }),
  ],
  sensors,
  schedules,
  resources: appResources(config),
});
