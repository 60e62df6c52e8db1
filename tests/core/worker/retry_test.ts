/**
 * planRetry's decisions on how a queued run ended: a run its worker stopped
 * because its heartbeat could not be recorded (the run store away) is
 * retried like a failed one; a cancel someone asked for is not.
 */

import assert from "node:assert/strict";
import { planRetry } from "../../../core/worker/retry.ts";
import type { QueuedRun } from "../../../core/worker/queue.ts";
import type { RunRecord } from "../../../core/run_store/types.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";

const HEARTBEAT_STOP = "canceled: its heartbeat could not be recorded for 1015 ms " +
  "(connect ECONNREFUSED 127.0.0.1:40677); stopped before its lease of 1500 ms lapsed, " +
  "so that no other process takes it for dead and runs it again";

function entry(overrides: Partial<QueuedRun> = {}): QueuedRun {
  return {
    runId: "r1",
    seq: 1,
    state: "finished",
    selection: "long_a+",
    exclude: "",
    partitions: null,
    tags: { max_retries: "3" },
    priority: 0,
    pools: [],
    maxRetries: 3,
    attempt: 1,
    rootRunId: "r1",
    retryOf: null,
    resumeFrom: null,
    enqueuedAt: 0,
    launchedAt: 1,
    startedAt: 2,
    finishedAt: 3,
    workerId: "w1",
    cancelRequested: null,
    outcome: null,
    ...overrides,
  };
}

function record(status: RunRecord["status"], errorSummary: string | null): RunRecord {
  return {
    runId: "r1",
    status,
    selection: "long_a+",
    partitions: null,
    tags: {},
    startedAt: 2,
    finishedAt: 3,
    errorSummary,
    owner: null,
    heartbeatAt: null,
    heartbeatTimeoutMs: null,
    cancelRequestedAt: null,
    cancelReason: null,
  };
}

Deno.test("planRetry: a run stopped because its heartbeat could not be recorded is retried", async () => {
  await using store = new MemoryRunStore();
  const retry = await planRetry(store, entry(), record("canceled", HEARTBEAT_STOP));
  assert.ok(retry, "retried, as a failed run is");
  assert.equal(retry.attempt, 2);
  assert.equal(retry.retryOf, "r1");
  assert.equal(retry.rootRunId, "r1");
  // Not an asset failure: retry_on_asset_failure=false does not hold it back.
  const notOnAssets = entry({ tags: { retry_on_asset_failure: "false" } });
  assert.ok(await planRetry(store, notOnAssets, record("canceled", HEARTBEAT_STOP)));
  // Its retries are counted like any other.
  assert.equal(
    await planRetry(store, entry({ attempt: 4 }), record("canceled", HEARTBEAT_STOP)),
    undefined,
  );
});

Deno.test("planRetry: a canceled run is not retried when a cancel was asked or it was shut down", async () => {
  await using store = new MemoryRunStore();
  const asked = entry({ cancelRequested: "cli" });
  assert.equal(await planRetry(store, asked, record("canceled", HEARTBEAT_STOP)), undefined);
  const cancel = "canceled: cancel requested: from the UI";
  assert.equal(await planRetry(store, entry(), record("canceled", cancel)), undefined);
  assert.equal(await planRetry(store, entry(), record("canceled", "1 canceled")), undefined);
  assert.equal(await planRetry(store, entry(), record("canceled", null)), undefined);
});
