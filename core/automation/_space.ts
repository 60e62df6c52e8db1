/**
 * Partition spaces for the automation evaluator: every partition of an asset
 * gets a small integer index so per-partition state lives in typed arrays
 * (10,000 assets × 365 days fit in a few hundred MiB, not in millions of map
 * entries). Daily partitions are indexed by days since the partitioning's
 * start, dynamic ones by the order their keys were added (shared by every
 * asset of that partitioning), static ones by position.
 *
 * @module
 */

import type { AssetDefinition } from "../asset.ts";
import type { PartitionsDefinition } from "../partitions.ts";
import { samePartitioning } from "../partitions.ts";

const DAY = 86_400_000;

/** Keys of one dynamic partitioning, shared by the assets that use it. */
export class DynamicKeys {
  readonly keys: string[] = [];
  readonly #index = new Map<string, number>();

  /** Index of `key`, adding it when unknown (a materialization may name a key before the list is refreshed). */
  indexOf(key: string): number {
    let at = this.#index.get(key);
    if (at === undefined) {
      at = this.keys.length;
      this.keys.push(key);
      this.#index.set(key, at);
    }
    return at;
  }

  /** Index of `key`, or -1. */
  find(key: string): number {
    return this.#index.get(key) ?? -1;
  }

  /** Adds keys not known yet (in order); returns the indexes added. */
  merge(keys: readonly string[]): number[] {
    const added: number[] = [];
    for (const key of keys) {
      if (!this.#index.has(key)) added.push(this.indexOf(key));
    }
    return added;
  }
}

/** How an asset's partitions map to integers. */
export interface PartitionSpace {
  /** The partitioning, or `undefined`. */
  readonly def: PartitionsDefinition | undefined;
  /** Number of partitions that exist at `now`. */
  size(now: number): number;
  /** Key of index `i` (`null` when unpartitioned). */
  key(i: number): string | null;
  /** Index of a key, or -1 when it does not belong to this space. */
  index(key: string | null): number;
  /** When partition `i` came to exist (ms): a daily partition once its day is complete (per `endOffset`). */
  availableAt(i: number): number;
  /** First day number (days since the epoch) of a daily space; 0 otherwise. */
  readonly startDay: number;
}

/** The space of `asset`'s partitions; dynamic partitionings share `dynamic`'s key lists. */
export function spaceOf(
  asset: AssetDefinition,
  dynamic: Map<string, DynamicKeys>,
): PartitionSpace {
  const def = asset.partitions;
  if (!def) {
    return {
      def,
      startDay: 0,
      size: () => 1,
      key: () => null,
      index: (key) => (key === null ? 0 : -1),
      availableAt: () => 0,
    };
  }
  if (def.kind === "static") {
    const index = new Map(def.keys.map((k, i) => [k, i]));
    return {
      def,
      startDay: 0,
      size: () => def.keys.length,
      key: (i) => def.keys[i] ?? null,
      index: (key) => (key === null ? -1 : index.get(key) ?? -1),
      availableAt: () => 0,
    };
  }
  if (def.kind === "dynamic") {
    let keys = dynamic.get(def.name);
    if (!keys) dynamic.set(def.name, keys = new DynamicKeys());
    const list = keys;
    return {
      def,
      startDay: 0,
      size: () => list.keys.length,
      key: (i) => list.keys[i] ?? null,
      index: (key) => (key === null ? -1 : list.indexOf(key)),
      availableAt: () => 0,
    };
  }
  const startDay = Math.floor(Date.parse(def.start) / DAY);
  const offset = def.endOffset;
  // Keys are parsed once: the feed names the same days again and again.
  const indexes = new Map<string, number>();
  const keys: string[] = [];
  return {
    def,
    startDay,
    // The last partition is yesterday's (+ endOffset days), as partitions.ts says.
    size: (now) => Math.max(0, Math.floor(now / DAY) - 1 + offset - startDay + 1),
    key: (i) => {
      // Formatting a date costs ~1 µs: records name the same days again and again.
      let key = keys[i];
      if (key === undefined) {
        key = new Date((startDay + i) * DAY).toISOString().slice(0, 10);
        if (i >= 0 && i < 1_000_000) keys[i] = key;
      }
      return key;
    },
    index: (key) => {
      if (key === null) return -1;
      let at = indexes.get(key);
      if (at === undefined) {
        const day = /^\d{4}-\d{2}-\d{2}$/.test(key) ? Date.parse(key) : Number.NaN;
        at = Number.isFinite(day) ? Math.floor(day / DAY) - startDay : -1;
        if (indexes.size < 100_000) indexes.set(key, at);
      }
      return at;
    },
    availableAt: (i) => (startDay + i + 1 - offset) * DAY,
  };
}

/**
 * How partition `i` of a downstream asset maps to its upstream's:
 * `single` (the upstream is unpartitioned: index 0), `aligned` (same
 * partitioning: `i + offset`), `all` (the downstream depends on every
 * partition of the upstream: an unpartitioned asset over a partitioned one,
 * or two different partitionings).
 */
export type Mapping =
  | { readonly kind: "single" }
  | { readonly kind: "aligned"; readonly offset: number }
  | { readonly kind: "all" };

/** The mapping from `down`'s partitions to `up`'s. */
export function mappingOf(down: PartitionSpace, up: PartitionSpace): Mapping {
  if (!up.def) return { kind: "single" };
  if (!down.def || !samePartitioning(down.def, up.def)) return { kind: "all" };
  return { kind: "aligned", offset: down.startDay - up.startDay };
}
