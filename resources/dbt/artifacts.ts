/**
 * dbt artifacts in the project's `target/`: `manifest.json` (schema v12) and
 * `run_results.json` (schema v6), with the fields dbt-aware tools read
 * (nodes, sources, macros, parent_map, child_map; status, timing,
 * execution_time, compiled_code). Files are replaced atomically.
 *
 * @module
 */

import { relative } from "node:path";
import { type Clock, systemClock } from "../../core/clock.ts";
import type {
  AnalysisNode,
  DbtProject,
  MacroInfo,
  ModelNode,
  SemanticResource,
  SnapshotMetaColumns,
  SourceNode,
  TestNode,
  UnitTestNode,
} from "./nodes.ts";
import { digest, writeJsonAtomic, writeTextAtomic } from "./_files.ts";
import { pyJsonDumps } from "./jinja/builtins.ts";
import {
  type Json,
  type JsonParts,
  LazyEntries,
  materializeParts,
  writeJsonParts,
} from "./_json_stream.ts";
import { type NodeVersion, nodeVersions } from "./compile/versions.ts";
import { buildSemanticManifest } from "./semantic_manifest.ts";

/** `metadata.dbt_schema_version` of the manifest written. */
export const MANIFEST_SCHEMA = "https://schemas.getdbt.com/dbt/manifest/v12.json";
/** `metadata.dbt_schema_version` of the run results written. */
export const RUN_RESULTS_SCHEMA = "https://schemas.getdbt.com/dbt/run-results/v6.json";
/** The dbt-core release whose artifact schemas these follow. */
export { DBT_VERSION } from "./project/project_keys.ts";
import { DBT_VERSION } from "./project/project_keys.ts";
import { unitTestFqn } from "./select.ts";

export type { Json } from "./_json_stream.ts";

/** Options of {@linkcode buildManifest}. */
export interface ManifestOptions {
  /** Id of the invocation (the run id). */
  readonly invocationId: string;
  /**
   * When it was generated.
   * @default {new Date()}
   */
  readonly generatedAt?: Date;
}

/** The manifest of `project` as a JSON value following dbt's manifest v12 schema. */
export function buildManifest(project: DbtProject, options: ManifestOptions): Record<string, Json> {
  return materializeParts(manifestParts(project, options, true));
}

/**
 * Writes `project`'s manifest.json (and semantic_manifest.json) to its target path (atomically), the
 * bytes `JSON.stringify(buildManifest(project, options), null, 2)` would
 * make, node by node (resources/dbt/_json_stream.ts says why); returns its path.
 */
export async function writeManifest(
  project: DbtProject,
  options: ManifestOptions,
): Promise<string> {
  const dir = targetDir(project);
  // dbt-core writes the semantic manifest with every manifest (empty lists without a semantic layer).
  const [path] = await Promise.all([
    writeJsonParts(dir, "manifest.json", manifestParts(project, options)),
    // Pydantic's .json(): Python's json.dumps, one line, ", " and ": ", ASCII, no newline.
    writeTextAtomic(
      dir,
      "semantic_manifest.json",
      pyJsonDumps(buildSemanticManifest(project), false),
    ),
  ]);
  return path;
}

/**
 * The manifest with its nodes, sources, macros and maps made when written.
 * `copy`: values share no object with the project (a value handed out);
 * printed at once, they print the same text without copies (a test's
 * kwargs: 30k JSON copies for a 10k-model manifest).
 */
