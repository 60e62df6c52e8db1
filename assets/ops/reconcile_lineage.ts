/**
 * The lineage reconciler: makes the ledger and the lake agree again after a
 * crash, and reports what it cannot repair.
 *
 * Writers record the ledger document first and write the object second, so a
 * crash in between leaves a document whose object (or whose version of the
 * object) never landed. Such a document breaks the invariant "a ledger
 * document never points to a missing object" and is removed. Everything else
 * that disagrees is only reported: a content mismatch needs a person (or a
 * re-run of the writing asset), and an object without a document cannot be
 * given lineage the reconciler never saw.
 *
 * @module
 */

import { z } from "zod";
import { CanceledError, ResourceError } from "../../core/errors.ts";
import type { Logger } from "../../core/logger.ts";
import type { LedgerDocument } from "../../resources/ledger/schema.ts";
import type { Ledger } from "../../resources/ledger/types.ts";
import type { ObjectHead, ObjectStore } from "../../resources/object_store/types.ts";
import { objectSha256 } from "./_object_sha.ts";

/** A document the reconciler removed (or would remove, in a dry run). */
const OrphanSample = z.object({
  bucket: z.string(),
  key: z.string(),
  doc_id: z.string(),
  reason: z.enum(["object_missing", "version_never_written"]),
});

/** A current document whose object holds other bytes. */
const MismatchSample = z.object({
  bucket: z.string(),
  key: z.string(),
  doc_id: z.string(),
  ledger_sha256: z.string(),
  object_sha256: z.string(),
});

const count = () => z.int().min(0);

/**
 * What one reconciliation found and did; also the metadata of the
 * `ops/reconcile_lineage` materialization, which its check parses back.
 */
export const ReconcileReport = z.object({
  /** The data-lake bucket whose objects were listed. */
  lake_bucket: z.string(),
  /** Whether orphans were only reported. */
  dry_run: z.boolean(),
  /** Ledger documents read, in every bucket. */
  documents_checked: count(),
  /** Documents updated within the grace period: a writer may still be putting their object. */
  documents_in_flight: count(),
  /** Older versions of a key whose object holds a newer version: kept as history. */
  history_documents: count(),
  /** Documents pointing to an object (or an object version) that does not exist. */
  orphan_documents: count(),
  /** Orphan documents removed from the ledger (0 in a dry run). */
  orphans_removed: count(),
  /** Current documents whose object's SHA-256 differs. */
  mismatches: count(),
  /** Objects listed in the lake bucket. */
  objects_checked: count(),
  /** Objects in the lake bucket that no ledger document names. */
  objects_without_lineage: count(),
  /** The first orphans, capped at `sampleLimit`. */
  orphan_samples: z.array(OrphanSample),
  /** The first mismatches, capped at `sampleLimit`. */
  mismatch_samples: z.array(MismatchSample),
  /** The first keys without lineage, capped at `sampleLimit`. */
  unlineaged_samples: z.array(z.string()),
});

/** See the {@linkcode ReconcileReport} schema. */
export type ReconcileReport = z.output<typeof ReconcileReport>;

/** Options of {@linkcode reconcileLineage}. */
export interface ReconcileOptions {
  /** The data-lake bucket to list for objects without lineage (`config.LAKE_BUCKET`). */
  readonly lakeBucket: string;
  /** Now, in milliseconds since the epoch (the run's clock). */
  readonly now: number;
  /**
   * Documents updated less than this long ago are left alone: their writer
   * may be between its ledger write and its object write, and removing the
   * document then would leave an object without lineage.
   * @default 900000 (15 minutes)
   */
  readonly graceMs?: number;
  /**
   * Documents per ledger page and objects per listing page; memory stays
   * bounded by it, whatever the size of the lake.
   * @default 500
   */
  readonly pageSize?: number;
  /**
   * Most samples of each kind kept in the report.
   * @default 20
   */
  readonly sampleLimit?: number;
  /**
   * Report orphan documents without removing them.
   * @default false
   */
  readonly dryRun?: boolean;
  /** Where each removal and finding is logged. */
  readonly log: Logger;
  /**
   * Stops the walk between two items.
   * @default undefined (never aborted)
   */
  readonly signal?: AbortSignal;
}

/** Default of {@linkcode ReconcileOptions.graceMs}. */
export const DEFAULT_RECONCILE_GRACE_MS = 15 * 60_000;

