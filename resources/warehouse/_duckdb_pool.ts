/**
 * The two things that let many callers share one DuckDB database: a pool of
 * connections (DuckDB runs one statement at a time per connection, and
 * several connections in parallel) and a write lock (one writer at a time per
 * database file in this process).
 *
 * Why a write lock: DuckDB resolves concurrent writers optimistically, so two
 * transactions touching the same rows or the same catalog entry fail at
 * commit ("write-write conflict") instead of waiting. Loaders written for
 * Postgres serialise such work with advisory locks and expect the second
 * writer to wait; taking turns here gives them that, and costs little since
 * DuckDB already commits one writer at a time and parallelises each statement
 * itself. Reads never take the lock: they see the last committed state.
 *
 * @module
 */

import { AsyncLocalStorage } from "node:async_hooks";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";

/** One writer at a time; knows whether the current async context holds it. */
export class WriteLock {
  #tail: Promise<void> = Promise.resolve();
  readonly #holder = new AsyncLocalStorage<WriteLock>();

  /** Whether the caller runs inside `withLock` of this lock (directly or through awaits). */
  get heldHere(): boolean {
    return this.#holder.getStore() === this;
  }

  /** Runs `fn` holding the lock; callers queue in arrival order. */
  async withLock<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.#tail;
    let release: () => void = () => {};
    this.#tail = new Promise<void>((resolve) => (release = resolve));
    await previous;
    try {
      return await this.#holder.run(this, fn);
    } finally {
      release();
    }
  }
}

/** A bounded set of connections to one instance, each prepared by `setup` once. */
export class ConnectionPool {
  readonly #instance: DuckDBInstance;
  readonly #max: number;
  readonly #setup: (connection: DuckDBConnection) => Promise<void>;
  readonly #idle: DuckDBConnection[] = [];
  readonly #all = new Set<DuckDBConnection>();
  readonly #waiting: ((connection: DuckDBConnection) => void)[] = [];
  #opening = 0;
  #closed = false;

  /** Creates an empty pool; connections open on demand. */
  constructor(
    instance: DuckDBInstance,
    max: number,
    setup: (connection: DuckDBConnection) => Promise<void>,
  ) {
    this.#instance = instance;
    this.#max = max;
    this.#setup = setup;
  }

  /** Runs `fn` on a connection of its own, returned to the pool afterwards. */
  async use<T>(fn: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    const connection = await this.#acquire();
    try {
      return await fn(connection);
    } finally {
      this.#release(connection);
    }
  }

  /** Disconnects every connection; the pool must be idle. */
  close(): void {
    this.#closed = true;
    for (const connection of this.#all) connection.disconnectSync();
    this.#all.clear();
    this.#idle.length = 0;
  }

  async #acquire(): Promise<DuckDBConnection> {
    // A connection opened after close would never be disconnected, and would
    // keep the database instance (and its file) alive after the last close.
    if (this.#closed) throw new TypeError("Cannot use a closed connection pool of the warehouse");
    const idle = this.#idle.pop();
    if (idle) return idle;
    if (this.#all.size + this.#opening < this.#max) {
      this.#opening++;
      try {
        const connection = await this.#instance.connect();
        try {
          await this.#setup(connection);
        } catch (error) {
          connection.disconnectSync();
          throw error;
        }
        this.#all.add(connection);
        return connection;
      } finally {
        this.#opening--;
      }
    }
    return await new Promise((resolve) => this.#waiting.push(resolve));
  }

  #release(connection: DuckDBConnection): void {
    const next = this.#waiting.shift();
    if (next) next(connection);
    else this.#idle.push(connection);
  }
}
