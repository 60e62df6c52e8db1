/**
 * Giving assets defined elsewhere an automation condition or a freshness
 * policy, where the graph is put together (Dagster's `map_asset_specs`):
 * `graph.ts` says which pipeline runs when, without editing each pipeline.
 *
 * @module
 */

import type { AssetDefinition } from "../asset.ts";
import { InvalidDefinitionError } from "../errors.ts";
import type { AutomationCondition } from "./condition.ts";
import type { FreshnessPolicy } from "./freshness_policy.ts";

/** What to set on one asset. */
export interface AutomationSettings {
  /** Its condition (replaces the one it has). */
  readonly automation?: AutomationCondition;
  /** Its freshness policy (replaces the one it has). */
  readonly freshness?: FreshnessPolicy;
}

/**
 * `assets`, with the settings of `byKey` applied (new frozen definitions;
 * the others unchanged).
 *
 * @throws {InvalidDefinitionError} naming a key of `byKey` that is not among `assets`.
 *
 * @example
 * ```ts
 * import { withAutomation } from "./apply.ts";
 * import { eager } from "./condition.ts";
 * import { defineAsset } from "../asset.ts";
 * const assets = withAutomation(
 *   [defineAsset({ key: "a", materialize: () => {} }), defineAsset({ key: "b", deps: ["a"], materialize: () => {} })],
 *   { b: { automation: eager() } },
 * );
 * assets[1]?.automation?.name; // "eager"
 * ```
 */
export function withAutomation(
  assets: readonly AssetDefinition[],
  byKey: Readonly<Record<string, AutomationSettings>>,
): AssetDefinition[] {
  const keys = new Set(assets.map((a) => a.key));
  const unknown = Object.keys(byKey).filter((key) => !keys.has(key));
  if (unknown.length > 0) {
    throw new InvalidDefinitionError(
      "definition.invalid_asset",
      `Cannot set automation on ${unknown.map((k) => `'${k}'`).join(", ")}: no such asset`,
      { assetKey: unknown[0] as string },
    );
  }
  return assets.map((asset) => {
    const settings = byKey[asset.key];
    if (!settings) return asset;
    return Object.freeze({
      ...asset,
      automation: settings.automation ?? asset.automation,
      freshness: settings.freshness ?? asset.freshness,
    });
  });
}
