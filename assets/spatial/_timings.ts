/**
 * Where the time of a batch goes, per phase (staging, inspecting, converting,
 * writing, publishing...), recorded in the asset's materialization metadata
 * as `timings_ms` so a slow batch shows which step to look at, and read by
 * `bench/spatial.ts` for its breakdown.
 *
 * Durations are of real work, so they come from the monotonic
 * `performance.now()`, not from the run's (possibly fake) clock.
 *
 * @module
 */

/** Milliseconds spent per phase; a phase timed twice adds up. */
export class Timings {
  readonly #ms = new Map<string, number>();

  /** Runs `fn`, adding its wall time to `phase`. */
  async time<T>(phase: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.#ms.set(phase, (this.#ms.get(phase) ?? 0) + performance.now() - start);
    }
  }

  /** The phases in the order first timed, rounded to 0.1 ms. */
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.#ms].map(([k, v]) => [k, Math.round(v * 10) / 10]));
  }
}
