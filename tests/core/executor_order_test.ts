/** The executor: order, concurrency, failure propagation, partitions and selection. Shared fixtures: `_executor.ts`. */

import assert from "node:assert/strict";
import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { InvalidDefinitionError, SelectionError } from "../../core/errors.ts";
import { materialize } from "../../core/executor.ts";
import { dailyPartitions, dynamicPartitions, staticPartitions } from "../../core/partitions.ts";
import { FakeClock } from "../../core/testing.ts";
import { catchErrorAsync } from "./_helpers.ts";
import { asset, harness, macrotask, noop, ok, summary, T0 } from "./_executor.ts";

Deno.test("runs every asset once, in topological order, and returns one result per step", async () => {
  const started: string[] = [];
  const track = (key: string, deps: string[] = []) =>
    defineAsset({ key, deps, materialize: () => void started.push(key) });
  const graph = defineGraph({
    assets: [
      track("report", ["joined"]),
      track("joined", ["left", "right"]),
      track("left", ["src"]),
      track("right", ["src"]),
      track("src"),
    ],
  });
  const { run } = harness();
  const result = await run(graph);
  assert.equal(result.status, "success");
  assert.equal(result.runId, "run-1");
  assert.equal(result.errorSummary, null);
  assert.equal(result.startedAt, T0);
  assert.deepEqual(started, ["src", "left", "right", "joined", "report"]);
  assert.deepEqual(summary(result), [
    ok("src"),
    ok("left"),
    ok("right"),
    ok("joined"),
    ok("report"),
  ]);
  for (const step of result.steps) {
    assert.equal(step.error, null);
    assert.deepEqual(step.checks, []);
    assert.equal(step.materialization?.runId, "run-1");
    assert.equal(step.materialization?.assetKey, step.assetKey);
    assert.deepEqual(step.materialization?.metadata, {});
  }
});

Deno.test("with high concurrency an asset still starts only after all of its upstream finished", async () => {
  const finished = new Set<string>();
  const violations: string[] = [];
  const track = (key: string, deps: string[] = []) =>
    defineAsset({
      key,
      deps,
      materialize: async () => {
        for (const dep of deps) {
          if (!finished.has(dep)) violations.push(`${key} started before ${dep}`);
        }
        await macrotask();
        finished.add(key);
      },
    });
  const graph = defineGraph({
    assets: [
      track("a"),
      track("e"),
      track("b", ["a"]),
      track("c", ["a"]),
      track("d", ["b", "c"]),
      track("f", ["e", "d"]),
    ],
  });
  const result = await harness().run(graph, { concurrency: 8 });
  assert.deepEqual(violations, []);
  assert.deepEqual(summary(result), ["a", "e", "b", "c", "d", "f"].map((k) => ok(k)));
});

function gatedGraph(count: number, probe: { running: number; max: number; log: number[] }) {
  return defineGraph({
    assets: Array.from({ length: count }, (_, i) =>
      defineAsset({
        key: `a${i}`,
        materialize: async () => {
          probe.running++;
          probe.max = Math.max(probe.max, probe.running);
          probe.log.push(probe.running);
          await macrotask(); // the shared gate: opens only after every launchable step started
          probe.running--;
        },
      })),
  });
}

Deno.test("concurrency bounds the steps running at once, and is reached", async () => {
  for (const [limit, expected] of [[1, 1], [2, 2], [3, 3], [16, 6]] as const) {
    const probe = { running: 0, max: 0, log: [] as number[] };
    const result = await harness().run(gatedGraph(6, probe), { concurrency: limit });
    assert.equal(result.status, "success");
    assert.equal(probe.max, expected, `concurrency ${limit}`);
    assert.ok(probe.log.every((n) => n <= limit), `concurrency ${limit}: ${probe.log}`);
    assert.equal(probe.running, 0);
  }
});

Deno.test("a concurrency below 1 or fractional is rejected with RangeError before the run", async () => {
  for (const concurrency of [0, -2, 1.5]) {
    const { run, store } = harness();
    await catchErrorAsync(
      () => run(gatedGraph(1, { running: 0, max: 0, log: [] }), { concurrency }),
      RangeError,
    );
    assert.deepEqual(await store.listRuns(), [], `concurrency ${concurrency} must not start a run`);
  }
});

