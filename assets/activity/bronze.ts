/**
 * `bronze_activity`: loads every new or changed activity drop from
 * `landing-zone/activity/` into `raw.daily_activity` / `raw.sleep`.
 *
 * - Idempotent: a file whose name and SHA-256 are in `ops.raw_ingest_manifest`
 *   with status `loaded` is skipped.
 * - A changed file replaces its own rows (delete by `source_file`, load,
 *   manifest upsert) in one transaction.
 * - Files stream from the store through COPY: memory stays bounded whatever
 *   the file size.
 * - A bad file (missing column, bad rows beyond `ACTIVITY_BAD_ROW_TOLERANCE`,
 *   not UTF-8) is rejected whole: its transaction rolls back, it moves to
 *   `landing-zone/quarantine/activity/<name>` with `<name>.error.json`, the
 *   manifest says `rejected`, and the other files go on.
 *
 * The asset itself succeeds when files are rejected (the good ones are loaded
 * and downstream models should see them); its non-blocking check
 * `no_rejected_files` fails instead, with severity `error`, so the run is
 * reported failed and a person looks at the quarantine.
 *
 * @module
 */

import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/logger.ts";
import type { Metadata } from "../../core/metadata.ts";
import type { Config } from "../../resources/config.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import type { Warehouse } from "../../resources/warehouse/types.ts";
import { asset } from "../_define.ts";
import { checksumOf } from "./_checksum.ts";
import { type DropKind, dropKindOf } from "./_columns.ts";
import { type FileOutcome, loadFile, MAX_LISTED_ERRORS } from "./_load_file.ts";
import {
  ensureActivityTables,
  loadedFingerprint,
  manifestEntry,
  upsertManifest,
} from "./_warehouse.ts";
import { type RejectionReport, RejectionReportSchema } from "./report.ts";

/** Key of the asset. */
export const BRONZE_ACTIVITY_KEY = "bronze_activity";

/** Where drops are picked up, under the landing bucket. */
export const ACTIVITY_PREFIX = "activity/";

/** Where rejected drops and their reports go, under the landing bucket. */
export const QUARANTINE_PREFIX = "quarantine/activity/";

/** Files named in the metadata lists, at most (the counts are always exact). */
const LISTED_FILES = 50;

/** Options of {@linkcode bronzeActivityAsset}. */
export interface BronzeActivityOptions {
  /**
   * Upstream asset keys (the sample seeding, when it is in the graph).
   * @default {[]}
   */
  deps?: readonly string[];
}

/** Builds the `bronze_activity` asset. */
export function bronzeActivityAsset(options: BronzeActivityOptions = {}) {
  return asset({
    key: BRONZE_ACTIVITY_KEY,
    deps: options.deps ?? [],
    group: "activity",
    description: "Activity CSV drops (daily_activity*.csv, sleep*.csv) from " +
      "landing-zone/activity/ loaded into raw.daily_activity and raw.sleep; " +
      "new or changed files only, bad files quarantined",
    resources: ["config", "lake", "warehouse"],
    codeVersion: "1",
    // The tables it writes, for the UI's data preview.
    metadata: { tables: ["raw.daily_activity", "raw.sleep"] },
    checks: [{
      name: "no_rejected_files",
      description: "Every file seen in this materialization loaded; rejected files are in " +
        "landing-zone/quarantine/activity/ with a <name>.error.json report",
      severity: "error",
      blocking: false,
      run: (ctx) => {
        const { files_rejected: count = 0, rejected_files: names = [] } = ctx.materialization
          .metadata;
        const rejected = Number(count);
        return {
          passed: rejected === 0,
          metadata: { files_rejected: rejected, rejected_files: names },
          description: `${rejected} file(s) rejected and moved to quarantine/activity/ ` +
            `(see <name>.error.json): ${Array.isArray(names) ? names.join(", ") : ""}`,
        };
      },
    }],
    materialize: async (ctx) => {
      const { config, lake, warehouse } = ctx.resources;
      const bucket = config.LANDING_BUCKET;
      await lake.ensureBucket(bucket);
      await ensureActivityTables(warehouse);
      const files = await listDrops(lake, bucket, ctx.log);
      ctx.log.info(`found ${files.length} activity file(s) in ${bucket}/${ACTIVITY_PREFIX}`);
      const tally = new Tally();
      for (const file of files) {
        ctx.signal.throwIfAborted();
        await ingest(ctx, file, tally);
      }
      return {
        ...tally.metadata(files.length, config.ACTIVITY_BAD_ROW_TOLERANCE),
        data_version: await loadedFingerprint(warehouse),
      };
    },
  });
}

