/**
 * A Deno-native runner for dbt projects: parses dbt_project.yml,
 * profiles.yml and schema.yml, renders Jinja with nunjucks, builds views,
 * tables, incremental and ephemeral models on the warehouse (PGlite or
 * Postgres), runs dbt tests, writes manifest.json and run_results.json, and
 * turns models into assets and tests into asset checks.
 *
 * It depends only on the framework (`core/`) and the `Warehouse` interface.
 *
 * @example
 * ```ts ignore
 * import { dbtAssets } from "./assets/dbt/mod.ts";
 * const dbt = await dbtAssets("dbt"); // dbt.assets: one asset per model
 * ```
 *
 * @module
 */

export { type DbtAssets, dbtAssets, type DbtAssetsOptions, type DbtResources } from "./assets.ts";
export {
  buildManifest,
  buildRunResults,
  DBT_VERSION,
  MANIFEST_SCHEMA,
  RUN_RESULTS_SCHEMA,
  type RunResultEntry,
  RunResultsWriter,
  targetDir,
} from "./artifacts.ts";
export {
  type ColumnDoc,
  type DbtProject,
  type IncrementalStrategy,
  injectCtes,
  loadProject,
  type LoadProjectOptions,
  type Materialized,
  type ModelConfig,
  type ModelNode,
  type SourceNode,
  type TestNode,
} from "./compile.ts";
export { DbtError, DbtErrorCode, type DbtLocation } from "./errors.ts";
export { Relation } from "./jinja.ts";
export { buildModel, type BuildModelOptions, type BuildModelResult } from "./materialize.ts";
export { readTarget, type ReadTargetOptions, type Target } from "./profiles.ts";
export { folderConfig, type ProjectFile, readProjectFile } from "./project.ts";
export { runProject, type RunProjectOptions, type RunProjectResult } from "./run.ts";
export { GENERIC_TESTS, runTest, type TestOutcome } from "./tests.ts";
