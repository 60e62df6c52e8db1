/**
 * Putting runs in the queue from anywhere that launches them (CLI
 * `materialize --queue`, `backfill`, the sensor daemon, the UI): the run's
 * pools and group are read from the graph once, here, so the coordinator
 * decides on plain data without loading the graph.
 *
 * - **pools**: the resource keys its selected assets and their checks use
 *   (`warehouse`, `spatial`...): a pool limit bounds the runs using it at once;
 * - **group tag**: when every selected asset is in one group, the run gets the
 *   tag `group=<name>` (unless it has one), so `group=spatial:2` limits them.
 *
 * @module
 */

import type { Clock } from "../clock.ts";
import type { Launch } from "../daemon.ts";
import type { Graph } from "../graph.ts";
import type { PartitionEnvironment } from "../partitions.ts";
import { selectPartitions } from "../partitions.ts";
import type { PartitionSelection } from "../plan.ts";
import type { RunStore } from "../run_store/types.ts";
import { SelectionError } from "../errors.ts";
import { resolveSelection } from "../selection.ts";
import type { NewQueuedRun, RunQueue } from "./queue.ts";

/** A run someone asks to queue. */
export interface QueueRequest {
  /** Run id. @default {crypto.randomUUID()} */
  readonly runId?: string;
  /** Selection (empty: every asset). */
  readonly selection: string;
  /** Left out. @default {""} */
  readonly exclude?: string;
  /** Partitions, or none. */
  readonly partitions?: PartitionSelection | null;
  /** Tags. @default {{}} */
  readonly tags?: Readonly<Record<string, string>>;
  /** Higher first. @default {0} */
  readonly priority?: number;
  /** Run retries. @default {0} */
  readonly maxRetries?: number;
}

/** What the graph says about a selection, for the queue. */
export interface SelectionFacts {
  /** Selected asset keys, in topological order. */
  readonly keys: readonly string[];
  /** Resource keys used by them and their checks. */
  readonly pools: readonly string[];
  /** Their one group, or `undefined` when they span several. */
  readonly group: string | undefined;
}

/**
 * Reads pools and group of a selection; throws {@linkcode SelectionError}
 * for a bad selection or one that selects nothing.
 */
export function selectionFacts<R>(
  graph: Graph<R>,
  selection: string,
  exclude = "",
): SelectionFacts {
  const keys = resolveSelection(graph as Graph<unknown>, selection, exclude);
  if (keys.length === 0) {
    throw new SelectionError(
      "selection.empty",
      `The selection '${selection || "every asset"}'${
        exclude ? ` minus '${exclude}'` : ""
      } selects no asset: nothing to queue`,
    );
  }
  const pools = new Set<string>();
  const groups = new Set<string>();
  for (const key of keys) {
    const asset = graph.assets.get(key);
    if (!asset) continue;
    groups.add(asset.group);
    for (const r of asset.resources) pools.add(r);
    for (const check of asset.checks) for (const r of check.resources) pools.add(r);
  }
  return {
    keys,
    pools: [...pools].sort(),
    group: groups.size === 1 ? [...groups][0] : undefined,
  };
}

/** Turns requests into queue entries (pools, group tag), reading the graph once per selection. */
export function toQueuedRuns<R>(
  graph: Graph<R>,
  requests: readonly QueueRequest[],
): NewQueuedRun[] {
  const facts = new Map<string, SelectionFacts>();
  return requests.map((request) => {
    const exclude = request.exclude ?? "";
    const key = `${request.selection}\0${exclude}`;
    let known = facts.get(key);
    if (!known) {
      known = selectionFacts(graph, request.selection, exclude);
      facts.set(key, known);
    }
    const tags = { ...request.tags };
    if (known.group !== undefined && tags.group === undefined) tags.group = known.group;
    if (request.maxRetries !== undefined) tags.max_retries = String(request.maxRetries);
    return {
      runId: request.runId ?? crypto.randomUUID(),
      selection: request.selection,
      exclude,
      partitions: request.partitions ?? null,
      tags,
      priority: request.priority ?? 0,
      pools: known.pools,
      maxRetries: request.maxRetries ?? Number(tags.max_retries ?? 0),
    };
  });
}

