/**
 * The one definition of the spatial batches partitioning: one dynamic
 * partition per committed batch id. The assets partition by it and the
 * manifest sensor adds keys to it by its `name`, so the name is spelled here
 * only.
 *
 * A batch can also be run before any sensor saw it: `deno task materialize
 * group:spatial --partition <batch>` asks the partitioning's registrar, which
 * admits a batch whose manifest is committed and valid (or already
 * archived: re-running a finished batch is safe) and refuses anything else
 * with the manifest's problems.
 *
 * @module
 */

import {
  type DynamicPartitions,
  dynamicPartitions,
  type PartitionRegistrar,
} from "../../core/partitions.ts";
import type { AppResources } from "../../resources/app.ts";
import { ARCHIVE_PREFIX, manifestKeyOf, QUARANTINE_PREFIX, validateManifest } from "./manifest.ts";

/** How a committed batch becomes a partition, said when a run names an unknown batch. */
export const REGISTER_HINT = "a batch becomes a partition once its manifest is validated: commit " +
  "landing-zone/manifests/<batch>.json, then name it with --partition (the batch is registered " +
  "then), run `deno task sensor --once`, or keep `deno task sensor` running";

/**
 * Admits a batch whose manifest is committed and valid, or archived by an
 * earlier run; the reason otherwise names the manifest and its problems.
 */
export const batchRegistrar: PartitionRegistrar = {
  resources: ["config", "lake"],
  async admit(batchId, ctx) {
    const { config, lake } = ctx.resources as Pick<AppResources, "config" | "lake">;
    const bucket = config.LANDING_BUCKET;
    const committed = manifestKeyOf(batchId);
    const validation = await validateManifest(lake, bucket, committed, {
      alternateKey: (key) => `${ARCHIVE_PREFIX}${key}`,
    });
    if (validation.ok) return true;
    const problems = validation.problems;
    if (problems.every((p) => p.code === "manifest_missing")) {
      if (await lake.head(bucket, `${ARCHIVE_PREFIX}${batchId}/manifest.json`) !== undefined) {
        return true;
      }
      const report = `${QUARANTINE_PREFIX}${batchId}.error.json`;
      if (await lake.head(bucket, report) !== undefined) {
        return `batch '${batchId}' was quarantined; read '${bucket}/${report}', fix the files ` +
          `and commit the manifest again as '${bucket}/${committed}'`;
      }
      return `there is no manifest at '${bucket}/${committed}' (nor an archived one); upload ` +
        `the batch's files to '${bucket}/${batchId}/', then commit its manifest there`;
    }
    return `its manifest '${bucket}/${committed}' is not valid: ` +
      problems.map((p) => p.message).join(" ");
  },
};

/** The dynamic partitions of spatial batches, one per batch id. */
export const spatialBatches: DynamicPartitions = dynamicPartitions("spatial_batches", {
  registerHint: REGISTER_HINT,
  register: batchRegistrar,
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
      register: batchRegistrar,
    })
    : spatialBatches;
}
