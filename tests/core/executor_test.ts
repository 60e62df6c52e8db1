import assert from "node:assert/strict";
import {
  assetFactory,
  type AssetSpec,
  checkFactory,
  defineAsset,
  type Materialization,
} from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import {
  AssetExecutionError,
  InvalidDefinitionError,
  ResourceError,
  SelectionError,
} from "../../core/errors.ts";
import { materialize, type MaterializeOptions, type RunResult } from "../../core/executor.ts";
import type { Metadata } from "../../core/metadata.ts";
import { dailyPartitions, dynamicPartitions, staticPartitions } from "../../core/partitions.ts";
import { defineResource } from "../../core/resource.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import type { RunEvent } from "../../core/run_store/types.ts";
import { FakeClock } from "../../core/testing.ts";
import { catchErrorAsync, deferred } from "./_helpers.ts";

const T0 = Date.parse("2024-03-10T12:00:00Z");
const noop = () => {};

/** Resources of these tests: any key, any value (tests that need types use asset_test.ts). */
type Resources = Record<string, unknown>;
const asset = assetFactory<Resources>();
const check = checkFactory<Resources>();

/** A run with a fake clock and a memory store, unless the test gives its own. */
function harness(overrides: { clock?: FakeClock; store?: MemoryRunStore } = {}) {
  const clock = overrides.clock ?? new FakeClock(T0);
  const store = overrides.store ?? new MemoryRunStore();
  const events: RunEvent[] = [];
  let n = 0;
  const run = <R>(
    graph: Parameters<typeof materialize<R>>[0],
    options: MaterializeOptions<R> = {},
  ) =>
    materialize(graph, {
      clock,
      runStore: store,
      runId: `run-${++n}`,
      concurrency: 1,
      onEvent: (event) => events.push(event),
      ...options,
    });
  return { clock, store, events, run };
}

/** The parts of each step result a test asserts as a whole. */
function summary(result: RunResult) {
  return result.steps.map((s) => ({
    step: s.partition === null ? s.assetKey : `${s.assetKey}[${s.partition}]`,
    status: s.status,
    attempts: s.attempts,
    reason: s.reason,
  }));
}

const ok = (step: string, attempts = 1) => ({ step, status: "success", attempts, reason: null });

/** Yields to timers once, so every step the executor can launch is launched first. */
const macrotask = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

// ---------------------------------------------------------------------------
// Order and concurrency

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

// ---------------------------------------------------------------------------
// Retries

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

// ---------------------------------------------------------------------------
// Failure propagation

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

// ---------------------------------------------------------------------------
// Checks

Deno.test("a passing check is reported with its metadata and sees the materialization", async () => {
  let checked: Materialization | undefined;
  const graph = defineGraph({
    assets: [defineAsset({
      key: "a",
      checks: [{
        name: "has_rows",
        run: (ctx) => {
          checked = ctx.materialization;
          return { passed: true, metadata: { rows: Number(ctx.materialization.metadata.rows) } };
        },
      }],
      materialize: () => ({ rows: 5 }),
    })],
  });
  const result = await harness().run(graph);
  assert.equal(result.status, "success");
  assert.deepEqual(summary(result), [ok("a")]);
  assert.deepEqual(result.steps[0]?.checks, [
    {
      name: "has_rows",
      passed: true,
      severity: "error",
      blocking: false,
      description: null,
      metadata: { rows: 5 },
    },
  ]);
  assert.deepEqual(checked, result.steps[0]?.materialization);
});

Deno.test("a failing warn check is reported but the run succeeds", async () => {
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "a",
        checks: [{
          name: "fresh",
          description: "data is recent",
          severity: "warn",
          run: () => false,
        }],
        materialize: noop,
      }),
      defineAsset({ key: "b", deps: ["a"], materialize: noop }),
    ],
  });
  const result = await harness().run(graph);
  assert.equal(result.status, "success");
  assert.equal(result.errorSummary, null);
  assert.deepEqual(summary(result), [ok("a"), ok("b")]);
  assert.deepEqual(result.steps[0]?.checks, [
    {
      name: "fresh",
      passed: false,
      severity: "warn",
      blocking: false,
      description: "data is recent",
      metadata: {},
    },
  ]);
});

Deno.test("a failing non-blocking error check fails the run but does not skip downstream", async () => {
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "a",
        checks: [{
          name: "unique_id",
          run: () => ({ passed: false, description: "3 duplicates", metadata: { dupes: 3 } }),
        }],
        materialize: noop,
      }),
      defineAsset({ key: "b", deps: ["a"], materialize: noop }),
    ],
  });
  const result = await harness().run(graph);
  assert.equal(result.status, "failed");
  assert.deepEqual(summary(result), [ok("a"), ok("b")]);
  assert.deepEqual(result.steps[0]?.checks, [
    {
      name: "unique_id",
      passed: false,
      severity: "error",
      blocking: false,
      description: "3 duplicates",
      metadata: { dupes: 3 },
    },
  ]);
  assert.equal(result.errorSummary, "1 check(s) failed: a:unique_id");
});