Deno.test("a concurrency that is not a number is rejected with RangeError before the run", async () => {
  const { run, store } = harness();
  await catchErrorAsync(
    () => run(gatedGraph(1, { running: 0, max: 0, log: [] }), { concurrency: Number.NaN }),
    RangeError,
  );
  assert.deepEqual(await store.listRuns(), []);
});

Deno.test("a failed asset skips its transitive downstream, naming it, while other branches succeed", async () => {
  const ran: string[] = [];
  const track = (key: string, deps: string[] = []) =>
    defineAsset({ key, deps, materialize: () => void ran.push(key) });
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "raw",
        materialize: () => {
          throw new Error("source down");
        },
      }),
      track("other_raw"),
      track("bronze", ["raw"]),
      track("side", ["raw"]),
      track("other_bronze", ["other_raw"]),
      track("silver", ["bronze"]),
      track("joined", ["silver", "other_bronze"]),
    ],
  });
  const { run, store } = harness();
  const result = await run(graph, { concurrency: 3 });
  assert.equal(result.status, "failed");
  assert.deepEqual(ran, ["other_raw", "other_bronze"]);
  assert.deepEqual(summary(result), [
    { step: "raw", status: "failed", attempts: 1, reason: "source down" },
    ok("other_raw"),
    { step: "bronze", status: "skipped", attempts: 0, reason: "upstream 'raw' failed" },
    { step: "side", status: "skipped", attempts: 0, reason: "upstream 'raw' failed" },
    ok("other_bronze"),
    { step: "silver", status: "skipped", attempts: 0, reason: "upstream 'raw' failed" },
    { step: "joined", status: "skipped", attempts: 0, reason: "upstream 'raw' failed" },
  ]);
  assert.equal(result.errorSummary, "1 failed: raw (source down); 4 skipped");
  const steps = await store.listSteps("run-1");
  assert.deepEqual(
    steps.filter((s) => s.status === "skipped").map((
      s,
    ) => [s.assetKey, s.reason, s.startedAt, s.finishedAt]),
    [
      ["bronze", "upstream 'raw' failed", null, T0],
      ["side", "upstream 'raw' failed", null, T0],
      ["silver", "upstream 'raw' failed", null, T0],
      ["joined", "upstream 'raw' failed", null, T0],
    ],
  );
});

Deno.test("a failed partition skips only the downstream partitions that need it", async () => {
  const days = dailyPartitions("2024-03-01");
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "raw",
        partitions: days,
        materialize: (ctx) => {
          if (ctx.partitionKey === "2024-03-02") throw new Error("no data for 2024-03-02");
        },
      }),
      defineAsset({ key: "bronze", deps: ["raw"], partitions: days, materialize: noop }),
      defineAsset({ key: "summary", deps: ["raw"], materialize: noop }),
    ],
  });
  const result = await harness().run(graph, {
    partitions: { from: "2024-03-01", to: "2024-03-03" },
  });
  assert.deepEqual(summary(result), [
    ok("raw[2024-03-01]"),
    { step: "raw[2024-03-02]", status: "failed", attempts: 1, reason: "no data for 2024-03-02" },
    ok("raw[2024-03-03]"),
    ok("bronze[2024-03-01]"),
    {
      step: "bronze[2024-03-02]",
      status: "skipped",
      attempts: 0,
      reason: "upstream 'raw[2024-03-02]' failed",
    },
    ok("bronze[2024-03-03]"),
    {
      step: "summary",
      status: "skipped",
      attempts: 0,
      reason: "upstream 'raw[2024-03-02]' failed",
    },
  ]);
  assert.equal(
    result.errorSummary,
    "1 failed: raw[2024-03-02] (no data for 2024-03-02); 2 skipped",
  );
});

Deno.test("a dependsOnPast backfill runs partitions in order even with concurrency 4", async () => {
  const order: string[] = [];
  const probe = { running: 0, max: 0, log: [] as number[] };
  const days = dailyPartitions("2024-03-01");
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "cumulative",
        partitions: days,
        dependsOnPast: true,
        materialize: async (ctx) => {
          order.push(ctx.partitionKey ?? "?");
          probe.running++;
          probe.max = Math.max(probe.max, probe.running);
          await macrotask();
          probe.running--;
        },
      }),
      defineAsset({
        key: "independent",
        partitions: days,
        materialize: () => macrotask(),
      }),
    ],
  });
  const keys = ["2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05", "2024-03-06"];
  const result = await harness().run(graph, {
    concurrency: 4,
    partitions: { from: "2024-03-01", to: "2024-03-06" },
  });
  assert.equal(result.status, "success");
  assert.deepEqual(order, keys);
  assert.equal(probe.max, 1, "one partition of the dependsOnPast asset at a time");
  assert.deepEqual(summary(result), [
    ...keys.map((k) => ok(`cumulative[${k}]`)),
    ...keys.map((k) => ok(`independent[${k}]`)),
  ]);
});

