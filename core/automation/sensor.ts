/**
 * The automation sensor: the daemon evaluates every asset's automation
 * condition and freshness policy through it, once per tick and right after
 * a run it launched materializes something.
 *
 * Exactly once, with two daemons on one run store and after crashes: each
 * evaluation has a number (the cursor's tick + 1) and a daemon evaluates
 * tick N only after claiming it in the run store (`claimRunKey`, atomic). A
 * daemon that loses the claim skips; a claim whose holder died (older than
 * `staleClaimMs`, cursor not advanced) is taken over as attempt 2, 3 — at
 * once when its holder was a process on this host that is gone (killed with
 * -9 mid-evaluation and restarted: no minute of waiting). The
 * runs it asks for carry run keys `automation:<tick>:<attempt>:<hash>`, and
 * the daemon's own claims make each launch once. Evaluations read "was it
 * requested, is it in progress" from the run store, so the next tick sees
 * what the previous one launched, whichever daemon launched it.
 *
 * Each evaluation is recorded (`appendAutomationRecords`): one `tick` record,
 * one `evaluation` record per asset whose result changed or that requested
 * something (the condition tree with how many partitions each node was true
 * for), and one `freshness` record per freshness status change.
 *
 * @module
 */

import type { Graph } from "../graph.ts";
import type { Logger } from "../logger.ts";
import type { AutomationRecord, RunOwner, RunStore } from "../run_store/types.ts";
import {
  defineSensor,
  type RunRequest,
  type SensorDefinition,
  type SensorResult,
} from "../sensor.ts";
import { AutomationEvaluator, type EvaluationResult } from "./evaluate.ts";
import { type FreshnessPolicy, judgeFreshness } from "./freshness_policy.ts";
import { planRuns } from "./plan_runs.ts";
import { fnv1a } from "./_hash.ts";
import { type HostView, isGoneHere, processOwner, thisHost } from "../owner.ts";

/** Name of the automation sensor (and of its cursor). */
export const AUTOMATION_SENSOR = "automation";
/** Owner name of the per-tick claims in the run store. */
export const AUTOMATION_TICK_CLAIMS = "automation:tick";
/** Tag set on every run the automation asks for, to the tick number. */
export const AUTOMATION_TAG = "automation_tick";

/** Options of {@linkcode automationSensor}. */
export interface AutomationSensorOptions {
  /** The run store the daemon uses. */
  readonly runStore: RunStore;
  /** Identifies this daemon in tick claims. */
  readonly daemonId: string;
  /**
   * A tick claim older than this whose tick never completed is taken to
   * belong to a daemon that died, and is taken over (milliseconds).
   * @default {60000}
   */
  readonly staleClaimMs?: number;
  /**
   * Time between evaluations when nothing wakes the daemon earlier (ms).
   * @default {1000}
   */
  readonly intervalMs?: number;
  /**
   * The process evaluating, written into its tick claims so that a daemon on
   * the same host can tell a dead holder at once.
   * @default {processOwner()}
   */
  readonly owner?: RunOwner;
  /** This host, to tell a claim holder certainly gone (tests pass their own). @default {thisHost()} */
  readonly host?: HostView;
  /**
   * When the code was loaded (the `at` of `code_version_changed`), ms.
   * @default {Date.now()}
   */
  readonly loadedAt?: number;
}

/** What the cursor of the automation sensor holds. */
export interface AutomationCursor {
  /** Number of the last evaluation completed. */
  readonly tick: number;
  /** Its time, ms. */
  readonly time: number | null;
  /** Time of the very first evaluation, ms. */
  readonly first: number | null;
}

/** Reads the sensor's cursor; an unreadable one starts afresh. */
export function parseAutomationCursor(text: string | undefined): AutomationCursor {
  try {
    const raw = text === undefined ? {} : JSON.parse(text) as Record<string, unknown>;
    const tick = Number(raw.tick ?? 0);
    const num = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : null);
    return {
      tick: Number.isSafeInteger(tick) && tick >= 0 ? tick : 0,
      time: num(raw.time),
      first: num(raw.first),
    };
  } catch {
    return { tick: 0, time: null, first: null };
  }
}

