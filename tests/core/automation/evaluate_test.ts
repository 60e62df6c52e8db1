/**
 * The condition algebra over fake time: every building block and preset,
 * unpartitioned, daily and dynamic, and the evaluator's proportional work.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  and,
  anyDepsInProgress,
  anyDepsMissing,
  anyDepsUpdated,
  codeVersionChanged,
  cronTickPassed,
  eager,
  executionFailed,
  inLatestTimeWindow,
  inProgress,
  missing,
  newlyRequested,
  newlyUpdated,
  not,
  onCron,
  onMissing,
  or,
} from "../../../core/automation/condition.ts";
import {
  dailyPartitions,
  defineAsset,
  dynamicPartitions,
  MemoryRunStore,
} from "../../../core/mod.ts";
import { harness, requested, T0, truths } from "./_harness.ts";

const noop = () => {};
const a = defineAsset({ key: "a", materialize: noop });
const b = defineAsset({ key: "b", deps: ["a"], automation: eager(), materialize: noop });

Deno.test("eager: requested once an upstream changes, not again until it changes again", async () => {
  const h = await harness([a, b]);
  assertEquals(requested(await h.tick()), {}, "a was never materialized");
  await h.run("a");
  const result = await h.tick();
  assertEquals(requested(result), { b: [null] });
  assertEquals(truths(result, "b"), {
    "eager": 1,
    "eager > in_latest_time_window": 1,
    "eager > any_deps_updated since (newly_requested or initial_evaluation)": 1,
    "eager > any_deps_updated since (newly_requested or initial_evaluation) > any_deps_updated": 1,
    "eager > any_deps_updated since (newly_requested or initial_evaluation) > newly_requested or initial_evaluation":
      0,
    "eager > any_deps_updated since (newly_requested or initial_evaluation) > newly_requested or initial_evaluation > newly_requested":
      0,
    "eager > any_deps_updated since (newly_requested or initial_evaluation) > newly_requested or initial_evaluation > initial_evaluation":
      0,
    "eager > not any_deps_missing": 1,
    "eager > not any_deps_missing > any_deps_missing": 0,
    "eager > not any_deps_in_progress": 1,
    "eager > not any_deps_in_progress > any_deps_in_progress": 0,
    "eager > not in_progress": 1,
    "eager > not in_progress > in_progress": 0,
  });
  await h.run("b");
  assertEquals(requested(await h.tick()), {}, "b consumed a's data");
  assertEquals(requested(await h.tick()), {});
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null] });
});

Deno.test("eager ignores changes from before the automation's first evaluation", async () => {
  const store = new MemoryRunStore();
  const early = await harness([a, b], { store, firstEvaluation: false });
  await early.run("a");
  const h = await harness([a, b], { store, start: early.clock.now() + 1000 });
  assertEquals(requested(await h.tick()), {});
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null] });
});

Deno.test("eager waits while the upstream or the asset itself is in progress", async () => {
  const h = await harness([a, b]);
  await h.run("a");
  const end = await h.open("busy-a", [["a", null]]);
  let result = await h.tick();
  assertEquals(requested(result), {});
  assertEquals(truths(result, "b")["eager > not any_deps_in_progress > any_deps_in_progress"], 1);
  await end();
  assertEquals(requested(await h.tick()), { b: [null] });
  const endB = await h.open("busy-b", [["b", null]]);
  result = await h.tick();
  assertEquals(requested(result), {}, "requested by busy-b, and in progress");
  assertEquals(truths(result, "b")["eager > not in_progress > in_progress"], 1);
  await endB();
  assertEquals(requested(await h.tick()), {}, "busy-b's request handled a's change");
});

Deno.test("a run's steps that ended before its start was read stay in progress until the run ends", async () => {
  const c = defineAsset({ key: "c", deps: ["b"], automation: eager(), materialize: noop });
  const h = await harness([a, b, c]);
  await h.run("a");
  await h.run("b,c");
  const end = await h.open("chain", [["b", null], ["c", null]]);
  // A fast run: b's step ended (and a changed again) before any evaluation read the start.
  await h.store.putStep({
    runId: "chain",
    assetKey: "b",
    partition: null,
    status: "success",
    attempts: 1,
    startedAt: h.clock.now(),
    finishedAt: h.clock.now(),
    reason: null,
  });
  await h.run("a");
  const result = await h.tick();
  assertEquals(requested(result), {}, "b waits for the run that plans it and c");
  assertEquals(truths(result, "b")["eager > not in_progress > in_progress"], 1);
  await end();
  assertEquals(requested(await h.tick()), { b: [null], c: [null] }, "then b and c, once");
});

Deno.test("a run whose end the feed shows before its start (a reaper's) is not in progress", async () => {
  const h = await harness([a, b]);
  await h.run("a");
  const now = h.clock.now();
  await h.store.createRun({
    runId: "lost",
    status: "failed",
    selection: "b",
    partitions: null,
    tags: {},
    startedAt: now,
    finishedAt: now,
    errorSummary: "owner died",
  });
  await h.store.putStep({
    runId: "lost",
    assetKey: "b",
    partition: null,
    status: "failed",
    attempts: 0,
    startedAt: null,
    finishedAt: now,
    reason: null,
  });
  // The reaper's run_finished came first; the dead owner's buffered start was committed after.
  const event = { runId: "lost", time: now, assetKey: null, partition: null, data: {} };
  await h.store.appendEvents([{ ...event, type: "run_finished" }]);
  await h.store.appendEvents([{ ...event, type: "run_started" }]);
  const result = await h.tick();
  assertEquals(truths(result, "b")["eager > not in_progress > in_progress"], 0);
  assertEquals(requested(result), {}, "requested by the lost run");
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null] }, "not held by a run that has ended");
});

Deno.test("a run waiting in the queue (run_queued) is requested and in progress until it starts, leaves the queue or ends", async () => {
  const queued = (runId: string, selection: string, time: number) =>
    h.store.appendEvents([{
      runId,
      type: "run_queued",
      time,
      assetKey: null,
      partition: null,
      data: { selection, exclude: "", partitions: null, tags: {}, priority: 0, attempt: 1 },
    }]);
  const h = await harness([a, b]);
  await h.run("a");
  // Another daemon (the old leader) queued b's run; no worker has taken it yet.
  await queued("q-b", "b", h.clock.now());
  let result = await h.tick();
  assertEquals(requested(result), {}, "requested already, and in progress while it waits");
  assertEquals(truths(result, "b")["eager > not in_progress > in_progress"], 1);
  // Canceled while waiting: no run record, a run_dequeued; b is neither in progress nor requested again.
  await h.store.appendEvents([{
    runId: "q-b",
    type: "run_dequeued",
    time: h.clock.now(),
    assetKey: null,
    partition: null,
    data: { state: "canceled", outcome: "canceled while queued" },
  }]);
  result = await h.tick();
  assertEquals(truths(result, "b")["eager > not in_progress > in_progress"] ?? 0, 0);
  assertEquals(requested(result), {}, "the queued run handled a's change");
  // a changes again; a queued run of a, then its worker starts it: its steps take over.
  await h.run("a");
  await queued("q-a", "a", h.clock.now());
  assertEquals(requested(await h.tick()), {}, "b waits while its upstream is queued");
  const end = await h.open("q-a", [["a", null]]);
  assertEquals(requested(await h.tick()), {}, "started: in progress from its steps");
  await end();
  assertEquals(requested(await h.tick()), { b: [null] });
  // A new evaluator (a new leader after a failover) sees a run still waiting from the feed.
  await queued("q-b2", "b", h.clock.now());
  const { AutomationEvaluator } = await import("../../../core/automation/evaluate.ts");
  const { defineGraph } = await import("../../../core/definitions.ts");
  const leader = new AutomationEvaluator(defineGraph({ assets: [a, b] }), h.store, {
    loadedAt: T0,
  });
  await leader.start();
  leader.previousTime = T0;
  const fresh = leader.evaluate(h.clock.now() + 1000);
  assertEquals(
    truths(fresh, "b")["eager > not in_progress > in_progress"],
    1,
    "the new leader knows b is queued",
  );
});

Deno.test("eager does not retry a failed run until an upstream changes again", async () => {
  let fail = true;
  const flaky = defineAsset({
    key: "b",
    deps: ["a"],
    automation: eager(),
    materialize: () => {
      if (fail) throw new Error("boom");
    },
  });
  const h = await harness([a, flaky]);
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null] });
  assertEquals((await h.run("b")).status, "failed");
  assertEquals(requested(await h.tick()), {});
  fail = false;
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null] });
});

Deno.test("an upstream change during the downstream's run requests it once more, after", async () => {
  let release: (() => void) | undefined;
  let calls = 0;
  const slow = defineAsset({
    key: "b",
    deps: ["a"],
    automation: eager(),
    // The first run waits for the test; later ones return at once.
    materialize: () =>
      ++calls === 1 ? new Promise<void>((resolve) => (release = resolve)) : undefined,
  });
  const h = await harness([a, slow]);
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null] });
  const running = h.run("b");
  await new Promise((resolve) => setTimeout(resolve, 10));
  await h.run("a"); // a changes while b reads the old data
  assertEquals(requested(await h.tick()), {}, "b is in progress");
  release?.();
  await running;
  assertEquals(requested(await h.tick()), { b: [null] }, "b consumed a before it changed");
  await h.run("b");
  assertEquals(requested(await h.tick()), {});
});

Deno.test("eager chain: the whole downstream chain is requested in one evaluation", async () => {
  const c = defineAsset({ key: "c", deps: ["b"], automation: eager(), materialize: noop });
  const other = defineAsset({ key: "other", automation: eager(), materialize: noop });
  const h = await harness([a, b, c, other]);
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null], c: [null] });
});

Deno.test("an asset whose upstream was never materialized waits (anyDepsMissing)", async () => {
  const root = defineAsset({ key: "root", materialize: noop });
  const two = defineAsset({
    key: "two",
    deps: ["a", "root"],
    automation: eager(),
    materialize: noop,
  });
  const h = await harness([a, root, two]);
  await h.run("a");
  let result = await h.tick();
  assertEquals(requested(result), {});
  assertEquals(truths(result, "two")["eager > not any_deps_missing > any_deps_missing"], 1);
  await h.run("root");
  result = await h.tick();
  assertEquals(requested(result), { two: [null] });
});

Deno.test("data versions: an upstream rewritten with the same data_version changes nothing downstream", async () => {
  let version = "v1";
  const hashed = defineAsset({ key: "a", materialize: () => ({ data_version: version }) });
  const h = await harness([hashed, b]);
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null] });
  await h.run("b");
  await h.run("a");
  assertEquals(requested(await h.tick()), {}, "same data version");
  version = "v2";
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null] });
});

Deno.test("daily: an upstream partition requests the aligned partition, and the unpartitioned mart, in one run", async () => {
  const days = dailyPartitions("2024-05-01");
  const raw = defineAsset({ key: "raw", partitions: days, materialize: noop });
  const bronze = defineAsset({
    key: "bronze",
    deps: ["raw"],
    partitions: days,
    automation: eager(),
    materialize: noop,
  });
  const mart = defineAsset({
    key: "mart",
    deps: ["bronze"],
    automation: eager(),
    materialize: noop,
  });
  const h = await harness([raw, bronze, mart]);
  await h.run("raw", ["2024-05-09"]);
  const result = await h.tick();
  assertEquals(requested(result), { bronze: ["2024-05-09"], mart: [null] });
  await h.run("bronze,mart", ["2024-05-09"]);
  assertEquals(requested(await h.tick()), {});
  // An old partition is outside eager's latest time window: nothing is requested.
  await h.run("raw", ["2024-05-03"]);
  assertEquals(requested(await h.tick()), {});
  assertEquals(
    requested(
      await (async () => {
        await h.run("raw", ["2024-05-03"]);
        return h.tick();
      })(),
    ),
    {},
  );
});

Deno.test("daily: a new day makes the new latest partition eligible", async () => {
  const days = dailyPartitions("2024-05-01");
  const raw = defineAsset({ key: "raw", partitions: days, materialize: noop });
  const bronze = defineAsset({
    key: "bronze",
    deps: ["raw"],
    partitions: days,
    automation: eager(),
    materialize: noop,
  });
  const h = await harness([raw, bronze]);
  // Tomorrow's partition (2024-05-10) exists only once the day is over.
  await h.run("raw", ["2024-05-09"]);
  assertEquals(requested(await h.tick()), { bronze: ["2024-05-09"] });
  await h.run("bronze", ["2024-05-09"]);
  h.clock.advance(86_400_000);
  await h.run("raw", ["2024-05-10"]);
  assertEquals(requested(await h.tick()), { bronze: ["2024-05-10"] });
});

Deno.test("dynamic: a new spatial batch partition propagates to its partitioned downstream", async () => {
  const batches = dynamicPartitions("batches");
  const layers = defineAsset({ key: "layers", partitions: batches, materialize: noop });
  const summary = defineAsset({
    key: "summary",
    deps: ["layers"],
    partitions: batches,
    automation: eager(),
    materialize: noop,
  });
  const h = await harness([layers, summary]);
  await h.store.addDynamicPartitions("batches", ["b1", "b2"]);
  await h.run("layers", ["b2"]);
  assertEquals(requested(await h.tick()), { summary: ["b2"] });
  await h.run("summary", ["b2"]);
  await h.store.addDynamicPartitions("batches", ["b3"]);
  await h.run("layers", ["b3"]);
  assertEquals(requested(await h.tick()), { summary: ["b3"] });
});

Deno.test("onMissing: every never-materialized partition, once", async () => {
  const days = dailyPartitions("2024-05-07");
  const filled = defineAsset({
    key: "filled",
    partitions: days,
    automation: onMissing(),
    materialize: noop,
  });
  const h = await harness([filled], { firstEvaluation: false });
  const result = await h.tick();
  assertEquals(requested(result), { filled: ["2024-05-07", "2024-05-08", "2024-05-09"] });
  await h.open("fill", [["filled", "2024-05-07"]]);
  assertEquals(requested(await h.tick()), { filled: ["2024-05-08", "2024-05-09"] });
});

Deno.test("onMissing waits for missing upstreams; unpartitioned", async () => {
  const root = defineAsset({ key: "root", materialize: noop });
  const leaf = defineAsset({
    key: "leaf",
    deps: ["root"],
    automation: onMissing(),
    materialize: noop,
  });
  const h = await harness([root, leaf]);
  assertEquals(requested(await h.tick()), {});
  await h.run("root");
  assertEquals(requested(await h.tick()), { leaf: [null] });
  await h.run("leaf");
  await h.run("root");
  assertEquals(requested(await h.tick()), {}, "not missing any more");
});

Deno.test("onCron: once per tick, after every upstream updated since the tick", async () => {
  const hourly = defineAsset({
    key: "hourly",
    deps: ["a"],
    automation: onCron("0 * * * *"),
    materialize: noop,
  });
  const h = await harness([a, hourly]); // first evaluation at 12:00:00: that tick is ignored
  assertEquals(requested(await h.tick()), {});
  await h.run("a");
  assertEquals(requested(await h.tick(3_600_000)), {}, "a updated before the 13:00 tick");
  await h.run("a");
  let result = await h.tick();
  assertEquals(requested(result), { hourly: [null] });
  await h.run("hourly");
  await h.run("a");
  assertEquals(requested(await h.tick()), {}, "already handled this tick");
  result = await h.tick(3_600_000);
  assertEquals(
    truths(result, "hourly")["on_cron(0 * * * *) > all_deps_updated_since_cron(0 * * * *)"],
    0,
  );
});

Deno.test("onCron on a root daily asset: the latest partition at each tick", async () => {
  const days = dailyPartitions("2024-05-01");
  const weather = defineAsset({
    key: "weather",
    partitions: days,
    automation: onCron("0 6 * * *"),
    materialize: noop,
  });
  const h = await harness([weather]);
  assertEquals(requested(await h.tick()), {});
  const result = await h.tick(19 * 3_600_000); // 2024-05-11 07:00
  assertEquals(requested(result), { weather: ["2024-05-10"] });
  await h.open("weather-run", [["weather", "2024-05-10"]]);
  assertEquals(requested(await h.tick()), {}, "requested already (newly_requested resets)");
});

Deno.test("a wall clock stepped a day ahead and back: cron ticks and upstream updates count again at once", async () => {
  const cronly = defineAsset({
    key: "cronly",
    automation: onCron("0 * * * *"),
    materialize: noop,
  });
  const h = await harness([a, b, cronly]); // 12:00
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null] });
  await h.run("b");
  assertEquals(requested(await h.tick(86_400_000)), { cronly: [null] }, "a day ahead");
  const end = await h.open("cronly-run", [["cronly", null]]);
  await h.tick();
  await end();
  assertEquals(requested(await h.tick(-86_400_000 + 30 * 60_000)), {}, "back to 12:30");
  // Before, both waited for the clock to reach tomorrow again.
  await h.run("a");
  assertEquals(requested(await h.tick()), { b: [null] }, "an update after the step counts");
  await h.run("b");
  assertEquals(requested(await h.tick(30 * 60_000)), { cronly: [null] }, "13:00 passed");
});

Deno.test("building blocks: missing, newlyUpdated, newlyRequested, executionFailed, codeVersionChanged", async () => {
  let fail = false;
  const block = (key: string, automation: ReturnType<typeof missing>) =>
    defineAsset({
      key,
      codeVersion: "2",
      automation,
      materialize: () => {
        if (fail) throw new Error("no");
      },
    });
  const assets = [
    block("m", missing()),
    block("nu", newlyUpdated()),
    block("nr", newlyRequested()),
    block("ef", executionFailed()),
    block("cv", codeVersionChanged()),
  ];
  const h = await harness(assets);
  let result = await h.tick();
  assertEquals(requested(result), { m: [null] });
  await h.run("m,nu,nr,ef");
  result = await h.tick();
  assertEquals(requested(result), { nr: [null], nu: [null] });
  assertEquals(requested(await h.tick()), {}, "newly = since the previous evaluation only");
  fail = true;
  await h.run("ef");
  assertEquals(requested(await h.tick()), { ef: [null] });
  // A materialization by another code version (recorded as version 1).
  await h.store.appendEvents([{
    runId: "old",
    type: "materialization",
    time: h.clock.now(),
    assetKey: "cv",
    partition: null,
    data: { metadata: {}, codeVersion: "1" },
  }]);
  assertEquals(requested(await h.tick()).cv, [null]);
});

Deno.test("operators: and, or, not, since; inLatestTimeWindow lookback; cronTickPassed; anyDeps blocks", async () => {
  const days = dailyPartitions("2024-05-01");
  const raw = defineAsset({ key: "raw", partitions: days, materialize: noop });
  const window = defineAsset({
    key: "window",
    deps: ["raw"],
    partitions: days,
    automation: and(inLatestTimeWindow({ lookbackDays: 2 }), anyDepsUpdated()),
    materialize: noop,
  });
  const either = defineAsset({
    key: "either",
    deps: ["raw"],
    partitions: days,
    automation: or(anyDepsInProgress(), anyDepsMissing()).and(inLatestTimeWindow()),
    materialize: noop,
  });
  const never = defineAsset({
    key: "never",
    automation: not(or(missing(), inProgress())),
    materialize: noop,
  });
  const ticked = defineAsset({
    key: "ticked",
    automation: cronTickPassed("*/5 * * * *").since(newlyRequested()),
    materialize: noop,
  });
  const h = await harness([raw, window, either, never, ticked]);
  let result = await h.tick();
  assertEquals(requested(result).either, ["2024-05-09"], "raw[2024-05-09] is missing");
  assertEquals(requested(result).never, undefined);
  await h.run("raw", ["2024-05-06", "2024-05-07", "2024-05-09"]);
  result = await h.tick();
  assertEquals(
    requested(result).window,
    ["2024-05-07", "2024-05-09"],
    "05-06 is outside the window",
  );
  assertEquals(requested(result).either, undefined);
  await h.run("never");
  assertEquals(requested(await h.tick()).never, [null]);
  result = await h.tick(5 * 60_000);
  assertEquals(requested(result).ticked, [null]);
  await h.run("ticked");
  assertEquals(requested(await h.tick()).ticked, undefined, "requested since the tick");
});

Deno.test("work is proportional to what changed: nothing changed, nothing evaluated", async () => {
  const assets = [a, b];
  for (let i = 0; i < 50; i++) {
    assets.push(defineAsset({ key: `x${i}`, deps: ["a"], automation: eager(), materialize: noop }));
  }
  const h = await harness(assets);
  await h.tick();
  assertEquals((await h.tick()).evaluated, 0);
  await h.run("x7");
  const result = await h.tick();
  assertEquals(result.evaluated, 1, "only x7, whose own facts changed");
  assertEquals((await h.tick()).evaluated, 1, "looked at once more: its 'newly' blocks turn false");
  assertEquals((await h.tick()).evaluated, 0);
  assert(T0 > 0);
});