Deno.test("a failed partition of a dependsOnPast backfill skips the later ones", async () => {
  const graph = defineGraph({
    assets: [defineAsset({
      key: "cumulative",
      partitions: staticPartitions(["p1", "p2", "p3"]),
      dependsOnPast: true,
      materialize: (ctx) => {
        if (ctx.partitionKey === "p2") throw new Error("p2 broke");
      },
    })],
  });
  const result = await harness().run(graph, { concurrency: 4 });
  assert.deepEqual(summary(result), [
    ok("cumulative[p1]"),
    { step: "cumulative[p2]", status: "failed", attempts: 1, reason: "p2 broke" },
    {
      step: "cumulative[p3]",
      status: "skipped",
      attempts: 0,
      reason: "upstream 'cumulative[p2]' failed",
    },
  ]);
});

Deno.test("dynamic partitions come from the run store", async () => {
  const { run, store } = harness();
  await store.addDynamicPartitions("batches", ["b1", "b2"]);
  const seen: string[] = [];
  const graph = defineGraph({
    assets: [asset({
      key: "batch",
      partitions: dynamicPartitions("batches"),
      materialize: (ctx) => void seen.push(ctx.partitionKey ?? "?"),
    })],
  });
  const result = await run(graph);
  assert.deepEqual(summary(result), [ok("batch[b1]"), ok("batch[b2]")]);
  assert.deepEqual(seen, ["b1", "b2"]);
});

Deno.test("a bad selection or partition throws SelectionError before any run is created", async () => {
  let calls = 0;
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "raw_weather",
        partitions: dailyPartitions("2024-03-01"),
        materialize: () => void calls++,
      }),
    ],
  });
  const { run, store, events } = harness();
  const unknown = await catchErrorAsync(
    () => run(graph, { selection: "raw_wether" }),
    SelectionError,
  );
  assert.equal(unknown.suggestion, "raw_weather");
  await catchErrorAsync(() => run(graph, { selection: "a,,b" }), SelectionError);
  await catchErrorAsync(() => run(graph, { exclude: "group:nope" }), SelectionError);
  const partition = await catchErrorAsync(
    () => run(graph, { partitions: { keys: ["2030-01-01"] } }),
    SelectionError,
  );
  assert.match(partition.message, /^Asset 'raw_weather': Partition '2030-01-01' does not exist/);
  const nothing = await catchErrorAsync(() => run(graph, { exclude: "raw_*" }), SelectionError);
  assert.equal(nothing.code, "selection.empty");
  assert.equal(
    nothing.message,
    "The selection every asset minus 'raw_*' selects no asset: nothing to run",
  );
  const empty = await catchErrorAsync(() => run(defineGraph({ assets: [] })), SelectionError);
  assert.equal(empty.message, "The graph defines no asset: nothing to run");
  assert.equal(calls, 0);
  assert.deepEqual(await store.listRuns(), []);
  assert.deepEqual(events, []);
});

Deno.test("without options materialize uses a memory store and runs everything", async () => {
  const graph = defineGraph({
    assets: [defineAsset({ key: "a", materialize: () => ({ rows: 1 }) })],
  });
  const result = await materialize(graph, { clock: new FakeClock(T0) });
  assert.equal(result.status, "success");
  assert.match(result.runId, /^[0-9a-f-]{36}$/);
});

Deno.test("initial keys of a dynamic partitioning are registered before the run and run like added ones", async () => {
  const { run, store } = harness();
  await store.addDynamicPartitions("batches", ["b0"]);
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "batch",
        partitions: dynamicPartitions("batches", { initialKeys: ["sample", "b0", "sample"] }),
        materialize: noop,
      }),
    ],
  });
  const result = await run(graph);
  assert.deepEqual(result.steps.map((s) => [s.partition, s.status]), [["b0", "success"], [
    "sample",
    "success",
  ]]);
  assert.deepEqual(await store.dynamicPartitions("batches"), ["b0", "sample"]);
  assert.throws(
    () => dynamicPartitions("batches", { initialKeys: ["../x"] }),
    InvalidDefinitionError,
  );
});
