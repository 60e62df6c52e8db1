/**
 * The top-level keys of `dbt_project.yml` as dbt-core checks them: an unknown
 * key fails the load (dbt: "Additional properties are not allowed"), a dbt
 * key this runner has no use for is named in a warning, and
 * `require-dbt-version` is checked against the dbt version this runner
 * follows (dbt-core's semver specifiers: `>=1.0.0`, `<2.0.0`, `1.9.0`, as a
 * list or comma-separated), failing with dbt's message unless the version
 * check is off (`--no-version-check`, `DBT_VERSION_CHECK=false`).
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";

/** The dbt-core release this runner follows (artifacts, `dbt_version`, version checks). */
export const DBT_VERSION = "1.10.0";

/** Keys of dbt-core 1.9's project contract this runner reads. */
const READ = new Set([
  "name",
  "version",
  "config-version",
  "profile",
  "model-paths",
  "macro-paths",
  "test-paths",
  "seed-paths",
  "snapshot-paths",
  "docs-paths",
  "analysis-paths",
  "target-path",
  "packages-install-path",
  "clean-targets",
  "vars",
  "models",
  "sources",
  "seeds",
  "snapshots",
  "data_tests",
  "tests",
  "on-run-start",
  "on-run-end",
  "quoting",
  "dispatch",
  "require-dbt-version",
  "flags",
  "query-comment",
  "semantic-models",
  "metrics",
  "saved-queries",
  "restrict-access",
  "source-paths",
  "data-paths",
]);

/** dbt keys with nothing for this runner to do, and why (the warning says it). */
const NO_EFFECT: Readonly<Record<string, string>> = {
  "log-path": "this runner writes no dbt.log",
  "asset-paths": "docs assets are not copied",
  "project-root": "the project folder is where dbt_project.yml is",
  "dbt-cloud": "dbt Cloud settings are for dbt Cloud",
  exposures: "exposure configs from dbt_project.yml are not applied",
  analyses: "analysis configs from dbt_project.yml are not applied",
  unit_tests: "unit test configs from dbt_project.yml are not applied",
};

/**
 * dbt's behaviour flags (`flags:` in dbt_project.yml) and the value this
 * runner behaves as: setting one to that value is fine, to the other value
 * is named in a warning.
 */
const BEHAVIOUR_FLAGS: Readonly<Record<string, boolean>> = {
  require_explicit_package_overrides_for_builtin_materializations: true,
  require_resource_names_without_spaces: false,
  source_freshness_run_project_hooks: false,
  restrict_direct_pg_catalog_access: false,
  require_yaml_configuration_for_mf_time_spines: false,
  require_batched_execution_for_custom_microbatch_strategy: false,
  require_nested_cumulative_type_params: false,
  validate_macro_args: false,
  skip_nodes_if_on_run_start_fails: false,
  state_modified_compare_more_unrendered_values: false,
  state_modified_compare_vars: false,
  require_generic_test_arguments_property: false,
};

/** Runtime flags dbt 1.8+ also reads from `flags:` (formerly profiles.yml `config:`). */
const RUNTIME_FLAGS = new Set([
  "send_anonymous_usage_stats",
  "use_colors",
  "use_colors_file",
  "partial_parse",
  "printer_width",
  "write_json",
  "warn_error",
  "warn_error_options",
  "log_format",
  "log_format_file",
  "log_level",
  "log_level_file",
  "debug",
  "version_check",
  "fail_fast",
  "use_experimental_parser",
  "static_parser",
  "cache_selected_only",
  "populate_cache",
  "indirect_selection",
  "quiet",
  "no_print",
  "introspect",
  "invocation_command",
]);

/**
 * Checks the top-level keys of a parsed `dbt_project.yml` of `file`: throws
 * on a key dbt does not know, returns warnings for keys without effect here.
 */
