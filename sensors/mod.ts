/**
 * The project's sensors and schedules, for `graph.ts`:
 *
 * ```ts
 * import { defineGraph } from "../core/definitions.ts";
 * import { spatialAssets } from "../assets/spatial/mod.ts";
 * import { weatherAssets } from "../assets/weather/mod.ts";
 * import { type AppResources, appResources } from "../resources/app.ts";
 * import { loadConfig } from "../resources/config.ts";
 * import { schedules, sensors } from "./mod.ts";
 * const config = loadConfig();
 * const graph = defineGraph<AppResources>({
 *   assets: [...weatherAssets({ startDate: config.WEATHER_START_DATE }), ...spatialAssets()],
 *   resources: appResources(config),
 *   sensors,
 *   schedules,
 * });
 * ```
 *
 * @module
 */

import type { ScheduleDefinition } from "../core/schedule.ts";
import type { SensorDefinition } from "../core/sensor.ts";
import { manifestSensor } from "./manifest_sensor.ts";
import { weatherSchedules } from "./weather_schedules.ts";

export {
  type ManifestCursor,
  manifestSensor,
  type ManifestSensorOptions,
  type QuarantineManifest,
  SPATIAL_BATCHES,
  type ValidateManifest,
} from "./manifest_sensor.ts";
export * from "./weather_schedules.ts";

/** Every sensor of the project: the spatial manifest watcher. */
export const sensors: readonly SensorDefinition[] = [manifestSensor()];

/** Every schedule of the project: the weather ones. */
export const schedules: readonly ScheduleDefinition[] = [...weatherSchedules];
