/**
 * Fixtures shared by the executor's tests (`executor_*_test.ts`): a harness
 * running a graph on a fake clock and a memory store, and short ways to state
 * the expected steps.
 *
 * @module
 */

import { assetFactory, checkFactory } from "../../core/asset.ts";
import { materialize, type MaterializeOptions, type RunResult } from "../../core/executor.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import type { RunEvent } from "../../core/run_store/types.ts";
import { FakeClock } from "../../core/testing.ts";

/** The fake clock's start. */
export const T0 = Date.parse("2024-03-10T12:00:00Z");
/** An asset body that does nothing. */
export const noop = () => {};

/** Resources of these tests: any key, any value (tests that need types use asset_test.ts). */
export type Resources = Record<string, unknown>;
/** `defineAsset` over {@linkcode Resources}. */
export const asset = assetFactory<Resources>();
/** `defineCheck` over {@linkcode Resources}. */
export const check = checkFactory<Resources>();

/** A run with a fake clock and a memory store, unless the test gives its own. */
export function harness(overrides: { clock?: FakeClock; store?: MemoryRunStore } = {}) {
  const clock = overrides.clock ?? new FakeClock(T0);
  const store = overrides.store ?? new MemoryRunStore();
  const events: RunEvent[] = [];
  let n = 0;
  const run = <R>(
    graph: Parameters<typeof materialize<R>>[0],
    options: MaterializeOptions<R> = {},
  ) =>
    materialize(graph, {
      clock,
      runStore: store,
      runId: `run-${++n}`,
      concurrency: 1,
      onEvent: (event) => events.push(event),
      ...options,
    });
  return { clock, store, events, run };
}

/** The parts of each step result a test asserts as a whole. */
export function summary(result: RunResult) {
  return result.steps.map((s) => ({
    step: s.partition === null ? s.assetKey : `${s.assetKey}[${s.partition}]`,
    status: s.status,
    attempts: s.attempts,
    reason: s.reason,
  }));
}

/** The summary of a step that succeeded. */
export const ok = (step: string, attempts = 1) => ({
  step,
  status: "success",
  attempts,
  reason: null,
});

/** Yields to timers once, so every step the executor can launch is launched first. */
export const macrotask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));
