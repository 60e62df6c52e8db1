/**
 * `dbt_project.yml`: name, profile, paths, vars and the hierarchical model
 * configs (`+materialized`, `+schema`...) that apply by folder.
 *
 * @module
 */

import { z } from "zod";
import { clip } from "../../../core/printable.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import { parseYaml, yamlNumber } from "./yaml.ts";

const paths = (fallback: string) => z.array(z.string().min(1)).default([fallback]);

/** The zod schema of `dbt_project.yml` (the fields the runner reads; others are kept). */
export const ProjectFileSchema = z.looseObject({
  name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "must be a lowercase identifier"),
  version: z.union([z.string(), yamlNumber()]).optional(),
  "config-version": yamlNumber().optional(),
  profile: z.string().min(1).optional(),
  "model-paths": paths("models"),
  "macro-paths": paths("macros"),
  "test-paths": paths("tests"),
  "seed-paths": paths("seeds"),
  "snapshot-paths": paths("snapshots"),
  "docs-paths": z.array(z.string().min(1)).optional(),
  "analysis-paths": z.array(z.string()).optional(),
  "target-path": z.string().default("target"),
  "packages-install-path": z.string().default("dbt_packages"),
  vars: z.record(z.string(), z.unknown()).default({}),
  models: z.record(z.string(), z.unknown()).default({}),
  seeds: z.record(z.string(), z.unknown()).default({}),
  snapshots: z.record(z.string(), z.unknown()).default({}),
  data_tests: z.record(z.string(), z.unknown()).default({}),
  tests: z.record(z.string(), z.unknown()).default({}),
  "on-run-start": z.union([z.string(), z.array(z.string())]).optional(),
  "on-run-end": z.union([z.string(), z.array(z.string())]).optional(),
  quoting: z.record(z.string(), z.unknown()).default({}),
  dispatch: z.array(z.object({
    macro_namespace: z.string().min(1),
    search_order: z.array(z.string().min(1)).min(1),
  })).default([]),
});

/** A parsed `dbt_project.yml`. */
export type ProjectFile = z.output<typeof ProjectFileSchema>;

/**
 * Reads and validates `dbt_project.yml` of `projectDir`. Throws
 * `dbt.invalid_project` when there is none, naming the folder.
 */
export async function readProjectFile(projectDir: string, label = ""): Promise<ProjectFile> {
  const file = `${label}dbt_project.yml`;
  let text: string;
  try {
    text = await Deno.readTextFile(`${projectDir}/dbt_project.yml`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `no dbt_project.yml in ${projectDir}: not a dbt project ` +
          "(pass --project-dir, or set DBT_PROJECT_DIR for the asset graph)",
        { file },
      );
    }
    throw error;
  }
  const yaml = parseYaml(text, file, ProjectFileSchema);
  const parsed = yaml.value;
  for (const section of ["models", "seeds", "snapshots", "data_tests", "tests"] as const) {
    checkConfigTypes(parsed[section], [section], (path, message) => {
      throw new DbtError(DbtErrorCode.invalidYaml, `${path.join(".")}: ${message}`, {
        file,
        ...(yaml.lineOf(path) === undefined ? {} : { line: yaml.lineOf(path) }),
      });
    });
  }
  // dbt 1.x still reads the pre-1.0 names when the new ones are absent (with a warning).
  const raw = parsed as Record<string, unknown>;
  const legacy = (old: string, now: "model-paths" | "seed-paths") =>
    Array.isArray(raw[old]) && !new RegExp(`^${now}\\s*:`, "m").test(text)
      ? { [now]: (raw[old] as unknown[]).map(String) }
      : {};
  return {
    ...parsed,
    ...legacy("source-paths", "model-paths"),
    ...legacy("data-paths", "seed-paths"),
  };
}

/** What each config whose type `dbt_project.yml` checks may be, and the check. */
const CONFIG_TYPES: Readonly<Record<string, { what: string; ok: (value: unknown) => boolean }>> = {
  materialized: {
    what: "a materialization name such as view, table or incremental",
    ok: (v) => typeof v === "string" && v.trim() !== "",
  },
  // Jinja (`"{{ target.name == 'prod' }}"`) is text until rendered.
  enabled: { what: "true or false", ok: (v) => typeof v === "boolean" || typeof v === "string" },
  full_refresh: {
    what: "true, false or null",
    ok: (v) => v === null || typeof v === "boolean" || typeof v === "string",
  },
  schema: { what: "a schema name (or null)", ok: (v) => v === null || typeof v === "string" },
  alias: { what: "a relation name (or null)", ok: (v) => v === null || typeof v === "string" },
  database: { what: "a database name (or null)", ok: (v) => v === null || typeof v === "string" },
  tags: {
    what: "a tag or a list of tags",
    ok: (v) => typeof v === "string" || (Array.isArray(v) && v.every((t) => typeof t === "string")),
  },
};

