/**
 * The activity pipeline: Fitbit-style CSV drops (`daily_activity*.csv`,
 * `sleep*.csv`) from `landing-zone/activity/` into `raw.daily_activity` and
 * `raw.sleep`, with the sample drops of the quick start.
 *
 * Wire it into `graph.ts`:
 *
 * ```ts
 * import { defineGraph } from "../../core/definitions.ts";
 * import { type AppResources, appResources } from "../../resources/app.ts";
 * import { loadConfig } from "../../resources/config.ts";
 * import { activityAssets } from "./mod.ts";
 * const config = loadConfig();
 * defineGraph<AppResources>({
 *   assets: [...activityAssets({ samples: config.SAMPLE_DATA })],
 *   resources: appResources(config),
 * });
 * ```
 *
 * @module
 */

import type { AssetDefinition } from "../../core/asset.ts";
import { BRONZE_ACTIVITY_KEY, bronzeActivityAsset } from "./bronze.ts";
import { SAMPLE_DROPS_KEY, sampleDropsAsset } from "./sample_drops.ts";

export {
  ACTIVITY_PREFIX,
  BRONZE_ACTIVITY_KEY,
  bronzeActivityAsset,
  type BronzeActivityOptions,
  QUARANTINE_PREFIX,
} from "./bronze.ts";
export {
  SAMPLE_ACTIVITY_DIR,
  SAMPLE_DROPS_KEY,
  sampleDropsAsset,
  type SampleDropsOptions,
} from "./sample_drops.ts";
export { FileRejectedError } from "./errors.ts";
export { ensureActivityTables } from "./_warehouse.ts";
export {
  BadValueSchema,
  type ManifestEntry,
  ManifestEntrySchema,
  type RejectionReason,
  RejectionReasonSchema,
  type RejectionReport,
  RejectionReportSchema,
} from "./report.ts";

/** Options of {@linkcode activityAssets}. */
export interface ActivityAssetsOptions {
  /** Include `activity/sample_drops` (the quick start's sample files) upstream of `bronze_activity`. */
  readonly samples: boolean;
}

/**
 * The activity assets: `bronze_activity`, preceded by `activity/sample_drops`
 * when `samples` is true (pass `config.SAMPLE_DATA`).
 */
export function activityAssets(options: ActivityAssetsOptions): AssetDefinition[] {
  if (!options.samples) return [bronzeActivityAsset()];
  return [sampleDropsAsset(), bronzeActivityAsset({ deps: [SAMPLE_DROPS_KEY] })];
}

/** Keys of the activity assets, for selections. */
export const ACTIVITY_ASSET_KEYS = [SAMPLE_DROPS_KEY, BRONZE_ACTIVITY_KEY] as const;
