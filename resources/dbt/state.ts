/**
 * `state:` selection against an earlier run's manifest.json, as dbt-core's
 * StateSelectorMethod decides it: `new`, `old`, `modified` (and its parts
 * `modified.body`, `.configs`, `.relation`, `.persisted_descriptions`,
 * `.macros`, `.contract`) and `unmodified`. Both sides are compared as
 * manifest JSON, so a node is judged by what dbt would see in the artifact.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "./errors.ts";

/** A node or source of a manifest, as far as `state:` reads it. */
export interface StateNode {
  readonly resource_type?: string;
  readonly checksum?: { readonly checksum?: string };
  readonly raw_code?: string;
  readonly config?: Readonly<Record<string, unknown>>;
  readonly description?: string;
  readonly columns?: Readonly<Record<string, { description?: string; data_type?: unknown }>>;
  readonly depends_on?: { readonly macros?: readonly string[] };
}

/** A macro of a manifest, as far as `state:` reads it. */
export interface StateMacro {
  readonly macro_sql?: string;
  readonly depends_on?: { readonly macros?: readonly string[] };
}

/** The parts of a manifest `state:` compares. */
export interface StateManifest {
  readonly nodes?: Readonly<Record<string, StateNode>>;
  readonly sources?: Readonly<Record<string, unknown>>;
  readonly macros?: Readonly<Record<string, StateMacro>>;
  readonly unit_tests?: Readonly<Record<string, unknown>>;
  readonly exposures?: Readonly<Record<string, unknown>>;
  readonly semantic_models?: Readonly<Record<string, unknown>>;
  readonly metrics?: Readonly<Record<string, unknown>>;
  readonly saved_queries?: Readonly<Record<string, unknown>>;
}

/**
 * The manifest's collections other than `nodes` whose entries `state:` judges whole, as dbt's
 * `same_contents` of unit tests, exposures and the semantic layer's resources does.
 */
const OTHER_KINDS = [
  "unit_tests",
  "exposures",
  "semantic_models",
  "metrics",
  "saved_queries",
] as const;

/** The `state:` values dbt takes. */
const MODIFIED_PARTS = [
  "body",
  "configs",
  "relation",
  "persisted_descriptions",
  "macros",
  "contract",
] as const;

type Part = typeof MODIFIED_PARTS[number];

/** Whether the node `id` matches `state:<value>`, comparing `current` with `previous`. */
export type StateCheck = (id: string, value: string) => boolean;

