/**
 * Builds the {@linkcode ModelNode} of a compiled model, seed or snapshot,
 * and reads the seed and snapshot settings out of their configs.
 *
 * @module
 */

import { digest } from "../_files.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import type {
  ModelConfig,
  ModelNode,
  SeedSettings,
  SnapshotMetaColumns,
  SnapshotSettings,
  TimeSpine,
} from "../nodes.ts";
import type { Relation } from "../relation.ts";
import { folders, type ParsedNode } from "./parse.ts";
import { columnDocs, type PropertiesEntry } from "./properties.ts";
import type { CompiledSql } from "./renderer.ts";
import { nodeFqn } from "./versions.ts";

/** What {@linkcode buildNode} needs. */
export interface BuildNodeInput {
  /** The parsed node. */
  readonly node: ParsedNode;
  /** Root project name. */
  readonly projectName: string;
  /** Its config. */
  readonly config: ModelConfig;
  /** Its relation. */
  readonly relation: Relation;
  /** Its unique id (a model version's is `model.<pkg>.<model>.v<N>`, as dbt). */
  readonly uniqueId: string;
  /** Unique ids of what it refs. */
  readonly refIds: readonly string[];
  /** Its properties entry. */
  readonly entry: PropertiesEntry | undefined;
  /** Resolves `{{ doc('x') }}` in descriptions. */
  readonly docs: (text: string) => string;
  /** Compiles it by name (on first use of `compiledCode` or `dynamic`). */
  readonly compiler: NodeCompiler;
  /** Macro ids it calls (computed on first use). */
  readonly macros: () => readonly string[];
  /** Seed settings. */
  readonly seed: SeedSettings | undefined;
  /** Snapshot settings. */
  readonly snapshot: SnapshotSettings | undefined;
}

/** What compiles nodes by name: the project's renderer (compile/renderer.ts). */
export interface NodeCompiler {
  /** A node's full-build SQL, rendered on first use and kept. */
  compiled(name: string): CompiledSql;
  /** Whether {@linkcode compiled} already ran for a node. */
  isCompiled(name: string): boolean;
}

/** What a built node keeps to be bound to another renderer (see {@linkcode rebindNode}). */
interface NodeParts {
  /** Every field computed at build time. */
  readonly base: Omit<ModelNode, "checksum" | "macros" | "compiledCode" | "dynamic" | "compiled">;
  /** Values computed on first use, shared by every binding of the node. */
  readonly lazy: { checksum?: string; macros?: readonly string[] };
  /** What it was built from. */
  readonly input: BuildNodeInput;
}

/**
 * The node of a model, seed or snapshot. Its `compiledCode`, `dynamic` and
 * `macros` are computed on first use (see compile/renderer.ts): a render
 * error surfaces when the node is compiled or built, for that node alone.
 */
export function buildNode(input: BuildNodeInput): ModelNode {
  const { node, config, entry } = input;
  const entryMeta = (entry?.props.meta ?? {}) as Record<string, unknown>;
  const configMeta = (config.all.meta ?? {}) as Record<string, unknown>;
  const base: NodeParts["base"] = {
    resourceType: node.kind,
    uniqueId: input.uniqueId,
    name: node.name,
    packageName: node.packageName,
    file: node.file,
    path: node.path,
    fqn: nodeFqn(node.packageName, folders(node.path), node.name, input.uniqueId),
    rawCode: node.text,
    config,
    relation: input.relation,
    refs: node.refs,
    sources: node.sources,
    dependsOn: input.refIds.concat(node.sources), // exact size: no spread literal's slack
    description: input.docs(entry?.props.description ?? ""),
    columns: columnDocs(entry?.props.columns, input.docs),
    patchPath: entry ? `${entry.packageName}://${entry.yaml.file}` : null,
    meta: { ...configMeta, ...entryMeta },
    ...(input.seed ? { seed: input.seed } : {}),
    ...(input.snapshot ? { snapshot: input.snapshot } : {}),
    ...(node.kind === "model" && entry?.props.time_spine !== undefined
      ? { timeSpine: timeSpineOf(entry) }
      : {}),
  };
  return new BuiltNode({ base, lazy: {}, input }, input.compiler);
}

/**
 * The same node compiled by another renderer (a partial re-parse: the
 * node's own inputs did not change, but the project it renders in did).
 * Costs one small object, not a rebuild: what {@linkcode buildNode}
 * computed (fqn, columns, docs, meta) and the lazy checksum are shared.
 */
