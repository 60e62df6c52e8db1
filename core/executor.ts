/**
 * The executor: runs a plan in topological order with bounded concurrency,
 * retries, checks, failure propagation and cancellation, and records it all in
 * a run store. A run never throws for a failing asset: it returns a result per
 * step.
 *
 * @module
 */

import { crashPoint } from "./crash_point.ts";
import type { FinishedStep, Materialization } from "./asset.ts";
import { type Clock, systemClock, waitOn } from "./clock.ts";
import type { Graph } from "./graph.ts";
import {
  AssetExecutionError,
  CanceledError,
  isTransientError,
  PlatformError,
  ResourceError,
  SelectionError,
  toError,
} from "./errors.ts";
import { createLogger, silentLogger } from "./logger.ts";
import type { PartitionEnvironment } from "./partitions.ts";
import { buildPlan, type PartitionSelection, type Plan, type Step } from "./plan.ts";
import { ResourcePool } from "./_resource_pool.ts";
import { registerNamedPartitions } from "./_register_partitions.ts";
import type { ResourceSources } from "./resource.ts";
import { processOwner } from "./owner.ts";
import { MemoryRunStore } from "./run_store/memory.ts";
import type { RunEvent, RunOwner, RunStatus, RunStore, StepRecord } from "./run_store/types.ts";
import { resolveSelection } from "./selection.ts";
import { type CheckOutcome, runStep, type StepOutcome } from "./_step.ts";
import { redact, redactDeep, redactError } from "./secrets.ts";
import { HEARTBEAT_STOP_REASON, STOPPED_BY_OWNER_PREFIX } from "./retry.ts";

export type { CheckOutcome };

/** Options of {@linkcode materialize}. */
export interface MaterializeOptions<R> {
  /**
   * Which assets, e.g. `+fct_weather_daily,group:activity`.
   * @default {"" (every asset)}
   */
  readonly selection?: string;
  /** Assets to leave out, same syntax as `selection`. */
  readonly exclude?: string;
  /** Partitions to run (keys or a range). */
  readonly partitions?: PartitionSelection;
  /** Resources replacing the graph's for this run (test twins, fakes). */
  readonly resources?: Partial<ResourceSources<R>>;
  /**
   * Where the run is recorded.
   * @default {a new MemoryRunStore}
   */
  readonly runStore?: RunStore;
  /**
   * Steps running at once.
   * @default {navigator.hardwareConcurrency}
   */
  readonly concurrency?: number;
  /**
   * Time source; tests pass a fake one so retries do not sleep.
   * @default {systemClock}
   */
  readonly clock?: Clock;
  /**
   * Random source for retry jitter.
   * @default {Math.random}
   */
  readonly random?: () => number;
  /** Cancels the run when aborted. */
  readonly signal?: AbortSignal;
  /**
   * Id of the run.
   * @default {crypto.randomUUID()}
   */
  readonly runId?: string;
  /** Tags recorded with the run. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Called with every event as it happens (progress views, JSON logs). */
  readonly onEvent?: (event: RunEvent) => void;
  /**
   * The process executing the run, recorded with it; it heartbeats while the
   * run goes on, so that if it dies the run is failed by whoever notices.
   * @default {processOwner()}
   */
  readonly owner?: RunOwner;
  /**
   * Time between two heartbeats, in milliseconds of the run's clock. Each
   * heartbeat also picks up a cancel asked from another process
   * (`RunStore.requestCancel`).
   * @default {10000}
   */
  readonly heartbeatIntervalMs?: number;
  /**
   * The owner is taken for dead after this long without a heartbeat (its
   * lease), in milliseconds; keep it several intervals long.
   * @default {4 × heartbeatIntervalMs}
   */
  readonly heartbeatTimeoutMs?: number;
  /**
   * Once the run is canceled, how long a running step may take to stop
   * (milliseconds of the run's clock). A step still running then (stuck on
   * a server that does not answer, say) is recorded as canceled and left
   * behind, so a canceled run always ends.
   * @default {30000}
   */
  readonly cancelGraceMs?: number;
  /**
   * Asked before each step that uses resources (its asset's and its checks'
   * resource keys, the step's pools): resolves, once the step may run, to
   * the function giving its place back, called when the step ends whatever
   * happened. The run queue's step-level pool limits (Dagster's op-granular
   * pools) across every worker come through here. A gate that rejects fails
   * the step with its error (canceled when the run was canceled meanwhile).
   */
  readonly stepGate?: StepGate;
}

