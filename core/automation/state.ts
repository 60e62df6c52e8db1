/**
 * What the automation evaluator knows of every asset partition, kept in
 * memory and brought up to date from the run store's event feed: latest
 * materialization, when its data version last changed, when it consumed its
 * inputs, its last request, failures and runs in progress. Every change marks
 * the partition (and the downstream partitions that read it) dirty, so an
 * evaluation only looks at what changed.
 *
 * @module
 */

import type { AssetDefinition, Materialization } from "../asset.ts";
import type { Graph } from "../graph.ts";
import type { RunStore, StoredRunEvent } from "../run_store/types.ts";
import { toMaterialization } from "../run_store/materialization.ts";
import { resolveSelection } from "../selection.ts";
import { fnv1a } from "./_hash.ts";
import { DynamicKeys, type Mapping, mappingOf, type PartitionSpace, spaceOf } from "./_space.ts";

const NEVER = Number.NEGATIVE_INFINITY;
/** The consumed versions of an upstream edge that keeps none. */
const NO_VERSIONS = new Int32Array(0);

/** One upstream edge of an asset, with its partition mapping. */
export interface DepEdge {
  /** The upstream's state. */
  readonly dep: AssetState;
  /** How this asset's partitions map to the upstream's. */
  readonly mapping: Mapping;
}

/** One downstream edge of an asset (the reverse of a {@linkcode DepEdge}). */
export interface DownEdge {
  /** The downstream's state. */
  readonly down: AssetState;
  /** The downstream's mapping to this asset. */
  readonly mapping: Mapping;
}

/** Per-partition facts of one asset, indexed by partition (see `_space.ts`). */
export class AssetState {
  /** The asset. */
  readonly asset: AssetDefinition;
  /** Its partition space. */
  readonly space: PartitionSpace;
  /** Upstream edges. */
  deps: DepEdge[] = [];
  /** Downstream edges. */
  downs: DownEdge[] = [];
  /** Latest materialization time per partition (`-Infinity`: never). */
  lastMat = new Float64Array(0);
  /** Feed position of that materialization (see {@linkcode later}). */
  matSeq = new Float64Array(0);
  /** When the data version last changed. */
  changedAt = new Float64Array(0);
  /** Feed position of that change. */
  changedSeq = new Float64Array(0);
  /** When the latest materialization's step began reading its inputs. */
  consumedAt = new Float64Array(0);
  /** Start of the latest run that planned the partition. */
  lastReq = new Float64Array(0);
  /** Feed position of that request (an evaluation's: after every event it had read). */
  reqSeq = new Float64Array(0);
  /**
   * Per upstream edge (as in `deps`), the hash of the data version each
   * partition's latest materialization consumed (0: unknown): an upstream
   * written on the same clock tick as the consumption is told apart by it.
   */
  consumedVersion: Int32Array[] = [];
  /** Time of the latest failed step. */
  failedAt = new Float64Array(0);
  /** Hash of the current data version. */
  version = new Int32Array(0);
  /** 0 never materialized, 1 same code version as the definition, 2 another. */
  code = new Uint8Array(0);
  /** Steps in progress per partition, and since when. */
  readonly progress = new Map<number, { count: number; since: number }>();
  /** Newest `changedAt` over all partitions. */
  maxChanged = NEVER;
  /** Feed position of that change. */
  maxChangedSeq = 0;
  /** Newest `lastMat` over all partitions. */
  maxMat = NEVER;
  /** Partitions ever materialized. */
  materialized = 0;

  constructor(asset: AssetDefinition, space: PartitionSpace) {
    this.asset = asset;
    this.space = space;
  }

