/** The executor: cancellation: the signal, step_canceled events, retries stopped. Shared fixtures: `_executor.ts`. */

import assert from "node:assert/strict";
import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";

import { materialize } from "../../core/executor.ts";
import { defineResource } from "../../core/resource.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { FakeClock } from "../../core/testing.ts";
import { deferred } from "./_helpers.ts";
import { asset, harness, noop, summary, T0 } from "./_executor.ts";

function waitForAbort(started: () => void) {
  return (ctx: { signal: AbortSignal }) =>
    new Promise<void>((_, reject) => {
      ctx.signal.addEventListener("abort", () => reject(new Error("interrupted")), { once: true });
      started();
    });
}

Deno.test("aborting the signal cancels the running step and every step not started, and runs cleanup", async () => {
  const started = deferred();
  const opened: string[] = [];
  const disposed: string[] = [];
  const connection = (name: string) =>
    defineResource(`${name} connection`, () => {
      opened.push(name);
      return { [Symbol.asyncDispose]: () => Promise.resolve(void disposed.push(name)) };
    });
  const ran: string[] = [];
  const graph = defineGraph({
    assets: [
      asset({
        key: "slow",
        resources: ["conn"],
        materialize: waitForAbort(() => started.resolve()),
      }),
      defineAsset({ key: "later_a", materialize: () => void ran.push("later_a") }),
      defineAsset({ key: "later_b", materialize: () => void ran.push("later_b") }),
    ],
    resources: { conn: connection("conn") },
  });
  const controller = new AbortController();
  const { run, store, events } = harness();
  const running = run(graph, { signal: controller.signal });
  await started.promise;
  controller.abort();
  const result = await running;
  assert.equal(result.status, "canceled");
  assert.deepEqual(ran, []);
  assert.deepEqual(summary(result), [
    { step: "slow", status: "canceled", attempts: 1, reason: "canceled while running" },
    { step: "later_a", status: "canceled", attempts: 0, reason: "the run was canceled" },
    { step: "later_b", status: "canceled", attempts: 0, reason: "the run was canceled" },
  ]);
  assert.equal(result.steps[0]?.error?.name, "CanceledError");
  assert.deepEqual(opened, ["conn"]);
  assert.deepEqual(disposed, ["conn"]);
  const record = await store.getRun("run-1");
  assert.equal(record?.status, "canceled");
  assert.deepEqual((await store.listSteps("run-1")).map((s) => [s.assetKey, s.status]), [
    ["slow", "canceled"],
    ["later_a", "canceled"],
    ["later_b", "canceled"],
  ]);
  assert.deepEqual(
    new Set(events.filter((e) => e.type === "step_canceled").map((e) => e.assetKey)),
    new Set(["slow", "later_a", "later_b"]),
  );
  assert.equal(events.at(-1)?.type, "run_finished");
  assert.equal(events.at(-1)?.data.status, "canceled");
});

Deno.test("a canceled step emits exactly one step_canceled event", async () => {
  const started = deferred();
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "slow", materialize: waitForAbort(() => started.resolve()) }),
      defineAsset({ key: "later", materialize: noop }),
    ],
  });
  const controller = new AbortController();
  const { run, events } = harness();
  const running = run(graph, { signal: controller.signal });
  await started.promise;
  controller.abort();
  await running;
  assert.deepEqual(events.filter((e) => e.type === "step_canceled").map((e) => e.assetKey), [
    "slow",
    "later",
  ]);
});

Deno.test("in a canceled run, the downstream of a canceled step is canceled, not skipped", async () => {
  const started = deferred();
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "slow", materialize: waitForAbort(() => started.resolve()) }),
      defineAsset({ key: "after", deps: ["slow"], materialize: noop }),
    ],
  });
  const controller = new AbortController();
  const running = harness().run(graph, { signal: controller.signal });
  await started.promise;
  controller.abort();
  const result = await running;
  assert.equal(result.status, "canceled");
  assert.deepEqual(summary(result), [
    { step: "slow", status: "canceled", attempts: 1, reason: "canceled while running" },
    { step: "after", status: "canceled", attempts: 0, reason: "the run was canceled" },
  ]);
});

Deno.test("a signal aborted before the run cancels every step without running any", async () => {
  let calls = 0;
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "a", materialize: () => void calls++ }),
      defineAsset({ key: "b", materialize: noop }),
    ],
  });
  const { run, store } = harness();
  const result = await run(graph, { signal: AbortSignal.abort() });
  assert.equal(calls, 0);
  assert.equal(result.status, "canceled");
  assert.deepEqual(summary(result), [
    { step: "a", status: "canceled", attempts: 0, reason: "the run was canceled" },
    { step: "b", status: "canceled", attempts: 0, reason: "the run was canceled" },
  ]);
  assert.equal((await store.getRun("run-1"))?.status, "canceled");
});

Deno.test("canceling during a retried attempt stops retrying", async () => {
  const controller = new AbortController();
  let calls = 0;
  const graph = defineGraph({
    assets: [defineAsset({
      key: "a",
      retry: { maxAttempts: 5, delayMs: 1000 },
      materialize: () => {
        calls++;
        if (calls === 2) controller.abort();
        throw new Error(`failure ${calls}`);
      },
    })],
  });
  const { run, clock } = harness();
  const result = await run(graph, { signal: controller.signal });
  assert.equal(result.status, "canceled");
  assert.equal(calls, 2);
  assert.deepEqual(clock.sleeps, [1000]);
  assert.deepEqual(summary(result), [{
    step: "a",
    status: "canceled",
    attempts: 2,
    reason: "canceled while running",
  }]);
});

Deno.test("a step that ignores the cancel is left behind after the grace, so the run ends", async () => {
  const clock = new FakeClock(T0);
  const store = new MemoryRunStore();
  const started = deferred();
  const graph = defineGraph({
    assets: [
      // Stuck, say on a server that never answers: it never looks at its signal.
      defineAsset({
        key: "stuck",
        materialize: () => {
          started.resolve();
          return new Promise<void>(() => {});
        },
      }),
      defineAsset({ key: "after", deps: ["stuck"], materialize: () => {} }),
    ],
  });
  const controller = new AbortController();
  const running = materialize(graph, {
    runStore: store,
    clock,
    runId: "r1",
    signal: controller.signal,
    cancelGraceMs: 5_000,
  });
  await started.promise;
  controller.abort();
  clock.advance(4_999);
  await Promise.resolve();
  assert.equal((await store.getRun("r1"))?.status, "running", "still within the grace");
  clock.advance(1);
  const result = await running;
  assert.equal(result.status, "canceled");
  assert.deepEqual(result.steps.map((s) => [s.assetKey, s.status, s.reason]), [
    ["stuck", "canceled", "canceled; did not stop within 5000 ms (left behind)"],
    ["after", "canceled", "the run was canceled"],
  ]);
  assert.equal((await store.getRun("r1"))?.status, "canceled");
});
