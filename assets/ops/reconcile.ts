/**
 * `ops/reconcile_lineage`: the asset that runs the lineage reconciler over the
 * configured lake and ledger, with its check `lake_and_ledger_agree`.
 *
 * @module
 */

import type { AssetDefinition, CheckResult, CheckSpec } from "../../core/asset.ts";
import type { AppResources } from "../../resources/app.ts";
import { asset } from "../_define.ts";
import {
  DEFAULT_RECONCILE_GRACE_MS,
  reconcileLineage,
  ReconcileReport,
} from "./reconcile_lineage.ts";

/** Key of the reconciler asset. */
export const RECONCILE_LINEAGE_KEY = "ops/reconcile_lineage";

/** Options of {@linkcode reconcileLineageAsset}. */
export interface ReconcileLineageAssetOptions {
  /**
   * Documents updated less than this long ago (by the run's clock) are left
   * alone, since their writer may still be putting the object.
   * @default 900000 (15 minutes)
   */
  readonly graceMs?: number;
  /**
   * Ledger documents and listed objects per page.
   * @default 500
   */
  readonly pageSize?: number;
  /**
   * Most samples of each kind in the materialization metadata.
   * @default 20
   */
  readonly sampleLimit?: number;
  /**
   * Report orphan documents without removing them.
   * @default false
   */
  readonly dryRun?: boolean;
}

/**
 * The check of `ops/reconcile_lineage`: fails while the lake and the ledger
 * still disagree after the repair (mismatched content, objects without
 * lineage, or orphans a dry run left). Not blocking: nothing downstream
 * depends on the reconciler, and the failure is the report.
 */
export const lakeAndLedgerAgree: CheckSpec<Pick<AppResources, "config" | "lake" | "ledger">> = {
  name: "lake_and_ledger_agree",
  description: "Every current ledger document matches its object's SHA-256, every object in " +
    "the lake bucket has a ledger document, and no orphan document is left",
  severity: "error",
  blocking: false,
  run(ctx): CheckResult {
    const parsed = ReconcileReport.safeParse(ctx.materialization.metadata);
    if (!parsed.success) {
      return {
        passed: false,
        description: `Cannot judge run ${ctx.materialization.runId}: its metadata is not a ` +
          `reconcile report (${parsed.error.issues[0]?.message ?? "invalid"}); re-run ` +
          RECONCILE_LINEAGE_KEY,
      };
    }
    const report = parsed.data;
    const orphansLeft = report.orphan_documents - report.orphans_removed;
    const metadata = {
      mismatches: report.mismatches,
      objects_without_lineage: report.objects_without_lineage,
      orphans_left: orphansLeft,
    };
    const passed = report.mismatches === 0 && report.objects_without_lineage === 0 &&
      orphansLeft === 0;
    if (passed) return { passed, metadata };
    return {
      passed,
      metadata,
      description: `The lake '${report.lake_bucket}' and the ledger disagree: ` +
        `${report.mismatches} object(s) differ from their ledger document, ` +
        `${report.objects_without_lineage} object(s) have no ledger document, ` +
        `${orphansLeft} orphan document(s) are left; see the samples and the run's log, then ` +
        "re-materialize the assets that wrote them",
    };
  },
};

/**
 * Builds `ops/reconcile_lineage` (group `ops`, unpartitioned): removes ledger
 * documents whose object never landed and reports content mismatches and
 * objects without lineage, as counts and capped samples.
 *
 * @example
 * ```ts
 * import { reconcileLineageAsset } from "./reconcile.ts";
 * const reconcile = reconcileLineageAsset({ dryRun: true });
 * console.log(reconcile.key); // "ops/reconcile_lineage"
 * ```
 */
export function reconcileLineageAsset(
  options: ReconcileLineageAssetOptions = {},
): AssetDefinition {
  return asset({
    key: RECONCILE_LINEAGE_KEY,
    group: "ops",
    tags: ["lineage"],
    description: "Makes the ledger and the lake agree after a crash: removes ledger documents " +
      "whose object is missing, reports objects whose SHA-256 differs from their document and " +
      "objects of the lake bucket without a ledger document",
    codeVersion: "1",
    resources: ["config", "lake", "ledger"],
    checks: [lakeAndLedgerAgree],
    materialize: async (ctx) => {
      const { config, lake, ledger } = ctx.resources;
      const report = await reconcileLineage({ lake, ledger }, {
        lakeBucket: config.LAKE_BUCKET,
        now: ctx.clock.now(),
        graceMs: options.graceMs ?? DEFAULT_RECONCILE_GRACE_MS,
        ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
        ...(options.sampleLimit === undefined ? {} : { sampleLimit: options.sampleLimit }),
        ...(options.dryRun === undefined ? {} : { dryRun: options.dryRun }),
        log: ctx.log,
        signal: ctx.signal,
      });
      ctx.log.info(
        `checked ${report.documents_checked} document(s) and ${report.objects_checked} ` +
          `object(s): ${report.orphans_removed} orphan(s) removed, ${report.mismatches} ` +
          `mismatch(es), ${report.objects_without_lineage} object(s) without lineage`,
      );
      return report;
    },
  });
}
