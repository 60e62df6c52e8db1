/**
 * Compiling nodes to SQL, on demand: the compile render (`execute` true,
 * real relations, `graph` and `model` in the context), ephemeral parents
 * inlined as CTEs, the build-time compile of incremental and `run_query`
 * models, and hooks. Nothing renders until a node's SQL is asked for (a
 * build, `deno task dbt compile`, the manifest of a run): parsing a large
 * project does not pay for compiling nodes nobody builds, and a node whose
 * Jinja fails at compile time fails alone, as in dbt.
 *
 * @module
 */

import { closest } from "../../../core/suggest.ts";
import { DbtErrorCode } from "../errors.ts";
import { type JinjaEnv, QueryNeeded, raiseInRender, type RenderScope } from "../jinja/env.ts";
import type {
  BatchWindow,
  ColumnDoc,
  DbtProject,
  ModelNode,
  QueryRunner,
  SemanticResource,
  TestNode,
} from "../nodes.ts";
import type { ReadProject } from "../project/read.ts";
import { Relation as RelationClass } from "../relation.ts";
import type { Relation } from "../relation.ts";
import { pyDatetime } from "../jinja/context.ts";
import { injectCtes } from "./ctes.ts";
import { checksumOf, folders, type ParsedNode } from "./parse.ts";
import { columnDocs, type Properties } from "./properties.ts";
import type { ResolvedNodes } from "./relations.ts";
import type { Scopes } from "./scopes.ts";
import { nodeFqn } from "./versions.ts";
import { NOT_ALIAS_WORDS } from "../_sql_words.ts";

/** A node's SQL for a full build: its compile render with ephemeral parents inlined. */
export interface CompiledSql {
  /** The SQL. */
  readonly sql: string;
  /** Whether it calls `run_query`/`statement` (compiled again at build time). */
  readonly dynamic: boolean;
}

/** What {@linkcode createRenderer} gives. */
export interface Renderer {
  /** Unique id of a node by name (for `ref()` in exposures and tests). */
  readonly idOf: (name: string) => string | undefined;
  /** Adds the CTEs of the ephemeral nodes `refs` reach, in front of `sql`. */
  readonly withCtes: (sql: string, refs: readonly string[]) => string;
  /** A compile-flavour scope (real relations) whose `ref`/`source` record what they read. */
  readonly scope: (packageName: string, reads: Set<string>) => RenderScope;
  /** A node's full-build SQL, rendered on first use and kept. */
  readonly compiled: (name: string) => CompiledSql;
  /** Whether {@linkcode compiled} already ran for a node. */
  readonly isCompiled: (name: string) => boolean;
  /** See {@linkcode DbtProject.compileNode}. */
  readonly compileNode: DbtProject["compileNode"];
  /** See {@linkcode DbtProject.renderHook}. */
  readonly renderHook: DbtProject["renderHook"];
  /** See {@linkcode DbtProject.runMaterialization}. */
  readonly runMaterialization: DbtProject["runMaterialization"];
  /**
   * Gives `graph.nodes` the project's data tests (compiled after the nodes they test), as
   * dbt's graph has them: packages such as dbt-project-evaluator count tests per model.
   */
  readonly setTests: (tests: readonly TestNode[]) => void;
  /**
   * Gives `graph.metrics` the project's metrics (parsed after the nodes), as dbt's graph has
   * them: dbt_project_evaluator unpacks them.
   */
  readonly setSemantic: (resources: readonly SemanticResource[]) => void;
}

/** A {@linkcode Renderer} and the built nodes, as tests and unit tests read them. */
export interface CompiledNodes extends Renderer {
  /** Nodes by name, in topological order. */
  readonly nodes: ReadonlyMap<string, ModelNode>;
}

/** What {@linkcode createRenderer} needs. */
export interface RendererInput {
  /** The project as read. */
  readonly read: ReadProject;
  /** Its properties. */
  readonly props: Properties;
  /** The Jinja environment with every macro. */
  readonly jinja: JinjaEnv;
  /** Scope builders. */
  readonly scopes: Scopes;
  /** Enabled nodes by name. */
  readonly parsed: ReadonlyMap<string, ParsedNode>;
  /** Their topological order. */
  readonly order: readonly string[];
  /** Their configs, relations and ids. */
  readonly resolved: ResolvedNodes;
  /** dbt's `--empty`: `ref()` and `source()` read no rows. */
  readonly empty?: boolean | undefined;
}

