/**
 * Model versions (dbt 1.5+): a properties entry with `versions:` stands for
 * one model per version, each defined in `<name>_v<v>.sql` (or the file its
 * `defined_in` names) and built under that name, as dbt's default alias
 * does. `ref('name')` reads the latest version (`latest_version`, else the
 * highest), `ref('name', v=1)` / `version=1` a given one.
 *
 * Each version's properties are the model's, with the version's `config`
 * merged over them and its `columns` chosen by `include` / `exclude` and
 * overridden by name, as dbt documents.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";

/** What this module reads of a properties entry (compile/properties.ts), and writes back. */
export interface VersionedEntry {
  readonly props: unknown;
  readonly yaml: {
    readonly file: string;
    lineOf(path: readonly (string | number)[]): number | undefined;
  };
  readonly path: readonly (string | number)[];
}

/** The versions of one model. */
export interface ModelVersionSet {
  /** The model's name as refs write it. */
  readonly name: string;
  /** Node name of each version, by version (as a string: `1`, `2`, `1.1`...). */
  readonly nodes: ReadonlyMap<string, string>;
  /** The version `ref(name)` reads. */
  readonly latest: string;
}

/** Versioned models by name. */
export type ModelVersions = ReadonlyMap<string, ModelVersionSet>;

type Props = Record<string, unknown>;
type Column = Props & { name?: unknown };

/**
 * Replaces each versioned entry of `models` by one entry per version (keyed
 * by the node name of the version) and returns the versions found.
 */
export function expandModelVersions<E extends VersionedEntry>(
  models: Map<string, E>,
): ModelVersions {
  const out = new Map<string, ModelVersionSet>();
  for (const [name, entry] of [...models]) {
    const props = entry.props as Props;
    const versions = props.versions;
    if (versions === undefined || versions === null) continue;
    const fail = (message: string, path: readonly (string | number)[] = []): never => {
      throw new DbtError(DbtErrorCode.invalidYaml, `model '${name}': ${message}`, {
        file: entry.yaml.file,
        line: entry.yaml.lineOf([...entry.path, ...path]) ?? entry.yaml.lineOf(entry.path),
      });
    };
    if (!Array.isArray(versions) || versions.length === 0) {
      fail("versions: must be a list of `- v: <version>` entries", ["versions"]);
    }
    const nodes = new Map<string, string>();
    (versions as unknown[]).forEach((raw, i) => {
      const version = (typeof raw === "object" && raw !== null ? raw : {}) as Props;
      const v = version.v;
      if (typeof v !== "string" && typeof v !== "number") {
        fail("each entry of versions: needs `v:` (a number or string)", ["versions", i]);
      }
      const key = String(v);
      if (nodes.has(key)) fail(`version ${key} is listed twice`, ["versions", i]);
      const definedIn = version.defined_in;
      const nodeName = typeof definedIn === "string" && definedIn !== ""
        ? definedIn
        : `${name}_v${key.replaceAll(".", "_")}`;
      nodes.set(key, nodeName);
      models.set(nodeName, {
        ...entry,
        path: [...entry.path, "versions", i],
        props: versionProps(props, version, nodeName) as E["props"],
      });
    });
    const declared = props.latest_version;
    const latest = declared === undefined || declared === null
      ? [...nodes.keys()].sort(compareVersions).at(-1) as string
      : String(declared);
    if (!nodes.has(latest)) {
      fail(
        `latest_version ${latest} is not one of its versions (${[...nodes.keys()].join(", ")})`,
        [
          "latest_version",
        ],
      );
    }
    models.delete(name);
    out.set(name, { name, nodes, latest });
  }
  return out;
}

function versionProps(model: Props, version: Props, nodeName: string): Props {
  const { versions: _, latest_version: __, ...base } = model;
  const config = {
    ...(base.config as Props | undefined),
    ...(version.config as Props | undefined),
  };
  const tests = [
    ...((base.data_tests ?? base.tests ?? []) as unknown[]),
    ...((version.data_tests ?? version.tests ?? []) as unknown[]),
  ];
  return {
    ...base,
    ...(typeof version.description === "string" ? { description: version.description } : {}),
    name: nodeName,
    config,
    columns: versionColumns((base.columns ?? []) as Column[], version.columns),
    data_tests: tests,
    tests: [],
  };
}