/** A step that waits for its pools (see {@linkcode MaterializeOptions.stepGate}). */
export interface GatedStep {
  /** Run id. */
  readonly runId: string;
  /** Asset key. */
  readonly assetKey: string;
  /** Partition key, or `null`. */
  readonly partition: string | null;
  /** Resource keys the step uses (its asset's and its checks'), sorted. */
  readonly pools: readonly string[];
}

/** Waits until `step` may run; resolves to what gives its place back. */
export type StepGate = (
  step: GatedStep,
  signal: AbortSignal,
) => Promise<() => Promise<void>>;

/** Resource keys a step uses (its asset's and its checks'): its pools. */
function stepPools(step: Step): string[] {
  const pools = new Set<string>(step.asset.resources);
  for (const check of step.asset.checks) for (const r of check.resources) pools.add(r);
  return [...pools].sort();
}

/** What the cancel grace resolves to: a value no step index can have. */
const ABANDON = -1;

/** Default time between two heartbeats of a run's owner. */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;

/**
 * Default of {@linkcode MaterializeOptions.cancelGraceMs}: what a worker's
 * shutdown may take past its `--grace` (an orchestrator's stop period must
 * cover both).
 */
export const DEFAULT_CANCEL_GRACE_MS = 30_000;

/** Outcome of one step. */
export interface StepResult {
  /** Asset key. */
  readonly assetKey: string;
  /** Partition, or `null`. */
  readonly partition: string | null;
  /** Final status. */
  readonly status: "success" | "failed" | "skipped" | "canceled";
  /** Attempts made (0 when skipped). */
  readonly attempts: number;
  /** Wall time in milliseconds. */
  readonly durationMs: number;
  /** Why it failed, was skipped or canceled; `null` on success. */
  readonly reason: string | null;
  /** The error of the last attempt, when it failed. */
  readonly error: Error | null;
  /** The materialization, when it succeeded. */
  readonly materialization: Materialization | null;
  /** Checks run after it. */
  readonly checks: readonly CheckOutcome[];
}

/** Outcome of a run. */
export interface RunResult {
  /** Run id. */
  readonly runId: string;
  /** `success`, `failed` (a step or an error check failed) or `canceled`. */
  readonly status: Exclude<RunStatus, "running">;
  /** One result per step, in plan order. */
  readonly steps: readonly StepResult[];
  /** Milliseconds since the epoch. */
  readonly startedAt: number;
  /** Wall time in milliseconds. */
  readonly durationMs: number;
  /** Short summary of failures, or `null`. */
  readonly errorSummary: string | null;
}

/**
 * Materializes the selected assets of `graph`.
 *
 * Throws only before the run starts, for a bad selection or partition, or
 * one that selects no asset (`selection.empty`) ({@linkcode SelectionError});
 * every failure after that is in the result.
 *
 * @example
 * ```ts
 * import { defineAsset, defineGraph, materialize } from "./mod.ts";
 * const graph = defineGraph({ assets: [defineAsset({ key: "a", materialize: () => ({ rows: 1 }) })] });
 * const result = await materialize(graph);
 * result.status; // "success"
 * ```
 */
export async function materialize<R>(
  graph: Graph<R>,
  options: MaterializeOptions<R> = {},
): Promise<RunResult> {
  assertConcurrency(options.concurrency);
  assertHeartbeat(options);
  const store = options.runStore ?? new MemoryRunStore();
  const clock = options.clock ?? systemClock;
  const keys = resolveSelection(graph as Graph<unknown>, options.selection, options.exclude);
  if (keys.length === 0) throw emptySelection(graph as Graph<unknown>, options);
  await registerNamedPartitions(graph, keys, options.partitions?.keys ?? [], store, {
    resources: { ...graph.resources, ...options.resources } as Record<string, unknown>,
    signal: options.signal ?? new AbortController().signal,
    log: silentLogger,
  });
  const env = await partitionEnvironment(graph, keys, store, clock);
  const plan = buildPlan(graph as Graph<unknown>, keys, options.partitions ?? {}, env);
  return await new Run(graph, plan, store, clock, options).execute();
}

