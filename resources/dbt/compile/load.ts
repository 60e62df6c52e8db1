/**
 * Loads a dbt project, in steps each in its own function: read the files
 * ({@linkcode readProject}), collect the properties YAML, load macros, parse
 * every node once (statically where the template allows, else with a parse
 * render), drop disabled nodes, order them, resolve configs and relations,
 * build the nodes (each compiled to SQL on first use, compile/renderer.ts),
 * then compile the tests.
 *
 * @module
 */

import { closest } from "../../../core/suggest.ts";
import { digest } from "../_files.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import { JinjaEnv, raiseInRender, type RenderScope } from "../jinja/env.ts";
import { preprocess } from "../jinja/extensions.ts";
import { GLOBAL_MACROS, GLOBAL_MACROS_FILE } from "../jinja/global_project.ts";
import { adapterFor } from "../adapters/adapter_for.ts";
import type { DbtProject, ModelNode } from "../nodes.ts";
import { type ReadProject, readProject, type ReadProjectOptions } from "../project/read.ts";
import type { Relation } from "../relation.ts";
import { isDisabled } from "./configs.ts";
import { layeredConfig } from "./layered_config.ts";
import { refLine, topologicalOrder } from "./order.ts";
import {
  type ParseContext,
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
import { type CompiledNodes, createRenderer, type Renderer } from "./renderer.ts";
import { type ResolvedNodes, resolveNodes } from "./relations.ts";
import { scopeFactory, type Scopes } from "./scopes.ts";
import { macroCalls, type StaticParseContext } from "./static_parse.ts";

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
  /**
   * Read `ref`/`source`/`config` of plain templates without rendering them
   * (compile/static_parse.ts); false renders every node at parse time.
   * @default {true}
   */
  readonly staticParse?: boolean | undefined;
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
  const { jinja, safety } = loadMacros(read, options);
  const scopes = scopeFactory(read, props, options.invocationId);
  const staticContext = options.staticParse === false ? undefined : {
    ...safety,
    key: `${safety.key}\0${JSON.stringify(read.vars)}`,
    hasVar: (key: string) => Object.hasOwn(read.vars, key),
    hasEnv: (key: string) => read.env(key) !== undefined,
  };
  const parsed = parseAll(read, props, jinja, scopes, staticContext);
  const enabled = dropDisabled(read, props, parsed);
  if (options.requireDocs || read.vars.require_model_docs === true) {
    requireDocs(enabled, props);
  }
  const order = topologicalOrder(enabled);
  const docs = docBlocks(read);
  props.docText = docResolver(docs, (doc) => warnings.push(`doc('${doc}') names no docs block`));
  const resolved = resolveNodes(read, props, jinja, scopes, enabled, order);
  const renderer = createRenderer({ read, props, jinja, scopes, parsed: enabled, order, resolved });
  const compiled: CompiledNodes = {
    ...renderer,
    nodes: buildNodes(read, props, jinja, enabled, resolved, renderer),
  };
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

/** What the static parser learns about macros: which exist and which never ref or configure. */
type MacroSafety = Pick<StaticParseContext, "isSafeMacro" | "isPackage"> & {
  readonly key: string;
};

function loadMacros(
  read: ReadProject,
  options: LoadProjectOptions,
): { jinja: JinjaEnv; safety: MacroSafety } {
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
  const texts: [string, string][] = []; // [package, file text]
  const load = (text: string, file: string, pkg: string) => {
    jinja.loadMacros(text, file, pkg, scope);
    texts.push([pkg, text]);
  };
  load(GLOBAL_MACROS, GLOBAL_MACROS_FILE, "dbt");
  const adapter = adapterFor(read.target.type);
  if (adapter?.macros) {
    load(adapter.macros, `<dbt-${adapter.type} adapter>/macros/utils.sql`, "dbt");
  }
  for (const pkg of read.packages) {
    // Generic tests may live in tests/generic/ too.
    const testMacros = pkg.tests.filter((f) =>
      /\{%-?\s*test\s/.test(f.text) || f.path.startsWith("generic/")
    );
    for (const file of [...pkg.macros, ...testMacros]) load(file.text, file.file, pkg.name);
  }
  return { jinja, safety: macroSafety(texts, read.packages.map((p) => p.name)) };
}

/**
 * Which macros may call `ref`, `source` or `config` (directly, through
 * another macro, or through `adapter.dispatch` to one that does): a model
 * calling one of them is rendered at parse time, never parsed statically.
 */
function macroSafety(texts: readonly [string, string][], packages: readonly string[]): MacroSafety {
  const mentions = new Map<string, { pkg: string; name: string; calls: Set<string> }>();
  for (const [pkg, text] of texts) {
    for (const macro of macroCalls(preprocess(text))) {
      mentions.set(`${pkg}.${macro.name}`, { pkg, name: macro.name, calls: macro.mentions });
    }
  }
  const unsafe = new Set<string>(); // bare names: lookups by name cross packages
  let changed = true;
  while (changed) {
    changed = false;
    for (const { name, calls } of mentions.values()) {
      if (unsafe.has(name)) continue;
      const dispatched = calls.has("dispatch")
        ? [...mentions.values()].filter((m) => m.name.endsWith(`__${name}`)).map((m) => m.name)
        : [];
      if (
        [...calls, ...dispatched].some((c) =>
          c === "ref" || c === "source" || c === "config" || unsafe.has(c)
        )
      ) {
        unsafe.add(name);
        changed = true;
      }
    }
  }
  const known = new Set([...mentions.values()].map((m) => m.name));
  const packageNames = new Set([...packages, "dbt"]);
  return {
    key: [[...mentions.keys()].sort(), [...unsafe].sort(), [...packageNames].sort()].join("|"),
    isSafeMacro: (name, pkg) =>
      (pkg === undefined ? known.has(name) : mentions.has(`${pkg}.${name}`)) && !unsafe.has(name),
    isPackage: (name) => packageNames.has(name),
  };
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
  staticContext: StaticParseContext | undefined,
): Map<string, ParsedNode> {
  const ctx: ParseContext = {
    jinja,
    scope: scopes.base,
    sourceId: scopes.sourceId,
    sourceRelation: (id: string) => props.sources.get(id)?.relation,
    staticContext,
    hasSource: scopes.hasSource,
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

function dropDisabled(
  read: ReadProject,
  props: Properties,
  parsed: ReadonlyMap<string, ParsedNode>,
): Map<string, ParsedNode> {
  const enabled = new Map<string, ParsedNode>();
  for (const [key, node] of parsed) {
    if (!isDisabled(layeredConfig(read, props, node).enabled)) enabled.set(key, node);
  }
  for (const node of enabled.values()) {
    for (const ref of node.refs) {
      if (enabled.has(ref)) continue;
      const near = closest(ref, enabled.keys());
      throw new DbtError(
        DbtErrorCode.unknownRef,
        parsed.has(ref)
          ? `ref('${ref}') names a disabled node; enable it or remove the ref`
          : `ref('${ref}') names no model, seed or snapshot of this project` +
            (near ? ` (did you mean '${near}'?)` : ""),
        { file: node.file, line: refLine(node.text, ref) },
      );
    }
  }
  return enabled;
}

function requireDocs(
  nodes: ReadonlyMap<string, ParsedNode>,
  props: Properties,
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

/** The nodes of the project, each compiled on first use of its SQL. */
function buildNodes(
  read: ReadProject,
  props: Properties,
  jinja: JinjaEnv,
  parsed: ReadonlyMap<string, ParsedNode>,
  resolved: ResolvedNodes,
  renderer: Renderer,
): Map<string, ModelNode> {
  const nodes = new Map<string, ModelNode>();
  for (const [nodeName, config] of resolved.configs) {
    const node = parsed.get(nodeName) as ParsedNode;
    nodes.set(
      nodeName,
      buildNode({
        node,
        projectName: read.projectFile.name,
        config,
        relation: resolved.relations.get(nodeName) as Relation,
        refIds: node.refs.map((r) => resolved.ids.get(r) as string),
        entry: props.entryOf(node.kind, nodeName),
        docs: props.docText,
        compile: () => renderer.compiled(nodeName),
        isCompiled: () => renderer.isCompiled(nodeName),
        macros: () =>
          jinja.macros
            .filter(([, macro]) => node.text.includes(`${macro}(`))
            .map(([pkg, macro]) => `macro.${pkg}.${macro}`),
        seed: node.kind === "seed" ? seedSettings(node, config.all) : undefined,
        snapshot: node.kind === "snapshot" ? snapshotSettings(node, config.all) : undefined,
      }),
    );
  }
  return nodes;
}

/** sha256 of a node's file text (models, snapshots) or bytes (seeds). */
export function checksumOf(node: ParsedNode): string {
  return node.kind === "seed" ? node.fileText : digest(node.fileText);
}
