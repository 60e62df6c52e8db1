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

/**
 * The run store's event lock (resources/run_store/postgres.ts `EVENT_LOCK`):
 * queue events take it too, so event ids commit in increasing order for a
 * reader tailing the feed.
 */
const EVENT_LOCK = 0x72756e73;

/**
 * DDL creating the queue's tables when missing, and the triggers that put a
 * run's life in the queue into the run store's event feed (`run_events`,
 * same schema), in the transaction that changes the queue:
 *
 * - `run_queued` when a run enters the queue (launch, backfill, retry),
 *   data = selection, exclude, partitions, tags, priority, attempt, retry_of;
 * - `run_dequeued` when it leaves the queue without a run record (canceled
 *   while waiting, nothing left to run), data = state, outcome.
 *
 * So a daemon (also a new leader after a failover) sees a run requested as
 * soon as it is queued, and sees it end even when it never started. Without
 * a `run_events` table (a queue used without a run store) nothing is written.
 */
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
CREATE INDEX IF NOT EXISTS run_queue_worker ON ${s}.run_queue (worker_id)
  WHERE state = 'started';
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
CREATE TABLE IF NOT EXISTS ${s}.pool_slots (
  pool text NOT NULL,
  holder_id text NOT NULL,
  run_id text NOT NULL,
  step text NOT NULL,
  worker_id text NOT NULL,
  taken_at timestamptz NOT NULL,
  PRIMARY KEY (holder_id, pool)
);
CREATE INDEX IF NOT EXISTS pool_slots_pool ON ${s}.pool_slots (pool);
CREATE INDEX IF NOT EXISTS pool_slots_worker ON ${s}.pool_slots (worker_id);
CREATE TABLE IF NOT EXISTS ${s}.queue_settings (
  name text PRIMARY KEY,
  value jsonb NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE OR REPLACE FUNCTION ${s}.run_queue_enqueued() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF to_regclass('${s}.run_events') IS NULL OR NOT EXISTS (SELECT 1 FROM added) THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(${EVENT_LOCK});
  INSERT INTO ${s}.run_events (run_id, type, time, data)
  SELECT a.run_id, 'run_queued', a.enqueued_at, jsonb_build_object('selection', a.selection,
      'exclude', a.exclude, 'partitions', a.partitions, 'tags', a.tags, 'priority', a.priority,
      'attempt', a.attempt, 'retry_of', a.retry_of)::text
  FROM added AS a ORDER BY a.seq;
  RETURN NULL;
END $fn$;
CREATE OR REPLACE FUNCTION ${s}.run_queue_dequeued() RETURNS trigger LANGUAGE plpgsql AS $fn$
BEGIN
  IF to_regclass('${s}.run_events') IS NULL OR to_regclass('${s}.pipeline_runs') IS NULL THEN
    RETURN NULL;
  END IF;
  IF NOT EXISTS (
    SELECT 1 FROM changed AS n JOIN previous AS o USING (run_id)
    WHERE n.state IN ('finished', 'canceled') AND o.state NOT IN ('finished', 'canceled')
  ) THEN
    RETURN NULL;
  END IF;
  PERFORM pg_advisory_xact_lock(${EVENT_LOCK});
  INSERT INTO ${s}.run_events (run_id, type, time, data)
  SELECT n.run_id, 'run_dequeued', coalesce(n.finished_at, now()),
    jsonb_build_object('state', n.state, 'outcome', n.outcome)::text
  FROM changed AS n JOIN previous AS o USING (run_id)
  WHERE n.state IN ('finished', 'canceled') AND o.state NOT IN ('finished', 'canceled')
    AND NOT EXISTS (SELECT 1 FROM ${s}.pipeline_runs AS r WHERE r.run_id = n.run_id)
  ORDER BY n.seq;
  RETURN NULL;
END $fn$;
DO $do$
BEGIN
  -- Created once: DROP/CREATE at every open would lock the queue table each time.
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
      WHERE tgname = 'run_queue_enqueued' AND tgrelid = '${s}.run_queue'::regclass) THEN
    CREATE TRIGGER run_queue_enqueued AFTER INSERT ON ${s}.run_queue
      REFERENCING NEW TABLE AS added FOR EACH STATEMENT
      EXECUTE FUNCTION ${s}.run_queue_enqueued();
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_trigger
      WHERE tgname = 'run_queue_dequeued' AND tgrelid = '${s}.run_queue'::regclass) THEN
    CREATE TRIGGER run_queue_dequeued AFTER UPDATE ON ${s}.run_queue
      REFERENCING OLD TABLE AS previous NEW TABLE AS changed FOR EACH STATEMENT
      EXECUTE FUNCTION ${s}.run_queue_dequeued();
  END IF;
END $do$;`;
}
