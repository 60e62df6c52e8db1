/**
 * A graph, a memory run store, a fake clock and an evaluator, with helpers
 * to materialize, fail, start runs that stay open, and evaluate.
 *
 * @module
 */

import {
  type AssetDefinition,
  defineGraph,
  materialize,
  MemoryRunStore,
  type RunResult,
} from "../../../core/mod.ts";
import { AutomationEvaluator, type EvaluationResult } from "../../../core/automation/evaluate.ts";
import { FakeClock } from "../../../core/testing.ts";

/** Noon UTC, 10 May 2024: daily partitions end at 2024-05-09. */
export const T0 = Date.parse("2024-05-10T12:00:00Z");

/** What a test drives. */
export interface Harness {
  readonly store: MemoryRunStore;
  readonly clock: FakeClock;
  readonly evaluator: AutomationEvaluator;
  /** Moves time 1 s, materializes `selection` (partitions optional) and moves time 1 s. */
  run(selection: string, partitions?: readonly string[]): Promise<RunResult>;
  /** Records a run planning `steps` that stays running; returns a function that ends it. */
  open(runId: string, steps: readonly [string, string | null][]): Promise<() => Promise<void>>;
  /** Moves time (1 s by default), reads the feed and evaluates. */
  tick(ms?: number): Promise<EvaluationResult>;
}

let runs = 0;

/** A harness over `assets`, its evaluator started at `T0` with a first evaluation done. */
export async function harness(
  assets: readonly AssetDefinition[],
  options: { start?: number; store?: MemoryRunStore; firstEvaluation?: boolean } = {},
): Promise<Harness> {
  const graph = defineGraph({ assets: [...assets] });
  const store = options.store ?? new MemoryRunStore();
  const clock = new FakeClock(options.start ?? T0);
  const evaluator = new AutomationEvaluator(graph, store, { loadedAt: clock.now() });
  await evaluator.start();
  const h: Harness = {
    store,
    clock,
    evaluator,
    async run(selection, partitions) {
      clock.advance(1000);
      const result = await materialize(graph, {
        selection,
        runStore: store,
        clock,
        runId: `run-${++runs}`,
        ...(partitions ? { partitions: { keys: partitions } } : {}),
      });
      clock.advance(1000);
      return result;
    },
    async open(runId, steps) {
      const now = clock.now();
      await store.createRun({
        runId,
        status: "running",
        selection: steps.map(([a]) => a).join(","),
        partitions: null,
        tags: {},
        startedAt: now,
        finishedAt: null,
        errorSummary: null,
      });
      for (const [assetKey, partition] of steps) {
        await store.putStep({
          runId,
          assetKey,
          partition,
          status: "pending",
          attempts: 0,
          startedAt: null,
          finishedAt: null,
          reason: null,
        });
      }
      await store.appendEvents([{
        runId,
        type: "run_started",
        time: now,
        assetKey: null,
        partition: null,
        data: {},
      }]);
      return async () => {
        await store.appendEvents([{
          runId,
          type: "run_finished",
          time: clock.now(),
          assetKey: null,
          partition: null,
          data: { status: "failed" },
        }]);
        await store.updateRun(runId, { status: "failed", finishedAt: clock.now() });
      };
    },
    async tick(ms = 1000) {
      clock.advance(ms);
      await evaluator.refresh();
      return evaluator.evaluate(clock.now());
    },
  };
  if (options.firstEvaluation ?? true) await h.tick(0);
  return h;
}

/** Requested keys by asset, sorted, for assertions. */
export function requested(result: EvaluationResult): Record<string, (string | null)[]> {
  const out: Record<string, (string | null)[]> = {};
  for (const [key, indexes] of [...result.requested].sort(([a], [b]) => a.localeCompare(b))) {
    const asset = result.assets.find((a) => a.assetKey === key);
    out[key] = asset ? [...asset.requested].sort() : indexes.map(String);
  }
  return out;
}

/** `label: trueCount` of every node of an asset's evaluated tree, depth first. */
export function truths(result: EvaluationResult, assetKey: string): Record<string, number> {
  const out: Record<string, number> = {};
  const tree = result.assets.find((a) => a.assetKey === assetKey)?.tree;
  const visit = (node: NonNullable<typeof tree>, path: string) => {
    out[path + node.label] = node.trueCount;
    node.children.forEach((child) => visit(child, `${path}${node.label} > `));
  };
  if (tree) visit(tree, "");
  return out;
}
