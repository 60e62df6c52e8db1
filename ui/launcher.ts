/**
 * Launching runs from the UI: the same `materialize()` the CLI calls, on the
 * same run store, so a run launched here is recorded, evented and ends with
 * the same statuses as `deno task materialize` — it only runs in the UI's
 * process. With a run queue (a Postgres run store, RUN_QUEUE=auto) the run
 * goes to the queue instead, as `materialize --queue` does (pools and group
 * tag read from the graph, the selection refused before anything is
 * queued), and a worker executes it; a run still waiting there is canceled
 * in the queue. Cancel reaches any running run: one launched here is aborted at
 * once (the signal the executor honours, as Ctrl-C does for the CLI); one of
 * another process (the CLI, a daemon, a worker) is asked through the run
 * store, and its owner cancels it at its next heartbeat.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Graph } from "../core/graph.ts";
import { toError } from "../core/errors.ts";
import { staleRuns } from "../core/automation/staleness.ts";
import { materialize, type RunResult } from "../core/executor.ts";
import type { Logger } from "../core/logger.ts";
import type { PartitionSelection } from "../core/plan.ts";
import type { ResourceSources } from "../core/resource.ts";
import { resolveSelection } from "../core/selection.ts";
import type { RunRecord, RunStore } from "../core/run_store/types.ts";
import { systemClock } from "../core/clock.ts";
import { backfillKeys, enqueueRuns } from "../core/worker/launch.ts";
import type { QueuedRun, RunQueue } from "../core/worker/queue.ts";

/** What to launch. */
export interface LaunchRequest {
  /** Selection in the CLI's syntax; empty means every asset. */
  readonly selection: string;
  /** Assets to leave out. */
  readonly exclude?: string;
  /** Partition keys or a range. */
  readonly partitions?: PartitionSelection;
  /** Tags recorded with the run. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Queue priority (higher first); only with a queue. @default {0} */
  readonly priority?: number;
  /** Run retries of a queued run. @default {LauncherOptions.maxRetries} */
  readonly maxRetries?: number;
}

/** Options of {@linkcode Launcher}. */
export interface LauncherOptions<R> {
  /** Resources replacing the graph's (tests). */
  readonly resources?: Partial<ResourceSources<R>>;
  /** Time source. */
  readonly clock?: Clock;
  /** Steps at once per run. */
  readonly concurrency?: number;
  /** Where a run's end is told. */
  readonly log?: Logger;
  /**
   * Time between two heartbeats of a launched run (RUN_HEARTBEAT_INTERVAL_MS):
   * how soon another process notices it died.
   */
  readonly heartbeatIntervalMs?: number;
  /** The run queue: launched runs go there for the workers instead of running here. */
  readonly queue?: RunQueue;
  /** Run retries of queued runs that set none (QUEUE_MAX_RETRIES). @default {0} */
  readonly maxRetries?: number;
}

/**
 * What cancel did: `canceling` — aborted here, now; `requested` — its owner
 * (another process) cancels it at its next heartbeat; `not_running` — it had
 * ended; `no_owner` — a run recorded without an owner process (by an older
 * version), which nothing can reach.
 */
export type CancelOutcome = "canceling" | "requested" | "not_running" | "no_owner";

/** Starts runs in this process and cancels them. */
export class Launcher<R = unknown> {
  readonly #graph: Graph<R>;
  readonly #store: RunStore;
  readonly #options: LauncherOptions<R>;
  readonly #running = new Map<string, { abort: AbortController; done: Promise<unknown> }>();
  readonly #clock: Clock;