/** Creates the on-demand compiler of a loaded project. */
export function createRenderer(input: RendererInput): Renderer {
  const { jinja, parsed } = input;
  const dicts = lazyNodeDicts(input);
  const metrics: MetricsBox = { value: {} };
  const compileScope = compileScopeFactory(input, dicts, metrics);
  const bare = new Map<string, CompiledSql>();
  const bareSql = (nodeName: string): CompiledSql => {
    let done = bare.get(nodeName);
    if (done) return done;
    const node = parsed.get(nodeName) as ParsedNode;
    done = renderBare(jinja, node, compileScope(node.packageName, new Set(), nodeName));
    if (input.empty) done = { ...done, sql: keepOwnAliases(done.sql) };
    bare.set(nodeName, done);
    return done;
  };
  const ephemeralClosure = (refs: readonly string[], seen = new Set<string>()): string[] => {
    const out: string[] = [];
    for (const ref of refs) {
      if (seen.has(ref) || input.resolved.configs.get(ref)?.materialized !== "ephemeral") continue;
      seen.add(ref);
      out.push(...ephemeralClosure(parsed.get(ref)?.refs ?? [], seen), ref);
    }
    return out;
  };
  const withCtes = (sql: string, refs: readonly string[]): string => {
    // Most nodes read no ephemeral model: no closure to build (a Set and arrays per node).
    let ephemeral = false;
    for (const ref of refs) {
      if (input.resolved.configs.get(ref)?.materialized === "ephemeral") {
        ephemeral = true;
        break;
      }
    }
    if (!ephemeral) return sql;
    const closure = ephemeralClosure(refs);
    if (closure.length === 0) return sql;
    return injectCtes(
      sql,
      closure.map((ref) => ({ name: `__dbt__cte__${ref}`, sql: bareSql(ref).sql })),
    );
  };
  const full = new Map<string, CompiledSql>();
  const compiled = (nodeName: string): CompiledSql => {
    let done = full.get(nodeName);
    if (done) return done;
    const node = parsed.get(nodeName);
    if (!node) throw new RangeError(`Cannot compile '${nodeName}': no such node`);
    const own = bareSql(nodeName);
    done = { sql: withCtes(own.sql, node.refs), dynamic: own.dynamic };
    full.set(nodeName, done);
    return done;
  };
  const compileNode: DbtProject["compileNode"] = async (
    nodeName,
    { isIncremental, query, onLog, batch },
  ) => {
    const node = parsed.get(nodeName);
    if (!node) throw new RangeError(`Cannot compile '${nodeName}': no such node`);
    if (onLog === undefined && batch === undefined) {
      const built = compiled(nodeName);
      if (!isIncremental && !built.dynamic) return built.sql;
    }
    if (!node.template) return "";
    const base = compileScope(node.packageName, new Set(), nodeName);
    const scope: RenderScope = {
      ...base,
      isIncremental: () => isIncremental,
      ...(onLog ? { onLog } : {}),
      ...(batch ? batchScope(base, batch, input) : {}),
    };
    const sql = query
      ? await jinja.renderAsync(node.template, scope, query as QueryRunner)
      : jinja.render(node.template, scope);
    return withCtes(batch || input.empty ? keepOwnAliases(sql) : sql, node.refs);
  };
  const renderHook: DbtProject["renderHook"] = async (text, options) => {
    if (!text.includes("{{") && !text.includes("{%")) return text;
    const scope: RenderScope = {
      ...compileScope(
        options.packageName ?? input.read.projectFile.name,
        new Set(),
        options.nodeName,
        options.self,
      ),
      ...(options.results ? { results: options.results } : {}),
      ...(options.node !== undefined ? { node: options.node } : {}),
    };
    return await jinja.renderAsync(jinja.compile(text, options.file), scope, options.query);
  };
  const runMaterialization: DbtProject["runMaterialization"] = async (nodeName, options) => {
    const node = parsed.get(nodeName);
    const materialized = input.resolved.configs.get(nodeName)?.materialized;
    if (!node || materialized === undefined) {
      throw new RangeError(`Cannot build '${nodeName}': no such node`);
    }
    const found = jinja.findMaterialization(materialized, false);
    if (!found) {
      throw new RangeError(`Cannot build '${nodeName}': no materialization '${materialized}'`);
    }
    const scope: RenderScope = {
      ...compileScope(node.packageName, new Set(), nodeName),
      materialization: options,
      ...(options.onLog ? { onLog: options.onLog } : {}),
    };
    return await jinja.callMacroValueAsync(found.macro, found.packageName, scope, options.query);
  };
  return {
    idOf: (ref) => input.resolved.ids.get(ref),
    runMaterialization,
    withCtes,
    scope: (packageName, reads) => compileScope(packageName, reads),
    compiled,
    isCompiled: (nodeName) => full.has(nodeName),
    compileNode,
    renderHook,
    setTests: dicts.setTests,
    setSemantic: (resources) => {
      metrics.value = Object.fromEntries(
        resources.filter((r) => r.kind === "metric").map((
          r,
        ) => [r.uniqueId, structuredClone(r.json)]),
      );
    },
  };
}