/** What {@linkcode ingest} uses of the asset's context. */
interface IngestContext {
  readonly runId: string;
  readonly resources: { config: Config; lake: ObjectStore; warehouse: Warehouse };
  readonly log: Logger;
  readonly signal: AbortSignal;
  readonly clock: Clock;
}

/** One file: skip it, load it, or reject it; the outcome goes into `tally`. */
async function ingest(ctx: IngestContext, file: Drop, tally: Tally): Promise<void> {
  const { config, lake, warehouse } = ctx.resources;
  const bucket = config.LANDING_BUCKET;
  const sha256 = await checksumOf(lake, bucket, file.key, ctx.signal);
  if (sha256 === undefined) {
    ctx.log.warn(`skipped ${file.name}: it disappeared after the listing (another run?)`);
    tally.skipped.push(file.name);
    return;
  }
  const entry = await manifestEntry(warehouse, file.name);
  if (entry?.status === "loaded" && entry.checksum_sha256 === sha256) {
    ctx.log.info(`skipped ${file.name}: already loaded with the same SHA-256`, {
      file: file.name,
      rows: entry.row_count,
    });
    tally.skipped.push(file.name);
    return;
  }
  const started = performance.now();
  const outcome = await loadFile({
    warehouse,
    lake,
    bucket,
    key: file.key,
    name: file.name,
    kind: file.kind,
    sha256,
    tolerance: config.ACTIVITY_BAD_ROW_TOLERANCE,
    latestDate: latestDate(ctx.clock.now()),
    signal: ctx.signal,
    onProgress: (rows) =>
      ctx.log.info(`loading ${file.name}: ${rows.toLocaleString("en-US")} rows read`),
  });
  const seconds = (performance.now() - started) / 1000;
  if (outcome.status === "skipped") {
    ctx.log.info(`skipped ${file.name}: another run loaded the same SHA-256 meanwhile`);
    tally.skipped.push(file.name);
    return;
  }
  if (outcome.status === "loaded") {
    tally.loaded(file.name, outcome);
    logLoaded(ctx.log, file, outcome, seconds);
    return;
  }
  const report = await reject(
    { lake, warehouse, bucket, file, sha256, at: new Date(ctx.clock.now()), runId: ctx.runId },
    outcome,
    {
      tolerance: config.ACTIVITY_BAD_ROW_TOLERANCE,
      previousRows: entry?.status === "loaded" ? entry.row_count : 0,
    },
  );
  tally.rejected.push(file.name);
  ctx.log.error(`rejected ${file.name}: ${outcome.error.message}`, {
    file: file.name,
    reason: report.reason,
    quarantined_as: report.quarantined_as,
  });
}

/**
 * The last day a row may be about: tomorrow in UTC, so a device a time zone
 * ahead of UTC is never refused; anything later is a typo or a broken clock.
 */
export function latestDate(now: number): string {
  return new Date(now + 86_400_000).toISOString().slice(0, 10);
}

/** A drop found in the landing zone. */
interface Drop {
  readonly key: string;
  readonly name: string;
  readonly kind: DropKind;
}

/** Files directly under `activity/` that match a drop kind, in key order. */
async function listDrops(lake: ObjectStore, bucket: string, log: Logger): Promise<Drop[]> {
  const drops: Drop[] = [];
  for await (const object of lake.listAll(bucket, { prefix: ACTIVITY_PREFIX, delimiter: "/" })) {
    const name = object.key.slice(ACTIVITY_PREFIX.length);
    const kind = dropKindOf(name);
    if (kind) drops.push({ key: object.key, name, kind });
    else log.debug(`ignored ${object.key}: not daily_activity*.csv or sleep*.csv`);
  }
  return drops;
}

