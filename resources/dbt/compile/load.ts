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

import { versionedRef } from "./versions.ts";
import { parseSemanticLayer } from "./semantic.ts";
import { requireDailyTimeSpine } from "./time_spine_check.ts";
import { folderConfig } from "../project/project_file.ts";
import { checkAccess } from "./access.ts";
import type { Clock } from "../../../core/clock.ts";
import { closest } from "../../../core/suggest.ts";
import { resolve } from "node:path";
import type { ProjectSource } from "../_files.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import { JinjaEnv, raiseInRender, type RenderScope } from "../jinja/env.ts";
import { preprocess } from "../jinja/extensions.ts";
import { GLOBAL_MACROS_FILE } from "../jinja/global_project.ts";
import { globalProjectSource } from "../jinja/global_source.ts";
import { adapterFor } from "../adapters/adapter_for.ts";
import type { DbtProject, ModelConfig, ModelNode } from "../nodes.ts";
import {
  type PackageFiles,
  type ProjectSources,
  type ReadProject,
  readProject,
  type ReadProjectOptions,
} from "../project/read.ts";
import type { Relation } from "../relation.ts";
import { isDisabled } from "./configs.ts";
import { layeredConfig } from "./layered_config.ts";
import { refLine, topologicalOrder } from "./order.ts";
import {
  folders,
  type ParseContext,
  type ParsedNode,
  parseModel,
  parseModels,
  parseSeeds,
  parseSnapshots,
  staticParseAhead,
  yamlSnapshot,
} from "./parse.ts";
import { collectProperties, type Properties } from "./properties.ts";
import { buildNode, rebindNode, seedSettings, snapshotSettings } from "./nodes.ts";
import { compileAllTests } from "./compile_tests.ts";
import { type FqnsBySection, unusedConfigPaths, unusedConfigWarning } from "./unused_config.ts";
import { compileUnitTests } from "./unit_tests.ts";
import { docBlocks, docResolver } from "./docs.ts";
import { compileAnalyses } from "./analyses.ts";
import { type CompiledNodes, createRenderer, type Renderer } from "./renderer.ts";
import { type ResolvedNodes, resolveNodes } from "./relations.ts";
import { scopeFactory, type Scopes } from "./scopes.ts";
import { macroCalls, type StaticParseContext } from "./static_parse.ts";
import { MacroMentions } from "./macro_mentions.ts";

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
  /**
   * Where Jinja reads the time (`modules.datetime.now()`, `run_started_at`,
   * taken when the project loads).
   * @default {systemClock}
   */
  readonly clock?: Pick<Clock, "now"> | undefined;
  /** Where `log(..., info=True)`, `print()` and `exceptions.warn()` of any render go. */
  readonly onLog?: ((message: string) => void) | undefined;
  /**
   * dbt's `flags` as macros read them (`flags.FULL_REFRESH`, `flags.WHICH`),
   * from the invocation.
   */
  readonly flags?: Readonly<Record<string, unknown>> | undefined;
  /** `invocation_args_dict`: the invocation's arguments, as run_results.json's `args`. */
  readonly invocationArgs?: Readonly<Record<string, unknown>> | undefined;
  /** `dbt_metadata_envs` and the artifacts' `metadata.env` (see `metadataEnv()`). */
  readonly metadataEnv?: Readonly<Record<string, string>> | undefined;
  /**
   * dbt's `--empty` (run, build): `ref()` and `source()` read no rows, so
   * models build with their columns and nothing in them.
   */
  readonly empty?: boolean | undefined;
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
  // The macros (and the models' static parses) need no properties: they are loaded while the
  // parse worker reads the property YAML, instead of this thread waiting for it or parsing
  // the files the worker has not reached. Their error is thrown where it was, after the YAML's.
  let macros: ReturnType<typeof loadMacros> | { error: unknown } | undefined;
  const read = await readProject(dir, {
    ...options,
    beforeProperties: (sources) => {
      try {
        macros = loadMacros(sources, options);
        const staticContext = staticParseContext(sources, options, macros.safety);
        if (staticContext) staticParseAhead(sources.packages, staticContext, sources.cache);
      } catch (error) {
        macros = { error };
      }
    },
  });
  const name = read.projectFile.name;
  const props = collectProperties(read);
  const warnings = [
    ...(read.warnings ?? []),
    ...props.warnings,
  ];
  if (macros && "error" in macros) throw macros.error;
  const { jinja, safety } = macros ?? loadMacros(read, options);
  jinja.setRefResolver((ref, version) => versionedRef(props.modelVersions, ref, version));
  const scopes = scopeFactory(read, props, options.invocationId);
  const staticContext = staticParseContext(read, options, safety);
  const parseContext: ParseContext = {
    jinja,
    scope: scopes.base,
    sourceId: scopes.sourceId,
    sourceRelation: (id: string) => props.sources.get(id)?.relation,
    staticContext,
    hasSource: scopes.hasSource,
    cache: read.cache,
  };
  const parsed = parseAll(read, props, parseContext);
  const enabled = dropDisabled(read, props, parsed);
  if (options.requireDocs || read.vars.require_model_docs === true) {
    requireDocs(enabled, props);
  }
  const order = topologicalOrder(enabled);
  const docs = docBlocks(read);
  // As dbt: a description naming a docs block that does not exist (or lies outside docs-paths)
  // fails the parse; a warning let the raw `{{ doc(...) }}` reach the docs site.
  const docsPaths = read.projectFile["docs-paths"];
  props.docText = docResolver(docs, (doc) => {
    // Only on this error path: the properties file that wrote the doc() call.
    const call = new RegExp(
      `doc\\(\\s*(?:['"][^'"]+['"]\\s*,\\s*)?['"]${doc.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}['"]`,
    );
    const file = read.packages.flatMap((p) => p.properties)
      .find((yaml) => call.test(JSON.stringify(yaml.value).replaceAll('\\"', '"')))?.file ??
      "dbt_project.yml";
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `doc('${doc}') names no docs block: write {% docs ${doc} %}...{% enddocs %} in a .md file ` +
        (docsPaths ? `under docs-paths (${docsPaths.join(", ")})` : "under the project's paths") +
        ", or fix the name",
      { file },
    );
  });
  const resolved = resolveNodes(read, props, jinja, scopes, enabled, order);
  const renderer = rendererFor({ read, props, jinja, scopes, enabled, order, resolved, options });
  const compiled: CompiledNodes = {
    ...renderer,
    nodes: buildNodes(read, props, jinja, enabled, resolved, renderer),
  };
  checkAccess(
    compiled.nodes,
    new Set(props.groups.keys()),
    new Set(
      read.packages.filter((p) =>
        (p.projectFile as Record<string, unknown>)["restrict-access"] === true
      )
        .map((p) => p.name),
    ),
  );
  for (const [modelName, entry] of props.models) {
    if (!enabled.has(modelName) && !parsed.has(modelName)) {
      warnings.push(
        `${entry.yaml.file}:${entry.yaml.lineOf(entry.path) ?? 1}: ` +
          `entry '${modelName}' documents no model (no ${modelName}.sql in the model paths)`,
      );
    }
  }
  const tests = compileAllTests(read, props, jinja, scopes, compiled);
  renderer.setTests(tests);
  const unused = unusedConfigWarning(
    unusedConfigPaths(read.projectFile, resourceFqns(parsed, compiled.nodes, props, tests)),
  );
  if (unused) warnings.push(unused);
  const unitTests = compileUnitTests(
    props,
    jinja,
    scopes,
    compiled,
    (pkg) => read.packages.find((p) => p.name === pkg)?.fixtures ?? [],
  );
  const analyses = compileAnalyses(read, props, jinja, compiled);
  const semantic = parseSemanticLayer(props.semanticEntries, {
    modelOf: (ref, version) => {
      let nodeName: string;
      try {
        nodeName = versionedRef(props.modelVersions, ref, version);
      } catch (error) {
        if (error instanceof RangeError) return undefined;
        throw error;
      }
      const node = compiled.nodes.get(nodeName);
      return node?.resourceType === "model" ? node : undefined;
    },
    database: read.target.database,
    schema: read.target.schema,
    projectConfig: (kind, pkg, fqnPath) => {
      const key = kind === "semantic_model"
        ? "semantic-models"
        : kind === "metric"
        ? "metrics"
        : "saved-queries";
      const section = (read.projectFile as Record<string, unknown>)[key];
      return typeof section === "object" && section !== null
        ? folderConfig(section as Record<string, unknown>, pkg, fqnPath)
        : {};
    },
  });
  requireDailyTimeSpine(semantic, compiled.nodes.values());
  renderer.setSemantic(semantic);
  if (options.cache !== false) await read.cache.write(read.targetPath);
  // dbt's order (RunTask._hook_keyfunc): the packages' hooks by package name, the root's last.
  const hookOrder = [...read.packages.slice(1)].sort((a, b) => a.name < b.name ? -1 : 1)
    .concat(read.packages.slice(0, 1));
  const projectHooks = (key: "on-run-start" | "on-run-end") =>
    hookOrder.flatMap((p) =>
      [p.projectFile[key] ?? []].flat().map((sql, index) => ({ packageName: p.name, index, sql }))
    );
  const project: DbtProject = {
    dir,
    name,
    projectFile: read.projectFile,
    profile: read.projectFile.profile ?? name,
    target: read.target,
    vars: read.vars,
    targetPath: read.targetPath,
    ...(options.metadataEnv ? { metadataEnv: options.metadataEnv } : {}),
    ...nodeMaps(compiled.nodes),
    sources: props.sources,
    tests,
    unitTests,
    exposures: props.exposures(compiled.idOf),
    semantic,
    analyses,
    groups: props.groups,
    docs,
    macros: new Map(jinja.macros.map(([pkg, macro]) => {
      const found = jinja.findMacro(macro, pkg);
      const uniqueId = `macro.${pkg}.${macro}`;
      return [uniqueId, {
        uniqueId,
        name: macro,
        packageName: pkg,
        file: found?.file ?? "",
        sql: found?.sql ?? "",
      }];
    })),
    packages: new Map(read.packages.slice(1).map((p) => [p.name, p.dir])),
    onRunStart: projectHooks("on-run-start"),
    onRunEnd: projectHooks("on-run-end"),
    modelVersions: props.modelVersions,
    selectors: props.selectors,
    ...(props.defaultSelector === undefined ? {} : { defaultSelector: props.defaultSelector }),
    warnings,
    compileNode: compiled.compileNode,
    renderHook: compiled.renderHook,
    runMaterialization: compiled.runMaterialization,
  };
  STATES.set(project, {
    dir,
    options,
    read,
    props,
    jinja,
    scopes,
    parseContext,
    parsed,
    enabled,
    order,
    resolved,
    nodes: compiled.nodes,
    sourceIndex: undefined,
  });
  return project;
}