/** A {@linkcode StateCheck} of the project's manifest (`current`) against `previous`. */
export function stateCheck(previous: StateManifest, current: StateManifest): StateCheck {
  let modifiedMacros: Set<string> | undefined;
  const macrosChanged = (): Set<string> => {
    if (modifiedMacros) return modifiedMacros;
    const [before, now] = [previous.macros ?? {}, current.macros ?? {}];
    modifiedMacros = new Set([
      ...Object.entries(now)
        .filter(([id, m]) => !Object.hasOwn(before, id) || before[id]?.macro_sql !== m.macro_sql)
        .map(([id]) => id),
      ...Object.keys(before).filter((id) => !Object.hasOwn(now, id)),
    ]);
    return modifiedMacros;
  };
  const usesChangedMacro = (macros: readonly string[] | undefined, seen: Set<string>): boolean =>
    (macros ?? []).some((id) => {
      if (seen.has(id)) return false;
      seen.add(id);
      return macrosChanged().has(id) ||
        usesChangedMacro(current.macros?.[id]?.depends_on?.macros, seen);
    });
  const same = (part: Part, old: StateNode, now: StateNode): boolean => {
    switch (part) {
      case "body":
        // A test's text is its raw code (a generic test has no file of its own).
        return now.resource_type === "test"
          ? old.raw_code === now.raw_code
          : old.checksum?.checksum === now.checksum?.checksum;
      case "configs": {
        // The keys both manifests write: a state made by dbt-core (which writes more keys,
        // `batch_size`, `event_time`...) is not "modified" for each node for that alone.
        const [before, after] = [old.config ?? {}, now.config ?? {}];
        return Object.keys(after).filter((key) => Object.hasOwn(before, key))
          .every((key) => canonical(before[key]) === canonical(after[key]));
      }
      case "relation":
        // As dbt: the configured names, not the target's (a prod state read from dev matches).
        return ["database", "schema", "alias"].every((key) =>
          canonical(old.config?.[key] ?? null) === canonical(now.config?.[key] ?? null)
        );
      case "persisted_descriptions": {
        const docs = (now.config?.persist_docs ?? {}) as { relation?: unknown; columns?: unknown };
        if (docs.relation === true && old.description !== now.description) return false;
        if (docs.columns !== true) return true;
        return canonical(descriptions(old)) === canonical(descriptions(now));
      }
      case "macros":
        return !usesChangedMacro(now.depends_on?.macros, new Set());
      case "contract": {
        const enforced = (n: StateNode) =>
          (n.config?.contract as { enforced?: unknown } | undefined)?.enforced === true;
        if (!enforced(old) && !enforced(now)) return true;
        return enforced(old) === enforced(now) && canonical(types(old)) === canonical(types(now));
      }
    }
  };
  return (id, value) => {
    const other = OTHER_KINDS.find((kind) => Object.hasOwn(current[kind] ?? {}, id));
    const known = Object.hasOwn(previous.nodes ?? {}, id) ||
      Object.hasOwn(previous.sources ?? {}, id) ||
      (other !== undefined && Object.hasOwn(previous[other] ?? {}, id));
    if (value === "new") return !known;
    if (value === "old") return known;
    const old = previous.nodes?.[id];
    const now = current.nodes?.[id];
    const parts = value === "modified" || value === "unmodified"
      ? [...MODIFIED_PARTS]
      : value.startsWith("modified.") &&
          (MODIFIED_PARTS as readonly string[]).includes(value.slice(9))
      ? [value.slice(9) as Part]
      : undefined;
    if (parts === undefined) {
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `state:${value}: not a state selector (known: new, old, modified, unmodified, ` +
          `${MODIFIED_PARTS.map((p) => `modified.${p}`).join(", ")})`,
        { file: "--select" },
      );
    }
    // A source the earlier run knew is not modified here (sources are not compared). A unit
    // test, exposure or semantic resource is modified when its definition is; before, these
    // were never found in the earlier manifest, so each of them was "new" on every run.
    const modified = !known ||
      (other !== undefined
        ? contents(previous[other]?.[id]) !== contents(current[other]?.[id])
        : old !== undefined && now !== undefined && parts.some((part) => !same(part, old, now)));
    return value === "unmodified" ? !modified : modified;
  };
}

/**
 * An entry's definition: what the manifest says of it but when it was parsed and what the
 * run's target decides (a unit test's schema and database, a semantic model's relation, a
 * saved query's exports' schema and database), as dbt's same_contents of these kinds leaves
 * them out: production's manifest, built for its own target, is compared with slim CI's.
 */
function contents(entry: unknown): string {
  if (typeof entry !== "object" || entry === null) return canonical(entry);
  const {
    created_at: _createdAt,
    schema: _schema,
    database: _database,
    node_relation: _nodeRelation,
    exports,
    ...rest
  } = entry as Record<string, unknown>;
  if (!Array.isArray(exports)) {
    return canonical(exports === undefined ? rest : { ...rest, exports });
  }
  return canonical({
    ...rest,
    exports: exports.map((e) => {
      const config = (e as { config?: unknown } | null)?.config;
      if (typeof config !== "object" || config === null) return e;
      const { schema_name: _s, database: _d, ...kept } = config as Record<string, unknown>;
      return { ...(e as Record<string, unknown>), config: kept };
    }),
  });
}

function descriptions(node: StateNode): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(node.columns ?? {}).map(([name, c]) => [name, c.description ?? ""]),
  );
}

function types(node: StateNode): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(node.columns ?? {}).map(([name, c]) => [name, c.data_type ?? null]),
  );
}

/** JSON with sorted keys: two configs are equal whatever order their keys were written in. */
function canonical(value: unknown): string {
  return JSON.stringify(
    value ?? null,
    (_key, v) =>
      typeof v === "object" && v !== null && !Array.isArray(v)
        ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
        : v,
  );
}
