/**
 * Loads a dbt project and compiles it, in steps each in its own function:
 * read the files ({@linkcode readProject}), collect the properties YAML,
 * load macros, parse every node once, drop disabled nodes, order them,
 * resolve configs and relations, render each node with real relations
 * (ephemeral parents inlined as CTEs), then compile the tests.
 *
 * @module
 */

import { closest } from "../../../core/suggest.ts";
import { digest } from "../_files.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import {
  envVarOf,
  JinjaEnv,
  QueryNeeded,
  raiseInRender,
  type RenderScope,
  renderValue,
} from "../jinja/env.ts";
import { GLOBAL_MACROS, GLOBAL_MACROS_FILE } from "../jinja/global_project.ts";
import { adapterFor } from "../adapters/adapter_for.ts";
import type { DbtProject, ModelNode, QueryRunner } from "../nodes.ts";
import { folderConfig } from "../project/project_file.ts";
import { type ReadProject, readProject, type ReadProjectOptions } from "../project/read.ts";
import { Relation } from "../relation.ts";
import { isDisabled, resolveConfig } from "./configs.ts";
import { injectCtes } from "./ctes.ts";
import { topologicalOrder } from "./order.ts";
import {
  folders,
  type ParsedNode,
  parseModels,
  parseSeeds,
  parseSnapshots,
  yamlSnapshot,
} from "./parse.ts";
import { collectProperties, type Properties } from "./properties.ts";
import { buildNode, seedSettings, snapshotSettings } from "./nodes.ts";
import { compileAllTests } from "./compile_tests.ts";
import { compileUnitTests } from "./unit_tests.ts";
import { docBlocks, docResolver } from "./docs.ts";

/** Options of {@linkcode loadProject}. */
export interface LoadProjectOptions extends ReadProjectOptions {
  /**
   * Refuse models without a documented properties entry (this platform's own
   * project sets it; a foreign project need not). Also on when the project
   * sets the var `require_model_docs: true`.
   * @default {false}
   */
  readonly requireDocs?: boolean | undefined;
  /** Invocation id for `invocation_id` in Jinja. */
  readonly invocationId?: string | undefined;
  /** Dispatch prefixes of the adapter (`["postgres", "default"]`). */
  readonly dispatchPrefixes?: readonly string[] | undefined;
}

/**
 * Loads and compiles the dbt project in `dir`. Throws a {@linkcode DbtError}
 * naming file and line for: invalid YAML, a Jinja syntax error, an unknown
 * ref or source, a duplicate node, a cycle, an unknown generic test, an
 * unsupported setting, and (with `requireDocs`) an undocumented model.
 *
 * @example
 * ```ts
 * import { loadProject } from "./load.ts";
 * const project = await loadProject("dbt");
 * console.log(project.models.get("fct_weather_daily")?.compiledCode);
 * ```
 */
