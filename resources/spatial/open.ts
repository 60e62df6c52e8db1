/**
 * Picks the {@linkcode SpatialEngine} that `SPATIAL_URL` names.
 *
 * @module
 */

import type { SpatialEngine } from "./engine.ts";
import { PostgisEngine, type PostgisEngineOptions } from "./postgis.ts";
import { SpatialiteEngine } from "./spatialite.ts";

/**
 * Opens the engine of `url`: `spatialite:` (embedded, the default) or
 * `postgres://...` / `postgresql://...` (PostGIS, janitor run at open).
 *
 * @throws {RangeError} for any other scheme.
 */
export async function openSpatialEngine(
  url: string,
  options: PostgisEngineOptions = {},
): Promise<SpatialEngine> {
  if (url.startsWith("spatialite:")) return new SpatialiteEngine();
  if (url.startsWith("postgres:") || url.startsWith("postgresql:")) {
    return await PostgisEngine.open(url, options);
  }
  throw new RangeError(
    `SPATIAL_URL must start with 'spatialite:' or 'postgres://', got '${url.split(":")[0]}:'`,
  );
}
