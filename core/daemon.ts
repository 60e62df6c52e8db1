/**
 * The sensor daemon: evaluates a graph's sensors and schedules on an
 * interval and launches the runs they request, each exactly once.
 *
 * How "exactly once" holds, also with two daemons on one run store and after
 * a crash at any point:
 *
 * 1. **Claim.** Each request's run key is claimed in the run store
 *    (`claimRunKey`, an atomic insert) with a fresh run id. A key claimed
 *    before returns the run id recorded then, so every daemon agrees on one
 *    run id per key.
 * 2. **Launch claim.** Before starting that run id, a daemon claims the right
 *    to launch it (a second atomic claim, keyed by the run id, holding the
 *    daemon id and the time). One daemon wins; the others leave it.
 * 3. **Start.** The winner starts `materialize()` with that run id and waits
 *    until the run is recorded (its `run_started` event).
 * 4. **Cursor.** Only when every request of the evaluation has gone through
 *    1-3 is the sensor's new cursor stored.
 *
 * A crash between 1 and 2 leaves the key claimed and the cursor where it was:
 * the next evaluation requests the same key again, gets the recorded run id,
 * wins its launch claim and starts it. A crash between 2 and 3 leaves a launch
 * claim with no run record: once it is older than
 * {@linkcode DaemonOptions.staleLaunchMs}, the next daemon takes over with a
 * new launch claim (attempt 2, 3...), which again only one daemon can win.
 *
 * Runs whose process died are not left `running`: every tick first reaps the
 * runs whose owner stopped heartbeating (`reapDeadRuns`), then relaunches the
 * sensor and schedule runs among them whose work was not done, as a new run
 * (tags `attempt`, `relaunch_of`, `root_run_id`, the same `run_key`), at most
 * {@linkcode DaemonOptions.maxRelaunches} times. The relaunch goes through the
 * same claims, keyed `<run key>#attempt-<n>`, so two daemons never both
 * relaunch one lost run; the lost run's tag `owner_lost` then records what
 * was decided (`relaunched as <id>`, or why not).
 *
 * A run that ends `failed` with retries left (see
 * {@linkcode DaemonOptions.maxRetries}) is retried at once by the daemon that
 * ran it. A daemon that died (or shut down) between the failure and the
 * retry's launch leaves the run failed with no retry: the first tick of the
 * next daemon launches the retries so owed (runs that failed within
 * {@linkcode DaemonOptions.retryRecoveryWindowMs}), through the same claims
 * (`<run key>#attempt-<n>`), so a retry is launched once whoever notices.
 *
 * @example
 * ```ts
 * import { runDaemon } from "./daemon.ts";
 * import { defineGraph } from "./definitions.ts";
 * import { createLogger } from "./logger.ts";
 * import { MemoryRunStore } from "./run_store/memory.ts";
 * const graph = defineGraph({ assets: [] });
 * const runStore = new MemoryRunStore();
 * const log = createLogger((line) => console.log(line.message));
 * const controller = new AbortController();
 * Deno.addSignalListener("SIGTERM", () => controller.abort());
 * await runDaemon(graph, { runStore, signal: controller.signal, log });
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";
import type { Graph } from "./graph.ts";
import { CanceledError, PlatformError, restartRequiredError, toError } from "./errors.ts";
import { materialize, type RunResult } from "./executor.ts";
import { type Logger, silentLogger } from "./logger.ts";
import { checkPartitionKey } from "./partitions.ts";
import type { ResourceSources } from "./resource.ts";
import { reapDeadRuns } from "./reaper.ts";
import { planRelaunch } from "./_relaunch.ts";
import { resolveSelection } from "./selection.ts";
import { succeededAssets } from "./worker/retry.ts";
import {
  claimHolderText,
  type HostView,
  isGoneHere,
  parseClaimHolder,
  processOwner,
  thisHost,
} from "./owner.ts";
import {
  type AutomationState,
  type NewTick,
  OWNER_LOST_TAG,
  type RunOwner,
  type RunRecord,
  type RunStore,
} from "./run_store/types.ts";
import { type ScheduleDefinition, scheduleRunKey } from "./schedule.ts";
import {
  latestRunIn,
  launchedRunIn,
  type RunRequest,
  type SensorDefinition,
  SensorError,
} from "./sensor.ts";
import { checkSensorResult } from "./_sensor_result.ts";
import {
  AUTOMATION_SENSOR,
  type AutomationSensor,
  automationSensor,
  needsAutomation,
} from "./automation/sensor.ts";
import { feedEnd } from "./automation/state.ts";
import { ResourcePool } from "./_resource_pool.ts";

/** Owner name under which launch claims are recorded; sensor names cannot contain ':'. */
export const LAUNCH_CLAIMS = "daemon:launch";

/** How far ahead of the clock a schedule's cursor may be before the clock is said to have gone back. */
const CLOCK_BACK_TOLERANCE_MS = 5_000;

/** How the error summary of a run that could not start begins (such a run is never retried). */
const FAILED_START = "could not start: ";

