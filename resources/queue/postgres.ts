/**
 * The run queue on PostgreSQL: waiting runs in `ops.run_queue` (beside the
 * run store's tables), handed to workers through **graphile-worker** jobs.
 *
 * What is ours and what is the library's (see DESIGN.md, "Run queue"):
 *
 * - Ours: the waiting list (priority, tags, pools, retries) and the limits,
 *   because a waiting run must be listed with why it waits, canceled, and
 *   counted against limits, which no job library does across several limits.
 *   Admission is one transaction under an advisory lock.
 * - graphile-worker's: delivering admitted runs to workers. The admission
 *   transaction calls its SQL function `graphile_worker.add_job(...)` (job key
 *   = run id), so a run is admitted and its job exists, or neither; workers
 *   get jobs over LISTEN/NOTIFY (milliseconds, no polling), `FOR UPDATE SKIP
 *   LOCKED` spreads them, `concurrency` bounds each worker, graceful shutdown
 *   returns jobs not yet begun, and `force_unlock_workers` frees the jobs of a
 *   worker that died.
 *
 * Exactly-once execution does not rest on the job lock (graphile-worker gives
 * a job locked for 4 hours to another worker): a worker `claim`s the run with
 * a conditional UPDATE, and only one claim succeeds.
 *
 * @module
 */

import { EventEmitter } from "node:events";
import type postgres from "postgres";
import { ResourceError, toError } from "../../core/errors.ts";
import { redact } from "../../core/secrets.ts";
import { admissionOrder } from "../../core/worker/admission.ts";
import {
  type AdmissionDecision,
  type AdmitOptions,
  checkNewQueuedRun,
  type Dispatcher,
  type Leadership,
  type LeadOptions,
  type ListQueueOptions,
  type NewQueuedRun,
  QUEUE_STATES,
  type QueuedRun,
  type QueueLimits,
  type QueueState,
  type RunQueue,
  type ServeOptions,
  type SlotHolder,
  type SlotRecord,
  type WorkerInfo,
  type WorkerRecord,
} from "../../core/worker/queue.ts";
import {
  connectPostgres,
  isConnectionFailure,
  type PostgresConnection,
  serverMessage,
} from "../_postgres.ts";
import {
  checkSchema,
  DEFAULT_QUEUE_SCHEMA,
  GRAPHILE_SCHEMA,
  QUEUE_CHANNEL,
  queueDdl,
  RUN_TASK,
} from "./_schema.ts";

/** Options of {@linkcode PostgresRunQueue.open}. */
export interface PostgresRunQueueOptions {
  /** Schema of the queue's tables. @default {"ops"} */
  readonly schema?: string;
  /** Seconds to wait for a connection. @default {5} */
  readonly connectTimeoutSeconds?: number;
  /** Connections of the queue's own pool. @default {4} */
  readonly maxConnections?: number;
  /**
   * Where graphile-worker's warnings and errors go (its debug and info lines
   * are dropped). @default {nowhere}
   */
  readonly onLibraryLog?: (level: "warning" | "error", message: string) => void;
}

const TARGET = {
  what: "the run queue",
  variable: "RUNS_URL",
  code: "queue.unreachable",
} as const;

/** Two-int advisory lock keys: a namespace, then a role hash. */
const LOCK_NAMESPACE = 0x71756575; // "queu"
const SETUP_LOCK = 1;
const ADMIT_LOCK = 2;

const COLUMNS = `run_id, seq::float8 AS seq, state, priority, selection, exclude, partitions, tags,
  pools, max_retries, attempt, root_run_id, retry_of, resume_from,
  (extract(epoch FROM enqueued_at) * 1000)::float8 AS enqueued_at,
  (extract(epoch FROM launched_at) * 1000)::float8 AS launched_at,
  (extract(epoch FROM started_at) * 1000)::float8 AS started_at,
  (extract(epoch FROM finished_at) * 1000)::float8 AS finished_at,
  worker_id, cancel_requested, outcome`;

interface QueueRow {
  run_id: string;
  seq: number;
  state: QueueState;
  priority: number;
  selection: string;
  exclude: string;
  partitions: QueuedRun["partitions"];
  tags: Record<string, string>;
  pools: string[];
  max_retries: number;
  attempt: number;
  root_run_id: string;
  retry_of: string | null;
  resume_from: string | null;
  enqueued_at: number;
  launched_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  worker_id: string | null;
  cancel_requested: string | null;
  outcome: string | null;
}

function toQueued(row: QueueRow): QueuedRun {
  return {
    runId: row.run_id,
    seq: row.seq,
    state: row.state,
    priority: row.priority,
    selection: row.selection,
    exclude: row.exclude,
    partitions: row.partitions,
    tags: row.tags,
    pools: row.pools,
    maxRetries: row.max_retries,
    attempt: row.attempt,
    rootRunId: row.root_run_id,
    retryOf: row.retry_of,
    resumeFrom: row.resume_from,
    enqueuedAt: row.enqueued_at,
    launchedAt: row.launched_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    workerId: row.worker_id,
    cancelRequested: row.cancel_requested,
    outcome: row.outcome,
  };
}