/**
 * Walks every ledger document and every object of the lake bucket, a page at
 * a time, removes orphan documents and reports what disagrees.
 *
 * For each document (ascending id, every bucket) it heads the object:
 * - missing object: an orphan, removed (the whole document is logged first,
 *   so its lineage stays readable in the run's events);
 * - present, and the document is an older version of the key: history, kept;
 * - present, the document is the key's latest version and the object's
 *   SHA-256 differs: if an older version of the same key has the object's
 *   SHA-256, the latest version never landed (a crash while overwriting) and
 *   its document is an orphan too; otherwise a mismatch, reported only.
 *
 * Then it lists the lake bucket and reports each object no document names.
 *
 * @throws {RangeError} when an option is out of range.
 * @throws {CanceledError} when `signal` aborts.
 *
 * @example
 * ```ts
 * import { createLogger } from "../../core/logger.ts";
 * import { MemoryLedger } from "../../resources/ledger/memory.ts";
 * import { MemoryObjectStore } from "../../resources/object_store/memory.ts";
 * import { reconcileLineage } from "./reconcile_lineage.ts";
 * const lake = new MemoryObjectStore();
 * const ledger = new MemoryLedger();
 * const report = await reconcileLineage({ lake, ledger }, {
 *   lakeBucket: "data-lake",
 *   now: Date.now(),
 *   log: createLogger((line) => console.log(line.message)),
 * });
 * console.log(report.orphans_removed, report.objects_without_lineage);
 * ```
 */
export async function reconcileLineage(
  resources: { readonly lake: ObjectStore; readonly ledger: Ledger },
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  const settings = checkOptions(options);
  const report: ReconcileReport = {
    lake_bucket: options.lakeBucket,
    dry_run: settings.dryRun,
    documents_checked: 0,
    documents_in_flight: 0,
    history_documents: 0,
    orphan_documents: 0,
    orphans_removed: 0,
    mismatches: 0,
    objects_checked: 0,
    objects_without_lineage: 0,
    orphan_samples: [],
    mismatch_samples: [],
    unlineaged_samples: [],
  };
  const walk: Walk = { ...resources, options, settings, report };
  await walkDocuments(walk);
  await walkObjects(walk);
  return report;
}

interface Settings {
  readonly graceMs: number;
  readonly pageSize: number;
  readonly sampleLimit: number;
  readonly dryRun: boolean;
}

interface Walk {
  readonly lake: ObjectStore;
  readonly ledger: Ledger;
  readonly options: ReconcileOptions;
  readonly settings: Settings;
  readonly report: ReconcileReport;
}

/** What a document's object says about the document. */
type Verdict =
  | { readonly kind: "ok" | "in_flight" | "history" }
  | { readonly kind: "orphan"; readonly reason: "object_missing" | "version_never_written" }
  | { readonly kind: "mismatch"; readonly objectSha256: string };

function checkOptions(options: ReconcileOptions): Settings {
  const settings = {
    graceMs: options.graceMs ?? DEFAULT_RECONCILE_GRACE_MS,
    pageSize: options.pageSize ?? 500,
    sampleLimit: options.sampleLimit ?? 20,
    dryRun: options.dryRun ?? false,
  };
  const bounds: [keyof Settings, number, number][] = [
    ["graceMs", 0, Number.MAX_SAFE_INTEGER],
    ["pageSize", 1, 1000],
    ["sampleLimit", 0, 1000],
  ];
  for (const [name, min, max] of bounds) {
    const value = settings[name];
    if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
      throw new RangeError(
        `reconcileLineage: ${name} must be an integer from ${min} to ${max}, got ${value}`,
      );
    }
  }
  return settings;
}

async function walkDocuments(walk: Walk): Promise<void> {
  const { ledger, settings, report } = walk;
  let after: string | undefined;
  for (;;) {
    throwIfAborted(walk.options.signal);
    // Keyset paging by id: removing documents of this page does not move the next one.
    const page = await ledger.scan({
      limit: settings.pageSize,
      ...(after === undefined ? {} : { after }),
    });
    for (const doc of page) {
      throwIfAborted(walk.options.signal);
      report.documents_checked++;
      await settle(walk, doc, await judge(walk, doc));
    }
    if (page.length < settings.pageSize) return;
    after = page.at(-1)?.id;
  }
}