/** Options of {@linkcode SensorDaemon} and {@linkcode runDaemon}. */
export interface DaemonOptions<R> {
  /** Where cursors, run keys and runs are recorded. */
  readonly runStore: RunStore;
  /**
   * Time between two ticks, and the interval of sensors that set none.
   * @default {1000}
   */
  readonly intervalMs?: number;
  /** Stops the daemon when aborted (wire SIGTERM/SIGINT to it). */
  readonly signal?: AbortSignal;
  /**
   * Called as {@linkcode SensorDaemon.run} starts and after each of its
   * ticks (the health endpoint's liveness). Nothing by default.
   */
  readonly onTick?: () => void;
  /**
   * Time source; tests pass a fake one.
   * @default {systemClock}
   */
  readonly clock?: Clock;
  /** Resources replacing the graph's, for sensors and runs. */
  readonly resources?: Partial<ResourceSources<R>>;
  /**
   * Where the daemon's lines go: one per tick that did something, one per
   * finished run.
   * @default {silentLogger}
   */
  readonly log?: Logger;
  /**
   * Steps running at once in each run.
   * @default {navigator.hardwareConcurrency}
   */
  readonly concurrency?: number;
  /**
   * Sensors are not evaluated while this many runs are in flight.
   * @default {16}
   */
  readonly maxRunsInFlight?: number;
  /**
   * A launch claim older than this with no run recorded is taken to belong to
   * a daemon that died before starting the run, and is taken over. Keep it
   * far above the time between claiming and recording a run (milliseconds).
   * @default {60000}
   */
  readonly staleLaunchMs?: number;
  /**
   * On shutdown, how long runs in flight may go on before they are canceled.
   * @default {0}
   */
  readonly shutdownGraceMs?: number;
  /**
   * Identifies this daemon in launch claims.
   * @default {`pid<PID>-<random>`}
   */
  readonly daemonId?: string;
  /** Called when a run this daemon launched ends (tests, progress). */
  readonly onRunFinished?: (result: RunResult, launch: Launch) => void;
  /**
   * The process executing the daemon's runs, recorded as their owner.
   * @default {processOwner()}
   */
  readonly owner?: RunOwner;
  /**
   * Time between two heartbeats of each run in flight (its lease is four of them).
   * @default {10000}
   */
  readonly heartbeatIntervalMs?: number;
  /**
   * How many times a sensor or schedule run whose process died is relaunched
   * (each relaunch is a new run, attempt 2, 3...); `0` never relaunches.
   * @default {1}
   */
  readonly maxRelaunches?: number;
  /**
   * Run retries of a sensor or schedule run that ends `failed` when its
   * tags set none (`max_retries`): the same policy as the run queue's
   * (`QUEUE_MAX_RETRIES`, core/worker/retry.ts), for runs executed in this
   * process. The retry is a new run, launched at once (tags `attempt`,
   * `root_run_id`, `retry_of`, the same `run_key`), resuming after the
   * assets that succeeded (tag `retry_strategy=all_steps` reruns them all;
   * `retry_on_asset_failure=false` never retries). Without it, a failed run
   * of a schedule, or of a sensor that does not ask again, stayed failed
   * here while the queue retried it.
   * @default {0}
   */
  readonly maxRetries?: number;
  /**
   * How far back the first tick looks for failed runs whose retry was owed
   * but never launched (the daemon that ran them died or shut down between
   * the failure and the retry), in milliseconds since their start; `0` never
   * looks. Older failures stay failed: a policy changed since must not retry
   * last month's runs.
   * @default {86400000}
   */
  readonly retryRecoveryWindowMs?: number;
  /** This host, to tell run owners certainly gone (tests pass their own). @default {thisHost()} */
  readonly host?: HostView;
  /**
   * Evaluate the assets' automation conditions and freshness policies (the
   * `automation` sensor, added when any asset has one).
   * @default {true}
   */
  readonly automation?: boolean;
  /**
   * Shortest time between two automation evaluations woken by runs of this
   * daemon materializing something (milliseconds): a burst of
   * materializations is evaluated once.
   * @default {20}
   */
  readonly automationDebounceMs?: number;
  /**
   * While `run()` goes on, how often the run store's feed is looked at for
   * materializations and run ends made elsewhere (another process's
   * `materialize`, queue workers, another daemon's runs): one new wakes the
   * automation at once instead of at its next interval (milliseconds); `0`
   * turns the watch off. One cheap indexed read per look.
   * @default {100}
   */
  readonly automationWatchMs?: number;
  /**
   * A freshness verdict that has not changed is recorded again (as a check
   * result) after this long; a changed one at once (milliseconds).
   * @default {3600000}
   */
  readonly freshnessRecordEveryMs?: number;
  /**
   * Hands each run to a launcher instead of executing it in this process
   * (the run queue, when the run store has one: workers execute it). It
   * resolves once the run is durably launched under `launch.runId` (an
   * idempotent enqueue), with the tags the run must carry. The daemon then
   * neither waits for nor tracks the run.
   * @default {undefined: runs execute here}
   */
  readonly launch?: (launch: Launch, tags: Readonly<Record<string, string>>) => Promise<void>;
}

/** A run the daemon launched. */
export interface Launch {
  /** Run id. */
  readonly runId: string;
  /** Sensor or schedule that asked for it. */
  readonly owner: string;
  /** Whether a sensor or a schedule asked for it. */
  readonly kind: "sensor" | "schedule";
  /** The request. */
  readonly request: RunRequest;
}

/** What one sensor or schedule did in a tick. */
export interface TickReport {
  /** Sensor or schedule name. */
  readonly name: string;
  /** Which of the two it is. */
  readonly kind: "sensor" | "schedule";
  /**
   * `requested`: it asked for runs (maybe all claimed before); `skipped`: it
   * said why not; `idle`: nothing due; `deferred`: shutdown began before its
   * runs were launched (the cursor stays); `failed`: see `error`; `off`: it
   * is turned off (see `RunStore.setAutomationState`) and was not evaluated.
   */
  readonly status: "requested" | "skipped" | "idle" | "deferred" | "failed" | "off";
  /** Run ids this daemon launched in the tick. */
  readonly launched: readonly string[];
  /** Run keys claimed before (by an earlier tick or another daemon): not launched again. */
  readonly duplicates: readonly string[];
  /** Why it skipped, or since when and by whom it is off. */
  readonly skipReason?: string;
  /** The lost run (its process died) that this report's launch relaunched. */
  readonly relaunchOf?: string;
  /**
   * Requests that could not be launched (the run store failed, say), each
   * with its error. The others went on; the cursor stays where it was, so
   * the next tick asks again (the launched ones are then duplicates).
   */
  readonly requestErrors?: readonly { readonly runKey: string; readonly error: Error }[];
  /** What went wrong. */
  readonly error?: Error;
  /** The cursor stored in this tick, if it changed. */
  readonly cursor?: string;
  /**
   * Run keys whose launch another daemon claimed but has not recorded (it is
   * starting the run, or it died before recording it): the cursor stays, so
   * the next tick asks again, and launches the run once that daemon's process
   * is gone from this host or its claim is stale.
   */
  readonly unrecorded?: readonly string[];
}

/**
 * What became of a request: `unrecorded` when another daemon holds its launch
 * claim and no run is recorded yet (see {@linkcode TickReport.unrecorded}).
 */
type Submitted = { state: "launched" | "duplicate" | "deferred" | "unrecorded"; runId: string };

/**
 * Evaluates sensors and schedules and launches their runs. Use
 * {@linkcode SensorDaemon.run} for the long-running loop, or
 * {@linkcode SensorDaemon.tick} to evaluate once (tests, `--once`).
 */
export class SensorDaemon<R> implements AsyncDisposable {
  readonly #graph: Graph<R>;
  readonly #store: RunStore;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #options: DaemonOptions<R>;
  readonly #intervalMs: number;
  readonly #onTick: () => void;
  readonly #id: string;
  readonly #stop = new AbortController();
  readonly #cancelRuns = new AbortController();
  /** A failure only a restart recovers from (the run store file deleted): the daemon stops with it. */
  #fatal: PlatformError | undefined;
  readonly #pool: ResourcePool;
  readonly #inFlight = new Map<string, Promise<RunResult | undefined>>();
  readonly #lastEvaluated = new Map<string, number>();
  readonly #lastSkip = new Map<string, string>();
  readonly #sensors: SensorDefinition[];
  readonly #automation: AutomationSensor | undefined;
  #wake = new AbortController();
  #closed = false;
  /** Whether the retries owed by a dead daemon were looked for (the first tick does). */
  #retriesRecovered = false;

