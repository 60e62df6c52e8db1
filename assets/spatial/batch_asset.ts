/**
 * `batchAsset()`: the one wrapper of the assets that process a spatial batch
 * partition (`spatial/vector_geoparquet`, `spatial/raster_cog`). It checks
 * the partition, hands the batch's resources and settings to the asset's
 * `process` function, logs each output, and turns the outputs into the
 * materialization metadata the checks read (`outputs[].key`, `ledger_id`).
 *
 * @module
 */

import type { Clock } from "../../core/clock.ts";
import type { CheckSpec } from "../../core/asset.ts";
import type { Metadata } from "../../core/metadata.ts";
import type { AppResources } from "../../resources/mod.ts";
import type { Ledger } from "../../resources/ledger/types.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import type { SpatialEngine } from "../../resources/spatial/engine.ts";
import type { GdalEngine } from "../../resources/spatial/gdal.ts";
import { asset } from "../_define.ts";
import { batchPartitions } from "./partitions.ts";

/** Everything the processing of one batch needs. */
export interface BatchRun {
  /** Object store holding the landing zone and the lake. */
  lake: ObjectStore;
  /** Lineage ledger. */
  ledger: Ledger;
  /** GDAL build reading and writing the files. */
  gdal: GdalEngine;
  /** Where an intent's SQL runs. */
  engine: SpatialEngine;
  /** Bucket of the landing zone. */
  landingBucket: string;
  /** Bucket of the data lake. */
  lakeBucket: string;
  /** CRS vector outputs are reprojected to, e.g. `EPSG:4326`. */
  targetCrs: string;
  /** The batch (partition key). */
  batchId: string;
  /** The run. */
  runId: string;
  /**
   * Asset key recorded in the ledger.
   *
   * @default {the asset's own key}
   */
  assetKey?: string;
  /**
   * Clock of the ISO 19115 `processed_at` and quarantine reports.
   *
   * @default {systemClock}
   */
  clock?: Clock;
}

/** Resources a batch asset declares. */
export type BatchResources = Pick<AppResources, "config" | "lake" | "ledger" | "gdal" | "spatial">;

/** Options shared by the spatial assets' builders. */
export interface SpatialAssetOptions {
  /**
   * Upstream asset keys, e.g. `spatial/sample_batch` so the quick start seeds
   * the landing zone first.
   *
   * @default {[]}
   */
  deps?: readonly string[];
  /**
   * Batches known before any manifest is committed, e.g. the shipped sample
   * batch of the quick start; each run of the asset registers them first.
   *
   * @default {[]}
   */
  initialBatches?: readonly string[];
}

/** What a batch asset is made of. */
export interface BatchAssetSpec<O extends { key: string; docId: string }> {
  /** Asset key, e.g. `spatial/raster_cog`. */
  key: string;
  /** What the asset makes, for listings. */
  description: string;
  /** Checks run on each materialization. */
  checks: readonly CheckSpec<BatchResources>[];
  /** Processes the batch; returns one entry per object written. */
  process(run: BatchRun): Promise<O[]>;
  /** One log line per output. */
  describe(output: O): string;
  /** Extra fields of each `outputs[]` entry of the metadata, beside `key` and `ledger_id`. */
  summarize(output: O): Metadata;
  /** Totals added to the metadata. */
  totals?(outputs: O[]): Metadata;
}

/** Builds an asset processing one spatial batch partition. */
export function batchAsset<O extends { key: string; docId: string }>(
  spec: BatchAssetSpec<O>,
  options: SpatialAssetOptions = {},
) {
  return asset({
    key: spec.key,
    deps: options.deps ?? [],
    group: "spatial",
    partitions: batchPartitions(options.initialBatches),
    description: spec.description,
    resources: ["config", "lake", "ledger", "gdal", "spatial"],
    checks: spec.checks,
    codeVersion: "2",
    materialize: async (ctx): Promise<Metadata> => {
      const { config, lake, ledger, gdal, spatial } = ctx.resources;
      if (ctx.partitionKey === undefined) {
        throw new RangeError(`${spec.key} needs a batch partition (--partition <batch_id>)`);
      }
      const outputs = await spec.process({
        lake,
        ledger,
        gdal,
        engine: spatial,
        landingBucket: config.LANDING_BUCKET,
        lakeBucket: config.LAKE_BUCKET,
        targetCrs: config.TARGET_CRS,
        batchId: ctx.partitionKey,
        runId: ctx.runId,
        assetKey: spec.key,
        clock: ctx.clock,
      });
      for (const output of outputs) ctx.log.info(spec.describe(output));
      return {
        batch_id: ctx.partitionKey,
        gdal_engine: gdal.kind,
        outputs: outputs.map((o) => ({ key: o.key, ledger_id: o.docId, ...spec.summarize(o) })),
        files: outputs.length,
        ...(spec.totals?.(outputs) ?? {}),
      };
    },
  });
}
