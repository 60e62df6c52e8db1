/**
 * dbt's node selection syntax over a loaded project: space-separated terms
 * are a union, comma-joined ones an intersection; a term is a method and a
 * value (`tag:nightly`, `path:models/staging`, `config.materialized:table`,
 * `source:raw.orders`, `resource_type:seed`, `package:dbt_utils`,
 * `test_type:unit`, `file:orders.sql`, `state:modified`, `state:new`,
 * `result:error`, or a bare value: a path when it has a slash, a file name
 * when it ends in .sql/.py/.csv, else an fqn as dbt matches it) with graph operators (`+x`, `x+`, `2+x`, `x+1`, `@x`).
 * Tests follow the nodes they read ("eager" indirect selection). A named
 * selector of selectors.yml (`--selector`) is read whole: union,
 * intersection, exclude, graph keywords, shorthand and inheritance.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "./errors.ts";
import { clip } from "../../core/printable.ts";
import type { DbtProject } from "./nodes.ts";

/** Previous state for `state:` and `result:` (`--state`). */
export interface SelectionState {
  /** manifest.json of the earlier run: checksums by unique id. */
  readonly checksums?: ReadonlyMap<string, string>;
  /**
   * `state:<value>` of a node against the earlier run's manifest (resources/dbt/state.ts);
   * when absent, `checksums` decide `new` and `modified` alone.
   */
  readonly check?: (id: string, value: string) => boolean;
  /** run_results.json of the earlier run: status by unique id. */
  readonly statuses?: ReadonlyMap<string, string>;
  /**
   * `source_status:fresher`: the sources whose newest load in this project's sources.json is
   * later than in the earlier run's (or absent there), neither run failing on them; undefined
   * when either sources.json is missing.
   */
  readonly fresher?: ReadonlySet<string>;
}

interface Item {
  readonly id: string;
  readonly name: string;
  readonly kind: string;
  readonly file: string;
  readonly fqn: readonly string[];
  readonly tags: readonly string[];
  readonly config: Readonly<Record<string, unknown>>;
  readonly packageName: string;
  readonly checksum: string;
  readonly parents: readonly string[];
  /** A generic test's test (`unique`, `accepted_values`...): what `test_name:` matches. */
  readonly testName?: string | undefined;
  /** A versioned model's version: the model's name, this version, and where it stands. */
  readonly version?:
    | { readonly model: string; readonly v: string; readonly latest: string }
    | undefined;
}

type Version = NonNullable<Item["version"]>;

function versionsByNode(project: DbtProject): Map<string, Version> {
  const out = new Map<string, Version>();
  for (const [model, set] of project.modelVersions ?? []) {
    for (const [v, node] of set.nodes) out.set(node, { model, v, latest: set.latest });
  }
  return out;
}

/** dbt's order of versions: numerically when both are numbers, else as text. */
function compareVersion(a: string, b: string): number {
  const [x, y] = [Number(a), Number(b)];
  return Number.isFinite(x) && Number.isFinite(y) ? x - y : a < b ? -1 : a > b ? 1 : 0;
}