/** The automation sensor with the evaluator it drives. */
export interface AutomationSensor {
  /** The sensor to add to the daemon's. */
  readonly sensor: SensorDefinition;
  /** The evaluator (tests and the daemon's wake-ups read it). */
  readonly evaluator: AutomationEvaluator;
  /** The last evaluation's result, if any. */
  readonly last: EvaluationResult | undefined;
}

/** Whether `graph` has anything for the automation sensor to do. */
export function needsAutomation(graph: Graph<unknown>): boolean {
  for (const asset of graph.assets.values()) {
    if (asset.automation || asset.freshness) return true;
  }
  return false;
}

/**
 * Builds the automation sensor of `graph`.
 *
 * @example
 * ```ts
 * import { automationSensor } from "./sensor.ts";
 * import { eager } from "./condition.ts";
 * import { defineAsset } from "../asset.ts";
 * import { defineGraph } from "../definitions.ts";
 * import { MemoryRunStore } from "../run_store/memory.ts";
 * import { buildSensorContext } from "../testing.ts";
 * const graph = defineGraph({
 *   assets: [
 *     defineAsset({ key: "a", materialize: () => {} }),
 *     defineAsset({ key: "b", deps: ["a"], automation: eager(), materialize: () => {} }),
 *   ],
 * });
 * const { sensor } = automationSensor(graph, { runStore: new MemoryRunStore(), daemonId: "d1" });
 * const result = await sensor.evaluate(buildSensorContext());
 * ```
 */
