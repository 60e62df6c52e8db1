/**
 * Registration on demand of dynamic partition keys that a run names with
 * `--partition` before anything registered them (see
 * `PartitionRegistrar` in partitions.ts): each such key is put to its
 * partitioning's registrar, then added to the run store or refused.
 *
 * @module
 */

import type { Graph } from "./graph.ts";
import { SelectionError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import { checkPartitionKey, type DynamicPartitions } from "./partitions.ts";
import { ResourcePool } from "./_resource_pool.ts";
import type { RunStore } from "./run_store/types.ts";

/** What {@linkcode registerNamedPartitions} needs. */
export interface RegisterOptions {
  /** Every resource source of the run (the graph's, with the run's overrides). */
  readonly resources: Readonly<Record<string, unknown>>;
  /** Aborts the registration with the run. */
  readonly signal: AbortSignal;
  /** Where registrars' resources log. */
  readonly log: Logger;
}

/**
 * Registers the `keys` a run names (explicit `--partition` keys) that the
 * dynamic partitionings of the selected assets do not have yet, when those
 * partitionings have a registrar. Throws a {@linkcode SelectionError} naming
 * the key and the registrar's reason when one is refused; keys of
 * partitionings without a registrar are left for planning to report.
 */
export async function registerNamedPartitions<R>(
  graph: Graph<R>,
  selected: readonly string[],
  keys: readonly string[],
  store: RunStore,
  options: RegisterOptions,
): Promise<void> {
  const partitionings = new Map<string, DynamicPartitions>();
  for (const key of selected) {
    const partitions = graph.assets.get(key)?.partitions;
    if (partitions?.kind === "dynamic" && partitions.register !== undefined) {
      partitionings.set(partitions.name, partitions);
    }
  }
  if (partitionings.size === 0 || keys.length === 0) return;
  const pool = new ResourcePool(options.resources, options.signal, options.log);
  try {
    for (const partitioning of partitionings.values()) {
      const known = new Set([
        ...partitioning.initialKeys,
        ...await store.dynamicPartitions(partitioning.name),
      ]);
      const registrar = partitioning.register!;
      for (const key of new Set(keys)) {
        if (known.has(key)) continue;
        checkPartitionKey(key);
        const resources = await pool.pick(
          registrar.resources,
          `the registrar of dynamic '${partitioning.name}'`,
        );
        const verdict = await registrar.admit(key, {
          resources,
          signal: options.signal,
          log: options.log,
        });
        if (verdict !== true) {
          throw new SelectionError(
            "selection.unknown_partition",
            `Partition '${key}' does not exist in dynamic '${partitioning.name}' and cannot be ` +
              `registered: ${verdict}`,
          );
        }
        await store.addDynamicPartitions(partitioning.name, [key]);
        options.log.info(`registered partition '${key}' of dynamic '${partitioning.name}'`);
      }
    }
  } finally {
    for (const error of await pool.close()) {
      options.log.error(`Resource cleanup failed: ${error.message}`);
    }
  }
}