/**
 * The fqns dbt checks dbt_project.yml's configuration paths against, by
 * section; disabled models, seeds and snapshots count (dbt adds them). The
 * semantic layer, exposure and unit test sections are not checked.
 */
function resourceFqns(
  parsed: ReadonlyMap<string, ParsedNode>,
  nodes: ReadonlyMap<string, ModelNode>,
  props: Properties,
  tests: readonly { readonly fqn: readonly string[] }[],
): FqnsBySection {
  const byKind: Record<string, (readonly string[])[]> = { model: [], seed: [], snapshot: [] };
  for (const [key, node] of parsed) {
    const built = nodes.get(key);
    byKind[node.kind]?.push(built?.fqn ?? [node.packageName, ...folders(node.path), node.name]);
  }
  const testFqns = tests.map((t) => t.fqn);
  return {
    models: byKind.model ?? [],
    seeds: byKind.seed ?? [],
    snapshots: byKind.snapshot ?? [],
    sources: props.sourceFqns,
    tests: testFqns,
    data_tests: testFqns,
  };
}

/** The node maps of a project, from its nodes in topological order. */
function nodeMaps(
  nodes: ReadonlyMap<string, ModelNode>,
): Pick<DbtProject, "models" | "seeds" | "snapshots" | "nodes"> {
  const models = new Map<string, ModelNode>();
  const seeds = new Map<string, ModelNode>();
  const snapshots = new Map<string, ModelNode>();
  const byId = new Map<string, ModelNode>();
  for (const node of nodes.values()) {
    const kind = node.resourceType === "model"
      ? models
      : node.resourceType === "seed"
      ? seeds
      : snapshots;
    kind.set(node.name, node);
    byId.set(node.uniqueId, node);
  }
  return { models, seeds, snapshots, nodes: byId };
}