/** `graph.metrics`, set once the semantic layer is parsed. */
interface MetricsBox {
  value: Record<string, unknown>;
}

/**
 * What a microbatch batch changes in a render, as dbt does: `ref()` and
 * `source()` of a parent configured with `event_time` print as a subquery
 * reading only the batch's window (`.render()` opts out); parents without
 * one are read whole. `model.batch` has `id`, `event_time_start` and
 * `event_time_end` (datetimes, UTC).
 */
function batchScope(
  base: RenderScope,
  batch: BatchWindow,
  input: RendererInput,
): Pick<RenderScope, "ref" | "source" | "model"> {
  const filtered = (relation: Relation, column: string | undefined) =>
    column === undefined || !(relation instanceof RelationClass)
      ? relation
      : relation.withEventTimeFilter({ column, start: batch.start, end: batch.end });
  return {
    ref: (name, packageName) =>
      filtered(base.ref(name, packageName), input.resolved.configs.get(name)?.eventTime),
    source: (sourceName, tableName) => {
      const id = input.scopes.sourceId(sourceName, tableName);
      return filtered(base.source(sourceName, tableName), input.props.sources.get(id)?.eventTime);
    },
    model: {
      ...base.model,
      batch: {
        id: batch.id,
        event_time_start: pyDatetime(new Date(batch.start)),
        event_time_end: pyDatetime(new Date(batch.end)),
      },
    },
  };
}

/**
 * A batch's (or `--empty`'s) SQL with the filtered subquery's own alias
 * dropped where the model gives the input an alias of its own
 * (`from {{ ref('x') }} e`): dbt prints `(...) _dbt_et_filter_subq_x e` (or
 * `_dbt_limit_subq_x e`), a syntax error on Postgres and DuckDB
 * (dbt-labs/dbt-adapters#658); the model's alias is kept instead.
 */
export function keepOwnAliases(sql: string): string {
  return sql.replace(
    /\) _dbt_(?:et_filter|limit)_subq_\w+(\s+)(as\s+)?([A-Za-z_][A-Za-z0-9_$]*|"(?:[^"]|"")+")/gi,
    (whole, space: string, as: string | undefined, alias: string) =>
      as === undefined && NOT_ALIAS_WORDS.has(alias.toLowerCase())
        ? whole
        : `)${space}${as ?? ""}${alias}`,
  );
}

/** The compile render of one node; a `run_query` model keeps its parse-time SQL until built. */
function renderBare(jinja: JinjaEnv, node: ParsedNode, scope: RenderScope): CompiledSql {
  const template = node.template;
  if (!template) return { sql: "", dynamic: false };
  // What the template logs is said once: here, or (a run_query model) by its render at build.
  const said: string[] = [];
  const onLog = (m: string) => said.push(m);
  try {
    const sql = jinja.render(template, { ...scope, onLog, answers: [] });
    jinja.say(said, scope);
    return { sql, dynamic: false };
  } catch (error) {
    if (!(error instanceof QueryNeeded)) {
      jinja.say(said, scope);
      throw error;
    }
    // Uses run_query: compiled at build time; until then, its parse-time SQL.
    return { sql: jinja.render(template, { ...scope, onLog, execute: false }), dynamic: true };
  }
}

