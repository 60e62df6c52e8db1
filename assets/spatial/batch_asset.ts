/**
 * `batchAsset()`: the one wrapper of the assets that process a spatial batch
 * partition (`spatial/vector_geoparquet`, `spatial/raster_cog`). It checks
 * the partition, hands the batch's resources and settings to the asset's
 * `process` function, logs each output, and turns the outputs into the
 * materialization metadata the checks read (`outputs[].key`, `ledger_id`).
 *
 * It also makes every failure of a batch end in one known state:
 *
 * - a problem with the batch's content (a file GDAL cannot read, with GDAL's
 *   own message; a wrong format or CRS; invalid geometries) rolls back what
 *   this run published for the batch and quarantines it: the manifest moves
 *   to `quarantine/<batch>.json` beside `<batch>.error.json` naming the
 *   user's file and the reason;
 * - files whose only problem is a codec or driver the wasm build lacks are
 *   not at fault: what this run published is rolled back and the run fails
 *   with `spatial.codec_missing` (each file, its codec, the remedy: the
 *   native engine), leaving the whole batch pending in the landing zone, so
 *   that a re-run on native GDAL publishes it as committed;
 * - any other failure (the lake or ledger unreachable, a crash) leaves the
 *   batch pending: re-running it is safe and completes it.
 *
 * @module
 */

import { type Clock, systemClock } from "../../core/clock.ts";
import { asDiskFull, type PlatformError } from "../../core/errors.ts";
import { GeoParquetError } from "../../formats/geoparquet_errors.ts";
import { GdalError } from "../../resources/spatial/gdal.ts";
import {
  archivedManifestKey,
  checkBatchContent,
  loadBatch,
  type LoadedBatch,
  SpatialBatchError,
  type StagedFile,
} from "./_batch.ts";
import {
  type ManifestFile,
  manifestKeyOf,
  type ManifestProblem,
  quarantineManifest,
} from "./manifest.ts";
import type { CheckSpec } from "../../core/asset.ts";
import type { Metadata } from "../../core/metadata.ts";
import type { AppResources } from "../../resources/app.ts";
import type { Ledger } from "../../resources/ledger/types.ts";
import type { LedgerDocument } from "../../resources/ledger/schema.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import type { SpatialEngine } from "../../resources/spatial/engine.ts";
import type { GdalEngine, GdalScratch } from "../../resources/spatial/gdal.ts";
import { asset } from "../_define.ts";
import { batchPartitions } from "./partitions.ts";
import { clearPendingForNative, notePendingForNative } from "./pending.ts";
import { Timings } from "./_timings.ts";

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
  /**
   * Where the time per phase is added up (`timings_ms` in the metadata).
   *
   * @default {a new one, not reported}
   */
  timings?: Timings;
}

/** A batch's files of one type, staged and checked, as {@linkcode withStagedBatch} hands them over. */
export interface StagedBatch<T extends ManifestFile["type"]> {
  /** The batch's manifest and where it was read from. */
  batch: LoadedBatch;
  /** The manifest's files of the type, in manifest order. */
  files: (ManifestFile & { type: T })[];
  /** The GDAL scratch folder the files are staged in (removed when the work ends). */
  scratch: GdalScratch;
  /** Each file's staging and checks, by manifest path. */
  staged: Map<string, StagedFile>;
  /** Where the time per phase is added up (the run's, or a new one). */
  timings: Timings;
}

/**
 * How every batch asset starts: loads the batch (quarantining an invalid
 * manifest), and when it has files of `type`, stages and checks them
 * (format, CRS; all problems at once) in a GDAL scratch folder that lives
 * while `work` runs. A batch without such files has nothing to do here
 * (a raster-only batch in the vector asset): `[]`, no scratch made.
 */
export async function withStagedBatch<T extends ManifestFile["type"], O>(
  run: BatchRun,
  type: T,
  work: (staged: StagedBatch<T>) => Promise<O[]>,
): Promise<O[]> {
  const batch = await loadBatch(run.lake, run.landingBucket, run.batchId, run.runId);
  const files = batch.manifest.files.filter((f): f is ManifestFile & { type: T } =>
    f.type === type
  );
  if (files.length === 0) return [];
  await using scratch = await run.gdal.createScratch();
  const timings = run.timings ?? new Timings();
  try {
    const staged = await checkBatchContent(
      run.lake,
      run.landingBucket,
      batch,
      scratch,
      type,
      timings,
    );
    return await work({ batch, files, scratch, staged, timings });
  } catch (error) {
    // The lake, the ledger and the warehouse name themselves when full; a bare
    // ENOSPC here is the scratch folder's, in TMPDIR.
    throw asDiskFull(
      error,
      `the spatial scratch folder '${scratch.hostDir}' (in TMPDIR) for batch '${run.batchId}'`,
      scratch.hostDir,
    );
  }
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
  /** The writer and check modules `process` imports on first use, loaded while the resources open. */
  preload?: () => Promise<unknown>;
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
    ...(spec.preload ? { preload: spec.preload } : {}),
    materialize: async (ctx): Promise<Metadata> => {
      const { config, lake, ledger, gdal, spatial } = ctx.resources;
      if (ctx.partitionKey === undefined) {
        throw new RangeError(`${spec.key} needs a batch partition (--partition <batch_id>)`);
      }
      const run: BatchRun = {
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
        timings: new Timings(),
      };
      let outputs: O[];
      try {
        outputs = await spec.process(run);
      } catch (error) {
        if (!isContentProblem(error)) throw error;
        if (onlyMissingCodecs(error)) {
          await rollbackBatch(run);
          const manifest = await lake.head(config.LANDING_BUCKET, manifestKeyOf(ctx.partitionKey));
          if (manifest !== undefined) {
            await notePendingForNative(lake, config.LANDING_BUCKET, {
              batch_id: ctx.partitionKey,
              manifest_etag: manifest.etag,
              run_id: ctx.runId,
              problems: error instanceof SpatialBatchError && error.problems.length > 0
                ? error.problems.map((p) => ({
                  message: p.message,
                  ...(p.file ? { file: p.file } : {}),
                }))
                : [{ message: error.message }],
            }, ctx.clock);
          }
          throw new SpatialBatchError(
            "spatial.codec_missing",
            `${error.message} The batch was not quarantined: its files stay in the landing ` +
              "zone, and a run on the native engine publishes them (the manifest sensor " +
              "starts it as soon as a daemon with native GDAL runs).",
            {
              input: `${config.LANDING_BUCKET}/${manifestKeyOf(ctx.partitionKey)}`,
              cause: error,
              problems: error instanceof SpatialBatchError ? error.problems : [],
            },
          );
        }
        const report = await quarantineBatch(run, error);
        throw new SpatialBatchError(
          "spatial.batch_quarantined",
          `${error.message}${
            report ? ` The batch was quarantined; read '${config.LANDING_BUCKET}/${report}'.` : ""
          }`,
          { input: `${config.LANDING_BUCKET}/${manifestKeyOf(ctx.partitionKey)}`, cause: error },
        );
      }
      for (const output of outputs) ctx.log.info(spec.describe(output));
      return {
        batch_id: ctx.partitionKey,
        gdal_engine: gdal.kind,
        outputs: outputs.map((o) => ({ key: o.key, ledger_id: o.docId, ...spec.summarize(o) })),
        files: outputs.length,
        ...(spec.totals?.(outputs) ?? {}),
        timings_ms: run.timings?.toJSON() ?? {},
      };
    },
  });
}

