/**
 * Tables of the Postgres run queue, beside the run store's in the same
 * schema (`ops` by default): waiting and active runs, workers, and the
 * limits the leading coordinator applies.
 *
 * @module
 */

/** Schema the queue's tables go in by default (the run store's). */
export const DEFAULT_QUEUE_SCHEMA = "ops";

/** Schema of graphile-worker's own tables and functions. */
export const GRAPHILE_SCHEMA = "graphile_worker";

/** Task name of the graphile-worker job that hands a run to a worker. */
export const RUN_TASK = "platform_run";

/** NOTIFY channel raised when the queue changes. */
export const QUEUE_CHANNEL = "platform_run_queue";

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/** Checks a schema name that goes into SQL; throws `RangeError`. */
export function checkSchema(schema: string): string {
  if (!IDENTIFIER.test(schema)) {
    throw new RangeError(
      `Cannot use schema '${schema}' for the run queue: expected a lower-case SQL identifier`,
    );
  }
  return schema;
}

/** DDL creating the queue's tables when missing. */
export function queueDdl(schema: string): string {
  const s = checkSchema(schema);
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.run_queue (
  run_id text PRIMARY KEY,
  seq bigserial NOT NULL UNIQUE,
  state text NOT NULL CHECK (state IN ('queued', 'launched', 'started', 'finished', 'canceled')),
  priority integer NOT NULL DEFAULT 0,
  selection text NOT NULL,
  exclude text NOT NULL DEFAULT '',
  partitions jsonb,
  tags jsonb NOT NULL DEFAULT '{}',
  pools jsonb NOT NULL DEFAULT '[]',
  max_retries integer NOT NULL DEFAULT 0,
  attempt integer NOT NULL DEFAULT 1,
  root_run_id text NOT NULL,
  retry_of text,
  resume_from text,
  enqueued_at timestamptz NOT NULL,
  launched_at timestamptz,
  started_at timestamptz,
  finished_at timestamptz,
  worker_id text,
  cancel_requested text,
  outcome text
);
CREATE INDEX IF NOT EXISTS run_queue_waiting ON ${s}.run_queue (priority DESC, seq)
  WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS run_queue_active ON ${s}.run_queue (state)
  WHERE state IN ('launched', 'started');
CREATE TABLE IF NOT EXISTS ${s}.queue_workers (
  worker_id text PRIMARY KEY,
  host text NOT NULL,
  pid integer NOT NULL,
  concurrency integer NOT NULL,
  started_at timestamptz NOT NULL,
  heartbeat_at timestamptz NOT NULL,
  lease_ms integer NOT NULL,
  running integer NOT NULL DEFAULT 0,
  status text NOT NULL DEFAULT 'running',
  dispatch_ids jsonb NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS ${s}.queue_settings (
  name text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);`;
}