Deno.test("a failing blocking check skips downstream with a reason naming the blocked upstream", async () => {
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "a",
        checks: [{ name: "not_empty", blocking: true, run: () => false }],
        materialize: noop,
      }),
      defineAsset({ key: "x", materialize: noop }),
      defineAsset({ key: "b", deps: ["a"], materialize: noop }),
      defineAsset({ key: "c", deps: ["b"], materialize: noop }),
    ],
  });
  const result = await harness().run(graph);
  assert.equal(result.status, "failed");
  assert.deepEqual(summary(result), [
    { step: "a", status: "success", attempts: 1, reason: "blocking check 'not_empty' failed" },
    ok("x"),
    {
      step: "b",
      status: "skipped",
      attempts: 0,
      reason: "blocking check 'not_empty' failed on upstream 'a'",
    },
    {
      step: "c",
      status: "skipped",
      attempts: 0,
      reason: "blocking check 'not_empty' failed on upstream 'a'",
    },
  ]);
  assert.deepEqual(
    result.steps[0]?.checks.map((c) => [c.name, c.passed, c.blocking, c.description]),
    [
      ["not_empty", false, true, "the check failed"],
    ],
  );
  assert.equal(result.errorSummary, "1 check(s) failed: a:not_empty; 2 skipped");
});

Deno.test("a check that throws fails with the error as description; other checks still run", async () => {
  const ran: string[] = [];
  const graph = defineGraph({
    assets: [defineAsset({
      key: "a",
      checks: [
        {
          name: "explodes",
          run: () => {
            ran.push("explodes");
            throw new Error("kaboom");
          },
        },
        {
          name: "bad_metadata",
          run: () => ({ passed: true, metadata: { at: new Date(0) } as unknown as Metadata }),
        },
        {
          name: "fine",
          run: () => {
            ran.push("fine");
            return true;
          },
        },
      ],
      materialize: noop,
    })],
  });
  const result = await harness().run(graph);
  assert.equal(result.status, "failed");
  assert.deepEqual(ran, ["explodes", "fine"]);
  const checks = result.steps[0]?.checks ?? [];
  assert.deepEqual(checks.map((c) => [c.name, c.passed, c.description]), [
    ["explodes", false, "the check threw: kaboom"],
    [
      "bad_metadata",
      false,
      "the check threw: Check 'bad_metadata' on 'a': metadata 'at' is Date; metadata must be JSON values",
    ],
    ["fine", true, null],
  ]);
  assert.equal(checks[0]?.metadata.error, "kaboom");
  assert.equal(checks[0]?.metadata.error_class, "Error");
  assert.equal(typeof checks[0]?.metadata.stack, "string");
  assert.equal(result.errorSummary, "2 check(s) failed: a:explodes, a:bad_metadata");
});

Deno.test("checks defined apart run after the asset's own, with their resources", async () => {
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "a",
        checks: [{ name: "own", run: () => true }],
        materialize: () => ({ rows: 2 }),
      }),
    ],
    resources: { limit: 3 },
    checks: [check({
      asset: "a",
      name: "under_limit",
      resources: ["limit"],
      run: (ctx) => Number(ctx.materialization.metadata.rows) < Number(ctx.resources.limit),
    })],
  });
  const result = await harness().run(graph);
  assert.deepEqual(result.steps[0]?.checks.map((c) => [c.name, c.passed]), [["own", true], [
    "under_limit",
    true,
  ]]);
});

// ---------------------------------------------------------------------------
// Cancellation

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

// ---------------------------------------------------------------------------
// Resources

Deno.test("resource factories open lazily, once per run, only when a selected asset needs them", async () => {
  const opened: string[] = [];
  const closed: string[] = [];
  const factory = (name: string) =>
    defineResource(name, (ctx) => {
      assert.ok(ctx.signal instanceof AbortSignal);
      opened.push(name);
      return {
        name,
        [Symbol.asyncDispose]: () => Promise.resolve(void closed.push(name)),
      };
    });
  const graph = defineGraph({
    assets: [
      asset({
        key: "a",
        resources: ["db"],
        materialize: (ctx) => ({ db: (ctx.resources.db as { name: string }).name }),
      }),
      asset({ key: "b", deps: ["a"], resources: ["db", "lake"], materialize: noop }),
      asset({ key: "c", resources: ["ledger"], materialize: noop }),
    ],
    resources: {
      db: factory("db"),
      lake: factory("lake"),
      ledger: factory("ledger"),
      plain: "value",
    },
  });
  const { run } = harness();
  const first = await run(graph, { selection: "a,b" });
  assert.equal(first.status, "success");
  assert.deepEqual(first.steps[0]?.materialization?.metadata, { db: "db" });
  assert.deepEqual(opened, ["db", "lake"]);
  assert.deepEqual(closed, ["lake", "db"], "disposed in reverse order of opening");

  // A second run opens its own instances again.
  await run(graph, { selection: "a" });
  assert.deepEqual(opened, ["db", "lake", "db"]);
  assert.deepEqual(closed, ["lake", "db", "db"]);
});

