/**
 * Builds the {@linkcode ModelNode} of a compiled model, seed or snapshot,
 * and reads the seed and snapshot settings out of their configs.
 *
 * @module
 */

import { digest } from "../_files.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import type { ModelConfig, ModelNode, SeedSettings, SnapshotSettings } from "../nodes.ts";
import type { Relation } from "../relation.ts";
import { folders, type ParsedNode } from "./parse.ts";
import { columnDocs, type PropertiesEntry } from "./properties.ts";
import type { CompiledSql } from "./renderer.ts";

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
  /** Unique ids of what it refs. */
  readonly refIds: readonly string[];
  /** Its properties entry. */
  readonly entry: PropertiesEntry | undefined;
  /** Resolves `{{ doc('x') }}` in descriptions. */
  readonly docs: (text: string) => string;
  /** Compiles it (on first use of `compiledCode` or `dynamic`). */
  readonly compile: () => CompiledSql;
  /** Whether it has been compiled. */
  readonly isCompiled: () => boolean;
  /** Macro ids it calls (computed on first use). */
  readonly macros: () => readonly string[];
  /** Seed settings. */
  readonly seed: SeedSettings | undefined;
  /** Snapshot settings. */
  readonly snapshot: SnapshotSettings | undefined;
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
  let macros: readonly string[] | undefined;
  let checksum: string | undefined;
  return {
    resourceType: node.kind,
    uniqueId: `${node.kind}.${node.packageName}.${node.name}`,
    name: node.name,
    packageName: node.packageName,
    file: node.file,
    path: node.path,
    fqn: [node.packageName, ...folders(node.path), node.name],
    rawCode: node.text,
    get checksum() {
      checksum ??= node.kind === "seed" ? node.fileText : digest(node.fileText);
      return checksum;
    },
    config,
    relation: input.relation,
    refs: node.refs,
    sources: node.sources,
    dependsOn: [...input.refIds, ...node.sources],
    get macros() {
      macros ??= input.macros();
      return macros;
    },
    description: input.docs(entry?.props.description ?? ""),
    columns: columnDocs(entry?.props.columns, input.docs),
    patchPath: entry ? `${entry.packageName}://${entry.yaml.file}` : null,
    meta: { ...configMeta, ...entryMeta },
    get compiledCode() {
      return input.compile().sql;
    },
    get dynamic() {
      return input.compile().dynamic;
    },
    get compiled() {
      return input.isCompiled();
    },
    ...(input.seed ? { seed: input.seed } : {}),
    ...(input.snapshot ? { snapshot: input.snapshot } : {}),
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
  return {
    strategy: strategy as "timestamp" | "check",
    uniqueKey: [key].flat().map(String),
    updatedAt,
    checkCols: checkCols === "all" ? "all" : [checkCols ?? []].flat().map(String),
    hardDeletes: hard as SnapshotSettings["hardDeletes"],
  };
}
