/**
 * The spatial pipeline: the manifest contract of landing-zone batches, and
 * the assets turning each batch into GeoParquet and Cloud Optimized GeoTIFF
 * in the lake with lineage in the ledger, then archiving it.
 *
 * @example Wire into graph.ts
 * ```ts
 * import { spatialAssets } from "./mod.ts";
 * // defineGraph({ assets: [...spatialAssets({ samples: config.SAMPLE_DATA })], ... })
 * ```
 *
 * @module
 */

import type { AssetDefinition } from "../../core/asset.ts";
import { batchArchiveAsset } from "./archive.ts";
import type { SpatialAssetOptions } from "./batch_asset.ts";
import { rasterCogAsset } from "./raster.ts";
import { SAMPLE_BATCH_ID, SAMPLE_BATCH_KEY, sampleBatchAsset } from "./sample_batch.ts";
import { vectorGeoparquetAsset } from "./vector.ts";

export * from "./manifest.ts";
export { Intent, INTENT_NAMES } from "./intents.ts";
export { SpatialLedgerMetadata } from "./lineage.ts";
export { processVectorBatch, vectorGeoparquet, type VectorOutput } from "./vector.ts";
export { COG_OPTIONS, processRasterBatch, rasterCog, type RasterOutput } from "./raster.ts";
export { SAMPLE_BATCH_ID, SAMPLE_BATCH_KEY, sampleBatchAsset } from "./sample_batch.ts";
export { SpatialBatchError } from "./_batch.ts";
export { BATCH_ARCHIVE_KEY, batchArchiveAsset } from "./archive.ts";
export { batchAsset, type BatchRun, type SpatialAssetOptions } from "./batch_asset.ts";
export { batchPartitions, spatialBatches } from "./partitions.ts";
export {
  cogValid,
  geoparquetValid,
  lineageComplete,
  rasterChecks,
  SpatialCheckError,
  vectorChecks,
} from "./checks.ts";

/** Keys of the assets that process a batch (the archive step waits for all of them). */
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
 * The spatial assets: the two processing assets and the archive step after
 * both; with `samples`, also `spatial/sample_batch` upstream of them, so
 * materialising a batch partition seeds the sample batch first.
 */
export function spatialAssets(options: SpatialAssetsOptions = {}): AssetDefinition[] {
  const sampled: SpatialAssetOptions = options.samples
    ? { deps: [SAMPLE_BATCH_KEY], initialBatches: [SAMPLE_BATCH_ID] }
    : {};
  return [
    ...(options.samples ? [sampleBatchAsset()] : []),
    vectorGeoparquetAsset(sampled),
    // After the vectors: a batch whose raster fails rolls back the vectors
    // this run published, which must not still be writing then.
    rasterCogAsset({ ...sampled, deps: [...(sampled.deps ?? []), "spatial/vector_geoparquet"] }),
    batchArchiveAsset(SPATIAL_ASSET_KEYS, sampled),
  ];
}
