/**
 * `dbt docs generate` and `dbt source freshness`: catalog.json (schema v1)
 * from the warehouse's information_schema, and sources.json (schema v3)
 * from each source's `loaded_at_field`.
 *
 * @module
 */

import type { Warehouse } from "../warehouse/types.ts";
import { DBT_VERSION, freshnessTimeJson } from "./artifacts.ts";
import type { DbtProject, SourceNode } from "./nodes.ts";
import type { Relation } from "./relation.ts";
import { toError } from "../../core/errors.ts";

/** `metadata.dbt_schema_version` of catalog.json. */
export const CATALOG_SCHEMA = "https://schemas.getdbt.com/dbt/catalog/v1.json";
/** `metadata.dbt_schema_version` of sources.json. */
export const SOURCES_SCHEMA = "https://schemas.getdbt.com/dbt/sources/v3.json";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

interface ColumnRow {
  table_catalog: string;
  table_schema: string;
  table_name: string;
  table_type: string;
  column_name: string;
  data_type: string;
  ordinal_position: number;
}

/** catalog.json of the built relations of `project` (nodes and sources that exist). */
export async function buildCatalog(
  project: DbtProject,
  warehouse: Warehouse,
  options: { readonly invocationId: string; readonly now: number },
): Promise<Record<string, Json>> {
  const relations = [
    ...[...project.nodes.values()].filter((n) => n.config.materialized !== "ephemeral")
      .map((n) => ({ id: n.uniqueId, relation: n.relation, kind: "node" as const })),
    ...[...project.sources.values()].map((s) => ({
      id: s.uniqueId,
      relation: s.relation,
      kind: "source" as const,
    })),
  ];
  const schemas = [...new Set(relations.map((r) => r.relation.schema))];
  // Plain SQL both Postgres and DuckDB run (a jsonb array of the schemas failed on DuckDB).
  const rows = schemas.length === 0 ? [] : await warehouse.query<ColumnRow>(
    `select c.table_catalog::text as table_catalog, c.table_schema::text as table_schema,
            c.table_name::text as table_name, t.table_type::text as table_type,
            c.column_name::text as column_name, c.data_type::text as data_type,
            c.ordinal_position::int as ordinal_position
     from information_schema.columns c
     join information_schema.tables t on t.table_catalog = c.table_catalog
       and t.table_schema = c.table_schema and t.table_name = c.table_name
     where c.table_schema in (${schemas.map((_, i) => `$${i + 1}`).join(", ")})
     order by c.table_catalog, c.table_schema, c.table_name, c.ordinal_position`,
    schemas,
  );
  // By table, then by database: DuckDB lists every attached database's `main` schema.
  const byTable = new Map<string, Map<string, ColumnRow[]>>();
  for (const row of rows) {
    const key = `${row.table_schema}.${row.table_name}`;
    const catalogs = byTable.get(key) ?? new Map<string, ColumnRow[]>();
    byTable.set(key, catalogs);
    catalogs.set(row.table_catalog, [...(catalogs.get(row.table_catalog) ?? []), row]);
  }
  const columnsOf = (relation: Relation): ColumnRow[] | undefined => {
    const catalogs = byTable.get(`${relation.schema}.${relation.identifier}`);
    if (!catalogs) return undefined;
    const database = relation.database.toLowerCase();
    const own = [...catalogs].find(([catalog]) => catalog.toLowerCase() === database);
    return own?.[1] ?? (catalogs.size === 1 ? [...catalogs.values()][0] : undefined);
  };
  const nodes: Record<string, Json> = {};
  const sources: Record<string, Json> = {};
  for (const { id, relation, kind } of relations) {
    const columns = columnsOf(relation);
    if (!columns || columns.length === 0) continue;
    const entry = {
      metadata: {
        type: columns[0]?.table_type === "VIEW" ? "VIEW" : "BASE TABLE",
        schema: relation.schema,
        name: relation.identifier,
        database: relation.database,
        comment: null,
        owner: null,
      },
      columns: Object.fromEntries(columns.map((c) => [c.column_name, {
        type: c.data_type,
        index: c.ordinal_position,
        name: c.column_name,
        comment: null,
      }])),
      stats: {
        has_stats: {
          id: "has_stats",
          label: "Has Stats?",
          value: false,
          include: false,
          description: "Indicates whether there are statistics for this table",
        },
      },
      unique_id: id,
    };
    (kind === "node" ? nodes : sources)[id] = entry;
  }
  return {
    metadata: {
      dbt_schema_version: CATALOG_SCHEMA,
      dbt_version: DBT_VERSION,
      generated_at: new Date(options.now).toISOString(),
      invocation_id: options.invocationId,
      env: { ...project.metadataEnv },
    },
    nodes,
    sources,
    errors: null,
  };
}