function manifestParts(project: DbtProject, options: ManifestOptions, copy = false): JsonParts {
  const createdAt = (options.generatedAt ?? new Date(systemClock.now())).getTime() / 1000;
  const versions = nodeVersions(project.modelVersions ?? new Map());
  const models = [...project.nodes.values()];
  const { tests, analyses } = project;
  const nodeIds = [
    ...models.map((m) => m.uniqueId),
    ...tests.map((t) => t.uniqueId),
    ...analyses.map((a) => a.uniqueId),
  ];
  const nodes = new LazyEntries(nodeIds, (i) => {
    if (i < models.length) {
      const model = models[i]!;
      const version = model.resourceType === "model" ? versions.get(model.name) : undefined;
      return modelJson(project, model, createdAt, version);
    }
    i -= models.length;
    if (i < tests.length) return testJson(project, tests[i]!, createdAt, copy);
    return analysisJson(project, analyses[i - tests.length]!, createdAt);
  });
  const sourceList = [...project.sources.values()];
  const macroList = [...project.macros.values()];
  // A Map keeps a key where it was first set, as an object does (no unique id is an array index).
  const parents = new Map<string, readonly string[]>();
  for (const source of sourceList) parents.set(source.uniqueId, []);
  for (const model of models) parents.set(model.uniqueId, model.dependsOn);
  for (const exposure of project.exposures) parents.set(exposure.uniqueId, exposure.dependsOn);
  for (let i = 0; i < tests.length; i++) {
    parents.set(nodeIds[models.length + i]!, tests[i]!.dependsOn);
  }
  for (const analysis of analyses) parents.set(analysis.uniqueId, analysis.dependsOn);
  for (const resource of project.semantic) parents.set(resource.uniqueId, resource.dependsOn);
  const children = new Map<string, string[]>();
  for (const id of parents.keys()) children.set(id, []);
  for (const [id, list] of parents) {
    for (const parent of list) {
      const siblings = children.get(parent);
      if (siblings) siblings.push(id);
      else children.set(parent, [id]);
    }
  }
  for (const list of children.values()) list.sort();
  const parentIds = [...parents.keys()];
  const parentLists = [...parents.values()];
  const childIds = [...children.keys()];
  const childLists = [...children.values()];
  return {
    metadata: {
      dbt_schema_version: MANIFEST_SCHEMA,
      dbt_version: DBT_VERSION,
      generated_at: (options.generatedAt ?? new Date(systemClock.now())).toISOString(),
      invocation_id: options.invocationId,
      env: { ...project.metadataEnv },
      project_name: project.name,
      project_id: digest(project.name, "md5"),
      user_id: null,
      send_anonymous_usage_stats: false,
      adapter_type: project.target.type,
    },
    nodes,
    sources: new LazyEntries(
      sourceList.map((source) => source.uniqueId),
      (i) => sourceJson(project, sourceList[i]!, createdAt),
    ),
    macros: new LazyEntries(
      macroList.map((macro) => macro.uniqueId),
      (i) => macroJson(project, macroList[i]!, createdAt),
    ),
    docs: Object.fromEntries(project.docs.map((d) => [d.uniqueId, {
      name: d.name,
      resource_type: "doc",
      package_name: d.packageName,
      path: inPackage(project, d.packageName, d.file),
      original_file_path: inPackage(project, d.packageName, d.file),
      unique_id: d.uniqueId,
      block_contents: d.contents,
    }])),
    exposures: Object.fromEntries(project.exposures.map((e) => [e.uniqueId, {
      name: e.name,
      resource_type: "exposure",
      package_name: e.packageName,
      path: e.path,
      original_file_path: e.originalFilePath,
      unique_id: e.uniqueId,
      fqn: [...e.fqn],
      type: e.type,
      owner: e.owner as Json,
      description: e.description,
      label: e.label,
      maturity: e.maturity,
      meta: e.meta as Json,
      tags: [...e.tags],
      config: { enabled: true, tags: [...e.tags], meta: e.meta as Json },
      unrendered_config: {},
      url: e.url,
      depends_on: { macros: [], nodes: [...e.dependsOn] },
      refs: [],
      sources: [],
      metrics: [],
      created_at: createdAt,
    }])),
    metrics: semanticSection(project, "metric", createdAt),
    groups: Object.fromEntries([...project.groups.values()].map((g) => [g.uniqueId, {
      name: g.name,
      resource_type: "group",
      package_name: g.packageName,
      path: afterFolder(inPackage(project, g.packageName, g.file)),
      original_file_path: inPackage(project, g.packageName, g.file),
      unique_id: g.uniqueId,
      owner: g.owner as Json,
      description: g.description,
      config: { meta: g.meta as Json },
    }])),
    selectors: {},
    disabled: {},
    parent_map: new LazyEntries(parentIds, (i) => {
      const list = parentLists[i]!;
      return copy ? [...list] : list as Json;
    }),
    child_map: new LazyEntries(childIds, (i) => childLists[i]!),
    group_map: groupMap(project),
    saved_queries: semanticSection(project, "saved_query", createdAt),
    semantic_models: semanticSection(project, "semantic_model", createdAt),
    unit_tests: Object.fromEntries(
      project.unitTests.map((u) => [u.uniqueId, unitTestJson(project, u, createdAt)]),
    ),
  };
}

