/**
 * Sensors: functions of (cursor, resources) that return run requests, each
 * with a `runKey`, or a reason to skip. The sensor daemon
 * (`core/daemon.ts`) evaluates them, claims each run key in the run store so
 * it never runs twice, launches the runs and only then stores the new cursor.
 *
 * @example
 * ```ts
 * import { defineSensor } from "./sensor.ts";
 * export const hourly = defineSensor({
 *   name: "every_hour",
 *   intervalMs: 60_000,
 *   evaluate(ctx) {
 *     const hour = new Date(ctx.clock.now()).toISOString().slice(0, 13);
 *     if (ctx.cursor === hour) return { skipReason: `hour ${hour} already requested` };
 *     return { runRequests: [{ runKey: hour, selection: "group:reports" }], cursor: hour };
 *   },
 * });
 * ```
 *
 * @module
 */

import type { Clock } from "./clock.ts";
import { InvalidDefinitionError, PlatformError } from "./errors.ts";
import type { Logger } from "./logger.ts";
import type { RunRecord, RunStore } from "./run_store/types.ts";
import type { AssetDefinition } from "./asset.ts";

/** What a sensor may read of the daemon's graph (a `Graph` is one). */
export interface SensorGraph {
  /** Assets by key. */
  readonly assets: ReadonlyMap<string, AssetDefinition>;
  /** Asset keys in a topological order. */
  readonly order: readonly string[];
  /** Direct upstream keys of `key`. */
  upstream(key: string): readonly string[];
  /** Direct downstream keys of `key`. */
  downstream(key: string): readonly string[];
}

/** One run a sensor asks for. */
export interface RunRequest {
  /**
   * Identifies the run: a key ever claimed never runs again, across restarts
   * and daemons (e.g. `batch_id:etag`).
   */
  readonly runKey: string;
  /** Asset selection, in the CLI's syntax (e.g. `group:spatial`). */
  readonly selection: string;
  /** Partition keys to run; the assets' default partitions when omitted. */
  readonly partitions?: readonly string[];
  /** Tags recorded with the run. */
  readonly tags?: Readonly<Record<string, string>>;
}

/** Keys to add to a dynamic partitioning before the requested runs launch. */
export interface DynamicPartitionsRequest {
  /** Name of the dynamic partitioning, e.g. `spatial_batches`. */
  readonly name: string;
  /** Keys to add; keys already there are ignored. */
  readonly keys: readonly string[];
}

/** What an evaluation found: runs to launch (possibly none) and the next cursor. */
export interface SensorRunRequests {
  /** Runs to launch; those whose key was claimed before are not launched again. */
  readonly runRequests: readonly RunRequest[];
  /** The cursor to store once every request is recorded; unchanged when omitted. */
  readonly cursor?: string;
  /** Dynamic partition keys the requests need, added before any launch. */
  readonly dynamicPartitions?: readonly DynamicPartitionsRequest[];
}

/** Nothing to do this time, and why (shown in the daemon's log). */
export interface SensorSkip {
  /** A sentence saying why nothing was requested. */
  readonly skipReason: string;
}

/** What `evaluate` returns. */
export type SensorResult = SensorRunRequests | SensorSkip;

/** Everything a sensor's `evaluate` receives. */
export interface SensorContext<R = Record<string, never>> {
  /** Name of the sensor. */
  readonly sensorName: string;
  /** The cursor stored after the last evaluation whose runs were recorded, if any. */
  readonly cursor: string | undefined;
  /** The resources this sensor declared, and only those. */
  readonly resources: R;
  /** Structured logger; lines go to the daemon's log. */
  readonly log: Logger;
  /** Aborts when the daemon shuts down; pass it to fetch and listings. */
  readonly signal: AbortSignal;
  /** Clock of the daemon (faked in tests). */
  readonly clock: Clock;
  /**
   * The id of the run launched for `runKey` by this sensor (from any daemon
   * on the run store), or `undefined` when none was launched yet. A key whose
   * run exists is never launched again, so a sensor may leave its input alone
   * — e.g. not validate a manifest whose batch another daemon is finishing
   * (and archiving) right now, which would see files moving and report a
   * problem that is not there.
   */
  launchedRun(runKey: string): Promise<string | undefined>;
  /**
   * The newest run recorded for `runKey` by this sensor, from any daemon —
   * the run launched for the key, or the daemon's relaunch of it when its
   * process died — or `undefined` when none is recorded yet. A sensor whose
   * input outlives a run that ended without success (canceled when its daemon
   * stopped, failed on a platform fault) reads it to request a new attempt
   * under a new run key, once the previous attempt has ended.
   */
  latestRun(runKey: string): Promise<RunRecord | undefined>;
  /**
   * The daemon's run store, for sensors that watch runs (run-status and
   * freshness alerts); read it, do not launch runs through it.
   */
  readonly runStore?: RunStore;
  /** The graph the daemon runs (selections in alert filters resolve against it). */
  readonly graph?: SensorGraph;
}

/** What {@linkcode launchedRunIn} reads of a run store. */
export type RunKeyReader = Pick<RunStore, "getRunKey" | "getRun">;

/**
 * {@linkcode SensorContext.launchedRun} over a run store: the run id claimed
 * for `runKey` by `sensor`, once that run is recorded. A key claimed by a
 * daemon that died before launching its run does not count: the next daemon
 * launches it when the sensor requests the key again.
 *
 * @example
 * ```ts
 * import { MemoryRunStore } from "./run_store/memory.ts";
 * import { launchedRunIn } from "./sensor.ts";
 * const store = new MemoryRunStore();
 * await store.claimRunKey("manifests", "b1:e1", "run-1");
 * await launchedRunIn(store, "manifests", "b1:e1"); // undefined: claimed, not launched
 * ```
 */
