/**
 * A node's config, resolved from its layers, and checked: every dbt setting
 * either works or is refused with its name. A project that sets something
 * this runner does not do gets an error naming the key and the file, never
 * a green run that silently did less.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import type { BuildKind, IncrementalStrategy, ModelConfig, OnSchemaChange } from "../nodes.ts";

// `external` (DuckDB: a file in the lake with a view over it) is checked against the
// warehouse at build time, where a Postgres target refuses it by name.
const MATERIALIZED = new Set<string>(["view", "table", "incremental", "ephemeral", "external"]);
/** dbt adapters' own materializations this runner does not build (refused as unsupported). */
const NOT_BUILT = new Set<string>(["materialized_view", "dynamic_table", "clone"]);
const STRATEGIES = new Set<string>(["append", "delete+insert", "merge"]);
const ON_SCHEMA_CHANGE = new Set<string>([
  "ignore",
  "fail",
  "append_new_columns",
  "sync_all_columns",
]);

/**
 * dbt settings this runner does not implement, and when a value counts as
 * "set" (their defaults are accepted, so projects that spell them out load).
 */
const UNSUPPORTED: Readonly<Record<string, (value: unknown) => boolean>> = {
  incremental_predicates: (v) => Array.isArray(v) ? v.length > 0 : v !== undefined && v !== null,
  merge_update_columns: (v) => v !== undefined && v !== null,
  merge_exclude_columns: (v) => v !== undefined && v !== null,
  event_time: (v) => v !== undefined && v !== null,
  batch_size: (v) => v !== undefined && v !== null,
  indexes: (v) => Array.isArray(v) && v.length > 0,
};

function unsupported(key: string, file: string, what: string): never {
  throw new DbtError(
    DbtErrorCode.unsupported,
    `config '${key}' is set but this runner does not implement ${what}; ` +
      `remove it (or build this node with dbt-core)`,
    { file },
  );
}

function hooks(value: unknown): string[] {
  if (value === undefined || value === null) return [];
  return [value].flat().flatMap((hook) => {
    if (typeof hook === "string") return hook.trim() === "" ? [] : [hook];
    if (typeof hook === "object" && hook !== null && "sql" in hook) {
      const sql = (hook as { sql: unknown }).sql;
      return typeof sql === "string" ? [sql] : [];
    }
    return [];
  });
}

function grantsOf(value: unknown, file: string): Record<string, string[]> {
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      "config 'grants' must be a map of privilege to grantees, e.g. {select: [reporter]}",
      { file },
    );
  }
  const out: Record<string, string[]> = {};
  for (const [privilege, grantees] of Object.entries(value)) {
    if (!/^[a-z ]+$/i.test(privilege)) {
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `grants: '${privilege}' is not a privilege`,
        { file },
      );
    }
    out[privilege.replace(/^\+/, "")] = [grantees ?? []].flat().map(String);
  }
  return out;
}

/**
 * Resolves the layered config of a node of kind `kind` declared in `file`.
 * Throws `dbt.invalid_project` for a bad value and `dbt.unsupported` for a
 * setting this runner does not implement.
 */
export function resolveConfig(
  kind: BuildKind,
  all: Record<string, unknown>,
  file: string,
  hasMaterialization: (name: string) => boolean = () => false,
): ModelConfig {
  for (const [key, isSet] of Object.entries(UNSUPPORTED)) {
    if (isSet(all[key])) unsupported(key, file, `'${key}'`);
  }
  const materialized = kind === "model" ? String(all.materialized ?? "view") : kind;
  if (kind === "model" && !MATERIALIZED.has(materialized) && !hasMaterialization(materialized)) {
    if (NOT_BUILT.has(materialized)) {
      unsupported(
        "materialized",
        file,
        `materialized='${materialized}' (built in: view, table, incremental, ephemeral, ` +
          "external on DuckDB, and the project's or its packages' {% materialization %} blocks)",
      );
    }
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `materialized='${materialized}' names no materialization: built in are view, table, ` +
        `incremental, ephemeral (and external on DuckDB), and the project and its packages ` +
        `define no {% materialization ${materialized}, ... %} for this adapter. Fix the name ` +
        `or install the package that defines it (deno task dbt deps)`,
      { file },
    );
  }
  const strategy = all.incremental_strategy;
  if (strategy !== undefined && strategy !== null && !STRATEGIES.has(String(strategy))) {
    unsupported(
      "incremental_strategy",
      file,
      `incremental_strategy='${String(strategy)}' (supported: append, delete+insert, merge)`,
    );
  }
  const onSchemaChange = String(all.on_schema_change ?? "ignore");
  if (!ON_SCHEMA_CHANGE.has(onSchemaChange)) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `on_schema_change='${onSchemaChange}' is not one of ${[...ON_SCHEMA_CHANGE].join(", ")}`,
      { file },
    );
  }
  const contract = all.contract as { enforced?: unknown } | undefined;
  const key = all.unique_key;
  const tags = all.tags === undefined || all.tags === null ? [] : [all.tags].flat().map(String);
  const fullRefresh = all.full_refresh;
  return {
    materialized,
    schema: typeof all.schema === "string" && all.schema.length > 0 ? all.schema : undefined,
    alias: typeof all.alias === "string" && all.alias.length > 0 ? all.alias : undefined,
    unique_key: typeof key === "string" || Array.isArray(key)
      ? key as string | string[]
      : undefined,
    incremental_strategy: strategy === undefined || strategy === null
      ? undefined
      : strategy as IncrementalStrategy,
    on_schema_change: onSchemaChange as OnSchemaChange,
    tags,
    preHooks: hooks(all["pre-hook"] ?? all.pre_hook),
    postHooks: hooks(all["post-hook"] ?? all.post_hook),
    grants: grantsOf(all.grants, file),
    contractEnforced: contract?.enforced === true,
    fullRefresh: typeof fullRefresh === "boolean" ? fullRefresh : undefined,
    all: { ...all, materialized, tags },
  };
}

/** Whether `enabled` (possibly rendered text) says the node is disabled. */
export function isDisabled(enabled: unknown): boolean {
  return enabled === false || enabled === "false" || enabled === "False" || enabled === 0;
}