/** A macro as manifest v12 has it. */
function macroJson(project: DbtProject, macro: MacroInfo, createdAt: number): Json {
  const { uniqueId, name, file } = macro;
  return {
    name,
    resource_type: "macro",
    package_name: macro.packageName,
    path: afterFolder(inPackage(project, macro.packageName, file)),
    original_file_path: inPackage(project, macro.packageName, file),
    unique_id: uniqueId,
    macro_sql: macro.sql,
    depends_on: { macros: [] },
    description: "",
    meta: {},
    docs: { show: true, node_color: null },
    patch_path: null,
    arguments: [],
    created_at: createdAt,
    supported_languages: null,
  };
}

/** The manifest section of one kind of the semantic layer (`semantic_models`, `metrics`, `saved_queries`). */
function semanticSection(
  project: DbtProject,
  kind: SemanticResource["kind"],
  createdAt: number,
): Record<string, Json> {
  return Object.fromEntries(
    project.semantic.filter((r) => r.kind === kind).map((r) => [
      r.uniqueId,
      { ...(r.json as Record<string, Json>), created_at: createdAt },
    ]),
  );
}

/** A version as dbt writes it: a number when it reads as one (`2`), else the text (`2.1b`). */
function versionJson(v: string): Json {
  return /^\d+(\.\d+)?$/.test(v) ? Number(v) : v;
}

function groupName(model: ModelNode): string | null {
  return typeof model.config.all.group === "string" ? model.config.all.group : null;
}

/** Unique ids of the nodes of each group, by group name (dbt's `group_map`). */
function groupMap(project: DbtProject): Record<string, string[]> {
  const map: Record<string, string[]> = {};
  for (const node of project.nodes.values()) {
    const group = node.config.all.group;
    if (typeof group === "string" && project.groups.has(group)) {
      (map[group] ??= []).push(node.uniqueId);
    }
  }
  return map;
}

/** An analysis as manifest v12's Analysis node has it. */
function analysisJson(project: DbtProject, analysis: AnalysisNode, createdAt: number): Json {
  const config = analysis.config;
  return {
    database: project.target.database,
    schema: project.target.schema,
    name: analysis.name,
    resource_type: "analysis",
    package_name: analysis.packageName,
    path: analysis.path,
    original_file_path: inPackage(project, analysis.packageName, analysis.file),
    unique_id: analysis.uniqueId,
    fqn: [...analysis.fqn],
    alias: analysis.name,
    checksum: { name: "sha256", checksum: analysis.checksum },
    config: {
      enabled: true,
      alias: null,
      schema: null,
      database: null,
      tags: [...analysis.tags],
      meta: (config.meta ?? {}) as Json,
      group: null,
      materialized: "view",
      persist_docs: {},
      "post-hook": [],
      "pre-hook": [],
      quoting: {},
      column_types: {},
      full_refresh: null,
      unique_key: null,
      on_schema_change: "ignore",
      on_configuration_change: "apply",
      grants: {},
      packages: [],
      docs: { show: true, node_color: null },
      contract: { enforced: false, alias_types: true },
    },
    tags: [...analysis.tags],
    description: analysis.description,
    columns: columnsJson(analysis.columns),
    meta: (config.meta ?? {}) as Json,
    group: null,
    docs: { show: true, node_color: null },
    patch_path: patchPath(project, analysis.packageName, analysis.patchPath),
    build_path: null,
    unrendered_config: {},
    created_at: createdAt,
    relation_name: null,
    raw_code: analysis.rawCode,
    language: "sql",
    refs: [],
    sources: [],
    metrics: [],
    depends_on: { macros: [], nodes: [...analysis.dependsOn] },
    compiled_path: `target/compiled/${analysis.packageName}/${
      inPackage(project, analysis.packageName, analysis.file)
    }`,
    extra_ctes_injected: true,
    extra_ctes: [],
    contract: { enforced: false, alias_types: true, checksum: null },
  };
}

function unitTestJson(project: DbtProject, test: UnitTestNode, createdAt: number): Json {
  const model = project.models.get(test.model);
  return {
    model: test.model,
    given: (Array.isArray(test.raw.given) ? test.raw.given : []).map((g) => ({
      input: String((g as { input?: unknown }).input ?? ""),
      ...fixtureJson(g),
    })),
    expect: fixtureJson(test.raw.expect),
    name: test.name,
    resource_type: "unit_test",
    package_name: project.name,
    path: test.file,
    original_file_path: test.file,
    unique_id: test.uniqueId,
    fqn: unitTestFqn(project.name, test.file, test.model, test.name),
    description: test.description,
    overrides: overridesJson(test.raw.overrides),
    depends_on: { macros: [], nodes: [...test.dependsOn] },
    config: { tags: [], meta: {}, enabled: true },
    checksum: null,
    schema: model?.relation.schema ?? project.target.schema,
    created_at: createdAt,
    versions: null,
    version: null,
  };
}