export async function launchedRunIn(
  store: RunKeyReader,
  sensor: string,
  runKey: string,
): Promise<string | undefined> {
  const runId = await store.getRunKey(sensor, runKey);
  if (runId === undefined) return undefined;
  return (await store.getRun(runId))?.runId === runId ? runId : undefined;
}

/** What {@linkcode latestRunIn} reads of a run store. */
export type LatestRunReader = Pick<RunStore, "getRunKey" | "getRun" | "listRuns">;

/**
 * {@linkcode SensorContext.latestRun} over a run store: for a run key
 * `sensor` claimed, the newest run tagged with both (the daemon tags every
 * run it launches, and its relaunches of lost runs, with `sensor` and
 * `run_key`), else the claimed run itself once recorded; `undefined` when the
 * key is unclaimed or its run not recorded yet.
 *
 * @example
 * ```ts
 * import { MemoryRunStore } from "./run_store/memory.ts";
 * import { latestRunIn } from "./sensor.ts";
 * const store = new MemoryRunStore();
 * await store.claimRunKey("manifests", "b1:e1", "run-1");
 * await latestRunIn(store, "manifests", "b1:e1"); // undefined: claimed, not launched
 * ```
 */
export async function latestRunIn(
  store: LatestRunReader,
  sensor: string,
  runKey: string,
): Promise<RunRecord | undefined> {
  const runId = await store.getRunKey(sensor, runKey);
  if (runId === undefined) return undefined;
  const [newest] = await store.listRuns({ tags: { sensor, run_key: runKey }, limit: 1 });
  return newest ?? await store.getRun(runId);
}

/** The spec of a sensor, as written by users. */
export interface SensorSpec<R, K extends keyof R> {
  /** Unique name, `[a-z][a-z0-9_]*`; also its cursor's name in the run store. */
  readonly name: string;
  /**
   * Least time between two evaluations, in milliseconds.
   * @default {the daemon's interval (SENSOR_INTERVAL_MS)}
   */
  readonly intervalMs?: number;
  /** What the sensor watches; shown by listings and the UI. */
  readonly description?: string;
  /** Resource keys the sensor uses; `ctx.resources` holds exactly these. */
  readonly resources?: readonly K[];
  /** Looks at the world and says which runs to launch. */
  evaluate(ctx: SensorContext<Pick<R, K>>): Promise<SensorResult> | SensorResult;
}

/** A validated, frozen sensor. */
export interface SensorDefinition {
  /** Discriminates sensors from schedules. */
  readonly kind: "sensor";
  /** Unique name. */
  readonly name: string;
  /** Least time between evaluations, or `undefined` for the daemon's interval. */
  readonly intervalMs: number | undefined;
  /** Description, empty if none. */
  readonly description: string;
  /** Declared resource keys. */
  readonly resources: readonly string[];
  /** Evaluates the sensor. */
  readonly evaluate: (
    ctx: SensorContext<Record<string, unknown>>,
  ) => Promise<SensorResult> | SensorResult;
}

const NAME = /^[a-z][a-z0-9_]*$/;

/**
 * Returns a `sensor()` function typed by the resources the application
 * provides, so `ctx.resources` only shows what a sensor declared.
 *
 * @example
 * ```ts
 * import { sensorFactory } from "./sensor.ts";
 * interface Resources { inbox: string[] }
 * const sensor = sensorFactory<Resources>();
 * const inbox = sensor({
 *   name: "inbox",
 *   resources: ["inbox"],
 *   evaluate: (ctx) => ({
 *     runRequests: ctx.resources.inbox.map((item) => ({ runKey: item, selection: "mail" })),
 *   }),
 * });
 * ```
 */
export function sensorFactory<R extends object>() {
  return <const K extends keyof R & string = never>(spec: SensorSpec<R, K>): SensorDefinition =>
    buildSensor(spec as unknown as SensorSpec<Record<string, unknown>, string>);
}

/**
 * Declares a sensor that uses no resources.
 *
 * @example
 * ```ts
 * import { defineSensor } from "./sensor.ts";
 * const never = defineSensor({ name: "never", evaluate: () => ({ skipReason: "nothing to watch" }) });
 * ```
 */
export const defineSensor: <const K extends never = never>(
  spec: SensorSpec<Record<string, never>, K>,
) => SensorDefinition = sensorFactory<Record<string, never>>();

function buildSensor(spec: SensorSpec<Record<string, unknown>, string>): SensorDefinition {
  const name = String(spec.name);
  const fail = (message: string): never => {
    throw new InvalidDefinitionError("definition.invalid_sensor", `Sensor '${name}': ${message}`);
  };
  if (!NAME.test(name)) {
    fail("names are lower-case letters, digits and '_', starting with a letter");
  }
  if (typeof spec.evaluate !== "function") fail("evaluate must be a function");
  const interval = spec.intervalMs;
  if (interval !== undefined && (!Number.isInteger(interval) || interval < 1)) {
    fail(`intervalMs must be a whole number of milliseconds >= 1, got ${interval}`);
  }
  const resources = [...(spec.resources ?? [])];
  if (new Set(resources).size !== resources.length) fail("a resource is listed twice");
  return Object.freeze({
    kind: "sensor" as const,
    name,
    intervalMs: interval,
    description: spec.description ?? "",
    resources: Object.freeze(resources),
    evaluate: spec.evaluate.bind(spec),
  });
}

/** Whether an evaluation asked for nothing, with a reason. */
export function isSensorSkip(result: SensorResult): result is SensorSkip {
  return "skipReason" in result;
}

/** A sensor failed to evaluate, or returned something that is not a {@linkcode SensorResult}. */
export class SensorError extends PlatformError {}
