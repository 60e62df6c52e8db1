/**
 * The graph as data: the {@linkcode Graph} interface, indexing assets by key,
 * their topological order and, when there is none, the cycle that prevents it.
 * It sits below selection and validation: `selection.ts` reads a graph,
 * `definitions.ts` builds one and then validates it.
 *
 * @module
 */

import type { AssetDefinition, CheckDefinition } from "./asset.ts";
import { InvalidDefinitionError } from "./errors.ts";
import type { ResourceSources } from "./resource.ts";
import type { ScheduleDefinition } from "./schedule.ts";
import type { SensorDefinition } from "./sensor.ts";
import { MinHeap } from "./_min_heap.ts";

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
 * Assets by key, in declaration order; fails with `graph.duplicate_key`
 * naming every key defined more than once.
 *
 * @example
 * ```ts
 * import { defineAsset } from "./asset.ts";
 * import { indexAssets } from "./graph.ts";
 * const assets = indexAssets([defineAsset({ key: "a", materialize: () => {} })]);
 * assets.has("a"); // true
 * ```
 */
export function indexAssets(list: readonly AssetDefinition[]): Map<string, AssetDefinition> {
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

/**
 * The keys of `assets` with every asset after its dependencies. Kahn's
 * algorithm with a priority queue: among assets ready at once, the one
 * declared first comes first, so the order reads like the graph file. On a
 * cycle, fails with `graph.cycle` and prints one (see {@linkcode findCycle}).
 * Every dependency must be a key of `assets`.
 *
 * @example
 * ```ts
 * import { defineAsset } from "./asset.ts";
 * import { indexAssets, topologicalOrder } from "./graph.ts";
 * const b = defineAsset({ key: "b", deps: ["a"], materialize: () => {} });
 * const a = defineAsset({ key: "a", materialize: () => {} });
 * topologicalOrder(indexAssets([b, a])); // ["a", "b"]
 * ```
 */
export function topologicalOrder(assets: ReadonlyMap<string, AssetDefinition>): string[] {
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

/**
 * One cycle among `assets` not in `done`, as keys in dependency order with
 * the first repeated at the end (`a -> b -> a`), or `[]` when there is none.
 *
 * @example
 * ```ts
 * import { defineAsset } from "./asset.ts";
 * import { findCycle, indexAssets } from "./graph.ts";
 * const a = defineAsset({ key: "a", deps: ["b"], materialize: () => {} });
 * const b = defineAsset({ key: "b", deps: ["a"], materialize: () => {} });
 * findCycle(indexAssets([a, b])); // ["a", "b", "a"]
 * ```
 */
export function findCycle(
  assets: ReadonlyMap<string, AssetDefinition>,
  done: ReadonlySet<string> = new Set(),
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
