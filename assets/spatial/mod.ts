/**
 * The spatial pipeline: the manifest contract of landing-zone batches, and
 * the assets turning each batch into GeoParquet and Cloud Optimized GeoTIFF
 * in the lake with lineage in the ledger.
 *
 * @example Wire into graph.ts
 * ```ts
 * import { spatialAssets } from "./assets/spatial/mod.ts";
 * // defineGraph({ assets: [...spatialAssets({ samples: config.SAMPLE_DATA })], ... })
 * ```
 *
 * @module
 */

import type { AssetDefinition } from "../../core/mod.ts";
import { rasterCog, rasterCogAsset } from "./raster.ts";
import { SAMPLE_BATCH_ID, SAMPLE_BATCH_KEY, sampleBatchAsset } from "./sample_batch.ts";
import { vectorGeoparquet, vectorGeoparquetAsset } from "./vector.ts";

export * from "./manifest.ts";
export { Intent, INTENT_NAMES } from "./intents.ts";
export { SpatialLedgerMetadata } from "./lineage.ts";
export {
  processVectorBatch,
  spatialBatches,
  vectorGeoparquet,
  type VectorOutput,
} from "./vector.ts";
export { COG_OPTIONS, processRasterBatch, rasterCog, type RasterOutput } from "./raster.ts";
export { SAMPLE_BATCH_ID, SAMPLE_BATCH_KEY, sampleBatchAsset } from "./sample_batch.ts";
export { SpatialBatchError } from "./_batch.ts";
export {
  cogValid,
  geoparquetValid,
  lineageComplete,
  rasterChecks,
  SpatialCheckError,
  vectorChecks,
} from "./checks.ts";

/** Keys of the spatial assets requested for each batch. */
export const SPATIAL_ASSET_KEYS = ["spatial/vector_geoparquet", "spatial/raster_cog"] as const;

/** Options of {@linkcode spatialAssets}. */
export interface SpatialAssetsOptions {
  /**
   * Include `spatial/sample_batch` (seeds the quick start's sample batch).
   *
   * @default {false}
   */
  readonly samples?: boolean;
}

/**
 * The spatial assets; with `samples`, also `spatial/sample_batch` upstream of
 * both, so materialising a batch partition seeds the sample batch first.
 */
export function spatialAssets(options: SpatialAssetsOptions = {}): AssetDefinition[] {
  if (!options.samples) return [vectorGeoparquet, rasterCog];
  const sampled = { deps: [SAMPLE_BATCH_KEY], initialBatches: [SAMPLE_BATCH_ID] };
  return [sampleBatchAsset(), vectorGeoparquetAsset(sampled), rasterCogAsset(sampled)];
}
