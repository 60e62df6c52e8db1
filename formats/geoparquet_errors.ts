/**
 * The GeoParquet errors, in a module of their own so that code which only
 * tells them apart (`instanceof`) does not load the Parquet libraries
 * (apache-arrow, parquet-wasm, hyparquet: ~0.3 s of start-up).
 *
 * @module
 */

import { PlatformError } from "../core/errors.ts";

/** The source table cannot be turned into GeoParquet (`geoparquet.ts`). */
export class GeoParquetError extends PlatformError {}

/** A file is not GeoParquet, or cannot be decoded (`geoparquet_read.ts`). */
export class GeoParquetReadError extends PlatformError {}
