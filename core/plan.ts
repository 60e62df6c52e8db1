/**
 * Execution plans: which steps (asset × partition) a run makes, and which
 * steps each one waits for.
 *
 * @module
 */

import type { AssetDefinition } from "./asset.ts";
import type { Graph } from "./graph.ts";
import { SelectionError } from "./errors.ts";
import {
  type PartitionEnvironment,
  partitionKeys,
  samePartitioning,
  selectPartitions,
} from "./partitions.ts";

/** Partition arguments of a run: explicit keys, or a range. */
export interface PartitionSelection {
  /** Exact keys (`--partition`). */
  readonly keys?: readonly string[];
  /** First key of a range (`--from`). */
  readonly from?: string;
  /** Last key of a range (`--to`). */
  readonly to?: string;
}

/** One unit of work: an asset, or one partition of it. */
export interface Step {
  /** `key` or `key[partition]`. */
  readonly id: string;
  /** Position in the plan (a topological order). */
  readonly index: number;
  /** The asset. */
  readonly asset: AssetDefinition;
  /** Partition, or `undefined`. */
  readonly partition: string | undefined;
  /** Indexes of the steps this one waits for. */
  readonly waitsFor: readonly number[];
}

/** Every step of a run, in a topological order. */
export interface Plan {
  /** Steps; `steps[i].index === i`. */
  readonly steps: readonly Step[];
}

/** `key` or `key[partition]`. */
export function stepId(assetKey: string, partition: string | undefined): string {
  return partition === undefined ? assetKey : `${assetKey}[${partition}]`;
}

/**
 * Builds the plan for `keys` (already in topological order).
 *
 * Without partition arguments, a daily asset runs its latest partition and a
 * static or dynamic one runs all of its keys. With them, every selected
 * partitioned asset runs the chosen keys. Partition `p` waits for partition
 * `p` of an upstream with the same partitioning, and for every selected
 * partition of any other upstream; with `dependsOnPast` it also waits for its
 * own previous partition, so backfills of such assets run in order. An
 * `alwaysRun` asset waits for every step upstream of it, not only the
 * direct ones, so it starts only when all of them have finished.
 */
export function buildPlan(
  graph: Graph<unknown>,
  keys: readonly string[],
  wanted: PartitionSelection,
  env: PartitionEnvironment,
): Plan {
  const explicit = wanted.keys !== undefined || wanted.from !== undefined ||
    wanted.to !== undefined;
  if (explicit && keys.length > 0 && !keys.some((key) => graph.assets.get(key)?.partitions)) {
    throw new SelectionError(
      "selection.not_partitioned",
      `Partition arguments were given, but none of the ${keys.length} selected asset(s) is ` +
        "partitioned; drop --partition/--from/--to or select a partitioned asset",
    );
  }
  const stepsOf = new Map<string, Step[]>();
  const steps: Step[] = [];
  const hint = () => mixedPartitioningsHint(graph, keys, wanted, env);
  for (const key of keys) {
    const asset = graph.assets.get(key) as AssetDefinition;
    const partitions = partitionsOf(asset, wanted, explicit, env, hint);
    const own: Step[] = [];
    partitions.forEach((partition, i) => {
      const waitsFor = asset.alwaysRun
        ? ancestorSteps(upstreamSteps(asset, partition, stepsOf), steps)
        : upstreamSteps(asset, partition, stepsOf);
      if (asset.dependsOnPast && i > 0) waitsFor.push((own[i - 1] as Step).index);
      const step: Step = {
        id: stepId(key, partition),
        index: steps.length,
        asset,
        partition,
        waitsFor,
      };
      steps.push(step);
      own.push(step);
    });
    stepsOf.set(key, own);
  }
  return { steps };
}

function partitionsOf(
  asset: AssetDefinition,
  wanted: PartitionSelection,
  explicit: boolean,
  env: PartitionEnvironment,
  hint: () => string,
): (string | undefined)[] {
  if (!asset.partitions) return [undefined];
  if (explicit) {
    try {
      return selectPartitions(asset.partitions, env, wanted);
    } catch (error) {
      if (!(error instanceof SelectionError)) throw error;
      throw new SelectionError(error.code, `Asset '${asset.key}': ${error.message}${hint()}`);
    }
  }
  const all = partitionKeys(asset.partitions, env);
  return asset.partitions.kind === "daily" ? all.slice(-1) : all;
}

/**
 * When the selection holds assets the partition arguments fit and others they
 * do not (`materialize --from DAY --to DAY` over daily and batch-partitioned
 * assets), what to select instead; else "".
 */
function mixedPartitioningsHint(
  graph: Graph<unknown>,
  keys: readonly string[],
  wanted: PartitionSelection,
  env: PartitionEnvironment,
): string {
  const fits: string[] = [];
  for (const key of keys) {
    const partitions = graph.assets.get(key)?.partitions;
    if (!partitions) continue;
    try {
      selectPartitions(partitions, env, wanted);
      fits.push(key);
    } catch (error) {
      if (!(error instanceof SelectionError)) throw error;
    }
  }
  if (fits.length === 0) return "";
  const examples = fits.slice(0, 3).map((key) => `'${key}'`).join(", ");
  return "; the selection mixes partitionings: select the assets these partitions belong to, " +
    `e.g. ${examples}`;
}

/** `direct` and every step they wait for, transitively, in plan order. */
function ancestorSteps(direct: readonly number[], steps: readonly Step[]): number[] {
  const seen = new Set<number>();
  const stack = [...direct];
  while (stack.length > 0) {
    const index = stack.pop() as number;
    if (seen.has(index)) continue;
    seen.add(index);
    stack.push(...(steps[index]?.waitsFor ?? []));
  }
  return [...seen].sort((a, b) => a - b);
}

function upstreamSteps(
  asset: AssetDefinition,
  partition: string | undefined,
  stepsOf: ReadonlyMap<string, readonly Step[]>,
): number[] {
  const waits: number[] = [];
  for (const dep of asset.deps) {
    const upstream = stepsOf.get(dep);
    if (!upstream) continue;
    const first = upstream[0];
    const aligned = partition !== undefined && first !== undefined &&
      first.asset.partitions !== undefined &&
      asset.partitions !== undefined && samePartitioning(first.asset.partitions, asset.partitions);
    for (const step of upstream) {
      if (!aligned || step.partition === partition) waits.push(step.index);
    }
  }
  return waits;
}
