/**
 * Partitionings of an asset: a static list, one partition per day, or a
 * dynamic set whose keys are added at run time (e.g. one per spatial batch).
 *
 * @module
 */

import { closest } from "./suggest.ts";
import { quote } from "./printable.ts";
import { InvalidDefinitionError, SelectionError } from "./errors.ts";
import type { Logger } from "./logger.ts";

/** A fixed list of partition keys, e.g. places. */
export interface StaticPartitions {
  /** Discriminant. */
  readonly kind: "static";
  /** The keys, in the order backfills run them. */
  readonly keys: readonly string[];
}

/** One partition per UTC day, keyed `YYYY-MM-DD`. */
export interface DailyPartitions {
  /** Discriminant. */
  readonly kind: "daily";
  /** First day, `YYYY-MM-DD`. */
  readonly start: string;
  /**
   * Days after the last complete day that also count: 0 ends at yesterday,
   * 1 includes today.
   */
  readonly endOffset: number;
}

/** Keys added at run time (by a sensor) and kept in the run store. */
export interface DynamicPartitions {
  /** Discriminant. */
  readonly kind: "dynamic";
  /** Name under which the run store keeps the keys. */
  readonly name: string;
  /** Keys that exist from the start, registered before each run that needs them. */
  readonly initialKeys: readonly string[];
  /** How a key gets added (said when a run names a key that is not there yet), if set. */
  readonly registerHint?: string;
  /** Admits keys a run names before anything registered them, if set. */
  readonly register?: PartitionRegistrar;
}

/** What a {@linkcode PartitionRegistrar} gets to decide with. */
export interface RegistrarContext {
  /** The resources the registrar declared, opened for the decision. */
  readonly resources: Readonly<Record<string, unknown>>;
  /** Aborts when the run is canceled before it starts. */
  readonly signal: AbortSignal;
  /** Logger of the run being planned. */
  readonly log: Logger;
}

/**
 * Registers a dynamic partition on demand: when a run names a key with
 * `--partition` that is not registered yet (e.g. a batch committed a moment
 * ago that no sensor has seen), the executor asks `admit` before planning. A
 * key it admits is added to the run store and runs; otherwise the run is
 * refused with the reason.
 */
export interface PartitionRegistrar {
  /** Resource keys `admit` uses (opened for the call, closed after). */
  readonly resources: readonly string[];
  /**
   * Whether `key` may become a partition now: `true`, or a sentence saying
   * why not and what to do (shown to the user).
   */
  admit(key: string, ctx: RegistrarContext): Promise<true | string>;
}

/** Options of {@linkcode dynamicPartitions}. */
export interface DynamicPartitionsOptions {
  /**
   * Keys that exist before any sensor adds one (e.g. a shipped sample batch);
   * a run that selects the partitioning registers them first.
   * @default []
   */
  readonly initialKeys?: readonly string[];
  /**
   * A sentence saying how keys are added, e.g. which command registers one;
   * appended to the error for a key that does not exist yet.
   * @default undefined
   */
  readonly registerHint?: string;
  /**
   * Admits a key a run names before anything registered it (see
   * {@linkcode PartitionRegistrar}).
   * @default undefined: such a run is refused with `registerHint`
   */
  readonly register?: PartitionRegistrar;
}

/** Any partitioning. */
export type PartitionsDefinition = StaticPartitions | DailyPartitions | DynamicPartitions;

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const MS_PER_DAY = 86_400_000;
const PARTITION_KEY = /^[A-Za-z0-9_][A-Za-z0-9_.:=-]*$/;

/**
 * A static partitioning.
 *
 * @example
 * ```ts
 * import { staticPartitions } from "./partitions.ts";
 * const places = staticPartitions(["billings", "bozeman"]);
 * ```
 */
export function staticPartitions(keys: readonly string[]): StaticPartitions {
  if (keys.length === 0) {
    throw new InvalidDefinitionError(
      "definition.partitions",
      "Static partitions need at least one key",
    );
  }
  const seen = new Set<string>();
  for (const key of keys) {
    checkPartitionKey(key);
    if (seen.has(key)) {
      throw new InvalidDefinitionError(
        "definition.partitions",
        `Static partition key '${key}' is listed twice`,
      );
    }
    seen.add(key);
  }
  return Object.freeze({ kind: "static", keys: Object.freeze([...keys]) });
}

/** Options of {@linkcode dailyPartitions}. */
export interface DailyPartitionsOptions {
  /**
   * Days after the last complete day that also count (1 includes today).
   * @default {0}
   */
  endOffset?: number;
}

/**
 * One partition per UTC day from `start`.
 *
 * @example
 * ```ts
 * import { dailyPartitions } from "./partitions.ts";
 * const days = dailyPartitions("2024-01-01", { endOffset: 1 }); // up to today
 * ```
 */
export function dailyPartitions(
  start: string,
  options: DailyPartitionsOptions = {},
): DailyPartitions {
  if (!isDay(start)) {
    throw new InvalidDefinitionError(
      "definition.partitions",
      `Daily partitions start '${start}' is not a date in YYYY-MM-DD form`,
    );
  }
  const endOffset = options.endOffset ?? 0;
  if (!Number.isInteger(endOffset)) {
    throw new RangeError(`endOffset must be an integer, got ${endOffset}`);
  }
  return Object.freeze({ kind: "daily", start, endOffset });
}

