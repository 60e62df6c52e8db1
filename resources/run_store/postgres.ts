/**
 * The server run store: PostgreSQL through postgres.js, tables in schema
 * `ops` (created at open when missing).
 *
 * Steps and events are buffered and committed together, one transaction per
 * batch (at most {@linkcode PostgresRunStoreOptions.flushIntervalMs} later),
 * so the executor pays no network round trip per asset. Everything else
 * (runs, cursors, run keys, dynamic partitions) is written at once, after the
 * buffer, and reads commit the buffer first.
 *
 * Time columns are `timestamptz`, for SQL users of `ops.*`; the records carry
 * epoch milliseconds, converted at the boundary (`to_timestamp(ms / 1000)`
 * on the way in, `extract(epoch ...) * 1000` on the way out). Tables made by
 * an older version, with `BIGINT` milliseconds, are migrated at open.
 *
 * @module
 */

import type postgres from "postgres";
import type { Materialization } from "../../core/asset.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import { DiskFullError, lastingFailure, ResourceError } from "../../core/errors.ts";
import {
  type AssetEventFilter,
  type AutomationRecordFilter,
  type EventFeedFilter,
  ownerIsGone,
  reapedRun,
  reapedStep,
  reapEvent,
  type RunFilter,
  RunStoreBase,
  type SerializedAutomationRecord,
  type SerializedEvent,
  tickCollapses,
} from "../../core/run_store/base.ts";
import {
  type AutomationState,
  type CancelRequest,
  type HeartbeatReply,
  type ListEventsOptions,
  type NewTick,
  OWNER_LOST_TAG,
  type ReapOptions,
  type RunKeyClaim,
  type RunOwner,
  type RunRecord,
  type RunUpdate,
  type StepRecord,
  type StoredAutomationRecord,
  type StoredRunEvent,
  TICK_HISTORY,
  type TickRecord,
} from "../../core/run_store/types.ts";
import {
  connectPostgres,
  isConnectionFailure,
  isTransient,
  type PostgresConnection,
  serverMessage,
} from "../_postgres.ts";
import { WriteBuffer } from "./_buffer.ts";
import { Batch, commitBatch, EVENT_LOCK, MAX_BUFFERED, ms } from "./_postgres_batch.ts";
import { prepareSchema, toTime } from "./_postgres_migrate.ts";
import { IndexedPairs } from "./_indexed_pairs.ts";
import {
  partitionColumn,
  toAutomationRecord,
  toAutomationState,
  toEvent,
  toMaterialization,
  toRun,
  toStep,
  toTick,
} from "./_rows.ts";
import { type RunListDialect, runListQuery } from "./_run_list.ts";
import { POSTGRES_RUN_STORE_SCHEMA, RUN_STORE_TABLE_NAMES, runStoreDdl } from "./_schema.ts";

/** Options of {@linkcode PostgresRunStore.open}. */
export interface PostgresRunStoreOptions {
  /**
   * Seconds to wait for a connection before failing with `run_store.unreachable`.
   * @default {5}
   */
  connectTimeoutSeconds?: number;
  /**
   * Most connections kept open at once.
   * @default {4}
   */
  maxConnections?: number;
  /**
   * Longest time a step or event waits in the buffer, in milliseconds.
   * @default {50}
   */
  flushIntervalMs?: number;
  /**
   * Schema of the tables; a lower-case identifier.
   * @default {"ops"}
   */
  schema?: string;
  /**
   * Longest a statement may run before the server cancels it
   * (`statement_timeout`), in milliseconds: run store statements are small,
   * so a longer one means a stuck lock or server. `0` for no bound.
   * @default {60000}
   */
  statementTimeoutMs?: number;
  /**
   * Where the store reads the time it stamps on cursors and run keys.
   * @default {systemClock}
   */
  clock?: Clock;
}

// Batches travel as one JSON text parameter (`$1::text::json`): a single
// round trip per table, whatever the batch size. The `::text` matters:
// postgres.js would JSON.stringify a parameter the server types as json.

/**
 * Run store in a PostgreSQL database.
 *
 * @example
 * ```ts
 * import { PostgresRunStore } from "./postgres.ts";
 * await using store = await PostgresRunStore.open("postgres://etl:secret@db:5432/platform");
 * console.log(store.description); // postgres postgres://etl@db:5432/platform (ops)
 * ```
 */
