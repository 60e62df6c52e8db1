import assert from "node:assert/strict";
import { NO_RETRY, retryDelay, retryPolicy } from "../../core/retry.ts";
import { sensorRetryDelay } from "../../core/sensor_retry.ts";

const half = () => 0.5; // no jitter spread at all
const delays = (policy: ReturnType<typeof retryPolicy>, n: number, random = half) =>
  Array.from({ length: n }, (_, i) => retryDelay(policy, i + 1, random));

Deno.test("retryPolicy fills defaults: one attempt, exponential from 1 s, no jitter, 5 min cap", () => {
  assert.deepEqual(retryPolicy(), NO_RETRY);
  assert.deepEqual(retryPolicy({}), {
    maxAttempts: 1,
    delayMs: 1000,
    backoff: "exponential",
    jitter: 0,
    maxDelayMs: 300_000,
  });
  const policy = retryPolicy({ maxAttempts: 3 });
  assert.equal(policy.maxAttempts, 3);
  assert.equal(policy.backoff, "exponential");
  assert.ok(Object.isFrozen(policy));
});

Deno.test("linear backoff waits delay × n", () => {
  assert.deepEqual(delays(retryPolicy({ delayMs: 100, backoff: "linear" }), 4), [
    100,
    200,
    300,
    400,
  ]);
});

Deno.test("exponential backoff waits delay × 2^(n-1)", () => {
  assert.deepEqual(delays(retryPolicy({ delayMs: 100, backoff: "exponential" }), 5), [
    100,
    200,
    400,
    800,
    1600,
  ]);
});

Deno.test("constant backoff always waits delay", () => {
  assert.deepEqual(delays(retryPolicy({ delayMs: 250, backoff: "constant" }), 3), [250, 250, 250]);
});

Deno.test("a zero delay stays zero", () => {
  assert.deepEqual(delays(retryPolicy({ delayMs: 0, jitter: 1 }), 3, () => 0.99), [0, 0, 0]);
});

Deno.test("jitter spreads the delay by ± jitter × delay, driven by the random source", () => {
  const policy = retryPolicy({ delayMs: 1000, backoff: "constant", jitter: 0.2 });
  assert.equal(retryDelay(policy, 1, () => 0), 800);
  assert.equal(retryDelay(policy, 1, () => 0.5), 1000);
  assert.equal(retryDelay(policy, 1, () => 0.75), 1100);
  assert.equal(retryDelay(policy, 1, () => 0.999999), 1200);
  for (let i = 0; i < 100; i++) {
    const r = i / 100;
    const d = retryDelay(policy, 1, () => r);
    assert.ok(d >= 800 && d <= 1200, `delay ${d} for random ${r}`);
  }
  const exponential = retryPolicy({ delayMs: 100, jitter: 0.5 });
  assert.equal(retryDelay(exponential, 3, () => 0), 200); // 400 - 50 %
  assert.equal(retryDelay(exponential, 3, () => 0.999999), 600); // 400 + 50 %
});

Deno.test("jitter of 1 can reach zero but never goes negative", () => {
  const policy = retryPolicy({ delayMs: 100, backoff: "constant", jitter: 1 });
  assert.equal(retryDelay(policy, 1, () => 0), 0);
});

Deno.test("maxDelayMs caps each delay, after jitter", () => {
  const policy = retryPolicy({ delayMs: 100, maxDelayMs: 500 });
  assert.deepEqual(delays(policy, 6), [100, 200, 400, 500, 500, 500]);
  const jittered = retryPolicy({ delayMs: 500, backoff: "constant", jitter: 0.5, maxDelayMs: 600 });
  assert.equal(retryDelay(jittered, 1, () => 0.999999), 600);
  assert.equal(retryDelay(jittered, 1, () => 0), 250);
  // Huge attempt numbers stay capped.
  assert.equal(retryDelay(retryPolicy({}), 100, half), 300_000);
});

