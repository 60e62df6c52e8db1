/**
 * Timing of repeated loads, shared by the load benchmarks: each run reports
 * rows and milliseconds; the summary takes the best and the median.
 *
 * @module
 */

/** One timed load. */
export interface Timing {
  /** Rows the load reported. */
  readonly rows: number;
  /** Wall time in milliseconds. */
  readonly ms: number;
}

/** Times `work`, which returns the rows it loaded. */
export async function timed(work: () => Promise<number>): Promise<Timing> {
  const started = performance.now();
  const rows = await work();
  return { rows, ms: performance.now() - started };
}

/** The fastest run, in milliseconds. */
export function best(timings: readonly Timing[]): number {
  return Math.min(...timings.map((t) => t.ms));
}

/** The median run, in milliseconds. */
export function median(timings: readonly Timing[]): number {
  const sorted = timings.map((t) => t.ms).sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

/** Every run, e.g. `1000 rows in 1.20 s, 1000 rows in 1.10 s`. */
export function list(timings: readonly Timing[]): string {
  return timings.map((t) => `${t.rows} rows in ${seconds(t.ms)} s`).join(", ");
}

/** Milliseconds as seconds with two decimals. */
export function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}
