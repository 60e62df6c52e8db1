/**
 * Hooks (`pre-hook`, `post-hook`, `on-run-start`, `on-run-end`): Jinja
 * rendered at run time in the project's own environment (its macros and
 * those of its packages), with `run_query` answered by the warehouse and,
 * for on-run-end, dbt's `results`.
 *
 * @module
 */

import type { RunResultEntry } from "../artifacts.ts";
import type { DbtProject, QueryResult } from "../nodes.ts";
import type { Relation } from "../relation.ts";
import { configDict, testDict } from "../compile/renderer.ts";
import { noneForMissing } from "../jinja/compat.ts";

/** Renders a hook's text for `project` (`this` is `self` for model hooks). */
export async function renderHookText(
  project: DbtProject,
  text: string,
  where: {
    readonly file: string;
    readonly self?: Relation | undefined;
    readonly packageName?: string | undefined;
    readonly nodeName?: string | undefined;
    readonly query: (sql: string) => Promise<QueryResult>;
    readonly results?: readonly RunResultEntry[] | undefined;
  },
): Promise<string> {
  return await project.renderHook(text, {
    file: where.file,
    self: where.self,
    packageName: where.packageName,
    nodeName: where.nodeName,
    query: where.query,
    results: where.results ? hookResults(project, where.results) : undefined,
  });
}

/**
 * dbt's on-run-end `results`: one object per result with `node` (unique_id,
 * name, resource_type, package_name, schema, alias, ...), `status`,
 * `message`, `failures`, `execution_time`, `thread_id`, `timing` and
 * `adapter_response`, as macros that log or upload run results read them.
 */
export function hookResults(
  project: DbtProject,
  entries: readonly RunResultEntry[],
): Record<string, unknown>[] {
  const tests = new Map(project.tests.map((t) => [t.uniqueId, t]));
  const units = new Map(project.unitTests.map((u) => [u.uniqueId, u]));
  return entries.map((entry) => {
    const id = entry.unique_id;
    const node = project.nodes.get(id);
    const test = tests.get(id);
    const unit = units.get(id);
    const name = node?.name ?? test?.name ?? unit?.name ?? id.split(".").at(-1) ?? id;
    return {
      node: {
        unique_id: id,
        name,
        resource_type: id.split(".")[0],
        package_name: node?.packageName ?? test?.packageName ?? project.name,
        original_file_path: node?.file ?? test?.file ?? unit?.file ?? null,
        database: node?.relation.database ?? null,
        schema: node?.relation.schema ?? null,
        alias: node?.relation.identifier ?? test?.alias ?? null,
        relation_name: entry.relation_name,
        // As dbt's graph has them: a test's config says materialized 'test' (dbt_project_evaluator's
        // on-run-end prints the tables of its failed tests so), a model's has NodeConfig's defaults.
        // A result's node config is dbt's config object, which answers None for any key it
        // lacks (dbt_artifacts reads `test.node.config.full_refresh is none`).
        config: noneForMissing(
          node
            ? configDict(node.config.all, node.config.on_schema_change)
            : test
            ? { ...(testDict(test).config as Record<string, unknown>), full_refresh: null }
            : { severity: "error" },
        ),
        tags: node?.config.tags ?? test?.tags ?? [],
        depends_on: { nodes: node?.dependsOn ?? test?.dependsOn ?? unit?.dependsOn ?? [] },
      },
      status: entry.status,
      message: entry.message,
      failures: entry.failures,
      execution_time: entry.execution_time,
      thread_id: entry.thread_id,
      timing: entry.timing,
      adapter_response: entry.adapter_response,
      unique_id: id,
    };
  });
}
