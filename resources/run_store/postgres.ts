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

import postgres from "postgres";
import type { Materialization } from "../../core/asset.ts";
import { ResourceError } from "../../core/errors.ts";
import type {
  ListEventsOptions,
  ListRunsOptions,
  RunEvent,
  RunKeyClaim,
  RunRecord,
  RunStore,
  RunUpdate,
  StepRecord,
  StoredRunEvent,
} from "../../core/run_store/types.ts";
import {
  checkEvents,
  checkListRuns,
  checkRun,
  checkStep,
  checkUpdate,
  duplicateRunError,
  mergeStep,
  unknownRunError,
} from "../../core/run_store/memory.ts";
import { partitionColumn, toEvent, toMaterialization, toRun, toStep } from "./_rows.ts";
import {
  POSTGRES_RUN_STORE_SCHEMA,
  RUN_STORE_TABLE_NAMES,
  RUN_STORE_TIME_COLUMNS,
  runStoreDdl,
} from "./_schema.ts";
import { redactUrl, scrub, scrubbedCause, secretsOf } from "../_url_secrets.ts";

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
}

// Batches travel as one JSON text parameter (`$1::text::json`): a single
// round trip per table, whatever the batch size. The `::text` matters:
// postgres.js would JSON.stringify a parameter the server types as json.

/** Buffered writes that trigger a commit at once (and make writers wait for it). */
const MAX_BUFFERED = 2_000;

/**
 * Serializes batch commits of every writer on the server, so event ids are
 * committed in increasing order and a reader tailing with `afterId` never
 * skips an event committed late with a lower id.
 */
const EVENT_LOCK = 0x72756e73; // "runs"

/** Serializes `CREATE ... IF NOT EXISTS` of processes opening the store at once. */
const DDL_LOCK = 0x72756e64; // "rund"

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

interface EventRow {
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
}

/** What waits in the buffer: merged steps and events, in the order given. */
class Batch {
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
 * Run store in a PostgreSQL database.
 *
 * @example
 * ```ts
 * import { PostgresRunStore } from "./postgres.ts";
 * await using store = await PostgresRunStore.open("postgres://etl:secret@db:5432/platform");
 * console.log(store.description); // postgres postgres://etl@db:5432/platform (ops)
 * ```
 */
export class PostgresRunStore implements RunStore {
  /** Backend, URL without its password, and schema. */
  readonly description: string;
  #sql: postgres.Sql;
  #t: Record<string, string>;
  #secrets: readonly string[];
  #batch = new Batch();
  #committing: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushIntervalMs: number;
  #closed = false;

  private constructor(
    sql: postgres.Sql,
    description: string,
    schema: string,
    secrets: readonly string[],
    options: PostgresRunStoreOptions,
  ) {
    this.#sql = sql;
    this.description = description;
    this.#secrets = secrets;
    this.#flushIntervalMs = options.flushIntervalMs ?? 50;
    this.#t = Object.fromEntries(RUN_STORE_TABLE_NAMES.map((name) => [name, `${schema}.${name}`]));
  }

