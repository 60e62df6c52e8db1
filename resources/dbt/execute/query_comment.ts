/**
 * dbt's `query-comment` (dbt_project.yml): a comment, rendered with Jinja
 * (`node`, `target`, `dbt_version`, `env_var`, the project's macros), put
 * before each statement sent to the warehouse (`/* ... *\/` then a newline)
 * or after it with `append: true` (before a trailing `;`), as dbt's
 * connection does. `query-comment: null` or `''` sends none; without the key
 * (or with a mapping that gives no `comment`) dbt's default comment is sent:
 * `{"app": "dbt", "dbt_version": ..., "profile_name": ..., "target_name":
 * ..., "node_id": ...}` (`connection_name` instead of `node_id` outside a
 * node), written here without a render: dbt's template for it is fixed, so
 * the text is known, and a build renders no Jinja per node for it.
 * `job-label` is BigQuery's; it is refused here rather than ignored.
 *
 * Statements a build runs through the warehouse it is given carry the
 * comment; catalog look-ups the adapters make for themselves do not.
 *
 * @module
 */

import type { Warehouse, WarehouseSession } from "../../warehouse/types.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import type { DbtProject, QueryResult } from "../nodes.ts";
import { DBT_VERSION, queryCommentSetting } from "../project/project_keys.ts";
import { pyJsonDumps } from "../jinja/builtins.ts";

/** `sql` with the comment added, as dbt's connection adds it. */
export function addComment(sql: string, comment: string, append: boolean): string {
  if (!append) return `/* ${comment} */\n${sql}`;
  const trimmed = sql.trimEnd();
  return trimmed.endsWith(";")
    ? `${trimmed.slice(0, -1)}\n/* ${comment} */;`
    : `${trimmed}\n/* ${comment} */`;
}

const FILE = "dbt_project.yml";

const SQL_METHODS = new Set(["query", "queryTable", "execute", "exec"]);

function commented<T extends WarehouseSession>(
  session: T,
  comment: string,
  append: boolean,
): T {
  // A prepended comment moves the server's error position; give callers the statement's own.
  const shift = append ? 0 : comment.length + 7;
  const unshift = (error: unknown): never => {
    let current: unknown = error;
    for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
      const holder = current as { position?: unknown; cause?: unknown };
      const position = Number(holder.position);
      if (Number.isInteger(position) && position > shift && shift > 0) {
        try {
          holder.position = typeof holder.position === "string"
            ? String(position - shift)
            : position - shift;
        } catch {
          // A read-only position stays as the server gave it.
        }
      }
      current = holder.cause;
    }
    throw error;
  };
  return new Proxy(session, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      if (typeof key === "string" && SQL_METHODS.has(key)) {
        return (sql: string, ...rest: unknown[]) =>
          (value as (...a: unknown[]) => Promise<unknown>)
            .call(target, addComment(sql, comment, append), ...rest)
            .catch(unshift);
      }
      if (key === "transaction") {
        return <R>(fn: (tx: WarehouseSession) => Promise<R>) =>
          (target as unknown as Warehouse).transaction((tx) => fn(commented(tx, comment, append)));
      }
      return value.bind(target);
    },
  });
}

/** The `node` a query comment sees for a model, seed, snapshot or test. */
export function commentNode(node: {
  readonly uniqueId: string;
  readonly name: string;
  readonly packageName?: string;
  readonly file: string;
  readonly tags?: readonly string[];
}): Record<string, unknown> {
  return {
    unique_id: node.uniqueId,
    name: node.name,
    resource_type: node.uniqueId.split(".")[0],
    package_name: node.packageName ?? node.uniqueId.split(".")[1] ?? null,
    original_file_path: node.file,
    tags: node.tags ?? [],
  };
}

/**
 * dbt-core's default query comment for `node` (null: a statement outside a
 * node, which dbt runs on its `master` connection), as its template renders
 * it: Python's `json.dumps` of app, dbt_version, profile_name, target_name
 * and node_id (or connection_name).
 */
export function defaultComment(
  project: DbtProject,
  node: Readonly<Record<string, unknown>> | null,
): string {
  return pyJsonDumps({
    app: "dbt",
    dbt_version: DBT_VERSION,
    profile_name: project.projectFile.profile ?? project.projectFile.name,
    target_name: project.target.name,
    ...(node === null ? { connection_name: "master" } : { node_id: node.unique_id ?? null }),
  }, false);
}

/**
 * `warehouse` with the project's query comment on every statement, rendered
 * for `node` (a dict like dbt's node: unique_id, name, resource_type...; null
 * outside a node). The warehouse itself when the project sets none.
 */
export async function withQueryComment(
  warehouse: Warehouse,
  project: DbtProject,
  node: Readonly<Record<string, unknown>> | null,
): Promise<Warehouse> {
  const setting = queryCommentSetting(
    (project.projectFile as Record<string, unknown>)["query-comment"],
  );
  if (setting === undefined) return warehouse;
  if (setting.comment === null) {
    return commented(warehouse, defaultComment(project, node), setting.append);
  }
  const query = (sql: string): Promise<QueryResult> => warehouse.queryTable(sql);
  const text = (await project.renderHook(setting.comment, { file: FILE, query, node })).trim();
  if (text === "") return warehouse;
  if (text.includes("*/")) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `query-comment renders to text containing '*/', which would end the comment: ${text}`,
      { file: FILE },
    );
  }
  return commented(warehouse, text, setting.append);
}
