/**
 * What the UI knows about assets from the runs recorded in the run store:
 * the latest step of each asset (and partition), the history of its
 * materializations and checks. Built from the store's runs, newest first,
 * and refreshed incrementally: a run is read once when it has ended (a
 * running run is read again on each refresh until it ends), so a page view
 * costs one `listRuns` plus the runs that changed since the last one.
 *
 * The index holds at most {@linkcode RunIndexOptions.maxRuns} runs: older
 * history is not shown (the run store keeps it; `deno task cli show` reads it).
 *
 * @module
 */

import type { Materialization } from "../core/asset.ts";
import type { Metadata } from "../core/metadata.ts";
import { toMaterialization } from "../core/run_store/materialization.ts";
import type { RunRecord, RunStore, StepStatus, StoredRunEvent } from "../core/run_store/types.ts";

/** The latest step recorded for an asset (or one partition of it). */
export interface LatestStep {
  /** Run it belongs to. */
  readonly runId: string;
  /** Step status. */
  readonly status: StepStatus;
  /** Partition, or `null`. */
  readonly partition: string | null;
  /** When it started (ms), or `null`. */
  readonly startedAt: number | null;
  /** When it ended (ms), or `null`. */
  readonly finishedAt: number | null;
  /** Why it failed or was skipped. */
  readonly reason: string | null;
}

/** One evaluation of a check. */
export interface CheckEvaluation {
  /** Run that evaluated it. */
  readonly runId: string;
  /** Partition, or `null`. */
  readonly partition: string | null;
  /** Milliseconds since the epoch. */
  readonly time: number;
  /** Check name. */
  readonly name: string;
  /** Whether it passed. */
  readonly passed: boolean;
  /** `error` or `warn`. */
  readonly severity: string;
  /** Why it failed. */
  readonly description: string | null;
  /** Figures it reported. */
  readonly metadata: Metadata;
}

/** A `check` event as an evaluation (the index and the asset page's history read them alike). */
export function checkOf(event: StoredRunEvent): CheckEvaluation {
  const d = event.data;
  return {
    runId: event.runId,
    partition: event.partition,
    time: event.time,
    name: String(d.name ?? "?"),
    passed: d.passed === true,
    severity: String(d.severity ?? "error"),
    description: typeof d.description === "string" ? d.description : null,
    metadata: isRecord(d.metadata) ? d.metadata : {},
  };
}

/** A materialization with how long its step took. */
export interface MaterializationEntry extends Materialization {
  /** Wall time of the step in milliseconds, when known. */
  readonly durationMs: number | null;
  /**
   * Id of its event in the store: of two materializations at the same time,
   * the store's latest is the one written last (the higher id).
   */
  readonly eventId: number;
}

/** Options of {@linkcode RunIndex}. */
export interface RunIndexOptions {
  /**
   * Most recent runs kept in the index.
   * @default {2000}
   */
  readonly maxRuns?: number;
  /**
   * Refreshes closer together than this reuse the last one (milliseconds).
   * @default {250}
   */
  readonly minRefreshMs?: number;
}

interface RunEntry {
  readonly run: RunRecord;
  readonly steps: Map<string, LatestStep>;
  readonly materializations: MaterializationEntry[];
  readonly checks: (CheckEvaluation & { assetKey: string })[];
}

const PAGE = 200;

/** An incrementally refreshed index of recent runs, by asset. */
export class RunIndex {
  readonly #store: RunStore;
  readonly #maxRuns: number;
  readonly #minRefreshMs: number;
  /** Newest first. */
  #runs: RunEntry[] = [];
  // Never refreshed: the first call always reads (performance.now() starts at the
  // process start, so 0 made a server asked within minRefreshMs of it show nothing).
  #refreshedAt = Number.NEGATIVE_INFINITY;
  #refreshing: Promise<void> | undefined;
  #byAsset = new Map<string, AssetView>();
  #version = 0;
  #complete = true;

  /** Indexes the runs of `store`; nothing is read until {@linkcode RunIndex.refresh}. */
  constructor(store: RunStore, options: RunIndexOptions = {}) {
    this.#store = store;
    this.#maxRuns = options.maxRuns ?? 2000;
    this.#minRefreshMs = options.minRefreshMs ?? 250;
  }

  /** Increases each time the indexed content changes (for ETags and caches). */
  get version(): number {
    return this.#version;
  }