  /** Prepares a daemon for `graph`; nothing runs until `tick` or `run`. */
  constructor(graph: Graph<R>, options: DaemonOptions<R>) {
    const interval = options.intervalMs ?? 1000;
    if (!Number.isInteger(interval) || interval < 1) {
      throw new RangeError(
        `Cannot start the sensor daemon with interval ${interval}: expected whole milliseconds >= 1`,
      );
    }
    const relaunches = options.maxRelaunches ?? 1;
    if (!Number.isSafeInteger(relaunches) || relaunches < 0) {
      throw new RangeError(
        `Cannot start the sensor daemon with maxRelaunches ${relaunches}: expected a whole number >= 0`,
      );
    }
    const retries = options.maxRetries ?? 0;
    if (!Number.isSafeInteger(retries) || retries < 0) {
      throw new RangeError(
        `Cannot start the sensor daemon with maxRetries ${retries}: expected a whole number >= 0`,
      );
    }
    this.#graph = graph;
    this.#store = options.runStore;
    this.#clock = options.clock ?? systemClock;
    this.#log = options.log ?? silentLogger;
    this.#options = options;
    this.#intervalMs = interval;
    this.#onTick = options.onTick ?? (() => {});
    this.#id = options.daemonId ?? `pid${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
    const outer = options.signal;
    if (outer?.aborted) this.#stop.abort(outer.reason);
    outer?.addEventListener("abort", () => this.#stop.abort(outer.reason), { once: true });
    const sources = { ...graph.resources, ...options.resources } as Record<string, unknown>;
    this.#pool = new ResourcePool(sources, this.#stop.signal, this.#log);
    this.#sensors = [...graph.sensors];
    if ((options.automation ?? true) && needsAutomation(graph as Graph<unknown>)) {
      this.#automation = automationSensor(graph as Graph<unknown>, {
        runStore: this.#store,
        daemonId: this.#id,
        ...(options.owner ? { owner: options.owner } : {}),
        ...(options.host ? { host: options.host } : {}),
        intervalMs: interval,
        loadedAt: this.#clock.now(),
        ...(options.freshnessRecordEveryMs === undefined
          ? {}
          : { freshnessRecordEveryMs: options.freshnessRecordEveryMs }),
      });
      this.#sensors.push(this.#automation.sensor);
    }
  }

  /** The automation sensor, when the graph has automated assets. */
  get automation(): AutomationSensor | undefined {
    return this.#automation;
  }

  /** Id written into this daemon's launch claims. */
  get id(): string {
    return this.#id;
  }

  /** Run ids launched by this daemon that have not ended yet. */
  get runsInFlight(): string[] {
    return [...this.#inFlight.keys()];
  }

  /**
   * Evaluates every sensor and schedule once, launching what they request.
   * Never throws for a failing sensor: its report says what failed.
   */
  tick(): Promise<TickReport[]> {
    return this.#tick(false);
  }

  /**
   * Ticks every `intervalMs` until the signal aborts, then shuts down: runs
   * in flight finish within `shutdownGraceMs` or are canceled (and recorded
   * so), and resources are closed.
   */
  async run(): Promise<void> {
    const names = [...this.#sensors, ...this.#graph.schedules].map((s) => s.name);
    this.#log.info(
      `sensor daemon ${this.#id} started: ${
        names.length ? names.join(", ") : "no sensors or schedules"
      }` +
        `, every ${this.#intervalMs} ms, run store ${this.#store.description}`,
    );
    const watching = this.#watchFeed();
    this.#onTick();
    try {
      while (!this.#stop.signal.aborted) {
        await this.#tick(true);
        this.#onTick();
        try {
          // A run of this daemon that materializes something wakes it early
          // (see #onRunEvent): the automation hop is event-driven. A wake-up
          // that came during the tick is not lost: no sleep then.
          this.#wake = new AbortController();
          if (this.#wakePending) {
            this.#wakePending = false;
            continue;
          }
          await this.#clock.sleep(
            this.#sleepMs(),
            AbortSignal.any([this.#stop.signal, this.#wake.signal]),
          );
          this.#wakePending = false;
        } catch (error) {
          this.#wakePending = false;
          if (!(error instanceof CanceledError)) throw error;
        }
      }
    } finally {
      await this.close();
      await watching;
    }
    if (this.#fatal) throw this.#fatal;
  }

  /**
   * Stops the daemon when `error` is one only a restart recovers from: a
   * supervisor's restart opens what is there now, while going on would
   * fail the same way every tick (and record nothing anyone sees).
   */
  /**
   * Logs that `what` failed with `error`, stopping the daemon when only a
   * restart recovers; once it is stopping on such an error (said once, in
   * its `stopping:` line), the rest of the tick, failing the same way, says
   * nothing more.
   */
  #logFailure(error: unknown, what: string): void {
    this.#stopIfRestartRequired(error);
    if (this.#fatal) return;
    this.#log.error(`${what}: ${toError(error).message}`);
  }

  #stopIfRestartRequired(error: unknown): void {
    const fatal = restartRequiredError(error);
    if (!fatal || this.#fatal) return;
    this.#fatal = fatal;
    this.#log.error(`stopping: ${fatal.message}`);
    this.#stop.abort();
  }

  /** Resolves when every run launched so far has ended; returns their results. */
  async drain(): Promise<RunResult[]> {
    const results: RunResult[] = [];
    while (this.#inFlight.size > 0) {
      for (const result of await Promise.all(this.#inFlight.values())) {
        if (result) results.push(result);
      }
    }
    return results;
  }

  /**
   * Stops ticking, lets runs in flight go on for `shutdownGraceMs`, cancels
   * the rest, waits for them to be recorded and closes the sensors' resources.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop.abort();
    clearTimeout(this.#wakeTimer);
    this.#wakeTimer = undefined;
    const running = this.#inFlight.size;
    if (running > 0) {
      const grace = this.#options.shutdownGraceMs ?? 0;
      if (grace > 0) {
        this.#log.info(`shutting down: waiting up to ${grace} ms for ${running} run(s)`);
        await withTimeout(this.drain(), grace);
      }
      if (this.#inFlight.size > 0) {
        this.#log.info(`shutting down: canceling ${this.#inFlight.size} run(s) in flight`);
      }
      this.#cancelRuns.abort();
      await this.drain();
    }
    for (const error of await this.#pool.close()) {
      this.#log.error(`sensor resource cleanup failed: ${error.message}`);
    }
    await this.#store.flush();
    this.#log.info(`sensor daemon ${this.#id} stopped`);
  }

  /** Same as {@linkcode SensorDaemon.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #tick(dueOnly: boolean): Promise<TickReport[]> {
    const reports: TickReport[] = await this.#recoverLostRuns();
    const states = await this.#automationStates();
    const now = this.#clock.now();
    const busy = this.#inFlight.size >= (this.#options.maxRunsInFlight ?? 16);
    for (const sensor of this.#sensors) {
      if (this.#stop.signal.aborted) break;
      const every = sensor.intervalMs ?? this.#intervalMs;
      const last = this.#lastEvaluated.get(sensor.name);
      if (busy || (dueOnly && !isDue(last, now, every))) continue;
      this.#lastEvaluated.set(sensor.name, now);
      const state = states.get(sensor.name);
      reports.push(
        state?.enabled === false
          ? offReport(sensor.name, "sensor", state)
          : await this.#guard(sensor.name, "sensor", () => this.#evaluateSensor(sensor)),
      );
    }
    for (const schedule of this.#graph.schedules) {
      if (this.#stop.signal.aborted) break;
      const state = states.get(schedule.name);
      if (state?.enabled === false) {
        // Reported once per interval, as a sensor's ticks are.
        const last = this.#lastEvaluated.get(schedule.name);
        if (dueOnly && !isDue(last, now, this.#intervalMs)) continue;
        this.#lastEvaluated.set(schedule.name, now);
        reports.push(offReport(schedule.name, "schedule", state));
        continue;
      }
      // Ticks that fell while it was off are not run when it is turned on again.
      const onSince = state?.enabled ? state.updatedAt : undefined;
      reports.push(
        await this.#guard(
          schedule.name,
          "schedule",
          () => this.#evaluateSchedule(schedule, onSince),
        ),
      );
    }
    for (const report of reports) this.#report(report);
    await this.#recordTicks(reports, now);
    return reports;
  }

  /**
   * The on/off states set in the run store, read once per tick. A store that
   * cannot answer leaves everything on (and says so); its sensors will report
   * the same failure.
   */
  async #automationStates(): Promise<Map<string, AutomationState>> {
    try {
      return new Map((await this.#store.automationStates()).map((s) => [s.name, s]));
    } catch (error) {
      this.#logFailure(error, `cannot read which sensors are off`);
      return new Map();
    }
  }

  /**
   * Records what each sensor and schedule came to in this tick (idle and
   * deferred ticks are not recorded); a failure is logged and never stops
   * the daemon.
   */
  async #recordTicks(reports: readonly TickReport[], now: number): Promise<void> {
    const ticks: NewTick[] = [];
    for (const report of reports) {
      if (
        report.status !== "requested" && report.status !== "skipped" &&
        report.status !== "failed" && report.status !== "off"
      ) continue;
      ticks.push({
        name: report.name,
        kind: report.kind,
        time: now,
        status: report.status,
        runIds: [...report.launched],
        duplicateKeys: [...report.duplicates],
        reason: tickReason(report),
        cursor: report.cursor ?? null,
      });
    }
    if (ticks.length === 0) return;
    try {
      await this.#store.recordTicks(ticks);
    } catch (error) {
      this.#logFailure(error, `cannot record the ticks of this evaluation`);
    }
  }

  /**
   * Reaps the runs whose owner died, then relaunches the lost sensor and
   * schedule runs (see the module doc). A failure here is logged and never
   * stops the sensors: the next tick tries again.
   */
  async #recoverLostRuns(): Promise<TickReport[]> {
    if (this.#stop.signal.aborted) return [];
    try {
      await reapDeadRuns(this.#store, {
        clock: this.#clock,
        log: this.#log,
        ...(this.#options.host ? { host: this.#options.host } : {}),
      });
    } catch (error) {
      this.#logFailure(error, `cannot reap runs of dead processes`);
    }
    let lost: RunRecord[];
    try {
      lost = await this.#store.listRuns({ tags: { [OWNER_LOST_TAG]: "pending" }, limit: 100 });
    } catch (error) {
      this.#logFailure(error, `cannot list lost runs`);
      return [];
    }
    const reports: TickReport[] = [];
    for (const run of lost.reverse()) { // oldest first
      if (this.#stop.signal.aborted) break;
      try {
        const report = await this.#relaunch(run);
        if (report) reports.push(report);
      } catch (error) {
        // Left pending: the next tick decides again.
        this.#log.error(`cannot relaunch lost run ${run.runId}: ${toError(error).message}`);
      }
    }
    if (!this.#retriesRecovered) {
      this.#retriesRecovered = true;
      await this.#recoverOwedRetries();
    }
    return reports;
  }

  /**
   * Launches the retries that a daemon which died (or shut down) between a
   * run's failure and its retry never launched: failed sensor and schedule
   * runs of the last `retryRecoveryWindowMs` with retries left and no retry
   * recorded. `#retryFailed` decides each as if the run had just failed; its
   * claim key makes a retry launched elsewhere meanwhile a duplicate.
   */
  async #recoverOwedRetries(): Promise<void> {
    const windowMs = this.#options.retryRecoveryWindowMs ?? 86_400_000;
    // With a launcher (the run queue) the queue retries, atomically.
    if (this.#options.launch || windowMs <= 0) return;
    let failed: RunRecord[];
    try {
      failed = await this.#store.listRuns({
        status: "failed",
        startedFrom: this.#clock.now() - windowMs,
        limit: 200,
      });
    } catch (error) {
      this.#logFailure(error, `cannot look for failed runs owed a retry`);
      return;
    }
    for (const run of failed.reverse()) { // oldest first
      if (this.#stop.signal.aborted) return;
      const owed = this.#owedRetry(run);
      if (!owed) continue;
      try {
        if ((await this.#store.listRuns({ tags: { retry_of: run.runId }, limit: 1 })).length) {
          continue;
        }
        this.#log.info(
          `run ${run.runId} (${owed.kind} ${owed.owner}, key ${owed.request.runKey}) failed ` +
            `and its retry was never launched (its daemon stopped first): retrying it now`,
        );
        await this.#retryFailed(owed, run.tags, await this.#excludedBefore(run));
      } catch (error) {
        this.#logFailure(error, `cannot retry failed run ${run.runId}`);
      }
    }
  }

  /**
   * The launch `run` came from, when it is a sensor or schedule run that
   * ended failed on its own (not reaped: lost runs are relaunched by their
   * own policy; not a start that failed: never retried) with retries left.
   */
  #owedRetry(run: RunRecord): Launch | undefined {
    const tags = run.tags;
    const kind = tags.sensor !== undefined
      ? "sensor"
      : tags.schedule !== undefined
      ? "schedule"
      : undefined;
    const owner = kind === undefined ? undefined : tags[kind];
    const runKey = tags.run_key;
    if (kind === undefined || owner === undefined || runKey === undefined) return undefined;
    if (tags[OWNER_LOST_TAG] !== undefined) return undefined;
    if (run.errorSummary?.startsWith(FAILED_START) || run.cancelRequestedAt !== null) {
      return undefined;
    }
    const maxRetries = Number(tags.max_retries ?? this.#options.maxRetries ?? 0);
    if (!(Number(tags.attempt ?? "1") <= maxRetries)) return undefined;
    if (tags.retry_on_asset_failure === "false") return undefined;
    const { [kind]: _owner, run_key: _key, ...requestTags } = tags;
    return {
      runId: run.runId,
      owner,
      kind,
      request: {
        runKey,
        selection: run.selection,
        ...(run.partitions ? { partitions: run.partitions.split(",") } : {}),
        tags: requestTags,
      },
    };
  }

  /**
   * What `run` left out because earlier attempts had done it: the assets
   * that succeeded in the runs it retried (following `retry_of`), as the
   * daemon that launched it passed them.
   */
  async #excludedBefore(run: RunRecord): Promise<string> {
    if (run.tags.retry_strategy === "all_steps") return "";
    const done = new Set<string>();
    let previous = run.tags.retry_of;
    for (let hops = 0; previous !== undefined && hops < 100; hops++) {
      for (const key of await succeededAssets(this.#store, previous)) done.add(key);
      previous = (await this.#store.getRun(previous))?.tags.retry_of;
    }
    return [...done].join(",");
  }

  /** Relaunches a lost run when the policy allows (`planRelaunch`), and records the decision on it. */
  async #relaunch(run: RunRecord): Promise<TickReport | undefined> {
    const steps = await this.#store.listSteps(run.runId);
    const plan = planRelaunch(
      run,
      steps,
      // The automation sensor is one of this daemon's sensors, not of the graph's.
      { ...(this.#graph as Graph<unknown>), sensors: this.#sensors },
      this.#options.maxRelaunches ?? 1,
    );
    const decide = async (decision: string) => {
      await this.#store.updateRun(run.runId, {
        status: run.status,
        tags: { [OWNER_LOST_TAG]: decision },
      });
      this.#log.info(`lost run ${run.runId}: ${decision}`);
    };
    if (!plan.relaunch) return void await decide(plan.decision);
    const submitted = await this.#submit(plan.name, plan.kind, plan.request, plan.claimKey);
    // Left pending: the next tick decides again (another daemon may be relaunching it).
    if (submitted.state === "deferred" || submitted.state === "unrecorded") return undefined;
    await decide(`relaunched as ${submitted.runId} (attempt ${plan.attempt})`);
    return {
      name: plan.name,
      kind: plan.kind,
      status: "requested",
      launched: submitted.state === "launched" ? [submitted.runId] : [],
      duplicates: submitted.state === "duplicate" ? [plan.claimKey] : [],
      relaunchOf: run.runId,
    };
  }

  async #guard(
    name: string,
    kind: "sensor" | "schedule",
    work: () => Promise<TickReport>,
  ): Promise<TickReport> {
    try {
      return await work();
    } catch (error) {
      this.#stopIfRestartRequired(error);
      return { name, kind, status: "failed", launched: [], duplicates: [], error: toError(error) };
    }
  }

  async #evaluateSensor(sensor: SensorDefinition): Promise<TickReport> {
    const base = { name: sensor.name, kind: "sensor" as const };
    const cursor = await this.#store.getCursor(sensor.name);
    const resources = await this.#pool.pick(sensor.resources, `sensor '${sensor.name}'`);
    let raw: unknown;
    try {
      raw = await sensor.evaluate({
        sensorName: sensor.name,
        cursor,
        resources,
        log: prefixed(this.#log, `sensor ${sensor.name}: `),
        signal: this.#stop.signal,
        clock: this.#clock,
        launchedRun: (runKey) => launchedRunIn(this.#store, sensor.name, runKey),
        latestRun: (runKey) => latestRunIn(this.#store, sensor.name, runKey),
        runStore: this.#store,
        graph: this.#graph,
      });
    } catch (error) {
      if (this.#stop.signal.aborted) {
        return { ...base, status: "deferred", launched: [], duplicates: [] };
      }
      throw new SensorError(
        "sensor.evaluation_failed",
        `Sensor '${sensor.name}' failed: ${toError(error).message}`,
        { cause: error },
      );
    }
    const result = checkSensorResult(sensor.name, raw);
    if ("skipReason" in result) {
      return {
        ...base,
        status: "skipped",
        launched: [],
        duplicates: [],
        skipReason: result.skipReason,
      };
    }
    for (const { name, keys } of result.dynamicPartitions ?? []) {
      keys.forEach(checkPartitionKey);
      await this.#store.addDynamicPartitions(name, keys);
    }
    const launched: string[] = [];
    const duplicates: string[] = [];
    const unrecorded: string[] = [];
    const requestErrors: { runKey: string; error: Error }[] = [];
    for (const request of result.runRequests) {
      let submitted: Submitted;
      try {
        submitted = await this.#submit(sensor.name, "sensor", request);
      } catch (error) {
        // One request's failure never stops the others (see TickReport.requestErrors).
        requestErrors.push({ runKey: request.runKey, error: toError(error) });
        continue;
      }
      if (submitted.state === "deferred") {
        return { ...base, status: "deferred", launched, duplicates };
      }
      if (submitted.state === "unrecorded") {
        unrecorded.push(request.runKey);
        continue;
      }
      (submitted.state === "launched" ? launched : duplicates).push(
        submitted.state === "launched" ? submitted.runId : request.runKey,
      );
    }
    const next = result.cursor;
    // A request not launched yet (failed, or claimed by a daemon that may have died) keeps the cursor.
    const advance = next !== undefined && next !== cursor && requestErrors.length === 0 &&
      unrecorded.length === 0;
    if (advance) await this.#store.setCursor(sensor.name, next);
    if (result.runRequests.length === 0) {
      // Dagster's rule: a tick that asks for no run is skipped, also when it moves its cursor
      // (the automation sensor's evaluations). Recorded as 'requested', it showed a green
      // badge with no run and no reason on every evaluation.
      return {
        ...base,
        status: "skipped",
        launched,
        duplicates,
        skipReason: NO_RUN_REQUESTED,
        ...(advance ? { cursor: next } : {}),
      };
    }
    return {
      ...base,
      status: "requested",
      launched,
      duplicates,
      ...(advance ? { cursor: next } : {}),
      ...(requestErrors.length > 0 ? { requestErrors } : {}),
      ...(unrecorded.length > 0 ? { unrecorded } : {}),
    };
  }

  async #evaluateSchedule(
    schedule: ScheduleDefinition,
    onSince: number | undefined,
  ): Promise<TickReport> {
    const base = { name: schedule.name, kind: "schedule" as const, launched: [], duplicates: [] };
    const now = this.#clock.now();
    const cursor = await this.#store.getCursor(schedule.name);
    const stored = cursor === undefined ? Number.NaN : Date.parse(cursor);
    const last = onSince !== undefined && onSince > stored ? onSince : stored;
    if (stored > now + CLOCK_BACK_TOLERANCE_MS) {
      // The wall clock went back past the last tick (a clock stepped forward, then corrected):
      // waiting for the clock to pass that tick again would lose every tick until then. Ticks
      // count from now; one that ran already is a duplicate of its run key, never a second run.
      // (A cursor a moment ahead is another daemon's write racing this read: no jump.)
      const start = new Date(now).toISOString();
      await this.#store.setCursor(schedule.name, start);
      this.#log.warn(
        `schedule ${schedule.name}: the clock went back (now ${start}, last tick ${cursor}); ` +
          "ticks count from now",
      );
      return { ...base, status: "idle", cursor: start };
    }
    if (!Number.isFinite(last)) {
      // First start (or an unreadable cursor): ticks count from now, the past is not replayed.
      const start = new Date(now).toISOString();
      await this.#store.setCursor(schedule.name, start);
      const next = schedule.nextTick(new Date(now));
      this.#log.info(
        `schedule ${schedule.name}: starts now (${start}); next tick ${
          next?.toISOString() ?? "never"
        }`,
      );
      return { ...base, status: "idle", cursor: start };
    }
    const due = latestTick(schedule, last, now);
    if (!due) return { ...base, status: "idle" };
    const request: RunRequest = {
      runKey: scheduleRunKey(schedule, due.tick),
      selection: schedule.selection,
      ...(schedule.partition ? { partitions: [schedule.partition(due.tick)] } : {}),
      tags: { ...schedule.tags, tick: due.tick.toISOString() },
    };
    if (due.skipped) {
      this.#log.warn(
        `schedule ${schedule.name}: ticks between ${cursor} and ${due.tick.toISOString()} were missed; ` +
          "only the latest runs",
      );
    }
    const submitted = await this.#submit(schedule.name, "schedule", request);
    if (submitted.state === "deferred") return { ...base, status: "deferred" };
    if (submitted.state === "unrecorded") {
      return {
        ...base,
        status: "requested",
        launched: [],
        duplicates: [],
        unrecorded: [request.runKey],
      };
    }
    const next = due.tick.toISOString();
    await this.#store.setCursor(schedule.name, next);
    return {
      ...base,
      status: "requested",
      launched: submitted.state === "launched" ? [submitted.runId] : [],
      duplicates: submitted.state === "duplicate" ? [request.runKey] : [],
      cursor: next,
    };
  }

  /**
   * Claims the run key (or `claimKey`, for a relaunch), wins the launch claim
   * or leaves it, and starts the run.
   */
  async #submit(
    owner: string,
    kind: Launch["kind"],
    request: RunRequest,
    claimKey = request.runKey,
    exclude = "",
  ): Promise<Submitted> {
    const claim = await this.#store.claimRunKey(owner, claimKey, crypto.randomUUID());
    const runId = claim.runId;
    if (this.#stop.signal.aborted) return { state: "deferred", runId };
    const launch = await this.#claimLaunch(runId);
    if (launch === "recorded") return { state: "duplicate", runId };
    if (launch === "unrecorded") return { state: "unrecorded", runId };
    await this.#start({ runId, owner, kind, request }, exclude);
    return { state: "launched", runId };
  }

  /**
   * Claims the right to start `runId` (see the module doc): `won`, or
   * `recorded` when the run exists already, or `unrecorded` when another
   * daemon (or another tick of this one) holds the claim and has not
   * recorded the run (yet). A holder is taken over when its process is
   * certainly gone from this host (killed between its claim and the run's
   * record: no waiting), or when its claim is older than `staleLaunchMs`
   * (another host, or a start that failed without a record: only the age
   * tells).
   */
  async #claimLaunch(runId: string): Promise<"won" | "recorded" | "unrecorded"> {
    const staleMs = this.#options.staleLaunchMs ?? 60_000;
    const self = this.#options.owner ?? processOwner();
    for (let attempt = 1; attempt <= 1000; attempt++) {
      const now = this.#clock.now();
      const key = attempt === 1 ? runId : `${runId}#${attempt}`;
      const claim = await this.#store.claimRunKey(
        LAUNCH_CLAIMS,
        key,
        claimHolderText(this.#id, now, self),
      );
      if (claim.claimed) return "won";
      if (await this.#store.getRun(runId)) return "recorded";
      const holder = parseClaimHolder(claim.runId);
      const gone = holder.owner !== undefined &&
        isGoneHere(holder.owner, this.#options.host ?? thisHost());
      if (!gone && Number.isFinite(holder.at) && now - holder.at < staleMs) return "unrecorded";
      this.#log.warn(
        `run ${runId}: launch claimed by ${holder.daemon || claim.runId} ${
          gone ? "(its process is gone)" : `at ${holder.at}`
        } but never recorded; taking it over`,
      );
    }
    return "unrecorded";
  }

  /**
   * Starts the run (without the assets in `exclude`, for a retry resuming
   * from a failure) and resolves once it is recorded (or recorded as failed
   * to start).
   */
  async #start(launch: Launch, exclude = ""): Promise<void> {
    const { runId, owner, kind, request } = launch;
    if (this.#options.launch) {
      await this.#options.launch(launch, {
        ...request.tags,
        [kind]: owner,
        run_key: request.runKey,
      });
      return;
    }
    let recorded!: () => void;
    const started = new Promise<void>((resolve) => (recorded = resolve));
    const tags = { ...request.tags, [kind]: owner, run_key: request.runKey };
    this.#ownRuns.add(runId);
    if (this.#ownRuns.size > 1000) {
      this.#ownRuns.delete(this.#ownRuns.values().next().value as string);
    }
    const run = materialize(this.#graph, {
      runId,
      selection: request.selection,
      ...(exclude ? { exclude } : {}),
      ...(request.partitions ? { partitions: { keys: request.partitions } } : {}),
      tags,
      runStore: this.#store,
      clock: this.#clock,
      signal: this.#cancelRuns.signal,
      ...(this.#options.resources ? { resources: this.#options.resources } : {}),
      ...(this.#options.concurrency ? { concurrency: this.#options.concurrency } : {}),
      ...(this.#options.owner ? { owner: this.#options.owner } : {}),
      ...(this.#options.heartbeatIntervalMs
        ? { heartbeatIntervalMs: this.#options.heartbeatIntervalMs }
        : {}),
      onEvent: (event) => {
        if (event.type === "run_started") recorded();
        this.#onRunEvent(event.type);
      },
    });
    const tracked = run.then(
      async (result) => {
        this.#log[result.status === "success" ? "info" : "warn"](
          `run ${runId} (${kind} ${owner}, key ${request.runKey}) ${result.status} in ` +
            `${result.durationMs} ms${result.errorSummary ? `: ${result.errorSummary}` : ""}`,
        );
        this.#options.onRunFinished?.(result, launch);
        // Awaited here, so the retry is in flight before this run leaves it (drain, close).
        if (result.status === "failed") await this.#retryFailed(launch, tags, exclude);
        return result;
      },
      async (error) => {
        await this.#recordFailedStart(launch, tags, toError(error));
        return undefined;
      },
    ).finally(() => this.#inFlight.delete(runId));
    this.#inFlight.set(runId, tracked);
    await Promise.race([started, tracked]);
  }

  /**
   * Launches the retry of `launch`'s run, which ended `failed`, when its
   * retries allow (the run queue's policy: see {@linkcode DaemonOptions.maxRetries}).
   * Never throws: a retry that cannot be launched is logged, the run stays failed.
   */
  async #retryFailed(launch: Launch, tags: Record<string, string>, exclude: string) {
    const { runId, owner, kind, request } = launch;
    const attempt = Number(tags.attempt ?? "1");
    const maxRetries = Number(tags.max_retries ?? this.#options.maxRetries ?? 0);
    if (!(attempt <= maxRetries) || tags.retry_on_asset_failure === "false") return;
    if (this.#stop.signal.aborted) return; // shutting down: the run stays failed
    const next = attempt + 1;
    const who = `run ${runId} (${kind} ${owner}, key ${request.runKey})`;
    try {
      const resume = tags.retry_strategy !== "all_steps";
      const done = resume ? await succeededAssets(this.#store, runId) : [];
      const skip = [...new Set([...splitSelection(exclude), ...done])].join(",");
      if (resolveSelection(this.#graph as Graph<unknown>, request.selection, skip).length === 0) {
        this.#log.info(`${who}: not retried: every asset it selects succeeded`);
        return;
      }
      const { relaunch_of: _relaunchOf, ...kept } = request.tags ?? {};
      const retry: RunRequest = {
        ...request,
        tags: {
          ...kept,
          attempt: String(next),
          root_run_id: tags.root_run_id ?? runId,
          retry_of: runId,
        },
      };
      const submitted = await this.#submit(
        owner,
        kind,
        retry,
        `${request.runKey}#attempt-${next}`,
        skip,
      );
      if (submitted.state !== "launched") return;
      this.#log.warn(
        `${who} failed; retried as ${submitted.runId} (attempt ${next} of ${maxRetries + 1})`,
      );
    } catch (error) {
      this.#logFailure(error, `${who} failed and cannot be retried`);
    }
  }

  /** A run that failed before it was recorded (bad selection...) is recorded failed, so it is not retried. */
  async #recordFailedStart(launch: Launch, tags: Record<string, string>, error: Error) {
    const { runId, owner, kind, request } = launch;
    this.#log.error(
      `run ${runId} (${kind} ${owner}, key ${request.runKey}) could not start: ${error.message}`,
    );
    try {
      if (await this.#store.getRun(runId)) return;
      const now = this.#clock.now();
      await this.#store.createRun({
        runId,
        status: "failed",
        selection: request.selection,
        partitions: request.partitions ? request.partitions.join(",") : null,
        tags,
        startedAt: now,
        finishedAt: now,
        errorSummary: `${FAILED_START}${error.message}`,
      });
      await this.#store.flush();
    } catch (recordError) {
      this.#log.error(
        `run ${runId}: cannot record the failed start: ${toError(recordError).message}`,
      );
    }
  }

  #report(report: TickReport): void {
    const who = `${report.kind} ${report.name}`;
    if (report.status === "failed") {
      this.#lastSkip.delete(report.name);
      const error = report.error;
      const code = error instanceof PlatformError ? ` [${error.code}]` : "";
      // Stopping on a fatal error: said once, in the `stopping:` line.
      if (this.#fatal && restartRequiredError(error)) return;
      this.#log.error(`${who}: failed${code}: ${error?.message}`);
      return;
    }
    // Recorded as skipped, logged as before: a moved cursor says so.
    const askedNothing = report.status === "skipped" && report.skipReason === NO_RUN_REQUESTED;
    if (!askedNothing && (report.status === "skipped" || report.status === "off")) {
      // The automation skips whenever nothing changed; it logs what it does itself.
      if (report.name === AUTOMATION_SENSOR && report.status === "skipped") return;
      // A sensor that keeps skipping for the same reason is logged once.
      if (this.#lastSkip.get(report.name) !== report.skipReason) {
        this.#log.info(
          `${who}: ${report.status === "off" ? "off" : "skipped"}: ${report.skipReason}`,
        );
      }
      this.#lastSkip.set(report.name, report.skipReason ?? "");
      return;
    }
    this.#lastSkip.delete(report.name);
    if (report.status === "deferred") {
      this.#log.info(`${who}: shutdown began; its requests wait for the next start`);
      return;
    }
    if (report.status !== "requested" && !askedNothing) return;
    for (const { runKey, error } of report.requestErrors ?? []) {
      const code = error instanceof PlatformError ? ` [${error.code}]` : "";
      this.#log.error(
        `${who}: run key ${runKey} not launched${code}: ${error.message}; asked again next tick`,
      );
    }
    if (report.relaunchOf) {
      const as = report.launched[0] ?? `${report.duplicates[0]} (already relaunched)`;
      this.#log.info(`${who}: relaunched lost run ${report.relaunchOf} as ${as}`);
      return;
    }
    const unrecorded = report.unrecorded ?? [];
    if (
      report.launched.length === 0 && report.duplicates.length === 0 && !report.cursor &&
      unrecorded.length === 0
    ) return;
    // The automation's cursor moves at every evaluation; it logs its own requests.
    if (
      report.name === AUTOMATION_SENSOR && report.launched.length === 0 &&
      report.duplicates.length === 0 && unrecorded.length === 0
    ) return;
    const parts = [
      `launched ${report.launched.length}` +
      (report.launched.length ? ` (${report.launched.join(", ")})` : ""),
    ];
    if (report.duplicates.length) {
      parts.push(`${report.duplicates.length} already claimed (${report.duplicates.join(", ")})`);
    }
    if (unrecorded.length) {
      parts.push(
        `${unrecorded.length} claimed by another daemon, not recorded yet (${
          unrecorded.join(", ")
        }): asked again next tick`,
      );
    }
    if (report.cursor !== undefined) parts.push(`cursor ${abbreviate(report.cursor)}`);
    this.#log.info(`${who}: ${parts.join("; ")}`);
  }

  /**
   * A materialization (or a step or run ending) in a run of this daemon makes
   * the automation due and wakes the loop, after a short debounce.
   */
  #onRunEvent(type: string): void {
    if (!this.#automation) return;
    if (
      type !== "materialization" && type !== "step_failed" && type !== "run_finished" &&
      type !== "step_skipped"
    ) return;
    this.#lastEvaluated.delete(AUTOMATION_SENSOR);
    if (this.#wakeTimer !== undefined) return;
    this.#wakeTimer = setTimeout(() => {
      this.#wakeTimer = undefined;
      this.#wakePending = true;
      this.#wake.abort();
    }, this.#options.automationDebounceMs ?? 20);
  }

  #wakeTimer: ReturnType<typeof setTimeout> | undefined;
  #wakePending = false;
  /** Runs this daemon executes (the last 1000): their events wake it already. */
  readonly #ownRuns = new Set<string>();

  /**
   * Watches the feed for what other processes materialize or end (see
   * {@linkcode DaemonOptions.automationWatchMs}) and wakes the automation.
   * Wall-clock polling of an outside system, so real timers: a faked clock
   * is business time and must not move because of it.
   */
  async #watchFeed(): Promise<void> {
    const everyMs = this.#options.automationWatchMs ?? 100;
    if (!this.#automation || everyMs <= 0) return;
    let after: number | undefined;
    let failing = false;
    while (!this.#stop.signal.aborted) {
      try {
        if (after === undefined) {
          after = await feedEnd(this.#store);
        } else {
          const events = await this.#store.listEventsAfter(after, {
            types: WATCHED_EVENTS,
            limit: 1000,
          });
          after = events.at(-1)?.id ?? after;
          const outside = events.find((e) => !this.#ownRuns.has(e.runId));
          // Any of them makes the automation due (a run leaving the queue unrun too).
          if (outside && !this.#stop.signal.aborted) this.#onRunEvent("run_finished");
        }
        failing = false;
      } catch (error) {
        // The next tick reports a store that does not answer; say it once here.
        if (!failing) this.#log.warn(`cannot watch the run store: ${toError(error).message}`);
        failing = true;
      }
      const stop = this.#stop.signal;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, everyMs);
        function done() {
          clearTimeout(timer);
          stop.removeEventListener("abort", done);
          resolve();
        }
        stop.addEventListener("abort", done, { once: true });
      });
    }
  }

  #sleepMs(): number {
    const intervals = this.#sensors.map((s) => s.intervalMs ?? this.#intervalMs);
    return Math.min(this.#intervalMs, ...intervals);
  }
}