/**
 * The rows of a unit test's `given` entry or `expect` as dbt's UnitTestInputFixture /
 * UnitTestOutputFixture have them: rows (a list of dicts, or the text of a csv/sql fixture),
 * format and fixture file, and nothing else (both refuse any other key).
 */
/** A unit test's `overrides` as manifest v12 has them (`macros`, `vars`, `env_vars`), or null. */
function overridesJson(value: unknown): Json {
  if (typeof value !== "object" || value === null) return null;
  const o = value as Record<string, unknown>;
  const part = (v: unknown): Json =>
    typeof v === "object" && v !== null ? JSON.parse(JSON.stringify(v)) as Json : {};
  return { macros: part(o.macros), vars: part(o.vars), env_vars: part(o.env_vars) };
}

function fixtureJson(fixture: unknown): { [key: string]: Json } {
  const f = (fixture ?? {}) as { rows?: unknown; format?: unknown; fixture?: unknown };
  return {
    rows: f.rows === undefined ? null : JSON.parse(JSON.stringify(f.rows)) as Json,
    format: typeof f.format === "string" ? f.format : "dict",
    fixture: typeof f.fixture === "string" ? f.fixture : null,
  };
}

function columnsJson(columns: ModelNode["columns"]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const column of Object.values(columns)) {
    out[column.name] = {
      ...column.extra as Record<string, Json>,
      name: column.name,
      description: column.description,
      meta: column.meta as Json,
      data_type: column.data_type,
      constraints: [],
      quote: column.quote ?? null,
      tags: [...(column.tags ?? [])],
      granularity: column.granularity ?? null,
    };
  }
  return out;
}

function modelJson(
  project: DbtProject,
  model: ModelNode,
  createdAt: number,
  version: NodeVersion | undefined,
): Json {
  const ephemeral = model.config.materialized === "ephemeral";
  const config = model.config;
  return {
    database: model.relation.database,
    schema: model.relation.schema,
    // As dbt: every version of a model has the model's name (and its own version).
    name: version?.model ?? model.name,
    resource_type: model.resourceType,
    package_name: model.packageName,
    path: model.path,
    original_file_path: inPackage(project, model.packageName, model.file),
    unique_id: model.uniqueId,
    fqn: [...model.fqn],
    alias: model.relation.identifier,
    checksum: { name: "sha256", checksum: model.checksum },
    config: {
      enabled: true,
      alias: config.alias ?? null,
      schema: config.schema ?? null,
      database: null,
      tags: [...config.tags],
      meta: (config.all.meta ?? {}) as Json,
      group: groupName(model),
      materialized: config.materialized,
      ...(model.resourceType === "seed"
        ? {
          delimiter: model.seed?.delimiter ?? ",",
          quote_columns: model.seed?.quoteColumns ?? null,
        }
        : {}),
      ...(model.resourceType === "snapshot"
        ? {
          strategy: model.snapshot?.strategy ?? null,
          unique_key: [...(model.snapshot?.uniqueKey ?? [])],
          updated_at: model.snapshot?.updatedAt ?? null,
          check_cols: model.snapshot?.checkCols === "all"
            ? "all"
            : [...(model.snapshot?.checkCols ?? [])],
          target_schema: null,
          target_database: null,
          snapshot_meta_column_names: snapshotMetaNames(model.snapshot?.metaColumns),
          ...(model.snapshot?.validToCurrent === undefined
            ? {}
            : { dbt_valid_to_current: model.snapshot.validToCurrent }),
          hard_deletes: model.snapshot?.hardDeletes ?? "ignore",
        }
        : {}),
      incremental_strategy: config.incremental_strategy ?? null,
      // dbt 1.9's microbatch and event-time settings, as NodeConfig has them.
      event_time: config.eventTime ?? null,
      batch_size: config.microbatch?.batchSize ?? stringOrNull(config.all.batch_size),
      lookback: config.microbatch?.lookback ?? 1,
      begin: config.microbatch ? batchTime(config.microbatch.begin) : null,
      concurrent_batches: config.microbatch?.concurrentBatches ?? null,
      persist_docs: persistDocsJson(config.all.persist_docs),
      "post-hook": config.postHooks.map((sql) => ({ sql, transaction: true, index: null })),
      "pre-hook": config.preHooks.map((sql) => ({ sql, transaction: true, index: null })),
      quoting: {},
      column_types: { ...model.seed?.columnTypes },
      full_refresh: null,
      unique_key: config.unique_key === undefined
        ? null
        : [config.unique_key].flat().length === 1
        ? String(config.unique_key)
        : [...[config.unique_key].flat()],
      on_schema_change: config.on_schema_change,
      on_configuration_change: "apply",
      grants: Object.fromEntries(Object.entries(config.grants).map(([k, v]) => [k, [...v]])),
      packages: [],
      docs: docsJson(config.all.docs),
      contract: { enforced: config.contractEnforced, alias_types: true },
      access: accessJson(config.all.access),
    },
    tags: [...config.tags],
    description: model.description,
    columns: columnsJson(model.columns),
    meta: model.meta as Json,
    group: groupName(model),
    docs: docsJson(config.all.docs),
    patch_path: patchPath(project, model.packageName, model.patchPath),
    build_path: null,
    unrendered_config: {},
    created_at: createdAt,
    relation_name: ephemeral ? null : model.relation.relationName,
    raw_code: model.rawCode,
    ...kindJson(project, model, version),
  };
}