export function rebindNode(node: ModelNode, compiler: NodeCompiler): ModelNode {
  if (!(node instanceof BuiltNode)) {
    throw new RangeError(`Cannot rebind '${node.uniqueId}': not made by buildNode`);
  }
  return node.rebind(compiler);
}

/**
 * A built node: plain fields copied from its parts (a class, not an object
 * literal with getters, so that binding 10k nodes to a new renderer costs
 * about a millisecond: literals with accessors are dictionary-mode objects).
 */
class BuiltNode implements ModelNode {
  readonly resourceType: ModelNode["resourceType"];
  readonly uniqueId: ModelNode["uniqueId"];
  readonly name: ModelNode["name"];
  readonly packageName: ModelNode["packageName"];
  readonly file: ModelNode["file"];
  readonly path: ModelNode["path"];
  readonly fqn: ModelNode["fqn"];
  readonly rawCode: ModelNode["rawCode"];
  readonly config: ModelNode["config"];
  readonly relation: ModelNode["relation"];
  readonly refs: ModelNode["refs"];
  readonly sources: ModelNode["sources"];
  readonly dependsOn: ModelNode["dependsOn"];
  readonly description: ModelNode["description"];
  readonly columns: ModelNode["columns"];
  readonly patchPath: ModelNode["patchPath"];
  readonly meta: ModelNode["meta"];
  readonly seed: ModelNode["seed"];
  readonly snapshot: ModelNode["snapshot"];
  readonly timeSpine: ModelNode["timeSpine"];
  readonly #parts: NodeParts;
  readonly #compiler: NodeCompiler;

  constructor(parts: NodeParts, compiler: NodeCompiler) {
    const base = parts.base;
    this.resourceType = base.resourceType;
    this.uniqueId = base.uniqueId;
    this.name = base.name;
    this.packageName = base.packageName;
    this.file = base.file;
    this.path = base.path;
    this.fqn = base.fqn;
    this.rawCode = base.rawCode;
    this.config = base.config;
    this.relation = base.relation;
    this.refs = base.refs;
    this.sources = base.sources;
    this.dependsOn = base.dependsOn;
    this.description = base.description;
    this.columns = base.columns;
    this.patchPath = base.patchPath;
    this.meta = base.meta;
    this.seed = base.seed;
    this.snapshot = base.snapshot;
    this.timeSpine = base.timeSpine;
    this.#parts = parts;
    this.#compiler = compiler;
  }

  /** The same node compiled by another renderer. */
  rebind(compiler: NodeCompiler): BuiltNode {
    return new BuiltNode(this.#parts, compiler);
  }

  get checksum(): string {
    const { lazy, input } = this.#parts;
    lazy.checksum ??= input.node.kind === "seed"
      ? input.node.fileText
      : digest(input.node.fileText);
    return lazy.checksum;
  }

  get macros(): readonly string[] {
    const { lazy, input } = this.#parts;
    lazy.macros ??= input.macros();
    return lazy.macros;
  }

  get compiledCode(): string {
    return this.#compiler.compiled(this.name).sql;
  }

  get dynamic(): boolean {
    return this.#compiler.compiled(this.name).dynamic;
  }

  get compiled(): boolean {
    return this.#compiler.isCompiled(this.name);
  }
}

/**
 * A model's `time_spine:` as dbt 1.9 reads it: its standard granularity
 * column must be one of the model's columns with a `granularity:`.
 */
function timeSpineOf(entry: PropertiesEntry): TimeSpine {
  const spine = entry.props.time_spine;
  const at = { file: entry.yaml.file, line: entry.yaml.lineOf([...entry.path, "time_spine"]) };
  const fail = (message: string): never => {
    throw new DbtError(
      DbtErrorCode.invalidYaml,
      `model '${String(entry.props.name)}': time_spine ${message}`,
      at,
    );
  };
  if (typeof spine !== "object" || spine === null || Array.isArray(spine)) {
    return fail("must be a mapping with standard_granularity_column");
  }
  const map = spine as Record<string, unknown>;
  const standard = map.standard_granularity_column;
  if (typeof standard !== "string" || standard === "") {
    return fail("needs standard_granularity_column: the column of one row per period");
  }
  const columns = Array.isArray(entry.props.columns) ? entry.props.columns : [];
  const column = columns.find((c) =>
    typeof c === "object" && c !== null && (c as Record<string, unknown>).name === standard
  ) as Record<string, unknown> | undefined;
  const granularity = column?.granularity;
  if (typeof granularity !== "string") {
    return fail(
      `standard_granularity_column '${standard}' must be a column of the model with a granularity (e.g. granularity: day)`,
    );
  }
  const custom = Array.isArray(map.custom_granularities) ? map.custom_granularities : [];
  return {
    standardGranularityColumn: standard,
    granularity,
    customGranularities: custom.map((c) => {
      const item = (typeof c === "object" && c !== null ? c : { name: c }) as Record<
        string,
        unknown
      >;
      return {
        name: String(item.name),
        columnName: typeof item.column_name === "string" ? item.column_name : null,
      };
    }),
  };
}

/** Seed settings from its config. */
export function seedSettings(
  node: ParsedNode,
  all: Readonly<Record<string, unknown>>,
): SeedSettings {
  const types = all.column_types;
  const delimiter = all.delimiter === undefined ? "," : String(all.delimiter);
  if (delimiter.length !== 1) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `delimiter must be one character, not '${delimiter}'`,
      {
        file: node.file,
      },
    );
  }
  return {
    csvPath: node.seed?.fullPath ?? node.file,
    delimiter,
    columnTypes: typeof types === "object" && types !== null
      ? Object.fromEntries(Object.entries(types).map(([k, v]) => [k, String(v)]))
      : {},
    quoteColumns: all.quote_columns === true,
  };
}

