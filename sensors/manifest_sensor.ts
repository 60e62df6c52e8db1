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
 * manifest whose content already has a run (`ctx.latestRun`, from any
 * daemon) is not even validated again — its batch may be being archived.
 *
 * **A batch is never stranded.** A manifest still in the landing zone after
 * its run ended without success (canceled when its daemon stopped, failed on
 * a platform fault such as a GDAL host killed or a server gone: content
 * problems quarantine the batch, which moves the manifest) gets a new
 * attempt, run key `<batch_id>:<etag>:attempt-<n>`: every daemon computes the
 * same next key, so the run key claim lets exactly one of them launch it, and
 * only once the previous attempt has ended. A run canceled by its daemon's
 * shutdown is retried at once; a failed one, or one its own process stopped
 * (its heartbeat could not be recorded: a run store outage), after
 * `retryDelayMs`, doubling per attempt up to `maxRetryDelayMs`, the time of
 * the next attempt said once in the log (a batch that keeps killing its process
 * does not take the daemon down in a loop). Not retried: a run canceled on a
 * person's request (`RunStore.requestCancel`: the UI, `cancel`), and a lost
 * run while the daemon decides about relaunching it (tag `owner_lost=pending`).
 *
 * **A batch waiting for native GDAL runs as soon as it can.** A run that
 * failed only on codecs gdal3.js lacks leaves a note (`assets/spatial/
 * pending.ts`): a daemon on gdal3.js does not retry it (saying once what to
 * install), a daemon on native GDAL requests its next attempt at once.
 *
 * @module
 */

import { z } from "zod";
import { SaidOnce } from "./_said_once.ts";
import { ResourceError, toError } from "../core/errors.ts";
import {
  type RunRequest,
  type SensorContext,
  type SensorDefinition,
  sensorFactory,
} from "../core/sensor.ts";
import { OWNER_LOST_TAG, type RunRecord } from "../core/run_store/types.ts";
import { sensorRetryDelay } from "../core/sensor_retry.ts";
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
import { pendingForNative } from "../assets/spatial/pending.ts";

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
  /**
   * Wait after a failed attempt before the next one, in milliseconds; doubled
   * per further attempt (a run canceled by its daemon's shutdown is retried
   * at once).
   * @default {30000}
   */
  readonly retryDelayMs?: number;
  /**
   * Longest wait between two attempts, in milliseconds.
   * @default {3600000}
   */
  readonly maxRetryDelayMs?: number;
  /**
   * How long a manifest whose only problem is files not there yet (a
   * `missing_file` or `missing_sidecar`) waits for them, in milliseconds
   * from its commit, before it is quarantined naming them: uploaders often
   * commit the manifest while the last files are still on their way. At most
   * half of `lookbackMs`, so a waiting manifest is never lost behind the
   * watermark.
   * @default {MANIFEST_FILE_WAIT_MS of the configuration (300000)}
   */
  readonly missingFileWaitMs?: number;
}

/** The problems that may go away on their own: files still being uploaded. */
const NOT_ARRIVED: ReadonlySet<ManifestProblem["code"]> = new Set([
  "missing_file",
  "missing_sidecar",
]);

/** The run key of attempt `attempt` (1, 2, ...) of a committed manifest's content. */
export function attemptRunKey(batchId: string, etag: string, attempt: number): string {
  return attempt === 1 ? `${batchId}:${etag}` : `${batchId}:${etag}:attempt-${attempt}`;
}

/** Where the runs of one committed content stand, over its attempts. */
type Attempts =
  /** No attempt has a recorded run: validate the manifest and request attempt 1. */
  | { readonly state: "none" }
  /** The newest attempt is running, succeeded, or waits for a decision: leave it. */
  | { readonly state: "busy"; readonly run: RunRecord }
  /**
   * The newest attempt ended without success; `attempt` is the number of the
   * next one, `runs` the last run of each attempt so far (oldest first).
   */
  | {
    readonly state: "ended";
    readonly run: RunRecord;
    readonly attempt: number;
    readonly runs: readonly RunRecord[];
  };

