/**
 * Turns the partitions an evaluation requested into runs: one run per
 * connected set (requested assets linked through their dependencies), so a
 * chain `bronze -> stg -> mart` requested together runs in order, in one run,
 * while unrelated assets get runs of their own.
 *
 * A run names its assets and, when partitioned, one list of partition keys
 * that every partitioned asset of the run takes. When the partitioned assets
 * of a set were requested for different keys, the set is split into one run
 * per key, and the unpartitioned assets that read those partitions wait for
 * a later evaluation (they are `deferred`): running them beside their
 * upstream would read half-written data.
 *
 * @module
 */

import type { AssetState } from "./state.ts";

/** A run to launch. */
export interface PlannedRun {
  /** Asset keys, in the graph's topological order. */
  readonly assetKeys: readonly string[];
  /** Partition keys every partitioned asset of the run takes, or `null` when none is partitioned. */
  readonly partitions: readonly string[] | null;
}

/** What {@linkcode planRuns} decided. */
export interface RunPlan {
  /** Runs to launch. */
  readonly runs: readonly PlannedRun[];
  /** Requested partitions left for a later evaluation, by asset key. */
  readonly deferred: ReadonlyMap<string, readonly number[]>;
}

/**
 * Groups `requested` (partition indexes by asset key) into runs.
 * `states` gives each asset's partition space and edges; `order` is the
 * graph's topological order.
 */
export function planRuns(
  requested: ReadonlyMap<string, readonly number[]>,
  states: ReadonlyMap<string, AssetState>,
  order: readonly string[],
): RunPlan {
  const items: { state: AssetState; index: number }[] = [];
  const id = new Map<string, number>();
  for (const key of order) {
    const indexes = requested.get(key);
    const state = states.get(key);
    if (!indexes || !state) continue;
    for (const index of indexes) {
      id.set(`${key}\0${index}`, items.length);
      items.push({ state, index });
    }
  }
  const parent = items.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i] as number] as number;
    return i;
  };
  const union = (a: number, b: number) => void (parent[find(a)] = find(b));
  items.forEach(({ state, index }, i) => {
    for (const { dep, mapping } of state.deps) {
      const indexes = requested.get(dep.asset.key);
      if (!indexes) continue;
      if (mapping.kind === "all") {
        for (const j of indexes) union(i, id.get(`${dep.asset.key}\0${j}`) as number);
        continue;
      }
      const j = mapping.kind === "aligned" ? index + mapping.offset : 0;
      const other = id.get(`${dep.asset.key}\0${j}`);
      if (other !== undefined) union(i, other);
    }
  });
  const components = new Map<number, number[]>();
  items.forEach((_, i) => {
    const root = find(i);
    const list = components.get(root) ?? [];
    list.push(i);
    components.set(root, list);
  });

  const runs: PlannedRun[] = [];
  // Sets of the same partitioned assets that differ only in their partition
  // (a backfill of a chain: day 1, day 2...) become one run over all of them.
  const byShape = new Map<string, { assetKeys: string[]; partitions: string[] }>();
  const deferred = new Map<string, number[]>();
  for (const members of components.values()) {
    const byAsset = new Map<AssetState, number[]>();
    for (const i of members) {
      const { state, index } = items[i] as { state: AssetState; index: number };
      const list = byAsset.get(state) ?? [];
      list.push(index);
      byAsset.set(state, list);
    }
    const partitioned = [...byAsset].filter(([state]) => state.space.def !== undefined);
    const keysOf = (state: AssetState, indexes: number[]) =>
      indexes.map((i) => state.space.key(i) as string).sort();
    const signatures = new Set(partitioned.map(([s, ix]) => keysOf(s, ix).join("\0")));
    if (signatures.size <= 1) {
      const first = partitioned[0];
      const assetKeys = [...byAsset.keys()].map((s) => s.asset.key);
      if (!first) {
        runs.push({ assetKeys, partitions: null });
        continue;
      }
      const keys = keysOf(first[0], first[1]);
      const shape = partitioned.length === byAsset.size ? assetKeys.join("\0") : undefined;
      const same = shape === undefined ? undefined : byShape.get(shape);
      if (same) {
        same.partitions.push(...keys);
        continue;
      }
      const run = { assetKeys, partitions: keys };
      if (shape !== undefined) byShape.set(shape, run);
      runs.push(run);
      continue;
    }
    // Different keys per asset: one run per key for the partitioned assets.
    const perKey = new Map<string, string[]>();
    for (const [state, indexes] of partitioned) {
      for (const key of keysOf(state, indexes)) {
        const list = perKey.get(key) ?? [];
        list.push(state.asset.key);
        perKey.set(key, list);
      }
    }
    for (const key of [...perKey.keys()].sort()) {
      runs.push({ assetKeys: perKey.get(key) as string[], partitions: [key] });
    }
    for (const [state, indexes] of byAsset) {
      if (!state.space.def) deferred.set(state.asset.key, indexes);
    }
  }
  for (const run of byShape.values()) run.partitions.sort();
  return { runs, deferred };
}