function logLoaded(
  log: Logger,
  file: Drop,
  outcome: Extract<FileOutcome, { status: "loaded" }>,
  seconds: number,
): void {
  const { stats } = outcome;
  const fields = {
    file: file.name,
    table: `${file.kind.table.schema}.${file.kind.table.name}`,
    rows: outcome.rows,
    replaced_rows: outcome.replaced,
    bad_rows: stats.badRows,
    null_values: stats.nullValues,
    seconds: Number(seconds.toFixed(3)),
  };
  log.info(
    `loaded ${file.name}: ${outcome.rows} rows into ${fields.table}` +
      (outcome.replaced > 0 ? ` (replacing ${outcome.replaced} rows of its previous version)` : ""),
    fields,
  );
  if (stats.badRows > 0) {
    const first = stats.issues.slice(0, 5).map((i) =>
      `row ${i.row} (line ${i.line})${i.column ? ` ${i.column}` : ""}: ${
        i.value === null ? "" : `'${i.value}' `
      }${i.problem}`
    );
    log.warn(
      `skipped ${stats.badRows} bad row(s) of ${file.name}, within the tolerance: ${
        first.join("; ")
      }`,
      { file: file.name, bad_rows: stats.badRows, data_rows: stats.dataRows },
    );
  }
}

interface RejectContext {
  readonly lake: ObjectStore;
  readonly warehouse: Warehouse;
  readonly bucket: string;
  readonly file: Drop;
  readonly sha256: string;
  readonly at: Date;
  readonly runId: string;
}

/**
 * Sets a rejected file aside: report first (so a moved file always has its
 * report), then the move, then the manifest row.
 */
async function reject(
  ctx: RejectContext,
  outcome: Extract<FileOutcome, { status: "rejected" }>,
  figures: { tolerance: number; previousRows: number },
): Promise<RejectionReport> {
  const { lake, bucket, file, stats } = { ...ctx, stats: outcome.stats };
  const target = `${QUARANTINE_PREFIX}${file.name}`;
  const report = RejectionReportSchema.parse(
    {
      file: `${bucket}/${file.key}`,
      quarantined_as: `${bucket}/${target}`,
      source_filename: file.name,
      checksum_sha256: ctx.sha256,
      rejected_at: ctx.at.toISOString(),
      run_id: ctx.runId,
      reason: outcome.error.reason,
      message: outcome.error.message,
      header: outcome.header === null ? null : [...outcome.header],
      missing_columns: [...outcome.missingColumns],
      encoding_error: outcome.encodingError,
      data_rows: stats.dataRows,
      bad_rows: stats.badRows,
      bad_row_ratio: stats.dataRows === 0 ? 0 : stats.badRows / stats.dataRows,
      tolerance: figures.tolerance,
      errors_total: stats.badValues,
      errors: [...outcome.error.rows, ...stats.issues].slice(0, MAX_LISTED_ERRORS),
      previous_rows_kept: figures.previousRows,
    } satisfies RejectionReport,
  );
  const json = new TextEncoder().encode(JSON.stringify(report, null, 2) + "\n");
  await lake.put(bucket, `${target}.error.json`, json, { contentType: "application/json" });
  await lake.move({ bucket, key: file.key }, { bucket, key: target });
  await upsertManifest(ctx.warehouse, {
    source_filename: file.name,
    checksum_sha256: ctx.sha256,
    row_count: 0,
    status: "rejected",
  });
  return report;
}

/** Counts and names for the materialization metadata. */
class Tally {
  readonly loadedFiles: { file: string; rows: number; bad_rows: number }[] = [];
  readonly skipped: string[] = [];
  readonly rejected: string[] = [];
  rows = 0;
  badRows = 0;
  nullValues = 0;

  loaded(name: string, outcome: Extract<FileOutcome, { status: "loaded" }>): void {
    this.loadedFiles.push({ file: name, rows: outcome.rows, bad_rows: outcome.stats.badRows });
    this.rows += outcome.rows;
    this.badRows += outcome.stats.badRows;
    this.nullValues += outcome.stats.nullValues;
  }

  metadata(seen: number, tolerance: number): Metadata {
    return {
      files_seen: seen,
      files_loaded: this.loadedFiles.length,
      files_skipped: this.skipped.length,
      files_rejected: this.rejected.length,
      rows_loaded: this.rows,
      bad_rows_skipped: this.badRows,
      null_values: this.nullValues,
      tolerance,
      loaded_files: this.loadedFiles.slice(0, LISTED_FILES),
      skipped_files: this.skipped.slice(0, LISTED_FILES),
      rejected_files: this.rejected.slice(0, LISTED_FILES),
    };
  }
}
