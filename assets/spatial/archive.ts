/**
 * `spatial/batch_archive`: the one finalizing step of a batch. It runs only
 * after every asset of the batch (`spatial/vector_geoparquet`,
 * `spatial/raster_cog`) succeeded with its blocking checks, and only then
 * moves the batch's landing files, then its manifest, to `archive/<batch>/`.
 * No asset archives on its own, so no asset can lose a file another asset of
 * the same batch is still reading.
 *
 * Then it brings the lake's STAC catalogue up to date (stac.ts).
 *
 * Safe to repeat and to resume after a crash: files already archived are
 * skipped, and the manifest moves last, so a batch whose manifest is still
 * committed is never "done"; the catalogue is rebuilt from the ledger.
 *
 * @module
 */

import type { Metadata } from "../../core/metadata.ts";
import { asset } from "../_define.ts";
import { archiveFiles, loadBatch } from "./_batch.ts";
import type { SpatialAssetOptions } from "./batch_asset.ts";
import { batchPartitions } from "./partitions.ts";
import { updateStac } from "./stac.ts";
import { clearPendingForNative } from "./pending.ts";

/** Key of the finalizing asset. */
export const BATCH_ARCHIVE_KEY = "spatial/batch_archive";

/** Builds `spatial/batch_archive`, downstream of every asset processing the batch. */
export function batchArchiveAsset(
  processing: readonly string[],
  options: SpatialAssetOptions = {},
) {
  return asset({
    key: BATCH_ARCHIVE_KEY,
    deps: processing,
    group: "spatial",
    partitions: batchPartitions(options.initialBatches),
    description: "Archives a batch's landing files and manifest once every asset of it succeeded",
    resources: ["config", "lake", "ledger"],
    codeVersion: "1",
    materialize: async (ctx): Promise<Metadata> => {
      const { config, lake, ledger } = ctx.resources;
      if (ctx.partitionKey === undefined) {
        throw new RangeError(`${BATCH_ARCHIVE_KEY} needs a batch partition`);
      }
      const batch = await loadBatch(lake, config.LANDING_BUCKET, ctx.partitionKey, ctx.runId);
      const moved = await archiveFiles(lake, config.LANDING_BUCKET, batch, batch.manifest.files);
      // Published at last: no longer waiting for the native engine (see pending.ts).
      await clearPendingForNative(lake, config.LANDING_BUCKET, ctx.partitionKey);
      ctx.log.info(
        moved.length > 0
          ? `archived ${moved.length} object(s) of batch '${ctx.partitionKey}'`
          : `batch '${ctx.partitionKey}' was already archived`,
      );
      const items = await updateStac({
        lake,
        ledger,
        lakeBucket: config.LAKE_BUCKET,
        project: batch.manifest.metadata.project,
        batchId: ctx.partitionKey,
        runId: ctx.runId,
      });
      ctx.log.info(
        `STAC catalogue updated: ${items.length} item(s) of batch '${ctx.partitionKey}'`,
      );
      return {
        batch_id: ctx.partitionKey,
        archived: moved.length,
        keys: moved,
        stac_items: items,
      };
    },
  });
}