  /**
   * Makes room for index `i` (at once for every partition that exists now:
   * the wall clock only sizes the arrays, it decides nothing).
   */
  ensure(i: number): void {
    if (i < this.lastMat.length) return;
    const size = Math.max(
      i + 1,
      Math.ceil(this.lastMat.length * 1.5),
      4,
      this.space.size(Date.now()) + 1,
    );
    const grow = (old: Float64Array) => {
      const next = new Float64Array(size).fill(NEVER);
      next.set(old);
      return next;
    };
    this.lastMat = grow(this.lastMat);
    this.changedAt = grow(this.changedAt);
    const zeros = (old: Float64Array) => {
      const next = new Float64Array(size);
      next.set(old);
      return next;
    };
    this.matSeq = zeros(this.matSeq);
    this.changedSeq = zeros(this.changedSeq);
    this.reqSeq = zeros(this.reqSeq);
    // Not kept for an upstream read whole ("all" mapping): only its newest change counts there.
    this.consumedVersion = this.deps.map(({ mapping }, k) => {
      if (mapping.kind === "all") return NO_VERSIONS;
      const next = new Int32Array(size);
      const old = this.consumedVersion[k];
      if (old) next.set(old);
      return next;
    });
    this.consumedAt = grow(this.consumedAt);
    this.lastReq = grow(this.lastReq);
    this.failedAt = grow(this.failedAt);
    const version = new Int32Array(size);
    version.set(this.version);
    this.version = version;
    const code = new Uint8Array(size);
    code.set(this.code);
    this.code = code;
  }

  /** A fact read with no room made: `-Infinity` past the end. */
  get(array: Float64Array, i: number): number {
    return i >= 0 && i < array.length ? array[i] as number : NEVER;
  }

  /** Whether partition `i` is in progress. */
  inProgress(i: number): boolean {
    return this.progress.has(i);
  }

  /**
   * Takes every fact stamped after `now` as having happened at `now`: after
   * a wall clock stepped back (forward, then corrected), facts recorded in
   * its bogus future would otherwise come after everything that happens
   * until the clock catches up (an `on_cron` requested at that time would
   * see no tick pass its request). Facts of one instant keep their order by
   * feed position and consumed versions.
   */
  clampAfter(now: number): void {
    for (
      const times of [this.lastMat, this.changedAt, this.consumedAt, this.lastReq, this.failedAt]
    ) {
      for (let i = 0; i < times.length; i++) if ((times[i] as number) > now) times[i] = now;
    }
    for (const entry of this.progress.values()) if (entry.since > now) entry.since = now;
    if (this.maxChanged > now) this.maxChanged = now;
    if (this.maxMat > now) this.maxMat = now;
  }

  /** Records a request of partition `i` at `time`, feed position `seq`, if later than the last. */
  request(i: number, time: number, seq: number): void {
    if (!later(time, seq, this.lastReq[i] as number, this.reqSeq[i] as number)) return;
    this.lastReq[i] = time;
    this.reqSeq[i] = seq;
  }
}

/**
 * Whether a fact at `time` came after one at `otherTime`: by time, and on the
 * same clock tick by feed position (`seq`: the id of the event that recorded
 * it; an evaluation's own requests come after every event it had read). Two
 * writes in one millisecond are common on a fast machine, and "same time"
 * must not read as "not after" (a load written on the tick its downstream's
 * run started would be taken as handled, and never run).
 */
export function later(time: number, seq: number, otherTime: number, otherSeq: number): boolean {
  return time > otherTime || (time === otherTime && seq > otherSeq);
}

/** Called with every partition whose facts changed. */
export type ChangeListener = (state: AssetState, index: number) => void;

/**
 * The facts of every asset of a graph, loaded from the run store and kept up
 * to date from its event feed.
 */
export class AutomationState {
  /** States by asset key. */
  readonly assets = new Map<string, AssetState>();
  /** Dynamic partition keys by partitioning name. */
  readonly dynamic = new Map<string, DynamicKeys>();
  /** Id of the last event read from the feed. */
  watermark = 0;
  readonly #store: RunStore;
  readonly #onChange: ChangeListener;
  /** Steps in progress per run: `assetKey\0index`. */
  readonly #runs = new Map<string, Set<string>>();
  /** Runs known only from their `run_queued` event (waiting in the queue, no run record yet). */
  readonly #queued = new Set<string>();
  /** Runs whose end was read while their start was not (at most {@linkcode ENDED_KEPT}). */
  readonly #ended = new Set<string>();
  readonly #graph: Graph<unknown>;