/** Reads the attempts of `batchId:etag` in order until one has no run. */
async function attemptsOf(
  ctx: Pick<SensorContext, "latestRun">,
  batchId: string,
  etag: string,
): Promise<Attempts> {
  const runs: RunRecord[] = [];
  for (let attempt = 1;; attempt++) {
    const run = await ctx.latestRun(attemptRunKey(batchId, etag, attempt));
    if (run === undefined) {
      const previous = runs.at(-1);
      return previous === undefined
        ? { state: "none" }
        : { state: "ended", run: previous, attempt, runs };
    }
    if (run.status === "running" || run.status === "success") return { state: "busy", run };
    if (run.tags[OWNER_LOST_TAG] === "pending") return { state: "busy", run };
    runs.push(run);
  }
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
  const retryDelayMs = options.retryDelayMs ?? 30_000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 3_600_000;
  // Manifests waiting for their files already said so, once per committed content.
  const toldMissing = new SaidOnce();
  // Runs canceled on request already said why they are left, once per process.
  const toldCanceled = new SaidOnce();
  // Batches waiting for the native engine already said so, once per process.
  const toldWaiting = new SaidOnce();
  // Retries waiting out their backoff already said until when, once per process.
  const toldBackoff = new SaidOnce();
  return sensor({
    name: options.name ?? "spatial_manifests",
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    description: `Spatial batch manifests committed to ${MANIFESTS_PREFIX} in the landing bucket`,
    resources: ["lake", "config", "gdal"],
    async evaluate(ctx) {
      const store = ctx.resources.lake;
      const bucket = ctx.resources.config.LANDING_BUCKET;
      const missingFileWaitMs = Math.min(
        options.missingFileWaitMs ?? ctx.resources.config.MANIFEST_FILE_WAIT_MS ?? 300_000,
        lookbackMs / 2,
      );
      const previous = parseCursor(ctx.cursor, (message) => ctx.log.warn(message));
      const listed = await listManifests(store, bucket, ctx.signal);
      if (listed === undefined) return { skipReason: `bucket '${bucket}' does not exist yet` };
      const fresh = listed.filter((object) => isNew(object, previous, lookbackMs))
        .sort((a, b) =>
          a.lastModified.getTime() - b.lastModified.getTime() || (a.key < b.key ? -1 : 1)
        )
        .slice(0, maxPerTick);
      const runRequests: RunRequest[] = [];

      /** The next attempt of a committed manifest whose last attempt ended unsuccessfully. */
      const retryRequest = async (object: ObjectSummary): Promise<RunRequest | undefined> => {
        const batchId = batchIdFromManifestKey(object.key);
        if (batchId === undefined) return undefined;
        const attempts = await attemptsOf(ctx, batchId, object.etag);
        if (attempts.state !== "ended") return undefined;
        const { run, attempt, runs } = attempts;
        if (run.cancelRequestedAt !== null) {
          if (toldCanceled.first(run.runId)) {
            ctx.log.info(
              `manifest '${object.key}': run ${run.runId} was canceled on request ` +
                `(${run.cancelReason ?? "no reason given"}); not retried — commit the manifest ` +
                "again or materialize the batch to run it",
            );
          }
          return undefined;
        }
        // A batch left pending for the native engine (a codec gdal3.js lacks):
        // pointless on gdal3.js, due at once where native GDAL is.
        const waiting = run.status === "failed"
          ? await pendingForNative(store, bucket, batchId, object.etag)
          : undefined;
        if (waiting !== undefined && ctx.resources.gdal.kind !== "native") {
          if (toldWaiting.first(run.runId)) {
            ctx.log.info(
              `manifest '${object.key}' waits for the native GDAL engine (run ${run.runId}: ` +
                `${waiting.problems.map((p) => p.file ?? p.message).join(", ")} need a codec ` +
                "or driver gdal3.js lacks): install GDAL >= 3.6 (Debian: apt-get install " +
                "gdal-bin) and restart the daemon with GDAL_ENGINE unset or native; it then " +
                "runs at once",
            );
          }
          return undefined;
        }
        const delay = waiting !== undefined
          ? 0
          : sensorRetryDelay(runs, { baseMs: retryDelayMs, maxMs: maxRetryDelayMs });
        const due = (run.finishedAt ?? run.startedAt) + delay;
        if (ctx.clock.now() < due) {
          // Said once per run, so a person sees why the batch waits and until when.
          if (toldBackoff.first(run.runId)) {
            ctx.log.info(
              `manifest '${object.key}': run ${run.runId} ended ${run.status}` +
                `${run.errorSummary ? ` (${run.errorSummary})` : ""}; attempt ${attempt} at ` +
                `${new Date(due).toISOString()} (backoff ${Math.round(delay / 1000)} s)`,
            );
          }
          return undefined;
        }
        // The listing may predate the run's end: the run may have archived or
        // quarantined the batch meanwhile.
        const head = await store.head(bucket, object.key);
        if (head?.etag !== object.etag) return undefined;
        const runKey = attemptRunKey(batchId, object.etag, attempt);
        ctx.log.info(
          `manifest '${object.key}': run ${run.runId} ended ${run.status}` +
            `${run.errorSummary ? ` (${run.errorSummary})` : ""}; requesting attempt ${attempt}` +
            (waiting ? " on the native GDAL engine, which it was waiting for" : ""),
        );
        const keep = ["batch_id", "manifest_key", "uploader", "intent"];
        return {
          runKey,
          selection,
          partitions: [batchId],
          tags: {
            ...Object.fromEntries(Object.entries(run.tags).filter(([k]) => keep.includes(k))),
            batch_id: batchId,
            manifest_key: object.key,
            // Not `attempt`: that tag counts the daemon's relaunches of a lost run.
            batch_attempt: String(attempt),
            retry_of: run.runId,
          },
        };
      };

      const handled: ObjectSummary[] = [];
      for (const object of fresh) {
        ctx.signal.throwIfAborted();
        // One manifest's trouble (a store error, a race with another daemon)
        // never fails the tick for the others; it is looked at again next time.
        try {
          const keyBatchId = batchIdFromManifestKey(object.key);
          const attempts = keyBatchId === undefined
            ? { state: "none" as const }
            : await attemptsOf(ctx, keyBatchId, object.etag);
          if (attempts.state !== "none") {
            // This content already has its run (from this or another daemon), which
            // may be archiving the batch right now: validating would race with it.
            ctx.log.info(
              `manifest '${object.key}' already has run ${attempts.run.runId}; not validated again`,
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
            const waited = ctx.clock.now() - object.lastModified.getTime();
            if (missingFileWaitMs > 0 && result.problems.every((p) => NOT_ARRIVED.has(p.code))) {
              if (waited < missingFileWaitMs) {
                // Not handled: the manifest stays new and is validated again next time.
                const seen = `${object.key}\0${object.etag}`;
                if (toldMissing.first(seen)) {
                  ctx.log.info(
                    `manifest '${object.key}' waits for ${
                      result.problems.map((p) => p.file ?? p.message).join(", ")
                    } to arrive; quarantined if still missing at ${
                      new Date(object.lastModified.getTime() + missingFileWaitMs).toISOString()
                    }`,
                  );
                }
                continue;
              }
              result.problems = result.problems.map((p) => ({
                ...p,
                message: `${p.message} (waited ${
                  Math.round(waited / 1000)
                } s after the manifest was committed)`,
              }));
            }
            const moved = await quarantine(store, bucket, object.key, result.problems);
            const batch = result.batchId ?? batchIdFromManifestKey(object.key) ?? object.key;
            // The daemon's log is where an uploader looks first: say what is wrong, not
            // only its code, and where the full report is.
            const report = reportKeyOf(moved);
            ctx.log.warn(
              `quarantined manifest '${object.key}' (batch ${batch}): ` +
                // Each message is a sentence: its full stop before '; ' read '(required).; ...'.
                result.problems.map((p) =>
                  `${p.code}${p.file ? ` (${p.file})` : ""}: ${p.message.replace(/\.$/, "")}`
                ).join("; ") +
                (report ? `; report: ${bucket}/${report}` : ""),
            );
          }
          handled.push(object);
        } catch (error) {
          if (ctx.signal.aborted) throw error;
          ctx.log.warn(
            `could not handle manifest '${object.key}' this time (${
              toError(error).message
            }); it is looked at again at the next evaluation`,
          );
        }
      }
      // Manifests handled before and still committed: a batch whose last attempt ended
      // without success gets the next one.
      const freshKeys = new Set(fresh.map((object) => object.key));
      for (const object of listed) {
        if (freshKeys.has(object.key) || runRequests.length >= maxPerTick) continue;
        ctx.signal.throwIfAborted();
        try {
          const request = await retryRequest(object);
          if (request) runRequests.push(request);
        } catch (error) {
          if (ctx.signal.aborted) throw error;
          ctx.log.warn(
            `could not look at the runs of manifest '${object.key}' this time (${
              toError(error).message
            })`,
          );
        }
      }
      if (fresh.length === 0 && runRequests.length === 0) {
        return { skipReason: `no new manifests in ${bucket}/${MANIFESTS_PREFIX}` };
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
  // 0 when nothing was handled yet (every manifest waiting for its files, or failing this
  // time): -Infinity became `null` in JSON, and the next evaluation warned of a bad cursor.
  const watermark = Math.max(
    0,
    previous?.watermark ?? 0,
    ...handled.map((o) => o.lastModified.getTime()),
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

/** The report's key a quarantine function returned (`quarantineManifest` does), if any. */
function reportKeyOf(moved: unknown): string | undefined {
  if (typeof moved !== "object" || moved === null || !("reportKey" in moved)) return undefined;
  return typeof moved.reportKey === "string" ? moved.reportKey : undefined;
}
