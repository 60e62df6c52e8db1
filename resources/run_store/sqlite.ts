/**
 * The embedded run store: SQLite through `node:sqlite`, in WAL mode so that a
 * sensor daemon and a manual `materialize` can write at the same time.
 *
 * Writes are buffered and committed together in one transaction (at most
 * {@linkcode SqliteRunStoreOptions.flushIntervalMs} later), which keeps the
 * scheduler's overhead per asset in microseconds. Reads commit the buffer first.
 *
 * @module
 */

import { DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import { dirname } from "node:path";
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
  unknownRunError,
} from "../../core/run_store/memory.ts";
import { partitionColumn, toEvent, toMaterialization, toRun, toStep } from "./_rows.ts";
import { runStoreDdl } from "./_schema.ts";

/** Options of {@linkcode SqliteRunStore.open}. */
export interface SqliteRunStoreOptions {
  /**
   * Longest time a write waits in the buffer, in milliseconds.
   * @default {50}
   */
  flushIntervalMs?: number;
  /**
   * How long a write waits for another process's lock, in milliseconds.
   * @default {10000}
   */
  busyTimeoutMs?: number;
}

type Write = () => void;

/** Buffered writes that trigger a commit at once. */
const MAX_BUFFERED = 5_000;

/** Stored form of a materialization's metadata, from its event's serialized data. */
function metadataOf(data: string): string {
  const parsed = JSON.parse(data) as { metadata?: unknown };
  return JSON.stringify(parsed.metadata ?? {});
}

/**
 * Run store in a SQLite file (or `:memory:`).
 *
 * @example
 * ```ts
 * import { SqliteRunStore } from "./sqlite.ts";
 * await using store = SqliteRunStore.open(":memory:");
 * await store.listRuns();
 * ```
 */
export class SqliteRunStore implements RunStore {
  /** Backend and path. */
  readonly description: string;
  #db: DatabaseSync;
  #buffer: Write[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #statements = new Map<string, StatementSync>();
  #flushIntervalMs: number;
  #closed = false;

  private constructor(db: DatabaseSync, path: string, options: SqliteRunStoreOptions) {
    this.#db = db;
    this.description = `sqlite ${path}`;
    this.#flushIntervalMs = options.flushIntervalMs ?? 50;
  }