Deno.test("synchronous Disposable resources are disposed too; plain values are left alone", async () => {
  let disposed = 0;
  const graph = defineGraph({
    assets: [asset({ key: "a", resources: ["sync", "plain"], materialize: noop })],
    resources: {
      sync: defineResource("sync", () => ({ [Symbol.dispose]: () => void disposed++ })),
      plain: { [Symbol.dispose]: () => assert.fail("a value given as is belongs to the caller") },
    },
  });
  const result = await harness().run(graph);
  assert.equal(result.status, "success");
  assert.equal(disposed, 1);
});

Deno.test("the resources option overrides the graph's resources for the run", async () => {
  const graph = defineGraph({
    assets: [
      asset({
        key: "a",
        resources: ["warehouse"],
        materialize: (ctx) => ({ wh: String(ctx.resources.warehouse) }),
      }),
    ],
    resources: {
      warehouse: defineResource("real warehouse", (): string => {
        throw new Error("must not open the real one in tests");
      }),
    },
  });
  const result = await harness().run(graph, { resources: { warehouse: "fake" } });
  assert.deepEqual(summary(result), [ok("a")]);
  assert.deepEqual(result.steps[0]?.materialization?.metadata, { wh: "fake" });
});

Deno.test("a resource whose open throws fails the asset with resource.open_failed", async () => {
  let opens = 0;
  const graph = defineGraph({
    assets: [
      asset({
        key: "a",
        resources: ["db"],
        retry: { maxAttempts: 2, delayMs: 5 },
        materialize: noop,
      }),
      asset({ key: "b", deps: ["a"], materialize: noop }),
    ],
    resources: {
      db: defineResource("db", () => {
        opens++;
        throw new Error("connection refused");
      }),
    },
  });
  const result = await harness().run(graph);
  const reason = "Cannot open resource 'db' for asset 'a': connection refused";
  assert.deepEqual(summary(result), [
    { step: "a", status: "failed", attempts: 2, reason },
    { step: "b", status: "skipped", attempts: 0, reason: "upstream 'a' failed" },
  ]);
  assert.equal(opens, 2, "a failed open is retried, not cached");
  const error = result.steps[0]?.error;
  assert.ok(error instanceof ResourceError);
  assert.equal(error.code, "resource.open_failed");
  assert.equal(error.resourceKey, "db");
  assert.equal((error.cause as Error).message, "connection refused");
});

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

Deno.test("a resource factory can log through its open context", async () => {
  const graph = defineGraph({
    assets: [asset({ key: "a", resources: ["db"], materialize: noop })],
    resources: {
      db: defineResource("db", (ctx) => {
        ctx.log.info("connecting", { host: "localhost" });
        return "conn";
      }),
    },
  });
  const { run, events } = harness();
  const result = await run(graph);
  assert.deepEqual(summary(result), [ok("a")]);
  assert.deepEqual(
    events.filter((e) => e.type === "log").map((e) => [e.assetKey, e.data.message]),
    [
      [null, "connecting"],
    ],
  );
});

Deno.test("a failing dispose is logged but does not fail the run", async () => {
  const graph = defineGraph({
    assets: [asset({ key: "a", resources: ["db"], materialize: noop })],
    resources: {
      db: defineResource(
        "db",
        () => ({ [Symbol.asyncDispose]: () => Promise.reject(new Error("close failed")) }),
      ),
    },
  });
  const { run, events } = harness();
  const result = await run(graph);
  assert.equal(result.status, "success");
  const logs = events.filter((e) => e.type === "log").map((e) => [e.data.level, e.data.message]);
  assert.deepEqual(logs, [["error", "Resource cleanup failed: close failed"]]);
});

// ---------------------------------------------------------------------------
// ctx.upstream

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

// ---------------------------------------------------------------------------
// Metadata

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

// ---------------------------------------------------------------------------
// Run store and events

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
      data: { metadata: { rows: 2 }, codeVersion: "3" },
    },
  ]);
  assert.deepEqual(await store.lastMaterialization("good"), {
    runId: "run-1",
    assetKey: "good",
    partition: null,
    time: T0 + 500,
    metadata: { rows: 2 },
    codeVersion: "3",
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

// ---------------------------------------------------------------------------
// Backfills

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

// ---------------------------------------------------------------------------
// Errors before the run

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
