/**
 * The (run, asset) pairs a store has already put in `run_assets`, so the
 * several writes of one step (pending, running, success...) and the steps of
 * one asset's partitions insert the pair once. Bounded: when full it starts
 * over, which costs one more (idempotent) insert per pair, never a wrong
 * answer.
 *
 * @module
 */

/** A bounded set of (run id, asset key) pairs. */
export class IndexedPairs {
  readonly #seen = new Set<string>();
  readonly #max: number;

  /**
   * @param max Pairs kept before starting over. @default {10000}
   */
  constructor(max = 10_000) {
    this.#max = max;
  }

  /** Adds the pair; `true` when it was not known (the caller indexes it). */
  add(runId: string, assetKey: string): boolean {
    if (this.has(runId, assetKey)) return false;
    this.remember(runId, assetKey);
    return true;
  }

  /** Whether the pair is known. */
  has(runId: string, assetKey: string): boolean {
    return this.#seen.has(`${runId}\0${assetKey}`);
  }

  /** Marks the pair as indexed (once its insert committed). */
  remember(runId: string, assetKey: string): void {
    if (this.#seen.size >= this.#max) this.#seen.clear();
    this.#seen.add(`${runId}\0${assetKey}`);
  }
}