export class PostgresRunStore extends RunStoreBase {
  /** Backend, URL without its password, and schema. */
  readonly description: string;
  #db: PostgresConnection;
  #sql: postgres.Sql;
  #t: Record<string, string>;
  #buffer: WriteBuffer<Batch>;
  #clock: Clock;
  #closed = false;
  /** (run, asset) pairs whose `run_assets` row is committed: later steps skip the insert. */
  #indexed = new IndexedPairs();
  #runList: RunListDialect;

  private constructor(db: PostgresConnection, schema: string, options: PostgresRunStoreOptions) {
    super();
    this.#db = db;
    this.#sql = db.sql;
    this.description = `postgres ${db.location} (${schema})`;
    this.#clock = options.clock ?? systemClock;
    this.#t = Object.fromEntries(RUN_STORE_TABLE_NAMES.map((name) => [name, `${schema}.${name}`]));
    this.#runList = {
      tables: {
        pipeline_runs: `${schema}.pipeline_runs`,
        run_tags: `${schema}.run_tags`,
        run_assets: `${schema}.run_assets`,
      },
      columns: RUN_COLUMNS,
      placeholder: (n) => `$${n}`,
      time: toTime,
      join: "JOIN",
    };
    this.#buffer = new WriteBuffer({
      newBatch: () => new Batch(),
      commit: (batch) => this.#commitBatch(batch),
      keep: (failed, newer) => newer.prepend(failed),
      flushIntervalMs: options.flushIntervalMs ?? 50,
      maxBuffered: MAX_BUFFERED,
    });
  }

  /**
   * Connects to `url` (`postgres://` or `postgresql://`) and creates the
   * schema and tables when missing (migrating those an older version made).
   * A server that cannot be reached fails within `connectTimeoutSeconds` with
   * `run_store.unreachable`, naming `RUNS_URL` and the URL without its password.
   */
  static async open(url: string, options: PostgresRunStoreOptions = {}): Promise<PostgresRunStore> {
    const schema = options.schema ?? POSTGRES_RUN_STORE_SCHEMA;
    runStoreDdl("postgres", schema); // throws RangeError for a bad schema, before connecting
    const db = connectPostgres(url, RUNS_TARGET, {
      application: "platform-run-store",
      max: options.maxConnections ?? 4,
      connectTimeoutSeconds: options.connectTimeoutSeconds ?? 5,
      statementTimeoutMs: options.statementTimeoutMs ?? 60_000,
    });
    try {
      await prepareSchema(db, schema);
    } catch (error) {
      await db.close(1).catch(() => {}); // the open failure is what the caller needs
      if (error instanceof ResourceError) throw error;
      throw isConnectionFailure(error) ? db.unreachable(error) : new ResourceError(
        "run_store.unavailable",
        `Cannot create the run store tables at ${db.location} in schema '${schema}': ` +
          `${serverMessage(error)}; check that the role may create schemas and tables there`,
        { input: db.location, cause: error },
      );
    }
    return new PostgresRunStore(db, schema, options);
  }

  /** Records a run at once, with its tags indexed; `false` when the id exists. */
  protected insertRun(run: RunRecord): Promise<boolean> {
    return this.#now((db) =>
      db.begin(async (sql) => {
        const inserted = await sql.unsafe(
          `INSERT INTO ${this.#t.pipeline_runs} (run_id, status, selection, partitions, tags,
           started_at, finished_at, error_summary, owner_id, owner_host, owner_pid, heartbeat_at,
           heartbeat_timeout_ms, cancel_requested_at, cancel_reason)
         VALUES ($1, $2, $3, $4, $5, ${toTime("$6")}, ${toTime("$7")}, $8, $9, $10, $11,
           ${toTime("$12")}, $13, ${toTime("$14")}, $15)
         ON CONFLICT (run_id) DO NOTHING`,
          [
            run.runId,
            run.status,
            run.selection,
            run.partitions,
            JSON.stringify(run.tags),
            ms(run.startedAt),
            ms(run.finishedAt),
            run.errorSummary,
            run.owner?.instanceId ?? null,
            run.owner?.host ?? null,
            run.owner?.pid ?? null,
            ms(run.heartbeatAt),
            run.heartbeatTimeoutMs,
            ms(run.cancelRequestedAt),
            run.cancelReason,
          ],
        );
        if (inserted.count !== 1) return false;
        await this.#setTags(sql, run.runId, run.tags);
        // Steps recorded before their run (rare) are indexed now.
        await sql.unsafe(
          `INSERT INTO ${this.#t.run_assets} (asset_key, started_at, run_id)
           SELECT DISTINCT asset_key, ${toTime("$2")}, run_id FROM ${this.#t.run_steps}
           WHERE run_id = $1 ON CONFLICT DO NOTHING`,
          [run.runId, ms(run.startedAt)],
        );
        return true;
      }) as Promise<boolean>
    );
  }

  /** Sets the `run_tags` rows of `tags` (replacing those of the same keys) of a recorded run. */
  async #setTags(
    sql: postgres.TransactionSql,
    runId: string,
    tags: Readonly<Record<string, string>>,
  ): Promise<void> {
    const keys = Object.keys(tags);
    if (keys.length === 0) return;
    await sql.unsafe(
      `DELETE FROM ${this.#t.run_tags} WHERE run_id = $1 AND key = ANY($2::text[])`,
      [runId, keys],
    );
    await sql.unsafe(
      `INSERT INTO ${this.#t.run_tags} (key, value, started_at, run_id)
       SELECT j.key, j.value, r.started_at, r.run_id
       FROM ${this.#t.pipeline_runs} r, json_each_text($2::text::json) j WHERE r.run_id = $1`,
      [runId, JSON.stringify(tags)],
    );
  }

  /**
   * Updates a run at once (its tag index too); `false` when no run has the id.
   * A run's end (`finishedAt` given) is written after the buffer; when the
   * server has no room for what is buffered (SQLSTATE 53100, disk full), the
   * end is written alone, ahead of it (its steps still pending or running
   * settled as unrecorded, as a reap would), so the run never stays
   * `running` for a reaper to call a dead owner's. The buffered writes stay
   * for a later flush; only a failure of that small write is thrown.
   */
  protected async writeRunUpdate(runId: string, update: RunUpdate): Promise<boolean> {
    const work = (sql: postgres.TransactionSql) => this.#updateRun(sql, runId, update);
    const finishedAt = update.finishedAt;
    try {
      return await this.#now((db) => db.begin(work) as Promise<boolean>);
    } catch (error) {
      if (finishedAt === undefined || finishedAt === null) throw error;
      if (lastingFailure(error) !== "disk_full" || this.#closed) throw error;
    }
    return await this.#alone((db) =>
      db.begin(async (sql) => {
        if (!(await work(sql))) return false;
        await sql.unsafe(
          `UPDATE ${this.#t.run_steps}
           SET status = CASE status WHEN 'running' THEN 'failed' ELSE 'canceled' END,
             finished_at = ${toTime("$1")}, reason = $2
           WHERE run_id = $3 AND status IN ('pending', 'running')`,
          [ms(finishedAt), "not recorded: the run store's disk was full when the run ended", runId],
        );
        return true;
      }) as Promise<boolean>
    );
  }

  async #updateRun(
    sql: postgres.TransactionSql,
    runId: string,
    update: RunUpdate,
  ): Promise<boolean> {
    const updated = await sql.unsafe(
      `UPDATE ${this.#t.pipeline_runs} SET status = $1,
       finished_at = CASE WHEN $2::boolean THEN ${toTime("$3")} ELSE finished_at END,
       error_summary = CASE WHEN $4::boolean THEN $5::text ELSE error_summary END,
       tags = CASE WHEN $7::text IS NULL THEN tags ELSE (tags::jsonb || $7::jsonb)::text END
     WHERE run_id = $6
       AND NOT ($2::boolean AND (tags::jsonb -> '${OWNER_LOST_TAG}') IS NOT NULL)`,
      [
        update.status,
        update.finishedAt !== undefined,
        ms(update.finishedAt ?? null),
        update.errorSummary !== undefined,
        update.errorSummary ?? null,
        runId,
        update.tags === undefined ? null : JSON.stringify(update.tags),
      ],
    );
    if (updated.count !== 1) {
      // The fence (see _postgres_batch.ts): the end a reaped run's owner still sends is
      // dropped; the reaper's stands. Other updates (the daemon's decision in the tags) pass.
      const [found] = await sql.unsafe(
        `SELECT 1 AS found FROM ${this.#t.pipeline_runs} WHERE run_id = $1`,
        [runId],
      );
      return found !== undefined;
    }
    if (update.tags) await this.#setTags(sql, runId, update.tags);
    return true;
  }

  /** A run by id or unique prefix; `undefined` for an ambiguous prefix. */
  protected readRun(runIdOrPrefix: string): Promise<RunRecord | undefined> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT ${RUN_COLUMNS} FROM ${this.#t.pipeline_runs} AS r
         WHERE run_id = $1 OR starts_with(run_id, $1) ORDER BY run_id = $1 DESC LIMIT 2`,
        [runIdOrPrefix],
      );
      const exact = rows.find((row) => row.run_id === runIdOrPrefix);
      if (exact) return toRun(exact);
      return rows.length === 1 && rows[0] ? toRun(rows[0]) : undefined;
    });
  }

  /** Runs, most recent first, from the cursor on (see `_run_list.ts`). */
  protected readRuns(filter: RunFilter): Promise<RunRecord[]> {
    const { sql: query, params } = runListQuery(filter, this.#runList);
    return this.#now(async (sql) => (await sql.unsafe(query, params)).map(toRun));
  }

  /** Events of one asset, newest first. */
  protected readAssetEvents(filter: AssetEventFilter): Promise<StoredRunEvent[]> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT ${EVENT_COLUMNS} FROM ${this.#t.run_events} AS e
         WHERE asset_key = $1 AND ($2::bigint IS NULL OR id < $2)
           AND ($3::text IS NULL OR type IN (SELECT json_array_elements_text($3::text::json)))
           AND (NOT $4::boolean OR (CASE WHEN $5::text IS NULL
             THEN partition_key IS NULL OR partition_key = '' ELSE partition_key = $5 END))
         ORDER BY id DESC LIMIT $6`,
        [
          filter.assetKey,
          filter.beforeId ?? null,
          filter.types ? JSON.stringify(filter.types) : null,
          filter.partition !== undefined,
          filter.partition ?? null,
          filter.limit,
        ],
      );
      return rows.map(toEvent);
    });
  }

  /** Stores a state at once. */
  protected writeAutomationState(state: AutomationState): Promise<AutomationState> {
    return this.#now(async (sql) => {
      await sql.unsafe(
        `INSERT INTO ${this.#t.automation_state} (name, enabled, updated_at, updated_by)
         VALUES ($1, $2, ${toTime("$3")}, $4)
         ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        [state.name, state.enabled ? 1 : 0, ms(state.updatedAt), state.updatedBy],
      );
      return { ...state, updatedAt: ms(state.updatedAt) };
    });
  }

  /** Every state, by name. */
  protected readAutomationStates(): Promise<AutomationState[]> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT a.name, a.enabled, ${fromTime("a", "updated_at")}, a.updated_by
         FROM ${this.#t.automation_state} AS a ORDER BY a.name`,
      );
      return rows.map(toAutomationState);
    });
  }

  /**
   * Records ticks in one transaction, collapsing repeats and dropping the
   * oldest; the newest record of a name is locked while it is read, so two
   * daemons recording one sensor at once never both collapse into it wrongly.
   */
  protected writeTicks(ticks: readonly NewTick[]): Promise<void> {
    return this.#now((db) =>
      db.begin(async (sql) => {
        for (const tick of ticks) {
          const [latest] = (await sql.unsafe(
            `SELECT ${TICK_COLUMNS} FROM ${this.#t.automation_ticks} AS k WHERE name = $1
             ORDER BY id DESC LIMIT 1 FOR UPDATE`,
            [tick.name],
          )).map(toTick);
          if (latest && tickCollapses(latest, tick)) {
            await sql.unsafe(
              `UPDATE ${this.#t.automation_ticks} SET last_time = ${toTime("$1")},
                 count = count + 1 WHERE id = $2`,
              [ms(tick.time), latest.id],
            );
            continue;
          }
          await sql.unsafe(
            `INSERT INTO ${this.#t.automation_ticks} (name, kind, time, last_time, count, status,
               run_ids, duplicate_keys, reason, cursor)
             VALUES ($1, $2, ${toTime("$3")}, ${toTime("$3")}, 1, $4, $5, $6, $7, $8)`,
            [
              tick.name,
              tick.kind,
              ms(tick.time),
              tick.status,
              JSON.stringify(tick.runIds),
              JSON.stringify(tick.duplicateKeys),
              tick.reason,
              tick.cursor,
            ],
          );
          await sql.unsafe(
            `DELETE FROM ${this.#t.automation_ticks} WHERE name = $1 AND id <= (
               SELECT id FROM ${this.#t.automation_ticks} WHERE name = $1
               ORDER BY id DESC OFFSET $2 LIMIT 1)`,
            [tick.name, TICK_HISTORY],
          );
        }
      }) as Promise<void>
    );
  }

  /** Tick records of a name, newest first. */
  protected readTicks(
    name: string,
    beforeId: number | undefined,
    limit: number,
  ): Promise<TickRecord[]> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT ${TICK_COLUMNS} FROM ${this.#t.automation_ticks} AS k
         WHERE name = $1 AND ($2::bigint IS NULL OR id < $2) ORDER BY id DESC LIMIT $3`,
        [name, beforeId ?? null, limit],
      );
      return rows.map(toTick);
    });
  }

  /** Beats for the owner's running runs in one statement; reports requests and lost runs. */
  protected async writeHeartbeat(
    owner: RunOwner,
    runIds: readonly string[],
    time: number,
  ): Promise<HeartbeatReply> {
    if (runIds.length === 0) {
      return this.#now(() => Promise.resolve({ cancelRequested: [], lost: [] }));
    }
    const beat = async (sql: postgres.Sql): Promise<HeartbeatReply> => {
      const rows = await sql.unsafe(
        `UPDATE ${this.#t.pipeline_runs} SET heartbeat_at = ${toTime("$1")}
         WHERE run_id = ANY($2::text[]) AND status = 'running' AND owner_id = $3
         RETURNING run_id, cancel_requested_at IS NOT NULL AS cancel, cancel_reason`,
        [ms(time), runIds, owner.instanceId],
      );
      const held = new Set(rows.map((row) => String(row.run_id)));
      return {
        cancelRequested: rows.filter((row) => row.cancel).map((row) => ({
          runId: String(row.run_id),
          reason: String(row.cancel_reason ?? "cancel requested"),
        })),
        lost: runIds.filter((runId) => !held.has(runId)),
      };
    };
    try {
      return await this.#now(beat);
    } catch (error) {
      // No room for the buffer on the server: the heartbeat, an update of a
      // row in place, is written alone, so a full disk does not let a live
      // owner's lease lapse (another process would fail and relaunch its run).
      if (lastingFailure(error) !== "disk_full" || this.#closed) throw error;
    }
    return await this.#alone(beat);
  }

  /** Marks a running run as asked to cancel (the first request wins). */
  protected writeCancelRequest(runId: string, request: CancelRequest): Promise<boolean> {
    return this.#now(async (sql) => {
      const updated = await sql.unsafe(
        `UPDATE ${this.#t.pipeline_runs}
         SET cancel_requested_at = COALESCE(cancel_requested_at, ${toTime("$1")}),
           cancel_reason = COALESCE(cancel_reason, $2)
         WHERE run_id = $3 AND status = 'running'`,
        [ms(request.time), request.reason, runId],
      );
      return updated.count === 1;
    });
  }

  /**
   * Fails the runs whose owner is gone, with their steps and one event each,
   * in one transaction. `FOR UPDATE SKIP LOCKED`: a run another reaper is
   * reaping is left to it, and is no longer running once it commits; an
   * owner's heartbeat waits for the lock, then finds its run lost.
   */
  protected reap(
    { now, deadOwners = [], liveOwners = [], reaper }: ReapOptions,
  ): Promise<RunRecord[]> {
    return this.#now((sql) =>
      sql.begin(async (tx) => {
        const rows = await tx.unsafe(
          `SELECT ${RUN_COLUMNS} FROM ${this.#t.pipeline_runs} AS r
           WHERE status = 'running' AND owner_id IS NOT NULL AND (owner_id = ANY($2::text[])
             OR heartbeat_at + heartbeat_timeout_ms * interval '1 millisecond' < ${toTime("$1")})
           FOR UPDATE SKIP LOCKED`,
          [ms(now), deadOwners],
        );
        const reaped: RunRecord[] = [];
        for (const run of rows.map(toRun)) {
          if (!ownerIsGone(run, now, deadOwners, liveOwners)) continue;
          const record = reapedRun(run, now, deadOwners.includes(run.owner?.instanceId ?? ""));
          await tx.unsafe(
            `UPDATE ${this.#t.pipeline_runs} SET status = $1, finished_at = ${toTime("$2")},
               error_summary = $3, tags = $4 WHERE run_id = $5`,
            [
              record.status,
              ms(record.finishedAt),
              record.errorSummary,
              JSON.stringify(record.tags),
              run.runId,
            ],
          );
          await this.#setTags(tx, run.runId, record.tags);
          const steps = await tx.unsafe(
            `SELECT ${STEP_COLUMNS} FROM ${this.#t.run_steps} AS s WHERE run_id = $1`,
            [run.runId],
          );
          for (const step of steps.map(toStep)) {
            const next = reapedStep(step, now);
            if (!next) continue;
            await tx.unsafe(
              `UPDATE ${this.#t.run_steps} SET status = $1, finished_at = ${toTime("$2")},
                 reason = $3 WHERE run_id = $4 AND asset_key = $5 AND partition_key = $6`,
              [
                next.status,
                ms(next.finishedAt),
                next.reason,
                next.runId,
                next.assetKey,
                partitionColumn(next.partition),
              ],
            );
          }
          const event = reapEvent(record, now, reaper);
          await tx.unsafe(`SELECT pg_advisory_xact_lock(${EVENT_LOCK})`);
          await tx.unsafe(
            `INSERT INTO ${this.#t.run_events} (run_id, type, time, data)
             VALUES ($1, $2, ${toTime("$3")}, $4)`,
            [event.runId, event.type, ms(event.time), JSON.stringify(event.data)],
          );
          reaped.push(record);
        }
        return reaped;
      }) as Promise<RunRecord[]>
    );
  }

  /** Inserts or replaces a step (buffered; keeps a known start time, see `mergeStep`). */
  protected writeStep(step: StepRecord): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#buffer.batch.putStep(step);
    return this.#buffer.added();
  }

  /** Steps of a run, in the order they were first recorded. */
  protected readSteps(runId: string): Promise<StepRecord[]> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT ${STEP_COLUMNS} FROM ${this.#t.run_steps} AS s WHERE run_id = $1 ORDER BY seq`,
        [runId],
      );
      return rows.map(toStep);
    });
  }

  /** Appends checked events (buffered). */
  protected writeEvents(events: readonly SerializedEvent[]): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    for (const { event, data, materialization } of events) {
      const metadata = materialization ? JSON.stringify(materialization.metadata) : "";
      this.#buffer.batch.appendEvent(
        {
          run_id: event.runId,
          type: event.type,
          time: ms(event.time),
          asset_key: event.assetKey,
          partition_key: event.partition,
          data,
        },
        materialization,
        metadata,
      );
    }
    return this.#buffer.added();
  }

  /** Events of a run, in order. */
  protected readEvents(runId: string, options: ListEventsOptions): Promise<StoredRunEvent[]> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT ${EVENT_COLUMNS} FROM ${this.#t.run_events} AS e WHERE run_id = $1 AND id > $2
           AND ($3::text IS NULL OR type IN (SELECT json_array_elements_text($3::text::json)))
         ORDER BY id`,
        [runId, options.afterId ?? 0, options.types ? JSON.stringify(options.types) : null],
      );
      return rows.map(toEvent);
    });
  }

  /** Latest materialization (by time) of an asset, or of one partition of it. */
  protected readLastMaterialization(
    assetKey: string,
    partition: string | null | undefined,
  ): Promise<Materialization | undefined> {
    return this.#now(async (sql) => {
      const rows = partition === undefined
        ? await sql.unsafe(
          `SELECT ${MATERIALIZATION_COLUMNS} FROM ${this.#t.materializations} AS m
           WHERE asset_key = $1 ORDER BY m.time DESC LIMIT 1`,
          [assetKey],
        )
        : await sql.unsafe(
          `SELECT ${MATERIALIZATION_COLUMNS} FROM ${this.#t.materializations} AS m
           WHERE asset_key = $1 AND partition_key = $2`,
          [assetKey, partitionColumn(partition)],
        );
      return rows[0] ? toMaterialization(rows[0]) : undefined;
    });
  }

  /** Events of every run after an id, oldest first. */
  protected readEventsAfter({ afterId, types, limit }: EventFeedFilter): Promise<StoredRunEvent[]> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT ${EVENT_COLUMNS} FROM ${this.#t.run_events} AS e WHERE id > $1
           AND ($2::text IS NULL OR type IN (SELECT json_array_elements_text($2::text::json)))
         ORDER BY id LIMIT $3`,
        [afterId, types ? JSON.stringify(types) : null, limit],
      );
      return rows.map(toEvent);
    });
  }

  /** Latest materialization of every partition of an asset. */
  protected readMaterializations(assetKey: string): Promise<Materialization[]> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT ${MATERIALIZATION_COLUMNS} FROM ${this.#t.materializations} AS m
         WHERE asset_key = $1`,
        [assetKey],
      );
      return rows.map(toMaterialization);
    });
  }

  /** Appends automation records in one statement, at once. */
  protected writeAutomationRecords(records: readonly SerializedAutomationRecord[]): Promise<void> {
    const rows = records.map(({ record, data }) => ({
      kind: record.kind,
      time: ms(record.time),
      asset_key: record.assetKey,
      name: record.name,
      data,
    }));
    return this.#now(async (sql) => {
      await sql.unsafe(
        `INSERT INTO ${this.#t.automation_records} (kind, time, asset_key, name, data)
         SELECT kind, ${toTime("time")}, asset_key, name, data
         FROM ROWS FROM (json_to_recordset($1::text::json) AS (kind text, time float8,
           asset_key text, name text, data text))
           WITH ORDINALITY AS t(kind, time, asset_key, name, data, ord)
         ORDER BY ord`,
        [JSON.stringify(rows)],
      );
    });
  }

  /** Automation records, newest first. */
  protected readAutomationRecords(f: AutomationRecordFilter): Promise<StoredAutomationRecord[]> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT ${AUTOMATION_COLUMNS} FROM ${this.#t.automation_records} AS a
         WHERE ($1::text IS NULL OR kind = $1) AND ($2::text IS NULL OR asset_key = $2)
           AND ($3::bigint IS NULL OR id < $3) AND ($4::bigint IS NULL OR id > $4)
         ORDER BY id DESC LIMIT $5`,
        [f.kind ?? null, f.assetKey ?? null, f.beforeId ?? null, f.afterId ?? null, f.limit],
      );
      return rows.map(toAutomationRecord);
    });
  }

  /** Cursor of a sensor. */
  getCursor(sensor: string): Promise<string | undefined> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT cursor FROM ${this.#t.sensor_cursors} WHERE sensor = $1`,
        [sensor],
      );
      return rows[0] ? String(rows[0].cursor) : undefined;
    });
  }

  /** Stores a cursor, durably before returning and after every buffered write. */
  setCursor(sensor: string, cursor: string): Promise<void> {
    return this.#now(async (sql) => {
      await sql.unsafe(
        `INSERT INTO ${this.#t.sensor_cursors} (sensor, cursor, updated_at)
         VALUES ($1, $2, ${toTime("$3")})
         ON CONFLICT (sensor) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
        [sensor, cursor, this.#clock.now()],
      );
    });
  }

  /** Claims a run key atomically across processes: one caller ever gets `claimed: true`. */
  claimRunKey(sensor: string, runKey: string, runId: string): Promise<RunKeyClaim> {
    return this.#now(async (sql) => {
      const inserted = await sql.unsafe(
        `INSERT INTO ${this.#t.run_keys} (sensor, run_key, run_id, created_at)
         VALUES ($1, $2, $3, ${toTime("$4")}) ON CONFLICT DO NOTHING`,
        [sensor, runKey, runId, this.#clock.now()],
      );
      if (inserted.count === 1) return { claimed: true, runId };
      // ON CONFLICT waited for the winner's commit, so its row is visible now.
      const rows = await sql.unsafe(
        `SELECT run_id FROM ${this.#t.run_keys} WHERE sensor = $1 AND run_key = $2`,
        [sensor, runKey],
      );
      return { claimed: false, runId: String(rows[0]?.run_id) };
    });
  }

  /** The run id of a claimed run key. */
  getRunKey(sensor: string, runKey: string): Promise<string | undefined> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT run_id FROM ${this.#t.run_keys} WHERE sensor = $1 AND run_key = $2`,
        [sensor, runKey],
      );
      return rows[0] ? String(rows[0].run_id) : undefined;
    });
  }

  /** Adds dynamic partition keys; returns those that were new, in the order given. */
  addDynamicPartitions(name: string, keys: readonly string[]): Promise<string[]> {
    const unique = [...new Set(keys)];
    if (unique.length === 0) return this.#now(() => Promise.resolve([]));
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `INSERT INTO ${this.#t.dynamic_partitions} (name, partition_key)
         SELECT $1, key FROM json_array_elements_text($2::text::json) WITH ORDINALITY AS t(key, ord)
         ORDER BY ord
         ON CONFLICT DO NOTHING RETURNING partition_key`,
        [name, JSON.stringify(unique)],
      );
      const added = new Set(rows.map((row) => String(row.partition_key)));
      return unique.filter((key) => added.has(key));
    });
  }

  /** Keys of a dynamic partitioning, in the order added. */
  dynamicPartitions(name: string): Promise<string[]> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT partition_key FROM ${this.#t.dynamic_partitions} WHERE name = $1 ORDER BY seq`,
        [name],
      );
      return rows.map((row) => String(row.partition_key));
    });
  }

  /** Removes a dynamic partition key. */
  deleteDynamicPartition(name: string, key: string): Promise<void> {
    return this.#now(async (sql) => {
      await sql.unsafe(
        `DELETE FROM ${this.#t.dynamic_partitions} WHERE name = $1 AND partition_key = $2`,
        [name, key],
      );
    });
  }

  /**
   * Commits everything buffered. When the commit fails the writes stay
   * buffered (a later flush retries them) and this call rejects with
   * `run_store.write_failed`, or `disk_full` when the server has no room
   * (SQLSTATE 53100).
   */
  flush(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return this.#buffer.flush();
  }

  /** Commits the buffer and closes the connections; rejects (after closing) when the commit fails. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#buffer.flush();
    } finally {
      this.#closed = true;
      this.#buffer.dispose();
      await this.#db.close(5);
    }
  }

  /** Same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #commitBatch(batch: Batch): Promise<void> {
    // (run, asset) pairs not indexed yet; remembered once committed.
    const pairs = new Map<string, { run_id: string; asset_key: string }>();
    for (const step of batch.steps.values()) {
      if (!this.#indexed.has(step.runId, step.assetKey)) {
        pairs.set(`${step.runId}\0${step.assetKey}`, {
          run_id: step.runId,
          asset_key: step.assetKey,
        });
      }
    }
    try {
      await commitBatch(this.#sql, this.#t, batch, [...pairs.values()]);
    } catch (error) {
      throw this.#wrap(error);
    }
    for (const pair of pairs.values()) this.#indexed.remember(pair.run_id, pair.asset_key);
  }

  /** The server's clock (see {@linkcode RunStore.serverTime}). */
  serverTime(): Promise<number> {
    return this.#now(async (sql) => {
      const [row] = await sql.unsafe<{ now: number }[]>(
        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now",
      );
      return Number(row?.now);
    });
  }

  /** Runs `work` on the pool after committing the buffer, with driver errors typed. */
  async #now<T>(work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    if (this.#closed) throw this.#closedError();
    await this.#buffer.flush();
    try {
      return await work(this.#sql);
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  /** Runs `work` on the pool without committing the buffer first (it cannot be: disk full). */
  async #alone<T>(work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    try {
      return await work(this.#sql);
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  #wrap(error: unknown): Error {
    // Typed errors and bad-argument errors already say what is wrong.
    if (
      error instanceof ResourceError || error instanceof TypeError || error instanceof RangeError
    ) {
      return error;
    }
    if (lastingFailure(error) === "disk_full") {
      // The server's disk: named by the store's URL, as the user configured it.
      return new DiskFullError(
        `the run store ${this.description} (RUNS_URL): ${serverMessage(error)}`,
        this.#db.location,
        { folder: `the database server of ${this.#db.location}`, input: "RUNS_URL", cause: error },
      );
    }
    const code = isConnectionFailure(error) ? "run_store.unreachable" : "run_store.write_failed";
    return new ResourceError(
      code,
      `Run store ${this.description} (RUNS_URL): ${serverMessage(error)}`,
      { input: "RUNS_URL", cause: error, transient: isTransient(error) },
    );
  }

  #closedError(): Error {
    return new ResourceError("run_store.closed", `Run store ${this.description} is closed`);
  }
}

