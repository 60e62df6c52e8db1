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
import { adapterOf } from "../adapters/adapter_for.ts";
import { toError } from "../../../core/errors.ts";

/**
 * Runs a node's `sql_header` config (`{{ config(sql_header=...) }}` or
 * `{% call set_sql_header(config) %}`) in `session`, right before the statement
 * that creates its relation, as dbt-postgres prepends it to that statement
 * (same session and transaction, so `set local`, temporary functions and
 * search paths apply to the create).
 */
export async function runSqlHeader(
  session: WarehouseSession,
  config: Readonly<Record<string, unknown>>,
): Promise<void> {
  const header = config.sql_header;
  if (header === undefined || header === null) return;
  const text = String(header).trim();
  if (text !== "") await session.exec(text);
}

/** Renders one pre- or post-hook of `model` (Jinja: `this`, `target`, vars...). */
export async function renderHook(
  project: DbtProject,
  model: ModelNode,
  hook: string,
  query: (sql: string) => Promise<QueryResult>,
): Promise<string> {
  return await renderHookText(project, hook, {
    file: model.file,
    self: model.relation,
    packageName: model.packageName,
    nodeName: model.name,
    query,
  });
}

/** Applies `grants:` after a build: `grant <privilege> on <relation> to <grantee>`. */
export async function applyGrants(warehouse: Warehouse, model: ModelNode): Promise<void> {
  const entries = Object.entries(model.config.grants);
  if (entries.length === 0 || model.config.materialized === "ephemeral") return;
  const adapter = adapterOf(warehouse);
  for (const [privilege, grantees] of entries) {
    for (const grantee of grantees) {
      try {
        await adapter.grant(warehouse, privilege, model.relation, grantee);
      } catch (error) {
        if (error instanceof DbtError) {
          throw new DbtError(error.code, error.message, { file: model.file }, error);
        }
        throw new DbtError(
          DbtErrorCode.modelFailed,
          `grants: cannot grant ${privilege} on ${model.relation} to '${grantee}': ${
            toError(error).message
          } (does the role exist on ${warehouse.location}?)`,
          { file: model.file },
          error,
        );
      }
    }
  }
}

/**
 * `persist_docs: {relation: true, columns: true}`: the node's description and
 * its documented columns' descriptions as comments in the warehouse, where BI
 * tools and `\d+` read them. Columns the built relation lacks are skipped (a
 * properties file may document more than the SQL returns), as dbt does.
 */
export async function persistDocs(warehouse: Warehouse, model: ModelNode): Promise<void> {
  const setting = model.config.all.persist_docs;
  if (
    typeof setting !== "object" || setting === null || model.config.materialized === "ephemeral"
  ) {
    return;
  }
  const { relation: onRelation, columns: onColumns } = setting as Record<string, unknown>;
  const kind = model.config.materialized === "view" ? "view" : "table";
  const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;
  try {
    if (onRelation === true && model.description.trim() !== "") {
      await warehouse.exec(
        `comment on ${kind} ${model.relation} is ${literal(model.description.trim())}`,
      );
    }
    if (onColumns !== true) return;
    const documented = Object.values(model.columns).filter((c) => c.description.trim() !== "");
    if (documented.length === 0) return;
    const live = new Set(
      (await warehouse.columns(model.relation.schema, model.relation.identifier)).map((c) =>
        c.name
      ),
    );
    for (const column of documented) {
      if (!live.has(column.name)) continue;
      await warehouse.exec(
        `comment on column ${model.relation}.${quote(column.name)} is ${
          literal(column.description.trim())
        }`,
      );
    }
  } catch (error) {
    throw new DbtError(
      DbtErrorCode.modelFailed,
      `persist_docs: cannot comment on ${model.relation}: ${toError(error).message}`,
      { file: model.file },
      error,
    );
  }
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
  const adapter = adapterOf(warehouse);
  const actual = await warehouse.transaction((tx) => adapter.queryColumns(tx, sql));
  const problems: string[] = [];
  const byName = new Map(actual.map((c) => [c.name, c]));
  for (const column of declared) {
    const found = byName.get(column.name);
    if (!found) problems.push(`column '${column.name}' is declared but not returned`);
    else if (!column.data_type) problems.push(`column '${column.name}' has no data_type`);
    else if (adapter.normalType(column.data_type) !== adapter.normalType(found.type)) {
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
 * temporary table `tmp` (its name, unquoted) with the live table: `ignore` does nothing, `fail` throws naming
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
  const fresh = await adapterOf(tx).tempColumns(tx, tmp);
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
