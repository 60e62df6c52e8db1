/**
 * Step-level pools (Dagster's op-granular pools): with
 * `QUEUE_POOL_GRANULARITY=step`, a pool limit bounds the *steps* using a
 * resource at once across every worker, not the runs. Each worker passes
 * {@linkcode poolGate} to the executor as its `stepGate`: before a step that
 * uses a limited pool runs, it takes a slot of each such pool in the queue
 * (all or none, atomically across processes), and gives them back when the
 * step ends. A step that finds a pool full waits, woken by the queue's
 * change notifications (a slot given back) or, as a fallback, every
 * `pollMs`; a cancel of its run stops the wait. Slots of a worker that died
 * are freed when the coordinator forgets the worker (within two heartbeat
 * intervals), like its runs.
 *
 * @module
 */

import { type Clock, systemClock, waitOn } from "../clock.ts";
import type { StepGate } from "../executor.ts";
import { type Logger, silentLogger } from "../logger.ts";
import type { RunQueue, SlotHolder } from "./queue.ts";

/** Options of {@linkcode poolGate}. */
export interface PoolGateOptions {
  /** Slots per pool; pools not named here need none. */
  readonly limits: Readonly<Record<string, number>>;
  /** The worker executing the steps (its slots are freed when it is forgotten as dead). */
  readonly workerId: string;
  /** Time source. @default {systemClock} */
  readonly clock?: Clock;
  /** Longest wait between two tries when no notification came. @default {1000} */
  readonly pollMs?: number;
  /** Where waits are reported. @default {silentLogger} */
  readonly log?: Logger;
}

/** The executor's step gate taking pool slots in `queue` (see the module doc). */
export function poolGate(queue: RunQueue, options: PoolGateOptions): StepGate {
  const clock = options.clock ?? systemClock;
  const log = options.log ?? silentLogger;
  const pollMs = options.pollMs ?? 1000;
  return async (step, signal) => {
    const pools = step.pools.filter((pool) => options.limits[pool] !== undefined);
    if (pools.length === 0) return () => Promise.resolve();
    const name = step.partition === null ? step.assetKey : `${step.assetKey}[${step.partition}]`;
    const holder: SlotHolder = {
      holderId: JSON.stringify([step.runId, step.assetKey, step.partition]),
      runId: step.runId,
      step: name,
      workerId: options.workerId,
      pools,
    };
    const give = () => queue.giveSlots(holder.holderId);
    const watching = new AbortController();
    let changed = false;
    let wake = () => {};
    await queue.watch(() => {
      changed = true;
      wake();
    }, watching.signal);
    try {
      for (let tries = 0;; tries++) {
        signal.throwIfAborted();
        changed = false;
        if (await queue.takeSlots(holder, options.limits, clock.now())) return give;
        if (tries === 0) {
          log.info(
            `step ${name} of run ${step.runId} waits for a slot of pool(s) ` +
              pools.map((p) => `${p} (limit ${options.limits[p]})`).join(", "),
          );
        }
        if (changed) continue; // a slot may have been given back meanwhile
        const woken = new AbortController();
        wake = () => woken.abort();
        await waitOn(clock, pollMs, AbortSignal.any([signal, woken.signal])).catch(() => {});
      }
    } finally {
      watching.abort();
    }
  };
}
