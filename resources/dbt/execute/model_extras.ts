/**
 * What a model build does besides its SQL: hooks, grants, enforced
 * contracts and `on_schema_change` of incremental models.
 *
 * @module
 */

import type { Warehouse, WarehouseSession } from "../../warehouse/types.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import type { DbtProject, ModelNode, QueryResult } from "../nodes.ts";
import { quote } from "../relation.ts";
import { renderHookText } from "./hooks.ts";

/** Renders one pre- or post-hook of `model` (Jinja: `this`, `target`, vars...). */
export async function renderHook(
  project: DbtProject,
  model: ModelNode,
  hook: string,
  query: (sql: string) => Promise<QueryResult>,
): Promise<string> {
  return await renderHookText(project, hook, { file: model.file, self: model.relation, query });
}

/** Applies `grants:` after a build: `grant <privilege> on <relation> to <grantee>`. */
export async function applyGrants(warehouse: Warehouse, model: ModelNode): Promise<void> {
  const entries = Object.entries(model.config.grants);
  if (entries.length === 0 || model.config.materialized === "ephemeral") return;
  for (const [privilege, grantees] of entries) {
    for (const grantee of grantees) {
      try {
        await warehouse.execute(`grant ${privilege} on ${model.relation} to ${quote(grantee)}`);
      } catch (error) {
        throw new DbtError(
          DbtErrorCode.modelFailed,
          `grants: cannot grant ${privilege} on ${model.relation} to '${grantee}': ${
            error instanceof Error ? error.message : String(error)
          } (does the role exist on ${warehouse.location}?)`,
          { file: model.file },
          error,
        );
      }
    }
  }
}

interface Col {
  name: string;
  type: string;
}

async function columnsOfQuery(session: WarehouseSession, sql: string): Promise<Col[]> {
  const view = `__dbt_contract_${crypto.randomUUID().replaceAll("-", "")}`;
  await session.execute(`create temporary view ${view} as (\n${sql}\n)`);
  try {
    return await session.query<Col>(
      `select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type
       from pg_catalog.pg_attribute a where a.attrelid = to_regclass($1) and a.attnum > 0
       and not a.attisdropped order by a.attnum`,
      [view],
    );
  } finally {
    await session.execute(`drop view if exists ${view}`);
  }
}

const TYPE_ALIASES: Readonly<Record<string, string>> = {
  int: "integer",
  int4: "integer",
  int8: "bigint",
  int2: "smallint",
  float: "double precision",
  float8: "double precision",
  float4: "real",
  varchar: "character varying",
  text: "text",
  bool: "boolean",
  timestamp: "timestamp without time zone",
  timestamptz: "timestamp with time zone",
  numeric: "numeric",
  decimal: "numeric",
  string: "text",
};

function normalType(type: string): string {
  const t = type.trim().toLowerCase();
  const base = t.replace(/\(.*\)$/, "").trim();
  return TYPE_ALIASES[base] ?? base;
}

/**
 * `contract: {enforced: true}`: the SQL's columns must be exactly the
 * declared ones, with their declared `data_type`s. Throws
 * `dbt.contract_failed` listing every difference.
 */
export async function checkContract(
  warehouse: Warehouse,
  model: ModelNode,
  sql: string,
): Promise<void> {
  const declared = Object.values(model.columns);
  if (declared.length === 0) {
    throw new DbtError(
      DbtErrorCode.contractFailed,
      `model '${model.name}' enforces a contract but declares no columns; list them with data_type`,
      { file: model.file },
    );
  }
  const actual = await warehouse.transaction((tx) => columnsOfQuery(tx, sql));
  const problems: string[] = [];
  const byName = new Map(actual.map((c) => [c.name, c]));
  for (const column of declared) {
    const found = byName.get(column.name);
    if (!found) problems.push(`column '${column.name}' is declared but not returned`);
    else if (!column.data_type) problems.push(`column '${column.name}' has no data_type`);
    else if (normalType(column.data_type) !== normalType(found.type)) {
      problems.push(`column '${column.name}' is ${found.type}, declared ${column.data_type}`);
    }
  }
  for (const column of actual) {
    if (!declared.some((d) => d.name === column.name)) {
      problems.push(`column '${column.name}' is returned but not declared`);
    }
  }
  if (problems.length > 0) {
    throw new DbtError(
      DbtErrorCode.contractFailed,
      `model '${model.name}' breaks its enforced contract: ${problems.join("; ")}`,
      { file: model.file },
    );
  }
}

/**
 * `on_schema_change` of an incremental run, comparing the new rows in
 * `tmp` with the live table: `ignore` does nothing, `fail` throws naming
 * the columns, `append_new_columns` adds new ones, `sync_all_columns` also
 * drops gone ones.
 */
export async function syncSchema(
  tx: WarehouseSession,
  model: ModelNode,
  tmp: string,
): Promise<void> {
  const mode = model.config.on_schema_change;
  if (mode === "ignore") return;
  const live = await tx.columns(model.relation.schema, model.relation.identifier);
  const fresh = await tx.query<Col>(
    `select a.attname::text as name, format_type(a.atttypid, a.atttypmod) as type
     from pg_catalog.pg_attribute a where a.attrelid = to_regclass($1) and a.attnum > 0
     and not a.attisdropped order by a.attnum`,
    [tmp],
  );
  const added = fresh.filter((c) => !live.some((l) => l.name === c.name));
  const removed = live.filter((l) => !fresh.some((c) => c.name === l.name));
  if (added.length === 0 && removed.length === 0) return;
  if (mode === "fail") {
    throw new DbtError(
      DbtErrorCode.modelFailed,
      `incremental model '${model.name}' changed columns (added: ${
        added.map((c) => c.name).join(", ") || "none"
      }; removed: ${removed.map((c) => c.name).join(", ") || "none"}) and on_schema_change is ` +
        "'fail'; run with --full-refresh or set on_schema_change",
      { file: model.file },
    );
  }
  for (const column of added) {
    await tx.execute(
      `alter table ${model.relation} add column ${quote(column.name)} ${column.type}`,
    );
  }
  if (mode === "sync_all_columns") {
    for (const column of removed) {
      await tx.execute(`alter table ${model.relation} drop column ${quote(column.name)}`);
    }
  }
}
