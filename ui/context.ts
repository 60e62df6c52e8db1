/**
 * What every page and API route of the UI reads from: the graph, the run
 * store (through the run index), the launcher, and the lake, ledger and
 * warehouse, each opened on first use.
 *
 * @module
 */

import type { Clock } from "../core/clock.ts";
import type { Graph } from "../core/graph.ts";
import type { RunStore } from "../core/run_store/types.ts";
import type { RunQueue } from "../core/worker/queue.ts";
import type { Ledger } from "../resources/ledger/types.ts";
import type { ObjectStore } from "../resources/object_store/types.ts";
import type { Warehouse } from "../resources/warehouse/types.ts";
import { type AssetStatus, assetStatuses } from "./asset_status.ts";
import type { Launcher } from "./launcher.ts";
import { layoutGraph } from "./layout.ts";
import { RunIndex } from "./run_index.ts";

/** How the UI reaches the data systems; any may be absent (its pages then say so). */
export interface UiSources {
  /** Opens the object store of the lake (kept open). */
  readonly openLake?: () => Promise<ObjectStore>;
  /** Opens the ledger (kept open). */
  readonly openLedger?: () => Promise<Ledger>;
  /**
   * Opens the warehouse. The UI shares one open warehouse among the reads
   * that overlap and closes it once none has used it for
   * {@linkcode UiSources.warehouseIdleMs}, since the embedded warehouse admits
   * one process at a time (a `materialize` elsewhere waits for it).
   */
  readonly openWarehouse?: () => Promise<Warehouse>;
  /**
   * How long the warehouse stays open after its last read (milliseconds).
   * @default {1000}
   */
  readonly warehouseIdleMs?: number;
  /** The landing-zone bucket. @default {"landing-zone"} */
  readonly landingBucket?: string;
  /** The data-lake bucket. @default {"data-lake"} */
  readonly lakeBucket?: string;
  /** Which backend each resource uses, secrets removed (shown on the API page). */
  readonly descriptions?: Readonly<Record<string, string>>;
}

/** Everything the UI's routes need. */
export class UiContext {
  /** The definitions. */
  readonly graph: Graph<unknown>;
  /** The run store. */
  readonly store: RunStore;
  /** Recent runs by asset. */
  readonly index: RunIndex;
  /** Starts and cancels runs. */
  readonly launcher: Launcher<unknown>;
  /** Data systems. */
  readonly sources: UiSources;
  /** Time source. */
  readonly clock: Clock;
  /** Whether changes need the token. */
  readonly tokenRequired: boolean;
  /**
   * The sensor daemon's tick (SENSOR_INTERVAL_MS, or `dev --interval`): how
   * often a sensor that sets no interval of its own is evaluated.
   */
  readonly daemonIntervalMs: number | undefined;
  #lake: Promise<ObjectStore> | undefined;
  #warehouse: { open: Promise<Warehouse>; users: number; idle?: AbortController } | undefined;
  #warehouseClosing: Promise<void> = Promise.resolve();
  #ledger: Promise<Ledger> | undefined;
  #statuses: { version: number; at: number; value: Map<string, AssetStatus> } | undefined;
  #warming: Promise<void> | undefined;

  /** Wires the parts together. */
  constructor(parts: {
    graph: Graph<unknown>;
    store: RunStore;
    launcher: Launcher<unknown>;
    sources: UiSources;
    clock: Clock;
    tokenRequired: boolean;
    daemonIntervalMs?: number | undefined;
  }) {
    this.graph = parts.graph;
    this.store = parts.store;
    this.index = new RunIndex(parts.store);
    this.launcher = parts.launcher;
    this.sources = parts.sources;
    this.clock = parts.clock;
    this.tokenRequired = parts.tokenRequired;
    this.daemonIntervalMs = parts.daemonIntervalMs;
  }

  /**
   * The run queue launched runs go to (a Postgres run store, RUN_QUEUE=auto),
   * or `undefined` when runs execute in this process.
   */
  get queue(): RunQueue | undefined {
    return this.launcher.queue;
  }

  /** The landing bucket's name. */
  get landingBucket(): string {
    return this.sources.landingBucket ?? "landing-zone";
  }