function items(project: DbtProject): Item[] {
  const versions = versionsByNode(project);
  return [
    ...[...project.nodes.values()].map((n) => ({
      id: n.uniqueId,
      name: n.name,
      kind: n.resourceType,
      file: n.file,
      fqn: n.fqn,
      tags: n.config.tags,
      config: n.config.all,
      packageName: n.packageName,
      checksum: n.checksum,
      parents: n.dependsOn,
      ...(n.resourceType === "model" && versions.has(n.name)
        ? { version: versions.get(n.name) }
        : {}),
    })),
    ...project.exposures.map((e) => ({
      id: e.uniqueId,
      name: e.name,
      kind: "exposure",
      file: e.file,
      fqn: [project.name, e.name],
      tags: e.tags,
      config: { tags: e.tags, meta: e.meta },
      packageName: project.name,
      checksum: "",
      parents: e.dependsOn,
    })),
    ...project.tests.map((t) => ({
      id: t.uniqueId,
      name: t.name,
      kind: "test",
      file: t.file,
      fqn: t.fqn,
      tags: t.tags,
      config: {
        severity: t.severity,
        tags: t.tags,
        test_type: t.kind === "singular" ? "singular" : "generic",
      },
      testName: t.testName,
      packageName: t.packageName,
      checksum: t.rawCode,
      parents: t.dependsOn,
    })),
    ...project.analyses.map((a) => ({
      id: a.uniqueId,
      name: a.name,
      kind: "analysis",
      file: a.file,
      fqn: a.fqn,
      tags: a.tags,
      config: a.config,
      packageName: a.packageName,
      checksum: a.checksum,
      parents: a.dependsOn,
    })),
    ...project.unitTests.map((u) => ({
      id: u.uniqueId,
      name: u.name,
      kind: "unit_test",
      file: u.file,
      fqn: unitTestFqn(project.name, u.file, u.model, u.name),
      tags: [],
      config: { test_type: "unit" },
      packageName: project.name,
      checksum: JSON.stringify(u.raw),
      parents: u.dependsOn,
    })),
    ...project.semantic.map((r) => ({
      id: r.uniqueId,
      name: r.name,
      kind: r.kind,
      file: r.file,
      fqn: r.fqn,
      tags: r.tags,
      config: (r.json.config ?? {}) as Record<string, unknown>,
      packageName: r.packageName,
      checksum: JSON.stringify(r.json),
      parents: r.dependsOn,
    })),
    ...[...project.sources.values()].map((s) => ({
      id: s.uniqueId,
      name: s.name,
      kind: "source",
      file: s.file,
      fqn: [s.packageName, s.sourceName, s.name],
      tags: s.tags,
      config: { tags: s.tags, meta: s.meta },
      packageName: s.packageName,
      checksum: "",
      parents: [],
    })),
  ];
}

function glob(pattern: string, text: string): boolean {
  const re = new RegExp(
    `^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replaceAll("*", ".*").replaceAll("?", ".")}$`,
  );
  return re.test(text);
}

/**
 * dbt's `is_selected_node`: the selector names the node (its last fqn part;
 * for a model version, whose fqn ends in `name, v2`, the model's name or
 * `name_v2` / `name.v2`), or its dot-separated parts are a prefix of the fqn,
 * where a part with a wildcard matches the rest of the fqn as a glob.
 * dbt-core 1.x misses `stg_*` for a model in a folder; Fusion matches it, and
 * so do we.
 */
function fqnMatch(fqn: readonly string[], selector: string, versioned = false): boolean {
  if (fqn.length === 0) return false;
  if (versioned && fqn.length >= 2) {
    if (fqn.at(-2) === selector) return true;
    if (fqn.slice(-2).join("_") === selector.split(".").slice(-2).join("_")) return true;
  } else if (fqn.at(-1) === selector) return true;
  // A bare wildcard (`stg_*`) also matches a nested node's name, as dbt Fusion does.
  if (!selector.includes(".") && /[*?]/.test(selector)) {
    if (glob(selector, fqn.at(-1)!)) return true;
    if (versioned && fqn.length >= 2 && glob(selector, fqn.slice(-2).join("_"))) return true;
  }
  const flat = fqn.flatMap((part) => part.split("."));
  const parts = selector.split(".");
  if (flat.length < parts.length) return false;
  for (const [i, part] of parts.entries()) {
    if (/[*?[\]]/.test(part)) return glob(parts.slice(i).join("."), flat.slice(i).join("."));
    if (flat[i] !== part) return false;
  }
  return true;
}

/** Resource types `--resource-type` takes, as dbt lists them (`all` and `default`: every one). */
const RESOURCE_TYPES = new Set([
  "model",
  "seed",
  "snapshot",
  "test",
  "unit_test",
  "source",
  "exposure",
  "analysis",
  "semantic_model",
  "metric",
  "saved_query",
  "all",
  "default",
]);

/**
 * A unit test's fqn as dbt builds it: the package, the folders of its YAML file under the
 * resource path, the model, the test (`models/marts/orders.yml` → `[pkg, marts, orders, t]`).
 * So `-s marts` picks the unit tests written there and `-s orders` picks them only through
 * the model (indirect selection), as in dbt; before, the folders were left out.
 */
export function unitTestFqn(
  packageName: string,
  file: string,
  model: string,
  name: string,
): string[] {
  const folders = file.split("/").slice(1, -1);
  return [packageName, ...folders, model, name];
}

/** dbt's `--indirect-selection` modes: which tests follow the nodes they read. */
export const INDIRECT_SELECTION = ["eager", "cautious", "buildable", "empty"] as const;