  /**
   * Connects to `url` (`postgres://` or `postgresql://`) and creates the
   * schema and tables when missing. A server that cannot be reached fails
   * within `connectTimeoutSeconds` with `run_store.unreachable`, naming the
   * URL without its password.
   */
  static async open(url: string, options: PostgresRunStoreOptions = {}): Promise<PostgresRunStore> {
    const schema = options.schema ?? POSTGRES_RUN_STORE_SCHEMA;
    const ddl = runStoreDdl("postgres", schema); // throws RangeError for a bad schema, before connecting
    const secrets = secretsOf(url);
    const location = redactUrl(url, secrets);
    const timeout = options.connectTimeoutSeconds ?? 5;
    let sql: postgres.Sql;
    try {
      sql = postgres(url, {
        max: options.maxConnections ?? 4,
        connect_timeout: timeout,
        onnotice: () => {}, // "schema already exists, skipping" and the like
        connection: { application_name: "platform-run-store" },
      }) as unknown as postgres.Sql;
    } catch (error) {
      throw unreachable(location, secrets, error, timeout);
    }
    const store = new PostgresRunStore(
      sql,
      `postgres ${location} (${schema})`,
      schema,
      secrets,
      options,
    );
    try {
      // Tables made beforehand (e.g. by a DBA for a role that may not create
      // schemas) are used as they are: CREATE SCHEMA IF NOT EXISTS checks the
      // privilege before it checks whether the schema exists.
      const found = await inspect(sql, schema);
      if (found.tables !== RUN_STORE_TABLE_NAMES.length) {
        await sql.begin(async (tx) => {
          await tx.unsafe(`SELECT pg_advisory_xact_lock(${DDL_LOCK})`);
          for (const statement of ddl) await tx.unsafe(statement);
        });
      }
      if (found.millisecondColumns.length > 0) {
        await migrate(sql, schema, found.millisecondColumns, location, secrets);
      }
    } catch (error) {
      await sql.end({ timeout: 1 }).catch(() => {}); // the open failure is what the caller needs
      if (error instanceof ResourceError) throw error;
      throw isConnectionFailure(error)
        ? unreachable(location, secrets, error, timeout)
        : new ResourceError(
          "run_store.unavailable",
          scrub(
            `Cannot create the run store tables at ${location} in schema '${schema}': ` +
              `${describe(error)}; check that the role may create schemas and tables there`,
            secrets,
          ),
          { input: location, cause: scrubbedCause(error, secrets) },
        );
    }
    return store;
  }

  /** Records a new run; fails with `run_store.duplicate_run` when the id exists. */
  createRun(run: RunRecord): Promise<void> {
    try {
      checkRun(run);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#now(async (sql) => {
      const inserted = await sql.unsafe(
        `INSERT INTO ${this.#t.pipeline_runs} (run_id, status, selection, partitions, tags,
           started_at, finished_at, error_summary)
         VALUES ($1, $2, $3, $4, $5, ${toTime("$6")}, ${toTime("$7")}, $8)
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
        ],
      );
      if (inserted.count !== 1) throw duplicateRunError(run.runId, this.description);
    });
  }

  /**
   * Updates a run: fields absent from `update` keep their value, `null`
   * clears them; an unknown id fails with `run_store.unknown_run`.
   */
  updateRun(runId: string, update: RunUpdate): Promise<void> {
    try {
      checkUpdate(runId, update);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#now(async (sql) => {
      const updated = await sql.unsafe(
        `UPDATE ${this.#t.pipeline_runs} SET status = $1,
           finished_at = CASE WHEN $2::boolean THEN ${toTime("$3")} ELSE finished_at END,
           error_summary = CASE WHEN $4::boolean THEN $5::text ELSE error_summary END
         WHERE run_id = $6`,
        [
          update.status,
          update.finishedAt !== undefined,
          ms(update.finishedAt ?? null),
          update.errorSummary !== undefined,
          update.errorSummary ?? null,
          runId,
        ],
      );
      if (updated.count !== 1) throw unknownRunError(runId, this.description);
    });
  }

  /** A run by id or unique prefix; `undefined` for an empty or ambiguous prefix. */
  getRun(runIdOrPrefix: string): Promise<RunRecord | undefined> {
    if (runIdOrPrefix === "") return Promise.resolve(undefined);
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

  /** Runs, most recent first. */
  listRuns(options: ListRunsOptions = {}): Promise<RunRecord[]> {
    let limit: number;
    try {
      limit = checkListRuns(options);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT ${RUN_COLUMNS} FROM ${this.#t.pipeline_runs} AS r
         WHERE ($1::text IS NULL OR status = $1)
         ORDER BY r.started_at DESC, r.run_id DESC LIMIT $2`,
        [options.status ?? null, limit],
      );
      return rows.map(toRun);
    });
  }

  /** Inserts or replaces a step (buffered; keeps a known start time, see `mergeStep`). */
  putStep(step: StepRecord): Promise<void> {
    try {
      checkStep(step);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#batch.putStep({ ...step });
    return this.#buffered();
  }

  /** Steps of a run, in the order they were first recorded. */
  listSteps(runId: string): Promise<StepRecord[]> {
    return this.#now(async (sql) => {
      const rows = await sql.unsafe(
        `SELECT ${STEP_COLUMNS} FROM ${this.#t.run_steps} AS s WHERE run_id = $1 ORDER BY seq`,
        [runId],
      );
      return rows.map(toStep);
    });
  }

