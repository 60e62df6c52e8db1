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
 * for), and one `freshness` record per freshness verdict recorded.
 *
 * Freshness verdicts are asset check results too (`freshness_check.ts`): a
 * verdict is recorded when it differs from the last one recorded (by any
 * daemon: the store is read again before recording, so a daemon taking over
 * does not record, nor alert on, a change its predecessor already recorded),
 * and while it stays the same at most every `freshnessRecordEveryMs`. The
 * verdicts of one evaluation are `check` events of one "check run" (tag
 * `automation_check=freshness`), which is how the check history of the UI
 * and `deno task cli show` see them.
 *
 * @module
 */

import type { Graph } from "../graph.ts";
import type { Logger } from "../logger.ts";
import type { Metadata } from "../metadata.ts";
import type { AutomationRecord, RunOwner, RunStore } from "../run_store/types.ts";
import {
  defineSensor,
  type RunRequest,
  type SensorDefinition,
  type SensorResult,
} from "../sensor.ts";
import { AutomationEvaluator, type EvaluationResult, type RequestMark } from "./evaluate.ts";
import { type FreshnessPolicy, type FreshnessResult, judgeFreshness } from "./freshness_policy.ts";
import { freshnessCheckData, freshnessMetadata } from "./freshness_check.ts";
import { planRuns } from "./plan_runs.ts";
import { fnv1a } from "./_hash.ts";
import {
  type ClaimHolder,
  claimHolderText,
  type HostView,
  isGoneHere,
  parseClaimHolder,
  processOwner,
  thisHost,
} from "../owner.ts";

/** Name of the automation sensor (and of its cursor). */
export const AUTOMATION_SENSOR = "automation";
/** Owner name of the per-tick claims in the run store. */
export const AUTOMATION_TICK_CLAIMS = "automation:tick";
/** Tag set on every run the automation asks for, to the tick number. */
export const AUTOMATION_TAG = "automation_tick";
/** Tag of the runs that hold the daemon's check results (value: `freshness`). */
export const AUTOMATION_CHECK_TAG = "automation_check";

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
  /**
   * A freshness verdict that has not changed is recorded again (a check
   * result, with its current lag) after this long; a changed one at once (ms).
   * @default {3600000}
   */
  readonly freshnessRecordEveryMs?: number;
}

