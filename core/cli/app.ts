/**
 * What a project hands the CLI: its graph, its run store, and commands of its
 * own (doctor, sensor, ui) that the framework does not know.
 *
 * @module
 */

import type { HealthSettings } from "./health.ts";
import type { Clock } from "../clock.ts";
import type { Graph } from "../graph.ts";
import { PlatformError } from "../errors.ts";
import type { RunResult } from "../executor.ts";
import type { RunStore } from "../run_store/types.ts";
import type { QueueLimits, RunQueue } from "../worker/queue.ts";
import type { CliIo } from "./io.ts";

/** A command a project adds to the CLI. */
export interface CliCommand {
  /** One line shown in `--help`. */
  readonly summary: string;
  /**
   * Runs the command; returns the exit code. `signal` aborts on Ctrl-C or
   * SIGTERM (long-running commands such as `ui` stop on it).
   */
  run(args: readonly string[], io: CliIo, signal?: AbortSignal): Promise<number>;
}

/** The project as the CLI sees it. */
export interface CliApp<R> {
  /** Program name used in usage lines, e.g. `deno task cli`. */
  readonly name: string;
  /** Loads the graph; called only by commands that need it, so `--help` stays fast. */
  loadGraph(): Promise<Graph<R>>;
  /** Opens the configured run store. */
  openRunStore(): Promise<RunStore>;
  /** Default tick interval of the `sensor` command in milliseconds (SENSOR_INTERVAL_MS); 1000 when absent. */
  sensorIntervalMs?(): number;
  /**
   * Time between two heartbeats of a run's owner, in milliseconds
   * (RUN_HEARTBEAT_INTERVAL_MS); the executor's default when absent. Asked
   * after the run store is open.
   */
  heartbeatIntervalMs?(): number;
  /**
   * Opens the run queue of the run store, or resolves `undefined` when there
   * is none (the embedded store, or `RUN_QUEUE=off`): runs then execute in
   * the process that launches them. Absent: no queue.
   */
  openQueue?(): Promise<RunQueue | undefined>;
  /** Limits the coordinator applies (QUEUE_MAX_RUNS, QUEUE_TAG_LIMITS, QUEUE_POOL_LIMITS). */
  queueLimits?(): QueueLimits;
  /** Run retries given to queued runs that set none, and to the sensor daemon's own runs without a queue (QUEUE_MAX_RETRIES). */
  queueMaxRetries?(): number;
  /**
   * Where `sensor` and `worker` serve their health endpoint (HEALTH_PORT,
   * HEALTH_HOST, HEALTH_STALE_MS), or `undefined` when it is off. Absent: off.
   */
  health?(): Promise<HealthSettings | undefined>;
  /** Extra commands by name. */
  readonly commands?: Readonly<Record<string, CliCommand>>;
  /**
   * Time source of runs, the daemon and the progress view; tests pass a fake one.
   * @default {systemClock}
   */
  readonly clock?: Clock;
  /**
   * Lines `materialize` prints once a run ended (after the summary on a
   * terminal; on standard error in JSON mode, so standard output stays JSON
   * lines), e.g. which inputs were sample data. None when absent.
   */
  runNotes?(result: RunResult): readonly string[];
}

/** A bad command line: exit code 2. */
export class UsageError extends PlatformError {
  /** Creates a usage error with a message that says what to type instead. */
  constructor(message: string) {
    super("cli.usage", message);
  }
}

/** Exit codes of the CLI. */
export const EXIT = Object.freeze({ ok: 0, failed: 1, usage: 2, canceled: 130 });
