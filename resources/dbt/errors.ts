/**
 * Typed errors of the dbt runner. Each names the file (and line, where one is
 * known) so a person can go straight to the problem.
 *
 * @module
 */

import { PlatformError } from "../../core/errors.ts";

/** Stable codes of {@linkcode DbtError}. */
export const DbtErrorCode = {
  /** A YAML file cannot be parsed or does not have the expected shape. */
  invalidYaml: "dbt.invalid_yaml",
  /** dbt_project.yml or profiles.yml says something the runner cannot use. */
  invalidProject: "dbt.invalid_project",
  /** A Jinja template does not parse. */
  jinjaSyntax: "dbt.jinja_syntax",
  /** A Jinja template fails while rendering (unknown var, bad call...). */
  renderFailed: "dbt.render_failed",
  /** `ref()` names a model that does not exist. */
  unknownRef: "dbt.unknown_ref",
  /** `source()` names a source table that is not declared. */
  unknownSource: "dbt.unknown_source",
  /** A model has no schema.yml entry (governance: it is refused). */
  missingSchemaEntry: "dbt.missing_schema_entry",
  /** Two models share a name, or models depend on each other in a cycle. */
  invalidGraph: "dbt.invalid_graph",
  /** The warehouse rejected a model's SQL. */
  modelFailed: "dbt.model_failed",
  /** The warehouse rejected a test's SQL. */
  testFailed: "dbt.test_error",
  /** A `--state` artifact (manifest.json, run_results.json) that cannot be read. */
  invalidState: "dbt.invalid_state",
  /** No profiles.yml where dbt looks for one. */
  profileNotFound: "dbt.profile_not_found",
  /** A setting dbt has that this runner does not implement: refused, never ignored. */
  unsupported: "dbt.unsupported",
  /** A source table (or a seed) a model reads has not been loaded yet. */
  missingUpstream: "dbt.missing_upstream",
  /** The YAML parse worker crashed (its files were parsed on the main thread). */
  workerCrashed: "dbt.worker_crashed",
  /** A package cannot be installed or is not installed. */
  packageFailed: "dbt.package_failed",
  /** A unit test's actual rows differ from the expected rows. */
  unitTestFailed: "dbt.unit_test_failed",
  /** An enforced contract does not match the built columns. */
  contractFailed: "dbt.contract_failed",
} as const;

/** Where an error was found: a file relative to the project and a 1-based line. */
export interface DbtLocation {
  /** Path relative to the project folder, e.g. `models/marts/fct.sql`. */
  readonly file: string;
  /** 1-based line, when known. */
  readonly line?: number | undefined;
}

/**
 * An error of the dbt runner: a stable `code`, the file and line, and a
 * message saying what to do.
 *
 * @example
 * ```ts
 * import { DbtError, DbtErrorCode } from "./errors.ts";
 * const error = new DbtError(DbtErrorCode.unknownRef, "ref('x') names no model", {
 *   file: "models/a.sql",
 *   line: 3,
 * });
 * error.message; // "models/a.sql:3: ref('x') names no model"
 * ```
 */
export class DbtError extends PlatformError {
  /** The file involved, relative to the project. */
  readonly file: string;
  /** The 1-based line, when known. */
  readonly line: number | undefined;

  /** Creates an error whose message starts with `file:line:`. */
  constructor(code: string, message: string, where: DbtLocation, cause?: unknown) {
    const at = where.line === undefined ? where.file : `${where.file}:${where.line}`;
    super(code, `${at}: ${message}`, { input: at, ...(cause === undefined ? {} : { cause }) });
    this.file = where.file;
    this.line = where.line;
  }
}
