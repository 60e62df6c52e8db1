/** The executor: retries: backoff, jitter, non-retryable errors, error wrapping. Shared fixtures: `_executor.ts`. */

import assert from "node:assert/strict";
import { type AssetSpec, defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { AssetExecutionError } from "../../core/errors.ts";

import { harness, ok, type Resources, summary, T0 } from "./_executor.ts";

function flaky(
  key: string,
  failures: number,
  retry: AssetSpec<Resources, string>["retry"],
  seen: number[] = [],
) {
  return defineAsset({
    key,
    ...(retry ? { retry } : {}),
    materialize: (ctx) => {
      seen.push(ctx.attempt);
      if (ctx.attempt <= failures) throw new Error(`attempt ${ctx.attempt} failed`);
      return { attempt: ctx.attempt };
    },
  });
}

Deno.test("retries with linear backoff: the exact delays, then success", async () => {
  const seen: number[] = [];
  const { run, clock, events } = harness();
  const result = await run(defineGraph({
    assets: [flaky("a", 2, { maxAttempts: 4, delayMs: 100, backoff: "linear" }, seen)],
  }));
  assert.deepEqual(summary(result), [ok("a", 3)]);
  assert.deepEqual(seen, [1, 2, 3]);
  assert.deepEqual(clock.sleeps, [100, 200]);
  assert.equal(result.steps[0]?.durationMs, 300);
  assert.deepEqual(result.steps[0]?.materialization?.metadata, { attempt: 3 });
  assert.equal(result.steps[0]?.materialization?.time, T0 + 300);
  const retries = events.filter((e) => e.type === "step_retry");
  assert.deepEqual(retries.map((e) => [e.data.attempt, e.data.delay_ms, e.data.error]), [
    [1, 100, "attempt 1 failed"],
    [2, 200, "attempt 2 failed"],
  ]);
});

Deno.test("retries with exponential backoff: the exact delays, then failure after maxAttempts", async () => {
  const { run, clock } = harness();
  const result = await run(
    defineGraph({ assets: [flaky("a", 99, { maxAttempts: 4, delayMs: 100 })] }),
  );
  assert.deepEqual(summary(result), [{
    step: "a",
    status: "failed",
    attempts: 4,
    reason: "attempt 4 failed",
  }]);
  assert.deepEqual(clock.sleeps, [100, 200, 400]);
  assert.equal(result.steps[0]?.error?.message, "attempt 4 failed");
  assert.equal(result.steps[0]?.materialization, null);
  assert.equal(result.status, "failed");
});

Deno.test("maxDelayMs caps the backoff", async () => {
  const { run, clock } = harness();
  await run(
    defineGraph({ assets: [flaky("a", 99, { maxAttempts: 5, delayMs: 100, maxDelayMs: 250 })] }),
  );
  assert.deepEqual(clock.sleeps, [100, 200, 250, 250]);
});

Deno.test("jitter uses the run's random source and stays within bounds", async () => {
  const low = harness();
  await low.run(
    defineGraph({ assets: [flaky("a", 99, { maxAttempts: 4, delayMs: 100, jitter: 0.5 })] }),
    {
      random: () => 0,
    },
  );
  assert.deepEqual(low.clock.sleeps, [50, 100, 200]);

  const high = harness();
  await high.run(
    defineGraph({ assets: [flaky("a", 99, { maxAttempts: 4, delayMs: 100, jitter: 0.5 })] }),
    {
      random: () => 0.999999,
    },
  );
  assert.deepEqual(high.clock.sleeps, [150, 300, 600]);

  // A sequence of "random" values: each delay within ±20 % of its base.
  const values = [0.1, 0.9, 0.42, 0.77, 0.05];
  let i = 0;
  const seq = harness();
  await seq.run(
    defineGraph({ assets: [flaky("a", 99, { maxAttempts: 6, delayMs: 1000, jitter: 0.2 })] }),
    {
      random: () => values[i++ % values.length] as number,
    },
  );
  assert.equal(seq.clock.sleeps.length, 5);
  seq.clock.sleeps.forEach((delay, n) => {
    const base = 1000 * 2 ** n;
    assert.ok(
      delay >= base * 0.8 && delay <= base * 1.2,
      `delay ${n + 1} = ${delay}, base ${base}`,
    );
  });
  assert.deepEqual(seq.clock.sleeps, [840, 2320, 3872, 8864, 13_120]);
});

Deno.test("an error with retryable: false is not retried", async () => {
  const { run, clock } = harness();
  let calls = 0;
  const graph = defineGraph({
    assets: [defineAsset({
      key: "a",
      retry: { maxAttempts: 5, delayMs: 10 },
      materialize: () => {
        calls++;
        throw Object.assign(new Error("bad credentials"), { retryable: false });
      },
    })],
  });
  const result = await run(graph);
  assert.deepEqual(summary(result), [{
    step: "a",
    status: "failed",
    attempts: 1,
    reason: "bad credentials",
  }]);
  assert.equal(calls, 1);
  assert.deepEqual(clock.sleeps, []);
});

Deno.test("a thrown non-Error is wrapped in AssetExecutionError keeping the cause", async () => {
  const graph = defineGraph({
    assets: [defineAsset({
      key: "a",
      materialize: () => {
        throw "plain string";
      },
    })],
  });
  const result = await harness().run(graph);
  assert.deepEqual(summary(result), [{
    step: "a",
    status: "failed",
    attempts: 1,
    reason: "Asset 'a' threw plain string",
  }]);
  const error = result.steps[0]?.error;
  assert.ok(error instanceof AssetExecutionError);
  assert.equal(error.code, "asset.failed");
  assert.equal(error.assetKey, "a");
  assert.equal(error.cause, "plain string");
});

Deno.test("the user's error is kept as is, class and all", async () => {
  class QuotaError extends Error {}
  const graph = defineGraph({
    assets: [defineAsset({
      key: "a",
      materialize: () => {
        throw new QuotaError("quota exceeded");
      },
    })],
  });
  const result = await harness().run(graph);
  assert.ok(result.steps[0]?.error instanceof QuotaError);
});
