/** The executor: what a run records: upstream, metadata, events, the run store, listeners. Shared fixtures: `_executor.ts`. */

import assert from "node:assert/strict";
import { defineAsset, type Materialization } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { AssetExecutionError, ResourceError } from "../../core/errors.ts";

import type { Metadata } from "../../core/metadata.ts";
import { dailyPartitions, staticPartitions } from "../../core/partitions.ts";
import { processOwner } from "../../core/owner.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { FakeClock } from "../../core/testing.ts";
import { catchErrorAsync } from "./_helpers.ts";
import { harness, noop, ok, summary, T0 } from "./_executor.ts";

Deno.test("ctx.log lines become log events stamped with the run's clock", async () => {
  const clock = new FakeClock(T0);
  const graph = defineGraph({
    assets: [defineAsset({
      key: "a",
      materialize: (ctx) => {
        clock.advance(5);
        ctx.log.info("loading", { rows: 2 });
        ctx.log.warn("slow source");
        return { rows: 2 };
      },
    })],
  });
  const { run, store } = harness({ clock });
  const result = await run(graph);
  assert.deepEqual(summary(result), [ok("a")]);
  const logs = await store.listEvents("run-1", { types: ["log"] });
  assert.deepEqual(logs.map((e) => [e.assetKey, e.partition, e.time, e.data]), [
    ["a", null, T0 + 5, { level: "info", message: "loading", fields: { rows: 2 } }],
    ["a", null, T0 + 5, { level: "warn", message: "slow source", fields: {} }],
  ]);
});

Deno.test("ctx.upstream comes from this run, or from the store when the upstream is not selected", async () => {
  const seen: Record<string, Materialization | undefined>[] = [];
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "a",
        codeVersion: "v1",
        materialize: (ctx) => ({ rows: 10, run: ctx.runId }),
      }),
      defineAsset({ key: "never_run", materialize: noop }),
      defineAsset({
        key: "b",
        deps: ["a", "never_run"],
        materialize: (ctx) => void seen.push({ ...ctx.upstream }),
      }),
    ],
  });
  const { run, clock } = harness();
  await run(graph, { selection: "a,b" });
  assert.deepEqual(seen[0], {
    a: {
      runId: "run-1",
      assetKey: "a",
      partition: null,
      time: T0,
      metadata: { rows: 10, run: "run-1" },
      codeVersion: "v1",
      provenance: { dataVersion: "run-1", startedAt: T0, inputs: {} },
    },
    never_run: undefined,
  });
  clock.advance(60_000);
  const second = await run(graph, { selection: "b" });
  assert.deepEqual(summary(second), [ok("b")]);
  assert.deepEqual(seen[1]?.a, seen[0]?.a, "the last recorded materialization, from run-1");
});

Deno.test("ctx.upstream of a partition is the same partition upstream", async () => {
  const places = staticPartitions(["x", "y"]);
  const seen: Record<string, string | null | undefined> = {};
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "raw",
        partitions: places,
        materialize: (ctx) => ({ place: ctx.partitionKey ?? null }),
      }),
      defineAsset({
        key: "bronze",
        deps: ["raw"],
        partitions: places,
        materialize: (ctx) => {
          seen[ctx.partitionKey ?? "?"] = ctx.upstream.raw?.partition;
          assert.equal(ctx.upstream.raw?.metadata.place, ctx.partitionKey);
        },
      }),
    ],
  });
  const { run } = harness();
  assert.equal((await run(graph, { concurrency: 4 })).status, "success");
  assert.deepEqual(seen, { x: "x", y: "y" });
  // Later, only bronze[y]: its upstream comes from the store, partition y.
  const again = await run(graph, { selection: "bronze", partitions: { keys: ["y"] } });
  assert.deepEqual(summary(again), [ok("bronze[y]")]);
});

