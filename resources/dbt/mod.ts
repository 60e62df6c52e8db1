/**
 * A Deno-native dbt implementation: loads a dbt project (dbt_project.yml,
 * profiles.yml, properties YAML, packages), renders its Jinja with the dbt
 * context, builds models, seeds and snapshots on a warehouse (PGlite or
 * Postgres), runs data and unit tests, and writes dbt's artifacts. A
 * resource like dagster-dbt's DbtCliResource: usable alone through
 * `deno task dbt`, and mapped to assets by `assets/dbt`.
 *
 * @example
 * ```ts
 * import { openWarehouse } from "../warehouse/open.ts";
 * import { loadProject, runProject } from "./mod.ts";
 * await using warehouse = await openWarehouse("pglite:memory:");
 * const project = await loadProject("dbt");
 * const result = await runProject(project, warehouse);
 * ```
 *
 * @module
 */

export {
  buildManifest,
  buildRunResults,
  DBT_VERSION,
  MANIFEST_SCHEMA,
  RUN_RESULTS_SCHEMA,
  type RunResultEntry,
  runResultEntry,
  RunResultsWriter,
  targetDir,
  writeManifest,
} from "./artifacts.ts";
export { writeJsonAtomic } from "./_files.ts";
export { injectCtes } from "./compile/ctes.ts";
export { loadProject, type LoadProjectOptions, reloadProject } from "./compile/load.ts";
export { DbtError, DbtErrorCode, type DbtLocation } from "./errors.ts";
export {
  buildModel,
  type BuildModelOptions,
  type BuildModelResult,
  MissingUpstreamError,
} from "./execute/materialize.ts";
export {
  executeNode,
  type ExecuteOptions,
  executeTest,
  type ProgressEvent,
  runProject,
  type RunProjectOptions,
  type RunProjectResult,
} from "./execute/run.ts";
export { holds, runTest, runUnitTest, statusOf, type TestOutcome } from "./execute/tests.ts";
export { parseCsv } from "./execute/seeds.ts";
export { GENERIC_TESTS } from "./compile/tests.ts";
export type * from "./nodes.ts";
export { quote, Relation } from "./relation.ts";
export {
  findProfilesFile,
  readTarget,
  type ReadTargetOptions,
  type Target,
  warehouseDatabase,
} from "./project/profiles.ts";
export { folderConfig, type ProjectFile, readProjectFile } from "./project/project_file.ts";