/**
 * A dynamic partitioning named `name`; keys are added at run time with the
 * run store's `addDynamicPartitions` (usually by a sensor), plus any
 * `initialKeys` known when the graph is defined.
 *
 * @example
 * ```ts
 * import { dynamicPartitions } from "./partitions.ts";
 * const batches = dynamicPartitions("spatial_batches", { initialKeys: ["sample"] });
 * ```
 */
export function dynamicPartitions(
  name: string,
  options: DynamicPartitionsOptions = {},
): DynamicPartitions {
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
    throw new InvalidDefinitionError(
      "definition.partitions",
      `Dynamic partitions name '${name}' must be snake_case`,
    );
  }
  const initialKeys = Object.freeze([
    ...new Set((options.initialKeys ?? []).map(checkPartitionKey)),
  ]);
  return Object.freeze({
    kind: "dynamic",
    name,
    initialKeys,
    ...(options.registerHint === undefined ? {} : { registerHint: options.registerHint }),
    ...(options.register === undefined ? {} : { register: options.register }),
  });
}

/** Throws unless `key` can name a partition (also used for dynamic keys). */
export function checkPartitionKey(key: string): string {
  if (!PARTITION_KEY.test(key) || key.length > 200) {
    throw new InvalidDefinitionError(
      "definition.partition_key",
      `Partition key '${key}' must be 1-200 characters of letters, digits, '_', '-', '.', ':' or '='`,
    );
  }
  return key;
}

/** What {@linkcode partitionKeys} needs from the outside world. */
export interface PartitionEnvironment {
  /** Milliseconds since the epoch. */
  now: number;
  /** Keys of a dynamic partitioning, in the order they were added. */
  dynamicKeys(name: string): readonly string[];
}

/** All keys of `def`, in order. */
export function partitionKeys(def: PartitionsDefinition, env: PartitionEnvironment): string[] {
  if (def.kind === "static") return [...def.keys];
  if (def.kind === "dynamic") return [...env.dynamicKeys(def.name)];
  const keys: string[] = [];
  const last = lastDay(def, env.now);
  for (let day = Date.parse(def.start); day <= last; day += MS_PER_DAY) keys.push(formatDay(day));
  return keys;
}

/** Whether two assets share a partitioning, so partition `p` of one maps to `p` of the other. */
export function samePartitioning(a: PartitionsDefinition, b: PartitionsDefinition): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === "dynamic" && b.kind === "dynamic") return a.name === b.name;
  if (a.kind === "daily" && b.kind === "daily") return true;
  if (a.kind === "static" && b.kind === "static") return a.keys.join("\0") === b.keys.join("\0");
  return false;
}

/** A short description of `def` for listings, e.g. `daily from 2024-01-01`. */
export function describePartitions(def: PartitionsDefinition): string {
  if (def.kind === "static") return `static (${def.keys.length})`;
  if (def.kind === "dynamic") return `dynamic '${def.name}'`;
  return `daily from ${def.start}`;
}

/**
 * The keys of `def` selected by `--partition` or `--from/--to`, in order.
 * Throws {@linkcode SelectionError} naming the key that does not exist.
 */
export function selectPartitions(
  def: PartitionsDefinition,
  env: PartitionEnvironment,
  wanted: { keys?: readonly string[]; from?: string; to?: string },
): string[] {
  const all = partitionKeys(def, env);
  const index = new Map(all.map((key, i) => [key, i]));
  const position = (key: string) => {
    const at = index.get(key);
    if (at === undefined) {
      throw new SelectionError(
        "selection.unknown_partition",
        `Partition ${quote(key)} does not exist in ${describePartitions(def)}${rangeHint(all)}` +
          (def.kind === "dynamic" && def.registerHint ? `; ${def.registerHint}` : ""),
        // Daily keys have the range above; names are where a typo hides.
        def.kind === "daily" ? undefined : closest(key, all),
      );
    }
    return at;
  };
  if (wanted.keys) {
    const positions = [...new Set(wanted.keys.map(position))].sort((a, b) => a - b);
    return positions.map((at) => all[at] as string);
  }
  const from = wanted.from === undefined ? 0 : position(wanted.from);
  const to = wanted.to === undefined ? all.length - 1 : position(wanted.to);
  if (from > to) {
    throw new SelectionError(
      "selection.bad_range",
      `--from ${quote(wanted.from ?? "")} comes after --to ${quote(wanted.to ?? "")}`,
    );
  }
  return all.slice(from, to + 1);
}

function rangeHint(all: readonly string[]): string {
  if (all.length === 0) return " (it has no partitions yet)";
  return ` (valid: ${all[0]} .. ${all[all.length - 1]})`;
}

function lastDay(def: DailyPartitions, now: number): number {
  const today = Math.floor(now / MS_PER_DAY) * MS_PER_DAY;
  return today - MS_PER_DAY + def.endOffset * MS_PER_DAY;
}

function isDay(value: string): boolean {
  const ms = Date.parse(value);
  return DAY.test(value) && Number.isFinite(ms) && formatDay(ms) === value;
}

function formatDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