/** The error for a selection that picks no asset: nothing would run, which is never what was meant. */
function emptySelection(
  graph: Graph<unknown>,
  options: MaterializeOptions<unknown>,
): SelectionError {
  if (graph.assets.size === 0) {
    return new SelectionError("selection.empty", "The graph defines no asset: nothing to run");
  }
  const selection = options.selection?.trim() ? `'${options.selection}'` : "every asset";
  return new SelectionError(
    "selection.empty",
    `The selection ${selection} minus '${options.exclude}' selects no asset: nothing to run`,
  );
}

function assertHeartbeat(options: MaterializeOptions<unknown>): void {
  const interval = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  const timeout = options.heartbeatTimeoutMs ?? 4 * interval;
  if (!Number.isSafeInteger(interval) || interval < 1) {
    throw new RangeError(
      `Cannot run with heartbeatIntervalMs ${interval}: expected whole milliseconds >= 1`,
    );
  }
  if (!Number.isSafeInteger(timeout) || timeout <= interval) {
    throw new RangeError(
      `Cannot run with heartbeatTimeoutMs ${timeout}: expected whole milliseconds longer than ` +
        `the heartbeat interval (${interval} ms)`,
    );
  }
}

function assertConcurrency(concurrency: number | undefined): void {
  if (concurrency === undefined) return;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(
      `Cannot run with concurrency ${concurrency}: expected a whole number of at least 1`,
    );
  }
}

async function partitionEnvironment<R>(
  graph: Graph<R>,
  keys: readonly string[],
  store: RunStore,
  clock: Clock,
): Promise<PartitionEnvironment> {
  const initial = new Map<string, Set<string>>();
  for (const key of keys) {
    const partitions = graph.assets.get(key)?.partitions;
    if (partitions?.kind !== "dynamic") continue;
    const known = initial.get(partitions.name) ?? new Set();
    for (const k of partitions.initialKeys) known.add(k);
    initial.set(partitions.name, known);
  }
  const dynamic = new Map<string, string[]>();
  for (const [name, keys] of initial) {
    if (keys.size > 0) await store.addDynamicPartitions(name, [...keys]);
    dynamic.set(name, await store.dynamicPartitions(name));
  }
  return { now: clock.now(), dynamicKeys: (name) => dynamic.get(name) ?? [] };
}

/** Describes the partition arguments of a run for the run record. */
function describePartitionArgs(p: PartitionSelection | undefined): string | null {
  if (!p) return null;
  if (p.keys) return p.keys.join(",");
  if (p.from !== undefined || p.to !== undefined) return `${p.from ?? ""}..${p.to ?? ""}`;
  return null;
}

class Run<R> {
  readonly #graph: Graph<R>;
  readonly #plan: Plan;
  readonly #store: RunStore;
  readonly #clock: Clock;
  readonly #options: MaterializeOptions<R>;
  readonly #runId: string;
  readonly #abort = new AbortController();
  readonly #results: (StepResult | undefined)[];
  readonly #pending: number[];
  readonly #dependents: number[][];
  readonly #materialized = new Map<string, Materialization>();
  readonly #pool: ResourcePool;
  readonly #log;
  readonly #writes = new Set<Promise<void>>();
  readonly #writeErrors: unknown[] = [];
  readonly #listenerErrors: unknown[] = [];
  readonly #owner: RunOwner;
  readonly #heartbeatIntervalMs: number;
  readonly #heartbeatTimeoutMs: number;
  readonly #stopHeartbeat = new AbortController();
  /** Why the run was stopped from outside (a cancel request, a lost lease), if it was. */
  #stoppedBecause: string | undefined;
  /** Another process failed the run, taking this one for dead: its record is not ours any more. */
  #lost = false;
  /** Steps left behind after the cancel grace: what they do later is not recorded. */
  readonly #abandoned = new Set<number>();
  /** Run-clock time of the last heartbeat the store answered (the run's start at first). */
  #lastBeat = 0;
  /** The heartbeat on the wire, shared by the heartbeat loop and a step about to start. */
  #beating: Promise<void> | undefined;

