/**
 * Worker, coordinator and queue semantics on the in-memory twin: retries that
 * resume from the failed step, graceful release, cancel, exactly-once claims,
 * the daemon's queue launcher.
 */
import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import { Coordinator } from "../../../core/worker/coordinator.ts";
import { enqueueRuns, queueLauncher } from "../../../core/worker/launch.ts";
import { MemoryRunQueue } from "../../../core/worker/memory_queue.ts";
import { RunWorker, type RunWorkerOptions } from "../../../core/worker/worker.ts";
import { parseLimits } from "../../../core/worker/admission.ts";
import { systemClock } from "../../../core/clock.ts";
import { createLogger, type LogRecord } from "../../../core/logger.ts";
import type { QueueState, RunQueue } from "../../../core/worker/queue.ts";
import type { Graph } from "../../../core/graph.ts";
import type { RunStore } from "../../../core/run_store/types.ts";

const owner = () => ({ instanceId: crypto.randomUUID(), host: "test-host", pid: 1 });

/** Waits (real time) until `check`; the deadline is for a loaded CI machine only. */
async function until(what: string, check: () => Promise<boolean>, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A graph of one asset `a`, and how many times `a` ran. */
function countingGraph() {
  const ran = { count: 0 };
  const graph = defineGraph({
    assets: [defineAsset({
      key: "a",
      materialize: () => {
        ran.count++;
        return {};
      },
    })],
  });
  return { graph, ran };
}

/** A worker of `graph` on `queue` and `store`: 100 ms heartbeats and a fresh owner unless `options` say. */
function newWorker<R>(
  graph: Graph<R>,
  queue: RunQueue,
  store: RunStore,
  options: Partial<RunWorkerOptions<R>> = {},
): RunWorker<R> {
  return new RunWorker(graph, {
    queue,
    runStore: store,
    heartbeatIntervalMs: 100,
    owner: owner(),
    ...options,
  });
}

/** `worker` and a coordinator (20 ms ticks) running until `close` stops both and waits for them. */
function runWithCoordinator<R>(worker: RunWorker<R>, queue: RunQueue, store: RunStore) {
  const stop = new AbortController();
  const running = worker.run(stop.signal);
  const coordinating = new Coordinator({ queue, runStore: store, intervalMs: 20 }).run(stop.signal);
  return {
    async close() {
      stop.abort();
      await Promise.all([running, coordinating]);
    },
  };
}

function setup(assets: Parameters<typeof defineGraph>[0]["assets"], limits = "") {
  const graph = defineGraph({ assets });
  const queue = new MemoryRunQueue();
  const store = new MemoryRunStore();
  const stop = new AbortController();
  const coordinator = new Coordinator({
    queue,
    runStore: store,
    intervalMs: 20,
    limits: parseLimits({ tagLimits: limits }),
  });
  const coordinating = coordinator.run(stop.signal);
  const workers: Promise<number>[] = [];
  const startWorker = (options: { concurrency?: number; graceMs?: number } = {}) => {
    const signal = new AbortController();
    const worker = newWorker(graph, queue, store, options);
    workers.push(worker.run(AbortSignal.any([signal.signal, stop.signal])));
    return { worker, stop: () => signal.abort() };
  };
  const state = async (runId: string): Promise<QueueState | undefined> =>
    (await queue.get(runId))?.state;
  return {
    graph,
    queue,
    store,
    startWorker,
    state,
    async close() {
      stop.abort();
      await Promise.all([coordinating, ...workers]);
    },
  };
}

Deno.test("a failed run is retried per max_retries, resuming after the assets that succeeded", async () => {
  const calls: string[] = [];
  let failB = true;
  const env = setup([
    defineAsset({ key: "a", materialize: () => void calls.push("a") }),
    defineAsset({
      key: "b",
      deps: ["a"],
      materialize: () => {
        calls.push("b");
        if (failB) {
          failB = false;
          throw new Error("b broke once");
        }
      },
    }),
    defineAsset({ key: "c", deps: ["b"], materialize: () => void calls.push("c") }),
  ]);
  try {
    env.startWorker();
    const [runId] = await enqueueRuns(env.graph, env.queue, [{ selection: "", maxRetries: 1 }], {
      now: Date.now(),
    });
    await until(
      "the retry to finish",
      async () => (await env.queue.list({ states: ["finished"] })).length === 2,
    );
    const [retry] = (await env.queue.list({ states: ["finished"] })).filter((r) =>
      r.retryOf === runId
    );
    assert.ok(retry);
    assert.equal(retry.attempt, 2);
    assert.match(retry.outcome ?? "", /^success/);
    assert.match((await env.queue.get(runId as string))?.outcome ?? "", /^failed: 1 failed: b/);
    // a ran once: the retry resumed from b.
    assert.deepEqual(calls, ["a", "b", "b", "c"]);
    const record = await env.store.getRun(retry.runId);
    assert.equal(record?.tags.retry_of, runId);
    assert.equal(record?.tags.attempt, "2");
  } finally {
    await env.close();
  }
});

Deno.test("retries stop at max_retries and honour retry_on_asset_failure=false", async () => {
  const env = setup([
    defineAsset({
      key: "x",
      materialize: () => {
        throw new Error("always");
      },
    }),
  ]);
  try {
    env.startWorker();
    await enqueueRuns(env.graph, env.queue, [
      { selection: "x", maxRetries: 2, tags: { chain: "a" } },
      { selection: "x", maxRetries: 2, tags: { chain: "b", retry_on_asset_failure: "false" } },
    ], { now: Date.now() });
    await until("both chains to end", async () => {
      const c = await env.queue.counts();
      return c.finished === 4 && c.queued + c.launched + c.started === 0;
    });
    const finished = await env.queue.list({ states: ["finished"] });
    assert.equal(finished.filter((r) => r.tags.chain === "a").length, 3);
    assert.equal(finished.filter((r) => r.tags.chain === "b").length, 1);
  } finally {
    await env.close();
  }
});

Deno.test("graceful shutdown releases a run that does not finish in the grace, and it resumes", async () => {
  let slowStarted = 0;
  const env = setup([
    defineAsset({ key: "first", materialize: () => ({ ok: 1 }) }),
    defineAsset({
      key: "slow",
      deps: ["first"],
      materialize: async (ctx) => {
        slowStarted++;
        if (slowStarted === 1) {
          await new Promise((_, reject) =>
            ctx.signal.addEventListener("abort", () => reject(new Error("stopped")))
          );
        }
        return { ok: 1 };
      },
    }),
  ]);
  try {
    const one = env.startWorker({ graceMs: 50 });
    const [runId] = await enqueueRuns(env.graph, env.queue, [{ selection: "" }], {
      now: Date.now(),
    });
    await until("slow to start", () => Promise.resolve(slowStarted === 1));
    one.stop();
    await until("the release", async () => (await env.state(runId as string)) === "finished");
    const released = await env.queue.get(runId as string);
    assert.match(released?.outcome ?? "", /^released: the worker shut down/);
    assert.equal((await env.store.getRun(runId as string))?.status, "canceled");
    const retry = (await env.queue.list()).find((r) => r.retryOf === runId);
    assert.equal(retry?.retryOf, runId);
    assert.equal(retry?.maxRetries, 1, "a release does not spend a retry");
    env.startWorker();
    await until("the resumed run", async () => (await env.state(retry!.runId)) === "finished");
    const steps = await env.store.listSteps(retry!.runId);
    assert.deepEqual(steps.map((s) => s.assetKey), ["slow"], "first is not run again");
  } finally {
    await env.close();
  }
});

Deno.test("cancel: a queued run never starts; a running one stops at its next heartbeat", async () => {
  const env = setup([
    defineAsset({
      key: "wait",
      materialize: (ctx) =>
        new Promise((_, reject) =>
          ctx.signal.addEventListener("abort", () => reject(new Error("canceled")))
        ),
    }),
  ]);
  try {
    const [queued] = await enqueueRuns(env.graph, env.queue, [{ selection: "wait" }], {
      now: Date.now(),
    });
    const canceled = await env.queue.cancel(queued as string, "not needed", Date.now());
    assert.equal(canceled?.state, "canceled");
    assert.equal(canceled?.outcome, "canceled: not needed");
    env.startWorker();
    const [running] = await enqueueRuns(env.graph, env.queue, [{ selection: "wait" }], {
      now: Date.now(),
    });
    await until("it runs", async () => (await env.store.getRun(running as string)) !== undefined);
    assert.equal(
      (await env.queue.cancel(running as string, "by ana", Date.now()))?.state,
      "started",
    );
    assert.ok(
      await env.store.requestCancel(running as string, { time: Date.now(), reason: "by ana" }),
    );
    await until("it ends", async () => (await env.state(running as string)) === "finished");
    assert.equal((await env.store.getRun(running as string))?.status, "canceled");
    assert.equal((await env.queue.get(queued as string))?.startedAt, null);
  } finally {
    await env.close();
  }
});

Deno.test("claims are exclusive, and a run claimed by a worker that died unrecorded is queued again", async () => {
  const queue = new MemoryRunQueue();
  await queue.enqueue([{ runId: "r", selection: "", partitions: null, tags: {} }], 0);
  assert.deepEqual(await queue.admit((q) => q.map((r) => r.runId), { now: 1 }), ["r"]);
  const claims = await Promise.all([queue.claim("r", "w1", 2), queue.claim("r", "w2", 2)]);
  assert.equal(claims.filter(Boolean).length, 1);
  const store = new MemoryRunStore();
  await queue.heartbeatWorker(
    { workerId: "w1", host: "elsewhere", pid: 7, concurrency: 1 },
    0,
    100,
    1,
    "running",
    [],
  );
  const coordinator = new Coordinator({ queue, runStore: store });
  const tick = await coordinator.tick();
  assert.deepEqual(tick.released, ["r"]);
  assert.deepEqual(tick.admitted, ["r"]);
  assert.equal((await queue.listWorkers()).length, 0, "the dead worker is forgotten");
  await assert.rejects(
    () =>
      queue.enqueue([{ runId: "x", selection: "", partitions: null, tags: {}, priority: 1.5 }], 0),
    TypeError,
  );
});

Deno.test("the daemon's queue launcher queues runs with their group tag and resume", async () => {
  const graph = defineGraph({
    assets: [defineAsset({ key: "s", group: "spatial", materialize: () => ({}) })],
  });
  const queue = new MemoryRunQueue();
  const launch = queueLauncher(graph, queue, { clock: systemClock, maxRetries: 2 });
  const request = { runKey: "k", selection: "s", partitions: ["p1"] };
  await launch({ runId: "r1", owner: "manifests", kind: "sensor", request }, {
    sensor: "manifests",
    run_key: "k",
  });
  await launch({ runId: "r2", owner: "manifests", kind: "sensor", request }, {
    sensor: "manifests",
    run_key: "k",
    attempt: "2",
    relaunch_of: "r1",
    root_run_id: "r1",
  });
  await launch({ runId: "r1", owner: "manifests", kind: "sensor", request }, {}); // idempotent
  const [r1, r2] = [await queue.get("r1"), await queue.get("r2")];
  assert.equal(r1?.tags.group, "spatial");
  assert.deepEqual(r1?.partitions, { keys: ["p1"] });
  assert.equal(r1?.maxRetries, 2);
  assert.equal(r2?.attempt, 2);
  assert.equal(r2?.resumeFrom, "r1");
  assert.equal(r2?.rootRunId, "r1");
  assert.equal((await queue.counts()).queued, 2);
});

Deno.test("a claim whose answer was lost (server restart) is run once by the worker that made it", async () => {
  const { graph, ran } = countingGraph();
  const queue = new MemoryRunQueue();
  const store = new MemoryRunStore();
  const worker = newWorker(graph, queue, store);
  const [runId] = await enqueueRuns(graph, queue, [{ selection: "a" }], { now: 0 });
  assert.ok(runId);
  assert.deepEqual(await queue.admit((q) => q.map((r) => r.runId), { now: 1 }), [runId]);
  // The worker's claim committed, but its answer never came back: the queue says the run is
  // started by this worker, which does not hold it. Another worker's claim fails.
  assert.ok(await queue.claim(runId, worker.workerId, 2));
  assert.equal(await queue.claim(runId, "another-worker", 3), undefined);
  const running = runWithCoordinator(worker, queue, store);
  try {
    // After a lease, the worker gives back the claim it does not hold (no run record):
    // queued again, admitted, and run, once.
    await until("finished", async () => (await queue.get(runId))?.state === "finished", 20_000);
    assert.equal((await store.getRun(runId))?.status, "success");
    assert.equal(ran.count, 1);
    // A claim of a run that already ended is refused, to this worker too.
    assert.equal(await queue.claim(runId, worker.workerId, 4), undefined);
  } finally {
    await running.close();
  }
});

Deno.test("a run whose queue entry could not be finished (server away) is finished by its worker after a lease", async () => {
  const { graph, ran } = countingGraph();
  let failures = 0;
  class FlakyFinish extends MemoryRunQueue {
    override finish(...args: Parameters<MemoryRunQueue["finish"]>): Promise<boolean> {
      if (failures++ === 0) return Promise.reject(new Error("connection terminated"));
      return super.finish(...args);
    }
  }
  const queue = new FlakyFinish();
  const store = new MemoryRunStore();
  const worker = newWorker(graph, queue, store);
  const running = runWithCoordinator(worker, queue, store);
  try {
    const [runId] = await enqueueRuns(graph, queue, [{ selection: "a" }], { now: Date.now() });
    assert.ok(runId);
    await until("finished", async () => (await queue.get(runId))?.state === "finished", 20_000);
    assert.equal(failures >= 2, true, "the first finish failed, a later one succeeded");
    assert.equal((await queue.get(runId))?.outcome, "success");
    assert.equal(ran.count, 1);
  } finally {
    await running.close();
  }
});

Deno.test("a record that lands after its dead claimant's run was queued again is reaped and retried, never run twice under its id", async () => {
  const { graph, ran } = countingGraph();
  const queue = new MemoryRunQueue();
  const store = new MemoryRunStore();
  const dead = { instanceId: "dead-worker", host: "test-host", pid: 4242 };
  const [runId] = await enqueueRuns(graph, queue, [{ selection: "a", maxRetries: 1 }], {
    now: Date.now(),
  });
  assert.ok(runId);
  assert.deepEqual(await queue.admit((q) => q.map((r) => r.runId), { now: Date.now() }), [runId]);
  assert.ok(await queue.claim(runId, dead.instanceId, Date.now()));
  // The claimant's heartbeat is long past: the coordinator finds it dead and no record.
  await queue.heartbeatWorker(
    { workerId: dead.instanceId, host: dead.host, pid: dead.pid, concurrency: 1 },
    0,
    100,
    1,
    "running",
    [],
  );
  const tick = await new Coordinator({ queue, runStore: store }).tick();
  assert.deepEqual(tick.released, [runId]);
  // Then its record lands: it was on the wire when the claimant was killed.
  const now = Date.now();
  await store.createRun({
    runId,
    status: "running",
    selection: "a",
    partitions: null,
    tags: {},
    startedAt: now,
    finishedAt: null,
    errorSummary: null,
    owner: dead,
    heartbeatAt: now,
    heartbeatTimeoutMs: 60_000,
  });
  const worker = newWorker(graph, queue, store, {
    owner: { instanceId: crypto.randomUUID(), host: dead.host, pid: 1 },
    pidExists: (pid) => pid !== dead.pid,
  });
  const running = runWithCoordinator(worker, queue, store);
  try {
    await until("the retry finished", async () => {
      const all = await queue.list({ limit: 10 });
      return all.length === 2 && all.every((r) => r.state === "finished");
    });
    const first = await queue.get(runId);
    assert.match(first?.outcome ?? "", /^failed/);
    const record = await store.getRun(runId);
    assert.equal(record?.status, "failed");
    assert.match(record?.errorSummary ?? "", /owner process died/);
    const retry = (await queue.list({ limit: 10 })).find((r) => r.retryOf === runId);
    assert.equal(retry?.outcome, "success");
    assert.equal((await store.getRun(retry!.runId))?.status, "success");
    assert.equal(ran.count, 1, "the asset ran once, in the retry");
  } finally {
    await running.close();
  }
});

Deno.test("a claimed run whose record is still running elsewhere is given back, not finished without an outcome", async () => {
  const graph = defineGraph({ assets: [defineAsset({ key: "a", materialize: () => ({}) })] });
  const queue = new MemoryRunQueue();
  const store = new MemoryRunStore();
  const [runId] = await enqueueRuns(graph, queue, [{ selection: "a" }], { now: Date.now() });
  assert.ok(runId);
  // A live owner on another host heartbeats a record of this id: not this worker's to end.
  const alive = { instanceId: "alive", host: "other-host", pid: 7 };
  await store.createRun({
    runId,
    status: "running",
    selection: "a",
    partitions: null,
    tags: {},
    startedAt: Date.now(),
    finishedAt: null,
    errorSummary: null,
    owner: alive,
    heartbeatAt: Date.now(),
    heartbeatTimeoutMs: 60_000,
  });
  const timer = setInterval(() => void store.heartbeat(alive, [runId], Date.now()), 20);
  const worker = newWorker(graph, queue, store, { heartbeatIntervalMs: 50 });
  const stop = new AbortController();
  const running = worker.run(stop.signal);
  try {
    let started = false;
    await until("claimed, then given back", async () => {
      const e = await queue.get(runId);
      if (e?.state === "started") started = true;
      if (e?.state === "queued" && !started) {
        await queue.admit((q) => q.map((r) => r.runId), { now: Date.now() });
      }
      return started && e?.state !== "started";
    });
    const e = await queue.get(runId);
    assert.equal(e?.state, "queued", `entry: ${JSON.stringify(e)}`);
    assert.equal(e?.outcome, null);
    assert.equal((await store.getRun(runId))?.status, "running");
  } finally {
    clearInterval(timer);
    stop.abort();
    await running;
  }
});

Deno.test("stop: a worker whose last heartbeat fails says so, and still stops", async () => {
  // The heartbeat sent when stopping was swallowed silently; the one at start was reported.
  class StopBeatFails extends MemoryRunQueue {
    override heartbeatWorker(...args: Parameters<MemoryRunQueue["heartbeatWorker"]>) {
      if (args[4] === "stopping") return Promise.reject(new Error("connection reset"));
      return super.heartbeatWorker(...args);
    }
  }
  const logs: LogRecord[] = [];
  const { graph } = countingGraph();
  const worker = newWorker(graph, new StopBeatFails(), new MemoryRunStore(), {
    log: createLogger((r) => logs.push(r)),
  });
  const stop = new AbortController();
  const running = worker.run(stop.signal);
  await until("the worker started", () => Promise.resolve(logs.some((l) => l.level === "info")));
  stop.abort();
  assert.equal(await running, 0);
  assert.deepEqual(
    logs.filter((l) => l.level === "warn").map((l) => l.message),
    ["worker: cannot record its heartbeat while stopping: connection reset"],
  );
});