/** One of {@linkcode INDIRECT_SELECTION}. */
export type IndirectSelection = typeof INDIRECT_SELECTION[number];

/**
 * Checks `--resource-type` values: one dbt does not know fails, as an empty
 * selection would pass for a run that did its work.
 */
export function checkResourceTypes(kinds: readonly string[], flag = "--resource-type"): void {
  for (const kind of kinds) {
    if (!RESOURCE_TYPES.has(kind)) {
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `${flag} ${kind}: not a resource type (known: ${[...RESOURCE_TYPES].join(", ")})`,
        { file: flag },
      );
    }
  }
}

function matches(item: Item, method: string, value: string, state: SelectionState): boolean {
  switch (method) {
    case "":
      // dbt's default method: a value with a slash is a path, one ending in
      // a node file's extension a file name, anything else an fqn.
      if (value.includes("/")) return matches(item, "path", value, state);
      if (/\.(sql|py|csv)$/i.test(value)) return matches(item, "file", value, state);
      return matches(item, "fqn", value, state);
    case "fqn": {
      // As dbt: the fqn with or without its package, so `staging` picks the
      // models under models/staging and `my_package` a package's nodes. A
      // versioned model's fqn ends in its name and version (`dim.v2`), so its
      // bare name picks every version.
      if (item.kind === "source" || item.kind === "exposure") return false;
      const versioned = item.version !== undefined;
      return fqnMatch(item.fqn, value, versioned) || fqnMatch(item.fqn.slice(1), value, versioned);
    }
    case "version": {
      if (item.kind !== "model") return false;
      const v = item.version;
      if (value === "none") return v === undefined;
      if (v === undefined) return false;
      const order = compareVersion(v.v, v.latest);
      if (value === "latest") return order === 0;
      if (value === "prerelease") return order > 0;
      if (value === "old") return order < 0;
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `version:${value}: the version method takes latest, prerelease, old or none`,
        { file: "--select" },
      );
    }
    case "exposure":
      return item.kind === "exposure" && glob(value, item.name);
    case "group":
      return item.config.group !== undefined && glob(value, String(item.config.group));
    case "access":
      return item.kind === "model" && String(item.config.access ?? "protected") === value;
    case "file": {
      const base = item.file.slice(item.file.lastIndexOf("/") + 1);
      return glob(value, base) || glob(value, base.replace(/\.[^.]*$/, ""));
    }
    case "tag":
      return item.tags.some((t) => glob(value, t));
    case "path":
      return item.file === value || item.file.startsWith(`${value.replace(/\/+$/, "")}/`) ||
        glob(value, item.file);
    case "source": {
      if (item.kind !== "source") return false;
      const [source, table] = value.split(".");
      return glob(source ?? "", item.fqn[1] ?? "") &&
        (table === undefined || glob(table, item.name));
    }
    case "unit_test":
      return item.kind === "unit_test" &&
        (glob(value, item.name) || fqnMatch(item.fqn, value) || fqnMatch(item.fqn.slice(1), value));
    case "semantic_model":
    case "saved_query":
    case "metric":
      return item.kind === method &&
        (glob(value, item.name) || fqnMatch(item.fqn, value) || fqnMatch(item.fqn.slice(1), value));
    case "resource_type":
      return item.kind === value;
    case "package":
      return item.packageName === value;
    case "test_type":
      return item.kind === "unit_test" ? value === "unit" : item.kind === "test" &&
        (value === "data" || item.config.test_type === (value === "schema" ? "generic" : value));
    case "test_name":
      // As dbt: the generic test a test runs (`test_name:unique` picks every `unique` test), and
      // a unit test's name; a singular test has none.
      if (item.kind === "unit_test") return glob(value, item.name);
      return item.kind === "test" && item.testName !== undefined && glob(value, item.testName);
    case "state": {
      if (state.check) return state.check(item.id, value);
      const before = state.checksums;
      if (!before) throw new RangeError("state:");
      if (value === "new") return !before.has(item.id);
      if (value === "modified" || value.startsWith("modified.")) {
        return !before.has(item.id) || before.get(item.id) !== item.checksum;
      }
      return false;
    }
    case "source_status": {
      if (value !== "fresher") {
        throw new DbtError(
          DbtErrorCode.invalidProject,
          `source_status:${value}: the source_status method takes fresher`,
          { file: "--select" },
        );
      }
      if (!state.fresher) {
        throw new DbtError(
          DbtErrorCode.invalidState,
          "source_status:fresher compares the sources.json of --state with this project's " +
            "target/sources.json: run `deno task dbt source freshness` for both",
          { file: "--select" },
        );
      }
      return state.fresher.has(item.id);
    }
    case "result": {
      const statuses = state.statuses;
      if (!statuses) throw new RangeError("result:");
      return statuses.get(item.id) === value;
    }
    default: {
      if (method.startsWith("config.")) {
        // `config.meta.owner:finance` descends into the config, as dbt's `_getattr_descend`.
        let v: unknown = item.config;
        for (const key of method.slice("config.".length).split(".")) {
          if (typeof v !== "object" || v === null || !Object.hasOwn(v, key)) return false;
          v = (v as Record<string, unknown>)[key];
        }
        if (Array.isArray(v)) return v.map(String).includes(value);
        if (typeof v === "object" && v !== null) return false;
        return String(v) === value || (typeof v === "boolean" && String(v) === value.toLowerCase());
      }
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `unknown selection method '${method}:' (known: tag, path, file, config.<key>, source, ` +
          "resource_type, package, fqn, test_type, test_name, state, result, source_status, version, " +
          "exposure, group, access, unit_test, semantic_model, metric, saved_query)",
        { file: "--select" },
      );
    }
  }
}