/** Freshness of one source: `pass`, `warn`, `error`, or `runtime error`. */
export interface FreshnessResult {
  /** Source id. */
  readonly uniqueId: string;
  /** Status. */
  readonly status: "pass" | "warn" | "error" | "runtime error";
  /** Newest load time, or null. */
  readonly maxLoadedAt: string | null;
  /** Age in seconds. */
  readonly ageSeconds: number | null;
  /** Error message, for runtime errors. */
  readonly error: string | null;
}

/** Checks one source's freshness at `now`. */
export async function checkFreshness(
  warehouse: Warehouse,
  source: SourceNode,
  now: number,
): Promise<FreshnessResult> {
  const rule = source.freshness;
  if (!rule || !source.loadedAtField) {
    return {
      uniqueId: source.uniqueId,
      status: "pass",
      maxLoadedAt: null,
      ageSeconds: null,
      error: null,
    };
  }
  try {
    const [row] = await warehouse.query<{ latest: Date | string | null }>(
      `select max(${source.loadedAtField}) as latest from ${source.relation}` +
        (rule.filter ? ` where ${rule.filter}` : ""),
    );
    const latest = row?.latest ? new Date(row.latest).getTime() : null;
    const age = latest === null ? Infinity : now - latest;
    const late = (limit: number | null) => limit !== null && age > limit;
    return {
      uniqueId: source.uniqueId,
      status: late(rule.errorAfterMs) ? "error" : late(rule.warnAfterMs) ? "warn" : "pass",
      maxLoadedAt: latest === null ? null : new Date(latest).toISOString(),
      ageSeconds: latest === null ? null : age / 1000,
      error: null,
    };
  } catch (error) {
    return {
      uniqueId: source.uniqueId,
      status: "runtime error",
      maxLoadedAt: null,
      ageSeconds: null,
      error: toError(error).message,
    };
  }
}

/** `dbt source freshness`: every source with a rule, as sources.json v3 and progress lines. */
export async function sourceFreshness(
  project: DbtProject,
  warehouse: Warehouse,
  options: {
    readonly invocationId: string;
    readonly now: number;
    /** The selected unique ids (`-s source:x`): other sources are not checked. */
    readonly only?: ReadonlySet<string>;
  },
): Promise<{ json: Record<string, Json>; lines: string[]; worst: FreshnessResult["status"] }> {
  const checked = [...project.sources.values()].filter((s) =>
    s.freshness && s.loadedAtField && (options.only?.has(s.uniqueId) ?? true)
  );
  const lines: string[] = [];
  const results: Json[] = [];
  const rank = ["pass", "warn", "error", "runtime error"] as const;
  let worst: FreshnessResult["status"] = "pass";
  const at = new Date(options.now).toISOString();
  for (const [i, source] of checked.entries()) {
    const result = await checkFreshness(warehouse, source, options.now);
    if (rank.indexOf(result.status) > rank.indexOf(worst)) worst = result.status;
    lines.push(
      `${
        i + 1
      } of ${checked.length} ${result.status.toUpperCase()} freshness of ${source.sourceName}.${source.name}` +
        (result.maxLoadedAt
          ? ` (newest ${result.maxLoadedAt})`
          : result.error
          ? `: ${result.error}`
          : " (no rows)"),
    );
    const criteria = {
      warn_after: freshnessTimeJson(source.freshness?.raw.warn_after),
      error_after: freshnessTimeJson(source.freshness?.raw.error_after),
      filter: source.freshness?.filter ?? null,
    };
    results.push(
      result.status === "runtime error"
        ? { unique_id: source.uniqueId, error: result.error ?? null, status: "runtime error" }
        : {
          unique_id: source.uniqueId,
          max_loaded_at: result.maxLoadedAt ?? at,
          snapshotted_at: at,
          max_loaded_at_time_ago_in_s: result.ageSeconds ?? 0,
          status: result.status,
          criteria,
          adapter_response: {},
          timing: [],
          thread_id: "Thread-1",
          execution_time: 0,
        },
    );
  }
  return {
    json: {
      metadata: {
        dbt_schema_version: SOURCES_SCHEMA,
        dbt_version: DBT_VERSION,
        generated_at: at,
        invocation_id: options.invocationId,
        env: { ...project.metadataEnv },
      },
      results,
      elapsed_time: 0,
    },
    lines,
    worst,
  };
}
