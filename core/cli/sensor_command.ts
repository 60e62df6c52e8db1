/**
 * `sensor`: the long-running daemon that evaluates the graph's sensors and
 * schedules and launches the runs they request (`deno task sensor`).
 *
 * @module
 */

import { parseCommandArgs } from "./_args.ts";
import { type Clock, systemClock } from "../clock.ts";
import { type DaemonOptions, SensorDaemon, type TickReport } from "../daemon.ts";
import { isTransientError, toError } from "../errors.ts";
import { createLogger, formatLogLine, type Logger } from "../logger.ts";
import type { RunStore } from "../run_store/types.ts";
import { type CliApp, EXIT, UsageError } from "./app.ts";
import type { CliIo } from "./io.ts";
import { openStore } from "./_store.ts";
import { untilReachable } from "./_reachable.ts";
import { openHealth } from "./health.ts";
import { type QueueMode, queueMode } from "../worker/daemon_mode.ts";

/** Usage of `sensor`. */
export const SENSOR_USAGE = `Usage: sensor [options]

Evaluates every sensor and schedule of the graph on an interval and launches
the runs they request; each run key runs once, also with several daemons on one
run store. Stops cleanly on SIGTERM or Ctrl-C: runs in flight finish within
--grace or are recorded as canceled.

With a Postgres run store (RUNS_URL=postgres://..., RUN_QUEUE=auto) the runs
go to the run queue for the workers ('deno task worker'), the daemon also
coordinates the queue, and it runs only while it holds the daemon lock: a
second daemon waits as a standby and takes over when the first stops. A
run store that cannot be reached at start (refused, timed out, starting up)
is waited for, with a line per try; --once and a bad login fail at once.

Options:
  --once           evaluate everything once, wait for the runs launched, exit
  --interval MS    time between ticks (default: SENSOR_INTERVAL_MS, 1000)
  --grace MS       on shutdown, let runs in flight go on this long (default: 0)
  --json           log lines as JSON
  -h, --help       show this help

Exit status: 0 stopped cleanly (or, with --once, everything succeeded),
1 with --once a sensor or a run failed, 2 usage error.
`;

interface SensorArgs {
  once: boolean;
  intervalMs: number | undefined;
  graceMs: number;
  json: boolean;
}