/**
 * The unique ids that `select` (default: everything) minus `exclude` picks.
 * Throws `dbt.invalid_project` for an unknown method, and for `state:` or
 * `result:` without `--state`.
 */
export function selectNodes(
  project: DbtProject,
  select: readonly string[],
  exclude: readonly string[] = [],
  state: SelectionState = {},
  selector?: string,
  listing = false,
  indirect: IndirectSelection = "eager",
): Set<string> {
  const all = items(project);
  const byId = new Map(all.map((i) => [i.id, i]));
  const children = new Map<string, string[]>();
  for (const item of all) {
    for (const p of item.parents) children.set(p, [...(children.get(p) ?? []), item.id]);
  }
  const walk = (
    start: Iterable<string>,
    next: (id: string) => readonly string[],
    depth: number,
  ): Set<string> => {
    const out = new Set<string>();
    let frontier = [...start];
    for (let d = 0; frontier.length > 0 && d < depth; d++) {
      const further: string[] = [];
      for (const id of frontier) {
        for (const n of next(id)) if (!out.has(n)) (out.add(n), further.push(n));
      }
      frontier = further;
    }
    return out;
  };
  const term = (text: string): Set<string> => {
    const m = /^(@)?(?:(\d*)\+)?(.+?)(?:\+(\d*))?$/.exec(text);
    if (!m) {
      throw new DbtError(DbtErrorCode.invalidProject, `cannot read selector '${text}'`, {
        file: "--select",
      });
    }
    const [, at, up, body = "", down] = m;
    const colon = body.indexOf(":");
    const method = colon > 0 && !body.startsWith("http") ? body.slice(0, colon) : "";
    const value = colon > 0 ? body.slice(colon + 1) : body;
    return expand(text, method, value, {
      parents: up === undefined ? 0 : up === "" ? Infinity : Number(up),
      children: down === undefined ? 0 : down === "" ? Infinity : Number(down),
      childrensParents: at !== undefined,
    });
  };
  const expand = (
    text: string,
    method: string,
    value: string,
    graph: { parents: number; children: number; childrensParents: boolean },
  ): Set<string> => {
    let base: Set<string>;
    try {
      base = new Set(all.filter((i) => matches(i, method, value, state)).map((i) => i.id));
    } catch (error) {
      if (error instanceof RangeError) {
        throw new DbtError(
          DbtErrorCode.invalidProject,
          `'${text}' needs the artifacts of an earlier run: pass --state <folder with manifest.json and run_results.json>`,
          { file: "--select" },
        );
      }
      throw error;
    }
    const out = new Set(base);
    const parentsOf = (id: string) => byId.get(id)?.parents ?? [];
    const childrenOf = (id: string) => children.get(id) ?? [];
    for (const id of walk(base, parentsOf, graph.parents)) out.add(id);
    for (const id of walk(base, childrenOf, graph.children)) out.add(id);
    if (graph.childrensParents) {
      const descendants = walk(base, childrenOf, Infinity);
      for (const id of descendants) out.add(id);
      for (const id of walk([...base, ...descendants], parentsOf, Infinity)) out.add(id);
    }
    return out;
  };
  const evaluate = (terms: readonly string[]): Set<string> => {
    const out = new Set<string>();
    for (const union of terms.flatMap((t) => t.split(/\s+/)).filter((t) => t.length > 0)) {
      const parts = union.split(",").map(term);
      const first = parts[0] ?? new Set<string>();
      for (const id of first) if (parts.every((p) => p.has(id))) out.add(id);
    }
    return out;
  };
  const chosen = select.length === 0 && selector === undefined
    ? new Set(all.map((i) => i.id))
    : evaluate(select);
  if (selector !== undefined) {
    const definitions = project.selectors;
    for (const id of selectorDefinition(selector, definitions, term, expand, [])) chosen.add(id);
  }
  // Indirect selection (dbt's --indirect-selection): eager, a test follows any node it reads;
  // cautious, only when it reads nothing else; buildable, nothing but those and their ancestors;
  // empty, tests come only when selected themselves.
  const picked = new Set(chosen);
  const ancestors = indirect === "buildable"
    ? walk(picked, (id) => byId.get(id)?.parents ?? [], Infinity)
    : new Set<string>();
  const follows = (parents: readonly string[]): boolean => {
    switch (indirect) {
      case "eager":
        return parents.some((p) => picked.has(p));
      case "cautious":
        return parents.length > 0 && parents.every((p) => picked.has(p));
      case "buildable":
        return parents.some((p) => picked.has(p)) &&
          parents.every((p) => picked.has(p) || ancestors.has(p));
      case "empty":
        return false;
    }
  };
  for (const item of all) {
    if ((item.kind === "test" || item.kind === "unit_test") && follows(item.parents)) {
      chosen.add(item.id);
    }
  }
  for (const id of evaluate(exclude)) chosen.delete(id);
  // Sources and exposures are listed (`dbt ls`), never run.
  for (const id of [...chosen]) {
    const kind = byId.get(id)?.kind;
    if (!listing && (kind === "source" || kind === "exposure")) chosen.delete(id);
  }
  return chosen;
}

