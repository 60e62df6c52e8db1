/**
 * The application's resources: their types, and factories that open the
 * implementation each configured URL names.
 *
 * @example
 * ```ts
 * import { appResources, loadConfig } from "./mod.ts";
 * const resources = appResources(loadConfig());
 * ```
 *
 * @module
 */

export { type AppResources, appResources, type AppResourcesOptions } from "./app.ts";
export { openLake } from "./lake.ts";
export { type Config, ConfigSchema, loadConfig } from "./config.ts";
export { redactUrl } from "../core/secrets.ts";
export type { HttpClient } from "./http/mod.ts";
export type { Ledger } from "./ledger/mod.ts";
export type { ObjectStore } from "./object_store/types.ts";
export type { Warehouse } from "./warehouse/mod.ts";
export type { GdalEngine } from "./spatial/gdal.ts";
export type { SpatialEngine } from "./spatial/engine.ts";
