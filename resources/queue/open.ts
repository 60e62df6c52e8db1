/**
 * Picks the run queue implementation from `RUNS_URL`: the queue lives in the
 * run store's database.
 *
 * @module
 */

import { ConfigError } from "../../core/errors.ts";
import { MemoryRunQueue } from "../../core/worker/memory_queue.ts";
import type { RunQueue } from "../../core/worker/queue.ts";
import { redactUrl } from "../../core/secrets.ts";
import { PostgresRunQueue, type PostgresRunQueueOptions } from "./postgres.ts";

/** Options of {@linkcode openQueue}, passed to the backend the URL selects. */
export type OpenQueueOptions = PostgresRunQueueOptions;

/**
 * Opens the run queue of the run store at `url`: `postgres://...` (tables in
 * schema `ops`, delivery by graphile-worker) or `memory:` (one process). The
 * embedded SQLite store has no queue: its runs execute in the process that
 * launches them, and asking for the queue there fails with a `ConfigError`
 * (code `config.queue_needs_postgres`) that says so.
 *
 * @example
 * ```ts
 * import { openQueue } from "./open.ts";
 * await using queue = await openQueue("memory:");
 * queue.description; // "memory"
 * ```
 */
export function openQueue(url: string, options: OpenQueueOptions = {}): Promise<RunQueue> {
  if (url === "memory:") return Promise.resolve(new MemoryRunQueue());
  if (/^postgres(ql)?:\/\//i.test(url)) return PostgresRunQueue.open(url, options);
  const shown = url.startsWith("sqlite:") ? url : redactUrl(url);
  return Promise.reject(
    new ConfigError(
      "config.queue_needs_postgres",
      `The run queue needs a Postgres run store, but RUNS_URL is '${shown}'. ` +
        "Set RUNS_URL=postgres://USER@HOST:PORT/DB to queue runs and start workers " +
        "(see README, Scaling out); with the embedded store, runs execute in the process " +
        "that launches them (deno task materialize, deno task sensor).",
      { input: "RUNS_URL" },
    ),
  );
}