async function judge(walk: Walk, doc: LedgerDocument): Promise<Verdict> {
  if (Date.parse(doc.updated_at) > walk.options.now - walk.settings.graceMs) {
    return { kind: "in_flight" };
  }
  const head = await headOf(walk.lake, doc);
  if (head === undefined) return { kind: "orphan", reason: "object_missing" };
  const latest = await walk.ledger.findByKey(doc.bucket, doc.key);
  if (latest !== undefined && latest.id !== doc.id) return { kind: "history" };
  const objectSha = await objectSha256(walk.lake, { bucket: doc.bucket, key: doc.key, head });
  if (objectSha === undefined) return { kind: "orphan", reason: "object_missing" };
  if (objectSha === doc.sha256) return { kind: "ok" };
  const versions = await walk.ledger.findByHash(objectSha);
  const older = versions.some((other) =>
    other.id !== doc.id && other.bucket === doc.bucket && other.key === doc.key
  );
  return older
    ? { kind: "orphan", reason: "version_never_written" }
    : { kind: "mismatch", objectSha256: objectSha };
}

/** The object's head; `undefined` when it is missing or its key can never exist in a store. */
async function headOf(lake: ObjectStore, doc: LedgerDocument): Promise<ObjectHead | undefined> {
  try {
    return await lake.head(doc.bucket, doc.key);
  } catch (error) {
    // The ledger accepts keys the store refuses (e.g. `a//b`): no object can
    // ever be written there, so the document points to nothing.
    if (error instanceof ResourceError && error.code === "object_store.invalid_key") {
      return undefined;
    }
    throw error;
  }
}

async function settle(walk: Walk, doc: LedgerDocument, verdict: Verdict): Promise<void> {
  const { report, settings, options } = walk;
  const where = `${doc.bucket}/${doc.key}`;
  if (verdict.kind === "in_flight") report.documents_in_flight++;
  else if (verdict.kind === "history") report.history_documents++;
  else if (verdict.kind === "orphan") {
    report.orphan_documents++;
    sample(report.orphan_samples, settings, {
      bucket: doc.bucket,
      key: doc.key,
      doc_id: doc.id,
      reason: verdict.reason,
    });
    const why = verdict.reason === "object_missing"
      ? "the object does not exist"
      : `the object holds an older version, not sha256 ${doc.sha256}`;
    // The whole document goes into the log record, so its lineage stays
    // readable in the run's events after the removal.
    const fields = {
      ...doc,
      content_type: doc.content_type ?? null,
      doc_id: doc.id,
      reason: verdict.reason,
    };
    if (settings.dryRun) {
      options.log.warn(`orphan ledger document ${doc.id} for '${where}': ${why} (dry run)`, fields);
    } else if (await walk.ledger.delete(doc.id)) {
      report.orphans_removed++;
      options.log.warn(`removed ledger document ${doc.id} for '${where}': ${why}`, fields);
    }
  } else if (verdict.kind === "mismatch") {
    report.mismatches++;
    const mismatch = {
      bucket: doc.bucket,
      key: doc.key,
      doc_id: doc.id,
      ledger_sha256: doc.sha256,
      object_sha256: verdict.objectSha256,
    };
    sample(report.mismatch_samples, settings, mismatch);
    options.log.error(
      `'${where}' has sha256 ${verdict.objectSha256} but its ledger document ${doc.id} says ` +
        `${doc.sha256}; re-materialize ${doc.asset_key} or restore the object`,
      mismatch,
    );
  }
}

async function walkObjects(walk: Walk): Promise<void> {
  const { lake, ledger, report, settings, options } = walk;
  const bucket = options.lakeBucket;
  try {
    for await (const object of lake.listAll(bucket, { pageSize: settings.pageSize })) {
      throwIfAborted(options.signal);
      report.objects_checked++;
      if (await ledger.findByKey(bucket, object.key) !== undefined) continue;
      report.objects_without_lineage++;
      sample(report.unlineaged_samples, settings, object.key);
      options.log.error(
        `'${bucket}/${object.key}' has no ledger document: re-materialize the asset that wrote ` +
          "it, or delete the object if nothing should have written it",
        { bucket, key: object.key, size: object.size },
      );
    }
  } catch (error) {
    // A lake never written to has no bucket yet, hence no object without lineage.
    if (error instanceof ResourceError && error.code === "object_store.bucket_not_found") {
      options.log.info(`bucket '${bucket}' does not exist yet: no objects to check`);
      return;
    }
    throw error;
  }
}

function sample<T>(samples: T[], settings: Settings, value: T): void {
  if (samples.length < settings.sampleLimit) samples.push(value);
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CanceledError("The lineage reconciliation was canceled");
}