  constructor(graph: Graph<unknown>, store: RunStore, onChange: ChangeListener) {
    this.#graph = graph;
    this.#store = store;
    this.#onChange = onChange;
    for (const key of graph.order) {
      const asset = graph.assets.get(key) as AssetDefinition;
      this.assets.set(key, new AssetState(asset, spaceOf(asset, this.dynamic)));
    }
    for (const state of this.assets.values()) {
      for (const depKey of state.asset.deps) {
        const dep = this.assets.get(depKey);
        if (!dep) continue;
        const mapping = mappingOf(state.space, dep.space);
        state.deps.push({ dep, mapping });
        dep.downs.push({ down: state, mapping });
      }
    }
  }

  /**
   * Loads the starting point: dynamic keys, the latest materialization of
   * every partition, the runs in progress, and the feed's current end.
   * `assetKeys` limits the materializations loaded (the assets automation
   * reads: those with a condition and their upstreams).
   */
  async load(assetKeys: Iterable<string>): Promise<void> {
    // The feed's end first: events committed while loading are read again
    // by catchUp (applying one twice changes nothing).
    this.watermark = await this.#feedEnd();
    await this.refreshDynamic();
    for (const key of assetKeys) {
      const state = this.assets.get(key);
      if (!state) continue;
      for (const m of await this.#store.listMaterializations(key)) this.#materialized(state, m);
    }
    for (const run of await this.#store.listRuns({ status: "running", limit: 1000 })) {
      await this.#runStarted(run.runId, run.startedAt);
    }
    // Runs still waiting in a queue have no run record: their `run_queued`
    // events among the recent feed tell (a new leader after a failover).
    const waiting = new Map<string, StoredRunEvent>();
    const recent = await this.#store.listEventsAfter(Math.max(0, this.watermark - QUEUE_LOOKBACK), {
      types: ["run_queued", "run_dequeued", "run_started", "run_finished"],
      limit: QUEUE_LOOKBACK,
    });
    for (const event of recent) {
      if (event.type === "run_queued") waiting.set(event.runId, event);
      else waiting.delete(event.runId);
    }
    for (const event of waiting.values()) this.#runQueued(event);
  }

  /** Adds the dynamic partition keys added since the last call; marks the new partitions. */
  async refreshDynamic(): Promise<void> {
    for (const [name, keys] of this.dynamic) {
      const added = keys.merge(await this.#store.dynamicPartitions(name));
      if (added.length === 0) continue;
      for (const state of this.assets.values()) {
        if (state.space.def?.kind !== "dynamic" || state.space.def.name !== name) continue;
        for (const i of added) this.#onChange(state, i);
      }
    }
  }

  /**
   * Reads the feed from the watermark to its end and applies every event.
   * @returns how many events were read.
   */
  async catchUp(): Promise<number> {
    let read = 0;
    for (;;) {
      const events = await this.#store.listEventsAfter(this.watermark, {
        types: FEED_TYPES,
        limit: 10_000,
      });
      for (const event of events) {
        await this.apply(event);
        this.watermark = event.id;
      }
      read += events.length;
      if (events.length < 10_000) return read;
    }
  }

  /** Applies one event of the feed. */
  async apply(event: StoredRunEvent): Promise<void> {
    switch (event.type) {
      case "materialization": {
        const state = event.assetKey === null ? undefined : this.assets.get(event.assetKey);
        if (state) this.#materialized(state, toMaterialization(event), event.id);
        return;
      }
      case "step_failed":
        this.#stepFailed(event);
        return;
      case "run_queued":
        this.#runQueued(event);
        return;
      case "run_started":
        if (this.#queued.delete(event.runId)) {
          // A worker took it: its steps (what it really plans) replace the queued guess.
          this.#runFinished(event.runId);
        }
        await this.#runStarted(event.runId, event.time, event.id);
        return;
      case "run_dequeued":
      case "run_finished":
        this.#queued.delete(event.runId);
        this.#runFinished(event.runId);
        return;
    }
  }

  /** The feed's last id. */
  #feedEnd(): Promise<number> {
    return feedEnd(this.#store, this.watermark);
  }

  /** Applies a materialization; `seq` is its event's id (0 for what `load` read). */
  #materialized(state: AssetState, m: Materialization, seq = 0): void {
    const i = state.space.index(m.partition);
    if (i < 0) return;
    state.ensure(i);
    const previous = state.lastMat[i] as number;
    if (m.time < previous) return;
    const version = fnv1a(m.provenance?.dataVersion ?? dataVersionFallback(m));
    if (previous === NEVER) state.materialized++;
    if (previous === NEVER || state.version[i] !== version) {
      state.changedAt[i] = m.time;
      state.changedSeq[i] = seq;
      if (later(m.time, seq, state.maxChanged, state.maxChangedSeq)) {
        state.maxChanged = m.time;
        state.maxChangedSeq = seq;
      }
    }
    state.version[i] = version;
    state.lastMat[i] = m.time;
    state.matSeq[i] = seq;
    state.deps.forEach(({ dep }, k) => {
      const versions = state.consumedVersion[k] as Int32Array;
      if (i >= versions.length) return;
      const input = m.provenance?.inputs[dep.asset.key];
      versions[i] = input ? fnv1a(input.dataVersion) : 0;
    });
    if (m.time > state.maxMat) state.maxMat = m.time;
    state.consumedAt[i] = m.provenance?.startedAt ?? m.time;
    state.code[i] = m.codeVersion === state.asset.codeVersion ? 1 : 2;
    this.#onChange(state, i);
  }

  /**
   * A run started (its `run_started` event, read maybe long after it was
   * written): every partition it plans is requested at its start and in
   * progress until the feed shows the run's end — also those whose steps
   * have ended by the time this reads them (a fast run's first steps are
   * often done before the next evaluation reads its start; counting them as
   * free would request them again while the rest of their chain still runs).
   * A run whose end the feed showed first (a reaper's `run_finished` can
   * precede a start its dead owner had buffered) is not in progress.
   */
  async #runStarted(runId: string, time: number, seq = 0): Promise<void> {
    if (this.#runs.has(runId)) return;
    const ended = this.#ended.has(runId);
    const open = new Set<string>();
    if (!ended) this.#runs.set(runId, open);
    for (const step of await this.#store.listSteps(runId)) {
      const state = this.assets.get(step.assetKey);
      const i = state?.space.index(step.partition) ?? -1;
      if (!state || i < 0) continue;
      state.ensure(i);
      // Planned by this run: requested, whatever became of the step since.
      state.request(i, time, seq);
      if (ended) {
        this.#onChange(state, i);
        continue;
      }
      const p = state.progress.get(i);
      state.progress.set(i, {
        count: (p?.count ?? 0) + 1,
        since: Math.min(p?.since ?? time, time),
      });
      open.add(`${step.assetKey}\0${i}`);
      this.#onChange(state, i);
    }
  }

  /**
   * A run entered the queue (`run_queued`: selection, exclude, partitions):
   * its asset partitions are requested and in progress from now on, until
   * it starts (its steps take over), leaves the queue (`run_dequeued`) or
   * ends. A selection this graph cannot resolve (another code version) marks
   * nothing; nor does a partitioned asset queued without partitions.
   */
  #runQueued(event: StoredRunEvent): void {
    if (this.#runs.has(event.runId)) return;
    const data = event.data;
    let keys: string[];
    try {
      keys = resolveSelection(
        this.#graph,
        typeof data.selection === "string" ? data.selection : "",
        typeof data.exclude === "string" ? data.exclude : "",
      );
    } catch {
      return;
    }
    const parts = data.partitions !== null && typeof data.partitions === "object" &&
        !Array.isArray(data.partitions)
      ? data.partitions as { keys?: unknown; from?: unknown; to?: unknown }
      : undefined;
    const open = new Set<string>();
    for (const key of keys) {
      const state = this.assets.get(key);
      if (!state) continue;
      for (const i of queuedIndexes(state.space, parts)) {
        state.ensure(i);
        state.request(i, event.time, event.id);
        const p = state.progress.get(i);
        state.progress.set(i, {
          count: (p?.count ?? 0) + 1,
          since: Math.min(p?.since ?? event.time, event.time),
        });
        open.add(`${key}\0${i}`);
        this.#onChange(state, i);
      }
    }
    this.#runs.set(event.runId, open);
    this.#queued.add(event.runId);
  }

  /**
   * A failed step. (Steps that end do not leave "in progress": that lasts
   * until their run ends, as Dagster's in_progress, so a chain whose first
   * steps are done is not requested again while its last steps still run.)
   */
  #stepFailed(event: StoredRunEvent): void {
    const state = event.assetKey === null ? undefined : this.assets.get(event.assetKey);
    if (!state) return;
    const i = state.space.index(event.partition);
    if (i < 0) return;
    state.ensure(i);
    state.failedAt[i] = Math.max(state.failedAt[i] as number, event.time);
    this.#onChange(state, i);
  }

  #runFinished(runId: string): void {
    const open = this.#runs.get(runId);
    if (!open) {
      // Its start may come later in the feed (see #runStarted); remember a bounded number.
      this.#ended.add(runId);
      if (this.#ended.size > ENDED_KEPT) {
        this.#ended.delete(this.#ended.values().next().value as string);
      }
      return;
    }
    this.#runs.delete(runId);
    for (const id of open) {
      const [key, index] = id.split("\0") as [string, string];
      const state = this.assets.get(key);
      if (state) this.#release(state, Number(index));
    }
  }

  #release(state: AssetState, i: number): void {
    const p = state.progress.get(i);
    if (!p) return;
    if (p.count <= 1) state.progress.delete(i);
    else state.progress.set(i, { count: p.count - 1, since: p.since });
    this.#onChange(state, i);
  }
}