  /** Reads runs that are new or were running at the last refresh. */
  refresh(force = false): Promise<void> {
    if (this.#refreshing) return this.#refreshing;
    if (!force && performance.now() - this.#refreshedAt < this.#minRefreshMs) {
      return Promise.resolve();
    }
    // Only a refresh that worked is reused: after a failure the next caller reads again.
    this.#refreshing = this.#load().then(() => {
      this.#refreshedAt = performance.now();
    }).finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #load(): Promise<void> {
    const known = new Map(this.#runs.map((entry) => [entry.run.runId, entry]));
    // The store pages by limit only: read the newest page, and everything when
    // it holds no known run (first load, or more new runs than a page).
    let runs = await this.#store.listRuns({ limit: Math.min(PAGE, this.#maxRuns) });
    if (runs.length === PAGE && !runs.some((run) => known.has(run.runId))) {
      runs = await this.#store.listRuns({ limit: this.#maxRuns });
    }

    const seen = new Set(runs.map((run) => run.runId));
    // Known runs still running but past the page are looked up one by one.
    for (const entry of this.#runs) {
      if (entry.run.status !== "running" || seen.has(entry.run.runId)) continue;
      const run = await this.#store.getRun(entry.run.runId);
      if (run) {
        runs.push(run);
        seen.add(run.runId);
      }
    }
    let changed = false;
    const fresh: RunEntry[] = [];
    for (const run of runs) {
      const entry = known.get(run.runId);
      if (entry && run.status !== "running" && entry.run.status === run.status) {
        fresh.push(entry);
      } else {
        changed = true;
        fresh.push(await this.#read(run));
      }
    }
    for (const entry of this.#runs) if (!seen.has(entry.run.runId)) fresh.push(entry);
    fresh.sort((a, b) => b.run.startedAt - a.run.startedAt || (a.run.runId < b.run.runId ? 1 : -1));
    if (fresh.length > this.#maxRuns || fresh.length !== this.#runs.length) changed = true;
    // Runs older than the window exist once it has filled (or a read could not see them all).
    if (fresh.length >= this.#maxRuns || runs.length >= this.#maxRuns) this.#complete = false;
    this.#runs = fresh.slice(0, this.#maxRuns);
    if (changed) {
      this.#byAsset = buildViews(this.#runs);
      this.#version++;
    }
  }

  async #read(run: RunRecord): Promise<RunEntry> {
    const steps = new Map<string, LatestStep>();
    const records = await this.#store.listSteps(run.runId);
    for (const step of records) {
      steps.set(`${step.assetKey}\0${step.partition ?? ""}`, {
        runId: run.runId,
        status: step.status,
        partition: step.partition,
        startedAt: step.startedAt,
        finishedAt: step.finishedAt,
        reason: step.reason,
      });
    }
    const events = await this.#store.listEvents(run.runId, {
      types: ["materialization", "check", "step_success"],
    });
    const durations = new Map<string, number>();
    for (const event of events) {
      if (event.type === "step_success" && typeof event.data.duration_ms === "number") {
        durations.set(`${event.assetKey}\0${event.partition ?? ""}`, event.data.duration_ms);
      }
    }
    const materializations: MaterializationEntry[] = [];
    const checks: RunEntry["checks"] = [];
    for (const event of events) {
      if (event.assetKey === null) continue;
      if (event.type === "materialization") {
        const m = toMaterialization(event);
        materializations.push({
          ...m,
          durationMs: durations.get(`${m.assetKey}\0${m.partition ?? ""}`) ?? null,
          eventId: event.id,
        });
      } else if (event.type === "check") {
        checks.push({ ...checkOf(event), assetKey: event.assetKey });
      }
    }
    return { run, steps, materializations, checks };
  }

  /** What the index knows about `assetKey` (empty when it never ran in the window). */
  asset(assetKey: string): AssetView {
    return this.#byAsset.get(assetKey) ?? EMPTY_VIEW;
  }

  /** Ids of indexed runs with a step of `assetKey`, newest first. */
  runsOf(assetKey: string): string[] {
    const prefix = `${assetKey}\0`;
    return this.#runs.filter((entry) => [...entry.steps.keys()].some((id) => id.startsWith(prefix)))
      .map((entry) => entry.run.runId);
  }

  /** Number of runs indexed. */
  get size(): number {
    return this.#runs.length;
  }

  /**
   * Whether the index holds every run of the store (fewer than `maxRuns` were
   * ever seen): then an asset's partition without a step here has none at all.
   */
  get complete(): boolean {
    return this.#complete;
  }
}

/** An asset's recent history, newest first. */
export interface AssetView {
  /** Latest step of the asset per partition (`""` for unpartitioned). */
  readonly latestByPartition: ReadonlyMap<string, LatestStep>;
  /** Latest step of any partition. */
  readonly latest: LatestStep | undefined;
  /** Materializations, newest first. */
  readonly materializations: readonly MaterializationEntry[];
  /** Check evaluations, newest first. */
  readonly checks: readonly CheckEvaluation[];
}

const EMPTY_VIEW: AssetView = Object.freeze({
  latestByPartition: new Map(),
  latest: undefined,
  materializations: [],
  checks: [],
});

function buildViews(runs: readonly RunEntry[]): Map<string, AssetView> {
  const views = new Map<string, {
    latestByPartition: Map<string, LatestStep>;
    latest: LatestStep | undefined;
    materializations: MaterializationEntry[];
    checks: CheckEvaluation[];
  }>();
  const view = (key: string) => {
    let v = views.get(key);
    if (!v) {
      v = { latestByPartition: new Map(), latest: undefined, materializations: [], checks: [] };
      views.set(key, v);
    }
    return v;
  };
  for (const entry of runs) {
    for (const [id, step] of entry.steps) {
      const assetKey = id.slice(0, id.indexOf("\0"));
      const v = view(assetKey);
      const partition = step.partition ?? "";
      // A pending step of a newer run says nothing yet; an older final state stays.
      const current = v.latestByPartition.get(partition);
      if (!current || (!isFinal(current.status) && isFinal(step.status))) {
        v.latestByPartition.set(partition, step);
      }
      if (!v.latest || (!isFinal(v.latest.status) && isFinal(step.status))) v.latest = step;
    }
    for (const m of [...entry.materializations].reverse()) {
      view(m.assetKey).materializations.push(m);
    }
    for (const c of [...entry.checks].reverse()) view(c.assetKey).checks.push(c);
  }
  return views as Map<string, AssetView>;
}

function isFinal(status: StepStatus): boolean {
  return status !== "pending";
}

function isRecord(value: unknown): value is Metadata {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}
