/**
 * Building a model with a custom `{% materialization %}` of the project or
 * a package: the macro runs in one transaction with the model's context,
 * `sql` and its rendered hooks, each statement it asks for running on the
 * warehouse as it is asked (dbt runs a materialization in a transaction
 * too, and a temporary table it makes lives on that one connection). Grants
 * and persisted docs follow, as for the built-in materializations.
 *
 * @module
 */

import type { Warehouse, WarehouseSession } from "../../warehouse/types.ts";
import type { DbtProject, ModelNode, QueryRunner } from "../nodes.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import { applyGrants, persistDocs, renderHook } from "./model_extras.ts";

/** The materializations `buildModel` runs itself; any other name is a custom one. */
export const BUILTIN_MATERIALIZATIONS: ReadonlySet<string> = new Set([
  "view",
  "table",
  "incremental",
  "ephemeral",
  "external",
  "seed",
  "snapshot",
]);

/** What a custom materialization's build reports. */
export interface CustomBuild {
  /** The SQL it was given. */
  readonly compiledCode: string;
  /** Unknown: the macro's statements say nothing the runner can count. */
  readonly rowsAffected: null;
  /** Never incremental as far as the runner knows. */
  readonly incremental: false;
  /** `OK <relations>`, the relations the macro says it built. */
  readonly message: string;
}

/**
 * Runs `model`'s custom materialization with `sql`; throws
 * `dbt.render_failed` naming the model's file when the macro returns
 * something other than dbt's `{'relations': [...]}`.
 */
export async function buildCustom(
  warehouse: Warehouse,
  project: DbtProject,
  model: ModelNode,
  sql: string,
  queryRunner: (session: WarehouseSession) => QueryRunner,
  onLog: ((message: string) => void) | undefined,
): Promise<CustomBuild> {
  await warehouse.ensureSchema(model.relation.schema);
  const returned = await warehouse.transaction(async (tx) => {
    const query = queryRunner(tx);
    const render = (hooks: readonly string[]) =>
      Promise.all(hooks.map((hook) => renderHook(project, model, hook, query)));
    return await project.runMaterialization(model.name, {
      sql,
      preHooks: await render(model.config.preHooks),
      postHooks: await render(model.config.postHooks),
      query,
      onLog,
    });
  });
  const relations = (returned as { relations?: unknown } | null)?.relations;
  if (typeof returned !== "object" || returned === null || !Array.isArray(relations)) {
    throw new DbtError(
      DbtErrorCode.renderFailed,
      `materialization '${model.config.materialized}' of ${model.resourceType} '${model.name}' ` +
        `returned ${JSON.stringify(returned ?? null)}; a materialization must end with ` +
        `{{ return({'relations': [target_relation]}) }}`,
      { file: model.file },
    );
  }
  await applyGrants(warehouse, model);
  await persistDocs(warehouse, model);
  return {
    compiledCode: sql,
    rowsAffected: null,
    incremental: false,
    message: `OK ${relations.map(String).join(", ")}`.trim(),
  };
}