/**
 * Calls `fail` for the first folder config under `node` whose value cannot be
 * that config (`+materialized: []`, `+enabled: 3`): dbt-core refuses them, and
 * read as text ('materialized=""') the error blamed each model, not this file.
 */
function checkConfigTypes(
  node: unknown,
  path: readonly string[],
  fail: (path: string[], message: string) => never,
): void {
  if (typeof node !== "object" || node === null || Array.isArray(node)) return;
  for (const [key, value] of Object.entries(node)) {
    const name = key.startsWith("+") ? key.slice(1) : key;
    const isConfig = key.startsWith("+") || KNOWN_CONFIGS.has(key);
    const type = CONFIG_TYPES[name];
    if (isConfig && type) {
      // Without '+', a mapping under a config's name is a folder of that name.
      if (
        !key.startsWith("+") && typeof value === "object" && value !== null && !Array.isArray(value)
      ) {
        checkConfigTypes(value, [...path, key], fail);
      } else if (!type.ok(value)) {
        fail(
          [...path, key],
          `must be ${type.what}, got ${clip(JSON.stringify(value) ?? String(value), 60)}`,
        );
      }
    } else if (!isConfig) checkConfigTypes(value, [...path, key], fail);
  }
}

/** Config keys that may be written without `+` in `dbt_project.yml` (legacy style). */
const KNOWN_CONFIGS = new Set([
  "materialized",
  "schema",
  "alias",
  "database",
  "tags",
  "enabled",
  "unique_key",
  "incremental_strategy",
  "full_refresh",
  "meta",
  "docs",
  "persist_docs",
  "on_schema_change",
  "pre-hook",
  "post-hook",
  "grants",
  "contract",
  "column_types",
  "quote_columns",
  "delimiter",
  "severity",
  "store_failures",
  "warn_if",
  "error_if",
  "strategy",
  "updated_at",
  "check_cols",
  "target_schema",
  "hard_deletes",
  "invalidate_hard_deletes",
  "snapshot_meta_column_names",
  "dbt_valid_to_current",
  "docs",
  "group",
  "access",
]);

/** Configs whose value is a map, so a map under that key is a config, not a folder. */
const OBJECT_CONFIGS = new Set([
  "meta",
  "grants",
  "contract",
  "column_types",
  "docs",
  "persist_docs",
  "snapshot_meta_column_names",
]);

/**
 * The configs `dbt_project.yml` gives a model at `fqnPath` (its folders and
 * name, without the project name), the deeper level winning; `tags` add up.
 *
 * @example
 * ```ts
 * import { folderConfig } from "./project_file.ts";
 * const models = { demo: { "+materialized": "view", marts: { "+materialized": "table" } } };
 * folderConfig(models, "demo", ["marts", "fct"]); // { materialized: "table" }
 * ```
 */
export function folderConfig(
  models: Readonly<Record<string, unknown>>,
  projectName: string,
  fqnPath: readonly string[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  // Configs that apply to every package (`+x` at the top) come first.
  for (const [key, value] of Object.entries(models)) {
    if (key.startsWith("+")) out[key.slice(1)] = value;
  }
  let level: unknown = models[projectName];
  const apply = (node: unknown) => {
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      const name = key.startsWith("+") ? key.slice(1) : key;
      if (!key.startsWith("+") && !KNOWN_CONFIGS.has(key)) continue; // a sub-folder
      if (
        !key.startsWith("+") && typeof value === "object" && value !== null &&
        !Array.isArray(value) &&
        !OBJECT_CONFIGS.has(name)
      ) {
        continue; // a folder that happens to share a config's name
      }
      if (name === "tags" || name === "pre-hook" || name === "post-hook") {
        const prior = out[name] === undefined ? [] : [out[name]].flat();
        out[name] = [...prior, ...[value].flat()];
      } else {
        out[name] = value;
      }
    }
  };
  apply(level);
  for (const segment of fqnPath) {
    if (typeof level !== "object" || level === null) break;
    level = (level as Record<string, unknown>)[segment];
    apply(level);
  }
  return out;
}
