/**
 * Helpers for testing assets and the framework without sleeping or servers:
 * a fake clock and a context builder.
 *
 * @module
 */

import type { AssetContext, FinishedStep, Materialization } from "./asset.ts";
import type { Clock } from "./clock.ts";
import { CanceledError } from "./errors.ts";
import { createLogger, type LogRecord } from "./logger.ts";
import type { RunStore } from "./run_store/types.ts";
import { latestRunIn, launchedRunIn, type SensorContext, type SensorGraph } from "./sensor.ts";

/**
 * A clock that never waits: `sleep` moves time forward at once and records the
 * delay, so retry tests assert delays without taking them.
 *
 * @example
 * ```ts
 * import { FakeClock } from "./testing.ts";
 * const clock = new FakeClock(Date.parse("2024-05-01T00:00:00Z"));
 * await clock.sleep(1000);
 * clock.sleeps; // [1000]
 * ```
 */
export class FakeClock implements Clock {
  #now: number;
  #waiters: { at: number; resolve: () => void }[] = [];
  /** Every delay asked of `sleep`, in order. */
  readonly sleeps: number[] = [];

  /** Starts at `start` milliseconds since the epoch. */
  constructor(start = Date.parse("2024-01-01T00:00:00Z")) {
    this.#now = start;
  }

  /** Current fake time. */
  now(): number {
    return this.#now;
  }

  /** How many `wait` calls are pending (background timers such as heartbeats). */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Moves time forward by `ms`, waking the `wait`s that are due. */
  advance(ms: number): void {
    this.#now += ms;
    this.#wake();
  }

  /** Records `ms`, moves time forward (waking due `wait`s) and yields to other tasks. */
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) throw new CanceledError();
    this.sleeps.push(ms);
    this.#now += ms;
    this.#wake();
    await Promise.resolve();
    if (signal?.aborted) throw new CanceledError();
  }

  /**
   * Resolves once `advance` or a `sleep` has moved time `ms` forward; never
   * moves it itself, so a background timer waits for the time the work spends.
   */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new CanceledError());
    return new Promise((resolve, reject) => {
      const waiter = {
        at: this.#now + ms,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(new CanceledError());
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#wake();
    });
  }

  #wake(): void {
    const due = this.#waiters.filter((w) => w.at <= this.#now).sort((a, b) => a.at - b.at);
    this.#waiters = this.#waiters.filter((w) => w.at > this.#now);
    for (const waiter of due) waiter.resolve();
  }
}

/** Options of {@linkcode buildAssetContext}. */
export interface BuildAssetContextOptions<R> {
  /** Resources the asset declared. */
  resources?: R;
  /** Partition key. */
  partitionKey?: string;
  /** Upstream materializations. */
  upstream?: Record<string, Materialization | undefined>;
  /** Clock. */
  clock?: Clock;
  /** Abort signal. */
  signal?: AbortSignal;
  /** Asset key. */
  assetKey?: string;
  /** Finished steps of the run. */
  finishedSteps?: readonly FinishedStep[];
}

/**
 * A context for calling an asset's `materialize` directly in a unit test; log
 * lines are collected in `logs`.
 */
export function buildAssetContext<R = Record<string, never>>(
  options: BuildAssetContextOptions<R> = {},
): AssetContext<R> & { logs: LogRecord[] } {
  const logs: LogRecord[] = [];
  const clock = options.clock ?? new FakeClock();
  return {
    runId: "test-run",
    assetKey: options.assetKey ?? "test_asset",
    partitionKey: options.partitionKey,
    resources: (options.resources ?? {}) as R,
    log: createLogger((record) => logs.push(record), () => clock.now()),
    signal: options.signal ?? new AbortController().signal,
    attempt: 1,
    clock,
    upstream: options.upstream ?? {},
    finishedSteps: () => options.finishedSteps ?? [],
    logs,
  };
}

/** Options of {@linkcode buildSensorContext}. */
export interface BuildSensorContextOptions<R> {
  /** The stored cursor; none when omitted. */
  cursor?: string;
  /** Resources the sensor declared. */
  resources?: R;
  /** Clock. */
  clock?: Clock;
  /** Abort signal. */
  signal?: AbortSignal;
  /**
   * Sensor name.
   * @default {"test_sensor"}
   */
  sensorName?: string;
  /**
   * The run store the sensor may read (`ctx.runStore`), and that `launchedRun`
   * reads (runs launched for run keys); without one, no run key has a run.
   */
  runStore?: RunStore;
  /** The graph the sensor may read; none when omitted. */
  graph?: SensorGraph;
}

/**
 * A context for calling a sensor's `evaluate` directly in a unit test; log
 * lines are collected in `logs`.
 *
 * @example
 * ```ts
 * import { defineSensor } from "./sensor.ts";
 * import { buildSensorContext } from "./testing.ts";
 * const counter = defineSensor({
 *   name: "counter",
 *   evaluate: (ctx) => ({ runRequests: [], cursor: String(Number(ctx.cursor ?? "0") + 1) }),
 * });
 * const result = await counter.evaluate(buildSensorContext({ cursor: "3" }));
 * ```
 */
export function buildSensorContext<R = Record<string, never>>(
  options: BuildSensorContextOptions<R> = {},
): SensorContext<R> & { logs: LogRecord[] } {
  const logs: LogRecord[] = [];
  const clock = options.clock ?? new FakeClock();
  const sensorName = options.sensorName ?? "test_sensor";
  const store = options.runStore;
  return {
    sensorName,
    cursor: options.cursor,
    resources: (options.resources ?? {}) as R,
    log: createLogger((record) => logs.push(record), () => clock.now()),
    signal: options.signal ?? new AbortController().signal,
    clock,
    launchedRun: (runKey) =>
      store ? launchedRunIn(store, sensorName, runKey) : Promise.resolve(undefined),
    latestRun: (runKey) =>
      store ? latestRunIn(store, sensorName, runKey) : Promise.resolve(undefined),
    logs,
    ...(options.runStore ? { runStore: options.runStore } : {}),
    ...(options.graph ? { graph: options.graph } : {}),
  };
}
