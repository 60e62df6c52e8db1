/**
 * The write buffer both SQL run stores put steps and events through: writes
 * wait at most `flushIntervalMs` and are committed together, one transaction
 * per batch, so the executor pays neither a disk sync (SQLite) nor a network
 * round trip (Postgres) per asset. Written once so the two backends cannot
 * drift apart on the rules that matter:
 *
 * - batches commit one after another, in the order they were filled;
 * - past `maxBuffered` writes, the writer waits for the commit (back-pressure);
 * - a failed commit keeps its writes, ahead of newer ones: the next flush,
 *   read or close retries them and, if it fails again, rejects with the error;
 *   a commit started by the timer never rejects anywhere (nobody awaits it).
 *
 * @module
 */

/** Writes waiting to be committed together. */
export interface Batch {
  /** How many writes it holds. */
  readonly size: number;
}

/** Options of {@linkcode WriteBuffer}. */
export interface WriteBufferOptions<B extends Batch> {
  /** A new, empty batch. */
  readonly newBatch: () => B;
  /** Commits a whole batch in one transaction, or throws having committed none of it. */
  readonly commit: (batch: B) => Promise<void> | void;
  /** The batch to keep after `failed` could not be committed: its writes, then `newer`'s. */
  readonly keep: (failed: B, newer: B) => B;
  /** Longest time a write waits, in milliseconds. */
  readonly flushIntervalMs: number;
  /** Writes in the batch that trigger a commit at once (and make the writer wait for it). */
  readonly maxBuffered: number;
}

/**
 * Buffers writes into batches and commits them in order.
 *
 * @example
 * ```ts
 * import { WriteBuffer } from "./_buffer.ts";
 * const committed: number[][] = [];
 * const buffer = new WriteBuffer({
 *   newBatch: () => ({ items: [] as number[], get size() { return this.items.length; } }),
 *   commit: (batch) => void committed.push(batch.items),
 *   keep: (failed, newer) => {
 *     newer.items.unshift(...failed.items);
 *     return newer;
 *   },
 *   flushIntervalMs: 50,
 *   maxBuffered: 1000,
 * });
 * buffer.batch.items.push(1, 2);
 * await buffer.added();
 * await buffer.flush(); // committed: [[1, 2]]
 * buffer.dispose();
 * ```
 */
export class WriteBuffer<B extends Batch> {
  readonly #options: WriteBufferOptions<B>;
  #batch: B;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #committing: Promise<void> = Promise.resolve();

  /** An empty buffer; nothing is committed until a write is added. */
  constructor(options: WriteBufferOptions<B>) {
    this.#options = options;
    this.#batch = options.newBatch();
  }

  /** The batch new writes go into. Call {@linkcode added} after adding. */
  get batch(): B {
    return this.#batch;
  }

  /** Schedules the commit of what was added; past `maxBuffered`, commits now and waits. */
  added(): Promise<void> {
    if (this.#batch.size >= this.#options.maxBuffered) return this.flush();
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      // On failure the writes stay buffered (see the module doc).
      this.flush().catch(() => {});
    }, this.#options.flushIntervalMs);
    return Promise.resolve();
  }

  /** Commits everything buffered, after any commit in progress. */
  flush(): Promise<void> {
    const next = this.#committing.then(() => this.#commitBatch());
    this.#committing = next.catch(() => {});
    return next;
  }

  /** Stops the timer; what is still buffered stays unwritten (flush first). */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async #commitBatch(): Promise<void> {
    this.dispose();
    const batch = this.#batch;
    if (batch.size === 0) return;
    this.#batch = this.#options.newBatch();
    try {
      await this.#options.commit(batch);
    } catch (error) {
      // Nothing of the batch was committed: keep it, ahead of newer writes.
      this.#batch = this.#options.keep(batch, this.#batch);
      throw error;
    }
  }
}
