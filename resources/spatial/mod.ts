/**
 * Spatial resources: GDAL in process (gdal3.js), the GeoParquet writer, and
 * the `SpatialEngine` role with its SpatiaLite (embedded) and PostGIS
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
export { EQUAL_AREA_SRID, isIdentityRecipe, type RecipeName, recipeSql } from "./recipes.ts";
export {
  type ColumnSchema,
  type ColumnType,
  type GeoMetadata,
  GeoParquetError,
  type GeoParquetOptions,
  type GeoParquetResult,
  sqliteToGeoParquet,
} from "./geoparquet.ts";
export {
  createScratch,
  GdalError,
  type GdalOps,
  type GdalScratch,
  gdalWasmDir,
  type VectorInfo,
  type VectorLayerInfo,
  withScratch,
} from "./gdal.ts";
