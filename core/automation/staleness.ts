/**
 * Staleness: whether an asset's data is what its code and its upstreams
 * would produce now, and why not. A materialization is stale when the
 * asset's code version changed since, or when an upstream now holds a data
 * version other than (and newer than) the one it consumed — read from the
 * provenance the executor records with every materialization.
 *
 * @example
 * ```ts
 * import { assetStaleness } from "./staleness.ts";
 * import { defineAsset } from "../asset.ts";
 * import { defineGraph } from "../definitions.ts";
 * import { materialize } from "../executor.ts";
 * import { MemoryRunStore } from "../run_store/memory.ts";
 * const graph = defineGraph({
 *   assets: [
 *     defineAsset({ key: "a", materialize: () => {} }),
 *     defineAsset({ key: "b", deps: ["a"], materialize: () => {} }),
 *   ],
 * });
 * const runStore = new MemoryRunStore();
 * await materialize(graph, { runStore });
 * await materialize(graph, { runStore, selection: "a" });
 * const report = await assetStaleness(graph, runStore, "b");
 * report.status; // "stale": upstream a changed
 * ```
 *
 * @module
 */

import type { AssetDefinition, Materialization } from "../asset.ts";
import type { Graph } from "../graph.ts";
import { samePartitioning } from "../partitions.ts";
import type { RunStore } from "../run_store/types.ts";
import { dataVersionOf } from "../_step.ts";
import { formatDuration } from "./freshness_policy.ts";
import { type PlannedRun, planRuns } from "./plan_runs.ts";
import { AutomationState } from "./state.ts";

/** Why a materialization is stale. */
export type StaleReason =
  | {
    /** The asset's code version is not the one that made the data. */
    readonly kind: "code_version";
    /** Version that made the data. */
    readonly was: string | null;
    /** Version now. */
    readonly now: string | null;
  }
  | {
    /** An upstream holds newer data than the data consumed. */
    readonly kind: "upstream_changed";
    /** Upstream key. */
    readonly upstream: string;
    /** Its partition, or `null`. */
    readonly partition: string | null;
    /** When it changed, ms. */
    readonly at: number;
  };

/** Staleness of one asset partition. */
export interface StalenessReport {
  /** Asset key. */
  readonly assetKey: string;
  /** Partition judged (`null`: unpartitioned, or never materialized). */
  readonly partition: string | null;
  /** `fresh`, `stale`, or `missing` (never materialized). */
  readonly status: "fresh" | "stale" | "missing";
  /** Why it is stale (empty otherwise). */
  readonly reasons: readonly StaleReason[];
}

/** Options of the staleness functions. */
export interface StalenessOptions {
  /**
   * The partition to judge; the asset's latest materialization when absent.
   * @default {undefined}
   */
  readonly partition?: string | null;
}

/**
 * Where a judgement reads each upstream's latest materialization: the run
 * store itself, or a view of it that answers as the store would (the UI's
 * run index, which must not cost a store lookup per asset).
 */
export type MaterializationSource = Pick<RunStore, "lastMaterialization">;

/**
 * Judges `assetKey`'s latest materialization (or that of `options.partition`).
 *
 * @throws {RangeError} when the graph has no such asset.
 */
export async function assetStaleness(
  graph: Graph<unknown>,
  store: RunStore,
  assetKey: string,
  options: StalenessOptions = {},
): Promise<StalenessReport> {
  const asset = graph.assets.get(assetKey);
  if (!asset) throw new RangeError(`Cannot judge staleness of '${assetKey}': no such asset`);
  const last = await store.lastMaterialization(assetKey, options.partition);
  if (!last) {
    return { assetKey, partition: options.partition ?? null, status: "missing", reasons: [] };
  }
  return await judgeMaterialization(graph, store, asset, last);
}

/** Judges every materialized partition of `assetKey` (missing partitions are not listed). */
export async function partitionStaleness(
  graph: Graph<unknown>,
  store: RunStore,
  assetKey: string,
): Promise<StalenessReport[]> {
  const asset = graph.assets.get(assetKey);
  if (!asset) throw new RangeError(`Cannot judge staleness of '${assetKey}': no such asset`);
  const reports: StalenessReport[] = [];
  const source = cachedSource(store);
  for (const m of await store.listMaterializations(assetKey)) {
    reports.push(await judgeMaterialization(graph, source, asset, m));
  }
  return reports.sort((a, b) => String(a.partition).localeCompare(String(b.partition)));
}

/**
 * `source` answering each (asset, partition) once: judging every partition of
 * an asset asks for the same unaligned upstreams again and again.
 */
function cachedSource(source: MaterializationSource): MaterializationSource {
  const cache = new Map<string, Promise<Materialization | undefined>>();
  return {
    lastMaterialization(assetKey, partition) {
      const key = `${assetKey}\0${partition === undefined ? "*" : partition ?? ""}`;
      let found = cache.get(key);
      if (!found) {
        found = source.lastMaterialization(assetKey, partition);
        cache.set(key, found);
      }
      return found;
    },
  };
}

