/**
 * The queue's commands: `worker`, `queue`, `cancel RUN_ID`, `backfill` and
 * `migrate`, plus what `materialize --queue` does. Each needs the run queue
 * of a Postgres run store (`CliApp.openQueue`), except `cancel` of a run
 * executing in some process and `migrate` on the embedded store.
 *
 * @module
 */

import { systemClock } from "../clock.ts";
import { ConfigError } from "../errors.ts";
import { createLogger, formatLogLine } from "../logger.ts";
import type { PartitionSelection } from "../plan.ts";
import { parseCommandArgs } from "../cli/_args.ts";
import { type CliApp, EXIT, UsageError } from "../cli/app.ts";
import type { CliIo } from "../cli/io.ts";
import { openStore } from "../cli/_store.ts";
import { untilReachable } from "../cli/_reachable.ts";
import { openHealth } from "../cli/health.ts";
import { formatTime, table } from "../cli/table.ts";
import { describeLimits } from "./admission.ts";
import { Coordinator, coordinatorIntervalMs } from "./coordinator.ts";
import { explainQueue, liveWorkers } from "./explain.ts";
import { backfillKeys, enqueueRuns, type QueueRequest } from "./launch.ts";
import { type QueuedRun, type RunQueue, selectionText } from "./queue.ts";
import { RunWorker } from "./worker.ts";

/**
 * What runs the same work without a queue, said after the queue commands'
 * refusal: on the embedded defaults a Dagster user's first backfill hit a
 * refusal that named only the Postgres setup.
 */
const WITHOUT_QUEUE: Readonly<Record<string, string>> = {
  backfill: "; to run those partitions now, in this process: " +
    "deno task materialize SELECTION --from KEY --to KEY (or --partition KEY,...)",
  "materialize --queue": "; leave out --queue to run them now, in this process",
};

/** Opens the queue or fails saying how to get one. */
async function requireQueue<R>(app: CliApp<R>, command: string): Promise<RunQueue> {
  const queue = await app.openQueue?.();
  if (queue) return queue;
  throw new ConfigError(
    "config.queue_needs_postgres",
    `'${command}' needs the run queue, which needs RUNS_URL=postgres://... (and RUN_QUEUE=auto); ` +
      "with the embedded run store, runs execute in the process that launches them" +
      (WITHOUT_QUEUE[command] ?? ""),
    { input: "RUNS_URL" },
  );
}

function millis(option: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`${option} must be a whole number >= ${min}, got '${text}'`);
  }
  return value;
}

/** Usage of `worker`. */
export const WORKER_USAGE = `Usage: worker [options]

Executes queued runs: claims the runs the coordinator admitted (each run on
exactly one worker) and runs them as 'materialize' would. Start as many as you
like, on any machine sharing RUNS_URL, the object store and the warehouse.
Stops on SIGTERM or Ctrl-C: runs in progress get --grace to finish, then are
canceled (a step gets 30 s more to stop) and queued again (resuming where they
stopped); give the orchestrator's stop period --grace + 40 s. A Postgres that
cannot be reached at start (refused, timed out, starting up) is waited for,
with a line per try and pauses growing to 30 s; a bad login or database
name exits 1 at once.

Options:
  --concurrency N        runs at once (default: 1)
  --step-concurrency N   steps at once inside each run (default: number of cores)
  --grace MS             on shutdown, time runs get to finish (default: 30000)
  --no-coordinator       never lead the coordinator (admission, dead workers)
  --json                 log lines as JSON
  -h, --help             show this help

Exit status: 0 stopped cleanly, 1 failure, 2 usage or configuration error.
`;