/** `persist_docs` as configured (`{relation: true, columns: true}`), else `{}`. */
function persistDocsJson(value: unknown): Json {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(
    Object.entries(value).filter(([, v]) => typeof v === "boolean"),
  ) as Json;
}

/** `docs` as configured (`show`, `node_color`), dbt's defaults otherwise. */
function docsJson(value: unknown): Json {
  const docs = (typeof value === "object" && value !== null ? value : {}) as {
    show?: unknown;
    node_color?: unknown;
  };
  return {
    show: typeof docs.show === "boolean" ? docs.show : true,
    node_color: typeof docs.node_color === "string" ? docs.node_color : null,
  };
}

/** A model's access as configured (private, protected, public; checked at load). */
function accessJson(value: unknown): string {
  return value === "private" || value === "public" ? value : "protected";
}

/**
 * The fields of a node that depend on its kind, as manifest v12 has them: a
 * seed is not compiled (its `depends_on` lists macros only); models and
 * snapshots are compiled nodes; only models have access, constraints and
 * versions (the schema refuses any other field on each kind).
 */
function kindJson(
  project: DbtProject,
  model: ModelNode,
  version: NodeVersion | undefined,
): Record<string, Json> {
  if (model.resourceType === "seed") {
    return { root_path: project.dir, depends_on: { macros: [] } };
  }
  const compiled: Record<string, Json> = {
    // A `.py` model is a Python model in dbt's manifest (its raw_code is the Python source).
    language: model.file.endsWith(".py") ? "python" : "sql",
    refs: model.refs.map((name) => ({ name, package: null, version: null })),
    sources: model.sources.map((id) => {
      const source = project.sources.get(id);
      return [source?.sourceName ?? "", source?.name ?? ""];
    }),
    metrics: [],
    depends_on: { macros: [...model.macros], nodes: [...model.dependsOn] },
    compiled_path: `target/compiled/${project.name}/${model.file}`,
    // Like dbt: compiled code only for nodes compiled by this invocation (a parse has none).
    ...(model.compiled ? { compiled: true, compiled_code: model.compiledCode } : {}),
    extra_ctes_injected: true,
    extra_ctes: [],
    contract: { enforced: model.config.contractEnforced, alias_types: true, checksum: null },
  };
  if (model.resourceType === "snapshot") return compiled;
  return {
    ...compiled,
    access: accessJson(model.config.all.access),
    constraints: [],
    version: version ? versionJson(version.v) : null,
    latest_version: version ? versionJson(version.latest) : null,
    deprecation_date: null,
    // dbt 1.9's `time_spine:` of a model (the semantic layer's calendar).
    time_spine: model.timeSpine
      ? {
        standard_granularity_column: model.timeSpine.standardGranularityColumn,
        custom_granularities: model.timeSpine.customGranularities.map((c) => ({
          name: c.name,
          column_name: c.columnName,
        })),
      }
      : null,
  };
}