type Term = (text: string) => Set<string>;
type Expand = (
  text: string,
  method: string,
  value: string,
  graph: { parents: number; children: number; childrensParents: boolean },
) => Set<string>;

/** Keys of a method entry of selectors.yml that dbt reads. */
const METHOD_KEYS = new Set([
  "method",
  "value",
  "parents",
  "children",
  "parents_depth",
  "children_depth",
  "childrens_parents",
  "indirect_selection",
  "exclude",
]);

function selectorError(name: string, message: string): DbtError {
  return new DbtError(DbtErrorCode.invalidProject, `selector '${name}': ${message}`, {
    file: "selectors.yml",
  });
}

/**
 * The ids selector `name` of selectors.yml picks (before tests follow their
 * nodes): CLI-style strings, `union` / `intersection` lists whose `exclude`
 * entries are taken out of the list's result, method entries with
 * `parents` / `children` / `*_depth` / `childrens_parents`, the one-key
 * shorthand (`tag: nightly`) and `method: selector` naming another selector.
 * Anything else is refused by name: a definition read wrongly would build
 * more (or less) than the user chose.
 */
function selectorDefinition(
  name: string,
  definitions: Readonly<Record<string, unknown>>,
  term: Term,
  expand: Expand,
  seen: readonly string[],
): Set<string> {
  if (!Object.hasOwn(definitions, name)) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `selector '${name}' is not in selectors.yml (known: ${
        Object.keys(definitions).join(", ") || "none"
      })`,
      { file: "--selector" },
    );
  }
  if (seen.includes(name)) {
    throw selectorError(name, `refers to itself (${[...seen, name].join(" -> ")})`);
  }
  const chain = [...seen, name];
  const union = (sets: Iterable<Set<string>>) => {
    const out = new Set<string>();
    for (const set of sets) for (const id of set) out.add(id);
    return out;
  };
  const list = (key: string, entries: unknown): Set<string> => {
    if (!Array.isArray(entries)) throw selectorError(name, `'${key}' must be a list`);
    const include: Set<string>[] = [];
    const drop: Set<string>[] = [];
    for (const entry of entries) {
      const e = entry as Record<string, unknown> | null;
      if (
        typeof e === "object" && e !== null && !Array.isArray(e) && Object.keys(e).length === 1 &&
        "exclude" in e
      ) {
        drop.push(list("exclude", e.exclude));
      } else include.push(node(entry));
    }
    let out: Set<string>;
    if (key === "intersection") {
      const [first, ...rest] = include;
      out = new Set([...(first ?? [])].filter((id) => rest.every((s) => s.has(id))));
    } else out = union(include);
    for (const id of union(drop)) out.delete(id);
    return out;
  };
  const node = (definition: unknown): Set<string> => {
    if (typeof definition === "string") {
      return union(
        definition.split(/\s+/).filter((t) => t.length > 0).map((u) => {
          const parts = u.split(",").map(term);
          const [first, ...rest] = parts;
          return new Set([...(first ?? [])].filter((id) => rest.every((p) => p.has(id))));
        }),
      );
    }
    if (typeof definition !== "object" || definition === null || Array.isArray(definition)) {
      throw selectorError(name, `cannot read definition ${JSON.stringify(definition)}`);
    }
    const d = definition as Record<string, unknown>;
    const keys = Object.keys(d);
    if (keys.length === 1 && (keys[0] === "union" || keys[0] === "intersection")) {
      return list(keys[0], d[keys[0]]);
    }
    if (keys.length === 1 && keys[0] === "exclude") {
      throw selectorError(name, "'exclude' only goes inside a union or intersection list");
    }
    if (!("method" in d)) {
      if (keys.length === 1 && keys[0] !== undefined) {
        return node({ method: keys[0], value: d[keys[0]] });
      }
      throw selectorError(name, `an entry needs method and value (got ${keys.join(", ")})`);
    }
    const unknown = keys.filter((k) => !METHOD_KEYS.has(k));
    if (unknown.length > 0) {
      throw selectorError(
        name,
        `unsupported key(s) ${unknown.join(", ")} (supported: ${[...METHOD_KEYS].join(", ")})`,
      );
    }
    if (typeof d.method !== "string" || d.method.trim() === "") {
      // String() made a mapping '[object Object]' and the error blamed --select.
      throw selectorError(
        name,
        `'method' must be a method name such as tag, path or fqn, got ${
          clip(JSON.stringify(d.method) ?? String(d.method), 80)
        }`,
      );
    }
    const method = d.method;
    const value = d.value;
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      throw selectorError(name, `method '${method}' needs a value`);
    }
    if (d.indirect_selection !== undefined && d.indirect_selection !== "eager") {
      throw selectorError(
        name,
        `indirect_selection: ${
          String(d.indirect_selection)
        } is not supported (tests follow the nodes they read: eager)`,
      );
    }
    // As dbt: a depth counts only with its flag on (`parents_depth` needs `parents: true`).
    const depth = (flag: string, depthKey: string): number => {
      const given = d[depthKey];
      if (
        given !== undefined && (typeof given !== "number" || !Number.isInteger(given) || given < 0)
      ) {
        throw selectorError(name, `'${depthKey}' must be a whole number`);
      }
      return d[flag] === true ? (given as number | undefined) ?? Infinity : 0;
    };
    let out: Set<string>;
    try {
      out = method === "selector"
        ? selectorDefinition(String(value), definitions, term, expand, chain)
        : expand(`${method}:${String(value)}`, method === "fqn" ? "" : method, String(value), {
          parents: depth("parents", "parents_depth"),
          children: depth("children", "children_depth"),
          childrensParents: d.childrens_parents === true,
        });
    } catch (error) {
      // A method the selector names (not the command line) is the selector's fault.
      if (error instanceof DbtError && error.file === "--select") {
        throw selectorError(name, error.message.replace(/^--select: /, ""));
      }
      throw error;
    }
    if (d.exclude !== undefined) { for (const id of list("exclude", d.exclude)) out.delete(id); }
    return out;
  };
  let definition = definitions[name];
  if (
    typeof definition === "object" && definition !== null && !Array.isArray(definition) &&
    "definition" in definition
  ) definition = (definition as { definition: unknown }).definition;
  return node(definition);
}