Deno.test("metadata that is not JSON fails the asset with a TypeError", async () => {
  const cases: [string, unknown, string][] = [
    [
      "date",
      { when: new Date(0) },
      "Asset 'date': metadata 'when' is Date; metadata must be JSON values",
    ],
    [
      "nan",
      { ratio: Number.NaN },
      "Asset 'nan': metadata 'ratio' is NaN; metadata numbers must be finite",
    ],
    [
      "infinity",
      { big: [1, Infinity] },
      "Asset 'infinity': metadata 'big'[1] is Infinity; metadata numbers must be finite",
    ],
    ["fn", { cb: () => 1 }, "Asset 'fn': metadata 'cb' is function; metadata must be JSON values"],
    [
      "nested",
      { a: { b: new Map() } },
      "Asset 'nested': metadata 'a'.b is Map; metadata must be JSON values",
    ],
    [
      "undef",
      { gone: undefined },
      "Asset 'undef': metadata 'gone' is undefined; metadata must be JSON values",
    ],
    ["number", 42, "Asset 'number' must return an object of metadata, got number"],
    ["array", [1, 2], "Asset 'array' must return an object of metadata, got an array"],
  ];
  const graph = defineGraph({
    assets: cases.map(([key, output]) =>
      defineAsset({ key, materialize: () => output as Metadata })
    ),
  });
  const result = await harness().run(graph);
  assert.deepEqual(
    summary(result),
    cases.map(([key, , reason]) => ({ step: key, status: "failed", attempts: 1, reason })),
  );
  for (const step of result.steps) assert.ok(step.error instanceof TypeError, step.assetKey);
});

Deno.test("JSON metadata, or nothing, is recorded as returned", async () => {
  const metadata = {
    rows: 3,
    keys: ["a.json", "b.json"],
    bbox: [-1.5, 2, 3, 4],
    nested: { ok: true, none: null },
  };
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "full", materialize: () => metadata }),
      defineAsset({ key: "empty", materialize: noop }),
    ],
  });
  const result = await harness().run(graph);
  assert.deepEqual(result.steps.map((s) => s.materialization?.metadata), [metadata, {}]);
});

Deno.test("the run store holds the run, its steps and its events after a run", async () => {
  const clock = new FakeClock(T0);
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "good",
        codeVersion: "3",
        materialize: () => {
          clock.advance(500);
          return { rows: 2 };
        },
      }),
      defineAsset({
        key: "bad",
        materialize: () => {
          clock.advance(250);
          throw new TypeError("column 'x' missing");
        },
      }),
      defineAsset({ key: "after_bad", deps: ["bad"], materialize: noop }),
    ],
  });
  const { run, store } = harness({ clock });
  const result = await run(graph, { tags: { trigger: "test" } });
  assert.equal(result.status, "failed");
  assert.equal(result.durationMs, 750);

  assert.deepEqual(await store.getRun("run-1"), {
    runId: "run-1",
    status: "failed",
    selection: "",
    partitions: null,
    tags: { trigger: "test" },
    startedAt: T0,
    finishedAt: T0 + 750,
    errorSummary: "1 failed: bad (column 'x' missing); 1 skipped",
    // This process owned it; with a 10 s interval no heartbeat came in 750 ms.
    owner: processOwner(),
    heartbeatAt: T0,
    heartbeatTimeoutMs: 40_000,
    cancelRequestedAt: null,
    cancelReason: null,
  });
  assert.deepEqual(await store.listSteps("run-1"), [
    {
      runId: "run-1",
      assetKey: "good",
      partition: null,
      status: "success",
      attempts: 1,
      startedAt: T0,
      finishedAt: T0 + 500,
      reason: null,
    },
    {
      runId: "run-1",
      assetKey: "bad",
      partition: null,
      status: "failed",
      attempts: 1,
      startedAt: T0 + 500,
      finishedAt: T0 + 750,
      reason: "column 'x' missing",
    },
    {
      runId: "run-1",
      assetKey: "after_bad",
      partition: null,
      status: "skipped",
      attempts: 0,
      startedAt: null,
      finishedAt: T0 + 750,
      reason: "upstream 'bad' failed",
    },
  ]);

  const materializations = await store.listEvents("run-1", { types: ["materialization"] });
  assert.deepEqual(materializations.map(({ id: _, ...e }) => e), [
    {
      runId: "run-1",
      type: "materialization",
      time: T0 + 500,
      assetKey: "good",
      partition: null,
      data: {
        metadata: { rows: 2 },
        codeVersion: "3",
        provenance: { dataVersion: "run-1", startedAt: T0, inputs: {} },
      },
    },
  ]);
  assert.deepEqual(await store.lastMaterialization("good"), {
    runId: "run-1",
    assetKey: "good",
    partition: null,
    time: T0 + 500,
    metadata: { rows: 2 },
    codeVersion: "3",
    provenance: { dataVersion: "run-1", startedAt: T0, inputs: {} },
  });
  assert.equal(await store.lastMaterialization("bad"), undefined);

  const [failed, ...more] = await store.listEvents("run-1", { types: ["step_failed"] });
  assert.equal(more.length, 0);
  assert.equal(failed?.assetKey, "bad");
  assert.equal(failed?.data.error, "column 'x' missing");
  assert.equal(failed?.data.error_class, "TypeError");
  assert.equal(failed?.data.attempt, 1);
  assert.equal(failed?.data.duration_ms, 250);
  assert.equal(typeof failed?.data.stack, "string");
  assert.match(String(failed?.data.stack), /TypeError: column 'x' missing/);
});

