/**
 * Time as a dependency, so tests fake it instead of sleeping.
 *
 * @module
 */

import { CanceledError } from "./errors.ts";

/** Where the platform reads the time and waits. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms`, or rejects with {@linkcode CanceledError} when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /**
   * Resolves once the clock has moved `ms` forward, without moving it: for
   * background timers (a run's heartbeat) that must wait for time the work
   * spends rather than spend it. Rejects with {@linkcode CanceledError} when
   * `signal` aborts. The real clock's is `sleep`; a clock without one gets
   * real timers (see {@linkcode waitOn}).
   */
  wait?(ms: number, signal?: AbortSignal): Promise<void>;
}

/** The real clock. */
export const systemClock: Clock & Required<Pick<Clock, "wait">> = {
  now: () => Date.now(),
  wait: (ms, signal) => systemClock.sleep(ms, signal),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(new CanceledError());
      const onAbort = () => {
        clearTimeout(timer);
        reject(new CanceledError());
      };
      const timer = setTimeout(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },
};

/** `clock.wait`, or real timers for a clock that has none. */
export function waitOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  return clock.wait ? clock.wait(ms, signal) : systemClock.sleep(ms, signal);
}

/**
 * The real clock shifted onto another machine's: runs, workers and the
 * daemon sharing one Postgres run store write times that other machines
 * compare with their own (a run's heartbeat against a reaper's "now", a
 * worker's against the coordinator's). A machine whose clock is a lease
 * behind would have its live runs failed as dead by the others; one a lease
 * ahead would keep a dead run `running` for as long as its clock is ahead,
 * and a command started there (`runs`, `cancel`) would fail every run of
 * the cluster as dead. Aligned on the server's clock, every process
 * compares times of one clock. Sleeps and waits are the system's.
 */
export class AlignedClock implements Clock {
  /** Milliseconds added to the system clock (server minus this machine). */
  offsetMs = 0;

  /** The system clock plus the offset. */
  now(): number {
    return systemClock.now() + this.offsetMs;
  }

  /** See {@linkcode Clock.sleep}. */
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.sleep(ms, signal);
  }

  /** See {@linkcode Clock.wait}. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    return systemClock.wait(ms, signal);
  }
}

/**
 * Sets `clock`'s offset from `serverTime` (the server's time, milliseconds
 * since the epoch): of three readings, the one with the shortest round
 * trip, taken at its middle (the error is at most half that round trip).
 * Returns the offset.
 */
export async function alignClock(
  clock: AlignedClock,
  serverTime: () => Promise<number>,
): Promise<number> {
  let best: { rtt: number; offset: number } | undefined;
  for (let i = 0; i < 3; i++) {
    const sent = systemClock.now();
    const server = await serverTime();
    const received = systemClock.now();
    if (!Number.isFinite(server)) continue;
    const rtt = received - sent;
    if (!best || rtt < best.rtt) best = { rtt, offset: Math.round(server - (sent + received) / 2) };
  }
  if (best) clock.offsetMs = best.offset;
  return clock.offsetMs;
}
