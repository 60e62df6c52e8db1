/**
 * The state of each asset as the UI colours it: never materialized,
 * materialized, running, failed, stale or check failing; plus partition
 * health for partitioned assets.
 *
 * Stale is judged by core/automation/staleness.ts, the rule `materialize
 * --stale`, `cli show` and the automation use (code versions, and the data
 * versions each materialization consumed), over every partition's latest
 * materialization as `materialize --stale` judges them: the UI never shows an
 * asset fresh that `materialize --stale` would rebuild, or the reverse. The
 * materializations judged come from the run index when it holds every run
 * (no store lookup per asset), otherwise from the store (one per asset
 * judged: an index window cannot tell which write was the latest).
 *
 * @module
 */

import type { AssetDefinition, Materialization } from "../core/asset.ts";
import { judgeWith, type StalenessReport } from "../core/automation/staleness.ts";
import type { Graph } from "../core/graph.ts";
import { partitionKeys, type PartitionsDefinition } from "../core/partitions.ts";
import type { RunStore } from "../core/run_store/types.ts";
import {
  type CheckEvaluation,
  checkOf,
  type LatestStep,
  type MaterializationEntry,
  type RunIndex,
} from "./run_index.ts";

/** The state an asset is coloured by. */
export type AssetState =
  | "never"
  | "materialized"
  | "running"
  | "failed"
  | "stale"
  | "check_failing";

/** Every state, in the order a legend lists them. */
export const ASSET_STATES: readonly AssetState[] = [
  "materialized",
  "stale",
  "check_failing",
  "failed",
  "running",
  "never",
];

/** Counts of partitions by health. */
export interface PartitionHealth {
  /** Partitions that exist now. */
  readonly total: number;
  /** Latest step succeeded. */
  readonly materialized: number;
  /** Latest step failed or was canceled. */
  readonly failed: number;
  /** Running now. */
  readonly running: number;
  /** Never materialized (or skipped). */
  readonly missing: number;
}

/** What the UI shows about one asset's state. */
export interface AssetStatus {
  /** Asset key. */
  readonly key: string;
  /** Colour state. */
  readonly state: AssetState;
  /**
   * Whether `materialize --stale` (and "Materialize stale") would run it:
   * some partition's latest materialization is stale, whatever the colour
   * (a failing check or a failed later step colours it first).
   */
  readonly stale: boolean;
  /** Why it is in that state, one sentence. */
  readonly why: string;
  /** Latest materialization, if any. */
  readonly lastMaterialization: Materialization | undefined;
  /** Latest step of any partition, if any. */
  readonly latestStep: LatestStep | undefined;
  /** Latest evaluation of each check, by name. */
  readonly checks: ReadonlyMap<string, CheckEvaluation>;
  /** Partition health, for partitioned assets. */
  readonly partitions: PartitionHealth | undefined;
  /**
   * Latest step of each partition (`""` for unpartitioned): from the run
   * index, and for partitions it has no step of (their last run is older than
   * its window), from the store's history of the asset.
   */
  readonly latestByPartition: ReadonlyMap<string, LatestStep>;
}

/** Options of {@linkcode assetStatuses}. */
export interface StatusOptions {
  /** Time for daily partitions (ms since the epoch). */
  readonly now: number;
}

/**
 * The status of every asset of `graph`, from the run index (refreshed by the
 * caller) and, for assets whose last run is older than the index, the store.
 */
export async function assetStatuses(
  graph: Graph<unknown>,
  index: RunIndex,
  store: RunStore,
  options: StatusOptions,
): Promise<Map<string, AssetStatus>> {
  const lastMaterialized = new Map<string, Materialization | undefined>();
  for (const key of graph.order) {
    const view = index.asset(key);
    lastMaterialized.set(
      key,
      // An index holding every run knows an asset it never saw has no materialization: a
      // fresh 10,000-asset graph would otherwise cost 10,000 store lookups per refresh.
      newest(view.materializations) ??
        (view.latest || index.complete ? undefined : await store.lastMaterialization(key)),
    );
  }
  const dynamic = new Map<string, readonly string[]>();
  const keysOf = async (def: PartitionsDefinition): Promise<string[]> => {
    if (def.kind === "dynamic" && !dynamic.has(def.name)) {
      dynamic.set(def.name, await store.dynamicPartitions(def.name));
    }
    return partitionKeys(def, {
      now: options.now,
      dynamicKeys: (name) => dynamic.get(name) ?? [],
    });
  };
  const latest = latestMaterializations(index, store);
  const result = new Map<string, AssetStatus>();
  for (const key of graph.order) {
    const asset = graph.assets.get(key) as AssetDefinition;
    const view = index.asset(key);
    // Latest evaluation per check and partition: a check fails while any
    // partition's latest evaluation fails; the one shown is the failing one.
    const checks = new Map<string, CheckEvaluation>();
    const seen = new Set<string>();
    for (const evaluation of await evaluationsOf(graph, index, store, key)) {
      const id = `${evaluation.name}\0${evaluation.partition ?? ""}`;
      if (seen.has(id)) continue;
      seen.add(id);
      const shown = checks.get(evaluation.name);
      if (!shown || (shown.passed && !evaluation.passed)) checks.set(evaluation.name, evaluation);
    }
    let latestByPartition = view.latestByPartition;
    let partitions: PartitionHealth | undefined;
    if (asset.partitions) {
      const keys = await keysOf(asset.partitions);
      const gaps = index.complete ? [] : keys.filter((k) => !latestByPartition.has(k));
      if (gaps.length > 0) {
        latestByPartition = await withOlderSteps(store, key, latestByPartition, new Set(gaps));
      }
      partitions = health(keys, latestByPartition);
    }
    const last = lastMaterialized.get(key);
    let judged: StalenessReport[] = [];
    if (last) {
      const loading = latest.load([key, ...asset.deps]);
      if (loading) await loading;
      judged = judgeLatest(graph, latest, asset);
    }
    const { state, why } = stateOf(view.latest, last, checks, judged);
    result.set(key, {
      key,
      state,
      stale: judged.some((r) => r.status === "stale"),
      why,
      lastMaterialization: last,
      latestStep: view.latest,
      checks,
      partitions,
      latestByPartition,
    });
  }
  return result;
}