export async function loadProject(
  dir: string,
  options: LoadProjectOptions = {},
): Promise<DbtProject> {
  const read = await readProject(dir, options);
  const name = read.projectFile.name;
  const props = collectProperties(read);
  const warnings = [...props.warnings];
  const jinja = loadMacros(read, options);
  const scopes = scopeFactory(read, props, jinja, options);
  const parsed = parseAll(read, props, jinja, scopes);
  const enabled = dropDisabled(read, props, parsed, scopes);
  if (options.requireDocs || read.vars.require_model_docs === true) {
    requireDocs(enabled, props, name);
  }
  const order = topologicalOrder(enabled);
  const docs = docBlocks(read);
  props.docText = docResolver(docs, (doc) => warnings.push(`doc('${doc}') names no docs block`));
  const compiled = compileNodes(read, props, jinja, scopes, enabled, order);
  for (const [modelName, entry] of props.models) {
    if (!enabled.has(modelName) && !parsed.has(modelName)) {
      warnings.push(
        `${entry.yaml.file}:${entry.yaml.lineOf(entry.path) ?? 1}: ` +
          `entry '${modelName}' documents no model (no ${modelName}.sql in the model paths)`,
      );
    }
  }
  const tests = compileAllTests(read, props, jinja, scopes, compiled);
  const unitTests = compileUnitTests(props, jinja, scopes, compiled);
  const projectHooks = (key: "on-run-start" | "on-run-end") =>
    read.packages.flatMap((p) => [p.projectFile[key] ?? []].flat());
  if (options.cache !== false) await read.cache.write(read.targetPath);
  const byKind = (kind: ModelNode["resourceType"]) =>
    new Map(
      [...compiled.nodes.values()].filter((n) => n.resourceType === kind).map((n) => [n.name, n]),
    );
  return {
    dir,
    name,
    projectFile: read.projectFile,
    profile: read.projectFile.profile ?? name,
    target: read.target,
    vars: read.vars,
    targetPath: read.targetPath,
    models: byKind("model"),
    seeds: byKind("seed"),
    snapshots: byKind("snapshot"),
    nodes: new Map([...compiled.nodes.values()].map((n) => [n.uniqueId, n])),
    sources: props.sources,
    tests,
    unitTests,
    exposures: props.exposures(compiled.idOf),
    docs,
    macros: new Map(jinja.macros.map(([pkg, macro]) => {
      const found = jinja.findMacro(macro, pkg);
      const uniqueId = `macro.${pkg}.${macro}`;
      return [uniqueId, {
        uniqueId,
        name: macro,
        packageName: pkg,
        file: found?.file ?? "",
        sql: "",
      }];
    })),
    packages: new Map(read.packages.slice(1).map((p) => [p.name, p.dir])),
    onRunStart: projectHooks("on-run-start"),
    onRunEnd: projectHooks("on-run-end"),
    selectors: props.selectors,
    warnings,
    compileNode: compiled.compileNode,
    renderHook: compiled.renderHook,
  };
}

/** Scope builders shared by every pass. */
export interface Scopes {
  /** The parse-pass scope of a node of `packageName`. */
  base(packageName: string, name: string): RenderScope;
  /** Resolves `source(a, b)` to its unique id, raising a render error naming the nearest. */
  sourceId(sourceName: string, table: string): string;
}

function scopeFactory(
  read: ReadProject,
  props: Properties,
  _jinja: JinjaEnv,
  options: LoadProjectOptions,
): Scopes {
  const target = {
    ...read.target.fields,
    name: read.target.name,
    schema: read.target.schema,
    type: read.target.type,
    database: read.target.database,
    dbname: read.target.database,
    threads: read.target.threads,
    profile_name: read.projectFile.profile ?? read.projectFile.name,
  };
  const varOf = (key: string, fallback: unknown, hasDefault: boolean): unknown => {
    if (Object.hasOwn(read.vars, key)) return read.vars[key];
    if (hasDefault) return fallback;
    return raiseInRender(
      DbtErrorCode.renderFailed,
      `var('${key}') is not defined: add it under 'vars:' in dbt_project.yml or give a default`,
    );
  };
  const sourceId = (s: string, t: string): string => {
    for (const pkg of read.packages) {
      const id = `source.${pkg.name}.${s}.${t}`;
      if (props.sources.has(id)) return id;
    }
    const known = [...props.sources.values()].map((x) => `${x.sourceName}.${x.name}`);
    const near = closest(`${s}.${t}`, known);
    return raiseInRender(
      DbtErrorCode.unknownSource,
      `source('${s}', '${t}') is not declared in any sources.yml` +
        (near ? ` (did you mean '${near}'?)` : ""),
    );
  };
  return {
    base: (packageName, name) => ({
      ref: () => raiseInRender(DbtErrorCode.unknownRef, "ref() is not available here"),
      source: () => raiseInRender(DbtErrorCode.unknownSource, "source() is not available here"),
      config: () => {},
      var: varOf,
      envVar: (key, fallback) => envVarOf(read.env, key, fallback),
      isIncremental: () => false,
      self: undefined,
      target,
      execute: false,
      packageName,
      model: { name, package_name: packageName },
      invocationId: options.invocationId ?? "",
    }),
    sourceId,
  };
}