  /** The lake bucket's name. */
  get lakeBucket(): string {
    return this.sources.lakeBucket ?? "data-lake";
  }

  /** The lake, or `undefined` when the UI has none. */
  lake(): Promise<ObjectStore> | undefined {
    if (!this.sources.openLake) return undefined;
    this.#lake ??= this.sources.openLake().catch((error) => {
      this.#lake = undefined;
      throw error;
    });
    return this.#lake;
  }

  /** The ledger, or `undefined` when the UI has none. */
  ledger(): Promise<Ledger> | undefined {
    if (!this.sources.openLedger) return undefined;
    this.#ledger ??= this.sources.openLedger().catch((error) => {
      this.#ledger = undefined;
      throw error;
    });
    return this.#ledger;
  }

  /**
   * Runs `work` with the warehouse open. Overlapping calls share one open
   * warehouse; it is closed when it has been idle for `warehouseIdleMs`.
   */
  async withWarehouse<T>(work: (warehouse: Warehouse) => Promise<T>): Promise<T> {
    const openWarehouse = this.sources.openWarehouse;
    if (!openWarehouse) throw new Error("this UI was started without a warehouse");
    let shared = this.#warehouse;
    if (!shared) {
      // The embedded warehouse cannot be opened twice: wait for the last close.
      const opening = this.#warehouseClosing.then(openWarehouse);
      shared = { open: opening, users: 0 };
      this.#warehouse = shared;
      opening.catch(() => {
        if (this.#warehouse === shared) this.#warehouse = undefined;
      });
    }
    shared.users++;
    shared.idle?.abort();
    try {
      return await work(await shared.open);
    } finally {
      shared.users--;
      if (shared.users === 0 && this.#warehouse === shared) {
        const mine = shared;
        const idle = new AbortController();
        mine.idle = idle;
        this.clock.sleep(this.sources.warehouseIdleMs ?? 1000, idle.signal).then(
          () => {
            if (mine.users === 0 && this.#warehouse === mine) return this.#closeWarehouse();
          },
          () => {}, // used again before the idle time ran out
        );
      }
    }
  }

  /** Closes the shared warehouse (once its users are done). */
  async #closeWarehouse(): Promise<void> {
    const shared = this.#warehouse;
    if (!shared) return await this.#warehouseClosing;
    this.#warehouse = undefined;
    shared.idle?.abort();
    this.#warehouseClosing = (async () => {
      const warehouse = await shared.open.catch(() => undefined);
      await warehouse?.[Symbol.asyncDispose]();
      // A close that failed shows in the next open (which names the lock it finds held).
    })().catch(() => {});
    await this.#warehouseClosing;
  }

  /** Status of every asset, after refreshing the run index. */
  async statuses(): Promise<Map<string, AssetStatus>> {
    await this.index.refresh();
    const now = this.clock.now();
    const cached = this.#statuses;
    // Daily partitions move with the clock: recompute at least once a minute.
    if (cached && cached.version === this.index.version && now - cached.at < 60_000) {
      return cached.value;
    }
    const value = await assetStatuses(this.graph, this.index, this.store, { now });
    this.#statuses = { version: this.index.version, at: now, value };
    return value;
  }

  /**
   * Reads the run index, computes the asset states and lays out the graph
   * ahead of the first page (started when the server starts, so the first
   * visit of a big graph finds them ready). Never rejects: a failure is
   * passed to `onError` and the first request tries again.
   */
  warm(onError: (error: unknown) => void = () => {}): Promise<void> {
    this.#warming ??= (async () => {
      try {
        await this.statuses();
        layoutGraph(this.graph);
      } catch (error) {
        onError(error);
      }
    })();
    return this.#warming;
  }

  /** Closes what the UI opened and cancels its runs. */
  async close(): Promise<void> {
    await this.#warming;
    await this.launcher.close();
    const lake = await this.#lake?.catch(() => undefined);
    const ledger = await this.#ledger?.catch(() => undefined);
    await lake?.[Symbol.asyncDispose]?.();
    await ledger?.[Symbol.asyncDispose]();
    await this.#closeWarehouse();
  }
}