/** `worker`: see {@linkcode WORKER_USAGE}. */
export async function workerCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  const { values } = parseCommandArgs("worker", {
    args: [...args],
    options: {
      concurrency: { type: "string" },
      "step-concurrency": { type: "string" },
      grace: { type: "string" },
      "no-coordinator": { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return help(io, WORKER_USAGE);
  const concurrency = millis("--concurrency", values.concurrency, 1, 1);
  const stepConcurrency = values["step-concurrency"] === undefined
    ? undefined
    : millis("--step-concurrency", values["step-concurrency"], 1, 1);
  const graceMs = millis("--grace", values.grace, 30_000, 0);
  const graph = await app.loadGraph();
  const clock = app.clock ?? systemClock;
  const log = createLogger(
    (r) => io.out(formatLogLine(r, values.json ?? false)),
    () => clock.now(),
  );
  // Live (waiting) while the queue and store are waited for; ready once the store answers.
  await using health = openHealth(await app.health?.(), clock);
  // A Postgres not up yet (the stack starting together, a restart) is waited for, as Dagster's
  // daemon does, not turned into an exit an orchestrator restarts in a loop.
  const waiting = { log: (line: string) => log.warn(`worker: ${line}`), signal };
  const opened = await untilReachable("the run queue", () => requireQueue(app, "worker"), waiting);
  if (!opened) return EXIT.ok; // stopped while waiting
  await using queue = opened;
  const openedStore = await untilReachable("the run store", () => openStore(app, io), waiting);
  if (!openedStore) return EXIT.ok;
  await using store = openedStore;
  health.state.watchStore(() => store.listRuns({ limit: 1 }));
  const heartbeatIntervalMs = app.heartbeatIntervalMs?.() ?? 10_000;
  const limits = app.queueLimits?.();
  const stop = new AbortController();
  if (signal?.aborted) stop.abort();
  signal?.addEventListener("abort", () => stop.abort(), { once: true });
  const coordinator = values["no-coordinator"] ? undefined : new Coordinator({
    queue,
    runStore: store,
    clock,
    log,
    intervalMs: coordinatorIntervalMs(heartbeatIntervalMs),
    ...(limits ? { limits } : {}),
  });
  const worker = new RunWorker(graph, {
    queue,
    runStore: store,
    concurrency,
    clock,
    log,
    graceMs,
    heartbeatIntervalMs,
    onHeartbeat: () => health.state.beat(),
    ...(stepConcurrency ? { stepConcurrency } : {}),
    ...(limits?.poolGranularity === "step" ? { stepPoolLimits: limits.poolLimits } : {}),
  });
  const coordinating = coordinator?.run(stop.signal);
  try {
    await worker.run(stop.signal);
  } finally {
    stop.abort();
    await coordinating;
  }
  return EXIT.ok;
}

/** Usage of `queue`. */
export const QUEUE_USAGE = `Usage: queue [--limit N] [--ended] [--json]

The run queue: runs waiting (in the order they will start, with why each
waits), runs running on workers, the workers and the limits.

Options:
  --limit N   at most N runs per section (default: 50)
  --ended     also the runs that left the queue (finished, canceled)
  --json      one JSON object per run (with "reason" for waiting runs)
`;

/** `queue`: see {@linkcode QUEUE_USAGE}. */
export async function queueCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const { values } = parseCommandArgs("queue", {
    args: [...args],
    options: {
      limit: { type: "string" },
      ended: { type: "boolean" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return help(io, QUEUE_USAGE);
  const limit = millis("--limit", values.limit, 50, 1);
  await using queue = await requireQueue(app, "queue");
  const now = (app.clock ?? systemClock).now();
  const [waiting, active, ended, limits, workers, counts] = await Promise.all([
    queue.list({ states: ["queued", "launched"], limit: Math.max(limit, 1000) }),
    queue.list({ states: ["launched", "started"], limit: 100_000 }),
    values.ended ? queue.list({ states: ["finished", "canceled"], limit }) : Promise.resolve([]),
    queue.publishedLimits(),
    queue.listWorkers(),
    queue.counts(),
  ]);
  const reasons = explainQueue({ waiting, active, limits, workers, now });
  const started = active.filter((r) => r.state === "started");
  if (values.json) {
    for (const run of [...waiting.slice(0, limit), ...started.slice(0, limit), ...ended]) {
      io.out(JSON.stringify({ ...runJson(run), reason: reasons.get(run.runId) ?? null }) + "\n");
    }
    return EXIT.ok;
  }
  const live = liveWorkers(workers, now);
  io.out(
    `${counts.queued} queued, ${counts.launched} admitted, ${counts.started} running; ` +
      `${live.length} live worker(s) with ${
        live.reduce((n, w) => n + w.concurrency, 0)
      } slot(s)\n` +
      `limits: ${
        limits ? describeLimits(limits) : "none published (no coordinator has led yet)"
      }\n`,
  );
  if (waiting.length > 0) {
    io.out(
      `\nWaiting (next first${
        counts.queued + counts.launched > limit ? `, first ${limit}` : ""
      }):\n`,
    );
    io.out(table(
      ["run", "state", "prio", "selection", "tags", "queued", "why it waits"],
      waiting.slice(0, limit).map((r) => [
        r.runId,
        r.state,
        String(r.priority),
        selectionText(r),
        tagText(r.tags),
        formatTime(r.enqueuedAt),
        reasons.get(r.runId) ?? "",
      ]),
      90,
    ));
  }
  if (started.length > 0) {
    const byId = new Map(workers.map((w) => [w.workerId, w]));
    io.out("\nRunning:\n");
    io.out(table(
      ["run", "selection", "tags", "worker", "started", "cancel"],
      started.slice(0, limit).map((r) => {
        const w = r.workerId ? byId.get(r.workerId) : undefined;
        return [
          r.runId,
          selectionText(r),
          tagText(r.tags),
          w ? `${w.host}:${w.pid}` : (r.workerId ?? "-"),
          formatTime(r.startedAt),
          r.cancelRequested ? "requested" : "-",
        ];
      }),
    ));
  }
  if (ended.length > 0) {
    io.out("\nEnded:\n");
    io.out(table(
      ["run", "state", "selection", "ended", "outcome"],
      ended.map((
        r,
      ) => [r.runId, r.state, selectionText(r), formatTime(r.finishedAt), r.outcome ?? ""]),
      90,
    ));
  }
  if (live.length > 0) {
    io.out("\nWorkers:\n");
    io.out(table(
      ["worker", "host:pid", "status", "runs", "heartbeat"],
      live.map((w) => [
        w.workerId,
        `${w.host}:${w.pid}`,
        w.status,
        `${w.running}/${w.concurrency}`,
        formatTime(w.heartbeatAt),
      ]),
    ));
  }
  return EXIT.ok;
}

/** A queued run as the JSON API and `queue --json` give it. */
export function runJson(run: QueuedRun): Record<string, unknown> {
  const iso = (ms: number | null) => ms === null ? null : new Date(ms).toISOString();
  return {
    run_id: run.runId,
    state: run.state,
    priority: run.priority,
    selection: run.selection,
    exclude: run.exclude,
    partitions: run.partitions,
    tags: run.tags,
    pools: run.pools,
    attempt: run.attempt,
    max_retries: run.maxRetries,
    root_run_id: run.rootRunId,
    retry_of: run.retryOf,
    resume_from: run.resumeFrom,
    enqueued_at: iso(run.enqueuedAt),
    launched_at: iso(run.launchedAt),
    started_at: iso(run.startedAt),
    finished_at: iso(run.finishedAt),
    worker_id: run.workerId,
    cancel_requested: run.cancelRequested,
    outcome: run.outcome,
  };
}

function tagText(tags: Readonly<Record<string, string>>): string {
  return Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(",") || "-";
}

/** Usage of `cancel`. */
export const CANCEL_USAGE = `Usage: cancel RUN_ID [--reason TEXT]

Cancels a run: a queued one leaves the queue at once; a running one is
stopped by whichever process executes it (a worker, the daemon, a
'materialize'), at its next heartbeat. A unique prefix of the id is enough.

Exit status: 0 canceled or cancel requested, 1 it already ended, 2 no such run.
`;

/** `cancel RUN_ID`: see {@linkcode CANCEL_USAGE}. */
export async function cancelCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseCommandArgs("cancel", {
    args: [...args],
    allowPositionals: true,
    options: { reason: { type: "string" }, help: { type: "boolean", short: "h" } },
  });
  if (values.help) return help(io, CANCEL_USAGE);
  if (positionals.length !== 1) throw new UsageError("cancel takes one RUN_ID");
  const given = positionals[0] as string;
  const clock = app.clock ?? systemClock;
  const reason = values.reason ?? `canceled with '${app.name} cancel'`;
  await using store = await openStore(app, io);
  const queue = await app.openQueue?.();
  try {
    const recorded = await store.getRun(given);
    const runId = recorded?.runId ?? (queue ? await queuedIdOf(queue, given) : given);
    const entry = queue ? await queue.cancel(runId, reason, clock.now()) : undefined;
    if (entry?.state === "canceled" && entry.outcome === `canceled: ${reason}`) {
      io.out(
        `Run ${runId} canceled: it was ${
          entry.launchedAt ? "admitted" : "queued"
        } and will not run\n`,
      );
      return EXIT.ok;
    }
    if (entry && entry.state !== "started" && !recorded) {
      io.err(`Run ${runId} already left the queue (${entry.outcome ?? entry.state})\n`);
      return EXIT.failed;
    }
    if (await store.requestCancel(runId, { time: clock.now(), reason })) {
      io.out(
        `Cancel requested for run ${runId}: the process executing it stops it at its next ` +
          "heartbeat\n",
      );
      return EXIT.ok;
    }
    if (entry?.state === "started") {
      io.out(`Cancel requested for run ${runId}: its worker is starting it and will stop it\n`);
      return EXIT.ok;
    }
    if (recorded) {
      io.err(`Run ${runId} already ended (${recorded.status}); nothing to cancel\n`);
      return EXIT.failed;
    }
    // Like `show` with an unknown id: the command line names nothing, a usage error (exit 2).
    throw new UsageError(
      `No run or queued run has the id '${given}'; '${app.name} runs' lists recent runs`,
    );
  } finally {
    if (queue) await queue[Symbol.asyncDispose]();
  }
}

/** Usage of `backfill`. */
export const BACKFILL_USAGE =
  `Usage: backfill SELECTION (--from KEY --to KEY | --partition KEY...) [options]

Queues one run per partition of the selected partitioned assets (Dagster's
backfill), tagged backfill=ID and partition=KEY; workers execute them within
the limits.

Options:
  --exclude SELECTION   leave these assets out
  --priority N          higher runs first (default: 0)
  --max-retries N       run retries of each run (default: QUEUE_MAX_RETRIES)
  --tag KEY=VALUE       tag every run (repeatable)
  --json                one JSON line with the backfill id and counts
  -h, --help            show this help
`;

/**
 * The id of the run in the queue that `given` names: itself, or the one run
 * waiting or running whose id starts with it (a queued run has no run record
 * for `getRun`'s prefix lookup). `given` when none or several match.
 */
async function queuedIdOf(queue: RunQueue, given: string): Promise<string> {
  if (await queue.get(given)) return given;
  const active = await queue.list({ states: ["queued", "launched", "started"], limit: 100_000 });
  const matches = active.filter((r) => r.runId.startsWith(given));
  return matches.length === 1 ? (matches[0] as QueuedRun).runId : given;
}

/** `backfill`: see {@linkcode BACKFILL_USAGE}. */
export async function backfillCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseCommandArgs("backfill", {
    args: [...args],
    allowPositionals: true,
    options: {
      exclude: { type: "string" },
      partition: { type: "string", multiple: true },
      from: { type: "string" },
      to: { type: "string" },
      priority: { type: "string" },
      "max-retries": { type: "string" },
      tag: { type: "string", multiple: true },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return help(io, BACKFILL_USAGE);
  const keys = (values.partition ?? []).flatMap((p) => p.split(",")).map((p) => p.trim())
    .filter(Boolean);
  if (keys.length > 0 && (values.from !== undefined || values.to !== undefined)) {
    throw new UsageError("Use either --partition or --from/--to, not both");
  }
  if (keys.length === 0 && values.from === undefined && values.to === undefined) {
    throw new UsageError("backfill needs --from/--to or --partition: which partitions to run");
  }
  const wanted: PartitionSelection = keys.length > 0 ? { keys } : {
    ...(values.from !== undefined ? { from: values.from } : {}),
    ...(values.to !== undefined ? { to: values.to } : {}),
  };
  const common = launchOptions(app, values);
  const clock = app.clock ?? systemClock;
  const graph = await app.loadGraph();
  await using queue = await requireQueue(app, "backfill");
  await using store = await openStore(app, io);
  const selection = positionals.join(",");
  const exclude = values.exclude ?? "";
  const started = clock.now();
  const partitionKeys = await backfillKeys(
    graph,
    store,
    selection,
    exclude,
    wanted,
    started,
  );
  const backfillId = crypto.randomUUID().slice(0, 8);
  const requests: QueueRequest[] = partitionKeys.map((key) => ({
    selection,
    exclude,
    partitions: { keys: [key] },
    tags: { ...common.tags, backfill: backfillId, partition: key },
    priority: common.priority,
    maxRetries: common.maxRetries,
  }));
  const added = await enqueueRuns(graph, queue, requests, {
    now: clock.now(),
    onProgress: (n, total) => {
      if (!values.json && io.isTerminal) io.err(`\rqueued ${n}/${total}`);
    },
  });
  const ms = clock.now() - started;
  if (values.json) {
    io.out(JSON.stringify({ backfill: backfillId, runs: added.length, queued_in_ms: ms }) + "\n");
  } else {
    if (io.isTerminal) io.err("\n");
    io.out(
      `Backfill ${backfillId}: ${added.length} run(s) queued (one per partition, ` +
        `${partitionKeys[0]} .. ${partitionKeys.at(-1)}) in ${ms} ms; ` +
        `'${app.name} queue' shows them\n`,
    );
  }
  return EXIT.ok;
}

function launchOptions<R>(
  app: CliApp<R>,
  values: {
    priority?: string | undefined;
    "max-retries"?: string | undefined;
    tag?: string[] | undefined;
  },
): { priority: number; maxRetries: number; tags: Record<string, string> } {
  let priority = 0;
  if (values.priority !== undefined) {
    priority = Number(values.priority);
    if (!/^-?\d+$/.test(values.priority.trim()) || !Number.isSafeInteger(priority)) {
      throw new UsageError(`--priority must be a whole number, got '${values.priority}'`);
    }
  }
  const maxRetries = millis(
    "--max-retries",
    values["max-retries"],
    app.queueMaxRetries?.() ?? 0,
    0,
  );
  const tags: Record<string, string> = {};
  for (const tag of values.tag ?? []) {
    const at = tag.indexOf("=");
    if (at < 1) throw new UsageError(`--tag must be KEY=VALUE, got '${tag}'`);
    tags[tag.slice(0, at)] = tag.slice(at + 1);
  }
  return { priority, maxRetries, tags };
}

/** What `materialize --queue` was asked. */
export interface QueueMaterializeArgs {
  /** Selection. */
  readonly selection: string;
  /** Left out. */
  readonly exclude: string;
  /** Partitions. */
  readonly partitions: PartitionSelection;
  /** Tags. */
  readonly tags: Readonly<Record<string, string>>;
  /** `--priority`, as given. */
  readonly priority?: string | undefined;
  /** `--max-retries`, as given. */
  readonly maxRetries?: string | undefined;
  /** `--json`. */
  readonly json: boolean;
}

/** `materialize --queue`: queues the run instead of executing it here; prints its id. */
export async function queueMaterialize<R>(
  app: CliApp<R>,
  args: QueueMaterializeArgs,
  io: CliIo,
): Promise<number> {
  const common = launchOptions(app, {
    priority: args.priority,
    "max-retries": args.maxRetries,
  });
  const graph = await app.loadGraph();
  await using queue = await requireQueue(app, "materialize --queue");
  const hasPartitions = Object.keys(args.partitions).length > 0;
  const [runId] = await enqueueRuns(graph, queue, [{
    selection: args.selection,
    exclude: args.exclude,
    partitions: hasPartitions ? args.partitions : null,
    tags: args.tags,
    priority: common.priority,
    maxRetries: common.maxRetries,
  }], { now: (app.clock ?? systemClock).now() });
  if (args.json) {
    io.out(JSON.stringify({ run_id: runId, state: "queued" }) + "\n");
  } else {
    io.out(
      `Run ${runId} queued. '${app.name} queue' shows why it waits; ` +
        `'${app.name} show ${runId}' once a worker runs it; '${app.name} cancel ${runId}' cancels it\n`,
    );
  }
  return EXIT.ok;
}

/** Usage of `migrate`. */
export const MIGRATE_USAGE = `Usage: migrate

Creates or upgrades the run store's tables and, on Postgres, the run queue's
(and graphile-worker's schema). Safe to run again and from several processes
at once; Kubernetes runs it as a Job before the daemon and workers start.
`;

/** `migrate`: see {@linkcode MIGRATE_USAGE}. */
export async function migrateCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const { values } = parseCommandArgs("migrate", {
    args: [...args],
    options: { help: { type: "boolean", short: "h" } },
  });
  if (values.help) return help(io, MIGRATE_USAGE);
  await using store = await app.openRunStore();
  io.out(`run store ready: ${store.description}\n`);
  const queue = await app.openQueue?.();
  if (queue) {
    io.out(`run queue ready: ${queue.description}\n`);
    await queue[Symbol.asyncDispose]();
  } else {
    io.out("run queue: none (embedded run store or RUN_QUEUE=off); runs execute in process\n");
  }
  return EXIT.ok;
}

function help(io: CliIo, usage: string): number {
  io.out(usage);
  return EXIT.ok;
}