const ms = (param: string) => `to_timestamp(${param}::float8 / 1000)`;

/**
 * Run queue in a PostgreSQL database.
 *
 * @example
 * ```ts
 * import { PostgresRunQueue } from "./postgres.ts";
 * await using queue = await PostgresRunQueue.open("postgres://etl:secret@db:5432/platform");
 * console.log(queue.description); // postgres postgres://etl@db:5432/platform (ops)
 * ```
 */
export class PostgresRunQueue implements RunQueue {
  /** Backend, URL without password, schema. */
  readonly description: string;
  readonly #db: PostgresConnection;
  readonly #sql: postgres.Sql;
  readonly #url: string;
  readonly #schema: string;
  readonly #t: { queue: string; workers: string; settings: string; slots: string };
  readonly #options: PostgresRunQueueOptions;
  /** The workers' heartbeats' own connection (see `heartbeatWorker`), made at the first. */
  #beats: PostgresConnection | undefined;

  private constructor(
    db: PostgresConnection,
    url: string,
    schema: string,
    options: PostgresRunQueueOptions,
  ) {
    this.#db = db;
    this.#sql = db.sql;
    this.#url = url;
    this.#schema = schema;
    this.#options = options;
    this.description = `postgres ${db.location} (${schema})`;
    this.#t = {
      queue: `${schema}.run_queue`,
      workers: `${schema}.queue_workers`,
      settings: `${schema}.queue_settings`,
      slots: `${schema}.pool_slots`,
    };
  }

  /**
   * Connects, creates the queue's tables when missing and brings
   * graphile-worker's schema up to date. Fails with `queue.unreachable`
   * naming `RUNS_URL` (never the password) when the server cannot be reached.
   */
  static async open(url: string, options: PostgresRunQueueOptions = {}): Promise<PostgresRunQueue> {
    const schema = checkSchema(options.schema ?? DEFAULT_QUEUE_SCHEMA);
    const db = connectPostgres(url, TARGET, {
      application: "platform-run-queue",
      max: options.maxConnections ?? 4,
      connectTimeoutSeconds: options.connectTimeoutSeconds ?? 5,
    });
    const queue = new PostgresRunQueue(db, url, schema, options);
    try {
      await queue.#prepare();
    } catch (error) {
      await db.close(1).catch(() => {});
      throw queue.#error("prepare the queue's tables", error);
    }
    return queue;
  }

  async #prepare(): Promise<void> {
    await this.#sql.begin(async (tx) => {
      await tx.unsafe("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_NAMESPACE, SETUP_LOCK]);
      await tx.unsafe(queueDdl(this.#schema));
    });
    const { runMigrations } = await import("graphile-worker");
    await runMigrations({
      connectionString: this.#url,
      schema: GRAPHILE_SCHEMA,
      logger: await this.#libraryLogger(),
    });
  }

  /** A typed error for a failed statement, naming the queue and never the password. */
  #error(what: string, error: unknown): ResourceError {
    if (error instanceof ResourceError) return error;
    if (isConnectionFailure(error)) return this.#db.unreachable(error);
    return new ResourceError(
      "queue.failed",
      // PlatformError redacts its message and cause chain (core/secrets.ts).
      `Cannot ${what} in the run queue at ${this.#db.location}: ${serverMessage(error)}`,
      { input: "RUNS_URL", cause: error },
    );
  }

  async #run<T>(what: string, work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    try {
      return await work(this.#sql);
    } catch (error) {
      throw this.#error(what, error);
    }
  }

  async enqueue(runs: readonly NewQueuedRun[], now: number): Promise<string[]> {
    const checked = runs.map(checkNewQueuedRun);
    if (checked.length === 0) return [];
    const rows = checked.map((r) => ({
      run_id: r.runId,
      priority: r.priority,
      selection: r.selection,
      exclude: r.exclude,
      partitions: r.partitions,
      tags: r.tags,
      pools: r.pools,
      max_retries: r.maxRetries,
      attempt: r.attempt,
      root_run_id: r.rootRunId,
      retry_of: r.retryOf,
      resume_from: r.resumeFrom,
    }));
    return await this.#run("queue runs", (sql) => sql.begin((tx) => this.#insert(tx, rows, now)));
  }

  async #insert(tx: postgres.TransactionSql, rows: unknown[], now: number): Promise<string[]> {
    const inserted = await tx.unsafe<{ run_id: string }[]>(
      `INSERT INTO ${this.#t.queue} (run_id, state, priority, selection, exclude, partitions, tags,
         pools, max_retries, attempt, root_run_id, retry_of, resume_from, enqueued_at)
       SELECT x.run_id, 'queued', x.priority, x.selection, x.exclude, x.partitions, x.tags,
         x.pools, x.max_retries, x.attempt, x.root_run_id, x.retry_of, x.resume_from, ${ms("$2")}
       FROM jsonb_to_recordset($1::text::jsonb) AS x(run_id text, priority integer,
         selection text, exclude text, partitions jsonb, tags jsonb, pools jsonb,
         max_retries integer, attempt integer, root_run_id text, retry_of text, resume_from text)
       ORDER BY x.priority DESC
       ON CONFLICT (run_id) DO NOTHING
       RETURNING run_id`,
      [JSON.stringify(rows), now],
    );
    if (inserted.length > 0) await tx.unsafe(`SELECT pg_notify('${QUEUE_CHANNEL}', 'enqueue')`);
    return inserted.map((r) => r.run_id);
  }

  get(runId: string): Promise<QueuedRun | undefined> {
    return this.#run("read a queued run", async (sql) => {
      const rows = await sql.unsafe<QueueRow[]>(
        `SELECT ${COLUMNS} FROM ${this.#t.queue} WHERE run_id = $1`,
        [runId],
      );
      return rows[0] ? toQueued(rows[0]) : undefined;
    });
  }

  list(options: ListQueueOptions = {}): Promise<QueuedRun[]> {
    const states = [...new Set(options.states ?? QUEUE_STATES)];
    const limit = options.limit ?? 100;
    if (!Number.isSafeInteger(limit) || limit < 1) {
      return Promise.reject(new RangeError(`Cannot list the queue with limit ${limit}`));
    }
    const unknown = states.filter((s) => !(QUEUE_STATES as readonly string[]).includes(s));
    if (unknown.length > 0) {
      return Promise.reject(new RangeError(`Cannot list the queue in state(s) ${unknown}`));
    }
    const waiting = states.filter((s) => s === "queued" || s === "launched");
    const others = states.filter((s) => s !== "queued" && s !== "launched");
    // The states as literals (checked above), not a parameter: only then can the planner use
    // the partial indexes of the active states instead of walking every finished run by seq.
    const where = (list: readonly QueueState[]) =>
      `state IN (${list.map((s) => `'${s}'`).join(", ")})` +
      (options.workerId === undefined ? "" : " AND worker_id = $2");
    const params = (n: number) => options.workerId === undefined ? [n] : [n, options.workerId];
    return this.#run("list the queue", async (sql) => {
      const runs: QueuedRun[] = [];
      if (waiting.length > 0) {
        const rows = await sql.unsafe<QueueRow[]>(
          `SELECT ${COLUMNS} FROM ${this.#t.queue} WHERE ${where(waiting)}
           ORDER BY priority DESC, seq LIMIT $1`,
          params(limit),
        );
        runs.push(...rows.map(toQueued).sort(admissionOrder));
      }
      if (others.length > 0 && runs.length < limit) {
        const rows = await sql.unsafe<QueueRow[]>(
          `SELECT ${COLUMNS} FROM ${this.#t.queue} WHERE ${where(others)}
           ORDER BY seq DESC LIMIT $1`,
          params(limit - runs.length),
        );
        runs.push(...rows.map(toQueued));
      }
      return runs;
    });
  }

  counts(): Promise<Record<QueueState, number>> {
    return this.#run("count the queue", async (sql) => {
      const rows = await sql.unsafe<{ state: QueueState; n: number }[]>(
        `SELECT state, count(*)::float8 AS n FROM ${this.#t.queue} GROUP BY state`,
      );
      const counts = Object.fromEntries(QUEUE_STATES.map((s) => [s, 0])) as Record<
        QueueState,
        number
      >;
      for (const row of rows) counts[row.state] = row.n;
      return counts;
    });
  }

  admit(decide: AdmissionDecision, options: AdmitOptions): Promise<string[]> {
    const scan = options.scanLimit ?? 1000;
    return this.#run("admit queued runs", async (sql) => {
      // Nothing queued (the common case once a burst is admitted): no lock, no scan.
      const waiting = await sql.unsafe(
        `SELECT 1 FROM ${this.#t.queue} WHERE state = 'queued' LIMIT 1`,
      );
      if (waiting.length === 0) return [];
      return await sql.begin(async (tx) => {
        await tx.unsafe("SELECT pg_advisory_xact_lock($1, $2)", [LOCK_NAMESPACE, ADMIT_LOCK]);
        const active = await tx.unsafe<
          { run_id: string; tags: Record<string, string>; pools: string[] }[]
        >(
          `SELECT run_id, tags, pools FROM ${this.#t.queue}
           WHERE state IN ('launched', 'started')`,
        );
        const queued = await tx.unsafe<QueueRow[]>(
          `SELECT ${COLUMNS} FROM ${this.#t.queue} WHERE state = 'queued'
           ORDER BY priority DESC, seq LIMIT $1`,
          [scan],
        );
        const ids = decide(
          queued.map(toQueued),
          active.map((r) => ({ runId: r.run_id, tags: r.tags, pools: r.pools })),
        );
        if (ids.length === 0) return [];
        const launched = await tx.unsafe<{ run_id: string; priority: number }[]>(
          `UPDATE ${this.#t.queue} SET state = 'launched', launched_at = ${ms("$2")}
           WHERE run_id = ANY($1::text[]) AND state = 'queued'
           RETURNING run_id, priority`,
          [ids, options.now],
        );
        // graphile-worker runs lower numbers first; ours are higher first (smallint range).
        await tx.unsafe(
          `SELECT ${GRAPHILE_SCHEMA}.add_job('${RUN_TASK}', json_build_object('runId', t.id),
             job_key := t.id, priority := greatest(-32768, least(32767, -t.p)),
             max_attempts := 25)
           FROM unnest($1::text[], $2::int[]) AS t(id, p)`,
          [launched.map((r) => r.run_id), launched.map((r) => r.priority)],
        );
        const order = new Map(ids.map((id, i) => [id, i]));
        return launched.map((r) => r.run_id).sort((a, b) =>
          (order.get(a) ?? 0) - (order.get(b) ?? 0)
        );
      });
    });
  }

  claim(runId: string, workerId: string, now: number): Promise<QueuedRun | undefined> {
    return this.#run("claim a run", async (sql) => {
      const rows = await sql.unsafe<QueueRow[]>(
        `UPDATE ${this.#t.queue} SET state = 'started', worker_id = $2,
           started_at = CASE WHEN state = 'launched' THEN ${ms("$3")} ELSE started_at END
         WHERE run_id = $1 AND (state = 'launched' OR (state = 'started' AND worker_id = $2))
         RETURNING ${COLUMNS}`,
        [runId, workerId, now],
      );
      return rows[0] ? toQueued(rows[0]) : undefined;
    });
  }

  async finish(
    runId: string,
    outcome: string,
    now: number,
    retry?: NewQueuedRun,
  ): Promise<boolean> {
    const next = retry ? checkNewQueuedRun(retry) : undefined;
    return await this.#run("finish a run", (sql) =>
      sql.begin(async (tx) => {
        const done = await tx.unsafe(
          `UPDATE ${this.#t.queue} SET state = 'finished', finished_at = ${ms("$3")}, outcome = $2
           WHERE run_id = $1 AND state = 'started' RETURNING run_id`,
          [runId, outcome, now],
        );
        if (done.length === 0) return false;
        if (next) {
          await this.#insert(tx, [{
            run_id: next.runId,
            priority: next.priority,
            selection: next.selection,
            exclude: next.exclude,
            partitions: next.partitions,
            tags: next.tags,
            pools: next.pools,
            max_retries: next.maxRetries,
            attempt: next.attempt,
            root_run_id: next.rootRunId,
            retry_of: next.retryOf,
            resume_from: next.resumeFrom,
          }], now);
        } else {
          await tx.unsafe(`SELECT pg_notify('${QUEUE_CHANNEL}', 'finish')`);
        }
        return true;
      }));
  }

  release(runId: string): Promise<boolean> {
    return this.#run("release a run", async (sql) => {
      const rows = await sql.unsafe(
        `WITH released AS (
           UPDATE ${this.#t.queue}
           SET state = 'queued', launched_at = NULL, started_at = NULL, worker_id = NULL
           WHERE run_id = $1 AND state = 'started' RETURNING run_id)
         SELECT run_id, pg_notify('${QUEUE_CHANNEL}', 'release') FROM released`,
        [runId],
      );
      return rows.length > 0;
    });
  }

  cancel(runId: string, reason: string, now: number): Promise<QueuedRun | undefined> {
    return this.#run("cancel a run", (sql) =>
      sql.begin(async (tx) => {
        const canceled = await tx.unsafe<QueueRow[]>(
          `UPDATE ${this.#t.queue} SET state = 'canceled', finished_at = ${ms("$3")},
             outcome = 'canceled: ' || $2
           WHERE run_id = $1 AND state IN ('queued', 'launched')
           RETURNING ${COLUMNS}`,
          [runId, reason, now],
        );
        if (canceled[0]) {
          // Its job, if admitted: a locked one is harmless (the claim fails).
          await tx.unsafe(`SELECT ${GRAPHILE_SCHEMA}.remove_job($1)`, [runId]);
          await tx.unsafe(`SELECT pg_notify('${QUEUE_CHANNEL}', 'cancel')`);
          return toQueued(canceled[0]);
        }
        const rows = await tx.unsafe<QueueRow[]>(
          `UPDATE ${this.#t.queue} SET cancel_requested = coalesce(cancel_requested, $2)
           WHERE run_id = $1 AND state = 'started'
           RETURNING ${COLUMNS}`,
          [runId, reason],
        );
        if (rows[0]) {
          await tx.unsafe(`SELECT pg_notify('${QUEUE_CHANNEL}', 'cancel')`);
          return toQueued(rows[0]);
        }
        const [row] = await tx.unsafe<QueueRow[]>(
          `SELECT ${COLUMNS} FROM ${this.#t.queue} WHERE run_id = $1`,
          [runId],
        );
        return row ? toQueued(row) : undefined;
      }));
  }

  heartbeatWorker(
    worker: WorkerInfo,
    now: number,
    leaseMs: number,
    running: number,
    status: WorkerRecord["status"],
    dispatchIds: readonly string[],
  ): Promise<void> {
    // On a connection of their own: statements waiting for a lock on the queue table (a long
    // transaction, a migration, VACUUM FULL) could otherwise hold every connection of the pool,
    // and a live worker whose heartbeat waits behind them is taken for dead and forgotten (its
    // deliveries and pool slots freed) once the lock goes.
    this.#beats ??= connectPostgres(this.#url, TARGET, {
      application: "platform-run-queue-heartbeat",
      max: 1,
      connectTimeoutSeconds: this.#options.connectTimeoutSeconds ?? 5,
    });
    const beats = this.#beats;
    return this.#run("record a worker's heartbeat", async () => {
      await beats.sql.unsafe(
        `INSERT INTO ${this.#t.workers} (worker_id, host, pid, concurrency, started_at,
           heartbeat_at, lease_ms, running, status, dispatch_ids)
         VALUES ($1, $2, $3, $4, ${ms("$5")}, ${ms("$5")}, $6, $7, $8, $9::text::jsonb)
         ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at,
           lease_ms = excluded.lease_ms, running = excluded.running, status = excluded.status,
           dispatch_ids = excluded.dispatch_ids`,
        [
          worker.workerId,
          worker.host,
          worker.pid,
          worker.concurrency,
          now,
          leaseMs,
          running,
          status,
          JSON.stringify(dispatchIds),
        ],
      );
    });
  }

  listWorkers(): Promise<WorkerRecord[]> {
    return this.#run("list workers", async (sql) => {
      const rows = await sql.unsafe<
        {
          worker_id: string;
          host: string;
          pid: number;
          concurrency: number;
          started_at: number;
          heartbeat_at: number;
          lease_ms: number;
          running: number;
          status: WorkerRecord["status"];
        }[]
      >(
        `SELECT worker_id, host, pid, concurrency,
           (extract(epoch FROM started_at) * 1000)::float8 AS started_at,
           (extract(epoch FROM heartbeat_at) * 1000)::float8 AS heartbeat_at,
           lease_ms, running, status
         FROM ${this.#t.workers} ORDER BY started_at`,
      );
      return rows.map((r) => ({
        workerId: r.worker_id,
        host: r.host,
        pid: r.pid,
        concurrency: r.concurrency,
        startedAt: r.started_at,
        heartbeatAt: r.heartbeat_at,
        leaseMs: r.lease_ms,
        running: r.running,
        status: r.status,
      }));
    });
  }

  forgetWorkers(workerIds: readonly string[]): Promise<void> {
    if (workerIds.length === 0) return Promise.resolve();
    return this.#run("forget workers", (sql) =>
      sql.begin(async (tx) => {
        const rows = await tx.unsafe<{ dispatch_ids: string[] }[]>(
          `DELETE FROM ${this.#t.workers} WHERE worker_id = ANY($1::text[]) RETURNING dispatch_ids`,
          [[...workerIds]],
        );
        const ids = rows.flatMap((r) => r.dispatch_ids);
        if (ids.length > 0) {
          await tx.unsafe(`SELECT ${GRAPHILE_SCHEMA}.force_unlock_workers($1::text[])`, [ids]);
        }
        // Their steps died with them: their pool slots go to the steps waiting.
        const freed = await tx.unsafe(
          `DELETE FROM ${this.#t.slots} WHERE worker_id = ANY($1::text[]) RETURNING pool`,
          [[...workerIds]],
        );
        if (freed.length > 0) await tx.unsafe(`SELECT pg_notify('${QUEUE_CHANNEL}', 'slots')`);
      }));
  }

  takeSlots(
    holder: SlotHolder,
    limits: Readonly<Record<string, number>>,
    now: number,
  ): Promise<boolean> {
    const pools = [...new Set(holder.pools)].filter((p) => limits[p] !== undefined).sort();
    if (pools.length === 0) return Promise.resolve(true);
    return this.#run("take pool slots", (sql) =>
      sql.begin(async (tx) => {
        // One lock per pool, always in the same (sorted) order: no deadlock
        // between steps asking for several pools.
        for (const pool of pools) {
          await tx.unsafe("SELECT pg_advisory_xact_lock($1, hashtext($2))", [
            LOCK_NAMESPACE,
            `pool:${pool}`,
          ]);
        }
        const rows = await tx.unsafe<{ pool: string; used: number; mine: number }[]>(
          `SELECT pool, count(*)::int AS used, count(*) FILTER (WHERE holder_id = $2)::int AS mine
           FROM ${this.#t.slots} WHERE pool = ANY($1::text[]) GROUP BY pool`,
          [pools, holder.holderId],
        );
        if (rows.some((r) => r.mine > 0)) return true; // taken already (a retried call)
        const used = new Map(rows.map((r) => [r.pool, r.used]));
        if (pools.some((p) => (used.get(p) ?? 0) >= (limits[p] as number))) return false;
        await tx.unsafe(
          `INSERT INTO ${this.#t.slots} (pool, holder_id, run_id, step, worker_id, taken_at)
           SELECT pool, $2, $3, $4, $5, ${ms("$6")} FROM unnest($1::text[]) AS pool`,
          [pools, holder.holderId, holder.runId, holder.step, holder.workerId, now],
        );
        return true;
      }));
  }

  giveSlots(holderId: string): Promise<void> {
    return this.#run("give pool slots back", (sql) =>
      sql.begin(async (tx) => {
        const freed = await tx.unsafe(
          `DELETE FROM ${this.#t.slots} WHERE holder_id = $1 RETURNING pool`,
          [holderId],
        );
        if (freed.length > 0) await tx.unsafe(`SELECT pg_notify('${QUEUE_CHANNEL}', 'slots')`);
      }));
  }

  listSlots(): Promise<SlotRecord[]> {
    return this.#run("list pool slots", async (sql) => {
      const rows = await sql.unsafe<
        {
          pool: string;
          holder_id: string;
          run_id: string;
          step: string;
          worker_id: string;
          taken_at: number;
        }[]
      >(
        `SELECT pool, holder_id, run_id, step, worker_id,
           (extract(epoch FROM taken_at) * 1000)::float8 AS taken_at
         FROM ${this.#t.slots} ORDER BY taken_at, pool`,
      );
      return rows.map((r) => ({
        pool: r.pool,
        holderId: r.holder_id,
        runId: r.run_id,
        step: r.step,
        workerId: r.worker_id,
        takenAt: Number(r.taken_at),
      }));
    });
  }

  publishLimits(limits: QueueLimits, now: number): Promise<void> {
    return this.#run("publish the limits", async (sql) => {
      await sql.unsafe(
        `INSERT INTO ${this.#t.settings} (name, value, updated_at)
         VALUES ('limits', $1::text::jsonb, ${ms("$2")})
         ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
        [JSON.stringify(limits), now],
      );
    });
  }

  publishedLimits(): Promise<QueueLimits | undefined> {
    return this.#run("read the limits", async (sql) => {
      const rows = await sql.unsafe<{ value: QueueLimits }[]>(
        `SELECT value FROM ${this.#t.settings} WHERE name = 'limits'`,
      );
      return rows[0]?.value;
    });
  }

  unlockStaleDeliveries(olderThanMs: number): Promise<string[]> {
    return this.#run("free stale deliveries", async (sql) => {
      const rows = await sql.unsafe<{ run_id: string }[]>(
        `UPDATE ${GRAPHILE_SCHEMA}._private_jobs AS j SET locked_by = NULL, locked_at = NULL
         FROM ${this.#t.queue} AS q
         WHERE q.state = 'launched' AND j.key = q.run_id AND j.locked_at IS NOT NULL
           AND j.locked_at < now() - make_interval(secs => $1::float8 / 1000)
         RETURNING q.run_id`,
        [olderThanMs],
      );
      // A launched run with no job at all (its job ended without the run being claimed,
      // around a restart): a new job, as admission makes.
      const orphans = await sql.unsafe<{ run_id: string }[]>(
        `SELECT ${GRAPHILE_SCHEMA}.add_job('${RUN_TASK}', json_build_object('runId', q.run_id),
           job_key := q.run_id, priority := greatest(-32768, least(32767, -q.priority)),
           max_attempts := 25), q.run_id
         FROM ${this.#t.queue} AS q
         WHERE q.state = 'launched'
           AND q.launched_at < now() - make_interval(secs => $1::float8 / 1000)
           AND NOT EXISTS (SELECT 1 FROM ${GRAPHILE_SCHEMA}._private_jobs AS j WHERE j.key = q.run_id)`,
        [olderThanMs],
      );
      rows.push(...orphans);
      if (rows.length > 0) {
        // graphile-worker's own wake-up: its workers fetch the freed jobs at once.
        await sql.unsafe(`SELECT pg_notify('jobs:insert', $1)`, [
          JSON.stringify({ count: rows.length }),
        ]);
      }
      return rows.map((r) => r.run_id);
    });
  }

  /**
   * Delivers this worker's jobs through a graphile-worker runner, started
   * again whenever it stops on its own: graphile-worker 0.18 stops its whole
   * runner when one of its worker loops fails to reach the server ("Worker
   * exited with error: connect ECONNREFUSED" during a Postgres restart), which
   * would leave this process alive, heartbeating, and taking no run. The
   * stopped runner first finishes the jobs it had begun (so `concurrency`
   * holds); the next one starts after it, trying again every
   * `RESTART_RUNNER_MS` while the server is away.
   *
   * Stopping is bounded once this worker's runs have ended: graphile-worker
   * 0.18's job-completion batcher never settles its release after one failed
   * batch (its back-pressure counter goes below zero with every later
   * success), so a worker that lived through a lost connection would hang on
   * SIGTERM for ever. After the last run ends the library gets
   * `LIBRARY_STOP_MS`; jobs it still holds are freed when the worker's record
   * is removed (`forgetWorkers` calls `force_unlock_workers`), and the
   * exactly-once claim makes a second delivery harmless.
   */
  async serve(options: ServeOptions): Promise<Dispatcher> {
    const { run } = await import("graphile-worker");
    const dispatchIds: string[] = [];
    const active = new Set<Promise<void>>();
    const concurrency = options.worker.concurrency;
    const logger = await this.#libraryLogger();
    const start = async () => {
      const events = new EventEmitter();
      // graphile-worker 0.18 locks the jobs it fetches with its pool's id (`locked_by =
      // "pool-..."`), not its workers' ("worker-..."): both are recorded, so that
      // `force_unlock_workers` in `forgetWorkers` frees what a dead worker held.
      events.on("pool:create", (event: { workerPool: { id: string } }) => {
        dispatchIds.push(event.workerPool.id);
      });
      events.on("worker:create", (event: { worker: { workerId: string } }) => {
        dispatchIds.push(event.worker.workerId);
      });
      const shuttingDown = new Promise<void>((resolve) =>
        events.once("pool:gracefulShutdown", () => resolve())
      );
      const runner = await run({
        connectionString: this.#url,
        schema: GRAPHILE_SCHEMA,
        concurrency,
        maxPoolSize: concurrency + 2,
        noHandleSignals: true,
        // LISTEN/NOTIFY delivers new jobs; polling is only the fallback.
        pollInterval: 2_000,
        gracefulShutdownAbortTimeout: 24 * 3_600_000,
        // Completing/failing a job in batches: graphile-worker 0.18 otherwise calls
        // `completeJob(job)` without awaiting it, so a Postgres restart while a job ends
        // rejects unhandled and kills the worker process ("Connection terminated
        // unexpectedly", seen in tests/core/worker/cluster_process_test.ts). The batch path
        // handles its own errors (but see the doc above on its release).
        preset: { worker: { completeJobBatchDelay: 0, failJobBatchDelay: 0 } },
        logger,
        events: events as never,
        taskList: {
          [RUN_TASK]: async (payload, helpers) => {
            const runId = (payload as { runId?: unknown }).runId;
            if (typeof runId !== "string") return; // not ours: nothing to do
            const handling = options.handler(runId, helpers.abortSignal);
            active.add(handling);
            try {
              await handling;
            } finally {
              active.delete(handling);
            }
          },
        },
      });
      return { runner, shuttingDown };
    };
    type Started = Awaited<ReturnType<typeof start>>;
    const idle = async () => {
      while (active.size > 0) await Promise.allSettled([...active]);
    };
    /**
     * Until `current` has ended (`true`), or, once its pool is shutting down,
     * until `LIBRARY_STOP_MS` after this worker's runs ended (`false`).
     */
    const ended = async (current: Started, runsEnded: () => Promise<void>) => {
      const timers = new AbortController();
      try {
        return await Promise.race([
          current.runner.promise.then(() => true, () => true),
          (async () => {
            await current.shuttingDown;
            await runsEnded();
            await abortableDelay(LIBRARY_STOP_MS, timers.signal);
            return false;
          })(),
        ]);
      } finally {
        timers.abort();
      }
    };
    let current: Started;
    try {
      current = await start();
    } catch (error) {
      throw this.#error("start delivering runs to this worker", error);
    }
    const stopping = new AbortController();
    const sink = this.#options.onLibraryLog;
    const supervising = (async () => {
      while (!stopping.signal.aborted) {
        const whole = await ended(current, idle);
        if (stopping.signal.aborted) return;
        sink?.(
          "warning",
          whole
            ? "graphile-worker's runner stopped on its own; starting it again"
            : `graphile-worker's runner did not finish stopping within ${LIBRARY_STOP_MS} ms ` +
              "of its last run; starting a new one beside it",
        );
        while (!stopping.signal.aborted) {
          try {
            current = await start();
            break;
          } catch (error) {
            sink?.(
              "warning",
              redact(`cannot start graphile-worker again: ${toError(error).message}`),
            );
            await abortableDelay(RESTART_RUNNER_MS, stopping.signal);
          }
        }
      }
    })();
    return {
      dispatchIds: () => [...dispatchIds],
      stop: async (abortAfterMs) => {
        stopping.abort();
        // "Already stopped" when it stopped on its own.
        await current.runner.stop().catch(() => {});
        const timers = new AbortController();
        try {
          const whole = await ended(
            current,
            () => Promise.race([idle(), abortableDelay(abortAfterMs, timers.signal)]),
          );
          if (!whole) {
            sink?.(
              "warning",
              `graphile-worker did not stop within ${LIBRARY_STOP_MS} ms of this worker's last ` +
                "run; stopping without it (the jobs it holds are freed with this worker's record)",
            );
          }
        } finally {
          timers.abort();
        }
        await supervising;
      },
    };
  }

  async watch(listener: () => void, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return;
    const subscription = await this.#run(
      "listen for queue changes",
      (sql) => sql.listen(QUEUE_CHANNEL, () => listener(), () => listener()),
    );
    signal.addEventListener("abort", () => void subscription.unlisten().catch(() => {}), {
      once: true,
    });
  }

  /**
   * A session-level advisory lock on a reserved connection. With
   * `options.leaseMs` the session also gets `idle_session_timeout`: the
   * server ends it (freeing the lock) once it sat idle that long, which is
   * what a stopped or hung holder looks like from the server, as `held()`
   * asks on that same connection.
   */
  async tryLead(role: string, options: LeadOptions = {}): Promise<Leadership | undefined> {
    const key = roleKey(`${this.#schema}:${role}`);
    const reserved = await this.#run("reserve a connection", (sql) => sql.reserve());
    let acquired = false;
    try {
      const [row] = await reserved.unsafe<{ ok: boolean }[]>(
        "SELECT pg_try_advisory_lock($1, $2) AS ok",
        [LOCK_NAMESPACE, key],
      );
      acquired = row?.ok === true;
    } catch (error) {
      reserved.release();
      throw this.#error(`take the lead of '${role}'`, error);
    }
    if (!acquired) {
      reserved.release();
      return undefined;
    }
    if (options.leaseMs !== undefined) {
      try {
        await reserved.unsafe(
          `SET idle_session_timeout = ${Math.max(1, Math.ceil(options.leaseMs))}`,
        );
      } catch (error) {
        // Before PostgreSQL 14 there is no idle_session_timeout: the lead is then held for as
        // long as its connection lives (a stopped holder keeps it), as it always was.
        if (!/idle_session_timeout/.test(serverMessage(error))) {
          reserved.release();
          throw this.#error(`take the lead of '${role}'`, error);
        }
      }
    }
    let released = false;
    return {
      held: async () => {
        if (released) return false;
        try {
          // A reconnected session would not hold the lock: ask the server, not the client.
          const [row] = await reserved.unsafe<{ n: number }[]>(
            `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory'
             AND pid = pg_backend_pid() AND classid = $1 AND objid = $2 AND granted`,
            [LOCK_NAMESPACE, key >>> 0],
          );
          return (row?.n ?? 0) > 0;
        } catch {
          return false;
        }
      },
      release: async () => {
        if (released) return;
        released = true;
        try {
          await reserved.unsafe("SELECT pg_advisory_unlock($1, $2)", [LOCK_NAMESPACE, key]);
          // The connection goes back to the shared pool: without this the server would end
          // it once idle for the lease, under whichever query is sent on it next.
          if (options.leaseMs !== undefined) await reserved.unsafe("RESET idle_session_timeout");
        } catch {
          // The session is gone: so is the lock (and its timeout).
        } finally {
          reserved.release();
        }
      },
    };
  }

  async #libraryLogger() {
    const { Logger } = await import("graphile-worker");
    const sink = this.#options.onLibraryLog;
    return new Logger(() => (level, message) => {
      if (level === "error" || level === "warning") sink?.(level, redact(message));
    });
  }

  /** Closes the pools. */
  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all([this.#db.close(), this.#beats?.close()]);
  }
}

/** How long a worker waits between two tries to start graphile-worker again. */
const RESTART_RUNNER_MS = 1_000;

/** How long graphile-worker may take to stop after this worker's last run (see `serve`). */
const LIBRARY_STOP_MS = 5_000;

/** Resolves after `ms`, or at once when `signal` aborts. */
function abortableDelay(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/** A stable 31-bit key for an advisory lock named `name`. */
function roleKey(name: string): number {
  let hash = 5381;
  for (let i = 0; i < name.length; i++) hash = ((hash * 33) ^ name.charCodeAt(i)) | 0;
  return hash & 0x7fffffff;
}
