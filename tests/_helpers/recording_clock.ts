/**
 * The real clock, recording every wait asked of it: a test of a retry policy
 * on real timers asserts the waits the code asked for rather than the wall
 * time they took, which a loaded machine stretches.
 *
 * @module
 */

import { type Clock, systemClock } from "../../core/clock.ts";

/** {@linkcode systemClock} with the delays of its `sleep` calls, in order. */
export interface RecordingClock extends Clock {
  /** Every delay asked of `sleep`, in milliseconds, in order. */
  readonly sleeps: readonly number[];
}

/** A clock that sleeps for real and records each delay it was asked for. */
export function recordingSystemClock(): RecordingClock {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => systemClock.now(),
    sleep(ms, signal) {
      sleeps.push(ms);
      return systemClock.sleep(ms, signal);
    },
  };
}