function testJson(project: DbtProject, test: TestNode, createdAt: number, copy: boolean): Json {
  const generic = test.kind === "generic";
  const entry: { [key: string]: Json } = {
    database: project.target.database,
    schema: `${project.target.schema}_dbt_test__audit`,
    name: test.name,
    resource_type: "test",
    package_name: test.packageName,
    path: generic
      ? `${test.alias}.sql`
      : afterFolder(inPackage(project, test.packageName, test.file)),
    original_file_path: inPackage(project, test.packageName, test.file),
    unique_id: test.uniqueId,
    fqn: [...test.fqn],
    alias: test.alias,
    checksum: generic
      ? { name: "none", checksum: "" }
      : { name: "sha256", checksum: digest(test.rawCode) },
    config: {
      enabled: true,
      alias: test.alias === test.name ? null : test.alias,
      schema: "dbt_test__audit",
      database: null,
      tags: [],
      meta: {},
      group: null,
      materialized: "test",
      severity: test.severity.toUpperCase(),
      store_failures: test.thresholds.storeFailures,
      store_failures_as: null,
      where: null,
      limit: test.thresholds.limit,
      fail_calc: test.thresholds.failCalc,
      warn_if: test.thresholds.warnIf,
      error_if: test.thresholds.errorIf,
    },
    tags: [],
    description: test.description,
    columns: {},
    meta: {},
    group: null,
    docs: { show: true, node_color: null },
    patch_path: null,
    build_path: null,
    unrendered_config: {},
    created_at: createdAt,
    // dbt names the audit table of a test that stores its failures; other tests have none.
    relation_name: test.thresholds.storeFailures ? test.auditRelation.relationName : null,
    raw_code: test.rawCode,
    language: "sql",
    refs: test.dependsOn.filter((id) => id.startsWith("model.")).map((id) => ({
      name: id.slice(id.lastIndexOf(".") + 1),
      package: null,
      version: null,
    })),
    sources: [],
    metrics: [],
    depends_on: { macros: [], nodes: [...test.dependsOn] },
    compiled_path: null,
    compiled: true,
    compiled_code: test.compiledCode,
    extra_ctes_injected: true,
    extra_ctes: [],
    contract: { enforced: false, alias_types: true, checksum: null },
  };
  if (generic) {
    entry.column_name = test.columnName ?? null;
    entry.file_key_name = test.attachedTo?.startsWith("source.")
      ? `sources.${test.attachedTo.split(".")[2]}`
      : `models.${test.attachedTo?.split(".").at(-1) ?? ""}`;
    entry.attached_node = test.attachedTo?.startsWith("model.") ? test.attachedTo : null;
    entry.test_metadata = {
      name: test.testName ?? "",
      kwargs: (copy ? JSON.parse(JSON.stringify(test.kwargs)) : test.kwargs) as Json,
      namespace: test.testNamespace,
    };
  }
  return entry;
}

function sourceJson(project: DbtProject, source: SourceNode, createdAt: number): Json {
  return {
    database: source.relation.database,
    schema: source.relation.schema,
    name: source.name,
    resource_type: "source",
    package_name: source.packageName,
    path: inPackage(project, source.packageName, source.file),
    original_file_path: inPackage(project, source.packageName, source.file),
    unique_id: source.uniqueId,
    fqn: [source.packageName, source.sourceName, source.name],
    source_name: source.sourceName,
    source_description: source.sourceDescription,
    loader: source.loader,
    identifier: source.relation.identifier,
    quoting: {},
    loaded_at_field: source.loadedAtField,
    freshness: {
      warn_after: freshnessTimeJson(source.freshness?.raw.warn_after),
      error_after: freshnessTimeJson(source.freshness?.raw.error_after),
      filter: source.freshness?.filter ?? null,
    },
    external: (source.external ?? null) as Json,
    description: source.description,
    columns: columnsJson(source.columns),
    meta: source.meta as Json,
    source_meta: {},
    tags: [...source.tags],
    config: { enabled: true },
    patch_path: null,
    unrendered_config: {},
    relation_name: source.relation.relationName,
    created_at: createdAt,
  };
}

/**
 * A freshness `warn_after`/`error_after` as dbt's `Time` (manifest v12, sources v3): exactly
 * `count` and `period`, whatever else the YAML held, each null when absent.
 */
export function freshnessTimeJson(time: unknown): { count: number | null; period: string | null } {
  const t = (time ?? {}) as { count?: unknown; period?: unknown };
  return {
    count: typeof t.count === "number" ? t.count : null,
    period: typeof t.period === "string" ? t.period : null,
  };
}

