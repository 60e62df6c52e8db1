/**
 * A deterministic workload for the multi-process tests: what a writer
 * process records, and what a reader must find afterwards.
 *
 * @module
 */

import type { RunEvent, RunRecord, RunStore, StepRecord } from "../../../core/mod.ts";

const T0 = Date.parse("2024-06-01T00:00:00Z");

/** Writers a test may start; their index orders their shared materializations in time. */
export const WRITERS = ["w1", "w2"] as const;

/** Id of run `i` of `writer`. */
export function runIdOf(writer: string, i: number): string {
  return `${writer}-${String(i).padStart(5, "0")}`;
}

/** Time of the shared materialization of run `i` of `writer`: writers alternate. */
export function sharedTime(writer: string, i: number): number {
  return T0 + i * WRITERS.length + Math.max(0, WRITERS.indexOf(writer as "w1"));
}

/** The run `i` of `writer` once finished. */
export function expectedRun(writer: string, i: number): RunRecord {
  return {
    runId: runIdOf(writer, i),
    status: i % 7 === 3 ? "failed" : "success",
    selection: `+bronze_weather ${writer}`,
    partitions: `p${i % 5}`,
    tags: { writer, n: String(i), quote: 'it\'s "fine"' },
    startedAt: T0 + i,
    finishedAt: T0 + i + 100,
    errorSummary: i % 7 === 3 ? `bronze_weather failed on run ${i}` : null,
    owner: null,
    heartbeatAt: null,
    heartbeatTimeoutMs: null,
    cancelRequestedAt: null,
    cancelReason: null,
  };
}

/** The steps of run `i` of `writer` once finished, in the order first recorded. */
export function expectedSteps(writer: string, i: number): StepRecord[] {
  const runId = runIdOf(writer, i);
  const failed = i % 7 === 3;
  return [
    {
      runId,
      assetKey: "raw_weather",
      partition: `p${i % 5}`,
      status: "success",
      attempts: 1 + (i % 3),
      startedAt: T0 + i + 1,
      finishedAt: T0 + i + 40,
      reason: null,
    },
    {
      runId,
      assetKey: "bronze_weather",
      partition: `p${i % 5}`,
      status: failed ? "failed" : "success",
      attempts: 1,
      startedAt: T0 + i + 41,
      finishedAt: T0 + i + 90,
      reason: failed ? "relation does not exist" : null,
    },
  ];
}

/** The events of run `i` of `writer`, in order. */
export function expectedEvents(writer: string, i: number): RunEvent[] {
  const runId = runIdOf(writer, i);
  const partition = `p${i % 5}`;
  const at = (dt: number) => T0 + i + dt;
  const events: RunEvent[] = [
    {
      runId,
      type: "run_started",
      time: at(0),
      assetKey: null,
      partition: null,
      data: { steps: 2 },
    },
    {
      runId,
      type: "materialization",
      time: at(40),
      assetKey: "raw_weather",
      partition,
      data: { metadata: { rows: i, writer, keys: [`raw/${writer}/${i}.json`] }, codeVersion: "1" },
    },
    {
      runId,
      type: "materialization",
      time: sharedTime(writer, i),
      assetKey: "shared",
      partition: null,
      data: { metadata: { writer, i }, codeVersion: null },
    },
    {
      runId,
      type: "log",
      time: at(50),
      assetKey: "bronze_weather",
      partition,
      data: { level: "info", message: `loading ${i} ✓`, fields: { nested: { a: [1, 2] } } },
    },
  ];
  if (i % 7 === 3) {
    events.push({
      runId,
      type: "step_failed",
      time: at(90),
      assetKey: "bronze_weather",
      partition,
      data: { message: "relation does not exist", stack: `Error: relation\n    at run ${i}` },
    });
  }
  events.push({
    runId,
    type: "run_finished",
    time: at(100),
    assetKey: null,
    partition: null,
    data: { status: expectedRun(writer, i).status },
  });
  return events;
}

/**
 * Writes runs `0..count-1` of `writer` the way the executor does (run,
 * pending steps, progress, events, final update), then flushes.
 */
export async function writeWorkload(store: RunStore, writer: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const run = expectedRun(writer, i);
    await store.createRun({ ...run, status: "running", finishedAt: null, errorSummary: null });
    const steps = expectedSteps(writer, i);
    for (const step of steps) {
      await store.putStep({
        ...step,
        status: "pending",
        attempts: 0,
        startedAt: null,
        finishedAt: null,
        reason: null,
      });
    }
    for (const step of steps) {
      await store.putStep({ ...step, status: "running", finishedAt: null, reason: null });
    }
    const events = expectedEvents(writer, i);
    await store.appendEvents(events.slice(0, 2));
    await store.appendEvents(events.slice(2));
    for (const step of steps) await store.putStep({ ...step, startedAt: null });
    await store.updateRun(run.runId, {
      status: run.status,
      finishedAt: run.finishedAt,
      errorSummary: run.errorSummary,
    });
  }
  await store.flush();
}
