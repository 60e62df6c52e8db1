/**
 * The embedded run store: SQLite through `node:sqlite`, in WAL mode so that a
 * sensor daemon and a manual `materialize` can write at the same time.
 *
 * Writes are buffered and committed together in one transaction (at most
 * {@linkcode SqliteRunStoreOptions.flushIntervalMs} later), which keeps the
 * scheduler's overhead per asset in microseconds. Reads commit the buffer first.
 *
 * A full disk must not lose how a run ended (the next start would only see a
 * run whose owner died): the store keeps a reserve file beside the database
 * (`_space_reserve.ts`), which an explicit {@linkcode SqliteRunStore.flush}
 * or a run's end gives back when a write fails for lack of space, and a run's
 * end whose buffered steps and events still do not fit is written on its own,
 * ahead of them (they stay buffered for a later flush).
 *
 * @module
 */

import { crashPoint } from "../../core/crash_point.ts";
import type { DatabaseSync, SQLInputValue, StatementSync } from "node:sqlite";
import type { Materialization } from "../../core/asset.ts";
import { type Clock, systemClock } from "../../core/clock.ts";
import { DiskFullError, lastingFailure, ResourceError, toError } from "../../core/errors.ts";
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
import { immediateTransaction, openSqlite, sqliteDiskFull, sqliteOpenHint } from "../_sqlite.ts";
import { SpaceReserve } from "../_space_reserve.ts";
import { WriteBuffer } from "./_buffer.ts";
import { IndexedPairs } from "./_indexed_pairs.ts";
import {
  partitionColumn,
  provenanceColumn,
  toAutomationRecord,
  toAutomationState,
  toEvent,
  toMaterialization,
  toRun,
  toStep,
  toTick,
} from "./_rows.ts";
import { type RunListDialect, runListQuery } from "./_run_list.ts";
import {
  addedColumnType,
  RUN_STORE_ADDED_COLUMNS,
  runIndexBackfill,
  runStoreDdl,
} from "./_schema.ts";

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
  /**
   * Where the store reads the time it stamps on cursors and run keys.
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * How often (milliseconds, at most) a read or commit checks that the path
   * still names the file this store opened (see {@linkcode SqliteRunStore}).
   * @default {1000}
   */
  fileCheckIntervalMs?: number;
}

type Write = () => void;

/** Writes waiting for one transaction. */
class Writes {
  readonly list: Write[] = [];
  get size(): number {
    return this.list.length;
  }
}

/** Buffered writes that trigger a commit at once. */
const MAX_BUFFERED = 5_000;

/** Stored form of a materialization's metadata, from its event's serialized data. */
function metadataOf(data: string): string {
  const parsed = JSON.parse(data) as { metadata?: unknown };
  return JSON.stringify(parsed.metadata ?? {});
}

const RUN_LIST: RunListDialect = {
  tables: { pipeline_runs: "pipeline_runs", run_tags: "run_tags", run_assets: "run_assets" },
  columns: "r.*",
  placeholder: () => "?",
  time: (placeholder) => placeholder,
  // SQLite keeps the left table of a CROSS JOIN as the outer loop: the walk
  // stays on the index in the list's order.
  join: "CROSS JOIN",
};

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
export class SqliteRunStore extends RunStoreBase {
  /** Backend and path. */
  readonly description: string;
  #db: DatabaseSync;
  #buffer: WriteBuffer<Writes>;
  #statements = new Map<string, StatementSync>();
  #clock: Clock;
  #closed = false;
  /** (run, asset) pairs already in `run_assets`: a step's later writes skip the insert. */
  #indexed = new IndexedPairs();
  readonly #path: string;
  /** Space kept for a run's end; none for `:memory:` and `file:` URIs. */
  readonly #reserve: SpaceReserve | undefined;
  /** The opened file's identity (none for `:memory:`, `file:` URIs, or without inodes). */
  #file: { readonly dev: number; readonly ino: number } | undefined;
  readonly #fileCheckMs: number;
  #fileCheckedAt = Number.NEGATIVE_INFINITY;