export function checkProjectKeys(
  project: Readonly<Record<string, unknown>>,
  file: string,
): string[] {
  const unknown = Object.keys(project).filter((k) => !READ.has(k) && !(k in NO_EFFECT));
  if (unknown.length > 0) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `at path []: Additional properties are not allowed (${
        unknown.map((k) => `'${k}'`).join(", ")
      } ${unknown.length === 1 ? "was" : "were"} unexpected): dbt does not know ` +
        `${unknown.length === 1 ? "this key" : "these keys"}; check the spelling ` +
        "(model-paths, seed-paths, on-run-start, require-dbt-version...) or remove it",
      { file },
    );
  }
  const warnings: string[] = [];
  for (const [key, why] of Object.entries(NO_EFFECT)) {
    if (project[key] !== undefined && project[key] !== null) {
      warnings.push(`${file}: '${key}' is set but has no effect here: ${why}`);
    }
  }
  for (const [old, now] of [["source-paths", "model-paths"], ["data-paths", "seed-paths"]]) {
    if (project[old as string] !== undefined) {
      warnings.push(
        `${file}: '${old}' is deprecated (dbt 1.0 renamed it '${now}'); it is read as '${now}'`,
      );
    }
  }
  warnings.push(...flagWarnings(project.flags, file));
  warnings.push(...sourceConfigWarnings(project.sources, file));
  queryCommentSetting(project["query-comment"]); // a malformed one fails the load, not the run
  return warnings;
}

/** Source configs of dbt_project.yml this runner applies; the others are named in a warning. */
const SOURCE_CONFIGS = new Set(["enabled", "event_time", "meta"]);

/** A warning for each `+key` of the `sources:` block that is not applied (`+freshness`...). */
function sourceConfigWarnings(sources: unknown, file: string): string[] {
  const found = new Set<string>();
  const walk = (node: unknown) => {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return;
    for (const [key, value] of Object.entries(node)) {
      if (key.startsWith("+")) {
        if (!SOURCE_CONFIGS.has(key.slice(1))) found.add(key);
      } else walk(value);
    }
  };
  walk(sources);
  return [...found].map((key) =>
    `${file}: 'sources: ... ${key}' is set but has no effect here: of source configs in ` +
    "dbt_project.yml only +enabled, +event_time and +meta are applied; set it in the " +
    "source's properties YAML instead"
  );
}

function flagWarnings(flags: unknown, file: string): string[] {
  if (flags === undefined || flags === null) return [];
  if (typeof flags !== "object" || Array.isArray(flags)) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      "'flags' must be a mapping of flag name to value, e.g. flags: {send_anonymous_usage_stats: false}",
      { file },
    );
  }
  const warnings: string[] = [];
  for (const [name, value] of Object.entries(flags)) {
    const behaves = BEHAVIOUR_FLAGS[name];
    if (behaves !== undefined) {
      if (typeof value !== "boolean") {
        throw new DbtError(
          DbtErrorCode.invalidProject,
          `flags.${name} must be true or false, not ${JSON.stringify(value)}`,
          { file },
        );
      }
      if (value !== behaves) {
        warnings.push(
          `${file}: flags.${name}: ${String(value)} is ignored; this runner behaves as ` +
            `${name}: ${String(behaves)}`,
        );
      }
    } else if (RUNTIME_FLAGS.has(name)) {
      if (name !== "send_anonymous_usage_stats" && name !== "partial_parse") {
        warnings.push(`${file}: flags.${name} is ignored by this runner`);
      }
    } else {
      // dbt: an unknown flag is a warning, not an error, so newer projects still load.
      warnings.push(`${file}: flags.${name} is not a dbt flag this runner knows; ignored`);
    }
  }
  return warnings;
}

/** The `query-comment` setting of a project. */
export interface QueryCommentSetting {
  /** Jinja text of the comment; null for dbt's default (a JSON object naming app, version, node). */
  readonly comment: string | null;
  /** After the statement instead of before. */
  readonly append: boolean;
}

/**
 * Reads `query-comment` of dbt_project.yml (a string, null, or {comment,
 * append, job-label}) as dbt-core does: without the key, or with a mapping
 * that gives no `comment`, dbt's default comment; `null` or `''` (the key or
 * its comment) sends none (undefined).
 */