/** Check events read at most per asset when the index window may miss some (newest first). */
const CHECK_SCAN = 500;

/**
 * The check evaluations of `key`, newest first: the index's, and, when the
 * index does not hold every run and may miss a check's or a partition's
 * latest evaluation, the store's after them (the first of each check and
 * partition wins, so the index's newer ones do). Without this an asset whose
 * failing check ran before the index window showed "stale" or "materialized"
 * where a full index showed "check_failing". One lookup per asset that has
 * checks, only while the history is longer than the index.
 */
async function evaluationsOf(
  graph: Graph<unknown>,
  index: RunIndex,
  store: RunStore,
  key: string,
): Promise<readonly CheckEvaluation[]> {
  const view = index.asset(key);
  if (index.complete || graph.checksFor(key).length === 0) return view.checks;
  const older = await store.listAssetEvents(key, { types: ["check"], limit: CHECK_SCAN });
  return [...view.checks, ...older.map(checkOf)];
}

/** Asset events read at most to fill partition gaps (newest first). */
const GAP_SCAN = 20_000;

/**
 * `latest` with, for each partition of `gaps`, the outcome of its latest step
 * in the store's history of the asset (a materialization, a failure or a
 * cancel), newest first, reading at most {@linkcode GAP_SCAN} events.
 */
async function withOlderSteps(
  store: RunStore,
  assetKey: string,
  latest: ReadonlyMap<string, LatestStep>,
  gaps: Set<string>,
): Promise<Map<string, LatestStep>> {
  const merged = new Map(latest);
  let beforeId: number | undefined;
  for (let read = 0; read < GAP_SCAN && gaps.size > 0;) {
    const events = await store.listAssetEvents(assetKey, {
      types: ["materialization", "step_failed", "step_canceled"],
      limit: 2000,
      ...(beforeId !== undefined ? { beforeId } : {}),
    });
    for (const event of events) {
      const partition = event.partition ?? "";
      if (!gaps.has(partition)) continue;
      gaps.delete(partition);
      merged.set(partition, {
        runId: event.runId,
        status: event.type === "materialization"
          ? "success"
          : event.type === "step_failed"
          ? "failed"
          : "canceled",
        partition: event.partition,
        startedAt: null,
        finishedAt: event.time,
        reason: typeof event.data.error === "string" ? event.data.error : null,
      });
    }
    read += events.length;
    const last = events.at(-1);
    if (events.length < 2000 || !last) break;
    beforeId = last.id;
  }
  return merged;
}

function health(keys: readonly string[], latest: ReadonlyMap<string, LatestStep>): PartitionHealth {
  let materialized = 0, failed = 0, running = 0;
  for (const key of keys) {
    const status = latest.get(key)?.status;
    if (status === "success") materialized++;
    else if (status === "failed" || status === "canceled") failed++;
    else if (status === "running") running++;
  }
  return {
    total: keys.length,
    materialized,
    failed,
    running,
    missing: keys.length - materialized - failed - running,
  };
}

