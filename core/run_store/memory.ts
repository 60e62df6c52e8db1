/**
 * In-memory run store: the twin used by unit tests and `materialize()` when
 * no store is given.
 *
 * @module
 */

import type { Materialization } from "../asset.ts";
import { toMaterialization } from "./materialization.ts";
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
} from "./types.ts";

/** A {@linkcode RunStore} that lives and dies with the process. */
export class MemoryRunStore implements RunStore {
  /** Backend name. */
  readonly description = "memory";
  #runs = new Map<string, RunRecord>();
  #steps = new Map<string, Map<string, StepRecord>>();
  #events: StoredRunEvent[] = [];
  #latest = new Map<string, Materialization>();
  #cursors = new Map<string, string>();
  #runKeys = new Map<string, string>();
  #dynamic = new Map<string, string[]>();

  /** Records a new run. */
  createRun(run: RunRecord): Promise<void> {
    if (this.#runs.has(run.runId)) {
      return Promise.reject(new Error(`Run '${run.runId}' already exists`));
    }
    this.#runs.set(run.runId, run);
    return Promise.resolve();
  }

  /** Updates a run. */
  updateRun(runId: string, update: RunUpdate): Promise<void> {
    const run = this.#runs.get(runId);
    if (!run) return Promise.reject(new Error(`Run '${runId}' does not exist`));
    this.#runs.set(runId, { ...run, ...update });
    return Promise.resolve();
  }

  /** A run by id or unique prefix. */
  getRun(runIdOrPrefix: string): Promise<RunRecord | undefined> {
    const exact = this.#runs.get(runIdOrPrefix);
    if (exact) return Promise.resolve(exact);
    const matches = [...this.#runs.values()].filter((run) => run.runId.startsWith(runIdOrPrefix));
    return Promise.resolve(matches.length === 1 ? matches[0] : undefined);
  }

  /** Runs, most recent first. */
  listRuns(options: ListRunsOptions = {}): Promise<RunRecord[]> {
    const runs = [...this.#runs.values()]
      .filter((run) => !options.status || run.status === options.status)
      .sort((a, b) => b.startedAt - a.startedAt);
    return Promise.resolve(runs.slice(0, options.limit ?? 20));
  }

  /** Inserts or replaces a step. */
  putStep(step: StepRecord): Promise<void> {
    const steps = this.#steps.get(step.runId) ?? new Map<string, StepRecord>();
    steps.set(`${step.assetKey}\0${step.partition ?? ""}`, step);
    this.#steps.set(step.runId, steps);
    return Promise.resolve();
  }

  /** Steps of a run. */
  listSteps(runId: string): Promise<StepRecord[]> {
    return Promise.resolve([...(this.#steps.get(runId)?.values() ?? [])]);
  }

  /** Appends events. */
  appendEvents(events: readonly RunEvent[]): Promise<void> {
    for (const event of events) {
      this.#events.push({ ...event, id: this.#events.length + 1 });
      if (event.type === "materialization") this.#remember(event);
    }
    return Promise.resolve();
  }

  /** Events of a run. */
  listEvents(runId: string, options: ListEventsOptions = {}): Promise<StoredRunEvent[]> {
    return Promise.resolve(
      this.#events.filter((event) =>
        event.runId === runId && event.id > (options.afterId ?? 0) &&
        (!options.types || options.types.includes(event.type))
      ),
    );
  }

  /** Latest materialization of an asset (or partition). */
  lastMaterialization(
    assetKey: string,
    partition?: string | null,
  ): Promise<Materialization | undefined> {
    return Promise.resolve(
      this.#latest.get(partition === undefined ? assetKey : `${assetKey}\0${partition ?? ""}`),
    );
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

  /** Adds dynamic partition keys. */
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

  #remember(event: RunEvent): void {
    if (event.assetKey === null) return;
    const record = toMaterialization(event);
    this.#latest.set(event.assetKey, record);
    this.#latest.set(`${event.assetKey}\0${event.partition ?? ""}`, record);
  }
}
