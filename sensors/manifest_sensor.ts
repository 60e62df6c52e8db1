/**
 * The manifest sensor: watches `manifests/` in the landing bucket and, for
 * each manifest committed (or re-committed with new content) since its
 * cursor, validates it. A valid one opens the batch as a `spatial_batches`
 * dynamic partition and requests the spatial assets for it, with run key
 * `<batch_id>:<etag>` so each committed content runs exactly once; a bad one
 * is moved to `quarantine/` beside its error report, and the other manifests
 * go on.
 *
 * The cursor is JSON: a watermark (the newest `lastModified` handled) and the
 * key and etag of every manifest handled within `lookbackMs` of it. A manifest
 * is new when it is newer than that window, or inside it with a key/etag pair
 * not yet handled, so a manifest that becomes visible late with an older
 * timestamp (S3 stamps the upload's start) is still seen. Re-evaluating the
 * same manifest is harmless: its run key was claimed the first time, and a
 * manifest whose content already has a run (`ctx.launchedRun`, from any
 * daemon) is not even validated again — its batch may be being archived.
 *
 * @module
 */

import { z } from "zod";
import { ResourceError } from "../core/errors.ts";
import { type RunRequest, type SensorDefinition, sensorFactory } from "../core/sensor.ts";
import type { AppResources } from "../resources/app.ts";
import type { ObjectStore, ObjectSummary } from "../resources/object_store/types.ts";
import {
  ARCHIVE_PREFIX,
  batchIdFromManifestKey,
  type ManifestProblem,
  MANIFESTS_PREFIX,
  type ManifestValidation,
  quarantineManifest,
  validateManifest,
} from "../assets/spatial/manifest.ts";
import { spatialBatches } from "../assets/spatial/partitions.ts";

/** Name of the dynamic partitioning holding one key per spatial batch. */
export const SPATIAL_BATCHES: string = spatialBatches.name;

/** Checks a committed manifest (the real one reads the landing zone). */
export type ValidateManifest = (
  store: ObjectStore,
  bucket: string,
  manifestKey: string,
) => Promise<ManifestValidation>;

/**
 * The default validation: files may already be archived (a batch another
 * daemon is finishing validates the same as before), so it never quarantines
 * a batch that is being completed.
 */
const validateCommitted: ValidateManifest = (store, bucket, manifestKey) =>
  validateManifest(store, bucket, manifestKey, {
    alternateKey: (key) => `${ARCHIVE_PREFIX}${key}`,
  });

/** Sets a bad manifest aside with its problems. */
export type QuarantineManifest = (
  store: ObjectStore,
  bucket: string,
  manifestKey: string,
  problems: readonly ManifestProblem[],
) => Promise<unknown>;

/** Options of {@linkcode manifestSensor}. */
export interface ManifestSensorOptions {
  /**
   * Sensor name (and cursor name in the run store).
   * @default {"spatial_manifests"}
   */
  readonly name?: string;
  /**
   * Least time between two evaluations in milliseconds.
   * @default {the daemon's interval (SENSOR_INTERVAL_MS)}
   */
  readonly intervalMs?: number;
  /**
   * Validation of a manifest.
   * @default {validateManifest from assets/spatial/manifest.ts}
   */
  readonly validate?: ValidateManifest;
  /**
   * What happens to a bad manifest.
   * @default {quarantineManifest from assets/spatial/manifest.ts}
   */
  readonly quarantine?: QuarantineManifest;
  /**
   * Selection requested for each valid batch.
   * @default {"group:spatial"}
   */
  readonly selection?: string;
  /**
   * How far behind the watermark a manifest may show up and still be seen, in
   * milliseconds (clock skew, slow uploads).
   * @default {600000}
   */
  readonly lookbackMs?: number;
  /**
   * Most manifests validated in one evaluation (the rest wait for the next).
   * @default {100}
   */
  readonly maxPerTick?: number;
}

/** The sensor's cursor: the watermark and what was handled near it. */
const ManifestCursor = z.object({
  v: z.literal(1),
  /** Newest `lastModified` handled, in milliseconds since the epoch. */
  watermark: z.number(),
  /** Key -> [etag, lastModified ms] of manifests handled within the lookback window. */
  seen: z.record(z.string(), z.tuple([z.string(), z.number()])),
});

/** The sensor's cursor, as stored (JSON). */
export type ManifestCursor = z.output<typeof ManifestCursor>;

const sensor = sensorFactory<AppResources>();

/**
 * The manifest sensor; options replace its collaborators in tests.
 *
 * @example
 * ```ts
 * import { defineGraph } from "../core/definitions.ts";
 * import { spatialAssets } from "../assets/spatial/mod.ts";
 * import { type AppResources, appResources } from "../resources/app.ts";
 * import { loadConfig } from "../resources/config.ts";
 * import { manifestSensor } from "./manifest_sensor.ts";
 * defineGraph<AppResources>({
 *   assets: spatialAssets(),
 *   resources: appResources(loadConfig()),
 *   sensors: [manifestSensor()],
 * });
 * ```
 */