  constructor(
    graph: Graph<R>,
    plan: Plan,
    store: RunStore,
    clock: Clock,
    options: MaterializeOptions<R>,
  ) {
    this.#graph = graph;
    this.#plan = plan;
    this.#store = store;
    this.#clock = clock;
    this.#options = options;
    this.#runId = options.runId ?? crypto.randomUUID();
    this.#owner = options.owner ?? processOwner();
    this.#heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.#heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 4 * this.#heartbeatIntervalMs;
    this.#results = plan.steps.map(() => undefined);
    this.#pending = plan.steps.map((step) => step.waitsFor.length);
    this.#dependents = plan.steps.map(() => []);
    for (const step of plan.steps) {
      for (const i of step.waitsFor) this.#dependents[i]?.push(step.index);
    }
    this.#log = createLogger((record) =>
      this.#emit({
        type: "log",
        assetKey: null,
        partition: null,
        data: { level: record.level, message: record.message, fields: record.fields },
      }), () => clock.now());
    const sources = { ...graph.resources, ...options.resources } as Record<string, unknown>;
    this.#pool = new ResourcePool(sources, this.#abort.signal, this.#log);
  }

  async execute(): Promise<RunResult> {
    const startedAt = this.#clock.now();
    const outer = this.#options.signal;
    const onAbort = () => this.#abort.abort(outer?.reason);
    if (outer?.aborted) onAbort();
    outer?.addEventListener("abort", onAbort, { once: true });
    await this.#start(startedAt);
    const heartbeat = this.#heartbeat();
    try {
      await this.#loop();
    } finally {
      this.#stopHeartbeat.abort();
      await heartbeat;
      outer?.removeEventListener("abort", onAbort);
      for (const error of await this.#pool.close()) {
        this.#log.error(`Resource cleanup failed: ${error.message}`);
      }
    }
    return await this.#finish(startedAt);
  }

  async #start(startedAt: number): Promise<void> {
    this.#lastBeat = startedAt;
    await this.#store.createRun({
      runId: this.#runId,
      status: "running",
      selection: [
        this.#options.selection ?? "",
        this.#options.exclude ? `--exclude ${this.#options.exclude}` : "",
      ]
        .filter(Boolean).join(" "),
      partitions: describePartitionArgs(this.#options.partitions),
      tags: { ...this.#options.tags },
      startedAt,
      finishedAt: null,
      errorSummary: null,
      owner: this.#owner,
      heartbeatAt: startedAt,
      heartbeatTimeoutMs: this.#heartbeatTimeoutMs,
    });
    for (const step of this.#plan.steps) {
      await this.#putStep(this.#stepRecord(step, "pending", 0, null));
    }
    this.#emit({
      type: "run_started",
      assetKey: null,
      partition: null,
      data: { steps: this.#plan.steps.length },
    });
  }

  /**
   * Records every `heartbeatIntervalMs` (of the run's clock) that the owner is
   * alive, until the run ends. A cancel asked from another process, or the
   * news that another process failed the run (this one was taken for dead),
   * cancels the run here. A heartbeat that cannot be written is logged and
   * retried at the next one (the lease is several intervals long), unless the
   * lease would lapse before that one: the run is then stopped here.
   */
  async #heartbeat(): Promise<void> {
    const stop = this.#stopHeartbeat.signal;
    while (!stop.aborted) {
      try {
        await waitOn(this.#clock, this.#heartbeatIntervalMs, stop);
      } catch {
        return; // stopped: the run has ended
      }
      await this.#beat();
      if (this.#abort.signal.aborted) return;
    }
  }

  /**
   * One heartbeat, or the one already on the wire: a lost run or a cancel
   * request in its reply stops the run here.
   */
  #beat(): Promise<void> {
    this.#beating ??= (async () => {
      const sentAt = this.#clock.now();
      let reply;
      try {
        reply = await this.#store.heartbeat(this.#owner, [this.#runId], sentAt);
      } catch (error) {
        const why = toError(error).message;
        this.#log.warn(`Cannot record the run's heartbeat: ${why}`);
        // The next beat would come after the lease lapsed: another process
        // would then fail this run and may relaunch it while it runs here.
        // Stopping now ends it here, recorded (a full disk keeps room for a
        // run's end), before anyone takes this live owner for dead.
        const silent = sentAt - this.#lastBeat;
        if (silent + this.#heartbeatIntervalMs >= this.#heartbeatTimeoutMs) {
          this.#stop(
            `${HEARTBEAT_STOP_REASON} for ${silent} ms (${why}); stopped before its ` +
              `lease of ${this.#heartbeatTimeoutMs} ms lapsed, so that no other process takes ` +
              "it for dead and runs it again",
          );
        }
        return;
      }
      this.#lastBeat = Math.max(this.#lastBeat, sentAt);
      if (reply.lost.includes(this.#runId)) {
        this.#lost = true;
        this.#stop(
          "another process failed this run, taking its owner for dead (no heartbeat within " +
            "its lease); stopped here so it does not run twice",
        );
        return;
      }
      const request = reply.cancelRequested.find((r) => r.runId === this.#runId);
      if (request) this.#stop(`cancel requested: ${request.reason}`);
    })().finally(() => (this.#beating = undefined));
    return this.#beating;
  }

  /**
   * Whether the run may start a step: when a heartbeat is due (the process
   * may have been stopped, SIGSTOP or a paused VM, for longer than its lease
   * while another process failed the run and queued its retry), the store is
   * asked first, so a step is never started on a run that is no longer this
   * process's: that step would run here and in the retry. A heartbeat that
   * cannot be written does not hold the step (the lease allows several).
   */
  async #mayStartStep(): Promise<boolean> {
    if (this.#clock.now() - this.#lastBeat >= this.#heartbeatIntervalMs) await this.#beat();
    return !this.#abort.signal.aborted;
  }

  /** Cancels the run from inside, for `reason` (reported in the summary and the log). */
  #stop(reason: string): void {
    if (this.#abort.signal.aborted) return;
    this.#stoppedBecause = reason;
    this.#log.warn(`Run canceled: ${reason}`);
    this.#abort.abort(new CanceledError(reason));
  }

  /** Launches ready steps up to the concurrency bound until every step has a result. */
  async #loop(): Promise<void> {
    const limit = Math.max(1, this.#options.concurrency ?? navigator.hardwareConcurrency ?? 1);
    const ready = this.#plan.steps.filter((step) => step.waitsFor.length === 0).map((s) => s.index);
    const running = new Map<number, Promise<number>>();
    const grace = this.#graceAfterCancel();
    try {
      while (ready.length > 0 || running.size > 0) {
        while (ready.length > 0 && running.size < limit && !this.#abort.signal.aborted) {
          const index = ready.shift() as number;
          running.set(index, this.#launch(index));
        }
        if (running.size === 0) break;
        const done = await Promise.race([...running.values(), grace.over]);
        if (done === ABANDON) {
          await this.#abandon([...running.keys()]);
          break;
        }
        running.delete(done);
        this.#release(done, ready);
      }
    } finally {
      grace.stop();
    }
    for (const step of this.#plan.steps) {
      if (!this.#results[step.index]) {
        await this.#settle(step, { status: "canceled", reason: "the run was canceled" });
      }
    }
  }

  /** A promise resolving to {@linkcode ABANDON} `cancelGraceMs` after the run is canceled. */
  #graceAfterCancel(): { over: Promise<typeof ABANDON>; stop: () => void } {
    const stopped = new AbortController();
    const graceMs = this.#options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
    const over = new Promise<typeof ABANDON>((resolve) => {
      const start = () =>
        waitOn(this.#clock, graceMs, stopped.signal).then(() => resolve(ABANDON), () => {});
      if (this.#abort.signal.aborted) start();
      else this.#abort.signal.addEventListener("abort", start, { once: true });
    });
    return { over, stop: () => stopped.abort() };
  }

  /** Records the steps still running after the cancel grace as canceled, and leaves them. */
  async #abandon(indexes: readonly number[]): Promise<void> {
    const graceMs = this.#options.cancelGraceMs ?? DEFAULT_CANCEL_GRACE_MS;
    for (const index of indexes) {
      this.#abandoned.add(index);
      const step = this.#plan.steps[index] as Step;
      this.#log.error(
        `Step '${step.id}' did not stop within ${graceMs} ms of the cancel; left behind`,
      );
      await this.#settle(step, {
        status: "canceled",
        reason: `canceled; did not stop within ${graceMs} ms (left behind)`,
      });
    }
  }

  async #launch(index: number): Promise<number> {
    const step = this.#plan.steps[index] as Step;
    const gate = this.#options.stepGate;
    const pools = gate ? stepPools(step) : [];
    if (gate === undefined || pools.length === 0) return await this.#runStep(index, step);
    let release: () => Promise<void>;
    try {
      release = await gate({
        runId: this.#runId,
        assetKey: step.asset.key,
        partition: step.partition ?? null,
        pools,
      }, this.#abort.signal);
    } catch (error) {
      const canceled = this.#abort.signal.aborted;
      if (!canceled) {
        this.#emit({
          type: "step_failed",
          assetKey: step.asset.key,
          partition: step.partition ?? null,
          data: { attempt: 0, duration_ms: 0, message: toError(error).message, pools },
        });
      }
      await this.#settle(step, {
        status: canceled ? "canceled" : "failed",
        reason: canceled
          ? `canceled while waiting for pool(s) ${pools.join(", ")}`
          : `could not take a slot of pool(s) ${pools.join(", ")}: ${toError(error).message}`,
        ...(canceled ? {} : { error: toError(error) }),
      });
      return index;
    }
    try {
      return await this.#runStep(index, step);
    } finally {
      await release().catch((error) =>
        this.#log.warn(
          `Step '${step.id}': cannot give back its pool slot(s): ${toError(error).message}`,
        )
      );
    }
  }

  async #runStep(index: number, step: Step): Promise<number> {
    if (
      this.#clock.now() - this.#lastBeat >= this.#heartbeatIntervalMs &&
      !(await this.#mayStartStep())
    ) {
      await this.#settle(step, { status: "canceled", reason: "the run was canceled" });
      return index;
    }
    const outcome = await runStep(step, {
      runId: this.#runId,
      graph: this.#graph as Graph<unknown>,
      pool: this.#pool,
      store: this.#store,
      clock: this.#clock,
      random: this.#options.random ?? Math.random,
      signal: this.#abort.signal,
      materialized: this.#materialized,
      finishedSteps: () => this.#finishedSteps(),
      emit: (event) => this.#emit(event),
      putStep: (status, attempts, startedAt) =>
        this.#putStep(this.#stepRecord(step, status, attempts, null, startedAt)),
    });
    if (this.#abandoned.has(index)) return index; // recorded as canceled already
    if (outcome.materialization) this.#remember(outcome.materialization);
    // runStep has already announced its own failure or cancellation.
    await this.#settle(step, outcome, false);
    return index;
  }

  #finishedSteps(): FinishedStep[] {
    return this.#results.flatMap((result) =>
      result
        ? [{
          assetKey: result.assetKey,
          partition: result.partition,
          status: result.status,
          reason: result.reason,
        }]
        : []
    );
  }

  /** One of `index`'s waits is over; queues it when it was the last. */
  #countDown(index: number, ready: number[]): void {
    this.#pending[index] = (this.#pending[index] ?? 1) - 1;
    if (this.#pending[index] === 0 && !this.#results[index]) ready.push(index);
  }

  /**
   * Queues dependents whose waits are over, or skips them when this step did
   * not succeed (an `alwaysRun` dependent is not skipped: its wait is over).
   */
  #release(index: number, ready: number[]): void {
    const result = this.#results[index] as StepResult;
    const blocked = result.status !== "success" ||
      result.checks.some((check) => !check.passed && check.blocking);
    if (!blocked) {
      for (const next of this.#dependents[index] ?? []) this.#countDown(next, ready);
      return;
    }
    if (result.status === "canceled") return; // its dependents are settled as canceled when the loop ends
    const failedCheck = result.checks.find((check) => !check.passed && check.blocking);
    const why = result.status === "success"
      ? `blocking check '${failedCheck?.name}' failed on upstream '${this.#plan.steps[index]?.id}'`
      : `upstream '${this.#plan.steps[index]?.id}' ${
        result.status === "skipped" ? "was skipped" : result.status
      }`;
    this.#skipDownstream(
      index,
      result.reason && result.status === "skipped" ? result.reason : why,
      ready,
    );
  }

  /**
   * Skips what depends on `index`, transitively; an `alwaysRun` step is not
   * skipped, it only counts each finished upstream step as one wait over.
   */
  #skipDownstream(index: number, reason: string, ready: number[]): void {
    const settled = [index];
    while (settled.length > 0) {
      for (const next of this.#dependents[settled.pop() as number] ?? []) {
        const step = this.#plan.steps[next] as Step;
        if (step.asset.alwaysRun) {
          this.#countDown(next, ready);
          continue;
        }
        if (this.#results[next]) continue;
        // Settled in memory at once; the store write is awaited with the others.
        this.#track(this.#settle(step, { status: "skipped", reason }));
        settled.push(next);
      }
    }
  }

  async #settle(step: Step, outcome: StepOutcome, announce = true): Promise<void> {
    const result: StepResult = {
      assetKey: step.asset.key,
      partition: step.partition ?? null,
      status: outcome.status,
      attempts: outcome.attempts ?? 0,
      durationMs: outcome.durationMs ?? 0,
      reason: outcome.reason === undefined ? null : redact(outcome.reason),
      error: outcome.error ? redactError(outcome.error) : null,
      materialization: outcome.materialization ?? null,
      checks: outcome.checks ?? [],
    };
    this.#results[step.index] = result;
    if (announce && (outcome.status === "skipped" || outcome.status === "canceled")) {
      this.#emit({
        type: outcome.status === "skipped" ? "step_skipped" : "step_canceled",
        assetKey: step.asset.key,
        partition: step.partition ?? null,
        data: { reason: result.reason },
      });
    }
    const startedAt = outcome.startedAt ?? null;
    if (this.#lost) return; // the reaper recorded how this run ended
    await this.#putStep({
      ...this.#stepRecord(step, result.status, result.attempts, result.reason, startedAt),
      finishedAt: this.#clock.now(),
    });
  }

  /**
   * Records a step. A store that cannot take it (its disk is full, its
   * buffer past its bound) does not stop the run: the failure is kept, and
   * `#finish` ends the run failed, saying what could not be recorded.
   */
  async #putStep(record: StepRecord): Promise<void> {
    try {
      await this.#store.putStep(record);
    } catch (error) {
      this.#writeErrors.push(error);
    }
  }

  #remember(m: Materialization): void {
    this.#materialized.set(`${m.assetKey}\0${m.partition ?? ""}`, m);
    this.#materialized.set(m.assetKey, m);
  }

  async #finish(startedAt: number): Promise<RunResult> {
    const steps = this.#results as StepResult[];
    const ran = this.#abort.signal.aborted
      ? "canceled"
      : steps.some((s) =>
          s.status !== "success" || s.checks.some((c) => !c.passed && c.severity === "error")
        )
      ? "failed"
      : "success";
    const finishedAt = this.#clock.now();
    const summary = summarize(steps);
    const stopped = this.#stoppedBecause
      ? [`${STOPPED_BY_OWNER_PREFIX}${this.#stoppedBecause}`, summary].filter(Boolean).join("; ")
      : summary;
    this.#emit({
      type: "run_finished",
      assetKey: null,
      partition: null,
      data: { status: ran, duration_ms: finishedAt - startedAt, ...counts(steps) },
    });
    await Promise.all(this.#writes);
    // What the run did reaches the store before its end: when some of it
    // cannot (a full disk), the run ends failed and says why, so an
    // incomplete record never reads as a success, nor as a dead owner.
    try {
      await this.#persist(() => this.#store.flush());
    } catch (error) {
      this.#writeErrors.push(error);
    }
    const unrecorded = this.#writeErrors.at(-1);
    const status = unrecorded !== undefined && ran === "success" ? "failed" : ran;
    const told = unrecorded === undefined
      ? stopped
      : [stopped, `not all of it was recorded: ${toError(unrecorded).message}`]
        .filter(Boolean).join("; ");
    const errorSummary = told === null ? null : redact(told);
    // The run's end must reach the store: a server restarting gets a few
    // seconds, and a full disk has the store's reserve (see the run stores).
    if (!this.#lost) {
      crashPoint("run.end");
      try {
        await this.#persist(() =>
          this.#store.updateRun(this.#runId, { status, finishedAt, errorSummary })
        );
        crashPoint("run.ended");
      } catch (error) {
        throw new ResourceError(
          codeOf(error),
          `Run '${this.#runId}' ${status}, and its end cannot be recorded: ${
            toError(error).message
          }`,
          { cause: error },
        );
      }
    }
    if (unrecorded !== undefined) {
      throw new ResourceError(
        codeOf(unrecorded),
        `Run '${this.#runId}' ${status}: ${toError(unrecorded).message} (its end is recorded in ` +
          `the run store ${this.#store.description}, but not all its steps and events)`,
        { cause: unrecorded },
      );
    }
    await this.#persist(() => this.#store.flush());
    if (this.#listenerErrors.length > 0) {
      throw new AssetExecutionError(
        "run.listener_failed",
        `Run '${this.#runId}' finished ${status}, but its onEvent listener threw ` +
          `${this.#listenerErrors.length} time(s): ${toError(this.#listenerErrors[0]).message}`,
        { cause: this.#listenerErrors[0] },
      );
    }
    return {
      runId: this.#runId,
      status,
      steps,
      startedAt,
      durationMs: finishedAt - startedAt,
      errorSummary,
    };
  }

  /** Runs a store write, retrying transient failures (1, 2, 4, 8 s) before giving up. */
  async #persist(write: () => Promise<void>): Promise<void> {
    for (let attempt = 1;; attempt++) {
      try {
        return await write();
      } catch (error) {
        if (attempt >= 5 || !isTransientError(error)) throw error;
        this.#log.warn(`Run store write failed, retrying: ${toError(error).message}`);
        await this.#clock.sleep(1000 * 2 ** (attempt - 1));
      }
    }
  }

  #emit(partial: Omit<RunEvent, "runId" | "time">): void {
    // Nothing recorded or shown may carry a secret (core/secrets.ts).
    const event: RunEvent = redactDeep({ ...partial, runId: this.#runId, time: this.#clock.now() });
    try {
      this.#options.onEvent?.(event);
    } catch (error) {
      // A broken listener must not leave the run half-recorded: the run goes on
      // and `#finish` reports the listener's error once the record is complete.
      this.#listenerErrors.push(error);
    }
    this.#track(this.#store.appendEvents([event]));
  }

  /** Keeps a store write so `#finish` can wait for it and report its failure. */
  #track(write: Promise<void>): void {
    const tracked = write.catch((error) => void this.#writeErrors.push(error)).finally(() =>
      this.#writes.delete(tracked)
    );
    this.#writes.add(tracked);
  }

  #stepRecord(
    step: Step,
    status: StepRecord["status"],
    attempts: number,
    reason: string | null,
    startedAt: number | null = null,
  ): StepRecord {
    return {
      runId: this.#runId,
      assetKey: step.asset.key,
      partition: step.partition ?? null,
      status,
      attempts,
      startedAt,
      finishedAt: null,
      reason: reason === null ? null : redact(reason),
    };
  }
}

