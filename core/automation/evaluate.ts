/**
 * The automation evaluator: decides which asset partitions need a run, from
 * their conditions and the facts in {@linkcode AutomationState}.
 *
 * Work is proportional to what changed. Each partition whose facts changed
 * (a materialization, a run planning it, a step ending, a new dynamic key)
 * is marked dirty together with the downstream partitions that read it; the
 * passing of time marks what it affects (a new daily partition marks the
 * latest window, a cron tick marks the assets whose condition names that
 * cron). An evaluation looks only at the dirty partitions of this and the
 * previous evaluation (a "newly" block turns false one evaluation after its
 * event) and at the downstream of what it requests (so an eager chain is
 * requested in one evaluation, as one run). A partition that is not looked
 * at keeps its last answer, which was "no request".
 *
 * @module
 */

import { type Cron } from "croner";
import type { Graph } from "../graph.ts";
import type { RunStore } from "../run_store/types.ts";
import {
  type AutomationCondition,
  children,
  type ConditionKind,
  type ConditionNode,
  parseCron,
} from "./condition.ts";
import type { Mapping } from "./_space.ts";
import { type AssetState, AutomationState, later } from "./state.ts";

const NEVER = Number.NEGATIVE_INFINITY;
/** The feed position of a fact read from the clock alone: before every event of its millisecond. */
const NO_SEQ = Number.NEGATIVE_INFINITY;
/** Partition keys listed per node in a record; the count is always exact. */
const KEYS_PER_NODE = 20;
/** Requested partition keys listed in a record. */
const KEYS_REQUESTED = 200;
/** Evaluated partition keys listed in a record. */
const KEYS_EVALUATED = 50;

/** One node of an evaluated condition tree, as recorded. */
export interface EvaluatedNode {
  /** Node kind. */
  readonly kind: ConditionKind;
  /** Label. */
  readonly label: string;
  /** How many of the evaluated partitions it was true for. */
  readonly trueCount: number;
  /** Keys of those partitions (at most 20; `null` for an unpartitioned asset). */
  readonly trueKeys: readonly (string | null)[];
  /** Children. */
  readonly children: readonly EvaluatedNode[];
}

/** The evaluation of one asset in one evaluation. */
export interface AssetEvaluation {
  /** Asset key. */
  readonly assetKey: string;
  /** The condition's name. */
  readonly condition: string;
  /** Partitions looked at. */
  readonly evaluated: number;
  /** Keys of the partitions looked at (at most 50; `null` for an unpartitioned asset). */
  readonly evaluatedKeys: readonly (string | null)[];
  /** Partitions requested (the root was true). */
  readonly requestedCount: number;
  /** Keys requested (at most 200). */
  readonly requested: readonly (string | null)[];
  /** The tree with what was true (built when first read). */
  readonly tree: EvaluatedNode;
  /** How many partitions each node was true for, in pre-order: equal when the tree's counts are. */
  readonly signature: string;
}

/** What one evaluation decided. */
export interface EvaluationResult {
  /** When it ran (the clock's now), ms. */
  readonly time: number;
  /** The previous evaluation's time, or `null` on the first. */
  readonly previousTime: number | null;
  /** Partitions looked at, over every asset. */
  readonly evaluated: number;
  /** One entry per asset looked at. */
  readonly assets: readonly AssetEvaluation[];
  /** Requested partition indexes by asset key (see {@linkcode AutomationEvaluator.keyOf}). */
  readonly requested: ReadonlyMap<string, readonly number[]>;
  /** Wall time of the evaluation itself, ms. */
  readonly durationMs: number;
}

/** Options of {@linkcode AutomationEvaluator}. */
export interface AutomationEvaluatorOptions {
  /**
   * When this code was loaded (the `at` of `code_version_changed`), ms.
   * @default {Date.now()}
   */
  readonly loadedAt?: number;
}