Deno.test("the run record keeps selection, exclusion and partition arguments", async () => {
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "d", partitions: dailyPartitions("2024-03-01"), materialize: noop }),
      defineAsset({ key: "e", materialize: noop }),
    ],
  });
  const { run, store } = harness();
  await run(graph, {
    selection: "d,e",
    exclude: "e",
    partitions: { from: "2024-03-02", to: "2024-03-03" },
  });
  await run(graph, { selection: "d", partitions: { keys: ["2024-03-01", "2024-03-05"] } });
  const first = await store.getRun("run-1");
  assert.equal(first?.selection, "d,e --exclude e");
  assert.equal(first?.partitions, "2024-03-02..2024-03-03");
  assert.equal((await store.getRun("run-2"))?.partitions, "2024-03-01,2024-03-05");
});

Deno.test("onEvent receives every event in order: run_started first, run_finished last", async () => {
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "a",
        retry: { maxAttempts: 2, delayMs: 10 },
        checks: [{ name: "c1", run: () => true }],
        materialize: (ctx) => {
          if (ctx.attempt === 1) throw new Error("first try");
          return { rows: 1 };
        },
      }),
      defineAsset({ key: "b", deps: ["a"], materialize: noop }),
    ],
  });
  const { run, store, events } = harness();
  const result = await run(graph);
  assert.equal(result.status, "success");
  assert.deepEqual(events.map((e) => `${e.type}${e.assetKey ? ` ${e.assetKey}` : ""}`), [
    "run_started",
    "step_started a",
    "step_retry a",
    "materialization a",
    "check a",
    "step_success a",
    "step_started b",
    "materialization b",
    "step_success b",
    "run_finished",
  ]);
  assert.ok(events.every((e) => e.runId === "run-1"));
  assert.deepEqual(events[0]?.data, { steps: 2 });
  assert.deepEqual(events.at(-1)?.data, {
    status: "success",
    duration_ms: 10,
    success: 2,
    failed: 0,
    skipped: 0,
    canceled: 0,
  });
  const times = events.map((e) => e.time);
  assert.deepEqual(times, [...times].sort((x, y) => x - y), "times never go back");
  const stored = (await store.listEvents("run-1")).map(({ id: _, ...e }) => e);
  assert.deepEqual(stored, events, "the store holds the same events in the same order");
});

Deno.test("a throwing onEvent listener does not stop the run; the run is recorded, then the error reported", async () => {
  const { run, store } = harness();
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "a", materialize: noop }),
      defineAsset({ key: "b", deps: ["a"], materialize: noop }),
    ],
  });
  let calls = 0;
  const error = await catchErrorAsync(
    () =>
      run(graph, {
        onEvent: () => {
          calls++;
          throw new Error("listener broke");
        },
      }),
    AssetExecutionError,
  );
  assert.equal(error.code, "run.listener_failed");
  assert.match(error.message, /listener threw \d+ time\(s\): listener broke/);
  assert.ok(calls > 3, "the listener keeps being called");
  const [record] = await store.listRuns();
  assert.equal(record?.status, "success");
  assert.deepEqual((await store.listSteps(record!.runId)).map((s) => s.status), [
    "success",
    "success",
  ]);
});

Deno.test("the run's end is written through a transient store failure, and not past a permanent one", async (t) => {
  const graph = defineGraph({ assets: [defineAsset({ key: "a", materialize: () => ({}) })] });
  await t.step("a server restarting: retried after 1 s, recorded", async () => {
    const store = new MemoryRunStore();
    const update = store.updateRun.bind(store);
    let failures = 1;
    store.updateRun = (runId, change) =>
      failures-- > 0
        ? Promise.reject(
          new ResourceError("run_store.unreachable", "restarting", { transient: true }),
        )
        : update(runId, change);
    const { run, clock } = harness({ store });
    const result = await run(graph);
    assert.equal(result.status, "success");
    assert.deepEqual(clock.sleeps, [1000]);
    assert.equal((await store.getRun(result.runId))?.status, "success");
  });
  await t.step("a permanent failure is thrown at once", async () => {
    const store = new MemoryRunStore();
    store.updateRun = () =>
      Promise.reject(new ResourceError("run_store.write_failed", "disk full"));
    const { run, clock } = harness({ store });
    await assert.rejects(() => run(graph), /disk full/);
    assert.deepEqual(clock.sleeps, []);
  });
});