function loadMacros(read: ReadProject, options: LoadProjectOptions): JinjaEnv {
  const dispatch: Record<string, string[]> = {};
  for (const entry of read.projectFile.dispatch) {
    dispatch[entry.macro_namespace] = entry.search_order;
  }
  const jinja = new JinjaEnv({
    cache: read.cache,
    rootPackage: read.projectFile.name,
    dispatchPrefixes: options.dispatchPrefixes ?? adapterPrefixes(read.target.type),
    dispatch,
  });
  const scope: RenderScope = {
    ref: () => raiseInRender(DbtErrorCode.unknownRef, "ref() cannot run while macros load"),
    source: () =>
      raiseInRender(DbtErrorCode.unknownSource, "source() cannot run while macros load"),
    config: () => {},
    var: (_name, fallback) => fallback,
    envVar: (_name, fallback) => fallback ?? "",
    isIncremental: () => false,
    self: undefined,
    target: {},
  };
  jinja.loadMacros(GLOBAL_MACROS, GLOBAL_MACROS_FILE, "dbt", scope);
  const adapter = adapterFor(read.target.type);
  if (adapter?.macros) {
    jinja.loadMacros(
      adapter.macros,
      `<dbt-${adapter.type} adapter>/macros/utils.sql`,
      "dbt",
      scope,
    );
  }
  for (const pkg of read.packages) {
    // Generic tests may live in tests/generic/ too.
    const testMacros = pkg.tests.filter((f) =>
      /\{%-?\s*test\s/.test(f.text) || f.path.startsWith("generic/")
    );
    for (const file of [...pkg.macros, ...testMacros]) {
      jinja.loadMacros(file.text, file.file, pkg.name, scope);
    }
  }
  return jinja;
}

/** `adapter.dispatch` prefixes of an adapter type (see resources/dbt/adapter.ts). */
function adapterPrefixes(type: string): string[] {
  return type === "default" ? ["default"] : [type, "default"];
}

function parseAll(
  read: ReadProject,
  props: Properties,
  jinja: JinjaEnv,
  scopes: Scopes,
): Map<string, ParsedNode> {
  const ctx = {
    jinja,
    scope: scopes.base,
    sourceId: scopes.sourceId,
    sourceRelation: (id: string) => props.sources.get(id)?.relation,
  };
  const all: ParsedNode[] = [];
  for (const pkg of read.packages) {
    all.push(...parseModels(pkg, ctx), ...parseSeeds(pkg), ...parseSnapshots(pkg, ctx));
  }
  for (const snap of props.yamlSnapshots) {
    all.push(yamlSnapshot(snap.name, snap.relation, snap.file, snap.packageName, ctx));
  }
  const parsed = new Map<string, ParsedNode>();
  for (const node of all) {
    const previous = parsed.get(node.name);
    if (previous) {
      throw new DbtError(
        DbtErrorCode.invalidGraph,
        `two nodes are named '${node.name}' (also ${previous.file}); names must be unique`,
        { file: node.file },
      );
    }
    parsed.set(node.name, node);
  }
  return parsed;
}

/** The layered config of a parsed node before `resolveConfig`. */
export function layeredConfig(
  read: ReadProject,
  props: Properties,
  node: ParsedNode,
): Record<string, unknown> {
  const section = node.kind === "model" ? "models" : node.kind === "seed" ? "seeds" : "snapshots";
  const fqnPath = [...folders(node.path), node.name];
  const own = read.packages.find((p) => p.name === node.packageName);
  const render = (tree: Record<string, unknown>) => renderConfigTree(tree, read);
  const fromPackage = own && own !== read.packages[0]
    ? folderConfig(render(own.projectFile[section]), node.packageName, fqnPath)
    : {};
  const fromRoot = folderConfig(render(read.projectFile[section]), node.packageName, fqnPath);
  const entry = props.entryOf(node.kind, node.name);
  const merged: Record<string, unknown> = { ...fromPackage, ...fromRoot };
  for (const layer of [entry?.props.config ?? {}, node.inline]) {
    for (const [key, value] of Object.entries(layer)) {
      if (
        (key === "tags" || key === "pre-hook" || key === "post-hook") && merged[key] !== undefined
      ) {
        merged[key] = [...[merged[key]].flat(), ...[value].flat()];
      } else merged[key] = value;
    }
  }
  return merged;
}

const rendered = new WeakMap<object, Record<string, unknown>>();

/** dbt_project.yml config sections with their Jinja rendered (hooks stay unrendered until run time). */
function renderConfigTree(
  tree: Record<string, unknown>,
  read: ReadProject,
): Record<string, unknown> {
  const cached = rendered.get(tree);
  if (cached) return cached;
  const options = {
    env: read.env,
    file: "dbt_project.yml",
    vars: read.vars,
    target: { name: read.target.name, schema: read.target.schema, type: read.target.type },
  };
  const walk = (value: unknown): unknown => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return renderValue(value, options);
    }
    return Object.fromEntries(
      Object.entries(value).map(([key, child]) => [
        key,
        /^\+?(pre|post)[-_]hook$/.test(key) ? child : walk(child),
      ]),
    );
  };
  const out = walk(tree) as Record<string, unknown>;
  rendered.set(tree, out);
  return out;
}