interface Compiled {
  readonly state: AssetState;
  readonly condition: AutomationCondition;
  /** Nodes in pre-order. */
  readonly nodes: ConditionNode[];
  readonly labels: string[];
  /** Child node indexes per node. */
  readonly kids: number[][];
  /** Largest lookback of its time-window nodes. */
  readonly lookback: number;
  /** The cron expressions its nodes use, `cron|timezone`. */
  readonly crons: string[];
}

type Dirty = Set<number> | "all";

/**
 * Keeps the state of a graph's automated assets and evaluates their
 * conditions. `start()` once, then `refresh()` and `evaluate()` per tick.
 *
 * @example
 * ```ts
 * import { AutomationEvaluator } from "./evaluate.ts";
 * import { eager } from "./condition.ts";
 * import { defineAsset } from "../asset.ts";
 * import { defineGraph } from "../definitions.ts";
 * import { MemoryRunStore } from "../run_store/memory.ts";
 * const graph = defineGraph({
 *   assets: [
 *     defineAsset({ key: "a", materialize: () => {} }),
 *     defineAsset({ key: "b", deps: ["a"], automation: eager(), materialize: () => {} }),
 *   ],
 * });
 * const evaluator = new AutomationEvaluator(graph, new MemoryRunStore());
 * await evaluator.start();
 * evaluator.evaluate(Date.now()).requested.size; // 0: a was never materialized
 * ```
 */
export class AutomationEvaluator {
  /** The facts. */
  readonly state: AutomationState;
  readonly #compiled = new Map<AssetState, Compiled>();
  readonly #order: Compiled[] = [];
  #dirty = new Map<AssetState, Dirty>();
  #previousDirty = new Map<AssetState, Dirty>();
  readonly #sizes = new Map<AssetState, number>();
  readonly #ticks = new Map<string, number>();
  readonly #crons = new Map<string, Cron>();
  readonly #loadedAt: number;
  #previousTime: number | null = null;
  #firstTime: number | null = null;
  #previousSeq: number | null = null;
  #firstSeq: number | null = null;

