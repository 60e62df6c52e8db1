/** The executor: retries: backoff, jitter, non-retryable errors, error wrapping. Shared fixtures: `_executor.ts`. */

import assert from "node:assert/strict";
import { type AssetSpec, defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import {
  AssetExecutionError,
  DiskFullError,
  lastingFailure,
  ResourceError,
  TooManyOpenFilesError,
} from "../../core/errors.ts";
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

Deno.test("a thrown plain object is reported by its content, never as [object Object]", async () => {
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "a",
        materialize: () => {
          throw { status: 503, detail: "upstream busy" };
        },
      }),
      defineAsset({
        key: "b",
        materialize: () => {
          throw { message: "quota exceeded", code: "Q1" };
        },
      }),
    ],
  });
  const result = await harness().run(graph);
  // Both said "Asset 'a' threw [object Object]".
  assert.deepEqual(summary(result).map((s) => s.reason), [
    `Asset 'a' threw {"status":503,"detail":"upstream busy"}`,
    "Asset 'b' threw quota exceeded",
  ]);
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

Deno.test("a transient failure is retried even without a retry policy: 3 attempts, 2 s then 4 s", async (t) => {
  const lost = (attempt: number) =>
    new ResourceError("warehouse.unreachable", `connection lost (attempt ${attempt})`, {
      transient: true,
    });
  const cases: {
    name: string;
    fail: (attempt: number) => Error | undefined;
    retry?: { maxAttempts: number; delayMs: number };
    attempts: number;
    status: string;
    sleeps: number[];
  }[] = [
    {
      name: "a lost connection twice, then success",
      fail: (n) => n <= 2 ? lost(n) : undefined,
      attempts: 3,
      status: "success",
      sleeps: [2000, 4000],
    },
    {
      name: "a lost connection every time: failed after 3 attempts",
      fail: lost,
      attempts: 3,
      status: "failed",
      sleeps: [2000, 4000],
    },
    {
      name: "a transient error wrapped by the asset is found through its cause",
      fail: (n) => n === 1 ? new Error("load failed", { cause: lost(n) }) : undefined,
      attempts: 2,
      status: "success",
      sleeps: [2000],
    },
    {
      name: "a permanent error is not retried",
      fail: () => new ResourceError("warehouse.query_failed", "syntax error"),
      attempts: 1,
      status: "failed",
      sleeps: [],
    },
    {
      name: "an asset's own policy governs transient failures too",
      fail: lost,
      retry: { maxAttempts: 2, delayMs: 10 },
      attempts: 2,
      status: "failed",
      sleeps: [10],
    },
  ];
  for (const c of cases) {
    await t.step(c.name, async () => {
      const graph = defineGraph({
        assets: [defineAsset({
          key: "load",
          ...(c.retry ? { retry: c.retry } : {}),
          materialize: (ctx) => {
            const error = c.fail(ctx.attempt);
            if (error) throw error;
            return { attempt: ctx.attempt };
          },
        })],
      });
      const { run, clock, events } = harness();
      const result = await run(graph, { random: () => 0.5 });
      assert.deepEqual(summary(result).map((s) => [s.status, s.attempts]), [[
        c.status,
        c.attempts,
      ]]);
      assert.deepEqual(clock.sleeps, c.sleeps);
      const retries = events.filter((e) => e.type === "step_retry");
      assert.equal(retries.length, c.sleeps.length);
      if (!c.retry) assert.ok(retries.every((e) => e.data.transient === true));
    });
  }
});

/** Errors as Deno, node:sqlite, Postgres and DuckDB report lasting failures. */
const LASTING: readonly [string, () => Error, string][] = [
  ["ENOSPC", () => errno("No space left on device (os error 28)", "ENOSPC"), "disk_full"],
  ["EDQUOT", () => errno("Disk quota exceeded (os error 122)", "EDQUOT"), "disk_full"],
  ["EROFS", () => errno("Read-only file system (os error 30)", "EROFS"), "read_only"],
  ["EACCES", () => errno("Permission denied (os error 13)", "EACCES"), "permission_denied"],
  [
    "Deno PermissionDenied",
    () => new Deno.errors.PermissionDenied("Operation not permitted (os error 1)"),
    "permission_denied",
  ],
  [
    "SQLITE_FULL",
    () =>
      Object.assign(new Error("database or disk is full"), {
        code: "ERR_SQLITE_ERROR",
        errcode: 13,
      }),
    "disk_full",
  ],
  [
    "SQLITE_READONLY",
    () =>
      Object.assign(new Error("attempt to write a readonly database"), {
        code: "ERR_SQLITE_ERROR",
        errcode: 8,
      }),
    "read_only",
  ],
  [
    "Postgres 53100",
    () => errno("could not extend file: No space left on device", "53100"),
    "disk_full",
  ],
  [
    "DuckDB text",
    () => new Error('IO Error: Could not write file "x": No space left on device'),
    "disk_full",
  ],
  [
    "PGlite's ErrnoError 51 (wasm ENOSPC), kept as a cause",
    () => new Error("initdb failed", { cause: { name: "ErrnoError", errno: 51 } }),
    "disk_full",
  ],
  ["typed", () => new DiskFullError("the run store", "/srv/state/runs.db"), "disk_full"],
];

