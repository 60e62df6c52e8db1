/**
 * Spatial resources: GDAL (the `GdalEngine` role: gdal3.js or native gdal-bin)
 * and the `SpatialEngine` role with its SpatiaLite (embedded) and PostGIS
 * implementations plus the intents' shared SQL.
 *
 * @example
 * ```ts
 * import { openSpatialEngine, recipeSql, withWorkspace } from "./mod.ts";
 * await using engine = await openSpatialEngine("spatialite:");
 * await withWorkspace(engine, "run-1", async (ws) => {
 *   // await ws.load("input", { path: "in.gpkg", table: "roads", geometryColumn: "geom" }, 4326);
 *   // await ws.run(recipeSql("measure", await ws.columns("input")), "result");
 * });
 * ```
 *
 * @module
 */

export {
  assertTableName,
  type FeatureTable,
  quoteIdent,
  type SpatialEngine,
  SpatialEngineError,
  type SpatialEngineKind,
  withWorkspace,
  type Workspace,
  workspaceName,
} from "./engine.ts";
export { openSpatialEngine } from "./open.ts";
export { PostgisEngine, type PostgisEngineOptions } from "./postgis.ts";
export { SpatialiteEngine } from "./spatialite.ts";
export { isIdentityRecipe, type RecipeName, recipeSql } from "./recipes.ts";
export {
  driverExtension,
  type GdalEngine,
  type GdalEngineKind,
  GdalError,
  type GdalOps,
  type GdalScratch,
  type OpenOptions,
  type VectorInfo,
  type VectorLayerInfo,
} from "./gdal.ts";
export { gdalWasmDir, wasmGdal } from "./gdal_wasm.ts";
export { detectNativeGdal, nativeGdal, nativeGdalVersion } from "./gdal_native.ts";
export { type GdalEngineSetting, openGdal, type OpenSpatialEngineOptions } from "./open.ts";