/** Events of other processes' runs that make the automation due (see #onRunEvent). */
const WATCHED_EVENTS = [
  "materialization",
  "step_failed",
  "step_skipped",
  "run_finished",
  "run_dequeued",
] as const;

/**
 * Runs a {@linkcode SensorDaemon} until `options.signal` aborts, then shuts it
 * down cleanly.
 */
export async function runDaemon<R>(graph: Graph<R>, options: DaemonOptions<R>): Promise<void> {
  await new SensorDaemon(graph, options).run();
}

/**
 * Whether something last done at `last` is due again at `now`, every
 * `every` ms: also when the clock went back before `last` (a stepped wall
 * clock), which would otherwise hold it back until the clock caught up.
 */
function isDue(last: number | undefined, now: number, every: number): boolean {
  return last === undefined || now < last || now - last >= every;
}

/**
 * The latest tick of `schedule` in `(after, now]`, and whether earlier ticks
 * in that span were passed over; `undefined` when none is due.
 */
export function latestTick(
  schedule: ScheduleDefinition,
  after: number,
  now: number,
): { tick: Date; skipped: boolean } | undefined {
  const first = schedule.nextTick(new Date(after));
  if (!first || first.getTime() > now) return undefined;
  // After a long outage, start near `now` so a per-minute cron does not walk every missed minute.
  let from = after;
  for (const window of [60_000, 3_600_000, 86_400_000, 32 * 86_400_000, 367 * 86_400_000]) {
    if (now - window <= after) break;
    const tick = schedule.nextTick(new Date(now - window));
    if (tick && tick.getTime() <= now) {
      from = now - window;
      break;
    }
  }
  let tick = from === after ? first : schedule.nextTick(new Date(from)) as Date;
  for (
    let next = schedule.nextTick(tick);
    next && next.getTime() <= now;
    next = schedule.nextTick(tick)
  ) {
    tick = next;
  }
  return { tick, skipped: tick.getTime() !== first.getTime() };
}

