import assert from "node:assert/strict";
import {
  describeLimits,
  NO_LIMITS,
  parseLimits,
  planAdmission,
} from "../../../core/worker/admission.ts";
import { explainQueue } from "../../../core/worker/explain.ts";
import type { QueuedRun, WorkerRecord } from "../../../core/worker/queue.ts";

const run = (runId: string, tags: Record<string, string> = {}, pools: string[] = []) => ({
  runId,
  tags,
  pools,
});

Deno.test("parseLimits reads every form and refuses bad entries naming them", () => {
  const limits = parseLimits({
    maxConcurrentRuns: "8",
    tagLimits: "group=spatial:2, team:3,owner=*:1",
    poolLimits: "warehouse=2,spatial=1",
  });
  assert.equal(limits.maxConcurrentRuns, 8);
  assert.deepEqual(limits.tagLimits, [
    { key: "group", value: "spatial", perValue: false, limit: 2 },
    { key: "team", value: null, perValue: false, limit: 3 },
    { key: "owner", value: null, perValue: true, limit: 1 },
  ]);
  assert.deepEqual(limits.poolLimits, { warehouse: 2, spatial: 1 });
  assert.equal(
    describeLimits(limits),
    "max runs 8, group=spatial:2, team:3, owner=*:1, pool warehouse=2, pool spatial=1",
  );
  assert.equal(parseLimits({}).maxConcurrentRuns, null);
  const bad: [Record<string, string>, RegExp][] = [
    [{ maxConcurrentRuns: "0" }, /max concurrent runs: '0'/],
    [{ maxConcurrentRuns: "2.5" }, /'2.5' is not a whole number/],
    [{ tagLimits: "group=spatial" }, /tag limit 'group=spatial'/],
    [{ tagLimits: "group=spatial:-1" }, /'-1' is not a whole number/],
    [{ tagLimits: "=x:2" }, /'=x:2'/],
    [{ tagLimits: "group=:2" }, /'group=:2'/],
    [{ poolLimits: "warehouse" }, /pool limit 'warehouse'/],
    [{ poolLimits: "warehouse=x" }, /'x' is not a whole number/],
  ];
  for (const [settings, message] of bad) assertThrowsRange(() => parseLimits(settings), message);
});

function assertThrowsRange(fn: () => unknown, message: RegExp) {
  assert.throws(fn, (error: unknown) => error instanceof RangeError && message.test(error.message));
}

