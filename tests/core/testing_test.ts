import assert from "node:assert/strict";
import { defineAsset } from "../../core/asset.ts";
import { CanceledError } from "../../core/errors.ts";
import { buildAssetContext, FakeClock } from "../../core/testing.ts";
import { catchErrorAsync } from "./_helpers.ts";

Deno.test("FakeClock starts at 2024-01-01 UTC by default, or where told", () => {
  assert.equal(new FakeClock().now(), Date.parse("2024-01-01T00:00:00Z"));
  assert.equal(new FakeClock(42).now(), 42);
});

Deno.test("FakeClock.advance moves time without recording a sleep", () => {
  const clock = new FakeClock(1000);
  clock.advance(500);
  assert.equal(clock.now(), 1500);
  assert.deepEqual(clock.sleeps, []);
});

Deno.test("FakeClock.sleep records the delay and moves time at once", async () => {
  const clock = new FakeClock(0);
  await clock.sleep(1000);
  await clock.sleep(250);
  assert.deepEqual(clock.sleeps, [1000, 250]);
  assert.equal(clock.now(), 1250);
});

Deno.test("FakeClock.sleep rejects with CanceledError on an aborted signal, without recording", async () => {
  const clock = new FakeClock(0);
  const controller = new AbortController();
  controller.abort();
  const error = await catchErrorAsync(() => clock.sleep(100, controller.signal), CanceledError);
  assert.equal(error.code, "run.canceled");
  assert.deepEqual(clock.sleeps, []);
  assert.equal(clock.now(), 0);
});

Deno.test("FakeClock.sleep rejects when the signal aborts while it yields", async () => {
  const clock = new FakeClock(0);
  const controller = new AbortController();
  const sleeping = clock.sleep(100, controller.signal);
  controller.abort();
  await catchErrorAsync(() => sleeping, CanceledError);
  assert.deepEqual(clock.sleeps, [100]);
});

Deno.test("buildAssetContext has sensible defaults", () => {
  const ctx = buildAssetContext();
  assert.equal(ctx.runId, "test-run");
  assert.equal(ctx.assetKey, "test_asset");
  assert.equal(ctx.partitionKey, undefined);
  assert.deepEqual(ctx.resources, {});
  assert.deepEqual(ctx.upstream, {});
  assert.equal(ctx.attempt, 1);
  assert.equal(ctx.signal.aborted, false);
  assert.ok(ctx.clock instanceof FakeClock);
  assert.deepEqual(ctx.logs, []);
});

Deno.test("buildAssetContext takes resources, partition, upstream, clock, signal and key", () => {
  const clock = new FakeClock(5000);
  const controller = new AbortController();
  const upstream = {
    raw: {
      runId: "r0",
      assetKey: "raw",
      partition: "2024-01-01",
      time: 1,
      metadata: { rows: 3 },
      codeVersion: null,
    },
  };
  const ctx = buildAssetContext({
    resources: { db: "pg" },
    partitionKey: "2024-01-01",
    upstream,
    clock,
    signal: controller.signal,
    assetKey: "bronze",
  });
  assert.equal(ctx.resources.db, "pg");
  assert.equal(ctx.partitionKey, "2024-01-01");
  assert.equal(ctx.upstream.raw?.metadata.rows, 3);
  assert.equal(ctx.clock, clock);
  assert.equal(ctx.signal, controller.signal);
  assert.equal(ctx.assetKey, "bronze");
});

Deno.test("buildAssetContext collects log lines stamped with the clock's time", () => {
  const clock = new FakeClock(7);
  const ctx = buildAssetContext({ clock });
  ctx.log.info("loaded", { rows: 2 });
  clock.advance(3);
  ctx.log.warn("slow");
  ctx.log.debug("d");
  ctx.log.error("e", { code: "x" });
  assert.deepEqual(ctx.logs, [
    { level: "info", message: "loaded", fields: { rows: 2 }, time: 7 },
    { level: "warn", message: "slow", fields: {}, time: 10 },
    { level: "debug", message: "d", fields: {}, time: 10 },
    { level: "error", message: "e", fields: { code: "x" }, time: 10 },
  ]);
});

Deno.test("an asset can be unit-tested by calling materialize with a built context", async () => {
  const asset = defineAsset({
    key: "count",
    deps: ["raw"],
    materialize: (ctx) => {
      const rows = Number(ctx.upstream.raw?.metadata.rows ?? 0);
      ctx.log.info("counted", { rows });
      return { rows: rows * 2, partition: ctx.partitionKey ?? null };
    },
  });
  const ctx = buildAssetContext({
    partitionKey: "p1",
    upstream: {
      raw: {
        runId: "r",
        assetKey: "raw",
        partition: "p1",
        time: 0,
        metadata: { rows: 21 },
        codeVersion: null,
      },
    },
  });
  assert.deepEqual(await asset.materialize(ctx), { rows: 42, partition: "p1" });
  assert.equal(ctx.logs.length, 1);
});