/** What a load keeps for {@linkcode reloadProject}. */
interface LoadState {
  readonly dir: string;
  readonly options: LoadProjectOptions;
  readonly read: ReadProject;
  readonly props: Properties;
  readonly jinja: JinjaEnv;
  readonly scopes: Scopes;
  readonly parseContext: ParseContext;
  /** Every parsed node, disabled ones included. */
  readonly parsed: ReadonlyMap<string, ParsedNode>;
  readonly enabled: ReadonlyMap<string, ParsedNode>;
  readonly order: readonly string[];
  readonly resolved: ResolvedNodes;
  readonly nodes: ReadonlyMap<string, ModelNode>;
  /** Model files by absolute path, made by the first partial re-parse. */
  sourceIndex: Map<string, { readonly pkg: number; readonly index: number }> | undefined;
}

const STATES = new WeakMap<DbtProject, LoadState>();

/**
 * Loads `previous`'s project again after the files `changedFiles` changed
 * (a file watcher's paths, absolute or relative to the working directory),
 * with the options it was loaded with: dbt's partial parsing, in process.
 *
 * When every change is an edit of a model's SQL file that keeps what the
 * parse learns from it (its refs, sources and `config()`), and the model is
 * not ephemeral (its SQL is inlined into other nodes and tests), only those
 * files are read and parsed again: the configs, relations, order and tests
 * of the rest are kept, every node is rebound to a new on-demand compiler,
 * and unit tests are compiled again. Nothing is listed or stat-ed, so the
 * cost does not grow with the project's files. Any other change (a new,
 * deleted or renamed file, YAML, macros, dbt_project.yml, a ref added) loads
 * the whole project as {@linkcode loadProject} does, which finds what
 * changed itself. The parse cache on disk is left as it is (it is keyed by
 * file digest: a new process parses the edited file once).
 *
 * A macro that reads `graph.nodes[...].raw_code` of an edited model from a
 * *test* sees the text of the load the test was compiled in.
 *
 * @example
 * ```ts
 * import { loadProject, reloadProject } from "./load.ts";
 * let project = await loadProject("dbt");
 * project = await reloadProject(project, ["dbt/models/marts/fct_weather_daily.sql"]);
 * ```
 */
