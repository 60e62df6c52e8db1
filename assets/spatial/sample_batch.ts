/**
 * `spatial/sample_batch`: the quick start's spatial input. Copies the
 * synthetic batch in `sample_data/spatial/` (files, then the manifest, in the
 * order a user commits them) into the landing zone, so the manifest sensor
 * and the spatial assets have a batch to process on a fresh machine.
 *
 * Idempotent: nothing is copied when the batch's manifest is already
 * committed or archived, and a landing file that was not written by this
 * asset (no `origin: sample_data` metadata) is never overwritten.
 *
 * @module
 */

import { asset } from "../_define.ts";
import { filesIn, type SeedFile, seedLanding } from "../_seed_landing.ts";
import { ARCHIVE_PREFIX, manifestKeyOf } from "./manifest.ts";

/** Key of the asset. */
export const SAMPLE_BATCH_KEY = "spatial/sample_batch";

/** Batch id of the shipped sample. */
export const SAMPLE_BATCH_ID = "montana-sample";

/** Folder of the shipped sample (`<batch>/` files and `manifests/`). */
export const SAMPLE_SPATIAL_DIR: URL = new URL("../../sample_data/spatial/", import.meta.url);

/** Options of {@linkcode sampleBatchAsset}. */
export interface SampleBatchOptions {
  /** @default {SAMPLE_SPATIAL_DIR} */
  dir?: URL;
  /** @default {SAMPLE_BATCH_ID} */
  batchId?: string;
}

/** Builds the `spatial/sample_batch` asset. */
export function sampleBatchAsset(options: SampleBatchOptions = {}) {
  const dir = options.dir ?? SAMPLE_SPATIAL_DIR;
  const batchId = options.batchId ?? SAMPLE_BATCH_ID;
  return asset({
    key: SAMPLE_BATCH_KEY,
    group: "spatial",
    tags: ["sample"],
    description: `Copies the synthetic spatial batch '${batchId}' of sample_data/spatial/ into ` +
      "the landing zone (quick start; only when SAMPLE_DATA is on)",
    resources: ["config", "lake"],
    codeVersion: "1",
    materialize: async (ctx) => {
      const { config, lake } = ctx.resources;
      const bucket = config.LANDING_BUCKET;
      const manifestKey = manifestKeyOf(batchId);
      const archived = `${ARCHIVE_PREFIX}${batchId}/manifest.json`;
      if (await lake.head(bucket, manifestKey) || await lake.head(bucket, archived)) {
        ctx.log.info(`batch '${batchId}' is already committed or archived; nothing copied`);
        return { batch_id: batchId, copied: 0, skipped: true };
      }
      const batchDir = new URL(`${batchId}/`, dir);
      const files: SeedFile[] = (await filesIn(batchDir)).map((name) => ({
        key: `${batchId}/${name}`,
        source: new URL(name, batchDir),
      }));
      // The manifest goes last: committing it is what tells the sensor the batch is complete.
      files.push({
        key: manifestKey,
        source: new URL(`manifests/${batchId}.json`, dir),
        contentType: "application/json",
      });
      const seeded = await seedLanding(lake, bucket, files, ctx.log);
      const written = [...seeded.copied, ...seeded.unchanged];
      ctx.log.info(
        `copied sample batch '${batchId}' (${seeded.copied.length} objects) to ${bucket}`,
      );
      return {
        batch_id: batchId,
        copied: written.length,
        skipped: false,
        keys: written,
        sample_data: `spatial batch '${batchId}' (sample_data/spatial)`,
      };
    },
  });
}
