/**
 * In-memory run store: the twin used by unit tests and `materialize()` when
 * no store is given. The input rules it applies are {@linkcode RunStoreBase}'s,
 * shared with the SQL backends in `resources/run_store/`.
 *
 * @module
 */

import type { Materialization } from "../asset.ts";
import type { Metadata } from "../metadata.ts";
import {
  type AssetEventFilter,
  type AutomationRecordFilter,
  checkEvents,
  type EventFeedFilter,
  isAfter,
  mergeStep,
  ownerIsGone,
  reapedRun,
  reapedStep,
  reapEvent,
  type RunFilter,
  RunStoreBase,
  type SerializedAutomationRecord,
  type SerializedEvent,
  tickCollapses,
} from "./base.ts";
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
} from "./types.ts";

const cloneTags = (tags: Readonly<Record<string, string>>) => ({ ...tags });

/**
 * A {@linkcode RunStore} that lives and dies with the process.
 *
 * @example
 * ```ts
 * import { MemoryRunStore } from "./memory.ts";
 * await using store = new MemoryRunStore();
 * await store.listRuns(); // []
 * ```
 */
export class MemoryRunStore extends RunStoreBase {
  /** Backend name. */
  readonly description = "memory";
  #runs = new Map<string, RunRecord>();
  /** Run ids, newest first (the list's order), so a page starts by binary search. */
  #order: string[] = [];
  #steps = new Map<string, Map<string, StepRecord>>();
  #events: StoredRunEvent[] = [];
  #latest = new Map<string, Materialization>();
  #byAsset = new Map<string, Map<string, Materialization>>();
  #cursors = new Map<string, string>();
  #runKeys = new Map<string, string>();
  #dynamic = new Map<string, string[]>();
  #automation: StoredAutomationRecord[] = [];
  #eventsByAsset = new Map<string, StoredRunEvent[]>();
  #states = new Map<string, AutomationState>();
  #ticks = new Map<string, TickRecord[]>();
  #tickId = 0;

  /** Stores a run unless its id is taken. */
  protected insertRun(run: RunRecord): Promise<boolean> {
    if (this.#runs.has(run.runId)) return Promise.resolve(false);
    this.#runs.set(run.runId, copyRun(run));
    this.#order.splice(this.#firstAfter(run), 0, run.runId);
    return Promise.resolve(true);
  }

  /** Applies an update: absent fields keep their value, `null` clears them. */
  protected writeRunUpdate(runId: string, update: RunUpdate): Promise<boolean> {
    const run = this.#runs.get(runId);
    if (!run) return Promise.resolve(false);
    // The fence (see #reaped): the end a reaped run's owner still sends is dropped; the
    // reaper's stands. Other updates (the daemon's retry decision in the tags) go through.
    if (update.finishedAt !== undefined && this.#reaped(runId)) return Promise.resolve(true);
    this.#runs.set(runId, {
      ...run,
      status: update.status,
      ...(update.finishedAt !== undefined ? { finishedAt: update.finishedAt } : {}),
      ...(update.errorSummary !== undefined ? { errorSummary: update.errorSummary } : {}),
      tags: { ...run.tags, ...update.tags },
    });
    return Promise.resolve(true);
  }

  /** A run by id or unique prefix; `undefined` for an ambiguous prefix. */
  protected readRun(runIdOrPrefix: string): Promise<RunRecord | undefined> {
    const exact = this.#runs.get(runIdOrPrefix);
    if (exact) return Promise.resolve(copyRun(exact));
    const matches = [...this.#runs.values()].filter((run) => run.runId.startsWith(runIdOrPrefix));
    return Promise.resolve(matches.length === 1 && matches[0] ? copyRun(matches[0]) : undefined);
  }

  /** Runs, most recent first, from the cursor on. */
  protected readRuns(filter: RunFilter): Promise<RunRecord[]> {
    const { limit, status, tags, asset, startedFrom, startedBefore, after } = filter;
    const wanted = Object.entries(tags ?? {});
    const found: RunRecord[] = [];
    for (let i = after ? this.#firstAfter(after) : 0; i < this.#order.length; i++) {
      const run = this.#runs.get(this.#order[i] as string) as RunRecord;
      if (startedFrom !== undefined && run.startedAt < startedFrom) break;
      if (startedBefore !== undefined && run.startedAt >= startedBefore) continue;
      if (status && run.status !== status) continue;
      if (!wanted.every(([k, v]) => run.tags[k] === v)) continue;
      if (asset !== undefined && !this.#hasAsset(run.runId, asset)) continue;
      found.push(copyRun(run));
      if (found.length === limit) break;
    }
    return Promise.resolve(found);
  }

  /** Index in `#order` of the first run after `cursor` (binary search). */
  #firstAfter(cursor: { startedAt: number; runId: string }): number {
    let low = 0, high = this.#order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      const run = this.#runs.get(this.#order[mid] as string) as RunRecord;
      if (isAfter(run, cursor)) high = mid;
      else low = mid + 1;
    }
    return low;
  }