  /** Prepares the evaluator; nothing is read until {@linkcode AutomationEvaluator.start}. */
  constructor(graph: Graph<unknown>, store: RunStore, options: AutomationEvaluatorOptions = {}) {
    this.#loadedAt = options.loadedAt ?? Date.now();
    this.state = new AutomationState(graph, store, (state, i) => this.#changed(state, i));
    for (const key of graph.order) {
      const state = this.state.assets.get(key) as AssetState;
      const condition = state.asset.automation;
      if (!condition) continue;
      const compiled = compile(state, condition);
      this.#compiled.set(state, compiled);
      this.#order.push(compiled);
      for (const spec of compiled.crons) {
        if (!this.#crons.has(spec)) {
          const [cron, timezone] = spec.split("|") as [string, string];
          this.#crons.set(spec, parseCron(cron, timezone));
        }
      }
    }
  }

  /** Whether any asset of the graph has a condition. */
  get active(): boolean {
    return this.#order.length > 0;
  }

  /**
   * Loads the facts of the automated assets, their upstreams and `also`
   * (e.g. assets with a freshness policy); the first evaluation looks at
   * everything.
   */
  async start(also: Iterable<string> = []): Promise<void> {
    const keys = new Set<string>(also);
    for (const c of this.#order) {
      keys.add(c.state.asset.key);
      for (const dep of c.state.asset.deps) keys.add(dep);
    }
    await this.state.load(keys);
    for (const c of this.#order) this.#dirty.set(c.state, "all");
  }

  /** Reads what happened since the last call (new dynamic keys, the event feed); returns the events read. */
  async refresh(): Promise<number> {
    await this.state.refreshDynamic();
    return await this.state.catchUp();
  }

  /** The time of the previous evaluation (shared by daemons through the sensor cursor). */
  set previousTime(time: number | null) {
    this.#previousTime = time;
  }

  /** See the setter. */
  get previousTime(): number | null {
    return this.#previousTime;
  }

  /** The time of the automation's very first evaluation (kept in the sensor cursor), or `null`. */
  set firstTime(time: number | null) {
    this.#firstTime = time;
  }

  /** See the setter. */
  get firstTime(): number | null {
    return this.#firstTime;
  }

  /**
   * Where in the feed the previous evaluation stood (after every event it
   * had read), `null` when unknown: what happened on the previous
   * evaluation's clock tick then counts as before it.
   */
  set previousSeq(seq: number | null) {
    this.#previousSeq = seq;
  }

  /** See the setter. */
  get previousSeq(): number | null {
    return this.#previousSeq;
  }

  /** Where in the feed the very first evaluation stood, `null` when unknown. */
  set firstSeq(seq: number | null) {
    this.#firstSeq = seq;
  }

  /** See the setter. */
  get firstSeq(): number | null {
    return this.#firstSeq;
  }

  /** This evaluator's place in the feed: after every event it has read. */
  get seq(): number {
    return this.state.watermark + 0.5;
  }

  /** Key of partition `index` of `assetKey` (`null` when unpartitioned). */
  keyOf(assetKey: string, index: number): string | null {
    return this.state.assets.get(assetKey)?.space.key(index) ?? null;
  }

  /**
   * Records that partitions were requested at `time`, before the runs that
   * plan them are recorded (a queued run may start much later): the next
   * evaluation does not request them again.
   */
  markRequested(assetKey: string, indexes: readonly number[], time: number): RequestMark[] {
    const state = this.state.assets.get(assetKey);
    if (!state) return [];
    const previous: RequestMark[] = [];
    for (const i of indexes) {
      state.ensure(i);
      previous.push({ time: state.lastReq[i] as number, seq: state.reqSeq[i] as number });
      state.request(i, time, this.seq);
    }
    return previous;
  }

  /**
   * Undoes {@linkcode markRequested} (given what it returned) for requests
   * whose evaluation did not complete — the records could not be written or a
   * run could not be submitted, so the daemon did not move the cursor — and
   * marks them for the next evaluation. Apply before {@linkcode refresh}: the
   * feed then tells which of them were launched after all.
   */
  unmarkRequested(
    assetKey: string,
    indexes: readonly number[],
    previous: readonly RequestMark[],
    time: number,
  ): void {
    const state = this.state.assets.get(assetKey);
    if (!state) return;
    indexes.forEach((i, j) => {
      const before = previous[j] as RequestMark;
      if (state.lastReq[i] === time) {
        state.lastReq[i] = before.time;
        state.reqSeq[i] = before.seq;
      }
      this.#mark(state, i);
    });
  }

  /** Marks partitions to look at again in the next evaluation (e.g. requests that were not launched). */
  retry(assetKey: string, indexes: readonly number[]): void {
    const state = this.state.assets.get(assetKey);
    if (state) { for (const i of indexes) this.#mark(state, i); }
  }

  /**
   * Whether an evaluation at `now` has anything to look at: facts changed,
   * time passed a cron tick or a day, or the previous evaluation looked at
   * something (its "newly" blocks turn false). When not, every answer would
   * be the previous one: no request.
   */
  hasWork(now: number): boolean {
    this.#markTime(now);
    return this.#dirty.size > 0 || this.#previousDirty.size > 0;
  }

  /** Evaluates every dirty partition at `now`; synchronous and pure over the facts. */
  evaluate(now: number): EvaluationResult {
    const started = performance.now();
    this.#markTime(now);
    if (this.#previousTime !== null && now < this.#previousTime) {
      // The wall clock went back past the previous evaluation: see AssetState.clampAfter.
      for (const state of this.state.assets.values()) state.clampAfter(now);
    }
    const candidates = this.#previousDirty;
    for (const [state, dirty] of this.#dirty) merge(candidates, state, dirty);
    this.#previousDirty = this.#dirty;
    this.#dirty = new Map();
    const ticks = this.#cronTicks(now);
    const requestedNow = new Map<AssetState, Set<number>>();
    if (this.#firstTime === null) {
      this.#firstTime = now;
      this.#firstSeq = this.seq;
    }
    const env: Env = {
      now,
      first: this.#firstTime,
      // Unknown positions (an older cursor): what shares their clock tick counts as before.
      firstSeq: this.#firstSeq ?? Number.POSITIVE_INFINITY,
      previous: this.#previousTime ?? NEVER,
      previousSeq: this.#previousSeq ?? Number.POSITIVE_INFINITY,
      loadedAt: this.#loadedAt,
      ticks,
      requestedNow,
    };
    const assets: AssetEvaluation[] = [];
    const requested = new Map<string, number[]>();
    let evaluated = 0;
    for (const c of this.#order) {
      const dirty = candidates.get(c.state);
      if (!dirty) continue;
      const result = evaluateAsset(c, dirty, env);
      evaluated += result.evaluated;
      assets.push(result.evaluation);
      if (result.requested.length === 0) continue;
      requested.set(c.state.asset.key, result.requested);
      requestedNow.set(c.state, new Set(result.requested));
      // The downstream of a request is looked at now: an eager chain goes in one run.
      for (const i of result.requested) this.#markDownstream(c.state, i, candidates);
    }
    this.#previousTime = now;
    this.#previousSeq = this.seq;
    return {
      time: now,
      previousTime: env.previous === NEVER ? null : env.previous,
      evaluated,
      assets,
      requested,
      durationMs: performance.now() - started,
    };
  }

  #changed(state: AssetState, i: number): void {
    this.#mark(state, i);
    this.#markDownstream(state, i, this.#dirty);
  }

  #mark(state: AssetState, i: number, into = this.#dirty): void {
    if (!this.#compiled.has(state)) return;
    const dirty = into.get(state);
    if (dirty === "all") return;
    if (dirty) dirty.add(i);
    else into.set(state, new Set([i]));
  }

  #markDownstream(state: AssetState, i: number, into: Map<AssetState, Dirty>): void {
    for (const { down, mapping } of state.downs) {
      if (!this.#compiled.has(down)) continue;
      const j = downstreamIndex(mapping, down, i);
      if (j === "all") into.set(down, "all");
      else this.#mark(down, j, into);
    }
  }

  /** New daily partitions mark their window; a new cron tick marks its assets. */
  #markTime(now: number): void {
    for (const c of this.#order) {
      const def = c.state.space.def;
      if (def?.kind === "daily") {
        const size = c.state.space.size(now);
        const before = this.#sizes.get(c.state);
        if (before !== undefined && size > before) {
          for (let i = Math.max(0, before - 1 - c.lookback); i < size; i++) this.#mark(c.state, i);
        }
        this.#sizes.set(c.state, size);
      }
    }
    for (const [spec, cron] of this.#crons) {
      const tick = latestTick(cron, now);
      const before = this.#ticks.get(spec);
      this.#ticks.set(spec, tick);
      if (before === undefined || before === tick) continue;
      for (const c of this.#order) {
        if (c.crons.includes(spec)) this.#dirty.set(c.state, "all");
      }
    }
  }

  #cronTicks(now: number): Map<string, number> {
    const ticks = new Map<string, number>();
    for (const [spec, cron] of this.#crons) ticks.set(spec, latestTick(cron, now));
    return ticks;
  }
}

function merge(into: Map<AssetState, Dirty>, state: AssetState, dirty: Dirty): void {
  const existing = into.get(state);
  if (existing === "all" || dirty === "all") {
    into.set(state, "all");
    return;
  }
  if (!existing) into.set(state, new Set(dirty));
  else for (const i of dirty) existing.add(i);
}

function downstreamIndex(mapping: Mapping, down: AssetState, upIndex: number): number | "all" {
  if (mapping.kind === "aligned") return upIndex - mapping.offset;
  return down.space.def ? "all" : 0;
}

/** The latest tick of `cron` at or before `now`, or `-Infinity`. */
function latestTick(cron: Cron, now: number): number {
  const [tick] = cron.previousRuns(1, new Date(now + 1));
  return tick ? tick.getTime() : NEVER;
}

function compile(state: AssetState, condition: AutomationCondition): Compiled {
  const nodes: ConditionNode[] = [];
  const labels: string[] = [];
  const kids: number[][] = [];
  const crons = new Set<string>();
  let lookback = 0;
  const visit = (c: AutomationCondition): number => {
    const index = nodes.length;
    nodes.push(c.node);
    labels.push(c.describe());
    kids.push([]);
    const n = c.node;
    if (n.kind === "in_latest_time_window") lookback = Math.max(lookback, n.lookbackDays);
    if (n.kind === "cron_tick_passed" || n.kind === "all_deps_updated_since_cron") {
      crons.add(`${n.cron}|${n.timezone}`);
    }
    kids[index] = children(n).map(visit);
    return index;
  };
  visit(condition);
  return { state, condition, nodes, labels, kids, lookback, crons: [...crons] };
}

/** A partition's request as it was before {@linkcode AutomationEvaluator.markRequested}. */
export interface RequestMark {
  /** Time of the request, ms (`-Infinity`: never). */
  readonly time: number;
  /** Its place in the feed. */
  readonly seq: number;
}

interface Env {
  readonly now: number;
  readonly first: number;
  readonly firstSeq: number;
  readonly previous: number;
  readonly previousSeq: number;
  readonly loadedAt: number;
  readonly ticks: ReadonlyMap<string, number>;
  readonly requestedNow: ReadonlyMap<AssetState, ReadonlySet<number>>;
}

function evaluateAsset(
  c: Compiled,
  dirty: Dirty,
  env: Env,
): { evaluation: AssetEvaluation; requested: number[]; evaluated: number } {
  const { state, nodes, kids } = c;
  const size = state.space.size(env.now);
  const v = new Uint8Array(nodes.length);
  const at = new Float64Array(nodes.length);
  // Feed position of each node's `at`: orders two facts of one clock tick.
  const seq = new Float64Array(nodes.length);
  const counts = new Array<number>(nodes.length).fill(0);
  // Partition indexes per node; turned into keys once, for the record.
  const keys: number[][] = nodes.map(() => []);
  const requested: number[] = [];

  const run = (n: number, i: number): void => {
    const node = nodes[n] as ConditionNode;
    const ks = kids[n] as number[];
    switch (node.kind) {
      case "and":
      case "or": {
        let all = 1;
        let any = 0;
        let latest = NEVER;
        let latestSeq = NO_SEQ;
        for (const k of ks) {
          run(k, i);
          if (v[k]) any = 1;
          else all = 0;
          if (later(at[k] as number, seq[k] as number, latest, latestSeq)) {
            latest = at[k] as number;
            latestSeq = seq[k] as number;
          }
        }
        const yes = node.kind === "and" ? all : any;
        v[n] = yes;
        at[n] = yes || node.kind === "or" ? latest : NEVER;
        seq[n] = yes || node.kind === "or" ? latestSeq : NO_SEQ;
        return;
      }
      case "not": {
        const k = ks[0] as number;
        run(k, i);
        v[n] = v[k] ? 0 : 1;
        at[n] = v[n] ? 0 : NEVER;
        seq[n] = NO_SEQ;
        return;
      }
      case "since": {
        const [trigger, reset] = ks as [number, number];
        run(trigger, i);
        run(reset, i);
        const yes = later(
          at[trigger] as number,
          seq[trigger] as number,
          at[reset] as number,
          seq[reset] as number,
        );
        v[n] = yes ? 1 : 0;
        at[n] = yes ? at[trigger] as number : NEVER;
        seq[n] = yes ? seq[trigger] as number : NO_SEQ;
        return;
      }
      default:
        leaf(node, state, i, size, env);
        v[n] = leafValue ? 1 : 0;
        at[n] = leafAt;
        seq[n] = leafSeq;
    }
  };

  let evaluated = 0;
  const looked: number[] = [];
  const visit = (i: number) => {
    if (i < 0 || i >= size) return;
    evaluated++;
    if (looked.length < KEYS_EVALUATED) looked.push(i);
    run(0, i);
    for (let n = 0; n < nodes.length; n++) {
      if (!v[n]) continue;
      counts[n] = (counts[n] as number) + 1;
      const list = keys[n] as number[];
      if (list.length < KEYS_PER_NODE) list.push(i);
    }
    if (v[0]) requested.push(i);
  };
  if (dirty === "all") { for (let i = 0; i < size; i++) visit(i); }
  else for (const i of [...dirty].sort((a, b) => a - b)) visit(i);

  const tree = (n: number): EvaluatedNode => ({
    kind: (nodes[n] as ConditionNode).kind,
    label: c.labels[n] as string,
    trueCount: counts[n] as number,
    trueKeys: (keys[n] as number[]).map((i) => state.space.key(i)),
    children: (kids[n] as number[]).map(tree),
  });
  let built: EvaluatedNode | undefined;
  return {
    evaluated,
    requested,
    evaluation: {
      assetKey: state.asset.key,
      condition: c.condition.name,
      evaluated,
      get evaluatedKeys() {
        return looked.map((i) => state.space.key(i));
      },
      requestedCount: requested.length,
      get requested() {
        return requested.slice(0, KEYS_REQUESTED).map((i) => state.space.key(i));
      },
      // Most evaluations are not recorded (nothing changed): the tree is built on demand.
      get tree() {
        return built ??= tree(0);
      },
      signature: counts.join(","),
    },
  };
}

// A building block's answer, returned through these two variables rather
// than a fresh [value, at] pair: an evaluation makes millions of them.
let leafValue = false;
let leafAt = NEVER;
let leafSeq = NO_SEQ;

/**
 * A building block's answer: whether it holds, since when, and where in the
 * feed that happened (`seq`; a fact read from the clock alone — a cron tick,
 * a partition's start — comes before every event of its millisecond).
 */
function answer(value: boolean, at: number, seq = NO_SEQ): void {
  leafValue = value;
  leafAt = at;
  leafSeq = seq;
}

/** Sets `leafValue`/`leafAt` to a building block's answer for partition `i`. */
function leaf(
  node: ConditionNode,
  s: AssetState,
  i: number,
  size: number,
  env: Env,
): void {
  switch (node.kind) {
    case "missing": {
      const yes = s.get(s.lastMat, i) === NEVER;
      return answer(yes, yes ? s.space.availableAt(i) : NEVER);
    }
    case "newly_updated": {
      const t = s.get(s.lastMat, i);
      const q = t === NEVER ? NO_SEQ : s.matSeq[i] as number;
      return answer(later(t, q, env.previous, env.previousSeq), t, q);
    }
    case "newly_requested": {
      const t = s.get(s.lastReq, i);
      const q = t === NEVER ? NO_SEQ : s.reqSeq[i] as number;
      return answer(later(t, q, env.previous, env.previousSeq), t, q);
    }
    case "in_progress": {
      const p = s.progress.get(i);
      return answer(p !== undefined, p ? p.since : NEVER);
    }
    case "execution_failed": {
      const failed = s.get(s.failedAt, i);
      const yes = failed !== NEVER && failed > s.get(s.lastMat, i);
      return answer(yes, yes ? failed : NEVER);
    }
    case "code_version_changed": {
      const yes = i < s.code.length && s.code[i] === 2;
      return answer(yes, yes ? env.loadedAt : NEVER);
    }
    case "initial_evaluation":
      return answer(env.previous === NEVER, env.first, env.firstSeq);
    case "in_latest_time_window": {
      const yes = s.space.def?.kind !== "daily" ||
        (i <= size - 1 && i >= size - 1 - node.lookbackDays);
      return answer(yes, yes ? 0 : NEVER);
    }
    case "cron_tick_passed": {
      const tick = env.ticks.get(`${node.cron}|${node.timezone}`) ?? NEVER;
      return answer(tick !== NEVER && tick > env.previous, tick);
    }
    case "any_deps_updated": {
      const consumed = s.get(s.consumedAt, i);
      let latest = NEVER;
      let latestSeq = NO_SEQ;
      s.deps.forEach(({ dep, mapping }, k) => {
        // Requested in this evaluation: after everything read so far.
        if (willBeRequested(env, dep, mapping, i)) {
          if (later(env.now, Number.POSITIVE_INFINITY, latest, latestSeq)) {
            latest = env.now;
            latestSeq = Number.POSITIVE_INFINITY;
          }
          return;
        }
        const changed = changedOf(dep, mapping, i);
        if (changed === NEVER || !newer(s, k, dep, mapping, i, changed, consumed)) return;
        const q = changeSeqOf(dep, mapping, i);
        if (later(changed, q, latest, latestSeq)) {
          latest = changed;
          latestSeq = q;
        }
      });
      return answer(latest !== NEVER, latest, latestSeq);
    }
    case "any_deps_missing": {
      for (const { dep, mapping } of s.deps) {
        const missing = mapping.kind === "all"
          ? dep.materialized === 0
          : dep.get(dep.lastMat, depIndex(mapping, i)) === NEVER;
        if (missing && !willBeRequested(env, dep, mapping, i)) return answer(true, 0);
      }
      return answer(false, NEVER);
    }
    case "any_deps_in_progress": {
      for (const { dep, mapping } of s.deps) {
        const busy = mapping.kind === "all"
          ? dep.progress.size > 0
          : dep.inProgress(depIndex(mapping, i));
        if (busy) return answer(true, 0);
      }
      return answer(false, NEVER);
    }
    case "all_deps_updated_since_cron": {
      const tick = env.ticks.get(`${node.cron}|${node.timezone}`) ?? NEVER;
      let latest = NEVER;
      let latestSeq = NO_SEQ;
      for (const { dep, mapping } of s.deps) {
        const changed = changedOf(dep, mapping, i);
        if (changed < tick && !willBeRequested(env, dep, mapping, i)) return answer(false, NEVER);
        const q = changeSeqOf(dep, mapping, i);
        if (later(changed, q, latest, latestSeq)) {
          latest = changed;
          latestSeq = q;
        }
      }
      return latest === NEVER ? answer(true, 0) : answer(true, latest, latestSeq);
    }
    default:
      throw new TypeError(`Unknown automation condition node '${node.kind}'`);
  }
}

function depIndex(mapping: Mapping, i: number): number {
  return mapping.kind === "aligned" ? i + mapping.offset : 0;
}

function changedOf(dep: AssetState, mapping: Mapping, i: number): number {
  return mapping.kind === "all" ? dep.maxChanged : dep.get(dep.changedAt, depIndex(mapping, i));
}

/** The feed position of the change {@linkcode changedOf} returns. */
function changeSeqOf(dep: AssetState, mapping: Mapping, i: number): number {
  if (mapping.kind === "all") return dep.maxChangedSeq;
  const j = depIndex(mapping, i);
  return j >= 0 && j < dep.changedSeq.length ? dep.changedSeq[j] as number : NO_SEQ;
}

/**
 * Whether upstream edge `k` of `s` holds data newer than partition `i`
 * consumed: it changed after the consumption began; on the same clock tick,
 * when the data version consumed (if known) is not the upstream's current one.
 */
function newer(
  s: AssetState,
  k: number,
  dep: AssetState,
  mapping: Mapping,
  i: number,
  changed: number,
  consumed: number,
): boolean {
  if (changed !== consumed) return changed > consumed;
  if (mapping.kind === "all") return false;
  const read = s.consumedVersion[k]?.[i] ?? 0;
  const j = depIndex(mapping, i);
  return read !== 0 && j >= 0 && j < dep.version.length && dep.version[j] !== read;
}

function willBeRequested(env: Env, dep: AssetState, mapping: Mapping, i: number): boolean {
  const requested = env.requestedNow.get(dep);
  if (!requested) return false;
  return mapping.kind === "all" ? requested.size > 0 : requested.has(depIndex(mapping, i));
}
