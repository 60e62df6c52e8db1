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
 *
 * A wall clock stepped while the process runs (NTP after a VM resumed, an
 * operator's `date -s`) is seen against the monotonic clock: the reading
 * goes on from the monotonic clock, and the clock is aligned on the server
 * again ({@linkcode alignClock}'s source) before the wall clock is trusted.
 */
export class AlignedClock implements Clock {
  /** Milliseconds added to the system clock (server minus this machine). */
  offsetMs = 0;
  /** Where the server's time is read (set by {@linkcode alignClock}). */
  #source: (() => Promise<number>) | undefined;
  /** The wall and monotonic clocks read together at the last alignment. */
  #anchor = { wall: systemClock.now(), mono: performance.now() };
  #realigning: Promise<void> | undefined;
  /** Monotonic time of the last try to align again (at most one a second: the server may be away). */
  #triedAt = -Infinity;

  /** The system clock plus the offset (see the class doc for a stepped clock). */
  now(): number {
    const mono = performance.now();
    const wall = systemClock.now();
    if (this.#source === undefined) return wall + this.offsetMs;
    const expected = this.#anchor.wall + (mono - this.#anchor.mono);
    if (Math.abs(wall - expected) <= STEP_MS) return wall + this.offsetMs;
    if (this.#realigning === undefined && mono - this.#triedAt >= STEP_MS) {
      this.#triedAt = mono;
      this.#realigning = alignClock(this, this.#source).then(
        () => {},
        () => {}, // The server is away: the monotonic reading goes on, tried again in a second.
      ).finally(() => (this.#realigning = undefined));
    }
    return Math.round(expected) + this.offsetMs;
  }

  /** Records a new alignment (see {@linkcode alignClock}). */
  aligned(offsetMs: number, source: () => Promise<number>): void {
    this.offsetMs = offsetMs;
    this.#source = source;
    this.#anchor = { wall: systemClock.now(), mono: performance.now() };
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

/** How far the wall clock may move from the monotonic one before it counts as stepped. */
const STEP_MS = 1_000;

/**
 * Sets `clock`'s offset from `serverTime` (the server's time, milliseconds
 * since the epoch): of three readings, the one with the shortest round
 * trip, taken at its middle (the error is at most half that round trip).
 * `serverTime` is kept to align again when the wall clock is stepped.
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
  if (best) clock.aligned(best.offset, serverTime);
  return clock.offsetMs;
}