/** Options of {@linkcode enqueueRuns}. */
export interface EnqueueOptions {
  /** The time stamped on the entries. */
  readonly now: number;
  /** Entries written per transaction. @default {1000} */
  readonly batchSize?: number;
  /** Called after each batch with the count so far (progress). */
  readonly onProgress?: (queued: number, total: number) => void;
}

/** Queues `requests` (see {@linkcode toQueuedRuns}) in batches; returns the run ids added. */
export async function enqueueRuns<R>(
  graph: Graph<R>,
  queue: RunQueue,
  requests: readonly QueueRequest[],
  options: EnqueueOptions,
): Promise<string[]> {
  const runs = toQueuedRuns(graph, requests);
  const size = options.batchSize ?? 1000;
  const added: string[] = [];
  for (let i = 0; i < runs.length; i += size) {
    added.push(...await queue.enqueue(runs.slice(i, i + size), options.now));
    options.onProgress?.(Math.min(i + size, runs.length), runs.length);
  }
  return added;
}

/**
 * The partition keys a backfill runs, one run each: the partitions `wanted`
 * selects of the selection's partitioned assets (which must share one
 * partitioning). Throws {@linkcode SelectionError} naming the problem.
 */
export async function backfillKeys<R>(
  graph: Graph<R>,
  store: RunStore,
  selection: string,
  exclude: string,
  wanted: PartitionSelection,
  now: number,
): Promise<string[]> {
  const { keys } = selectionFacts(graph, selection, exclude);
  const partitioned = keys.map((k) => graph.assets.get(k)).filter((a) => a?.partitions);
  const first = partitioned[0]?.partitions;
  if (!first) {
    throw new SelectionError(
      "selection.not_partitioned",
      `None of the ${keys.length} selected asset(s) is partitioned: a backfill needs partitions`,
    );
  }
  const dynamic = new Map<string, string[]>();
  for (const asset of partitioned) {
    const p = asset?.partitions;
    if (p?.kind === "dynamic" && !dynamic.has(p.name)) {
      dynamic.set(p.name, await store.dynamicPartitions(p.name));
    }
  }
  const env: PartitionEnvironment = { now, dynamicKeys: (name) => dynamic.get(name) ?? [] };
  return selectPartitions(first, env, wanted);
}

/** Options of {@linkcode queueLauncher}. */
export interface QueueLauncherOptions {
  /** Time source. */
  readonly clock: Clock;
  /** Run retries of runs whose tags set none. @default {0} */
  readonly maxRetries?: number;
}

/**
 * The sensor daemon's launcher in queue mode: each run it would start goes
 * to the queue under the run id the daemon claimed (an idempotent enqueue).
 * A relaunch of a lost run (tags `relaunch_of`, `attempt`, `root_run_id`)
 * resumes from where the lost run stopped.
 */
export function queueLauncher<R>(
  graph: Graph<R>,
  queue: RunQueue,
  options: QueueLauncherOptions,
): (launch: Launch, tags: Readonly<Record<string, string>>) => Promise<void> {
  return async (launch, tags) => {
    const [run] = toQueuedRuns(graph, [{
      runId: launch.runId,
      selection: launch.request.selection,
      partitions: launch.request.partitions ? { keys: launch.request.partitions } : null,
      tags,
      maxRetries: Number(tags.max_retries ?? options.maxRetries ?? 0),
    }]);
    const attempt = Number(tags.attempt ?? "1");
    await queue.enqueue([{
      ...run as NewQueuedRun,
      attempt: Number.isSafeInteger(attempt) && attempt >= 1 ? attempt : 1,
      rootRunId: tags.root_run_id ?? launch.runId,
      retryOf: tags.relaunch_of ?? null,
      resumeFrom: tags.relaunch_of ?? null,
    }], options.clock.now());
  };
}
