/**
 * The graph: every asset, check and resource of a project, validated at once.
 *
 * @module
 */

import { type AssetDefinition, buildCheck, type CheckDefinition } from "./asset.ts";
import { InvalidDefinitionError } from "./errors.ts";
import type { ResourceSources } from "./resource.ts";
import { MinHeap } from "./_min_heap.ts";
import { automationProblems } from "./_check_automation.ts";
import type { ScheduleDefinition } from "./schedule.ts";
import type { SensorDefinition } from "./sensor.ts";

/** What {@linkcode defineGraph} takes. */
export interface GraphSpec<R> {
  /** Every asset. */
  readonly assets: readonly AssetDefinition[];
  /** Checks defined apart from their assets (e.g. dbt tests). */
  readonly checks?: readonly CheckDefinition[];
  /** Resources by key: values or factories. */
  readonly resources?: ResourceSources<R>;
  /** Sensors the daemon evaluates (`deno task sensor`). */
  readonly sensors?: readonly SensorDefinition[];
  /** Schedules the daemon evaluates. */
  readonly schedules?: readonly ScheduleDefinition[];
}

/** A validated graph of assets. */
export interface Graph<R = Record<string, unknown>> {
  /** Assets by key, in declaration order. */
  readonly assets: ReadonlyMap<string, AssetDefinition>;
  /** Asset keys in a topological order (stable: declaration order breaks ties). */
  readonly order: readonly string[];
  /** Resources by key. */
  readonly resources: ResourceSources<R>;
  /** Direct upstream keys of `key`. */
  upstream(key: string): readonly string[];
  /** Direct downstream keys of `key`. */
  downstream(key: string): readonly string[];
  /** Checks on `key`, the asset's own first. */
  checksFor(key: string): readonly CheckDefinition[];
  /** Sensors, in declaration order. */
  readonly sensors: readonly SensorDefinition[];
  /** Schedules, in declaration order. */
  readonly schedules: readonly ScheduleDefinition[];
}

/** Raised when a graph cannot be built; `problems` lists every issue found. */
export class GraphDefinitionError extends InvalidDefinitionError {
  /** Each problem, one sentence naming the assets involved. */
  readonly problems: readonly string[];

  /** Creates the error from its problems; `code` is the kind of the first. */
  constructor(code: string, problems: readonly string[]) {
    const head = problems.length === 1
      ? problems[0]
      : `${problems.length} problems:\n  - ${problems.join("\n  - ")}`;
    super(code, `Cannot load the asset graph: ${head}`);
    this.problems = problems;
  }
}

/**
 * Validates and indexes a graph. Fails at once, naming the assets involved, on
 * a duplicate key, an unknown dependency, a cycle (printed), a check on an
 * unknown asset, or a resource an asset declares but the graph does not give.
 *
 * @example
 * ```ts
 * import { defineAsset } from "./asset.ts";
 * import { defineGraph } from "./definitions.ts";
 * const a = defineAsset({ key: "a", materialize: () => {} });
 * const b = defineAsset({ key: "b", deps: ["a"], materialize: () => {} });
 * const graph = defineGraph({ assets: [a, b] });
 * graph.order; // ["a", "b"]
 * ```
 */
export function defineGraph<R>(spec: GraphSpec<R>): Graph<R> {
  const assets = indexAssets(spec.assets);
  const resources = spec.resources ?? ({} as ResourceSources<R>);
  checkDependencies(assets);
  checkCheckTargets(assets, spec.checks ?? []);
  checkResources(assets, spec.checks ?? [], Object.keys(resources));
  const order = topologicalOrder(assets);
  const downstream = new Map<string, string[]>([...assets.keys()].map((key) => [key, []]));
  for (const asset of assets.values()) {
    for (const dep of asset.deps) downstream.get(dep)?.push(asset.key);
  }
  const checks = indexChecks(assets, spec.checks ?? []);
  const graph: Graph<R> = Object.freeze({
    assets,
    order,
    resources,
    upstream: (key: string) => assets.get(key)?.deps ?? [],
    downstream: (key: string) => downstream.get(key) ?? [],
    checksFor: (key: string) => checks.get(key) ?? [],
    sensors: Object.freeze([...(spec.sensors ?? [])]),
    schedules: Object.freeze([...(spec.schedules ?? [])]),
  });
  const problems = automationProblems(graph as Graph<unknown>, graph.sensors, graph.schedules);
  if (problems[0]) {
    throw new GraphDefinitionError(problems[0].code, problems.map((p) => p.message));
  }
  return graph;
}

function indexAssets(list: readonly AssetDefinition[]): Map<string, AssetDefinition> {
  const assets = new Map<string, AssetDefinition>();
  const duplicates = new Set<string>();
  for (const asset of list) {
    if (assets.has(asset.key)) duplicates.add(asset.key);
    assets.set(asset.key, asset);
  }
  if (duplicates.size > 0) {
    throw new GraphDefinitionError(
      "graph.duplicate_key",
      [...duplicates].map((key) => `asset key '${key}' is defined more than once`),
    );
  }
  return assets;
}

