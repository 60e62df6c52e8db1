/**
 * `alwaysRun` assets (cleanup, reports, dbt's on-run-end): they run after
 * every upstream step has finished, whatever its outcome, and see how each
 * one ended; a canceled run still stops them.
 */

import assert from "node:assert/strict";
import { defineAsset, type FinishedStep } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { materialize } from "../../core/executor.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { FakeClock } from "../../core/testing.ts";
import { deferred } from "./_helpers.ts";

const ok = (key: string, deps: string[] = []) =>
  defineAsset({ key, deps, materialize: () => ({ ok: true }) });
const failing = (key: string, deps: string[] = []) =>
  defineAsset({
    key,
    deps,
    materialize: () => {
      throw new Error(`${key} broke`);
    },
  });

function report(deps: string[], seen: FinishedStep[][]) {
  return defineAsset({
    key: "report",
    deps,
    alwaysRun: true,
    materialize: (ctx) => {
      seen.push([...ctx.finishedSteps()]);
      return { steps: ctx.finishedSteps().length };
    },
  });
}

const run = (assets: ReturnType<typeof ok>[], concurrency = 1) =>
  materialize(defineGraph({ assets }), {
    clock: new FakeClock(0),
    runStore: new MemoryRunStore(),
    concurrency,
  });

Deno.test("alwaysRun: runs after a failed and a skipped upstream, and sees how each ended", async () => {
  const seen: FinishedStep[][] = [];
  const result = await run([
    ok("a"),
    failing("b", ["a"]),
    ok("c", ["b"]),
    ok("d", ["a"]),
    report(["c", "d"], seen),
  ]);
  const status = Object.fromEntries(result.steps.map((s) => [s.assetKey, s.status]));
  assert.deepEqual(status, {
    a: "success",
    b: "failed",
    c: "skipped",
    d: "success",
    report: "success",
  });
  assert.equal(result.status, "failed");
  const ended = Object.fromEntries((seen[0] ?? []).map((s) => [s.assetKey, s.status]));
  assert.deepEqual(ended, { a: "success", b: "failed", c: "skipped", d: "success" });
  assert.match(
    (seen[0] ?? []).find((s) => s.assetKey === "c")?.reason ?? "",
    /upstream 'b' failed/,
  );
});

Deno.test("alwaysRun: waits for every upstream step, not only its direct ones", async () => {
  // `slow` is an ancestor of `leaf` through a failed branch: the report must not start before it.
  const gate = deferred<void>();
  const order: string[] = [];
  const seen: FinishedStep[][] = [];
  const slow = defineAsset({
    key: "slow",
    materialize: async () => {
      await gate.promise;
      order.push("slow");
      return {};
    },
  });
  const broken = defineAsset({
    key: "broken",
    materialize: () => {
      order.push("broken");
      setTimeout(() => gate.resolve(), 0);
      throw new Error("no");
    },
  });
  const leaf = ok("leaf", ["slow", "broken"]);
  const done = report(["leaf"], seen);
  const result = await run([slow, broken, leaf, done], 4);
  assert.deepEqual(order, ["broken", "slow"]);
  const byKey = Object.fromEntries((seen[0] ?? []).map((s) => [s.assetKey, s.status]));
  assert.deepEqual(byKey, { slow: "success", broken: "failed", leaf: "skipped" });
  assert.equal(result.steps.find((s) => s.assetKey === "report")?.status, "success");
});

Deno.test("alwaysRun: its own failure still skips what depends on it; a plain asset is still skipped", async () => {
  const after = ok("after", ["report2"]);
  const report2 = defineAsset({
    key: "report2",
    deps: ["x"],
    alwaysRun: true,
    materialize: () => {
      throw new Error("report failed");
    },
  });
  const result = await run([failing("x"), ok("plain", ["x"]), report2, after]);
  const status = Object.fromEntries(result.steps.map((s) => [s.assetKey, s.status]));
  assert.deepEqual(status, { x: "failed", plain: "skipped", report2: "failed", after: "skipped" });
});

Deno.test("alwaysRun: a canceled run does not run it", async () => {
  const controller = new AbortController();
  const seen: FinishedStep[][] = [];
  const stopper = defineAsset({
    key: "stopper",
    materialize: () => {
      controller.abort();
      throw new Error("stopped");
    },
  });
  const result = await materialize(defineGraph({ assets: [stopper, report(["stopper"], seen)] }), {
    clock: new FakeClock(0),
    runStore: new MemoryRunStore(),
    signal: controller.signal,
  });
  assert.equal(result.status, "canceled");
  assert.equal(seen.length, 0);
});