function prefixed(log: Logger, prefix: string): Logger {
  return {
    debug: (message, fields) => log.debug(prefix + message, fields),
    info: (message, fields) => log.info(prefix + message, fields),
    warn: (message, fields) => log.warn(prefix + message, fields),
    error: (message, fields) => log.error(prefix + message, fields),
  };
}

function abbreviate(text: string): string {
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Waits for `work` at most `ms` milliseconds, leaving no timer behind. */
async function withTimeout(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The report of a sensor or schedule that is off. */
function offReport(
  name: string,
  kind: "sensor" | "schedule",
  state: AutomationState,
): TickReport {
  return {
    name,
    kind,
    status: "off",
    launched: [],
    duplicates: [],
    skipReason: `turned off${state.updatedBy ? ` by ${state.updatedBy}` : ""} at ${
      new Date(state.updatedAt).toISOString()
    }`,
  };
}

/** What a tick record says beside its status: why it skipped or failed, what went wrong. */
/** The reason of a sensor tick that returned no run request (and no skip reason of its own). */
const NO_RUN_REQUESTED = "no run requested";

function tickReason(report: TickReport): string | null {
  if (report.status === "failed") return report.error?.message ?? "failed";
  if (report.status === "skipped" || report.status === "off") return report.skipReason ?? null;
  const parts: string[] = [];
  if (report.relaunchOf) parts.push(`relaunch of lost run ${report.relaunchOf}`);
  for (const { runKey, error } of report.requestErrors ?? []) {
    parts.push(`run key ${runKey} not launched: ${error.message}`);
  }
  for (const runKey of report.unrecorded ?? []) {
    parts.push(`run key ${runKey} claimed by another daemon, not recorded yet`);
  }
  return parts.length ? parts.join("; ") : null;
}

function splitSelection(selection: string): string[] {
  return selection.split(",").map((s) => s.trim()).filter(Boolean);
}