function checkDependencies(assets: ReadonlyMap<string, AssetDefinition>): void {
  const problems: string[] = [];
  for (const asset of assets.values()) {
    for (const dep of asset.deps) {
      if (!assets.has(dep)) {
        problems.push(
          `asset '${asset.key}' depends on '${dep}', which is not defined${
            nearest(dep, assets.keys())
          }`,
        );
      }
    }
  }
  if (problems.length > 0) throw new GraphDefinitionError("graph.unknown_dependency", problems);
}

function checkResources(
  assets: ReadonlyMap<string, AssetDefinition>,
  checks: readonly CheckDefinition[],
  provided: readonly string[],
): void {
  const available = new Set(provided);
  const problems: string[] = [];
  const users = [
    ...[...assets.values()].flatMap((asset) => [
      { who: `asset '${asset.key}'`, resources: asset.resources },
      ...asset.checks.map((c) => ({
        who: `check '${c.name}' on '${asset.key}'`,
        resources: c.resources,
      })),
    ]),
    ...checks.map((c) => ({ who: `check '${c.name}' on '${c.assetKey}'`, resources: c.resources })),
  ];
  for (const { who, resources } of users) {
    for (const key of resources) {
      if (!available.has(key)) {
        const given = provided.length
          ? `the graph gives ${provided.map((k) => `'${k}'`).join(", ")}`
          : "the graph gives none";
        problems.push(`${who} uses resource '${key}', but ${given}`);
      }
    }
  }
  if (problems.length > 0) throw new GraphDefinitionError("graph.undeclared_resource", problems);
}

function checkCheckTargets(
  assets: ReadonlyMap<string, AssetDefinition>,
  checks: readonly CheckDefinition[],
): void {
  const problems = checks.filter((check) => !assets.has(check.assetKey)).map((check) =>
    `check '${check.name}' is on asset '${check.assetKey}', which is not defined${
      nearest(check.assetKey, assets.keys())
    }`
  );
  if (problems.length > 0) throw new GraphDefinitionError("graph.unknown_asset", problems);
}

function indexChecks(
  assets: ReadonlyMap<string, AssetDefinition>,
  extra: readonly CheckDefinition[],
): Map<string, CheckDefinition[]> {
  const byAsset = new Map<string, CheckDefinition[]>();
  for (const asset of assets.values()) byAsset.set(asset.key, [...asset.checks]);
  for (const check of extra) {
    const list = byAsset.get(check.assetKey) ?? [];
    if (list.some((c) => c.name === check.name)) {
      throw new GraphDefinitionError("graph.duplicate_check", [
        `asset '${check.assetKey}' has two checks named '${check.name}'`,
      ]);
    }
    list.push(buildCheck(check.assetKey, check, check.resources));
  }
  return byAsset;
}

/**
 * Kahn's algorithm with a priority queue: among assets ready at once, the one
 * declared first comes first, so the order reads like the graph file. On a
 * cycle, finds one and prints it.
 */
function topologicalOrder(assets: ReadonlyMap<string, AssetDefinition>): string[] {
  const keys = [...assets.keys()];
  const index = new Map(keys.map((key, i) => [key, i]));
  const pending = keys.map((key) => assets.get(key)?.deps.length ?? 0);
  const dependents: number[][] = keys.map(() => []);
  keys.forEach((key, i) => {
    for (const dep of assets.get(key)?.deps ?? []) dependents[index.get(dep) as number]?.push(i);
  });
  const ready = new MinHeap();
  pending.forEach((count, i) => count === 0 && ready.push(i));
  const order: string[] = [];
  for (let i = ready.pop(); i !== undefined; i = ready.pop()) {
    order.push(keys[i] as string);
    for (const next of dependents[i] ?? []) {
      pending[next] = (pending[next] ?? 0) - 1;
      if (pending[next] === 0) ready.push(next);
    }
  }
  if (order.length === assets.size) return order;
  const cycle = findCycle(assets, new Set(order));
  throw new GraphDefinitionError("graph.cycle", [`the assets form a cycle: ${cycle.join(" -> ")}`]);
}

function findCycle(
  assets: ReadonlyMap<string, AssetDefinition>,
  done: ReadonlySet<string>,
): string[] {
  const state = new Map<string, "visiting" | "visited">();
  const path: string[] = [];
  const visit = (key: string): string[] | undefined => {
    if (state.get(key) === "visiting") return [...path.slice(path.indexOf(key)), key];
    if (state.get(key) === "visited" || done.has(key)) return undefined;
    state.set(key, "visiting");
    path.push(key);
    for (const dep of assets.get(key)?.deps ?? []) {
      const found = visit(dep);
      if (found) return found;
    }
    path.pop();
    state.set(key, "visited");
    return undefined;
  };
  for (const key of assets.keys()) {
    const found = visit(key);
    if (found) return found.reverse();
  }
  return [];
}

/** ` (did you mean 'x'?)` when a known name is close to `name`, else `""`. */
export function nearest(name: string, known: Iterable<string>): string {
  const match = closest(name, known);
  return match ? ` (did you mean '${match}'?)` : "";
}

/** The known name closest to `name` by edit distance, if close enough to suggest. */
export function closest(name: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(name.length / 3))
    ? best
    : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(
        Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost),
      );
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