/** The code of a run store's failure, for the error that reports it. */
function codeOf(error: unknown): string {
  return error instanceof PlatformError ? error.code : "run_store.write_failed";
}

/** Counts of step results by status. */
export function counts(steps: readonly StepResult[]): Record<StepResult["status"], number> {
  const tally = { success: 0, failed: 0, skipped: 0, canceled: 0 };
  for (const step of steps) tally[step.status]++;
  return tally;
}

function summarize(steps: readonly StepResult[]): string | null {
  const failed = steps.filter((s) => s.status === "failed");
  const checks = steps.flatMap((s) =>
    s.checks.filter((c) => !c.passed && c.severity === "error").map((c) =>
      `${s.assetKey}:${c.name}`
    )
  );
  const skipped = steps.filter((s) => s.status === "skipped").length;
  const canceled = steps.filter((s) => s.status === "canceled").length;
  const parts: string[] = [];
  if (failed.length > 0) {
    const names = failed.slice(0, 5).map((s) =>
      `${s.partition === null ? s.assetKey : `${s.assetKey}[${s.partition}]`} (${
        s.reason ?? "failed"
      })`
    );
    parts.push(`${failed.length} failed: ${names.join("; ")}${failed.length > 5 ? "; ..." : ""}`);
  }
  if (checks.length > 0) {
    parts.push(`${checks.length} check(s) failed: ${checks.slice(0, 5).join(", ")}`);
  }
  if (skipped > 0) parts.push(`${skipped} skipped`);
  if (canceled > 0) parts.push(`${canceled} of ${steps.length} steps canceled`);
  return parts.length > 0 ? parts.join("; ") : null;
}