/** One entry of `run_results.json` (dbt's RunResultOutput). */
export interface RunResultEntry {
  /**
   * `success`/`error`/`skipped` for models (`partial success`: a microbatch
   * model some of whose batches failed); `pass`/`fail`/`warn`/`error`/`skipped`
   * for tests.
   */
  readonly status: "success" | "error" | "skipped" | "pass" | "fail" | "warn" | "partial success";
  /** Compile and execute phases. */
  readonly timing: readonly {
    name: string;
    started_at: string | null;
    completed_at: string | null;
  }[];
  /** Which worker ran it. */
  readonly thread_id: string;
  /** Seconds. */
  readonly execution_time: number;
  /** What the warehouse said (`rows_affected`, `_message`). */
  readonly adapter_response: Readonly<Record<string, Json>>;
  /** Error or status message. */
  readonly message: string | null;
  /** Failing rows of a test, else null. */
  readonly failures: number | null;
  /** Node id. */
  readonly unique_id: string;
  /** Whether it compiled. */
  readonly compiled: boolean | null;
  /** The SQL run. */
  readonly compiled_code: string | null;
  /** Relation built, or null. */
  readonly relation_name: string | null;
  /**
   * A microbatch model's batches, `[start, end]` as ISO datetimes (dbt 1.9):
   * what `dbt retry` reads to rebuild only the failed ones.
   */
  readonly batch_results?: {
    readonly successful: readonly (readonly [string, string])[];
    readonly failed: readonly (readonly [string, string])[];
  };
}

/** A batch bound as run_results.json writes it: `2024-01-01T00:00:00+00:00` (UTC). */
export function batchTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.000Z$/, "+00:00").replace(/Z$/, "+00:00");
}

/** Builds a {@linkcode RunResultEntry} from times in ms since the epoch. */
export function runResultEntry(fields: {
  readonly uniqueId: string;
  readonly status: RunResultEntry["status"];
  readonly startedAt: number;
  readonly compiledAt?: number;
  readonly completedAt: number;
  readonly message: string | null;
  readonly failures?: number | null;
  readonly compiledCode: string | null;
  readonly relationName: string | null;
  readonly rowsAffected?: number | null;
  readonly threadId?: string;
  readonly batches?: {
    readonly successful: readonly { readonly start: number; readonly end: number }[];
    readonly failed: readonly { readonly start: number; readonly end: number }[];
  };
}): RunResultEntry {
  const pair = (b: { start: number; end: number }) =>
    [batchTime(b.start), batchTime(b.end)] as const;
  const iso = (ms: number) => new Date(ms).toISOString();
  const compiledAt = fields.compiledAt ?? fields.startedAt;
  const skipped = fields.status === "skipped";
  return {
    status: fields.status,
    timing: skipped ? [] : [
      { name: "compile", started_at: iso(fields.startedAt), completed_at: iso(compiledAt) },
      { name: "execute", started_at: iso(compiledAt), completed_at: iso(fields.completedAt) },
    ],
    thread_id: fields.threadId ?? "Thread-1",
    execution_time: (fields.completedAt - fields.startedAt) / 1000,
    adapter_response: skipped ? {} : {
      _message: fields.message ?? "OK",
      code: fields.status,
      rows_affected: fields.rowsAffected ?? -1,
    },
    message: fields.message,
    failures: fields.failures ?? null,
    unique_id: fields.uniqueId,
    compiled: fields.compiledCode !== null,
    compiled_code: fields.compiledCode,
    relation_name: fields.relationName,
    ...(fields.batches
      ? {
        batch_results: {
          successful: fields.batches.successful.map(pair),
          failed: fields.batches.failed.map(pair),
        },
      }
      : {}),
  };
}

/** `run_results.json` as a JSON value following dbt's run-results v6 schema. */
export function buildRunResults(
  results: readonly RunResultEntry[],
  options: {
    readonly invocationId: string;
    readonly elapsedSeconds: number;
    readonly args?: Record<string, Json>;
    readonly generatedAt?: Date;
    /** metadata.env: the `DBT_ENV_CUSTOM_ENV_*` variables (a project's `metadataEnv`). */
    readonly env?: Readonly<Record<string, string>> | undefined;
  },
): Record<string, Json> {
  return {
    metadata: {
      dbt_schema_version: RUN_RESULTS_SCHEMA,
      dbt_version: DBT_VERSION,
      generated_at: (options.generatedAt ?? new Date(systemClock.now())).toISOString(),
      invocation_id: options.invocationId,
      env: { ...options.env },
    },
    results: results.map((r) => ({ ...r, timing: [...r.timing] }) as unknown as Json),
    elapsed_time: options.elapsedSeconds,
    args: options.args ?? { which: "build" },
  };
}

/** Where the artifacts of `project` go: its target path. */
export function targetDir(project: DbtProject): string {
  return project.targetPath;
}

/**
 * Collects the results of one invocation and rewrites `run_results.json`
 * after each (serialised, so concurrent assets never interleave writes).
 */