export function automationSensor(
  graph: Graph<unknown>,
  options: AutomationSensorOptions,
): AutomationSensor {
  const store = options.runStore;
  const evaluator = new AutomationEvaluator(graph, store, {
    ...(options.loadedAt === undefined ? {} : { loadedAt: options.loadedAt }),
  });
  const freshnessAssets = [...graph.assets.values()].filter((a) => a.freshness);
  const signatures = new Map<string, string>();
  const freshnessStatus = new Map<string, string>();
  let started = false;
  let last: EvaluationResult | undefined;
  // Requests of the last evaluation, until its cursor is seen stored (the
  // daemon stores it only once every run was submitted).
  let unconfirmed:
    | { tick: number; time: number; marks: [string, number[], number[]][] }
    | undefined;

  const evaluate = async (
    ctx: { cursor: string | undefined; log: Logger; clock: { now(): number } },
  ): Promise<SensorResult> => {
    if (!started) {
      await evaluator.start(freshnessAssets.map((a) => a.key));
      for (const asset of freshnessAssets) {
        const [previous] = await store.listAutomationRecords({
          kind: "freshness",
          assetKey: asset.key,
          limit: 1,
        });
        if (previous) freshnessStatus.set(asset.key, String(previous.data.status));
      }
      started = true;
    }
    const cursor = parseAutomationCursor(ctx.cursor);
    if (unconfirmed && cursor.tick < unconfirmed.tick) {
      // That evaluation did not complete: its requests count only as far as
      // the feed shows their runs (so a request lost to a fault is asked again).
      for (const [key, indexes, previous] of unconfirmed.marks) {
        evaluator.unmarkRequested(key, indexes, previous, unconfirmed.time);
      }
    }
    unconfirmed = undefined;
    const eventsRead = await evaluator.refresh();
    const now = ctx.clock.now();
    const judgedNow = freshnessAssets.map((asset) => {
      const state = evaluator.state.assets.get(asset.key);
      const lastMat = state && state.maxMat !== Number.NEGATIVE_INFINITY ? state.maxMat : null;
      return { asset, result: judgeFreshness(asset.freshness as FreshnessPolicy, lastMat, now) };
    });
    const freshnessChanged = judgedNow.some(({ asset, result }) =>
      freshnessStatus.get(asset.key) !== result.status
    );
    // Nothing changed since the last evaluation: every answer would be the same (no request).
    if (!evaluator.hasWork(now) && !freshnessChanged) {
      return { skipReason: "nothing changed since the last evaluation" };
    }
    const tick = cursor.tick + 1;
    const attempt = await claimTick(store, tick, {
      daemonId: options.daemonId,
      owner: options.owner ?? processOwner(),
      host: options.host,
      now,
      staleMs: options.staleClaimMs,
    });
    if (attempt === undefined) {
      return { skipReason: "another daemon is evaluating the automation conditions" };
    }
    evaluator.previousTime = cursor.time;
    evaluator.firstTime = cursor.first;
    const result = evaluator.evaluate(now);
    last = result;
    const plan = planRuns(result.requested, evaluator.state.assets, graph.order);
    for (const [key, indexes] of plan.deferred) evaluator.retry(key, indexes);
    const marks: [string, number[], number[]][] = [];
    for (const [key, indexes] of result.requested) {
      if (plan.deferred.has(key)) continue;
      marks.push([key, [...indexes], evaluator.markRequested(key, indexes, now)]);
    }
    unconfirmed = { tick, time: now, marks };
    const runKeyOf = new Map<string, string>();
    const runRequests: RunRequest[] = plan.runs.map((run) => {
      const selection = run.assetKeys.join(",");
      const runKey = `automation:${tick}:${attempt}:${
        fnv(`${selection}|${(run.partitions ?? []).join(",")}`)
      }`;
      for (const key of run.assetKeys) runKeyOf.set(key, runKey);
      return {
        runKey,
        selection,
        ...(run.partitions ? { partitions: run.partitions } : {}),
        tags: { [AUTOMATION_TAG]: String(tick) },
      };
    });
    const records: AutomationRecord[] = [];
    for (const evaluation of result.assets) {
      const signature = JSON.stringify(
        evaluation.tree,
        (k, v) => (k === "trueKeys" ? undefined : v),
      );
      const changed = signatures.get(evaluation.assetKey) !== signature;
      signatures.set(evaluation.assetKey, signature);
      if (!changed && evaluation.requestedCount === 0) continue;
      const deferred = plan.deferred.get(evaluation.assetKey);
      records.push({
        kind: "evaluation",
        time: now,
        assetKey: evaluation.assetKey,
        name: evaluation.condition,
        data: {
          tick,
          evaluated: evaluation.evaluated,
          evaluated_keys: [...evaluation.evaluatedKeys],
          requestedCount: deferred ? 0 : evaluation.requestedCount,
          requested: deferred ? [] : [...evaluation.requested],
          deferred: deferred ? deferred.length : 0,
          runKey: runKeyOf.get(evaluation.assetKey) ?? null,
          tree: JSON.parse(JSON.stringify(evaluation.tree)),
        },
      });
    }
    for (const { asset, result: judged } of judgedNow) {
      const previous = freshnessStatus.get(asset.key);
      if (previous === judged.status) continue;
      freshnessStatus.set(asset.key, judged.status);
      records.push({
        kind: "freshness",
        time: now,
        assetKey: asset.key,
        name: "freshness",
        data: {
          tick,
          status: judged.status,
          previous: previous ?? null,
          lag_ms: judged.lagMs,
          judged_at: judged.judgedAt,
          max_lag_ms: (asset.freshness as FreshnessPolicy).maxLagMs,
          description: judged.description,
        },
      });
      if (judged.status !== "pass") {
        ctx.log.warn(`freshness of ${asset.key}: ${judged.status}: ${judged.description}`);
      }
    }
    records.push({
      kind: "tick",
      time: now,
      assetKey: null,
      name: AUTOMATION_SENSOR,
      data: {
        tick,
        attempt,
        daemon: options.daemonId,
        events_read: eventsRead,
        partitions_evaluated: result.evaluated,
        assets_evaluated: result.assets.length,
        partitions_requested: [...result.requested.values()].reduce((n, l) => n + l.length, 0),
        runs: runRequests.length,
        duration_ms: Math.round(result.durationMs * 1000) / 1000,
      },
    });
    await store.appendAutomationRecords(records);
    if (runRequests.length > 0) {
      ctx.log.info(
        `tick ${tick}: ${runRequests.length} run(s) for ${[...result.requested.keys()].join(", ")}`,
      );
    }
    return {
      runRequests,
      cursor: JSON.stringify({ tick, time: now, first: evaluator.firstTime ?? now }),
    };
  };

  const sensor = defineSensor({
    name: AUTOMATION_SENSOR,
    intervalMs: options.intervalMs ?? 1000,
    description: "evaluates the assets' automation conditions and freshness policies",
    evaluate: (ctx) => evaluate(ctx),
  });
  return {
    sensor,
    evaluator,
    get last() {
      return last;
    },
  };
}

