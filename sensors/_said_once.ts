/**
 * Remembers which things a sensor has already logged about, so a message is
 * said once per run or manifest and not on every tick, without the memory of
 * a long-lived daemon growing with every run it ever saw.
 *
 * @module
 */

/** Keys a message was said for; the oldest are forgotten past a bound. */
export class SaidOnce {
  readonly #keys = new Set<string>();
  readonly #max: number;

  /**
   * @param max How many keys to remember. A forgotten key is said again at
   * most once more, which only matters when more than `max` runs wait at once.
   */
  constructor(max = 4096) {
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`max must be >= 1, got ${max}`);
    this.#max = max;
  }

  /** True the first time `key` is seen (and remembers it); false after. */
  first(key: string): boolean {
    if (this.#keys.has(key)) return false;
    this.#keys.add(key);
    if (this.#keys.size > this.#max) {
      // A Set iterates in insertion order: the first key is the oldest.
      const oldest = this.#keys.values().next().value as string;
      this.#keys.delete(oldest);
    }
    return true;
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.#keys.size;
  }
}