function dropDisabled(
  read: ReadProject,
  props: Properties,
  parsed: ReadonlyMap<string, ParsedNode>,
  _scopes: Scopes,
): Map<string, ParsedNode> {
  const enabled = new Map<string, ParsedNode>();
  for (const [key, node] of parsed) {
    if (!isDisabled(layeredConfig(read, props, node).enabled)) enabled.set(key, node);
  }
  for (const node of enabled.values()) {
    for (const ref of node.refs) {
      if (enabled.has(ref)) continue;
      const at = node.text.split("\n").findIndex((l) =>
        new RegExp(`ref\\(\\s*['"]${ref}['"]`).test(l)
      );
      const near = closest(ref, enabled.keys());
      throw new DbtError(
        DbtErrorCode.unknownRef,
        parsed.has(ref)
          ? `ref('${ref}') names a disabled node; enable it or remove the ref`
          : `ref('${ref}') names no model, seed or snapshot of this project` +
            (near ? ` (did you mean '${near}'?)` : ""),
        { file: node.file, line: at >= 0 ? at + 1 : undefined },
      );
    }
  }
  return enabled;
}

function requireDocs(
  nodes: ReadonlyMap<string, ParsedNode>,
  props: Properties,
  _projectName: string,
): void {
  for (const node of nodes.values()) {
    if (node.kind !== "model") continue;
    const entry = props.models.get(node.name);
    if (!entry) {
      throw new DbtError(
        DbtErrorCode.missingSchemaEntry,
        `model '${node.name}' has no schema.yml entry; this project requires every model to be ` +
          `documented (var require_model_docs). Add it under 'models:' in a .yml file of the ` +
          `model paths, with a description, its columns and tests`,
        { file: node.file, line: 1 },
      );
    }
    if (!entry.props.description?.trim()) {
      throw new DbtError(
        DbtErrorCode.missingSchemaEntry,
        `model '${node.name}' has no description; write one in its entry`,
        { file: entry.yaml.file, line: entry.yaml.lineOf(entry.path) },
      );
    }
  }
}

/** What {@linkcode compileNodes} returns. */
export interface CompiledNodes {
  /** Nodes by name, in topological order. */
  readonly nodes: ReadonlyMap<string, ModelNode>;
  /** Unique id of a node by name (for `ref()` in exposures and tests). */
  readonly idOf: (name: string) => string | undefined;
  /** Adds the CTEs of the ephemeral nodes `refs` reach, in front of `sql`. */
  readonly withCtes: (sql: string, refs: readonly string[]) => string;
  /** A compile-flavour scope (real relations). */
  readonly scope: (packageName: string, reads: Set<string>) => RenderScope;
  /** See {@linkcode DbtProject.compileNode}. */
  readonly compileNode: DbtProject["compileNode"];
  /** See {@linkcode DbtProject.renderHook}. */
  readonly renderHook: DbtProject["renderHook"];
}