/** Who holds a tick claim, as written in the run store. */
interface TickHolder {
  readonly daemon: string;
  readonly at: number;
  readonly owner: RunOwner | undefined;
}

/** Writes a claim holder: the daemon, when, and its process (host, pid, instance). */
function holderText(daemon: string, at: number, owner: RunOwner): string {
  return JSON.stringify({ daemon, at, owner });
}

/** Reads a claim holder; `daemon@time` is how claims were written before owners. */
export function parseTickHolder(text: string): TickHolder {
  if (text.startsWith("{")) {
    try {
      const raw = JSON.parse(text) as Record<string, unknown>;
      const o = raw.owner as Record<string, unknown> | undefined;
      const owner = o && typeof o.instanceId === "string" && typeof o.host === "string" &&
          typeof o.pid === "number"
        ? { instanceId: o.instanceId, host: o.host, pid: o.pid }
        : undefined;
      return { daemon: String(raw.daemon ?? ""), at: Number(raw.at), owner };
    } catch {
      return { daemon: "", at: Number.NaN, owner: undefined };
    }
  }
  const at = text.lastIndexOf("@");
  return { daemon: text.slice(0, at), at: Number(text.slice(at + 1)), owner: undefined };
}

/**
 * Claims evaluation `tick` for `daemonId`; returns the attempt number, or
 * `undefined` when another daemon that may be alive holds it. A holder is
 * taken over when its process is certainly gone from this host, or when its
 * claim is older than `staleMs` (another host: only the age tells); a holder
 * whose claim cannot be read at all is judged by age alone, i.e. taken over.
 */
async function claimTick(
  store: RunStore,
  tick: number,
  options: {
    daemonId: string;
    owner: RunOwner;
    host: HostView | undefined;
    now: number;
    staleMs: number | undefined;
  },
): Promise<number | undefined> {
  const { daemonId, now } = options;
  const staleMs = options.staleMs ?? 60_000;
  for (let attempt = 1; attempt <= 100; attempt++) {
    const key = attempt === 1 ? String(tick) : `${tick}#${attempt}`;
    const claim = await store.claimRunKey(
      AUTOMATION_TICK_CLAIMS,
      key,
      holderText(daemonId, now, options.owner),
    );
    if (claim.claimed) return attempt;
    const holder = parseTickHolder(claim.runId);
    // This daemon's own claim (its previous try at this tick failed before the cursor moved).
    if (holder.daemon === daemonId) return attempt;
    if (holder.owner && isGoneHere(holder.owner, options.host ?? thisHost())) continue;
    if (Number.isFinite(holder.at) && now - holder.at < staleMs) return undefined;
  }
  return undefined;
}

/** FNV-1a of `text`, as 8 hex digits. */
function fnv(text: string): string {
  return (fnv1a(text) >>> 0).toString(16).padStart(8, "0");
}