function stateOf(
  latest: LatestStep | undefined,
  last: Materialization | undefined,
  checks: ReadonlyMap<string, CheckEvaluation>,
  judged: readonly StalenessReport[],
): { state: AssetState; why: string } {
  if (latest?.status === "running") return { state: "running", why: `running in ${latest.runId}` };
  if (latest && (latest.status === "failed" || latest.status === "canceled")) {
    return {
      state: "failed",
      why: `latest step ${latest.status}${latest.reason ? `: ${latest.reason}` : ""}`,
    };
  }
  const failing = [...checks.values()].filter((c) => !c.passed);
  if (failing.length > 0) {
    return {
      state: "check_failing",
      why: `check(s) failing: ${failing.map((c) => c.name).join(", ")}`,
    };
  }
  if (!last) {
    return {
      state: "never",
      why: latest?.status === "skipped"
        ? `never materialized (skipped: ${latest.reason ?? "upstream did not succeed"})`
        : "never materialized",
    };
  }
  const stale = judged.filter((r) => r.status === "stale");
  if (stale.length === 0) return { state: "materialized", why: `materialized in ${last.runId}` };
  const reasons = stale.flatMap((r) => r.reasons);
  const partitions = stale.map((r) => r.partition).filter((p) => p !== null);
  const where = partitions.length === 0
    ? ""
    : ` (partition${partitions.length === 1 ? "" : "s"} ${partitions.slice(0, 5).join(", ")}${
      partitions.length > 5 ? `, … ${partitions.length} in all` : ""
    })`;
  const code = reasons.find((r) => r.kind === "code_version");
  if (code) {
    return {
      state: "stale",
      why: `code version changed (${code.was ?? "none"} → ${code.now ?? "none"})${where}`,
    };
  }
  const upstreams = [
    ...new Set(reasons.flatMap((r) => r.kind === "upstream_changed" ? [r.upstream] : [])),
  ];
  return { state: "stale", why: `upstream newer: ${upstreams.join(", ")}${where}` };
}

/**
 * The staleness of `asset`'s latest materialization of each partition, as
 * `materialize --stale` judges them (core/automation/staleness.ts), from
 * what `latest` holds (see {@linkcode LatestMaterializations.load}).
 */
function judgeLatest(
  graph: Graph<unknown>,
  latest: LatestMaterializations,
  asset: AssetDefinition,
): StalenessReport[] {
  const current = (dep: string, partition: string | null | undefined) => {
    const byPartition = latest.of(dep);
    return partition === undefined
      ? newest(byPartition.values())
      : byPartition.get(partition ?? "");
  };
  return [...latest.of(asset.key).values()].map((m) => judgeWith(graph, asset, m, current));
}

/** The latest materialization of each partition of an asset, as the store keeps them. */
interface LatestMaterializations {
  /**
   * Reads what `of` will need for `keys` when the store must be asked;
   * `undefined` (nothing to await) when the index holds every run.
   */
  load(keys: readonly string[]): Promise<void> | undefined;
  /** By partition (`""`: unpartitioned); loaded first when the store is asked. */
  of(assetKey: string): ReadonlyMap<string, Materialization>;
}

/**
 * The store's latest materializations: from the index when it holds every
 * run (no store lookup, no await), otherwise from the store, one lookup per
 * asset judged. An incomplete index cannot answer: a run outside its window
 * (one that started earlier, or on the same clock tick) may have written later.
 */
function latestMaterializations(index: RunIndex, store: RunStore): LatestMaterializations {
  const byAsset = new Map<string, ReadonlyMap<string, Materialization>>();
  return {
    load(keys) {
      if (index.complete) return undefined;
      return (async () => {
        for (const key of keys) {
          if (byAsset.has(key)) continue;
          const ms = await store.listMaterializations(key);
          byAsset.set(key, new Map(ms.map((m) => [m.partition ?? "", m])));
        }
      })();
    },
    of(assetKey) {
      let latest = byAsset.get(assetKey);
      if (!latest) {
        // Only a complete index gets here unloaded (an incomplete one loads first).
        latest = newestByPartition(index.asset(assetKey).materializations);
        byAsset.set(assetKey, latest);
      }
      return latest;
    },
  };
}

/**
 * Whether `m` is newer than `than` as the store judges: later, or at the same
 * time written later (one clock tick holds several writes on a fast machine).
 */
function isNewer(m: Ordered, than: Ordered | undefined): boolean {
  if (!than || m.time > than.time) return true;
  return m.time === than.time && (m.eventId ?? 0) > (than.eventId ?? 0);
}

/** A materialization, with its event id when the index read it (the store's lists have none). */
type Ordered = Materialization & { readonly eventId?: number };

/** The newest of `ms`, as the store picks its latest. */
function newest<M extends Ordered>(ms: Iterable<M>): M | undefined {
  let found: M | undefined;
  for (const m of ms) if (isNewer(m, found)) found = m;
  return found;
}

/** The newest materialization of each partition (`""`: unpartitioned) among `ms`. */
function newestByPartition(
  ms: readonly MaterializationEntry[],
): Map<string, MaterializationEntry> {
  const byPartition = new Map<string, MaterializationEntry>();
  for (const m of ms) {
    const id = m.partition ?? "";
    if (isNewer(m, byPartition.get(id))) byPartition.set(id, m);
  }
  return byPartition;
}