function compileNodes(
  read: ReadProject,
  props: Properties,
  jinja: JinjaEnv,
  scopes: Scopes,
  parsed: ReadonlyMap<string, ParsedNode>,
  order: readonly string[],
): CompiledNodes {
  const name = read.projectFile.name;
  const configs = new Map<string, ReturnType<typeof resolveConfig>>();
  const relations = new Map<string, Relation>();
  const ids = new Map<string, string>();
  for (const nodeName of order) {
    const node = parsed.get(nodeName) as ParsedNode;
    const config = resolveConfig(node.kind, layeredConfig(read, props, node), node.file);
    configs.set(nodeName, config);
    ids.set(nodeName, `${node.kind}.${node.packageName}.${nodeName}`);
    const nodeDict = {
      name: nodeName,
      resource_type: node.kind,
      package_name: node.packageName,
      config: config.all,
    };
    const scope = scopes.base(node.packageName, nodeName);
    const schema = node.kind === "snapshot" && typeof config.all.target_schema === "string"
      ? config.all.target_schema
      : jinja.callMacro("generate_schema_name", [config.schema ?? null, nodeDict], scope).trim();
    const identifier = jinja.callMacro(
      "generate_alias_name",
      [config.alias ?? null, nodeDict],
      scope,
    ).trim();
    relations.set(
      nodeName,
      new Relation(
        read.target.database,
        schema,
        identifier,
        config.materialized === "ephemeral" ? `__dbt__cte__${nodeName}` : undefined,
      ),
    );
  }
  const sourceRelation = (id: string) => props.sources.get(id)?.relation;
  // `graph` and `model` of the compile pass: what macros that walk the project read.
  const nodeDicts: Record<string, Record<string, unknown>> = {};
  for (const nodeName of order) {
    const node = parsed.get(nodeName) as ParsedNode;
    const relation = relations.get(nodeName) as Relation;
    nodeDicts[ids.get(nodeName) as string] = {
      unique_id: ids.get(nodeName),
      name: nodeName,
      resource_type: node.kind,
      package_name: node.packageName,
      original_file_path: node.file,
      path: node.path,
      fqn: [node.packageName, ...folders(node.path), nodeName],
      schema: relation.schema,
      database: relation.database,
      alias: relation.identifier,
      config: configs.get(nodeName)?.all ?? {},
      tags: configs.get(nodeName)?.tags ?? [],
      refs: node.refs.map((name) => ({ name, package: null, version: null })),
      depends_on: {
        nodes: [...node.refs.map((r) => ids.get(r)), ...node.sources],
        macros: [],
      },
      raw_code: node.text,
    };
  }
  const graph = {
    nodes: nodeDicts,
    sources: Object.fromEntries(
      [...props.sources.values()].map((src) => [src.uniqueId, {
        unique_id: src.uniqueId,
        name: src.name,
        source_name: src.sourceName,
        resource_type: "source",
        schema: src.relation.schema,
        database: src.relation.database,
        identifier: src.relation.identifier,
        meta: src.meta,
      }]),
    ),
    exposures: {},
    metrics: {},
  };
  const compileScope = (
    packageName: string,
    reads: Set<string>,
    self?: Relation,
    nodeName?: string,
  ): RenderScope => ({
    ...scopes.base(packageName, nodeName ?? ""),
    graph,
    ...(nodeName ? { model: nodeDicts[ids.get(nodeName) as string] ?? {} } : {}),
    ref: (ref) => {
      const relation = relations.get(ref);
      if (!relation) {
        const near = closest(ref, relations.keys());
        return raiseInRender(
          DbtErrorCode.unknownRef,
          `ref('${ref}') names no model, seed or snapshot of this project` +
            (near ? ` (did you mean '${near}'?)` : ""),
        );
      }
      reads.add(ids.get(ref) as string);
      return relation;
    },
    source: (s, t) => {
      const id = scopes.sourceId(s, t);
      reads.add(id);
      return sourceRelation(id) as Relation;
    },
    configGet: nodeName ? (key) => configs.get(nodeName)?.all[key] : () => undefined,
    self,
    execute: true,
  });
  const renderSync = (nodeName: string, isIncremental: boolean, answers?: []): string => {
    const node = parsed.get(nodeName) as ParsedNode;
    if (!node.template) return "";
    return jinja.render(node.template, {
      ...compileScope(node.packageName, new Set(), relations.get(nodeName), nodeName),
      isIncremental: () => isIncremental,
      ...(answers ? { answers } : {}),
    });
  };
  const bare = new Map<string, string>();
  const dynamic = new Set<string>();
  for (const nodeName of order) {
    try {
      bare.set(nodeName, renderSync(nodeName, false, []));
    } catch (error) {
      if (!(error instanceof QueryNeeded)) throw error;
      // Uses run_query: compiled at build time; until then, its parse-time SQL.
      dynamic.add(nodeName);
      const node = parsed.get(nodeName) as ParsedNode;
      bare.set(
        nodeName,
        node.template
          ? jinja.render(node.template, {
            ...compileScope(node.packageName, new Set(), relations.get(nodeName), nodeName),
            execute: false,
          })
          : "",
      );
    }
  }
  const ephemeralClosure = (refs: readonly string[], seen = new Set<string>()): string[] => {
    const out: string[] = [];
    for (const ref of refs) {
      if (seen.has(ref) || configs.get(ref)?.materialized !== "ephemeral") continue;
      seen.add(ref);
      out.push(...ephemeralClosure(parsed.get(ref)?.refs ?? [], seen), ref);
    }
    return out;
  };
  const withCtes = (sql: string, refs: readonly string[]): string =>
    injectCtes(
      sql,
      ephemeralClosure(refs).map((ref) => ({
        name: `__dbt__cte__${ref}`,
        sql: bare.get(ref) ?? "",
      })),
    );
  const nodes = new Map<string, ModelNode>();
  for (const nodeName of order) {
    const node = parsed.get(nodeName) as ParsedNode;
    nodes.set(
      nodeName,
      buildNode({
        node,
        projectName: name,
        config: configs.get(nodeName) as ReturnType<typeof resolveConfig>,
        relation: relations.get(nodeName) as Relation,
        refIds: node.refs.map((r) => ids.get(r) as string),
        entry: props.entryOf(node.kind, nodeName),
        docs: props.docText,
        compiledCode: withCtes(bare.get(nodeName) ?? "", node.refs),
        dynamic: dynamic.has(nodeName),
        macros: jinja.macros
          .filter(([, macro]) => node.text.includes(`${macro}(`))
          .map(([pkg, macro]) => `macro.${pkg}.${macro}`),
        seed: node.kind === "seed"
          ? seedSettings(node, configs.get(nodeName)?.all ?? {})
          : undefined,
        snapshot: node.kind === "snapshot"
          ? snapshotSettings(node, configs.get(nodeName)?.all ?? {})
          : undefined,
      }),
    );
  }
  const compileNode: DbtProject["compileNode"] = async (nodeName, { isIncremental, query }) => {
    const node = parsed.get(nodeName);
    const built = nodes.get(nodeName);
    if (!node || !built) throw new RangeError(`Cannot compile '${nodeName}': no such node`);
    if (!isIncremental && !built.dynamic) return built.compiledCode;
    if (!node.template) return "";
    const scope = {
      ...compileScope(node.packageName, new Set(), relations.get(nodeName), nodeName),
      isIncremental: () => isIncremental,
    };
    const sql = query
      ? await jinja.renderAsync(node.template, scope, query as QueryRunner)
      : jinja.render(node.template, scope);
    return withCtes(sql, node.refs);
  };
  const renderHook: DbtProject["renderHook"] = async (text, options) => {
    if (!text.includes("{{") && !text.includes("{%")) return text;
    const scope: RenderScope = {
      ...compileScope(name, new Set(), options.self),
      ...(options.results ? { results: options.results } : {}),
    };
    return await jinja.renderAsync(jinja.compile(text, options.file), scope, options.query);
  };
  return {
    nodes,
    idOf: (ref) => ids.get(ref),
    withCtes,
    scope: (packageName, reads) => compileScope(packageName, reads),
    compileNode,
    renderHook,
  };
}

/** sha256 of a node's file text (models, snapshots) or bytes (seeds). */
export function checksumOf(node: ParsedNode): string {
  return node.kind === "seed" ? node.fileText : digest(node.fileText);
}
