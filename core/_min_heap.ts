/**
 * A binary min-heap of numbers: the ready queue of the topological sort, so
 * that among assets ready at once the one declared first comes first.
 *
 * @module
 */

/** Min-heap of numbers. */
export class MinHeap {
  readonly #items: number[] = [];

  /** How many numbers it holds. */
  get size(): number {
    return this.#items.length;
  }

  /** Adds `value`. */
  push(value: number): void {
    const items = this.#items;
    items.push(value);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((items[parent] as number) <= value) break;
      items[i] = items[parent] as number;
      i = parent;
    }
    items[i] = value;
  }

  /** Removes and returns the smallest number, or `undefined` when empty. */
  pop(): number | undefined {
    const items = this.#items;
    const top = items[0];
    const last = items.pop();
    if (items.length === 0 || last === undefined) return top;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= items.length) break;
      const right = left + 1;
      const child = right < items.length && (items[right] as number) < (items[left] as number)
        ? right
        : left;
      if ((items[child] as number) >= last) break;
      items[i] = items[child] as number;
      i = child;
    }
    items[i] = last;
    return top;
  }
}
