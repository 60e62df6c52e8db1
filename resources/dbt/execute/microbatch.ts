/**
 * dbt's `microbatch` incremental strategy (dbt-core 1.9): which batches a
 * run builds and in what order. A first run or `--full-refresh` builds every
 * batch from `begin` to now; an incremental run the `lookback` batches
 * before the current one and the current one; `--event-time-start` /
 * `--event-time-end` name the window instead; `dbt retry` only the batches
 * that failed. Each batch is built by the caller (materialize.ts: one
 * transaction per batch), a failed batch does not stop the others, and the
 * outcome lists the successful and failed windows as run_results'
 * `batch_results`.
 *
 * Times are ms since the epoch, in UTC, as dbt reads every bound.
 *
 * @module
 */

import type { BatchSize, BatchWindow, MicrobatchConfig } from "../nodes.ts";

/** `ms` cut down to the start of its hour, day, month or year (UTC). */
export function truncateTime(ms: number, size: BatchSize): number {
  const d = new Date(ms);
  const y = d.getUTCFullYear();
  switch (size) {
    case "hour":
      return Date.UTC(y, d.getUTCMonth(), d.getUTCDate(), d.getUTCHours());
    case "day":
      return Date.UTC(y, d.getUTCMonth(), d.getUTCDate());
    case "month":
      return Date.UTC(y, d.getUTCMonth(), 1);
    case "year":
      return Date.UTC(y, 0, 1);
  }
}

/** The batch start `count` batches after (or before, when negative) the one `ms` falls in. */
export function offsetTime(ms: number, size: BatchSize, count: number): number {
  const t = new Date(truncateTime(ms, size));
  const y = t.getUTCFullYear();
  const m = t.getUTCMonth();
  switch (size) {
    case "hour":
      return t.getTime() + count * 3_600_000;
    case "day":
      return Date.UTC(y, m, t.getUTCDate() + count);
    case "month":
      return Date.UTC(y, m + count, 1);
    case "year":
      return Date.UTC(y + count, 0, 1);
  }
}

/** `ms` moved up to the next batch boundary (itself when it is one). */
export function ceilingTime(ms: number, size: BatchSize): number {
  const truncated = truncateTime(ms, size);
  return truncated === ms ? ms : offsetTime(truncated, size, 1);
}

/** dbt's batch id: `YYYYMMDD` of the batch start, `YYYYMMDDTHH` for hourly batches. */
export function batchId(start: number, size: BatchSize): string {
  const iso = new Date(start).toISOString();
  const day = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}`;
  return size === "hour" ? `${day}T${iso.slice(11, 13)}` : day;
}

/** What decides a run's batches. */
export interface BatchPlanInput {
  /** Whether the model's table exists and is not being rebuilt (`is_incremental()`). */
  readonly incremental: boolean;
  /** The invocation's time (dbt: when it started), ms. */
  readonly now: number;
  /** `--event-time-start`, ms. */
  readonly eventTimeStart?: number | undefined;
  /** `--event-time-end`, ms. */
  readonly eventTimeEnd?: number | undefined;
}

/**
 * The batches of one run, oldest first, as dbt's MicrobatchBuilder lays
 * them out: the end is `--event-time-end` or now, moved up to a batch
 * boundary; the start is `--event-time-start` (cut to a boundary), else
 * `begin` on a first run or full refresh, else `lookback` batches before the
 * current one. The last batch ends exactly at the end. Empty when the start
 * is not before the end (a `begin` in the future).
 */
export function planBatches(config: MicrobatchConfig, input: BatchPlanInput): BatchWindow[] {
  const size = config.batchSize;
  const end = ceilingTime(input.eventTimeEnd ?? input.now, size);
  let start: number;
  if (input.eventTimeStart !== undefined) start = truncateTime(input.eventTimeStart, size);
  else if (!input.incremental) start = truncateTime(config.begin, size);
  else {
    // The end is a boundary, so the batch before it is the current one: lookback more before it.
    start = offsetTime(end, size, -(config.lookback + 1));
  }
  const batches: BatchWindow[] = [];
  for (let from = start; from < end;) {
    const next = offsetTime(from, size, 1);
    batches.push({ id: batchId(from, size), start: from, end: Math.min(next, end) });
    from = next;
  }
  return batches;
}

/** A batch that failed, and why. */
export interface FailedBatch {
  /** The batch. */
  readonly batch: BatchWindow;
  /** What the warehouse or the render said. */
  readonly error: unknown;
}

/** What running a model's batches did. */
export interface BatchOutcome {
  /** Batches built and committed, oldest first. */
  readonly successful: readonly BatchWindow[];
  /** Batches that failed (rolled back), oldest first. */
  readonly failed: readonly FailedBatch[];
  /** Rows written by the successful batches. */
  readonly rows: number;
  /** The SQL of the last batch that ran. */
  readonly lastSql: string;
}

/** How {@linkcode runBatches} builds one batch. */
export interface BatchRunner {
  /**
   * Builds `batch` in its own transaction: creates the table when `create`
   * (nothing built yet this run, or a full refresh), else merges into it.
   * Gives the SQL it ran and the rows written; throws when the batch fails.
   */
  build(batch: BatchWindow, create: boolean): Promise<{ sql: string; rows: number }>;
}

/**
 * Runs `batches` through `runner`. Until one batch has created the table
 * (first run, full refresh) batches run one at a time, so the first that
 * succeeds creates it and the next ones merge; after that, up to
 * `concurrency` run at once. A failed batch is recorded and the others go on.
 */
export async function runBatches(
  batches: readonly BatchWindow[],
  runner: BatchRunner,
  options: { readonly tableExists: boolean; readonly concurrency: number },
): Promise<BatchOutcome> {
  const successful: BatchWindow[] = [];
  const failed: FailedBatch[] = [];
  let rows = 0;
  let lastSql = "";
  let created = options.tableExists;
  const runOne = async (batch: BatchWindow) => {
    try {
      const done = await runner.build(batch, !created);
      created = true;
      rows += done.rows;
      lastSql = done.sql;
      successful.push(batch);
    } catch (error) {
      failed.push({ batch, error });
    }
  };
  let next = 0;
  while (next < batches.length && !created) await runOne(batches[next++] as BatchWindow);
  const workers = Array.from(
    { length: Math.max(1, Math.min(options.concurrency, batches.length - next)) },
    async () => {
      while (next < batches.length) await runOne(batches[next++] as BatchWindow);
    },
  );
  await Promise.all(workers);
  const byStart = (a: { start: number }, b: { start: number }) => a.start - b.start;
  successful.sort(byStart);
  failed.sort((a, b) => byStart(a.batch, b.batch));
  return { successful, failed, rows, lastSql };
}

/**
 * Whether a microbatch model's batches may run at once, as dbt decides:
 * `concurrent_batches` when set; otherwise not when its SQL reads `this` or
 * `is_incremental()` (a batch would then depend on the ones before it).
 */
export function batchesMayOverlap(config: MicrobatchConfig, rawCode: string): boolean {
  if (config.concurrentBatches !== null) return config.concurrentBatches;
  return !/\bthis\b|\bis_incremental\s*\(/.test(rawCode);
}
