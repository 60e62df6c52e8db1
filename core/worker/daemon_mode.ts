/**
 * The sensor daemon in queue mode: with a run queue, the daemon runs only
 * while it holds the `daemon` leadership (a Postgres advisory lock held by
 * its connection, so it is freed the moment the process dies), hands its runs
 * to the queue, and coordinates the queue. A second daemon on the same store
 * stands by, waiting for the lock.
 *
 * @module
 */

import type { CliApp } from "../cli/app.ts";
import type { Clock } from "../clock.ts";
import type { Launch } from "../daemon.ts";
import { toError } from "../errors.ts";
import type { Graph } from "../graph.ts";
import type { Logger } from "../logger.ts";
import type { RunStore } from "../run_store/types.ts";
import { Coordinator, coordinatorIntervalMs } from "./coordinator.ts";
import { queueLauncher } from "./launch.ts";
import { type Leadership, leadLeaseMs } from "./queue.ts";

/** What the `sensor` command runs with in queue mode. */
export interface QueueMode extends AsyncDisposable {
  /** The daemon's launcher, or `undefined` without a queue (runs execute in process). */
  readonly launch?: (launch: Launch, tags: Readonly<Record<string, string>>) => Promise<void>;
  /** Aborts when the command's signal does, or the daemon lost its lock. */
  readonly signal?: AbortSignal;
  /** The daemon was stopped while standing by: nothing to run. */
  readonly standbyEnded: boolean;
  /**
   * Whether the lock was lost while the command's own signal was not aborted
   * (its connection went away: a Postgres restart, a network cut). The
   * `sensor` command then stands by again rather than exit, so a restart of
   * the server does not leave the cluster without a daemon.
   */
  readonly lostLead: () => boolean;
}

/** How often a standby daemon tries to take the lock, and a leader checks it holds it. */
const LEAD_CHECK_MS = 2_000;

/**
 * Opens the queue when the app has one, takes the daemon lock (waiting as a
 * standby while another daemon holds it), and starts the coordinator.
 */
export async function queueMode<R>(
  app: CliApp<R>,
  graph: Graph<R>,
  store: RunStore,
  clock: Clock,
  log: Logger,
  signal: AbortSignal | undefined,
): Promise<QueueMode> {
  const queue = await app.openQueue?.();
  if (!queue) {
    return {
      standbyEnded: false,
      lostLead: () => false,
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  const stop = new AbortController();
  const outer = () => stop.abort();
  if (signal?.aborted) stop.abort();
  signal?.addEventListener("abort", outer, { once: true });
  // A daemon stopped (SIGSTOP) while it holds the lock gives it up after this lease.
  const heartbeat = app.heartbeatIntervalMs?.() ?? 10_000;
  let lead: Leadership | undefined;
  let waiting = false;
  let unreachable = false;
  while (!stop.signal.aborted) {
    try {
      lead = await queue.tryLead("daemon", { leaseMs: leadLeaseMs(heartbeat) });
      unreachable = false;
    } catch (error) {
      // The server is away (restarting, cut off): keep trying, as a standby does.
      if (!unreachable) {
        log.warn(`cannot take the daemon lock: ${toError(error).message}; trying again`);
      }
      unreachable = true;
    }
    if (lead) break;
    if (!waiting && !unreachable) {
      log.info("another sensor daemon holds the daemon lock; standing by");
      waiting = true;
    }
    await clock.sleep(LEAD_CHECK_MS, stop.signal).catch(() => {});
  }
  if (!lead) {
    signal?.removeEventListener("abort", outer);
    await queue[Symbol.asyncDispose]();
    return {
      standbyEnded: true,
      lostLead: () => false,
      [Symbol.asyncDispose]: () => Promise.resolve(),
    };
  }
  log.info(`holding the daemon lock; runs go to the queue (${queue.description})`);
  const held = lead;
  let lost = false;
  const watching = (async () => {
    while (!stop.signal.aborted) {
      await clock.sleep(LEAD_CHECK_MS, stop.signal).catch(() => {});
      if (stop.signal.aborted) return;
      if (!(await held.held())) {
        log.error("lost the daemon lock (its connection is gone); stopping this term");
        lost = true;
        stop.abort();
      }
    }
  })();
  const coordinating = new Coordinator({
    queue,
    runStore: store,
    clock,
    log,
    intervalMs: coordinatorIntervalMs(heartbeat),
    ...(app.queueLimits ? { limits: app.queueLimits() } : {}),
  }).run(stop.signal).catch((error) => log.error(`coordinator stopped: ${toError(error).message}`));
  const close = async () => {
    stop.abort();
    signal?.removeEventListener("abort", outer);
    await coordinating;
    await watching;
    // The lock is the session's: closing the queue below ends it either way.
    await held.release().catch(() => {});
    await queue[Symbol.asyncDispose]();
  };
  return {
    launch: queueLauncher(graph, queue, { clock, maxRetries: app.queueMaxRetries?.() ?? 0 }),
    signal: stop.signal,
    standbyEnded: false,
    lostLead: () => lost && !(signal?.aborted ?? false),
    [Symbol.asyncDispose]: close,
  };
}
