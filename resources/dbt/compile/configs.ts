/**
 * A node's config, resolved from its layers, and checked: every dbt setting
 * either works or is refused with its name. A project that sets something
 * this runner does not do gets an error naming the key and the file, never
 * a green run that silently did less.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import type {
  BatchSize,
  BuildKind,
  IncrementalStrategy,
  MicrobatchConfig,
  ModelConfig,
  OnSchemaChange,
} from "../nodes.ts";

// `external` (DuckDB: a file in the lake with a view over it) is checked against the
// warehouse at build time, where a Postgres target refuses it by name.
const MATERIALIZED = new Set<string>(["view", "table", "incremental", "ephemeral", "external"]);
/** dbt adapters' own materializations this runner does not build (refused as unsupported). */
const NOT_BUILT = new Set<string>(["materialized_view", "dynamic_table", "clone"]);
const STRATEGIES = new Set<string>(["append", "delete+insert", "merge", "microbatch"]);
const BATCH_SIZES = new Set<string>(["hour", "day", "month", "year"]);
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
  name: string = file.replace(/^.*\//, "").replace(/\.[^.]*$/, ""),
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
      `incremental_strategy=${
        typeof strategy === "string" ? `'${strategy}'` : shownConfig(strategy)
      } (supported: append, delete+insert, merge, ` +
        "microbatch)",
    );
  }
  const eventTime = all.event_time;
  if (eventTime !== undefined && eventTime !== null && typeof eventTime !== "string") {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `${kind} '${name}': config 'event_time' must be the name of a column (a string), not ` +
        `${JSON.stringify(eventTime)}`,
      { file },
    );
  }
  const microbatch = materialized === "incremental" && strategy === "microbatch"
    ? microbatchConfig(all, name, file)
    : undefined;
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
    eventTime: typeof eventTime === "string" && eventTime !== "" ? eventTime : undefined,
    microbatch,
    all: { ...all, materialized, tags },
  };
}

/** Whether `enabled` (possibly rendered text) says the node is disabled. */
export function isDisabled(enabled: unknown): boolean {
  return enabled === false || enabled === "false" || enabled === "False" || enabled === 0;
}

/**
 * The settings of a microbatch model, checked as dbt checks them when it
 * parses: `event_time` (a column name), `batch_size` (hour, day, month,
 * year), `begin` (a date or datetime, UTC when it has no offset), `lookback`
 * (a whole number, default 1), `concurrent_batches` (a boolean).
 */
function microbatchConfig(
  all: Readonly<Record<string, unknown>>,
  name: string,
  file: string,
): MicrobatchConfig {
  const fail = (what: string): never => {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `microbatch model '${name}' ${what}`,
      { file },
    );
  };
  const eventTime = all.event_time;
  if (typeof eventTime !== "string" || eventTime === "") {
    fail(
      "must provide an 'event_time' config naming its event time column (a string), e.g. " +
        "config(event_time='created_at')",
    );
  }
  const batchSize = all.batch_size;
  if (typeof batchSize !== "string" || !BATCH_SIZES.has(batchSize)) {
    fail(
      `must provide a 'batch_size' config that is one of [${[...BATCH_SIZES].join(", ")}]` +
        (batchSize === undefined || batchSize === null ? "" : `, not ${JSON.stringify(batchSize)}`),
    );
  }
  const begin = beginOf(all.begin);
  if (begin === undefined) {
    fail(
      "must provide a 'begin' config (a date or datetime such as '2024-01-01' or " +
        "'2024-01-01 00:00:00') saying the earliest time it is built from" +
        (all.begin === undefined || all.begin === null
          ? ""
          : `; ${shownConfig(all.begin)} is not one`),
    );
  }
  const lookback = all.lookback ?? 1;
  if (typeof lookback !== "number" || !Number.isInteger(lookback) || lookback < 0) {
    fail(`has 'lookback' ${JSON.stringify(lookback)}: it must be a whole number of batches (>= 0)`);
  }
  const concurrent = all.concurrent_batches ?? null;
  if (concurrent !== null && typeof concurrent !== "boolean") {
    fail(`has 'concurrent_batches' ${JSON.stringify(concurrent)}: it must be true or false`);
  }
  return {
    eventTime: eventTime as string,
    batchSize: batchSize as BatchSize,
    begin: begin as number,
    lookback: lookback as number,
    concurrentBatches: concurrent as boolean | null,
  };
}

/** A config value as written in a message: JSON (a dict from YAML or Jinja too), never `[object Object]`. */
function shownConfig(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value); // a cycle or a BigInt
  }
}

/**
 * `begin` as ms since the epoch: an ISO date or datetime text (a space or
 * `T` between them; no offset means UTC, as dbt reads it), a Jinja
 * `modules.datetime` value, or a YAML timestamp.
 */
export function beginOf(value: unknown): number | undefined {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? undefined : value.getTime();
  if (typeof value === "object" && value !== null && "__date" in value) {
    const date = (value as { __date: unknown }).__date;
    return date instanceof Date ? date.getTime() : undefined;
  }
  if (typeof value !== "string") return undefined;
  return parseUtcTime(value);
}

/**
 * An ISO date or datetime (`2024-01-01`, `2024-01-01 05:00:00`,
 * `2024-01-01T05:00`, with an optional `Z` or offset) as ms since the
 * epoch, UTC when no offset is given; undefined when it is not one.
 */
export function parseUtcTime(text: string): number | undefined {
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?$/
      .exec(text.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = match;
  const ms = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h ?? 0),
    Number(mi ?? 0),
    Number(sec ?? 0),
    Math.floor(Number(`0.${frac ?? "0"}`) * 1000),
  );
  const check = new Date(ms);
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d)) return undefined;
  if (Number(h ?? 0) > 23 || Number(mi ?? 0) > 59 || Number(sec ?? 0) > 59) return undefined;
  if (zone === undefined || zone === "Z") return ms;
  const sign = zone.startsWith("-") ? -1 : 1;
  const digits = zone.slice(1).replace(":", "");
  return ms - sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2))) * 60_000;
}