  /** A launcher for `graph`, recording into `store`. */
  constructor(graph: Graph<R>, store: RunStore, options: LauncherOptions<R> = {}) {
    this.#graph = graph;
    this.#store = store;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /** The run queue launched runs go to, or `undefined` when they run in this process. */
  get queue(): RunQueue | undefined {
    return this.#options.queue;
  }

  /** Ids of runs launched here that have not ended. */
  get running(): string[] {
    return [...this.#running.keys()];
  }

  /**
   * Starts a run and resolves with its id once it is recorded. A bad
   * selection or partition rejects with the executor's `SelectionError`
   * before anything is recorded.
   */
  async launch(request: LaunchRequest): Promise<string> {
    const runId = crypto.randomUUID();
    const queue = this.#options.queue;
    if (queue) {
      // Resolved (a bad selection rejects with its SelectionError) before anything is queued.
      await enqueueRuns(this.#graph, queue, [{
        runId,
        selection: request.selection,
        ...(request.exclude ? { exclude: request.exclude } : {}),
        partitions: request.partitions ?? null,
        tags: { launched_by: "ui", ...request.tags },
        priority: request.priority ?? 0,
        maxRetries: request.maxRetries ?? this.#options.maxRetries ?? 0,
      }], { now: this.#clock.now() });
      return runId;
    }
    if (request.priority !== undefined && request.priority !== 0) {
      throw new RangeError(
        "A priority orders runs in the queue, and this UI has none (runs execute in its process): " +
          "leave it empty, or use RUNS_URL=postgres://... for a queue",
      );
    }
    const abort = new AbortController();
    const started = Promise.withResolvers<void>();
    const done = materialize(this.#graph, {
      runId,
      selection: request.selection,
      ...(request.exclude ? { exclude: request.exclude } : {}),
      ...(request.partitions ? { partitions: request.partitions } : {}),
      tags: { launched_by: "ui", ...request.tags },
      runStore: this.#store,
      signal: abort.signal,
      ...(this.#options.resources ? { resources: this.#options.resources } : {}),
      ...(this.#options.clock ? { clock: this.#options.clock } : {}),
      ...(this.#options.concurrency ? { concurrency: this.#options.concurrency } : {}),
      ...(this.#options.heartbeatIntervalMs
        ? { heartbeatIntervalMs: this.#options.heartbeatIntervalMs }
        : {}),
      onEvent: (event) => {
        if (event.type === "run_started") started.resolve();
      },
    });
    const tracked = done.then(
      (result: RunResult) => {
        this.#options.log?.info(`run ${runId} ${result.status}`);
        started.resolve();
      },
      (error: unknown) => {
        started.reject(error);
        this.#options.log?.error(`run ${runId} could not run: ${toError(error).message}`);
      },
    ).finally(() => this.#running.delete(runId));
    this.#running.set(runId, { abort, done: tracked });
    await started.promise;
    return runId;
  }

  /**
   * Launches what `materialize --stale` would run for `request`'s selection
   * (every asset when empty): the stale partitions, judged as the CLI judges
   * them (core/automation/staleness.ts), one run per connected set, tagged
   * `stale=true`. The sets share no asset, so they may run side by side.
   * Resolves with their ids, none when nothing is stale.
   * @throws {SelectionError} for a bad selection, before anything runs.
   * @throws {RangeError} with partitions: staleness picks them itself.
   */
  async launchStale(request: LaunchRequest): Promise<string[]> {
    if (request.partitions) {
      throw new RangeError(
        "Stale partitions are found by the staleness rule: leave partitions empty with 'only stale'",
      );
    }
    const graph = this.#graph as Graph<unknown>;
    const keys = resolveSelection(graph, request.selection, request.exclude ?? "");
    const plan = await staleRuns(graph, this.#store, keys);
    const runIds: string[] = [];
    for (const run of plan.runs) {
      runIds.push(
        await this.launch({
          ...request,
          selection: run.assetKeys.join(","),
          exclude: "",
          ...(run.partitions ? { partitions: { keys: [...run.partitions] } } : {}),
          tags: { ...request.tags, stale: "true" },
        }),
      );
    }
    return runIds;
  }

  /**
   * Cancels `run`, wherever it runs. The request is recorded in the run store
   * in every case (who asked, when), so the run page and other processes see it.
   */
  async cancel(run: RunRecord, reason: string): Promise<CancelOutcome> {
    const now = this.#clock.now();
    // A worker's queue entry records the request too (it is what the worker reads first).
    if (this.#options.queue) await this.#options.queue.cancel(run.runId, reason, now);
    const requested = await this.#store.requestCancel(run.runId, { time: now, reason });
    const here = this.#running.get(run.runId);
    if (here) {
      here.abort.abort();
      return "canceling";
    }
    if (!requested) return "not_running";
    return run.owner === null ? "no_owner" : "requested";
  }

  /**
   * Queues a backfill, as `deno task cli backfill` does: one run per
   * partition that `request.partitions` selects of the selection's
   * partitioned assets, tagged `backfill=<id>` and `partition=<key>`.
   * @throws {RangeError} without a queue, or without partitions.
   * @throws {SelectionError} for a bad selection or one that has no partitioned asset.
   */
  async backfill(request: LaunchRequest): Promise<{ backfillId: string; runIds: string[] }> {
    const queue = this.#options.queue;
    if (!queue) {
      throw new RangeError(
        "A backfill (one run per partition) needs the run queue, and this UI has none: " +
          "launch the range as one run, or use RUNS_URL=postgres://... for a queue",
      );
    }
    if (!request.partitions) {
      throw new RangeError("A backfill needs partition keys or a from/to range");
    }
    const exclude = request.exclude ?? "";
    const keys = await backfillKeys(
      this.#graph,
      this.#store,
      request.selection,
      exclude,
      request.partitions,
      this.#clock.now(),
    );
    const backfillId = crypto.randomUUID().slice(0, 8);
    const runIds = await enqueueRuns(
      this.#graph,
      queue,
      keys.map((key) => ({
        selection: request.selection,
        exclude,
        partitions: { keys: [key] },
        tags: { launched_by: "ui", ...request.tags, backfill: backfillId, partition: key },
        priority: request.priority ?? 0,
        maxRetries: request.maxRetries ?? this.#options.maxRetries ?? 0,
      })),
      { now: this.#clock.now() },
    );
    return { backfillId, runIds };
  }

  /**
   * Cancels a run that waits in the queue (no worker took it yet): it leaves
   * the queue and never runs. On a `started` entry it records the request.
   * Returns the entry afterwards, or `undefined` when the queue has no such
   * run or there is no queue.
   */
  async cancelQueued(runId: string, reason: string): Promise<QueuedRun | undefined> {
    return await this.#options.queue?.cancel(runId, reason, this.#clock.now());
  }

  /**
   * Launches `run` again: the same selection and partitions, or with
   * `fromFailure` only its steps that failed, were skipped or canceled.
   * @throws {RangeError} when `fromFailure` finds no such step.
   */
  async reexecute(
    run: RunRecord,
    fromFailure: boolean,
    step?: { assetKey: string; partition: string | null },
  ): Promise<string> {
    const { selection, exclude } = splitSelection(run.selection);
    const root = run.tags.root_run_id ?? run.runId;
    const tags = { parent_run_id: run.runId, root_run_id: root };
    if (step) {
      const found = (await this.#store.listSteps(run.runId)).some((s) =>
        s.assetKey === step.assetKey && s.partition === step.partition
      );
      if (!found) {
        const shown = step.partition === null
          ? step.assetKey
          : `${step.assetKey}[${step.partition}]`;
        throw new RangeError(`Run '${run.runId}' has no step '${shown}' to re-execute`);
      }
      return await this.launch({
        selection: step.assetKey,
        ...(step.partition !== null ? { partitions: { keys: [step.partition] } } : {}),
        tags: { ...tags, reexecution: "step" },
      });
    }
    if (!fromFailure) {
      return await this.launch({
        selection,
        ...(exclude ? { exclude } : {}),
        ...(run.partitions ? { partitions: parsePartitions(run.partitions) } : {}),
        tags: { ...tags, reexecution: "all" },
      });
    }
    const steps = (await this.#store.listSteps(run.runId)).filter((step) =>
      step.status === "failed" || step.status === "skipped" || step.status === "canceled"
    );
    if (steps.length === 0) {
      throw new RangeError(`Run '${run.runId}' has no failed, skipped or canceled step to retry`);
    }
    const keys = [...new Set(steps.map((step) => step.assetKey))];
    const partitions = [
      ...new Set(steps.map((step) => step.partition).filter((p): p is string => p !== null)),
    ];
    return await this.launch({
      selection: keys.join(","),
      ...(partitions.length > 0 ? { partitions: { keys: partitions } } : {}),
      tags: { ...tags, reexecution: "from_failure" },
    });
  }

  /** Cancels every run launched here and waits until they are recorded. */
  async close(): Promise<void> {
    for (const run of this.#running.values()) run.abort.abort();
    await Promise.all([...this.#running.values()].map((run) => run.done));
  }

  /** Waits for the runs launched so far (tests). */
  async drain(): Promise<void> {
    await Promise.all([...this.#running.values()].map((run) => run.done));
  }
}

/** Reads a run record's partition text (`a,b` or `from..to`) back into a selection. */
export function parsePartitions(text: string): PartitionSelection {
  const range = /^(.*)\.\.(.*)$/.exec(text);
  if (range) {
    return {
      ...(range[1] ? { from: range[1] } : {}),
      ...(range[2] ? { to: range[2] } : {}),
    };
  }
  return { keys: text.split(",").filter(Boolean) };
}

/** Splits a run record's selection text (`SEL --exclude EXCL`) back into its parts. */
export function splitSelection(text: string): { selection: string; exclude: string | undefined } {
  const m = /^(.*?)\s*--exclude (.*)$/.exec(text);
  return m ? { selection: m[1] ?? "", exclude: m[2] } : { selection: text, exclude: undefined };
}