  #hasAsset(runId: string, asset: string): boolean {
    for (const step of this.#steps.get(runId)?.values() ?? []) {
      if (step.assetKey === asset) return true;
    }
    return false;
  }

  /** Events of one asset, newest first. */
  protected readAssetEvents(filter: AssetEventFilter): Promise<StoredRunEvent[]> {
    const events = this.#eventsByAsset.get(filter.assetKey) ?? [];
    const found: StoredRunEvent[] = [];
    for (let i = events.length - 1; i >= 0 && found.length < filter.limit; i--) {
      const event = events[i] as StoredRunEvent;
      if (filter.beforeId !== undefined && event.id >= filter.beforeId) continue;
      if (filter.types && !filter.types.includes(event.type)) continue;
      if (filter.partition !== undefined && event.partition !== filter.partition) continue;
      found.push({ ...event, data: structuredClone(event.data) });
    }
    return Promise.resolve(found);
  }

  /** Stores a state. */
  protected writeAutomationState(state: AutomationState): Promise<AutomationState> {
    this.#states.set(state.name, { ...state });
    return Promise.resolve({ ...state });
  }

  /** Every state, by name. */
  protected readAutomationStates(): Promise<AutomationState[]> {
    return Promise.resolve(
      [...this.#states.values()].sort((a, b) => a.name < b.name ? -1 : 1).map((s) => ({ ...s })),
    );
  }

  /** Records ticks, collapsing repeats; keeps the newest records of each name. */
  protected writeTicks(ticks: readonly NewTick[]): Promise<void> {
    for (const tick of ticks) {
      const records = this.#ticks.get(tick.name) ?? [];
      this.#ticks.set(tick.name, records);
      const latest = records.at(-1);
      if (latest && tickCollapses(latest, tick)) {
        records[records.length - 1] = { ...latest, lastTime: tick.time, count: latest.count + 1 };
        continue;
      }
      records.push({ ...tick, id: ++this.#tickId, lastTime: tick.time, count: 1 });
      if (records.length > TICK_HISTORY) records.splice(0, records.length - TICK_HISTORY);
    }
    return Promise.resolve();
  }

  /** Tick records of a name, newest first. */
  protected readTicks(
    name: string,
    beforeId: number | undefined,
    limit: number,
  ): Promise<TickRecord[]> {
    const records = (this.#ticks.get(name) ?? [])
      .filter((t) => beforeId === undefined || t.id < beforeId);
    return Promise.resolve(records.slice(-limit).reverse().map(copyTick));
  }

  /** Beats for the owner's running runs; reports cancel requests and lost runs. */
  protected writeHeartbeat(
    owner: RunOwner,
    runIds: readonly string[],
    time: number,
  ): Promise<HeartbeatReply> {
    const cancelRequested: { runId: string; reason: string }[] = [];
    const lost: string[] = [];
    for (const runId of runIds) {
      const run = this.#runs.get(runId);
      if (run?.status !== "running" || run.owner?.instanceId !== owner.instanceId) {
        lost.push(runId);
        continue;
      }
      this.#runs.set(runId, { ...run, heartbeatAt: time });
      if (run.cancelRequestedAt !== null) {
        cancelRequested.push({ runId, reason: run.cancelReason ?? "cancel requested" });
      }
    }
    return Promise.resolve({ cancelRequested, lost });
  }

  /** Marks a running run as asked to cancel (the first request wins). */
  protected writeCancelRequest(runId: string, request: CancelRequest): Promise<boolean> {
    const run = this.#runs.get(runId);
    if (run?.status !== "running") return Promise.resolve(false);
    if (run.cancelRequestedAt === null) {
      this.#runs.set(runId, {
        ...run,
        cancelRequestedAt: request.time,
        cancelReason: request.reason,
      });
    }
    return Promise.resolve(true);
  }

  /** Fails the runs whose owner is gone, with their steps; one event each. */
  protected reap(
    { now, deadOwners, liveOwners, reaper }: ReapOptions,
  ): Promise<RunRecord[]> {
    const reaped: RunRecord[] = [];
    for (const runId of [...this.#runs.keys()]) {
      // Read afresh: another reap may have run while this one awaited a write.
      const run = this.#runs.get(runId);
      if (!run || !ownerIsGone(run, now, deadOwners, liveOwners)) continue;
      const known = deadOwners?.includes(run.owner?.instanceId ?? "") ?? false;
      const record = reapedRun(run, now, known);
      this.#runs.set(run.runId, record);
      for (const step of this.#steps.get(run.runId)?.values() ?? []) {
        const next = reapedStep(step, now);
        if (next) this.#storeStep(next);
      }
      // Stored past the fence the reap just raised: this end is the reaper's.
      this.#storeEvents(checkEvents([reapEvent(record, now, reaper)]));
      reaped.push(copyRun(record));
    }
    return Promise.resolve(reaped);
  }

  /**
   * The fence of a run taken for dead, as the SQL stores have it: once a
   * reaper failed it (tag `owner_lost`), what its owner still sends (a step,
   * a non-log event, its end) is dropped. That owner was alive after all
   * (its event loop blocked by a long synchronous step past its lease) and
   * learns it only at its next heartbeat; meanwhile its materialization
   * would replace the retry's as the asset's latest, from a failed run.
   */
  #reaped(runId: string): boolean {
    return this.#runs.get(runId)?.tags[OWNER_LOST_TAG] !== undefined;
  }

  /** Inserts or replaces a step (keeping a known start time, see {@linkcode mergeStep}). */
  protected writeStep(step: StepRecord): Promise<void> {
    if (!this.#reaped(step.runId)) this.#storeStep(step);
    return Promise.resolve();
  }

  #storeStep(step: StepRecord): void {
    const steps = this.#steps.get(step.runId) ?? new Map<string, StepRecord>();
    const key = `${step.assetKey}\0${step.partition ?? ""}`;
    steps.set(key, mergeStep(steps.get(key), step));
    this.#steps.set(step.runId, steps);
  }

  /** Steps of a run, in the order they were first recorded. */
  protected readSteps(runId: string): Promise<StepRecord[]> {
    return Promise.resolve([...(this.#steps.get(runId)?.values() ?? [])].map((s) => ({ ...s })));
  }

  /** Appends checked events; a reaped run's keep only its log lines (see #reaped). */
  protected writeEvents(events: readonly SerializedEvent[]): Promise<void> {
    this.#storeEvents(
      events.filter(({ event }) => event.type === "log" || !this.#reaped(event.runId)),
    );
    return Promise.resolve();
  }

  #storeEvents(events: readonly SerializedEvent[]): void {
    for (const { event, data, materialization } of events) {
      // Stored as its JSON round trip, like the SQL stores, so later changes
      // to the caller's object never reach the record.
      const stored = { ...event, data: JSON.parse(data) as Metadata, id: this.#events.length + 1 };
      this.#events.push(stored);
      if (event.assetKey !== null) {
        const mine = this.#eventsByAsset.get(event.assetKey) ?? [];
        mine.push(stored);
        this.#eventsByAsset.set(event.assetKey, mine);
      }
      if (materialization) this.#remember(materialization, data);
    }
  }

  /** Events of a run, in order. */
  protected readEvents(runId: string, options: ListEventsOptions): Promise<StoredRunEvent[]> {
    return Promise.resolve(
      this.#events.filter((event) =>
        event.runId === runId && event.id > (options.afterId ?? 0) &&
        (!options.types || options.types.includes(event.type))
      ).map((event) => ({ ...event, data: structuredClone(event.data) })),
    );
  }

  /** Events of every run after an id, oldest first. */
  protected readEventsAfter({ afterId, types, limit }: EventFeedFilter): Promise<StoredRunEvent[]> {
    const out: StoredRunEvent[] = [];
    // Ids are positions + 1: start right after `afterId`.
    for (let i = Math.max(0, afterId); i < this.#events.length && out.length < limit; i++) {
      const event = this.#events[i] as StoredRunEvent;
      if (!types || types.includes(event.type)) {
        out.push({ ...event, data: structuredClone(event.data) });
      }
    }
    return Promise.resolve(out);
  }

  /** Latest materialization of every partition of an asset. */
  protected readMaterializations(assetKey: string): Promise<Materialization[]> {
    const out: Materialization[] = [];
    for (const m of this.#byAsset.get(assetKey)?.values() ?? []) {
      out.push({ ...m, metadata: structuredClone(m.metadata) });
    }
    return Promise.resolve(out);
  }

  /** Appends automation records. */
  protected writeAutomationRecords(records: readonly SerializedAutomationRecord[]): Promise<void> {
    for (const { record, data } of records) {
      this.#automation.push({
        ...record,
        data: JSON.parse(data) as Metadata,
        id: this.#automation.length + 1,
      });
    }
    return Promise.resolve();
  }

  /** Automation records, newest first. */
  protected readAutomationRecords(
    filter: AutomationRecordFilter,
  ): Promise<StoredAutomationRecord[]> {
    const out: StoredAutomationRecord[] = [];
    for (let i = this.#automation.length - 1; i >= 0 && out.length < filter.limit; i--) {
      const r = this.#automation[i] as StoredAutomationRecord;
      if (filter.afterId !== undefined && r.id <= filter.afterId) break;
      if (filter.beforeId !== undefined && r.id >= filter.beforeId) continue;
      if (filter.kind !== undefined && r.kind !== filter.kind) continue;
      if (filter.assetKey !== undefined && r.assetKey !== filter.assetKey) continue;
      out.push({ ...r, data: structuredClone(r.data) });
    }
    return Promise.resolve(out);
  }

  /** Latest materialization (by time) of an asset, or of one partition of it. */
  protected readLastMaterialization(
    assetKey: string,
    partition: string | null | undefined,
  ): Promise<Materialization | undefined> {
    const found = this.#latest.get(
      partition === undefined ? assetKey : `${assetKey}\0${partition ?? ""}`,
    );
    return Promise.resolve(found && { ...found, metadata: structuredClone(found.metadata) });
  }

  /** Cursor of a sensor. */
  getCursor(sensor: string): Promise<string | undefined> {
    return Promise.resolve(this.#cursors.get(sensor));
  }

  /** Stores a cursor. */
  setCursor(sensor: string, cursor: string): Promise<void> {
    this.#cursors.set(sensor, cursor);
    return Promise.resolve();
  }

  /** Claims a run key. */
  claimRunKey(sensor: string, runKey: string, runId: string): Promise<RunKeyClaim> {
    const id = `${sensor}\0${runKey}`;
    const existing = this.#runKeys.get(id);
    if (existing !== undefined) return Promise.resolve({ claimed: false, runId: existing });
    this.#runKeys.set(id, runId);
    return Promise.resolve({ claimed: true, runId });
  }

  /** The run id of a claimed run key. */
  getRunKey(sensor: string, runKey: string): Promise<string | undefined> {
    return Promise.resolve(this.#runKeys.get(`${sensor}\0${runKey}`));
  }

  /** Adds dynamic partition keys; returns those that were new, in the order given. */
  addDynamicPartitions(name: string, keys: readonly string[]): Promise<string[]> {
    const existing = this.#dynamic.get(name) ?? [];
    const added = [...new Set(keys)].filter((key) => !existing.includes(key));
    this.#dynamic.set(name, [...existing, ...added]);
    return Promise.resolve(added);
  }

  /** Keys of a dynamic partitioning. */
  dynamicPartitions(name: string): Promise<string[]> {
    return Promise.resolve([...(this.#dynamic.get(name) ?? [])]);
  }

  /** Removes a dynamic partition key. */
  deleteDynamicPartition(name: string, key: string): Promise<void> {
    this.#dynamic.set(name, (this.#dynamic.get(name) ?? []).filter((k) => k !== key));
    return Promise.resolve();
  }

  /** Nothing is buffered. */
  flush(): Promise<void> {
    return Promise.resolve();
  }

  /** Nothing to release. */
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }

  #remember(m: Materialization, data: string): void {
    const record = { ...m, metadata: (JSON.parse(data) as { metadata: Metadata }).metadata ?? {} };
    for (const key of [m.assetKey, `${m.assetKey}\0${m.partition ?? ""}`]) {
      const previous = this.#latest.get(key);
      if (!previous || record.time >= previous.time) this.#latest.set(key, record);
    }
    const partitions = this.#byAsset.get(m.assetKey) ?? new Map<string, Materialization>();
    const previous = partitions.get(m.partition ?? "");
    if (!previous || record.time >= previous.time) partitions.set(m.partition ?? "", record);
    this.#byAsset.set(m.assetKey, partitions);
  }
}

function copyTick(tick: TickRecord): TickRecord {
  return { ...tick, runIds: [...tick.runIds], duplicateKeys: [...tick.duplicateKeys] };
}

function copyRun(run: RunRecord): RunRecord {
  return { ...run, tags: cloneTags(run.tags), owner: run.owner && { ...run.owner } };
}
