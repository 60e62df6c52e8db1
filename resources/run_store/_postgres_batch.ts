/**
 * The Postgres run store's write buffer contents and their commit: steps
 * (merged per run, asset and partition), events and the latest
 * materializations wait in a {@linkcode Batch}; {@linkcode commitBatch}
 * writes one batch in one transaction, sent as one message. Apart from
 * `postgres.ts` so that file holds the queries, as `_postgres_migrate.ts`
 * holds the migration.
 *
 * @module
 */

import type postgres from "postgres";
import type { Materialization } from "../../core/asset.ts";
import { mergeStep } from "../../core/run_store/base.ts";
import { OWNER_LOST_TAG, type StepRecord } from "../../core/run_store/types.ts";
import { toTime } from "./_postgres_migrate.ts";
import { partitionColumn, provenanceColumn } from "./_rows.ts";

/** Qualified table names by bare name, e.g. `run_steps` -> `ops.run_steps`. */
export type Tables = Readonly<Record<string, string>>;

/** Buffered writes that trigger a commit at once (and make writers wait for it). */
export const MAX_BUFFERED = 2_000;

/**
 * Serializes event inserts of every writer on the server (batch commits,
 * reaps), so event ids are committed in increasing order and a reader tailing
 * with `afterId` never skips an event committed late with a lower id.
 */
export const EVENT_LOCK = 0x72756e73; // "runs"

interface StepRow {
  run_id: string;
  asset_key: string;
  partition_key: string;
  status: string;
  attempts: number;
  started_at: number | null;
  finished_at: number | null;
  reason: string | null;
}

/** An event as the buffer holds it until the batch commits: the columns of the events table. */
export interface EventRow {
  run_id: string;
  type: string;
  time: number;
  asset_key: string | null;
  partition_key: string | null;
  data: string;
}

interface MaterializationRow {
  asset_key: string;
  partition_key: string;
  run_id: string;
  time: number;
  metadata: string;
  code_version: string | null;
  provenance: string | null;
}

/** What waits in the buffer: merged steps and events, in the order given. */
export class Batch {
  /** Steps by (run, asset, partition), merged. */
  readonly steps = new Map<string, StepRecord>();
  readonly events: EventRow[] = [];
  readonly materializations = new Map<string, MaterializationRow>();
  size = 0;

  putStep(step: StepRecord): void {
    const key = JSON.stringify([step.runId, step.assetKey, partitionColumn(step.partition)]);
    this.steps.set(key, mergeStep(this.steps.get(key), step));
    this.size++;
  }

  appendEvent(row: EventRow, m: Materialization | undefined, metadata: string): void {
    this.events.push(row);
    this.size++;
    if (!m) return;
    const key = JSON.stringify([m.assetKey, partitionColumn(m.partition)]);
    const previous = this.materializations.get(key);
    if (previous && previous.time > ms(m.time)) return;
    this.materializations.set(key, {
      asset_key: m.assetKey,
      partition_key: partitionColumn(m.partition),
      run_id: m.runId,
      time: ms(m.time),
      metadata,
      code_version: m.codeVersion,
      provenance: provenanceColumn(m),
    });
  }

  /** `other` (older) first, then this batch. */
  prepend(other: Batch): Batch {
    const merged = new Batch();
    for (const batch of [other, this]) {
      for (const step of batch.steps.values()) merged.putStep(step);
      merged.events.push(...batch.events);
      for (const row of batch.materializations.values()) {
        const key = JSON.stringify([row.asset_key, row.partition_key]);
        const previous = merged.materializations.get(key);
        if (!previous || row.time >= previous.time) merged.materializations.set(key, row);
      }
    }
    merged.size = other.size + this.size;
    return merged;
  }
}

/**
 * Milliseconds as the store keeps them: whole, so every time read back is
 * exactly the one written. A fake clock advanced by a jittered delay may give
 * fractions, which are rounded rather than refused (as when the columns were
 * `BIGINT`; `timestamptz` would keep microseconds, but then a time such as
 * `performance.now()` gives would not read back equal either).
 */
export function ms<T extends number | null>(value: T): T {
  return (value === null ? null : Math.round(value)) as T;
}

/** A (run, asset) pair for the `run_assets` index (runs by asset, in list order). */
export interface RunAssetRow {
  run_id: string;
  asset_key: string;
}

/**
 * Commits `batch` on `sql` as ONE simple-protocol message, with the (run,
 * asset) pairs `runAssets` not yet indexed in `run_assets`: the server runs
 * the statements of one message as a single implicit transaction (all or
 * none), so the event lock (see `EVENT_LOCK`) is held only while the server
 * executes them, never across round trips to this process. Measured with 4
 * workers on 2 busy cores: with `BEGIN … lock … COMMIT` as separate round
 * trips, a writer descheduled between them held the lock while every other
 * writer queued behind it (pg_stat_activity: ~1.2 sessions waiting on the
 * advisory lock on average, the holder "idle in transaction"); as one message
 * the lock no longer shows among the waits. The rows travel as JSON in
 * dollar-quoted literals (see {@linkcode jsonLiteral}), one statement per
 * table whatever the batch's size, as the `$1` text parameters did before.
 * Rejects with the driver's error; the caller keeps the batch for a later try.
 */
export async function commitBatch(
  sql: postgres.Sql,
  t: Tables,
  batch: Batch,
  runAssets: readonly RunAssetRow[] = [],
): Promise<void> {
  const text = batchStatements(t, batch, runAssets);
  // No parameters: postgres.js sends a simple Query message.
  if (text !== "") await sql.unsafe(text);
}