export class RunResultsWriter {
  readonly #project: DbtProject;
  readonly #invocationId: string;
  readonly #clock: Pick<Clock, "now">;
  readonly #started: number;
  #args: Record<string, Json> = { which: "build" };
  readonly #results = new Map<string, RunResultEntry>();
  #queue: Promise<unknown> = Promise.resolve();
  #manifestWritten = false;
  #pending: Promise<unknown> | undefined;

  /** Starts collecting for `invocationId` (the run id). */
  constructor(
    project: DbtProject,
    invocationId: string,
    clock: Pick<Clock, "now"> = systemClock,
  ) {
    this.#project = project;
    this.#invocationId = invocationId;
    this.#clock = clock;
    this.#started = clock.now();
  }

  /** The invocation's arguments, written as run_results.json `args`. */
  set args(args: Record<string, Json>) {
    this.#args = args;
  }

  /** Every result so far, in the order recorded. */
  get results(): readonly RunResultEntry[] {
    return [...this.#results.values()];
  }

  /** Writes manifest.json once per invocation. */
  writeManifest(): Promise<unknown> {
    if (this.#manifestWritten) return this.#queue;
    this.#manifestWritten = true;
    return this.#enqueue(() =>
      writeManifest(this.#project, {
        invocationId: this.#invocationId,
        generatedAt: new Date(this.#clock.now()),
      })
    );
  }

  /** Writes manifest.json again (at the end of a run: with the SQL of the nodes it compiled). */
  rewriteManifest(): Promise<unknown> {
    this.#manifestWritten = false;
    return this.writeManifest();
  }

  /**
   * Records a result (replacing an earlier one of the same node) and rewrites
   * run_results.json, unless `defer` (then {@linkcode flush} writes it).
   * Records arriving while a write is pending share the next write.
   */
  record(entry: RunResultEntry, options: { readonly defer?: boolean } = {}): Promise<unknown> {
    this.#results.set(entry.unique_id, entry);
    return options.defer ? Promise.resolve() : this.flush();
  }

  /** Writes run_results.json with every result recorded so far. */
  flush(): Promise<unknown> {
    this.#pending ??= this.#enqueue(() => {
      this.#pending = undefined; // later records need a later write
      return writeJsonAtomic(
        targetDir(this.#project),
        "run_results.json",
        buildRunResults(this.results, {
          invocationId: this.#invocationId,
          elapsedSeconds: (this.#clock.now() - this.#started) / 1000,
          args: this.#args,
          generatedAt: new Date(this.#clock.now()),
          env: this.#project.metadataEnv,
        }),
      );
    });
    return this.#pending;
  }

  #enqueue(write: () => Promise<unknown>): Promise<unknown> {
    const next = this.#queue.then(write);
    this.#queue = next.catch(() => {}); // the caller sees the error; the queue goes on
    return next;
  }
}

/** The renamed meta columns only, as dbt writes the config (the others keep dbt's names). */
function snapshotMetaNames(
  columns: SnapshotMetaColumns | undefined,
): Record<string, string> {
  if (columns === undefined) return {};
  return Object.fromEntries(Object.entries(columns).filter(([meta, name]) => meta !== name));
}

/** A config value that is text, else null. */
function stringOrNull(value: unknown): string | null {
  return typeof value === "string" ? value : null;
}

/**
 * A file of package `packageName` as dbt's manifest names it: relative to
 * that package's root (`models/stg_x.sql`, not `dbt_packages/pkg/models/stg_x.sql`);
 * the root project's files are already relative to it.
 */
export function inPackage(project: DbtProject, packageName: string, file: string): string {
  const dir = packageName === project.name ? undefined : project.packages.get(packageName);
  if (dir === undefined) return file;
  const prefix = `${relative(project.dir, dir).replaceAll("\\", "/")}/`;
  return file.startsWith(prefix) ? file.slice(prefix.length) : file;
}

/** The path below the file's first folder (`macros/a/b.sql` is `a/b.sql`). */
function afterFolder(file: string): string {
  return file.slice(file.indexOf("/") + 1);
}

/** `pkg://models/x.yml` with the properties file relative to its package, as dbt writes it. */
function patchPath(project: DbtProject, packageName: string, patch: string | null): string | null {
  if (patch === null) return null;
  const at = patch.indexOf("://");
  if (at < 0) return patch;
  const owner = patch.slice(0, at);
  return `${owner}://${inPackage(project, owner || packageName, patch.slice(at + 3))}`;
}