  private constructor(
    db: DatabaseSync,
    path: string,
    options: SqliteRunStoreOptions,
    reserve: SpaceReserve | undefined,
  ) {
    super();
    this.#db = db;
    this.#path = path;
    this.#reserve = reserve;
    this.description = `sqlite ${path}`;
    this.#clock = options.clock ?? systemClock;
    this.#fileCheckMs = options.fileCheckIntervalMs ?? 1000;
    if (reserve) {
      const info = Deno.statSync(path);
      if (info.dev !== null && info.ino !== null) this.#file = { dev: info.dev, ino: info.ino };
    }
    this.#buffer = new WriteBuffer({
      newBatch: () => new Writes(),
      commit: (batch) => {
        try {
          this.#checkFile();
          immediateTransaction(this.#db, () => batch.list.forEach((write) => write()));
        } catch (error) {
          throw this.#wrap(error);
        }
      },
      keep: (failed, newer) => {
        newer.list.unshift(...failed.list);
        return newer;
      },
      flushIntervalMs: options.flushIntervalMs ?? 50,
      maxBuffered: MAX_BUFFERED,
    });
  }

  /** Opens (and creates when missing) the store at `path`. */
  static open(path: string, options: SqliteRunStoreOptions = {}): SqliteRunStore {
    let db: DatabaseSync;
    try {
      db = openSqlite(path, {
        busyTimeoutMs: options.busyTimeoutMs ?? 10_000,
        synchronous: "NORMAL",
        setup: (db) => immediateTransaction(db, () => prepareTables(db, path)),
      });
    } catch (error) {
      if (error instanceof ResourceError) throw error; // says what is wrong with the file
      // A full disk met while opening (making -shm) reads "disk I/O error".
      if (sqliteDiskFull(error, path)) {
        throw new DiskFullError(`the run store '${path}'`, path, { cause: error });
      }
      throw new ResourceError(
        "run_store.unavailable",
        `Cannot open the run store at '${path}': ${message(error)}${
          sqliteOpenHint(error) ? `; ${sqliteOpenHint(error)}` : ""
        }`,
        { input: path, cause: error },
      );
    }
    const reserve = path === ":memory:" || path.startsWith("file:")
      ? undefined
      : new SpaceReserve(path);
    try {
      // No room for it now: the store works without one (a run's end is then written alone).
      reserve?.ensure();
    } catch (error) {
      db.close();
      throw new ResourceError(
        "run_store.unavailable",
        `Cannot open the run store at '${path}': cannot make its space reserve ` +
          `'${reserve?.path}': ${message(error)}; check that its folder is writable`,
        { input: path, cause: error },
      );
    }
    return new SqliteRunStore(db, path, options, reserve);
  }

  /** Records a run at once (not buffered), so a duplicate id fails this call. */
  protected insertRun(run: RunRecord): Promise<boolean> {
    return this.#now(() => {
      const inserted = this.#prepare(
        `INSERT INTO pipeline_runs (run_id, status, selection, partitions, tags, started_at,
           finished_at, error_summary, owner_id, owner_host, owner_pid, heartbeat_at,
           heartbeat_timeout_ms, cancel_requested_at, cancel_reason)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO NOTHING`,
      ).run(
        run.runId,
        run.status,
        run.selection,
        run.partitions,
        JSON.stringify(run.tags),
        run.startedAt,
        run.finishedAt,
        run.errorSummary,
        run.owner?.instanceId ?? null,
        run.owner?.host ?? null,
        run.owner?.pid ?? null,
        run.heartbeatAt,
        run.heartbeatTimeoutMs,
        run.cancelRequestedAt,
        run.cancelReason,
      );
      if (Number(inserted.changes) !== 1) return false;
      this.#setTags(run.runId, run.tags);
      // Steps recorded before their run (rare) are indexed now.
      this.#run(
        `INSERT INTO run_assets (asset_key, started_at, run_id)
         SELECT DISTINCT asset_key, ?, run_id FROM run_steps WHERE run_id = ? ON CONFLICT DO NOTHING`,
        run.startedAt,
        run.runId,
      );
      return true;
    });
  }

  /** Sets the `run_tags` rows of `tags` (replacing those of the same keys) of a recorded run. */
  #setTags(runId: string, tags: Readonly<Record<string, string>>): void {
    for (const [key, value] of Object.entries(tags)) {
      this.#run("DELETE FROM run_tags WHERE run_id = ? AND key = ?", runId, key);
      this.#run(
        `INSERT INTO run_tags (key, value, started_at, run_id)
         SELECT ?, ?, started_at, run_id FROM pipeline_runs WHERE run_id = ?`,
        key,
        value,
        runId,
      );
    }
  }

  /**
   * Updates a run at once: absent fields keep their value, `null` clears them.
   * A run's end (`finishedAt` set) is recorded even on a full disk (see
   * {@linkcode SqliteRunStore.#end}).
   */
  protected writeRunUpdate(runId: string, update: RunUpdate): Promise<boolean> {
    const work = () => {
      // The fence (see #reaped): the end a reaped run's owner still sends is dropped; the
      // reaper's stands. Other updates (the daemon's retry decision in the tags) go through.
      if (update.finishedAt !== undefined && this.#reaped(runId)) {
        return this.#get("SELECT 1 AS found FROM pipeline_runs WHERE run_id = ?", runId) !==
          undefined;
      }
      const updated = this.#prepare(
        `UPDATE pipeline_runs SET status = ?,
           finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
           error_summary = CASE WHEN ? THEN ? ELSE error_summary END,
           tags = CASE WHEN ? IS NULL THEN tags ELSE json_patch(tags, ?) END
         WHERE run_id = ?`,
      ).run(
        update.status,
        update.finishedAt === undefined ? 0 : 1,
        update.finishedAt ?? null,
        update.errorSummary === undefined ? 0 : 1,
        update.errorSummary ?? null,
        update.tags === undefined ? null : 1,
        update.tags === undefined ? null : JSON.stringify(update.tags),
        runId,
      );
      if (Number(updated.changes) !== 1) return false;
      if (update.tags) this.#setTags(runId, update.tags);
      return true;
    };
    if (update.finishedAt === undefined || update.finishedAt === null) return this.#now(work);
    return this.#end(runId, update.finishedAt, work);
  }

  /**
   * Writes a run's end with everything buffered before it; when the disk is
   * full, gives the reserve back and tries again, and when even that does not
   * fit, writes the end alone (its steps still pending or running settled as
   * unrecorded, as a reap would), ahead of the buffered writes, which stay
   * for a later flush. Only a failure of that small write is thrown.
   */
  async #end(runId: string, finishedAt: number, work: () => boolean): Promise<boolean> {
    try {
      return await this.#now(work);
    } catch (error) {
      if (lastingFailure(error) !== "disk_full") throw error;
      if (this.#reserve?.release()) {
        try {
          return await this.#now(work);
        } catch (again) {
          if (lastingFailure(again) !== "disk_full") throw again;
        }
      }
    }
    try {
      return immediateTransaction(this.#db, () => {
        if (!work()) return false;
        const reason = "not recorded: the run store's disk was full when the run ended";
        this.#run(
          `UPDATE run_steps SET status = CASE status WHEN 'running' THEN 'failed' ELSE 'canceled' END,
             finished_at = ?, reason = ?
           WHERE run_id = ? AND status IN ('pending', 'running')`,
          finishedAt,
          reason,
          runId,
        );
        return true;
      });
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  /** A run by id or unique prefix. */
  protected readRun(runIdOrPrefix: string): Promise<RunRecord | undefined> {
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

  /** Runs, most recent first, from the cursor on (see `_run_list.ts`). */
  protected readRuns(filter: RunFilter): Promise<RunRecord[]> {
    // One statement per combination of filters (a handful), cached like the others.
    const { sql, params } = runListQuery(filter, RUN_LIST);
    return this.#read(() => this.#all(sql, ...params).map(toRun));
  }

  /** Events of one asset, newest first. */
  protected readAssetEvents(filter: AssetEventFilter): Promise<StoredRunEvent[]> {
    const where = ["asset_key = ?"];
    const params: SQLInputValue[] = [filter.assetKey];
    if (filter.beforeId !== undefined) {
      where.push("id < ?");
      params.push(filter.beforeId);
    }
    if (filter.types) {
      where.push(`type IN (${filter.types.map(() => "?").join(", ") || "NULL"})`);
      params.push(...filter.types);
    }
    if (filter.partition === null) where.push("(partition_key IS NULL OR partition_key = '')");
    else if (filter.partition !== undefined) {
      where.push("partition_key = ?");
      params.push(filter.partition);
    }
    return this.#read(() =>
      this.#all(
        `SELECT * FROM run_events WHERE ${where.join(" AND ")} ORDER BY id DESC LIMIT ?`,
        ...params,
        filter.limit,
      ).map(toEvent)
    );
  }

  /** Stores a state at once. */
  protected writeAutomationState(state: AutomationState): Promise<AutomationState> {
    return this.#now(() => {
      this.#run(
        `INSERT INTO automation_state (name, enabled, updated_at, updated_by) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET enabled = excluded.enabled,
           updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        state.name,
        state.enabled ? 1 : 0,
        state.updatedAt,
        state.updatedBy,
      );
      return { ...state };
    });
  }

  /** Every state, by name. */
  protected readAutomationStates(): Promise<AutomationState[]> {
    return this.#read(() =>
      this.#all("SELECT * FROM automation_state ORDER BY name").map(toAutomationState)
    );
  }

  /** Records ticks in one transaction, collapsing repeats and dropping the oldest. */
  protected writeTicks(ticks: readonly NewTick[]): Promise<void> {
    return this.#now(() => {
      for (const tick of ticks) {
        const latest = this.#all(
          "SELECT * FROM automation_ticks WHERE name = ? ORDER BY id DESC LIMIT 1",
          tick.name,
        ).map(toTick)[0];
        if (latest && tickCollapses(latest, tick)) {
          this.#run(
            "UPDATE automation_ticks SET last_time = ?, count = count + 1 WHERE id = ?",
            tick.time,
            latest.id,
          );
          continue;
        }
        this.#run(
          `INSERT INTO automation_ticks (name, kind, time, last_time, count, status, run_ids,
             duplicate_keys, reason, cursor) VALUES (?, ?, ?, ?, 1, ?, ?, ?, ?, ?)`,
          tick.name,
          tick.kind,
          tick.time,
          tick.time,
          tick.status,
          JSON.stringify(tick.runIds),
          JSON.stringify(tick.duplicateKeys),
          tick.reason,
          tick.cursor,
        );
        this.#run(
          `DELETE FROM automation_ticks WHERE name = ? AND id <= (SELECT id FROM automation_ticks
             WHERE name = ? ORDER BY id DESC LIMIT 1 OFFSET ?)`,
          tick.name,
          tick.name,
          TICK_HISTORY,
        );
      }
    });
  }

  /** Tick records of a name, newest first. */
  protected readTicks(
    name: string,
    beforeId: number | undefined,
    limit: number,
  ): Promise<TickRecord[]> {
    return this.#read(() =>
      this.#all(
        "SELECT * FROM automation_ticks WHERE name = ? AND id < ? ORDER BY id DESC LIMIT ?",
        name,
        beforeId ?? Number.MAX_SAFE_INTEGER,
        limit,
      ).map(toTick)
    );
  }

  /**
   * Beats for the owner's running runs, in one transaction; reports requests
   * and lost runs. Recorded after the buffer. When the buffer cannot be committed
   * for lack of space, the heartbeat (one small update per run) is written
   * alone, ahead of it: a full disk must not let the lease lapse while the
   * owner lives, or another process would fail the run and relaunch it while
   * it still runs here. When even that does not fit (the `-wal` file must
   * grow), the space reserve is given back for it: the file grows into that
   * room once and later heartbeats, and the run's end, reuse it.
   */
  protected async writeHeartbeat(
    owner: RunOwner,
    runIds: readonly string[],
    time: number,
  ): Promise<HeartbeatReply> {
    const work = () => this.#beat(owner, runIds, time);
    try {
      return await this.#now(work);
    } catch (error) {
      if (lastingFailure(error) !== "disk_full" || this.#closed) throw error;
    }
    try {
      return immediateTransaction(this.#db, work);
    } catch (error) {
      if (lastingFailure(error) !== "disk_full" || !this.#reserve?.release()) {
        throw this.#wrap(error);
      }
    }
    try {
      return immediateTransaction(this.#db, work);
    } catch (error) {
      throw this.#wrap(error);
    }
  }

  #beat(owner: RunOwner, runIds: readonly string[], time: number): HeartbeatReply {
    const cancelRequested: { runId: string; reason: string }[] = [];
    const lost: string[] = [];
    const beat = this.#prepare(
      `UPDATE pipeline_runs SET heartbeat_at = ?
       WHERE run_id = ? AND status = 'running' AND owner_id = ?
       RETURNING cancel_requested_at, cancel_reason`,
    );
    for (const runId of runIds) {
      const row = beat.get(time, runId, owner.instanceId);
      if (row === undefined) lost.push(runId);
      else if (row.cancel_requested_at !== null) {
        cancelRequested.push({ runId, reason: String(row.cancel_reason ?? "cancel requested") });
      }
    }
    return { cancelRequested, lost };
  }

  /** Marks a running run as asked to cancel (the first request wins). */
  protected writeCancelRequest(runId: string, request: CancelRequest): Promise<boolean> {
    return this.#now(() => {
      const updated = this.#prepare(
        `UPDATE pipeline_runs SET cancel_requested_at = COALESCE(cancel_requested_at, ?),
           cancel_reason = COALESCE(cancel_reason, ?)
         WHERE run_id = ? AND status = 'running'`,
      ).run(request.time, request.reason, runId);
      return Number(updated.changes) === 1;
    });
  }

  /**
   * Fails the runs whose owner is gone, with their steps and one event each,
   * in one immediate transaction: another process reaping at the same time
   * waits for it, then finds those runs no longer running.
   */
  protected reap(
    { now, deadOwners = [], liveOwners = [], reaper }: ReapOptions,
  ): Promise<RunRecord[]> {
    return this.#now(() => {
      const running = this.#all(
        "SELECT * FROM pipeline_runs WHERE status = 'running' AND owner_id IS NOT NULL",
      ).map(toRun);
      const reaped: RunRecord[] = [];
      for (const run of running) {
        if (!ownerIsGone(run, now, deadOwners, liveOwners)) continue;
        const record = reapedRun(run, now, deadOwners.includes(run.owner?.instanceId ?? ""));
        this.#run(
          `UPDATE pipeline_runs SET status = ?, finished_at = ?, error_summary = ?, tags = ?
           WHERE run_id = ?`,
          record.status,
          record.finishedAt,
          record.errorSummary,
          JSON.stringify(record.tags),
          run.runId,
        );
        this.#setTags(run.runId, record.tags);
        const steps = this.#all("SELECT * FROM run_steps WHERE run_id = ?", run.runId).map(toStep);
        for (const step of steps) {
          const next = reapedStep(step, now);
          if (!next) continue;
          this.#run(
            `UPDATE run_steps SET status = ?, finished_at = ?, reason = ?
             WHERE run_id = ? AND asset_key = ? AND partition_key = ?`,
            next.status,
            next.finishedAt,
            next.reason,
            next.runId,
            next.assetKey,
            partitionColumn(next.partition),
          );
        }
        const event = reapEvent(record, now, reaper);
        this.#run(
          `INSERT INTO run_events (run_id, type, time, asset_key, partition_key, data)
           VALUES (?, ?, ?, NULL, NULL, ?)`,
          event.runId,
          event.type,
          event.time,
          JSON.stringify(event.data),
        );
        reaped.push(record);
      }
      return reaped;
    });
  }

  /** Inserts or replaces a step (buffered), and indexes its run under its asset. */
  protected writeStep(step: StepRecord): Promise<void> {
    const index = this.#indexed.add(step.runId, step.assetKey);
    return this.#write(() => {
      if (this.#reaped(step.runId)) return;
      if (index) {
        this.#run(
          `INSERT INTO run_assets (asset_key, started_at, run_id)
           SELECT ?, started_at, run_id FROM pipeline_runs WHERE run_id = ? ON CONFLICT DO NOTHING`,
          step.assetKey,
          step.runId,
        );
      }
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
      );
    });
  }

  /** Steps of a run. */
  protected readSteps(runId: string): Promise<StepRecord[]> {
    return this.#read(() =>
      this.#all("SELECT * FROM run_steps WHERE run_id = ? ORDER BY seq", runId).map(toStep)
    );
  }

  /** Appends checked events (buffered). */
  protected writeEvents(events: readonly SerializedEvent[]): Promise<void> {
    const rows = events.map(({ event, data, materialization }) => ({
      event,
      data,
      materialization,
      metadata: materialization ? metadataOf(data) : "",
    }));
    return this.#write(() => {
      for (const { event, data, materialization, metadata } of rows) {
        if (event.type !== "log" && this.#reaped(event.runId)) continue;
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
  protected readEvents(runId: string, options: ListEventsOptions): Promise<StoredRunEvent[]> {
    return this.#read(() => {
      // The type filter runs in SQL, as on Postgres: a run of 10,000 steps has ~50,000
      // events, and parsing the JSON of the ones then thrown away was most of the read.
      const rows = options.types
        ? this.#all(
          `SELECT * FROM run_events WHERE run_id = ? AND id > ?
             AND type IN (SELECT value FROM json_each(?)) ORDER BY id`,
          runId,
          options.afterId ?? 0,
          JSON.stringify(options.types),
        )
        : this.#all(
          "SELECT * FROM run_events WHERE run_id = ? AND id > ? ORDER BY id",
          runId,
          options.afterId ?? 0,
        );
      return rows.map(toEvent);
    });
  }

  /** Latest materialization of an asset or partition. */
  protected readLastMaterialization(
    assetKey: string,
    partition: string | null | undefined,
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

  /** Events of every run after an id, oldest first. */
  protected readEventsAfter({ afterId, types, limit }: EventFeedFilter): Promise<StoredRunEvent[]> {
    return this.#read(() => {
      const rows = types
        ? this.#all(
          `SELECT * FROM run_events WHERE id > ? AND type IN (SELECT value FROM json_each(?))
           ORDER BY id LIMIT ?`,
          afterId,
          JSON.stringify(types),
          limit,
        )
        : this.#all("SELECT * FROM run_events WHERE id > ? ORDER BY id LIMIT ?", afterId, limit);
      return rows.map(toEvent);
    });
  }

  /** Latest materialization of every partition of an asset. */
  protected readMaterializations(assetKey: string): Promise<Materialization[]> {
    return this.#read(() =>
      this.#all("SELECT * FROM materializations WHERE asset_key = ?", assetKey)
        .map(toMaterialization)
    );
  }

  /** Appends automation records in one transaction, at once. */
  protected writeAutomationRecords(records: readonly SerializedAutomationRecord[]): Promise<void> {
    return this.#now(() => {
      for (const { record, data } of records) {
        this.#run(
          "INSERT INTO automation_records (kind, time, asset_key, name, data) VALUES (?, ?, ?, ?, ?)",
          record.kind,
          record.time,
          record.assetKey,
          record.name,
          data,
        );
      }
    });
  }

  /** Automation records, newest first. */
  protected readAutomationRecords(f: AutomationRecordFilter): Promise<StoredAutomationRecord[]> {
    return this.#read(() =>
      this.#all(
        `SELECT * FROM automation_records
         WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR asset_key = ?)
           AND (? IS NULL OR id < ?) AND (? IS NULL OR id > ?)
         ORDER BY id DESC LIMIT ?`,
        f.kind ?? null,
        f.kind ?? null,
        f.assetKey ?? null,
        f.assetKey ?? null,
        f.beforeId ?? null,
        f.beforeId ?? null,
        f.afterId ?? null,
        f.afterId ?? null,
        f.limit,
      ).map(toAutomationRecord)
    );
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
        this.#clock.now(),
      )
    );
  }

  /** Claims a run key atomically across processes. */
  claimRunKey(sensor: string, runKey: string, runId: string): Promise<RunKeyClaim> {
    return this.#now(() => {
      const inserted = this.#prepare(
        "INSERT INTO run_keys (sensor, run_key, run_id, created_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
      ).run(sensor, runKey, runId, this.#clock.now());
      if (Number(inserted.changes) === 1) return { claimed: true, runId };
      const row = this.#all(
        "SELECT run_id FROM run_keys WHERE sensor = ? AND run_key = ?",
        sensor,
        runKey,
      )[0];
      return { claimed: false, runId: String(row?.run_id) };
    });
  }

  /** The run id of a claimed run key. */
  getRunKey(sensor: string, runKey: string): Promise<string | undefined> {
    return this.#read(() => {
      const row = this.#all(
        "SELECT run_id FROM run_keys WHERE sensor = ? AND run_key = ?",
        sensor,
        runKey,
      )[0];
      return row ? String(row.run_id) : undefined;
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
   * `run_store.write_failed`, or `disk_full` naming the file once the
   * space reserve, given back for this, did not make room either.
   */
  async flush(): Promise<void> {
    if (this.#closed) throw this.#closedError();
    try {
      await this.#buffer.flush();
    } catch (error) {
      if (lastingFailure(error) !== "disk_full" || !this.#reserve?.release()) throw error;
      await this.#buffer.flush();
    }
  }

  /** Commits the buffer and closes the database; rejects (after closing) when the commit fails. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#buffer.flush();
    } finally {
      this.#buffer.dispose();
      crashPoint("runs.close"); // with @ms: inside SQLite's WAL checkpoint at close
      this.#db.close();
    }
  }

  #remember(m: Materialization, metadata: string): void {
    this.#run(
      `INSERT INTO materializations (asset_key, partition_key, run_id, time, metadata, code_version,
         provenance)
       VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (asset_key, partition_key) DO UPDATE SET run_id = excluded.run_id,
         time = excluded.time, metadata = excluded.metadata, code_version = excluded.code_version,
         provenance = excluded.provenance
       WHERE excluded.time >= materializations.time`,
      m.assetKey,
      partitionColumn(m.partition),
      m.runId,
      m.time,
      metadata,
      m.codeVersion,
      provenanceColumn(m),
    );
  }

  /**
   * The fence of a run taken for dead: once a reaper failed it (tag
   * `owner_lost`, written in the reap's transaction), what its owner still
   * sends is dropped. That owner was alive after all (stopped with SIGSTOP, a
   * frozen VM, its event loop blocked by a long synchronous step) and learns
   * it only at its next heartbeat, which commits the buffer first: meanwhile
   * its step's materialization would replace the retry's as the asset's
   * latest, from a failed run, and its step and end would read success in the
   * run the reaper failed. Rows of a run not recorded yet are kept, and so are
   * log lines (what it said, such as why it stopped, is worth reading). The
   * same fence as the Postgres store's.
   */
  #reaped(runId: string): boolean {
    return this.#get(
      `SELECT 1 AS found FROM pipeline_runs WHERE run_id = ?
         AND json_extract(tags, '$.${OWNER_LOST_TAG}') IS NOT NULL`,
      runId,
    ) !== undefined;
  }

  #get(sql: string, ...params: SQLInputValue[]): Record<string, unknown> | undefined {
    return this.#prepare(sql).get(...params) as Record<string, unknown> | undefined;
  }

  #write(write: Write): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closedError());
    this.#buffer.batch.list.push(write);
    return this.#buffer.added();
  }

  #read<T>(read: () => T): Promise<T> {
    return this.#now(read, false);
  }

  /** Runs `work` after committing the buffer; in a transaction when it writes. */
  async #now<T>(work: () => T, writes = true): Promise<T> {
    if (this.#closed) throw this.#closedError();
    await this.#buffer.flush();
    try {
      this.#checkFile();
      return writes ? immediateTransaction(this.#db, work) : work();
    } catch (error) {
      throw this.#wrap(error);
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
    if (lastingFailure(error) === "disk_full") {
      return new DiskFullError(`the run store '${this.#path}'`, this.#path, { cause: error });
    }
    // Another process held the lock past busy_timeout: trying again later may well work.
    const busy = /database (?:table )?is locked|SQLITE_BUSY/i.test(message(error));
    // Say what to do: a damaged file needs a person, a lock needs its holder to finish.
    const hint = busy
      ? "another process holds a write transaction on it for longer than the busy timeout: " +
        "try again once it has finished (a process stuck in one must be stopped)"
      : sqliteOpenHint(error);
    return new ResourceError(
      "run_store.write_failed",
      `Run store ${this.description}: ${message(error)}${hint ? `; ${hint}` : ""}`,
      { cause: error, transient: busy },
    );
  }

  /**
   * Throws when the path no longer names the file this store opened: deleted
   * (a `rm -r .state`) or replaced (a backup put back) under a long-running
   * process. SQLite goes on with the open file, so every write would land in
   * a file nobody else sees and be lost when the process ends.
   */
  #checkFile(): void {
    if (!this.#file) return;
    const now = performance.now();
    if (now - this.#fileCheckedAt < this.#fileCheckMs) return;
    let info: Deno.FileInfo | undefined;
    try {
      info = Deno.statSync(this.#path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    if (info && info.dev === this.#file.dev && info.ino === this.#file.ino) {
      this.#fileCheckedAt = now;
      return;
    }
    throw new ResourceError(
      "run_store.file_replaced",
      `Run store ${this.description}: the file was ${
        info ? "replaced by another file" : "deleted"
      } while this process had it open, so what it recorded now would be lost: restart this ` +
        `process to open ${info ? "the file now at that path" : "a new one"}, or put the file back`,
      { input: this.#path, restartRequired: true },
    );
  }

  #closedError(): Error {
    return new ResourceError("run_store.closed", `Run store ${this.description} is closed`);
  }
}

/**
 * Creates the tables when missing, and adds the columns added since an
 * older version made them (in the caller's transaction, so two processes
 * opening an old file at once add them once).
 */
/**
 * `PRAGMA user_version` of the run store's file. Tables only ever gain columns, so an older
 * build reads a newer file; a change it could not read raises this, and the older build
 * refuses the file instead of misreading it.
 */
const SCHEMA_VERSION = 1;

function prepareTables(db: DatabaseSync, path: string): void {
  const version = Number(db.prepare("PRAGMA user_version").get()?.user_version ?? 0);
  if (version > SCHEMA_VERSION) {
    const failure = new ResourceError(
      "run_store.unsupported_version",
      `Cannot open the run store at '${path}': its schema version ${version} is newer than ` +
        `this build reads (${SCHEMA_VERSION}); upgrade the platform, or point RUNS_URL (or ` +
        "STATE_DIR) at another file",
      { input: path },
    );
    // Only an upgrade fixes it.
    Object.defineProperty(failure, "retryable", { value: false });
    throw failure;
  }
  if (version < SCHEMA_VERSION) db.exec(`PRAGMA user_version = ${SCHEMA_VERSION}`);
  const indexed = db.prepare(
    "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name IN ('run_tags', 'run_assets')",
  ).get() as { n: number };
  for (const sql of runStoreDdl("sqlite")) db.exec(sql);
  for (const [table, columns] of Object.entries(RUN_STORE_ADDED_COLUMNS)) {
    const present = new Set(
      db.prepare(`PRAGMA table_info(${table})`).all().map((row) => String(row.name)),
    );
    for (const [column, type] of columns) {
      if (!present.has(column)) {
        db.exec(`ALTER TABLE ${table} ADD COLUMN ${column} ${addedColumnType("sqlite", type)}`);
      }
    }
  }
  // A store made before runs were indexed by tag and asset: index what it holds.
  if (Number(indexed.n) < 2) { for (const sql of runIndexBackfill("sqlite")) db.exec(sql); }
}

function message(error: unknown): string {
  return toError(error).message;
}