/** The statements of {@linkcode commitBatch}, as one text; empty when there is nothing to write. */
export function batchStatements(
  t: Tables,
  batch: Batch,
  runAssets: readonly RunAssetRow[] = [],
): string {
  const statements: string[] = [];
  if (batch.events.length > 0) statements.push(`SELECT pg_advisory_xact_lock(${EVENT_LOCK})`);
  if (batch.steps.size > 0) statements.push(insertSteps(t, [...batch.steps.values()]));
  if (runAssets.length > 0) {
    statements.push(
      `INSERT INTO ${t.run_assets} (asset_key, started_at, run_id)
       SELECT t.asset_key, r.started_at, r.run_id
       FROM json_to_recordset(${jsonLiteral(runAssets)}) AS t(run_id text, asset_key text)
         JOIN ${t.pipeline_runs} r ON r.run_id = t.run_id
       ON CONFLICT DO NOTHING`,
    );
  }
  if (batch.events.length > 0) statements.push(insertEvents(t, batch.events));
  if (batch.materializations.size > 0) {
    statements.push(upsertMaterializations(t, [...batch.materializations.values()]));
  }
  return statements.join(";\n");
}

/**
 * `value` as JSON in a dollar-quoted SQL literal typed `json`, for the
 * parameterless batch message. The quote tag is one the text does not
 * contain (not even as a prefix), so no content can end the literal early;
 * dollar quotes take the text verbatim whatever `standard_conforming_strings`
 * says.
 */
export function jsonLiteral(value: unknown): string {
  const text = JSON.stringify(value);
  let tag = "$b$";
  for (let n = 0; text.includes(tag.slice(0, -1)); n++) tag = `$b${n}$`;
  return `${tag}${text}${tag}::json`;
}

/**
 * The fence of a run taken for dead: once a reaper failed it (tag
 * `owner_lost`, written in the reap's transaction), what its owner still
 * sends is dropped. That owner was alive after all (its event loop blocked
 * by a long synchronous step, a stopped VM) and learns it only at its next
 * heartbeat: meanwhile its step's materialization would replace the retry's
 * as the asset's latest, from a failed run, and its step would read success
 * in the run the reaper failed. Rows of a run not recorded yet are kept, and
 * so are log lines (what it said, such as why it stopped, is worth reading).
 */
function notReaped(t: Tables): string {
  return `NOT EXISTS (SELECT 1 FROM ${t.pipeline_runs} AS fence WHERE fence.run_id = t.run_id
       AND (fence.tags::jsonb -> '${OWNER_LOST_TAG}') IS NOT NULL)`;
}

function insertSteps(t: Tables, steps: StepRecord[]): string {
  const rows: StepRow[] = steps.map((step) => ({
    run_id: step.runId,
    asset_key: step.assetKey,
    partition_key: partitionColumn(step.partition),
    status: step.status,
    attempts: step.attempts,
    started_at: ms(step.startedAt),
    finished_at: ms(step.finishedAt),
    reason: step.reason,
  }));
  return `INSERT INTO ${t.run_steps} (run_id, asset_key, partition_key, status, attempts,
       started_at, finished_at, reason)
     SELECT run_id, asset_key, partition_key, status, attempts, ${toTime("started_at")},
       ${toTime("finished_at")}, reason
     FROM ROWS FROM (json_to_recordset(${jsonLiteral(rows)}) AS (run_id text, asset_key text,
       partition_key text, status text, attempts integer, started_at float8, finished_at float8,
       reason text)) WITH ORDINALITY AS t(run_id, asset_key, partition_key, status, attempts,
       started_at, finished_at, reason, ord)
     WHERE ${notReaped(t)}
     ORDER BY ord
     ON CONFLICT (run_id, asset_key, partition_key) DO UPDATE SET status = excluded.status,
       attempts = excluded.attempts,
       started_at = COALESCE(excluded.started_at, run_steps.started_at),
       finished_at = excluded.finished_at, reason = excluded.reason`;
}

function insertEvents(t: Tables, rows: EventRow[]): string {
  return `INSERT INTO ${t.run_events} (run_id, type, time, asset_key, partition_key, data)
     SELECT run_id, type, ${toTime("time")}, asset_key, partition_key, data
     FROM ROWS FROM (json_to_recordset(${jsonLiteral(rows)}) AS (run_id text, type text,
       time float8, asset_key text, partition_key text, data text))
       WITH ORDINALITY AS t(run_id, type, time, asset_key, partition_key, data, ord)
     WHERE t.type = 'log' OR ${notReaped(t)}
     ORDER BY ord`;
}

function upsertMaterializations(t: Tables, rows: MaterializationRow[]): string {
  return `INSERT INTO ${t.materializations} AS m (asset_key, partition_key, run_id, time,
       metadata, code_version, provenance)
     SELECT asset_key, partition_key, run_id, ${toTime("time")}, metadata, code_version,
       provenance
     FROM json_to_recordset(${jsonLiteral(rows)}) AS t(asset_key text, partition_key text,
       run_id text, time float8, metadata text, code_version text, provenance text)
     WHERE ${notReaped(t)}
     ON CONFLICT (asset_key, partition_key) DO UPDATE SET run_id = excluded.run_id,
       time = excluded.time, metadata = excluded.metadata, code_version = excluded.code_version,
       provenance = excluded.provenance
     WHERE excluded.time >= m.time`;
}