/** The columns of a version: the model's, filtered by `include`/`exclude`, then overridden. */
function versionColumns(model: readonly Column[], own: unknown): Column[] {
  if (!Array.isArray(own)) return [...model];
  let include: "all" | string[] = "all";
  let exclude: string[] = [];
  const overrides: Column[] = [];
  let filtered = false;
  for (const item of own as Column[]) {
    if (typeof item === "object" && item !== null && ("include" in item || "exclude" in item)) {
      filtered = true;
      const inc = item.include;
      include = inc === "all" || inc === "*" || inc === undefined
        ? "all"
        : (inc as unknown[]).map(String);
      exclude = ((item.exclude ?? []) as unknown[]).map(String);
    } else if (typeof item === "object" && item !== null && typeof item.name === "string") {
      overrides.push(item);
    }
  }
  const kept = model.filter((column) => {
    const name = String(column.name);
    if (!filtered) return true;
    return (include === "all" || include.includes(name)) && !exclude.includes(name);
  });
  const byName = new Map(kept.map((c) => [String(c.name), c]));
  for (const column of overrides) byName.set(String(column.name), column);
  return [...byName.values()];
}

function compareVersions(a: string, b: string): number {
  const [x, y] = [Number(a), Number(b)];
  if (!Number.isNaN(x) && !Number.isNaN(y)) return x - y;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The node `ref(name)` / `ref(name, v=version)` reads: the version's node for
 * a versioned model, else `name` itself. Throws for a version the model does
 * not have, or a version asked of a model that has none.
 */
export function versionedRef(
  versions: ModelVersions,
  name: string,
  version: unknown,
): string {
  const set = versions.get(name);
  if (set === undefined) {
    if (version === undefined || version === null) return name;
    throw new RangeError(
      `ref('${name}', v=${String(version)}): model '${name}' has no versions: ` +
        `declare them under \`versions:\` in its properties, or leave out v=`,
    );
  }
  const key = version === undefined || version === null ? set.latest : String(version);
  const node = set.nodes.get(key);
  if (node === undefined) {
    throw new RangeError(
      `ref('${name}', v=${key}): model '${name}' has versions ${[...set.nodes.keys()].join(", ")}`,
    );
  }
  return node;
}

/** A versioned model's node: the model's name and the version it builds. */
export interface NodeVersion {
  /** The model's name as refs write it. */
  readonly model: string;
  /** The version. */
  readonly v: string;
  /** The version `ref(model)` reads. */
  readonly latest: string;
}

/** Each versioned node's model and version, by node name. */
export function nodeVersions(
  versions: ReadonlyMap<string, Pick<ModelVersionSet, "nodes" | "latest">>,
): Map<string, NodeVersion> {
  const out = new Map<string, NodeVersion>();
  for (const [model, set] of versions) {
    for (const [v, node] of set.nodes) out.set(node, { model, v, latest: set.latest });
  }
  return out;
}

/**
 * A node's unique id as dbt-core makes it: `<kind>.<package>.<name>`, and for a
 * version of a model `model.<package>.<model>.v<version>` (not the node's own name).
 */
export function nodeUniqueId(
  kind: string,
  packageName: string,
  nodeName: string,
  version: NodeVersion | undefined,
): string {
  return version
    ? `${kind}.${packageName}.${version.model}.v${version.v}`
    : `${kind}.${packageName}.${nodeName}`;
}

/**
 * A node's fqn as dbt's manifest has it: `[package, ...folders, name]`, but a
 * model version's ends in its model's name and version
 * (`[pkg, marts, dim_customers, v2]` for `model.pkg.dim_customers.v2`, built
 * from `dim_customers_v2.sql`), as dbt-core rewrites it when it patches the
 * version.
 */
export function nodeFqn(
  packageName: string,
  folderNames: readonly string[],
  name: string,
  uniqueId: string | undefined,
): string[] {
  const prefix = `model.${packageName}.`;
  const rest = uniqueId?.startsWith(prefix) ? uniqueId.slice(prefix.length) : name;
  const dot = rest.indexOf(".");
  if (rest === name || dot < 0) return [packageName, ...folderNames, name];
  return [packageName, ...folderNames, rest.slice(0, dot), rest.slice(dot + 1)];
}