  /** Appends events (buffered); a bad event (`TypeError`) fails this call and stores none. */
  appendEvents(events: readonly RunEvent[]): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    let checked: ReturnType<typeof checkEvents>;
    try {
      checked = checkEvents(events);
    } catch (error) {
      return Promise.reject(error);
    }
    for (const { event, data, materialization } of checked) {
      const metadata = materialization ? JSON.stringify(materialization.metadata) : "";
      this.#batch.appendEvent(
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
    return this.#buffered();
  }

  /** Events of a run, in order. */
  listEvents(runId: string, options: ListEventsOptions = {}): Promise<StoredRunEvent[]> {
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
  lastMaterialization(
    assetKey: string,
    partition?: string | null,
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
        [sensor, cursor, Date.now()],
      );
    });
  }

  /** Claims a run key atomically across processes: one caller ever gets `claimed: true`. */
  claimRunKey(sensor: string, runKey: string, runId: string): Promise<RunKeyClaim> {
    return this.#now(async (sql) => {
      const inserted = await sql.unsafe(
        `INSERT INTO ${this.#t.run_keys} (sensor, run_key, run_id, created_at)
         VALUES ($1, $2, $3, ${toTime("$4")}) ON CONFLICT DO NOTHING`,
        [sensor, runKey, runId, Date.now()],
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
   * `run_store.write_failed`.
   */
  flush(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    return this.#commit();
  }

  /** Commits the buffer and closes the connections; rejects (after closing) when the commit fails. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#commit();
    } finally {
      this.#closed = true;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      await this.#sql.end({ timeout: 5 });
    }
  }

  /** Same as {@linkcode close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Schedules the buffer's commit; past {@linkcode MAX_BUFFERED} writes, waits for it. */
  #buffered(): Promise<void> {
    if (this.#batch.size >= MAX_BUFFERED) return this.#commit();
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      // On failure the writes stay buffered: the next flush, read or close
      // retries them and, if the commit still fails, rejects with the error.
      this.#commit().catch(() => {});
    }, this.#flushIntervalMs);
    return Promise.resolve();
  }

  /** Commits the buffer after any commit in progress, so batches land in order. */
  #commit(): Promise<void> {
    const next = this.#committing.then(() => this.#commitBatch());
    this.#committing = next.catch(() => {});
    return next;
  }

  async #commitBatch(): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#batch;
    if (batch.size === 0) return;
    this.#batch = new Batch();
    try {
      await this.#sql.begin(async (tx) => {
        if (batch.events.length > 0) await tx.unsafe(`SELECT pg_advisory_xact_lock(${EVENT_LOCK})`);
        if (batch.steps.size > 0) await this.#insertSteps(tx, [...batch.steps.values()]);
        if (batch.events.length > 0) await this.#insertEvents(tx, batch.events);
        if (batch.materializations.size > 0) {
          await this.#upsertMaterializations(tx, [...batch.materializations.values()]);
        }
      });
    } catch (error) {
      // Nothing of the batch was committed: keep it, ahead of newer writes.
      this.#batch = this.#batch.prepend(batch);
      throw this.#wrap(error);
    }
  }

  #insertSteps(tx: postgres.TransactionSql, steps: StepRecord[]) {
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
    return tx.unsafe(
      `INSERT INTO ${this.#t.run_steps} (run_id, asset_key, partition_key, status, attempts,
         started_at, finished_at, reason)
       SELECT run_id, asset_key, partition_key, status, attempts, ${toTime("started_at")},
         ${toTime("finished_at")}, reason
       FROM ROWS FROM (json_to_recordset($1::text::json) AS (run_id text, asset_key text,
         partition_key text, status text, attempts integer, started_at float8, finished_at float8,
         reason text)) WITH ORDINALITY AS t(run_id, asset_key, partition_key, status, attempts,
         started_at, finished_at, reason, ord)
       ORDER BY ord
       ON CONFLICT (run_id, asset_key, partition_key) DO UPDATE SET status = excluded.status,
         attempts = excluded.attempts,
         started_at = COALESCE(excluded.started_at, run_steps.started_at),
         finished_at = excluded.finished_at, reason = excluded.reason`,
      [JSON.stringify(rows)],
    );
  }

  #insertEvents(tx: postgres.TransactionSql, rows: EventRow[]) {
    return tx.unsafe(
      `INSERT INTO ${this.#t.run_events} (run_id, type, time, asset_key, partition_key, data)
       SELECT run_id, type, ${toTime("time")}, asset_key, partition_key, data
       FROM ROWS FROM (json_to_recordset($1::text::json) AS (run_id text, type text, time float8,
         asset_key text, partition_key text, data text))
         WITH ORDINALITY AS t(run_id, type, time, asset_key, partition_key, data, ord)
       ORDER BY ord`,
      [JSON.stringify(rows)],
    );
  }

  #upsertMaterializations(tx: postgres.TransactionSql, rows: MaterializationRow[]) {
    return tx.unsafe(
      `INSERT INTO ${this.#t.materializations} AS m (asset_key, partition_key, run_id, time,
         metadata, code_version)
       SELECT asset_key, partition_key, run_id, ${toTime("time")}, metadata, code_version
       FROM json_to_recordset($1::text::json) AS t(asset_key text, partition_key text, run_id text,
         time float8, metadata text, code_version text)
       ON CONFLICT (asset_key, partition_key) DO UPDATE SET run_id = excluded.run_id,
         time = excluded.time, metadata = excluded.metadata, code_version = excluded.code_version
       WHERE excluded.time >= m.time`,
      [JSON.stringify(rows)],
    );
  }

  /** Runs `work` on the pool after committing the buffer, with driver errors typed. */
  async #now<T>(work: (sql: postgres.Sql) => Promise<T>): Promise<T> {
    if (this.#closed) throw this.#closedError();
    await this.#commit();
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
    const code = isConnectionFailure(error) ? "run_store.unreachable" : "run_store.write_failed";
    return new ResourceError(
      code,
      scrub(`Run store ${this.description}: ${describe(error)}`, this.#secrets),
      { cause: scrubbedCause(error, this.#secrets) },
    );
  }

  #closedError(): Error {
    return new ResourceError("run_store.closed", `Run store ${this.description} is closed`);
  }
}

/**
 * Milliseconds as the store keeps them: whole, so every time read back is
 * exactly the one written. A fake clock advanced by a jittered delay may give
 * fractions, which are rounded rather than refused (as when the columns were
 * `BIGINT`; `timestamptz` would keep microseconds, but then a time such as
 * `performance.now()` gives would not read back equal either).
 */
function ms<T extends number | null>(value: T): T {
  return (value === null ? null : Math.round(value)) as T;
}

/** SQL turning epoch milliseconds (`param`, a parameter or column) into `timestamptz`. */
function toTime(param: string): string {
  // float8 division then to_timestamp's rounding to microseconds is exact
  // for whole milliseconds across the timestamptz range.
  return `to_timestamp(${param}::float8 / 1000)`;
}

/** SQL reading `timestamptz` column `column` of `alias` as epoch milliseconds, named `column`. */
function fromTime(alias: string, column: string): string {
  // extract(epoch) is numeric (exact), so * 1000 gives the whole milliseconds back.
  return `(extract(epoch FROM ${alias}.${column}) * 1000)::float8 AS ${column}`;
}

const RUN_COLUMNS = `r.run_id, r.status, r.selection, r.partitions, r.tags, ${
  fromTime("r", "started_at")
}, ${fromTime("r", "finished_at")}, r.error_summary`;
const STEP_COLUMNS = `s.run_id, s.asset_key, s.partition_key, s.status, s.attempts, ${
  fromTime("s", "started_at")
}, ${fromTime("s", "finished_at")}, s.reason`;
const EVENT_COLUMNS = `e.id, e.run_id, e.type, ${
  fromTime("e", "time")
}, e.asset_key, e.partition_key, e.data`;
const MATERIALIZATION_COLUMNS = `m.asset_key, m.partition_key, m.run_id, ${
  fromTime("m", "time")
}, m.metadata, m.code_version`;

/** What {@linkcode inspect} found of the run store tables in a schema. */
interface Found {
  /** How many of the run store tables exist. */
  tables: number;
  /** `table.column` time columns still holding `BIGINT` milliseconds. */
  millisecondColumns: string[];
}

/** Which run store tables exist in `schema`, and which time columns are still `BIGINT`. */
async function inspect(
  sql: postgres.Sql | postgres.TransactionSql,
  schema: string,
): Promise<Found> {
  const rows = await sql.unsafe(
    `SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname = ANY($2::text[])`,
    [schema, RUN_STORE_TABLE_NAMES],
  );
  return {
    tables: new Set(rows.map((row) => String(row.table_name))).size,
    millisecondColumns: rows
      .filter((row) =>
        row.type === "bigint" &&
        (RUN_STORE_TIME_COLUMNS[String(row.table_name)] ?? []).includes(String(row.column_name))
      )
      .map((row) => `${row.table_name}.${row.column_name}`),
  };
}

/**
 * The statements turning the `BIGINT` millisecond columns of `schema` into
 * `timestamptz`, one per table that has any.
 */
function migrationStatements(schema: string, columns: readonly string[]): string[] {
  const byTable = new Map<string, string[]>();
  for (const qualified of columns) {
    const [table = "", column = ""] = qualified.split(".");
    byTable.set(table, [...(byTable.get(table) ?? []), column]);
  }
  return [...byTable].map(([table, cols]) =>
    `ALTER TABLE ${schema}.${table} ` +
    cols.map((col) => `ALTER COLUMN ${col} TYPE timestamptz USING ${toTime(col)}`).join(", ")
  );
}

/**
 * Migrates time columns made as `BIGINT` milliseconds (before they were
 * `timestamptz`) in one transaction, under the DDL lock so processes opening
 * at once migrate once. A role that may not alter the tables gets
 * `run_store.schema_outdated` with the statements to run as their owner.
 */
async function migrate(
  sql: postgres.Sql,
  schema: string,
  columns: readonly string[],
  location: string,
  secrets: readonly string[],
): Promise<void> {
  let statements = migrationStatements(schema, columns);
  try {
    await sql.begin(async (tx) => {
      await tx.unsafe(`SELECT pg_advisory_xact_lock(${DDL_LOCK})`);
      // Another process may have migrated while this one waited for the lock.
      const { millisecondColumns } = await inspect(tx, schema);
      statements = migrationStatements(schema, millisecondColumns);
      for (const statement of statements) await tx.unsafe(statement);
    });
  } catch (error) {
    if (isConnectionFailure(error)) throw error;
    throw new ResourceError(
      "run_store.schema_outdated",
      scrub(
        `Cannot migrate the run store at ${location} in schema '${schema}': its time columns ` +
          `are BIGINT milliseconds (made by an older version) and must become timestamptz, ` +
          `but ${describe(error)}. Run as the owner of the tables: ${statements.join("; ")}`,
        secrets,
      ),
      { input: location, cause: scrubbedCause(error, secrets) },
    );
  }
}

/** Connection-level failures: the statement never reached a working server. */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EPIPE",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

function isConnectionFailure(error: unknown): boolean {
  const code = typeof error === "object" && error !== null && "code" in error
    ? String(error.code)
    : "";
  // SQLSTATE classes 08 (connection), 28 (authorization), 3D000 (no such database), 57P0x (shutdown).
  return CONNECTION_CODES.has(code) || /^(08|28)/.test(code) || code === "3D000" ||
    /^57P0[123]$/.test(code);
}

function unreachable(
  location: string,
  secrets: readonly string[],
  error: unknown,
  timeoutSeconds: number,
): ResourceError {
  return new ResourceError(
    "run_store.unreachable",
    scrub(
      `Cannot connect to the run store at ${location} (RUNS_URL): ${describe(error)}; ` +
        `check the URL and that the server is running (gave up after at most ${timeoutSeconds} s)`,
      secrets,
    ),
    { input: location, cause: scrubbedCause(error, secrets) },
  );
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = "code" in error && typeof error.code === "string" ? ` (${error.code})` : "";
  return `${error.message}${code}`;
}