/** What the cursor of the automation sensor holds. */
export interface AutomationCursor {
  /** Number of the last evaluation completed. */
  readonly tick: number;
  /** Its time, ms. */
  readonly time: number | null;
  /** Time of the very first evaluation, ms. */
  readonly first: number | null;
  /**
   * Where in the run store's event feed the last evaluation stood (after the
   * events it had read): orders what shares its millisecond. `null` in
   * cursors written before.
   */
  readonly seq: number | null;
  /** The same for the very first evaluation. */
  readonly firstSeq: number | null;
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
      seq: num(raw.seq),
      firstSeq: num(raw.firstSeq),
    };
  } catch {
    return { tick: 0, time: null, first: null, seq: null, firstSeq: null };
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
  const recordEveryMs = options.freshnessRecordEveryMs ?? 3_600_000;
  if (!Number.isFinite(recordEveryMs) || recordEveryMs <= 0) {
    throw new RangeError(
      `Cannot build the automation sensor with freshnessRecordEveryMs ${recordEveryMs}: expected ms > 0`,
    );
  }
  const signatures = new Map<string, string>();
  // The last freshness verdict recorded per asset (by this daemon or another).
  const freshnessKnown = new Map<string, { status: string; time: number }>();
  const knownFromStore = async (assetKey: string) => {
    const [previous] = await store.listAutomationRecords({ kind: "freshness", assetKey, limit: 1 });
    if (previous) {
      freshnessKnown.set(assetKey, { status: String(previous.data.status), time: previous.time });
    }
  };
  let started = false;
  let last: EvaluationResult | undefined;
  // Requests of the last evaluation, until its cursor is seen stored (the
  // daemon stores it only once every run was submitted).
  let unconfirmed:
    | { tick: number; time: number; marks: [string, number[], RequestMark[]][] }
    | undefined;

  const evaluate = async (
    ctx: { cursor: string | undefined; log: Logger; clock: { now(): number } },
  ): Promise<SensorResult> => {
    if (!started) {
      await evaluator.start(freshnessAssets.map((a) => a.key));
      for (const asset of freshnessAssets) await knownFromStore(asset.key);
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
    const judgedNow: Judged[] = freshnessAssets.map((asset) => {
      const state = evaluator.state.assets.get(asset.key);
      const lastMat = state && state.maxMat !== Number.NEGATIVE_INFINITY ? state.maxMat : null;
      const policy = asset.freshness as FreshnessPolicy;
      return { key: asset.key, policy, lastMat, result: judgeFreshness(policy, lastMat, now) };
    });
    const due = ({ key, result }: Judged) => {
      const known = freshnessKnown.get(key);
      return !known || known.status !== result.status || now - known.time >= recordEveryMs;
    };
    let freshnessDue = judgedNow.filter(due);
    if (freshnessDue.length > 0) {
      // Another daemon may have recorded these since this one last looked (handover).
      for (const { key } of freshnessDue) await knownFromStore(key);
      freshnessDue = freshnessDue.filter(due);
    }
    // Nothing changed since the last evaluation: every answer would be the same (no request).
    if (!evaluator.hasWork(now) && freshnessDue.length === 0) {
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
    evaluator.previousSeq = cursor.seq;
    evaluator.firstTime = cursor.first;
    evaluator.firstSeq = cursor.firstSeq;
    const result = evaluator.evaluate(now);
    last = result;
    const plan = planRuns(result.requested, evaluator.state.assets, graph.order);
    for (const [key, indexes] of plan.deferred) evaluator.retry(key, indexes);
    const marks: [string, number[], RequestMark[]][] = [];
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
      // The true counts in pre-order: no tree is built for an asset whose answer did not change.
      const signature = evaluation.signature;
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
          // Built fresh for this record (plain JSON); the store serializes it.
          tree: evaluation.tree as unknown as Metadata,
        },
      });
    }
    const checkRunId = freshnessDue.length > 0
      ? await recordFreshnessChecks(store, freshnessDue, { tick, now })
      : null;
    for (const { key, policy, lastMat, result: judged } of freshnessDue) {
      const previous = freshnessKnown.get(key)?.status ?? null;
      const facts = freshnessMetadata(policy, lastMat, judged);
      records.push({
        kind: "freshness",
        time: now,
        assetKey: key,
        name: "freshness",
        data: {
          tick,
          status: judged.status,
          previous,
          transition: previous !== judged.status,
          lag_ms: judged.lagMs,
          judged_at: judged.judgedAt,
          max_lag_ms: policy.maxLagMs,
          overdue_by_ms: facts.overdue_by_ms ?? null,
          last_updated_at: facts.last_updated_at ?? null,
          description: judged.description,
          run_id: checkRunId,
        },
      });
      if (judged.status !== "pass" && previous !== judged.status) {
        ctx.log.warn(`freshness of ${key}: ${judged.status}: ${judged.description}`);
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
    for (const { key, result: judged } of freshnessDue) {
      freshnessKnown.set(key, { status: judged.status, time: now });
    }
    if (runRequests.length > 0) {
      ctx.log.info(
        `tick ${tick}: ${runRequests.length} run(s) for ${[...result.requested.keys()].join(", ")}`,
      );
    }
    return {
      runRequests,
      cursor: JSON.stringify({
        tick,
        time: now,
        first: evaluator.firstTime ?? now,
        seq: evaluator.seq,
        firstSeq: evaluator.firstSeq,
      }),
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

/** A freshness verdict of one evaluation. */
interface Judged {
  readonly key: string;
  readonly policy: FreshnessPolicy;
  /** Time of the asset's latest materialization, or `null`. */
  readonly lastMat: number | null;
  readonly result: FreshnessResult;
}

/**
 * Records freshness verdicts as asset check results: one run (already ended,
 * tagged {@linkcode AUTOMATION_CHECK_TAG}) holding a `check` event per asset,
 * where the check history reads checks. It has no steps and no
 * `run_started`/`run_finished` events: it launches nothing, and run-status
 * alerts are not about it (it ends `success`: the evaluation worked; a
 * breach is the check's result, as for any check). Returns the run id.
 */
async function recordFreshnessChecks(
  store: RunStore,
  verdicts: readonly Judged[],
  { tick, now }: { tick: number; now: number },
): Promise<string> {
  const runId = crypto.randomUUID();
  await store.createRun({
    runId,
    status: "success",
    selection: verdicts.map((v) => v.key).join(","),
    partitions: null,
    // Not `sensor=automation`: that tag means "launched by the automation".
    tags: { [AUTOMATION_CHECK_TAG]: "freshness", automation_check_tick: String(tick) },
    startedAt: now,
    finishedAt: now,
    errorSummary: null,
  });
  await store.appendEvents(verdicts.map((v) => ({
    runId,
    type: "check" as const,
    time: now,
    assetKey: v.key,
    partition: null,
    data: freshnessCheckData(v.policy, v.lastMat, v.result),
  })));
  await store.flush();
  return runId;
}

/**
 * Reads a tick claim's holder (the daemon, when, its process); `daemon@time`
 * is how claims were written before owners.
 */
export const parseTickHolder: (text: string) => ClaimHolder = parseClaimHolder;

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
      claimHolderText(daemonId, now, options.owner),
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
