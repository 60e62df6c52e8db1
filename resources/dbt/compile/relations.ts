/**
 * Each node's resolved config, relation and unique id. The relation's
 * schema and name come from the `generate_schema_name` and
 * `generate_alias_name` macros; when the project and its packages keep the
 * global project's versions, their (documented, fixed) result is computed
 * here directly instead of through 2 Jinja calls per node, which a large
 * project feels at every load.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import type { JinjaEnv } from "../jinja/env.ts";
import { GLOBAL_PACKAGE } from "../jinja/env.ts";
import type { ModelConfig } from "../nodes.ts";
import type { ReadProject } from "../project/read.ts";
import { quotingOf, Relation } from "../relation.ts";
import { resolveConfig } from "./configs.ts";
import type { Scopes } from "./scopes.ts";
import { layeredConfig } from "./layered_config.ts";
import type { ParsedNode } from "./parse.ts";
import type { Properties } from "./properties.ts";
import { nodeUniqueId, nodeVersions } from "./versions.ts";

/** What {@linkcode resolveNodes} returns, by node name. */
export interface ResolvedNodes {
  /** Resolved configs. */
  readonly configs: ReadonlyMap<string, ModelConfig>;
  /** Relations (ephemeral nodes print as their CTE name). */
  readonly relations: ReadonlyMap<string, Relation>;
  /** Unique ids. */
  readonly ids: ReadonlyMap<string, string>;
}

/** Materializations the runner builds itself, which dbt lets the root project override. */
const OVERRIDABLE = new Set(["view", "table", "incremental", "seed", "snapshot"]);

/**
 * The root project's own `{% materialization table, default %}` (or view...)
 * replaces dbt's in dbt; this runner builds those itself, so it says so
 * rather than build the models another way than the project asks.
 */
function refuseBuiltinOverride(jinja: JinjaEnv, materialized: string, file: string): void {
  if (!OVERRIDABLE.has(materialized)) return;
  const found = jinja.findMaterialization(materialized, true);
  if (found === undefined || found.packageName === GLOBAL_PACKAGE) return;
  throw new DbtError(
    DbtErrorCode.unsupported,
    `${found.file} overrides dbt's built-in '${materialized}' materialization, which this ` +
      `runner builds itself and cannot replace: give the materialization another name and ` +
      `set materialized= to it on the models that should use it`,
    { file },
  );
}

/** Resolves config, relation and unique id of every node in `order`. */
export function resolveNodes(
  read: ReadProject,
  props: Properties,
  jinja: JinjaEnv,
  scopes: Scopes,
  parsed: ReadonlyMap<string, ParsedNode>,
  order: readonly string[],
): ResolvedNodes {
  const configs = new Map<string, ModelConfig>();
  const relations = new Map<string, Relation>();
  const ids = new Map<string, string>();
  const naming = nodeNaming(read, jinja, scopes);
  const quoting = quotingOf(read.projectFile.quoting);
  const versions = nodeVersions(props.modelVersions);
  // Materializations found not overridden: asked once each, not per node (the macros are loaded;
  // 10k look-ups, each listing the packages, were ~10-25 ms of a 10k-model load).
  const notOverridden = new Set<string>();
  for (const nodeName of order) {
    const node = parsed.get(nodeName) as ParsedNode;
    const config = resolveConfig(
      node.kind,
      layeredConfig(read, props, node),
      node.file,
      (name) => jinja.findMaterialization(name, false) !== undefined,
      nodeName,
    );
    if (!notOverridden.has(config.materialized)) {
      refuseBuiltinOverride(jinja, config.materialized, node.file);
      notOverridden.add(config.materialized);
    }
    configs.set(nodeName, config);
    const version = node.kind === "model" ? versions.get(nodeName) : undefined;
    ids.set(nodeName, nodeUniqueId(node.kind, node.packageName, nodeName, version));
    const { schema, identifier } = naming(node, config);
    relations.set(
      nodeName,
      new Relation(
        read.target.database,
        schema,
        identifier,
        config.materialized === "ephemeral" ? `__dbt__cte__${nodeName}` : undefined,
        undefined,
        quoting,
      ),
    );
  }
  return { configs, relations, ids };
}

/** Schema and identifier of a node: the project's naming macros, or their default result. */
function nodeNaming(
  read: ReadProject,
  jinja: JinjaEnv,
  scopes: Scopes,
): (node: ParsedNode, config: ModelConfig) => { schema: string; identifier: string } {
  const own = (macro: string) => jinja.findMacro(macro)?.packageName !== GLOBAL_PACKAGE;
  const customSchema = own("generate_schema_name");
  const customAlias = own("generate_alias_name");
  const targetSchema = read.target.schema;
  return (node, config) => {
    const nodeDict = {
      name: node.name,
      resource_type: node.kind,
      package_name: node.packageName,
      config: config.all,
    };
    const scope = () => scopes.base(node.packageName, node.name);
    let schema: string;
    if (node.kind === "snapshot" && typeof config.all.target_schema === "string") {
      schema = config.all.target_schema;
    } else if (customSchema) {
      schema = jinja.callMacro("generate_schema_name", [config.schema ?? null, nodeDict], scope())
        .trim();
    } else {
      // The global project's generate_schema_name.
      schema = config.schema === undefined
        ? targetSchema
        : `${targetSchema}_${config.schema.trim()}`;
    }
    const identifier = customAlias
      ? jinja.callMacro("generate_alias_name", [config.alias ?? null, nodeDict], scope()).trim()
      : config.alias !== undefined
      ? config.alias.trim()
      : node.name;
    return { schema, identifier };
  };
}