type CompileScope = (
  packageName: string,
  reads: Set<string>,
  nodeName?: string,
  self?: Relation,
) => RenderScope;

/** Scopes of the compile render: real relations, `graph`, `model`, `config.get`. */
function compileScopeFactory(
  input: RendererInput,
  dicts: NodeDicts,
  metrics: MetricsBox,
): CompileScope {
  const { props, scopes, resolved } = input;
  const { relations, ids, configs } = resolved;
  const { dictOf, all } = dicts;
  const graph = {
    get nodes() {
      return all();
    },
    sources: Object.fromEntries(
      [...props.sources.values()].map((src) => [src.uniqueId, {
        unique_id: src.uniqueId,
        name: src.name,
        source_name: src.sourceName,
        resource_type: "source",
        package_name: src.packageName,
        path: src.file,
        original_file_path: src.file,
        fqn: [src.packageName, src.sourceName, src.name],
        schema: src.relation.schema,
        database: src.relation.database,
        identifier: src.relation.identifier,
        relation_name: src.relation.relationName, // with the database, as in manifest.json
        // None without one, as dbt: `node.external.location` is then undefined, not an error.
        external: src.external ?? null,
        description: src.description,
        source_description: src.sourceDescription,
        loader: src.loader,
        meta: src.meta,
        tags: [],
        config: { enabled: true },
        columns: columnDicts(src.columns),
        // Evaluators and freshness macros read these (the source's own, inherited by its tables).
        loaded_at_field: src.loadedAtField,
        freshness: {
          warn_after: timeDict(src.freshness?.raw.warn_after),
          error_after: timeDict(src.freshness?.raw.error_after),
          filter: src.freshness?.filter ?? null,
        },
      }]),
    ),
    // Built when first read: brooklyn-data/dbt_artifacts uploads them and
    // dbt_project_evaluator unpacks them (they were always empty).
    get exposures() {
      return exposures ??= exposureDicts(props, (name) => ids.get(name));
    },
    get metrics() {
      return metrics.value;
    },
  };
  let exposures: Record<string, Record<string, unknown>> | undefined;
  // The parse scope's members are the same for every node of a package: made once per package,
  // not for each node compiled (a scope of 12 members, six of them new closures, half of them
  // replaced below). Its `model` is the one member a template may change, so each scope gets
  // its own.
  const bases = new Map<string, RenderScope>();
  const baseOf = (packageName: string): RenderScope => {
    let base = bases.get(packageName);
    if (base === undefined) {
      base = scopes.base(packageName, "");
      bases.set(packageName, base);
    }
    return base;
  };
  return (packageName, reads, nodeName, self) => ({
    ...baseOf(packageName),
    graph,
    model: nodeName ? lazyDict(() => dictOf(nodeName)) : { name: "", package_name: packageName },
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
      return input.empty && relation instanceof RelationClass
        ? relation.withEmptyLimit()
        : relation;
    },
    source: (s, t) => {
      const id = scopes.sourceId(s, t);
      reads.add(id);
      const relation = props.sources.get(id)?.relation as Relation;
      return input.empty && relation instanceof RelationClass
        ? relation.withEmptyLimit()
        : relation;
    },
    configGet: nodeName ? (key) => configs.get(nodeName)?.all[key] : () => undefined,
    self: self ?? (nodeName ? relations.get(nodeName) : undefined),
    execute: true,
  });
}

/**
 * The dict `make` gives, made when first read: a node's `model` dict (its properties, fqn,
 * relation name, config) cost ~30 µs, a third of compiling a plain model, and most templates
 * never read `model`. Reads, `in` and spreads see the dict itself.
 */