/** How many runs ended before their start was read are remembered (see `#runStarted`). */
const ENDED_KEPT = 10_000;

/** How far back (event ids) the start looks for runs still waiting in a queue. */
const QUEUE_LOOKBACK = 50_000;

/** The events the evaluator reads (`run_queued`/`run_dequeued`: the Postgres run queue's). */
export const FEED_TYPES = [
  "materialization",
  "run_queued",
  "run_dequeued",
  "run_started",
  "run_finished",
  "step_failed",
] as const;

/** The partition indexes of `space` a queued run names (`keys`, or a `from`..`to` range). */
function queuedIndexes(
  space: PartitionSpace,
  parts: { keys?: unknown; from?: unknown; to?: unknown } | undefined,
): number[] {
  if (!space.def) return [0];
  if (!parts) return [];
  if (Array.isArray(parts.keys)) {
    return parts.keys.map((k) => typeof k === "string" ? space.index(k) : -1).filter((i) => i >= 0);
  }
  const from = typeof parts.from === "string" ? space.index(parts.from) : -1;
  const to = typeof parts.to === "string" ? space.index(parts.to) : -1;
  if (from < 0 || to < from) return [];
  // A range wider than this bounds nothing useful to mark (a backfill of years): cap it.
  const indexes: number[] = [];
  for (let i = from; i <= Math.min(to, from + 100_000); i++) indexes.push(i);
  return indexes;
}

function dataVersionFallback(m: Materialization): string {
  const reported = m.metadata.data_version;
  return typeof reported === "string" && reported !== "" ? reported : m.runId;
}

/**
 * The id of the last event in `store`'s feed (at least `from`), found with
 * O(log n) one-row probes (an exponential then a binary search) instead of
 * reading the whole history.
 */
export async function feedEnd(store: RunStore, from = 0): Promise<number> {
  const after = async (id: number) => (await store.listEventsAfter(id, { limit: 1 }))[0]?.id;
  let low = from;
  let next = await after(low);
  if (next === undefined) return low;
  low = next;
  let step = 1024;
  let high = low + step;
  while ((next = await after(high)) !== undefined) {
    low = next;
    step *= 2;
    high = low + step;
  }
  // Events exist after `low` only up to `high`: narrow down.
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    next = await after(mid);
    if (next === undefined) high = mid;
    else low = next;
  }
  while ((next = await after(low)) !== undefined) low = next;
  return low;
}