/** Whether every problem of `error` is a codec or driver this GDAL build lacks. */
function onlyMissingCodecs(error: PlatformError): boolean {
  if (error instanceof GdalError) return error.code === "spatial.codec_missing";
  return error instanceof SpatialBatchError && error.problems.length > 0 &&
    error.problems.every((p) => p.code === "codec_missing");
}

/**
 * GDAL failures that are the platform's, not the file's: the native GDAL
 * vanished, or its host process was killed from outside (out of memory).
 * A batch failing so stays pending for a re-run instead of being quarantined.
 */
const PLATFORM_GDAL_CODES = new Set(["spatial.native_gdal_missing", "spatial.gdal_host_died"]);

/** Whether `error` is about the batch's content (quarantine) rather than the platform (retry). */
export function isContentProblem(error: unknown): error is PlatformError {
  return error instanceof SpatialBatchError ||
    (error instanceof GdalError && !PLATFORM_GDAL_CODES.has(error.code)) ||
    (error instanceof GeoParquetError);
}

/**
 * Removes what run `run.runId` published for the batch (objects it created
 * and their ledger documents; objects an earlier run made with the same
 * content keep their older documents and stay), and what earlier attempts at
 * the batch's current commit left (a run killed or failed on a platform fault
 * before the archive, then relaunched or retried): every document of the
 * batch recorded after its last archive, or ever when it was never archived.
 * So a quarantined batch leaves nothing half-published, while the outputs of
 * an earlier, archived commit of the batch stay. Returns the keys removed.
 */
export async function rollbackBatch(
  run: Pick<BatchRun, "lake" | "ledger" | "landingBucket" | "batchId" | "runId">,
): Promise<string[]> {
  const archived = await run.lake.head(run.landingBucket, archivedManifestKey(run.batchId));
  const since = archived?.lastModified.getTime() ?? Number.NEGATIVE_INFINITY;
  const docs = new Map<string, LedgerDocument>();
  for (const doc of await run.ledger.findByRun(run.runId)) {
    if (doc.batch_id === run.batchId) docs.set(doc.id, doc);
  }
  for (const doc of await run.ledger.findByBatch(run.batchId)) {
    if (Date.parse(doc.created_at) > since) docs.set(doc.id, doc);
  }
  const removed: string[] = [];
  for (const doc of docs.values()) {
    const head = await run.lake.head(doc.bucket, doc.key);
    if (head?.metadata.mongodb_doc_id === doc.id) await run.lake.delete(doc.bucket, doc.key);
    await run.ledger.delete(doc.id);
    removed.push(doc.key);
  }
  return removed;
}

/**
 * Rolls back and quarantines the batch after a content problem. A batch
 * already set aside (its manifest no longer committed: quarantined by the
 * manifest check, or archived after an earlier success) is left as it is.
 * Returns the report key, or `undefined` when nothing was quarantined.
 */
async function quarantineBatch(run: BatchRun, error: PlatformError): Promise<string | undefined> {
  const removed = await rollbackBatch(run);
  await clearPendingForNative(run.lake, run.landingBucket, run.batchId);
  const manifestKey = manifestKeyOf(run.batchId);
  if (await run.lake.head(run.landingBucket, manifestKey) === undefined) return undefined;
  const problems: ManifestProblem[] = error instanceof SpatialBatchError &&
      error.problems.length > 0
    ? [...error.problems]
    : [{
      code: error instanceof GdalError && error.code === "spatial.codec_missing"
        ? "codec_missing"
        : "processing_failed",
      message: error.message,
      ...(error.input ? { file: error.input } : {}),
    }];
  if (removed.length > 0) {
    problems.push({
      code: "processing_failed",
      message: `Rolled back what this run had published for the batch: ${removed.join(", ")}.`,
    });
  }
  const { reportKey } = await quarantineManifest(
    run.lake,
    run.landingBucket,
    manifestKey,
    problems,
    {
      runId: run.runId,
      clock: run.clock ?? systemClock,
    },
  );
  return reportKey;
}
