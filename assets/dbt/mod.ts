/**
 * dbt nodes as assets: models, seeds and snapshots become assets, data and
 * unit tests become checks. The dbt engine itself is `resources/dbt`.
 *
 * @example
 * ```ts
 * import { dbtAssets } from "./mod.ts";
 * const dbt = await dbtAssets("dbt"); // dbt.assets: one asset per model
 * ```
 *
 * @module
 */

export { type DbtAssets, dbtAssets, type DbtAssetsOptions, type DbtResources } from "./assets.ts";