export function manifestSensor(options: ManifestSensorOptions = {}): SensorDefinition {
  const validate = options.validate ?? validateCommitted;
  const quarantine = options.quarantine ?? quarantineManifest;
  const selection = options.selection ?? "group:spatial";
  const lookbackMs = options.lookbackMs ?? 600_000;
  const maxPerTick = options.maxPerTick ?? 100;
  return sensor({
    name: options.name ?? "spatial_manifests",
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    description: `Spatial batch manifests committed to ${MANIFESTS_PREFIX} in the landing bucket`,
    resources: ["lake", "config"],
    async evaluate(ctx) {
      const store = ctx.resources.lake;
      const bucket = ctx.resources.config.LANDING_BUCKET;
      const previous = parseCursor(ctx.cursor, (message) => ctx.log.warn(message));
      const listed = await listManifests(store, bucket, ctx.signal);
      if (listed === undefined) return { skipReason: `bucket '${bucket}' does not exist yet` };
      const fresh = listed.filter((object) => isNew(object, previous, lookbackMs))
        .sort((a, b) =>
          a.lastModified.getTime() - b.lastModified.getTime() || (a.key < b.key ? -1 : 1)
        )
        .slice(0, maxPerTick);
      if (fresh.length === 0) {
        return { skipReason: `no new manifests in ${bucket}/${MANIFESTS_PREFIX}` };
      }
      const runRequests: RunRequest[] = [];
      const handled: ObjectSummary[] = [];
      for (const object of fresh) {
        ctx.signal.throwIfAborted();
        // One manifest's trouble (a store error, a race with another daemon)
        // never fails the tick for the others; it is looked at again next time.
        try {
          const keyBatchId = batchIdFromManifestKey(object.key);
          const launched = keyBatchId === undefined
            ? undefined
            : await ctx.launchedRun(`${keyBatchId}:${object.etag}`);
          if (launched !== undefined) {
            // This content already has its run (from this or another daemon), which
            // may be archiving the batch right now: validating would race with it.
            ctx.log.info(
              `manifest '${object.key}' already has run ${launched}; not validated again`,
            );
            handled.push(object);
            continue;
          }
          const result = await validate(store, bucket, object.key);
          if (result.ok) {
            const batchId = result.manifest.batch_id;
            runRequests.push({
              runKey: `${batchId}:${result.etag}`,
              selection,
              partitions: [batchId],
              tags: {
                batch_id: batchId,
                manifest_key: object.key,
                uploader: result.manifest.uploader,
                intent: String(result.manifest.intent),
              },
            });
          } else if (result.problems.every((p) => p.code === "manifest_missing")) {
            // Archived or quarantined since it was listed (by a run or another daemon).
            ctx.log.info(`manifest '${object.key}' left the landing zone meanwhile; nothing to do`);
          } else {
            await quarantine(store, bucket, object.key, result.problems);
            const batch = result.batchId ?? batchIdFromManifestKey(object.key) ?? object.key;
            ctx.log.warn(
              `quarantined manifest '${object.key}' (batch ${batch}): ` +
                result.problems.map((p) => `${p.code}${p.file ? ` (${p.file})` : ""}`).join(", "),
            );
          }
          handled.push(object);
        } catch (error) {
          if (ctx.signal.aborted) throw error;
          ctx.log.warn(
            `could not handle manifest '${object.key}' this time (${
              error instanceof Error ? error.message : String(error)
            }); it is looked at again at the next evaluation`,
          );
        }
      }
      const batches = [...new Set(runRequests.map((request) => request.partitions?.[0] ?? ""))];
      return {
        runRequests,
        cursor: JSON.stringify(nextCursor(previous, handled, lookbackMs)),
        ...(batches.length
          ? { dynamicPartitions: [{ name: SPATIAL_BATCHES, keys: batches }] }
          : {}),
      };
    },
  });
}

/** Every `.json` object directly under `manifests/`, or `undefined` when the bucket is missing. */
async function listManifests(
  store: ObjectStore,
  bucket: string,
  signal: AbortSignal,
): Promise<ObjectSummary[] | undefined> {
  const found: ObjectSummary[] = [];
  try {
    for await (const object of store.listAll(bucket, { prefix: MANIFESTS_PREFIX })) {
      signal.throwIfAborted();
      const name = object.key.slice(MANIFESTS_PREFIX.length);
      if (name.endsWith(".json") && !name.includes("/")) found.push(object);
    }
  } catch (error) {
    if (error instanceof ResourceError && error.code === "object_store.bucket_not_found") {
      return undefined;
    }
    throw error;
  }
  return found;
}

function isNew(
  object: ObjectSummary,
  cursor: ManifestCursor | undefined,
  lookbackMs: number,
): boolean {
  if (!cursor) return true;
  const modified = object.lastModified.getTime();
  if (modified <= cursor.watermark - lookbackMs) return false;
  return cursor.seen[object.key]?.[0] !== object.etag;
}

function nextCursor(
  previous: ManifestCursor | undefined,
  handled: readonly ObjectSummary[],
  lookbackMs: number,
): ManifestCursor {
  const watermark = Math.max(
    previous?.watermark ?? Number.NEGATIVE_INFINITY,
    ...handled.map((object) => object.lastModified.getTime()),
  );
  const seen: ManifestCursor["seen"] = {};
  const entries: [string, [string, number]][] = [
    ...Object.entries(previous?.seen ?? {}),
    ...handled.map((o): [string, [string, number]] => [o.key, [o.etag, o.lastModified.getTime()]]),
  ];
  for (const [key, [etag, modified]] of entries) {
    if (modified > watermark - lookbackMs) seen[key] = [etag, modified];
  }
  return { v: 1, watermark, seen };
}

function parseCursor(
  text: string | undefined,
  warn: (message: string) => void,
): ManifestCursor | undefined {
  if (text === undefined) return undefined;
  try {
    return ManifestCursor.parse(JSON.parse(text));
  } catch (error) {
    // Starting over is safe: run keys already claimed are not launched again.
    warn(
      `cursor is unreadable (${error instanceof Error ? error.message : error}); ` +
        "looking at every manifest again",
    );
    return undefined;
  }
}
