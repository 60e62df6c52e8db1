/** The executor: asset checks: results, severity, blocking, separate checks. Shared fixtures: `_executor.ts`. */

import assert from "node:assert/strict";
import { defineAsset, type Materialization } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";

import type { Metadata } from "../../core/metadata.ts";
import { check, harness, noop, ok, summary } from "./_executor.ts";

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

Deno.test("a blocking error check whose result says warn only warns: no skip, the run succeeds", async () => {
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "a",
        checks: [{
          name: "few_nulls",
          blocking: true,
          run: () => ({ passed: false, severity: "warn", description: "2 nulls, warn_if >1" }),
        }],
        materialize: noop,
      }),
      defineAsset({ key: "b", deps: ["a"], materialize: noop }),
    ],
  });
  const result = await harness().run(graph);
  assert.equal(result.status, "success");
  assert.deepEqual(summary(result), [ok("a"), ok("b")]);
  assert.deepEqual(
    result.steps[0]?.checks.map((c) => [c.name, c.passed, c.severity, c.blocking]),
    [["few_nulls", false, "warn", false]],
  );
});