  /** Opens (and creates when missing) the store at `path`. */
  static open(path: string, options: SqliteRunStoreOptions = {}): SqliteRunStore {
    if (path !== ":memory:") Deno.mkdirSync(dirname(path), { recursive: true });
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      db.exec(`PRAGMA busy_timeout = ${options.busyTimeoutMs ?? 10_000}`);
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      for (const sql of runStoreDdl("sqlite")) db.exec(sql);
    } catch (error) {
      if (db?.isOpen) db.close(); // e.g. the file is not a database: release it
      throw new ResourceError(
        "run_store.unavailable",
        `Cannot open the run store at '${path}': ${message(error)}`,
        {
          input: path,
          cause: error,
        },
      );
    }
    return new SqliteRunStore(db, path, options);
  }

  /**
   * Records a new run, at once (not buffered) so that a duplicate id fails
   * this call with `run_store.duplicate_run` rather than a later batch.
   */
  createRun(run: RunRecord): Promise<void> {
    try {
      checkRun(run);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#now(() => {
      const inserted = this.#prepare(
        `INSERT INTO pipeline_runs (run_id, status, selection, partitions, tags, started_at,
           finished_at, error_summary)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`,
      ).run(
        run.runId,
        run.status,
        run.selection,
        run.partitions,
        JSON.stringify(run.tags),
        run.startedAt,
        run.finishedAt,
        run.errorSummary,
      );
      if (Number(inserted.changes) !== 1) throw duplicateRunError(run.runId, this.description);
    });
  }

  /**
   * Updates a run, at once: fields absent from `update` keep their value,
   * `null` clears them; an unknown id fails with `run_store.unknown_run`.
   */
  updateRun(runId: string, update: RunUpdate): Promise<void> {
    try {
      checkUpdate(runId, update);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#now(() => {
      const updated = this.#prepare(
        `UPDATE pipeline_runs SET status = ?,
           finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
           error_summary = CASE WHEN ? THEN ? ELSE error_summary END
         WHERE run_id = ?`,
      ).run(
        update.status,
        update.finishedAt === undefined ? 0 : 1,
        update.finishedAt ?? null,
        update.errorSummary === undefined ? 0 : 1,
        update.errorSummary ?? null,
        runId,
      );
      if (Number(updated.changes) !== 1) throw unknownRunError(runId, this.description);
    });
  }

  /** A run by id or unique prefix. */
  getRun(runIdOrPrefix: string): Promise<RunRecord | undefined> {
    if (runIdOrPrefix === "") return Promise.resolve(undefined);
    return this.#read(() => {
      const rows = this.#all(
        "SELECT * FROM pipeline_runs WHERE run_id = ? OR run_id LIKE ? ESCAPE '\\' LIMIT 2",
        runIdOrPrefix,
        `${runIdOrPrefix.replace(/[\\%_]/g, "\\$&")}%`,
      );
      const exact = rows.find((row) => row.run_id === runIdOrPrefix);
      if (exact) return toRun(exact);
      return rows.length === 1 && rows[0] ? toRun(rows[0]) : undefined;
    });
  }

  /** Runs, most recent first. */
  listRuns(options: ListRunsOptions = {}): Promise<RunRecord[]> {
    return this.#read(() => {
      const limit = checkListRuns(options);
      const rows = options.status
        ? this.#all(
          "SELECT * FROM pipeline_runs WHERE status = ? ORDER BY started_at DESC, run_id DESC LIMIT ?",
          options.status,
          limit,
        )
        : this.#all(
          "SELECT * FROM pipeline_runs ORDER BY started_at DESC, run_id DESC LIMIT ?",
          limit,
        );
      return rows.map(toRun);
    });
  }

  /** Inserts or replaces a step. */
  putStep(step: StepRecord): Promise<void> {
    try {
      checkStep(step);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#write(() =>
      this.#run(
        `INSERT INTO run_steps (run_id, asset_key, partition_key, status, attempts, started_at, finished_at, reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, asset_key, partition_key) DO UPDATE SET status = excluded.status,
           attempts = excluded.attempts, started_at = COALESCE(excluded.started_at, run_steps.started_at),
           finished_at = excluded.finished_at, reason = excluded.reason`,
        step.runId,
        step.assetKey,
        partitionColumn(step.partition),
        step.status,
        step.attempts,
        step.startedAt,
        step.finishedAt,
        step.reason,
      )
    );
  }

  /** Steps of a run. */
  listSteps(runId: string): Promise<StepRecord[]> {
    return this.#read(() =>
      this.#all("SELECT * FROM run_steps WHERE run_id = ? ORDER BY seq", runId).map(toStep)
    );
  }

  /** Appends events; a bad event (`TypeError`) fails this call and stores none of them. */
  appendEvents(events: readonly RunEvent[]): Promise<void> {
    let checked: ReturnType<typeof checkEvents>;
    try {
      checked = checkEvents(events);
    } catch (error) {
      return Promise.reject(error);
    }
    // Serialized now: later changes to the caller's objects never reach the batch.
    const rows = checked.map(({ event, data, materialization }) => ({
      event,
      data,
      materialization,
      metadata: materialization ? metadataOf(data) : "",
    }));
    return this.#write(() => {
      for (const { event, data, materialization, metadata } of rows) {
        this.#run(
          `INSERT INTO run_events (run_id, type, time, asset_key, partition_key, data)
           VALUES (?, ?, ?, ?, ?, ?)`,
          event.runId,
          event.type,
          event.time,
          event.assetKey,
          event.partition,
          data,
        );
        if (materialization) this.#remember(materialization, metadata);
      }
    });
  }

  /** Events of a run. */
  listEvents(runId: string, options: ListEventsOptions = {}): Promise<StoredRunEvent[]> {
    return this.#read(() => {
      const rows = this.#all(
        "SELECT * FROM run_events WHERE run_id = ? AND id > ? ORDER BY id",
        runId,
        options.afterId ?? 0,
      );
      const events = rows.map(toEvent);
      return options.types ? events.filter((event) => options.types?.includes(event.type)) : events;
    });
  }

  /** Latest materialization of an asset or partition. */
  lastMaterialization(
    assetKey: string,
    partition?: string | null,
  ): Promise<Materialization | undefined> {
    return this.#read(() => {
      const rows = partition === undefined
        ? this.#all(
          "SELECT * FROM materializations WHERE asset_key = ? ORDER BY time DESC LIMIT 1",
          assetKey,
        )
        : this.#all(
          "SELECT * FROM materializations WHERE asset_key = ? AND partition_key = ?",
          assetKey,
          partitionColumn(partition),
        );
      return rows[0] ? toMaterialization(rows[0]) : undefined;
    });
  }

  /** Cursor of a sensor. */
  getCursor(sensor: string): Promise<string | undefined> {
    return this.#read(() => {
      const row = this.#all("SELECT cursor FROM sensor_cursors WHERE sensor = ?", sensor)[0];
      return row ? String(row.cursor) : undefined;
    });
  }

  /** Stores a cursor, durably before returning. */
  setCursor(sensor: string, cursor: string): Promise<void> {
    return this.#now(() =>
      this.#run(
        `INSERT INTO sensor_cursors (sensor, cursor, updated_at) VALUES (?, ?, ?)
         ON CONFLICT (sensor) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
        sensor,
        cursor,
        Date.now(),
      )
    );
  }

  /** Claims a run key atomically across processes. */
  claimRunKey(sensor: string, runKey: string, runId: string): Promise<RunKeyClaim> {
    return this.#now(() => {
      const inserted = this.#prepare(
        "INSERT INTO run_keys (sensor, run_key, run_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      ).run(sensor, runKey, runId, Date.now());
      if (Number(inserted.changes) === 1) return { claimed: true, runId };
      const row = this.#all(
        "SELECT run_id FROM run_keys WHERE sensor = ? AND run_key = ?",
        sensor,
        runKey,
      )[0];
      return { claimed: false, runId: String(row?.run_id) };
    });
  }

  /** Adds dynamic partition keys; returns those that were new. */
  addDynamicPartitions(name: string, keys: readonly string[]): Promise<string[]> {
    return this.#now(() => {
      const insert = this.#prepare(
        "INSERT INTO dynamic_partitions (name, partition_key) VALUES (?, ?) ON CONFLICT DO NOTHING",
      );
      return [...new Set(keys)].filter((key) => Number(insert.run(name, key).changes) === 1);
    });
  }

  /** Keys of a dynamic partitioning. */
  dynamicPartitions(name: string): Promise<string[]> {
    return this.#read(() =>
      this.#all("SELECT partition_key FROM dynamic_partitions WHERE name = ? ORDER BY seq", name)
        .map((row) => String(row.partition_key))
    );
  }

  /** Removes a dynamic partition key. */
  deleteDynamicPartition(name: string, key: string): Promise<void> {
    return this.#now(() =>
      this.#run("DELETE FROM dynamic_partitions WHERE name = ? AND partition_key = ?", name, key)
    );
  }

  /**
   * Commits everything buffered. When the commit fails the writes stay
   * buffered (a later flush retries them) and this call rejects with
   * `run_store.write_failed`.
   */
  flush(): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    try {
      this.#flushNow();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Commits the buffer and closes the database; rejects (after closing) when the commit fails. */
  [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return Promise.resolve();
    try {
      this.#flushNow();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    } finally {
      this.#closed = true;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#db.close();
    }
  }

  #remember(m: Materialization, metadata: string): void {
    this.#run(
      `INSERT INTO materializations (asset_key, partition_key, run_id, time, metadata, code_version)
       VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (asset_key, partition_key) DO UPDATE SET run_id = excluded.run_id,
         time = excluded.time, metadata = excluded.metadata, code_version = excluded.code_version
       WHERE excluded.time >= materializations.time`,
      m.assetKey,
      partitionColumn(m.partition),
      m.runId,
      m.time,
      metadata,
      m.codeVersion,
    );
  }

  #write(write: Write): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#buffer.push(write);
    if (this.#buffer.length >= MAX_BUFFERED) return this.flush();
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      try {
        this.#flushNow();
      } catch {
        // The writes stay buffered: the next flush, read or dispose retries
        // them and, if the commit still fails, rejects with the error.
      }
    }, this.#flushIntervalMs);
    return Promise.resolve();
  }

  #read<T>(read: () => T): Promise<T> {
    return this.#now(read, false);
  }

  /** Runs `work` at once, after committing the buffer; in a transaction when it writes. */
  #now<T>(work: () => T, writes = true): Promise<T> {
    if (this.#closed) return Promise.reject(this.#closedError());
    try {
      this.#flushNow();
      return Promise.resolve(writes ? this.#transaction(work) : work());
    } catch (error) {
      return Promise.reject(this.#wrap(error));
    }
  }

  #flushNow(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#buffer.length === 0) return;
    const writes = this.#buffer;
    this.#buffer = [];
    try {
      this.#transaction(() => writes.forEach((write) => write()));
    } catch (error) {
      // Nothing of the batch was committed: keep it, ahead of newer writes.
      this.#buffer = [...writes, ...this.#buffer];
      throw this.#wrap(error);
    }
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      // SQLite may already have rolled back (e.g. on SQLITE_FULL); the original error matters.
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  #run(sql: string, ...params: SQLInputValue[]): void {
    this.#prepare(sql).run(...params);
  }

  #all(sql: string, ...params: SQLInputValue[]): Record<string, unknown>[] {
    return this.#prepare(sql).all(...params) as Record<string, unknown>[];
  }

  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.#db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  #wrap(error: unknown): Error {
    // Typed errors and bad-argument errors already say what is wrong.
    if (
      error instanceof ResourceError || error instanceof TypeError || error instanceof RangeError
    ) {
      return error;
    }
    return new ResourceError(
      "run_store.write_failed",
      `Run store ${this.description}: ${message(error)}`,
      {
        cause: error,
      },
    );
  }

  #closedError(): Error {
    return new ResourceError("run_store.closed", `Run store ${this.description} is closed`);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
