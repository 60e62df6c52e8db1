/**
 * Operations assets: `ops/reconcile_lineage`, the reconciler that keeps the
 * ledger and the lake in agreement (group `ops`).
 *
 * @example Wire it into graph.ts
 * ```ts
 * import { defineGraph } from "../../core/definitions.ts";
 * import { type AppResources, appResources } from "../../resources/app.ts";
 * import { loadConfig } from "../../resources/config.ts";
 * import { opsAssets } from "./mod.ts";
 * const graph = defineGraph<AppResources>({
 *   assets: [...opsAssets()],
 *   resources: appResources(loadConfig()),
 * });
 * ```
 *
 * @module
 */

import type { AssetDefinition } from "../../core/asset.ts";
import { reconcileLineageAsset, type ReconcileLineageAssetOptions } from "./reconcile.ts";

/** Options of {@linkcode opsAssets}. */
export interface OpsAssetsOptions {
  /**
   * Options of `ops/reconcile_lineage`.
   * @default {{}}
   */
  readonly reconcile?: ReconcileLineageAssetOptions;
}

/** The operations assets (their checks are attached to them). */
export function opsAssets(options: OpsAssetsOptions = {}): AssetDefinition[] {
  return [reconcileLineageAsset(options.reconcile)];
}

export {
  lakeAndLedgerAgree,
  RECONCILE_LINEAGE_KEY,
  reconcileLineageAsset,
  type ReconcileLineageAssetOptions,
} from "./reconcile.ts";
export {
  DEFAULT_RECONCILE_GRACE_MS,
  reconcileLineage,
  type ReconcileOptions,
  ReconcileReport,
} from "./reconcile_lineage.ts";