Deno.test("planAdmission: limits, their reasons, and no head-of-line blocking", async (t) => {
  const cases: {
    name: string;
    limits: Parameters<typeof parseLimits>[0];
    active: ReturnType<typeof run>[];
    queued: ReturnType<typeof run>[];
    admit: string[];
    waiting: Record<string, RegExp>;
  }[] = [
    {
      name: "no limits admit everything",
      limits: {},
      active: [run("x"), run("y")],
      queued: [run("a"), run("b")],
      admit: ["a", "b"],
      waiting: {},
    },
    {
      name: "max runs counts the active ones",
      limits: { maxConcurrentRuns: "3" },
      active: [run("x"), run("y")],
      queued: [run("a"), run("b")],
      admit: ["a"],
      waiting: { b: /^3 of 3 runs launched or running \(limit max runs 3\)$/ },
    },
    {
      name: "a tag value limit blocks only that value, later runs go ahead",
      limits: { tagLimits: "group=spatial:2" },
      active: [run("x", { group: "spatial" })],
      queued: [
        run("a", { group: "spatial" }),
        run("b", { group: "spatial" }),
        run("c", { group: "dbt" }),
      ],
      admit: ["a", "c"],
      waiting: {
        b: /^tag group=spatial: 2 of 2 runs launched or running \(limit group=spatial:2\)$/,
      },
    },
    {
      name: "KEY:N counts every value together",
      limits: { tagLimits: "team:1" },
      active: [],
      queued: [run("a", { team: "x" }), run("b", { team: "y" }), run("c")],
      admit: ["a", "c"],
      waiting: { b: /tag team \(any value\): 1 of 1/ },
    },
    {
      name: "KEY=*:N limits each value apart",
      limits: { tagLimits: "team=*:1" },
      active: [run("x", { team: "x" })],
      queued: [run("a", { team: "x" }), run("b", { team: "y" }), run("c", { team: "y" })],
      admit: ["b"],
      waiting: { a: /tag team=x: 1 of 1 .*team=\*:1/, c: /tag team=y: 1 of 1/ },
    },
    {
      name: "pools count runs using the resource",
      limits: { poolLimits: "warehouse=1" },
      active: [],
      queued: [
        run("a", {}, ["warehouse", "lake"]),
        run("b", {}, ["warehouse"]),
        run("c", {}, ["lake"]),
      ],
      admit: ["a", "c"],
      waiting: { b: /^pool warehouse: 1 of 1 runs using it \(limit warehouse=1\)$/ },
    },
    {
      name: "every blocking limit is named",
      limits: { maxConcurrentRuns: "1", tagLimits: "group=g:1", poolLimits: "p=1" },
      active: [run("x", { group: "g" }, ["p"])],
      queued: [run("a", { group: "g" }, ["p"])],
      admit: [],
      waiting: { a: /max runs 1.*; tag group=g.*; pool p/ },
    },
  ];
  for (const c of cases) {
    await t.step(c.name, () => {
      const plan = planAdmission(c.queued, c.active, parseLimits(c.limits));
      assert.deepEqual(plan.admit, c.admit);
      assert.deepEqual([...plan.waiting.keys()].sort(), Object.keys(c.waiting).sort());
      for (const [id, pattern] of Object.entries(c.waiting)) {
        assert.match(plan.waiting.get(id) ?? "", pattern);
      }
    });
  }
});

Deno.test("explainQueue says why each waiting run waits", () => {
  const entry = (runId: string, state: QueuedRun["state"], tags = {}): QueuedRun => ({
    runId,
    state,
    tags,
    pools: [],
    seq: 1,
    priority: 0,
    selection: "",
    exclude: "",
    partitions: null,
    maxRetries: 0,
    attempt: 1,
    rootRunId: runId,
    retryOf: null,
    resumeFrom: null,
    enqueuedAt: 0,
    launchedAt: null,
    startedAt: null,
    finishedAt: null,
    workerId: null,
    cancelRequested: null,
    outcome: null,
  });
  const worker: WorkerRecord = {
    workerId: "w",
    host: "h",
    pid: 1,
    concurrency: 1,
    startedAt: 0,
    heartbeatAt: 1000,
    leaseMs: 1500,
    running: 1,
    status: "running",
  };
  const waiting = [entry("l", "launched"), entry("a", "queued", { g: "x" }), entry("b", "queued")];
  const active = [entry("s", "started", { g: "x" }), entry("l", "launched")];
  const limits = parseLimits({ tagLimits: "g=x:1" });
  const reasons = explainQueue({ waiting, active, limits, workers: [worker], now: 2000 });
  assert.match(reasons.get("a") ?? "", /tag g=x: 1 of 1/);
  assert.equal(reasons.get("b"), "within the limits: admitted at the next tick");
  assert.match(reasons.get("l") ?? "", /every worker slot is busy \(1 of 1 on 1 worker/);
  const dead = explainQueue({ waiting, active, limits, workers: [worker], now: 9000 });
  assert.match(dead.get("b") ?? "", /no live worker: start one with `deno task worker`/);
  assert.match(dead.get("l") ?? "", /no live worker/);
  const none = explainQueue({ waiting, active, limits: undefined, workers: [], now: 0 });
  assert.match(none.get("a") ?? "", /no coordinator has run yet/);
  assert.equal(NO_LIMITS.maxConcurrentRuns, null);
});