/**
 * Judges `last`, one recorded materialization of `asset`, against the
 * upstreams' latest materializations as `source` gives them: the one rule
 * behind {@linkcode assetStaleness}, `materialize --stale`, the automation
 * and the UI's asset states, so they never disagree on what is stale.
 */
export async function judgeMaterialization(
  graph: Graph<unknown>,
  source: MaterializationSource,
  asset: AssetDefinition,
  last: Materialization,
): Promise<StalenessReport> {
  const found = new Map<string, Materialization | undefined>();
  for (const dep of asset.deps) {
    const depDef = graph.assets.get(dep);
    if (!depDef) continue;
    found.set(dep, await source.lastMaterialization(dep, upstreamPartition(asset, depDef, last)));
  }
  return judgeWith(graph, asset, last, (dep) => found.get(dep));
}

/**
 * The partition of upstream `dep` that `last` of `asset` reads: its own
 * partition when both are partitioned alike, any partition (`undefined`:
 * the latest of all) of another partitioning, `null` when `dep` has none.
 */
export function upstreamPartition(
  asset: AssetDefinition,
  dep: AssetDefinition,
  last: Materialization,
): string | null | undefined {
  const aligned = asset.partitions !== undefined && dep.partitions !== undefined &&
    samePartitioning(asset.partitions, dep.partitions);
  return aligned ? last.partition : dep.partitions ? undefined : null;
}

/**
 * {@linkcode judgeMaterialization} for a caller that holds the upstreams'
 * latest materializations already (the UI's run index): `current(dep,
 * partition)` gives upstream `dep`'s latest of the partition
 * {@linkcode upstreamPartition} names. No await per upstream, so judging a
 * 10,000-asset graph stays cheap.
 */
export function judgeWith(
  graph: Graph<unknown>,
  asset: AssetDefinition,
  last: Materialization,
  current: (dep: string, partition: string | null | undefined) => Materialization | undefined,
): StalenessReport {
  const reasons: StaleReason[] = [];
  if (last.codeVersion !== asset.codeVersion) {
    reasons.push({ kind: "code_version", was: last.codeVersion, now: asset.codeVersion });
  }
  for (const dep of asset.deps) {
    const depDef = graph.assets.get(dep);
    if (!depDef) continue;
    const latest = current(dep, upstreamPartition(asset, depDef, last));
    if (!latest) continue;
    const consumed = last.provenance?.inputs[dep];
    // Another data version at the same time is a newer write on the same clock tick
    // (the latest materialization is the one after it); only an older one is not.
    const changed = consumed
      ? dataVersionOf(latest) !== consumed.dataVersion && latest.time >= consumed.time
      // No record of what was consumed (never there then, or an old record):
      // compare with when the asset's step began.
      : latest.time > (last.provenance?.startedAt ?? last.time);
    if (changed) {
      reasons.push({
        kind: "upstream_changed",
        upstream: dep,
        partition: latest.partition,
        at: latest.time,
      });
    }
  }
  return {
    assetKey: asset.key,
    partition: last.partition,
    status: reasons.length > 0 ? "stale" : "fresh",
    reasons,
  };
}

/**
 * A reason for people, e.g. `upstream bronze_activity changed 2 h ago` or
 * `code version changed (1 → 2)`.
 */
export function describeReason(reason: StaleReason, now: number): string {
  if (reason.kind === "code_version") {
    return `code version changed (${reason.was ?? "none"} → ${reason.now ?? "none"})`;
  }
  const which = reason.partition === null
    ? reason.upstream
    : `${reason.upstream}[${reason.partition}]`;
  return `upstream ${which} changed ${formatDuration(Math.max(0, now - reason.at))} ago`;
}

/** What {@linkcode staleRuns} found. */
export interface StalePlan {
  /** The stale partitions (`null` when unpartitioned) by asset key, in topological order. */
  readonly stale: ReadonlyMap<string, readonly (string | null)[]>;
  /** Runs that materialize exactly them: one per connected set, upstream sets first. */
  readonly runs: readonly PlannedRun[];
}

/**
 * The stale asset partitions among `keys` (every partition ever
 * materialized is judged), grouped into runs that materialize exactly them.
 */
export async function staleRuns(
  graph: Graph<unknown>,
  store: RunStore,
  keys: readonly string[],
): Promise<StalePlan> {
  const wanted = new Set(keys);
  const state = new AutomationState(graph, store, () => {});
  await state.refreshDynamic();
  const stale = new Map<string, (string | null)[]>();
  const requested = new Map<string, number[]>();
  for (const key of graph.order) {
    if (!wanted.has(key)) continue;
    const reports = (await partitionStaleness(graph, store, key)).filter((r) =>
      r.status === "stale"
    );
    if (reports.length === 0) continue;
    const space = state.assets.get(key)?.space;
    stale.set(key, reports.map((r) => r.partition));
    requested.set(key, reports.map((r) => space?.index(r.partition) ?? 0));
  }
  const { runs } = planRuns(requested, state.assets, graph.order);
  const position = new Map(graph.order.map((key, i) => [key, i]));
  const first = (run: PlannedRun) => Math.min(...run.assetKeys.map((k) => position.get(k) ?? 0));
  return { stale, runs: [...runs].sort((a, b) => first(a) - first(b)) };
}