function lazyDict(make: () => Record<string, unknown>): Record<string, unknown> {
  let dict: Record<string, unknown> | undefined;
  const real = () => dict ??= make();
  return new Proxy({}, {
    get: (_, key) => Reflect.get(real(), key),
    has: (_, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (_, key) => {
      const found = Reflect.getOwnPropertyDescriptor(real(), key);
      return found && { ...found, configurable: true };
    },
    set: (_, key, value) => Reflect.set(real(), key, value),
    deleteProperty: (_, key) => Reflect.deleteProperty(real(), key),
  });
}

/** A node's `description`, `meta` (config's under the file's) and `columns` from its properties. */
function propertiesOf(
  input: RendererInput,
  node: ParsedNode,
  configMeta: unknown,
): Record<string, unknown> {
  const entry = input.props.entryOf(node.kind, node.name);
  const docText = input.props.docText;
  return {
    description: docText(entry?.props.description ?? ""),
    meta: {
      ...(configMeta ?? {}) as Record<string, unknown>,
      ...(entry?.props.meta ?? {}) as Record<string, unknown>,
    },
    columns: columnDocs(entry?.props.columns, docText),
  };
}

/**
 * Nodes as dicts: `model` (one node's, built when its render starts) and
 * `graph.nodes` (every node's, built the first time a macro reads it; a
 * compile that never reads `graph` does not pay for the whole project).
 */
/** A node's dict, every node's dicts, and the tests joining them. */
interface NodeDicts {
  dictOf: (nodeName: string) => Record<string, unknown>;
  all: () => Record<string, Record<string, unknown>>;
  setTests: (tests: readonly TestNode[]) => void;
}

function lazyNodeDicts(input: RendererInput): NodeDicts {
  const { relations, ids, configs } = input.resolved;
  const one = new Map<string, Record<string, unknown>>();
  const dictOf = (nodeName: string): Record<string, unknown> => {
    let dict = one.get(nodeName);
    if (dict) return dict;
    const node = input.parsed.get(nodeName);
    if (!node) return {};
    const relation = relations.get(nodeName) as Relation;
    dict = {
      unique_id: ids.get(nodeName),
      name: nodeName,
      resource_type: node.kind,
      package_name: node.packageName,
      original_file_path: node.file,
      path: node.path,
      fqn: nodeFqn(node.packageName, folders(node.path), nodeName, ids.get(nodeName)),
      schema: relation.schema,
      database: relation.database,
      alias: relation.identifier,
      config: configDict(configs.get(nodeName)?.all, configs.get(nodeName)?.on_schema_change),
      tags: configs.get(nodeName)?.tags ?? [],
      // From its properties file, as dbt's node has them (persist_docs and grants macros read them).
      ...propertiesOf(input, node, configs.get(nodeName)?.all.meta),
      refs: node.refs.map((name) => ({ name, package: null, version: null })),
      depends_on: {
        nodes: [...node.refs.map((r) => ids.get(r)), ...node.sources],
        macros: [],
      },
      raw_code: node.text,
      // dbt_artifacts uploads it with every model and seed.
      checksum: { name: "sha256", checksum: checksumOf(node) },
      language: "sql",
      // With the database, as manifest.json writes it (compiled SQL leaves it out).
      relation_name: relation.cte === undefined ? relation.relationName : null,
      ...(node.kind === "model" ? governanceOf(configs.get(nodeName)?.all ?? {}) : {}),
      // A microbatch model's compile outside a batch (manifest, target/compiled) reads
      // `model.batch.id` as none's attribute (''), not as an undefined's (which raises at
      // compile); dbt compiles such a model only per batch.
      ...(configs.get(nodeName)?.all.incremental_strategy === "microbatch" ? { batch: null } : {}),
    };
    one.set(nodeName, dict);
    return dict;
  };
  let dicts: Record<string, Record<string, unknown>> | undefined;
  let tests: readonly TestNode[] = [];
  const all = () => {
    if (dicts) return dicts;
    dicts = {};
    for (const nodeName of input.order) dicts[ids.get(nodeName) as string] = dictOf(nodeName);
    for (const test of tests) dicts[test.uniqueId] = testDict(test);
    return dicts;
  };
  const setTests = (given: readonly TestNode[]) => {
    tests = given;
    dicts = undefined; // read before the tests were compiled: made again with them
  };
  return { dictOf, all, setTests };
}

/** The project's exposures as `graph.exposures` has them (manifest.json's shape). */
function exposureDicts(
  props: Properties,
  idOf: (name: string) => string | undefined,
): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    props.exposures(idOf).map((e) => {
      return [e.uniqueId, {
        unique_id: e.uniqueId,
        name: e.name,
        resource_type: "exposure",
        package_name: e.packageName,
        path: e.path,
        original_file_path: e.originalFilePath,
        fqn: [...e.fqn],
        type: e.type,
        owner: e.owner,
        description: e.description,
        label: e.label,
        maturity: e.maturity,
        meta: e.meta,
        tags: [...e.tags],
        config: { enabled: true, tags: [...e.tags], meta: e.meta },
        url: e.url,
        depends_on: { macros: [], nodes: [...e.dependsOn] },
        refs: [],
        sources: [],
        metrics: [],
      }];
    }),
  );
}

