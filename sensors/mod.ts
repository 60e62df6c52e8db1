/**
 * The project's sensors and schedules, for `graph.ts`:
 *
 * ```ts ignore
 * import { schedules, sensors } from "./sensors/mod.ts";
 * export const graph = defineGraph({ assets, resources, sensors, schedules });
 * ```
 *
 * @module
 */

import type { ScheduleDefinition, SensorDefinition } from "../core/mod.ts";
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