export function queryCommentSetting(value: unknown): QueryCommentSetting | undefined {
  if (value === undefined) return { comment: null, append: false };
  if (value === null) return undefined;
  if (typeof value === "string") {
    return value.trim() === "" ? undefined : { comment: value, append: false };
  }
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      "query-comment must be a string or a mapping {comment: ..., append: true|false}",
      { file: "dbt_project.yml" },
    );
  }
  const map = value as Record<string, unknown>;
  const unknown = Object.keys(map).filter((k) => !["comment", "append", "job-label"].includes(k));
  if (unknown.length > 0) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `query-comment: Additional properties are not allowed ('${unknown.join("', '")}' ` +
        "unexpected); the keys are comment, append and job-label",
      { file: "dbt_project.yml" },
    );
  }
  if (map["job-label"] === true) {
    throw new DbtError(
      DbtErrorCode.unsupported,
      "query-comment: job-label labels BigQuery jobs; this runner's warehouses (Postgres, " +
        "PGlite, DuckDB) have no job labels: remove job-label",
      { file: "dbt_project.yml" },
    );
  }
  if (map.append !== undefined && typeof map.append !== "boolean") {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      "query-comment: append must be true or false",
      { file: "dbt_project.yml" },
    );
  }
  const comment = map.comment;
  if (comment === null || comment === "") return undefined;
  if (comment !== undefined && typeof comment !== "string") {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      "query-comment: comment must be a string (Jinja allowed)",
      { file: "dbt_project.yml" },
    );
  }
  // `{append: true}` alone keeps dbt's default comment.
  return { comment: comment ?? null, append: map.append === true };
}

/** A parsed dbt-core version specifier (`>=1.0.0`). */
interface Specifier {
  readonly matcher: "=" | ">=" | ">" | "<=" | "<";
  readonly version: readonly [number, number, number];
  readonly prerelease: string | undefined;
}

const SPECIFIER =
  /^(>=|>|<=|<|==|=)?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-?([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

function parseSpecifier(text: string, file: string): Specifier {
  const m = SPECIFIER.exec(text);
  if (!m) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `require-dbt-version: '${text}' is not a version specifier dbt reads: write an ` +
        `operator and a full version without spaces, e.g. ">=1.0.0" or ">=1.0.0,<2.0.0"`,
      { file },
    );
  }
  const matcher = (m[1] === "==" || m[1] === undefined ? "=" : m[1]) as Specifier["matcher"];
  return {
    matcher,
    version: [Number(m[2]), Number(m[3]), Number(m[4])],
    prerelease: m[5],
  };
}

function compareVersions(a: Specifier, b: Specifier): number {
  for (let i = 0; i < 3; i++) {
    const d = (a.version[i] as number) - (b.version[i] as number);
    if (d !== 0) return d;
  }
  // A prerelease sorts before its release (1.9.0-b1 < 1.9.0).
  if (a.prerelease === b.prerelease) return 0;
  if (a.prerelease === undefined) return 1;
  if (b.prerelease === undefined) return -1;
  return a.prerelease < b.prerelease ? -1 : 1;
}

function satisfies(installed: Specifier, spec: Specifier): boolean {
  const c = compareVersions(installed, spec);
  switch (spec.matcher) {
    case "=":
      return c === 0;
    case ">=":
      return c >= 0;
    case ">":
      return c > 0;
    case "<=":
      return c <= 0;
    case "<":
      return c < 0;
  }
}

/** The specifiers of a `require-dbt-version` value: a string (comma-separated) or a list. */
function requiredSpecifiers(value: unknown, file: string): string[] {
  const items = Array.isArray(value) ? value : [value];
  return items.flatMap((item) => {
    if (typeof item !== "string") {
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `require-dbt-version must be a string or a list of strings (quoted in YAML, e.g. ` +
          `">=1.0.0"), not ${JSON.stringify(item)}`,
        { file },
      );
    }
    return item.split(",").map((s) => s.trim());
  });
}

/**
 * Checks `require-dbt-version` of the project (or package) `projectName`
 * against {@linkcode DBT_VERSION}; throws dbt's error when outside the range.
 */
export function checkRequiredDbtVersion(
  required: unknown,
  projectName: string,
  file: string,
  installedVersion: string = DBT_VERSION,
): void {
  if (required === undefined || required === null) return;
  const specs = requiredSpecifiers(required, file);
  const parsed = specs.map((s) => parseSpecifier(s, file));
  const installed = parseSpecifier(installedVersion, file);
  if (parsed.every((spec) => satisfies(installed, spec))) return;
  throw new DbtError(
    DbtErrorCode.invalidProject,
    `This version of dbt is not supported with the '${projectName}' package.\n` +
      `  Installed version of dbt: =${installedVersion}\n` +
      `  Required version of dbt for '${projectName}': [${
        specs.map((s) => `'${s}'`).join(", ")
      }]\n` +
      `Check for a different version of the '${projectName}' package, or run dbt again with ` +
      "--no-version-check",
    { file },
  );
}