/** Parses `sensor` arguments; throws {@linkcode UsageError}. */
export function parseSensorArgs(args: readonly string[]): SensorArgs | "help" {
  const { values } = parseCommandArgs("sensor", {
    args: [...args],
    allowPositionals: false,
    options: {
      once: { type: "boolean" },
      interval: { type: "string" },
      grace: { type: "string" },
      json: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) return "help";
  return {
    once: values.once ?? false,
    intervalMs: values.interval === undefined
      ? undefined
      : millis("--interval", values.interval, 1),
    graceMs: values.grace === undefined ? 0 : millis("--grace", values.grace, 0),
    json: values.json ?? false,
  };
}

function millis(option: string, text: string, min: number): number {
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < min) {
    throw new UsageError(
      `${option} must be a whole number of milliseconds >= ${min}, got '${text}'`,
    );
  }
  return value;
}

/** Runs `sensor`; returns the exit code. */
export async function sensorCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  const parsed = parseSensorArgs(args);
  if (parsed === "help") {
    io.out(SENSOR_USAGE);
    return EXIT.ok;
  }
  const graph = await app.loadGraph();
  const clock = app.clock ?? systemClock;
  const log = createLogger(
    (record) => io.out(formatLogLine(record, parsed.json)),
    () => clock.now(),
  );
  // Live (waiting) while the store is waited for and as a standby; ready while it ticks and
  // the store answers. --once serves none.
  await using health = openHealth(parsed.once ? undefined : await app.health?.(), clock);
  // The daemon waits for a run store not up yet (Dagster's daemon does); --once reports it.
  const opened = parsed.once
    ? await openStore(app, io)
    : await untilReachable("the run store", () => openStore(app, io), {
      log: (line) => log.warn(line),
      signal,
    });
  if (!opened) return EXIT.ok; // stopped while waiting
  await using store = opened;
  health.state.watchStore(() => store.listRuns({ limit: 1 }));
  if (!parsed.once) {
    // A daemon that loses its lock (the server restarted) stands by again and
    // takes the lock back when it can; only the command's signal ends it.
    for (let term = 0;; term++) {
      let mode: QueueMode;
      health.state.waiting();
      try {
        mode = await queueMode(app, graph, store, clock, log, signal);
      } catch (error) {
        // A first start reports a lasting error (a bad login); a server away is waited for.
        if (signal?.aborted || (term === 0 && !isTransientError(error))) throw error;
        log.warn(`cannot open the run queue: ${toError(error).message}; trying again`);
        await clock.sleep(RETAKE_MS, signal).catch(() => {});
        continue;
      }
      await using queued = mode;
      if (queued.standbyEnded) return EXIT.ok;
      await new SensorDaemon(graph, {
        ...daemonOptions(app, parsed, store, clock, log, queued, signal),
        onTick: () => health.state.beat(),
      }).run();
      if (!queued.lostLead()) return EXIT.ok;
      log.warn("standing by to take the daemon lock again");
    }
  }
  await using queued = await queueMode(app, graph, store, clock, log, signal);
  if (queued.standbyEnded) return EXIT.ok;
  const daemon = new SensorDaemon(
    graph,
    daemonOptions(app, parsed, store, clock, log, queued, signal),
  );
  let reports: TickReport[];
  try {
    reports = await daemon.tick();
    await untilAborted(daemon.drain(), signal);
  } finally {
    await daemon.close();
  }
  let failed = reports.some((report) =>
    report.status === "failed" || (report.requestErrors?.length ?? 0) > 0
  );
  // Queued runs are the workers' to execute: --once reports that they were queued.
  for (const runId of queued.launch ? [] : reports.flatMap((report) => report.launched)) {
    if ((await lastAttempt(store, runId))?.status !== "success") failed = true;
  }
  return failed ? EXIT.failed : EXIT.ok;
}

/** The run that ended `runId`'s chain of retries (tag `retry_of`): the one whose outcome counts. */
async function lastAttempt(store: RunStore, runId: string) {
  let run = await store.getRun(runId);
  while (run?.status === "failed") {
    const [retry] = await store.listRuns({ tags: { retry_of: run.runId }, limit: 1 });
    if (!retry) break;
    run = retry;
  }
  return run;
}

/** How long a daemon that lost its lock waits before opening the queue again. */
const RETAKE_MS = 2_000;

function daemonOptions<R>(
  app: CliApp<R>,
  parsed: SensorArgs,
  store: RunStore,
  clock: Clock,
  log: Logger,
  queued: QueueMode,
  signal: AbortSignal | undefined,
): DaemonOptions<R> {
  return {
    ...(queued.launch ? { launch: queued.launch } : {}),
    runStore: store,
    clock,
    ...(app.heartbeatIntervalMs ? { heartbeatIntervalMs: app.heartbeatIntervalMs() } : {}),
    // Runs executed here are retried as the queue retries its runs (QUEUE_MAX_RETRIES).
    ...(!queued.launch && app.queueMaxRetries ? { maxRetries: app.queueMaxRetries() } : {}),
    intervalMs: parsed.intervalMs ?? app.sensorIntervalMs?.() ?? 1000,
    shutdownGraceMs: parsed.graceMs,
    log,
    ...(queued.signal ? { signal: queued.signal } : signal ? { signal } : {}),
  };
}

/** Waits for `work`, or until `signal` aborts, whichever comes first. */
async function untilAborted(
  work: Promise<unknown>,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (!signal) return void await work;
  if (signal.aborted) return;
  let onAbort!: () => void;
  const aborted = new Promise<void>((resolve) => (onAbort = resolve));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    await Promise.race([work, aborted]);
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}