export async function reloadProject(
  previous: DbtProject,
  changedFiles: readonly string[],
): Promise<DbtProject> {
  const state = STATES.get(previous);
  if (!state) throw new RangeError("reloadProject needs a project made by loadProject");
  return patchModels(previous, state, changedFiles) ??
    await loadProject(state.dir, state.options);
}

/**
 * The on-demand compiler of a load's nodes: a full load and a partial re-parse
 * make it from the same parts, so both compile a node alike.
 */
function rendererFor(
  state: Pick<
    LoadState,
    "read" | "props" | "jinja" | "scopes" | "enabled" | "order" | "resolved" | "options"
  >,
): Renderer {
  const { read, props, jinja, scopes, enabled, order, resolved, options } = state;
  return createRenderer({
    read,
    props,
    jinja,
    scopes,
    parsed: enabled,
    order,
    resolved,
    empty: options.empty,
  });
}

/** The partial re-parse of {@linkcode reloadProject}, or undefined when it does not apply. */
function patchModels(
  previous: DbtProject,
  state: LoadState,
  changedFiles: readonly string[],
): DbtProject | undefined {
  state.sourceIndex ??= indexModelFiles(state.read);
  const packages = [...state.read.packages];
  const models = new Map<number, ProjectSource[]>(); // package index -> its copied model list
  const changed = new Map<string, ParsedNode>();
  for (const path of changedFiles) {
    const at = state.sourceIndex.get(resolve(path));
    if (!at) return undefined;
    let text: string;
    try {
      text = Deno.readTextFileSync(resolve(path));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return undefined;
      throw error;
    }
    const pkg = packages[at.pkg] as PackageFiles;
    const list = models.get(at.pkg) ?? [...pkg.models];
    models.set(at.pkg, list);
    const source = list[at.index] as ProjectSource;
    if (source.text === text) continue;
    const node = parseModel({ ...source, text }, pkg.name, state.parseContext);
    const before = state.parsed.get(node.name);
    if (
      !before || before.file !== node.file ||
      state.resolved.configs.get(node.name)?.materialized === "ephemeral" ||
      !sameParse(before, node)
    ) return undefined;
    list[at.index] = { ...source, text };
    changed.set(node.name, node);
  }
  if (changed.size === 0) return previous;
  for (const [index, list] of models) {
    packages[index] = { ...(packages[index] as PackageFiles), models: list };
  }
  const read: ReadProject = { ...state.read, packages };
  const swap = (map: ReadonlyMap<string, ParsedNode>) => {
    const copy = new Map(map);
    for (const [key, node] of changed) if (copy.has(key)) copy.set(key, node);
    return copy;
  };
  const parsed = swap(state.parsed);
  const enabled = swap(state.enabled);
  const { props, jinja, scopes, resolved } = state;
  const renderer = rendererFor({ ...state, read, enabled });
  renderer.setTests(previous.tests);
  renderer.setSemantic(previous.semantic);
  const nodes = new Map<string, ModelNode>();
  for (const [nodeName, node] of state.nodes) {
    nodes.set(
      nodeName,
      changed.has(nodeName)
        ? buildOne(read, props, macroCallsOf(jinja), enabled, resolved, renderer, nodeName)
        : rebindNode(node, renderer),
    );
  }
  const compiled: CompiledNodes = { ...renderer, nodes };
  const project: DbtProject = {
    ...previous,
    ...nodeMaps(nodes),
    unitTests: compileUnitTests(props, jinja, scopes, compiled),
    compileNode: compiled.compileNode,
    renderHook: compiled.renderHook,
    runMaterialization: compiled.runMaterialization,
  };
  STATES.set(project, { ...state, read, parsed, enabled, nodes, sourceIndex: state.sourceIndex });
  return project;
}

