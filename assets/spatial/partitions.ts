/**
 * The one definition of the spatial batches partitioning: one dynamic
 * partition per committed batch id. The assets partition by it and the
 * manifest sensor (and `deno task cli register-batch`) add keys to it by its
 * `name`, so the name is spelled here only.
 *
 * @module
 */

import { type DynamicPartitions, dynamicPartitions } from "../../core/partitions.ts";

/** How a committed batch becomes a partition, said when a run names an unknown batch. */
export const REGISTER_HINT = "a batch becomes a partition once its manifest is validated: run " +
  "`deno task sensor --once` (it validates landing-zone/manifests/<batch>.json, registers the " +
  "batch and processes it), or keep `deno task sensor` running";

/** The dynamic partitions of spatial batches, one per batch id. */
export const spatialBatches: DynamicPartitions = dynamicPartitions("spatial_batches", {
  registerHint: REGISTER_HINT,
});

/**
 * The `spatial_batches` partitioning with `initialBatches` registered up
 * front (the quick start's shipped sample batch).
 */
export function batchPartitions(initialBatches: readonly string[] = []): DynamicPartitions {
  return initialBatches.length > 0
    ? dynamicPartitions(spatialBatches.name, {
      initialKeys: initialBatches,
      registerHint: REGISTER_HINT,
    })
    : spatialBatches;
}