/** Snapshot settings from its config; throws naming the missing setting. */
export function snapshotSettings(
  node: ParsedNode,
  all: Readonly<Record<string, unknown>>,
): SnapshotSettings {
  const fail = (message: string): never => {
    throw new DbtError(DbtErrorCode.invalidProject, `snapshot '${node.name}': ${message}`, {
      file: node.file,
    });
  };
  const strategy = all.strategy;
  if (strategy !== "timestamp" && strategy !== "check") {
    fail(`strategy must be 'timestamp' or 'check' (got '${String(strategy)}')`);
  }
  const key = all.unique_key;
  if (key === undefined || key === null) fail("unique_key is required");
  const updatedAt = typeof all.updated_at === "string" ? all.updated_at : undefined;
  if (strategy === "timestamp" && updatedAt === undefined) {
    fail("the timestamp strategy needs updated_at");
  }
  const checkCols = all.check_cols;
  if (strategy === "check" && checkCols === undefined) fail("the check strategy needs check_cols");
  const hard = all.hard_deletes ?? (all.invalidate_hard_deletes === true ? "invalidate" : "ignore");
  if (hard !== "ignore" && hard !== "invalidate" && hard !== "new_record") {
    fail(`hard_deletes must be ignore, invalidate or new_record (got '${String(hard)}')`);
  }
  const metaColumns: Record<keyof SnapshotMetaColumns, string> = {
    dbt_valid_from: "dbt_valid_from",
    dbt_valid_to: "dbt_valid_to",
    dbt_scd_id: "dbt_scd_id",
    dbt_updated_at: "dbt_updated_at",
    dbt_is_deleted: "dbt_is_deleted",
  };
  const renamed = all.snapshot_meta_column_names ?? {};
  if (typeof renamed !== "object" || Array.isArray(renamed)) {
    fail("snapshot_meta_column_names must be a map, e.g. {dbt_valid_from: valid_from}");
  }
  for (const [meta, column] of Object.entries(renamed as Record<string, unknown>)) {
    if (!Object.hasOwn(metaColumns, meta)) {
      fail(
        `snapshot_meta_column_names: '${meta}' is not one of ${
          Object.keys(metaColumns).join(", ")
        }`,
      );
    }
    if (column === null || column === undefined) continue;
    if (typeof column !== "string" || column.trim() === "") {
      fail(`snapshot_meta_column_names: ${meta} must name a column (got '${String(column)}')`);
    }
    metaColumns[meta as keyof SnapshotMetaColumns] = (column as string).trim();
  }
  const current = all.dbt_valid_to_current;
  if (current !== undefined && current !== null && typeof current !== "string") {
    fail("dbt_valid_to_current must be SQL text, e.g. \"'9999-12-31'::timestamp\"");
  }
  return {
    strategy: strategy as "timestamp" | "check",
    uniqueKey: [key].flat().map(String),
    updatedAt,
    checkCols: checkCols === "all" ? "all" : [checkCols ?? []].flat().map(String),
    hardDeletes: hard as SnapshotSettings["hardDeletes"],
    metaColumns,
    validToCurrent: typeof current === "string" && current.trim() !== "" ? current : undefined,
  };
}
