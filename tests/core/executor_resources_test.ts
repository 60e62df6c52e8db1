/** The executor: resources: lazy opening, overrides, open and dispose failures. Shared fixtures: `_executor.ts`. */

import assert from "node:assert/strict";
import { defineGraph } from "../../core/definitions.ts";
import { ResourceError } from "../../core/errors.ts";

import { defineResource } from "../../core/resource.ts";
import { asset, harness, noop, ok, summary } from "./_executor.ts";

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

Deno.test("assets waiting on one failing open of a shared resource each fail in their own name", async () => {
  // Both start at once and wait on the same open; before, both said "for asset 'a'".
  const graph = defineGraph({
    assets: [
      asset({ key: "a", resources: ["lake"], materialize: noop }),
      asset({ key: "b", resources: ["lake"], materialize: noop }),
    ],
    resources: {
      lake: defineResource("lake", async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        throw new Error("File exists (os error 17)");
      }),
    },
  });
  const result = await harness().run(graph, { concurrency: 2 });
  assert.deepEqual(summary(result), [
    {
      step: "a",
      status: "failed",
      attempts: 1,
      reason: "Cannot open resource 'lake' for asset 'a': File exists (os error 17)",
    },
    {
      step: "b",
      status: "failed",
      attempts: 1,
      reason: "Cannot open resource 'lake' for asset 'b': File exists (os error 17)",
    },
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

Deno.test("an asset's preload runs while its resources open, before materialize", async () => {
  const events: string[] = [];
  let preloaded!: () => void;
  const preloadStarted = new Promise<void>((resolve) => preloaded = resolve);
  const graph = defineGraph({
    assets: [
      asset({
        key: "a",
        resources: ["slow"],
        preload: async () => {
          events.push("preload");
          preloaded();
          await Promise.resolve();
        },
        materialize: () => void events.push("materialize"),
      }),
    ],
    resources: {
      // Opens only once the preload has started: run one after the other, this fails.
      slow: defineResource("slow", async () => {
        events.push("open started");
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          preloadStarted,
          new Promise((_, reject) => {
            timer = setTimeout(
              () => reject(new Error("preload did not run during the open")),
              2000,
            );
          }),
        ]).finally(() => clearTimeout(timer));
        events.push("open done");
        return "slow";
      }),
    },
  });
  const result = await harness().run(graph);
  assert.equal(result.status, "success", result.steps[0]?.error?.message);
  assert.deepEqual(events, ["open started", "preload", "open done", "materialize"]);
});

Deno.test("a preload that fails fails the attempt with its error, as the import would have", async () => {
  let materialized = false;
  const graph = defineGraph({
    assets: [
      asset({
        key: "a",
        preload: () => Promise.reject(new Error("Cannot find module 'parquet-wasm'")),
        materialize: () => void (materialized = true),
      }),
    ],
  });
  const result = await harness().run(graph);
  assert.equal(result.status, "failed");
  assert.equal(materialized, false);
  assert.match(result.steps[0]?.error?.message ?? "", /Cannot find module 'parquet-wasm'/);
});