function errno(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

/** Runs one asset with raw_weather's own policy (three attempts five minutes apart) that always throws `thrown`. */
async function underWeatherPolicy(thrown: Error) {
  const { run, clock } = harness();
  let calls = 0;
  const graph = defineGraph({
    assets: [defineAsset({
      key: "a",
      retry: { maxAttempts: 3, delayMs: 300_000, backoff: "constant" },
      materialize: () => {
        calls++;
        throw thrown;
      },
    })],
  });
  const result = await run(graph);
  return { result, calls, sleeps: clock.sleeps };
}

Deno.test("lasting failures (full disk, read-only, permission) are never retried, even when wrapped, whatever the policy", async (t) => {
  for (const [name, make, kind] of LASTING) {
    await t.step(name, async () => {
      const wrapped = new ResourceError("lake.write_failed", "Cannot write object", {
        cause: make(),
      });
      assert.equal(lastingFailure(make()), kind);
      assert.equal(lastingFailure(new Error("outer", { cause: wrapped })), kind);
      for (const thrown of [make(), wrapped]) {
        const { result, calls, sleeps } = await underWeatherPolicy(thrown);
        assert.equal(result.status, "failed");
        assert.equal(calls, 1, `${name}: one attempt`);
        assert.deepEqual(sleeps, []);
        assert.equal(result.steps[0]?.error, thrown);
      }
    });
  }
});

Deno.test("failures that may pass are still retried by the policy: a reset, a timeout, EIO", async () => {
  for (
    const thrown of [
      errno("Connection reset by peer", "ECONNRESET"),
      new Error("timeout"),
      errno("Input/output error (os error 5)", "EIO"),
    ]
  ) {
    assert.equal(lastingFailure(thrown), undefined);
    const { calls, sleeps } = await underWeatherPolicy(thrown);
    assert.equal(calls, 3);
    assert.deepEqual(sleeps, [300_000, 300_000]);
  }
});

Deno.test("a step refused a file descriptor (EMFILE, ENFILE) fails saying which limit to raise, keeping the OS's words", async () => {
  const refused = errno(
    "Too many open files (os error 24): readfile '/lake/.meta/a.json'",
    "EMFILE",
  );
  const cases: [string, Error][] = [
    ["as thrown", refused],
    [
      "wrapped by the asset",
      new ResourceError("lake.read", "Cannot read 'a.json'", { cause: refused }),
    ],
    ["the system's table", errno("Too many open files in system (os error 23)", "ENFILE")],
  ];
  for (const [name, thrown] of cases) {
    const { run, store } = harness();
    const result = await run(defineGraph({
      assets: [defineAsset({ key: "a", materialize: () => Promise.reject(thrown) })],
    }));
    assert.equal(result.status, "failed", name);
    const error = result.steps[0]?.error;
    assert.ok(error instanceof TooManyOpenFilesError, `${name}: ${error?.message}`);
    assert.equal(error.code, "too_many_open_files");
    assert.equal(error.cause, thrown, "the original is kept as the cause");
    const reason = result.steps[0]?.reason ?? "";
    assert.ok(reason.startsWith(thrown.message), `${name}: ${reason}`);
    assert.match(reason, /limit of open files; raise it .*ulimit -n/);
    const recorded = (await store.listSteps(result.runId))[0]?.reason ?? "";
    assert.match(recorded, /ulimit -n/, "the run store says it too");
  }
  // Any other failure keeps its own error.
  const { run } = harness();
  const other = new Error("boom");
  const result = await run(defineGraph({
    assets: [defineAsset({ key: "a", materialize: () => Promise.reject(other) })],
  }));
  assert.equal(result.steps[0]?.error, other);
});