Deno.test("delays are whole milliseconds", () => {
  const policy = retryPolicy({ delayMs: 333, backoff: "constant", jitter: 0.1 });
  for (const r of [0, 0.13, 0.5, 0.77, 0.99]) {
    assert.ok(Number.isInteger(retryDelay(policy, 1, () => r)));
  }
});

Deno.test("retryPolicy rejects out-of-range fields with RangeError naming the field", () => {
  const cases: [Parameters<typeof retryPolicy>[0], RegExp][] = [
    [{ maxAttempts: 0 }, /Cannot use retry\.maxAttempts 0: expected a whole number >= 1/],
    [{ maxAttempts: -1 }, /retry\.maxAttempts/],
    [{ maxAttempts: 1.5 }, /retry\.maxAttempts/],
    [{ maxAttempts: Number.NaN }, /retry\.maxAttempts/],
    [{ delayMs: -1 }, /Cannot use retry\.delayMs -1: expected milliseconds >= 0/],
    [{ delayMs: Number.NaN }, /retry\.delayMs/],
    [{ jitter: 2 }, /Cannot use retry\.jitter 2: expected a fraction between 0 and 1/],
    [{ jitter: -0.1 }, /retry\.jitter/],
    [{ jitter: Number.NaN }, /retry\.jitter/],
    [{ maxDelayMs: -1 }, /Cannot use retry\.maxDelayMs -1: expected milliseconds >= 0/],
  ];
  for (const [partial, message] of cases) {
    assert.throws(() => retryPolicy(partial), (error: unknown) => {
      assert.ok(error instanceof RangeError, `${JSON.stringify(partial)} should throw RangeError`);
      assert.match(error.message, message);
      return true;
    });
  }
  // Edges are accepted.
  assert.equal(retryPolicy({ jitter: 0 }).jitter, 0);
  assert.equal(retryPolicy({ jitter: 1 }).jitter, 1);
  assert.equal(retryPolicy({ delayMs: 0, maxDelayMs: 0 }).maxDelayMs, 0);
});

Deno.test("retryPolicy rejects an unknown backoff with RangeError", () => {
  const backoff = "quadratic" as unknown as "linear";
  assert.throws(() => retryPolicy({ backoff }), RangeError);
});

Deno.test("sensorRetryDelay: a shutdown and a first death with the process retry at once; deaths in a row back off from the second; deaths do not count among failures", () => {
  const options = { baseMs: 30_000, maxMs: 3_600_000 };
  const failed = { status: "failed", errorSummary: "boom", tags: {} };
  const stopped = { status: "canceled", errorSummary: "canceled: its heartbeat ...", tags: {} };
  const shutdown = { status: "canceled", errorSummary: "3 of 3 steps canceled", tags: {} };
  const died = {
    status: "failed",
    errorSummary: "owner process died (no heartbeat)",
    tags: { owner_lost: "relaunched" },
  };
  assert.equal(sensorRetryDelay([], options), 0);
  assert.equal(sensorRetryDelay([shutdown], options), 0);
  assert.equal(sensorRetryDelay([failed], options), 30_000);
  assert.equal(sensorRetryDelay([stopped], options), 30_000);
  assert.equal(sensorRetryDelay([failed, failed], options), 60_000);
  assert.equal(sensorRetryDelay([shutdown, failed], options), 60_000, "as before: counted");
  assert.equal(sensorRetryDelay([died], options), 0);
  assert.equal(sensorRetryDelay([died, died], options), 30_000);
  assert.equal(sensorRetryDelay([died, died, died, died], options), 120_000);
  assert.equal(sensorRetryDelay([failed, died], options), 0, "a death after a failure");
  assert.equal(sensorRetryDelay([died, died, died, failed], options), 30_000);
  assert.equal(sensorRetryDelay([died, failed, died, failed], options), 60_000);
  assert.equal(sensorRetryDelay(Array(40).fill(died), options), 3_600_000, "capped");
});
