/**
 * The one definition of the spatial batches partitioning: one dynamic
 * partition per committed batch id. The assets partition by it and the
 * manifest sensor (and `deno task cli register-batch`) add keys to it by its
 * `name`, so the name is spelled here only.
 *
 * @module
 */

import { type DynamicPartitions, dynamicPartitions } from "../../core/partitions.ts";

/** The dynamic partitions of spatial batches, one per batch id. */
export const spatialBatches: DynamicPartitions = dynamicPartitions("spatial_batches");

/**
 * The `spatial_batches` partitioning with `initialBatches` registered up
 * front (the quick start's shipped sample batch).
 */
export function batchPartitions(initialBatches: readonly string[] = []): DynamicPartitions {
  return initialBatches.length > 0
    ? dynamicPartitions(spatialBatches.name, { initialKeys: initialBatches })
    : spatialBatches;
}