/** Whether two parses of a model give the same graph and config. */
function sameParse(a: ParsedNode, b: ParsedNode): boolean {
  return a.name === b.name && a.kind === b.kind &&
    a.refs.length === b.refs.length && a.refs.every((r, i) => r === b.refs[i]) &&
    a.sources.length === b.sources.length && a.sources.every((s, i) => s === b.sources[i]) &&
    JSON.stringify(a.inline) === JSON.stringify(b.inline);
}

function indexModelFiles(
  read: ReadProject,
): Map<string, { readonly pkg: number; readonly index: number }> {
  const index = new Map<string, { readonly pkg: number; readonly index: number }>();
  read.packages.forEach((pkg, p) => {
    pkg.models.forEach((source, i) => {
      index.set(resolve(pkg.dir, source.file.slice(pkg.prefix.length)), { pkg: p, index: i });
    });
  });
  return index;
}

/** What the static parser learns about macros: which exist and which never ref or configure. */
type MacroSafety = Pick<StaticParseContext, "isSafeMacro" | "isPackage"> & {
  readonly key: string;
};

/** The context of static parses (none when the load is told not to parse statically). */
function staticParseContext(
  read: ProjectSources,
  options: LoadProjectOptions,
  safety: MacroSafety,
): StaticParseContext | undefined {
  return options.staticParse === false ? undefined : {
    ...safety,
    key: `${safety.key}\0${JSON.stringify(read.vars)}`,
    hasVar: (key: string) => Object.hasOwn(read.vars, key),
    hasEnv: (key: string) => read.env(key) !== undefined,
  };
}

function loadMacros(
  read: ProjectSources,
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
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.flags ? { flags: options.flags } : {}),
    ...(options.invocationArgs ? { invocationArgs: options.invocationArgs } : {}),
    ...(options.metadataEnv ? { metadataEnv: options.metadataEnv } : {}),
    ...(options.onLog ? { onLog: options.onLog } : {}),
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
  // One template for the whole global project (each template is a parse-cache entry).
  load(globalProjectSource(), GLOBAL_MACROS_FILE, "dbt");
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
  ctx: ParseContext,
): Map<string, ParsedNode> {
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
  const calls = macroCallsOf(jinja);
  for (const nodeName of resolved.configs.keys()) {
    nodes.set(nodeName, buildOne(read, props, calls, parsed, resolved, renderer, nodeName));
  }
  return nodes;
}

/**
 * The project's macros as a node's text is searched for them
 * (compile/macro_mentions.ts), made once for all the nodes (again when the
 * macro list changes): made per node, it was a new list of every macro and
 * a new string per macro for each node.
 */
function macroCallsOf(jinja: JinjaEnv): () => MacroMentions {
  let made: { list: unknown; mentions: MacroMentions } | undefined;
  return () => {
    const list = jinja.macros;
    if (made?.list !== list) made = { list, mentions: new MacroMentions(list) };
    return made.mentions;
  };
}

function buildOne(
  read: ReadProject,
  props: Properties,
  macroCalls: () => MacroMentions,
  parsed: ReadonlyMap<string, ParsedNode>,
  resolved: ResolvedNodes,
  renderer: Renderer,
  nodeName: string,
): ModelNode {
  const node = parsed.get(nodeName) as ParsedNode;
  const config = resolved.configs.get(nodeName) as ModelConfig;
  return buildNode({
    node,
    projectName: read.projectFile.name,
    config,
    relation: resolved.relations.get(nodeName) as Relation,
    uniqueId: resolved.ids.get(nodeName) as string,
    refIds: node.refs.map((r) => resolved.ids.get(r) as string),
    entry: props.entryOf(node.kind, nodeName),
    docs: props.docText,
    compiler: renderer,
    macros: () => macroCalls().idsIn(node.text),
    seed: node.kind === "seed" ? seedSettings(node, config.all) : undefined,
    snapshot: node.kind === "snapshot" ? snapshotSettings(node, config.all) : undefined,
  });
}

export { checksumOf } from "./parse.ts";