/** A data test as `graph.nodes` has it (its SQL is not rendered for this). */
export function testDict(test: TestNode): Record<string, unknown> {
  const generic = test.kind === "generic";
  const path = test.file.split("/").slice(1).join("/");
  return {
    unique_id: test.uniqueId,
    name: test.name,
    alias: test.alias,
    resource_type: "test",
    package_name: test.packageName,
    original_file_path: test.file,
    path: generic ? `${test.name}.sql` : path,
    fqn: test.fqn,
    description: test.description,
    columns: {},
    meta: {},
    tags: test.tags,
    config: {
      enabled: true,
      severity: test.severity.toUpperCase() === "WARN" ? "warn" : "ERROR",
      tags: test.tags,
      warn_if: test.thresholds.warnIf,
      error_if: test.thresholds.errorIf,
      fail_calc: test.thresholds.failCalc,
      store_failures: test.thresholds.storeFailures,
      limit: test.thresholds.limit,
      materialized: "test",
    },
    column_name: test.columnName ?? null,
    attached_node: test.attachedTo ?? null,
    ...(generic
      ? {
        test_metadata: {
          name: test.testName,
          kwargs: test.kwargs,
          namespace: test.testNamespace,
        },
      }
      : {}),
    depends_on: { nodes: [...test.dependsOn], macros: [] },
    raw_code: test.rawCode,
  };
}

/**
 * A node's config as dbt's graph has it: NodeConfig's defaults under what the
 * project set (dbt_project_evaluator writes `node.config.enabled`,
 * `on_schema_change`, `full_refresh`... of every node into a table).
 */
export function configDict(
  all: Readonly<Record<string, unknown>> | undefined,
  onSchemaChange: string | undefined,
): Record<string, unknown> {
  if (all === undefined) return {};
  return {
    alias: null,
    schema: null,
    database: null,
    meta: {},
    group: null,
    incremental_strategy: null,
    persist_docs: {},
    quoting: {},
    column_types: {},
    full_refresh: null,
    unique_key: null,
    on_configuration_change: "apply",
    grants: {},
    packages: [],
    docs: { show: true, node_color: null },
    contract: { enforced: false, alias_types: true },
    access: "protected",
    ...all,
    enabled: true, // a disabled node is not in the graph
    on_schema_change: onSchemaChange ?? "ignore",
  };
}

/** A node's access, group, contract and docs as graph dicts have them (dbt's defaults). */
function governanceOf(config: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const contract = (config.contract ?? {}) as { enforced?: unknown };
  const docs = (config.docs ?? {}) as { show?: unknown; node_color?: unknown };
  return {
    access: typeof config.access === "string" ? config.access : "protected",
    group: typeof config.group === "string" ? config.group : null,
    contract: { enforced: contract.enforced === true, alias_types: true, checksum: null },
    docs: { show: docs.show !== false, node_color: docs.node_color ?? null },
  };
}

/** `count` / `period` of a freshness rule as the manifest has them (null when absent). */
function timeDict(time: unknown): { count: unknown; period: unknown } {
  const t = (time ?? {}) as { count?: unknown; period?: unknown };
  return { count: t.count ?? null, period: t.period ?? null };
}

/** Documented columns as the manifest's dict of column dicts. */
function columnDicts(
  columns: Readonly<Record<string, ColumnDoc>>,
): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(columns).map(([name, c]) => [name, {
      ...c.extra,
      name: c.name,
      description: c.description,
      data_type: c.data_type,
      meta: c.meta,
      constraints: c.constraints,
      quote: c.quote ?? null,
      tags: [...(c.tags ?? [])],
    }]),
  );
}