/** What the run store's connection is for, in messages. */
const RUNS_TARGET = {
  what: "the run store",
  variable: "RUNS_URL",
  code: "run_store.unreachable",
} as const;

/** SQL reading `timestamptz` column `column` of `alias` as epoch milliseconds, named `column`. */
function fromTime(alias: string, column: string): string {
  // extract(epoch) is numeric (exact), so * 1000 gives the whole milliseconds back.
  return `(extract(epoch FROM ${alias}.${column}) * 1000)::float8 AS ${column}`;
}

const RUN_COLUMNS = `r.run_id, r.status, r.selection, r.partitions, r.tags, ${
  fromTime("r", "started_at")
}, ${fromTime("r", "finished_at")}, r.error_summary, r.owner_id, r.owner_host, r.owner_pid, ${
  fromTime("r", "heartbeat_at")
}, r.heartbeat_timeout_ms, ${fromTime("r", "cancel_requested_at")}, r.cancel_reason`;
const STEP_COLUMNS = `s.run_id, s.asset_key, s.partition_key, s.status, s.attempts, ${
  fromTime("s", "started_at")
}, ${fromTime("s", "finished_at")}, s.reason`;
const EVENT_COLUMNS = `e.id, e.run_id, e.type, ${
  fromTime("e", "time")
}, e.asset_key, e.partition_key, e.data`;
const TICK_COLUMNS = `k.id, k.name, k.kind, ${fromTime("k", "time")}, ${
  fromTime("k", "last_time")
}, k.count, k.status, k.run_ids, k.duplicate_keys, k.reason, k.cursor`;
const MATERIALIZATION_COLUMNS = `m.asset_key, m.partition_key, m.run_id, ${
  fromTime("m", "time")
}, m.metadata, m.code_version, m.provenance`;
const AUTOMATION_COLUMNS = `a.id, a.kind, ${fromTime("a", "time")}, a.asset_key, a.name, a.data`;
