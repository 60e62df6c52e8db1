/**
 * Step-level pools (QUEUE_POOL_GRANULARITY=step): steps using a limited
 * resource never exceed its limit across workers, other steps are not held,
 * a waiting step is canceled with its run, a gate failure fails only that
 * step; on Postgres, slots are atomic across processes' queues and a dead
 * worker's slots are freed when it is forgotten.
 */
import assert from "node:assert/strict";
import { assetFactory } from "../../../core/asset.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { materialize } from "../../../core/executor.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import { parseLimits } from "../../../core/worker/admission.ts";
import { Coordinator } from "../../../core/worker/coordinator.ts";
import { enqueueRuns } from "../../../core/worker/launch.ts";
import { MemoryRunQueue } from "../../../core/worker/memory_queue.ts";
import { poolGate } from "../../../core/worker/step_pools.ts";
import { RunWorker } from "../../../core/worker/worker.ts";
import { PostgresRunQueue } from "../../../resources/queue/postgres.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { needs } from "../../_helpers/tools.ts";

const defineAsset = assetFactory<{ warehouse: { name: string } }>();

const owner = () => ({ instanceId: crypto.randomUUID(), host: "test-host", pid: 1 });

/** Waits (real time) until `check`; the deadline is for a loaded CI machine only. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Counts steps running at once, overall and per kind. */
class Gauge {
  now = new Map<string, number>();
  max = new Map<string, number>();
  async hold(kind: string, ms: number) {
    const n = (this.now.get(kind) ?? 0) + 1;
    this.now.set(kind, n);
    this.max.set(kind, Math.max(this.max.get(kind) ?? 0, n));
    await new Promise((r) => setTimeout(r, ms));
    this.now.set(kind, (this.now.get(kind) ?? 1) - 1);
  }
}

Deno.test("step pools: steps using a limited resource never exceed the limit across workers; other steps are not held", async () => {
  const gauge = new Gauge();
  const assets = [
    ...[1, 2, 3, 4].map((i) =>
      defineAsset({
        key: `load${i}`,
        resources: ["warehouse"],
        materialize: () => gauge.hold("warehouse", 15),
      })
    ),
    ...[1, 2, 3].map((i) =>
      defineAsset({ key: `free${i}`, materialize: () => gauge.hold("free", 15) })
    ),
  ];
  const graph = defineGraph({ assets, resources: { warehouse: { name: "wh" } } });
  const queue = new MemoryRunQueue();
  const store = new MemoryRunStore();
  const limits = parseLimits({ poolLimits: "warehouse=2", poolGranularity: "step" });
  const stop = new AbortController();
  const coordinating = new Coordinator({ queue, runStore: store, intervalMs: 20, limits })
    .run(stop.signal);
  const workers = [0, 1].map(() =>
    new RunWorker(graph, {
      queue,
      runStore: store,
      concurrency: 2,
      stepConcurrency: 8,
      heartbeatIntervalMs: 200,
      owner: owner(),
      stepPoolLimits: limits.poolLimits,
    }).run(stop.signal)
  );
  try {
    const ids = await enqueueRuns(graph, queue, [1, 2, 3, 4].map(() => ({ selection: "" })), {
      now: Date.now(),
    });
    // Run-level admission does not hold runs back for a step-level pool.
    await until("every run finished", async () => (await queue.counts()).finished === ids.length);
    for (const id of ids) assert.equal((await store.getRun(id))?.status, "success", id);
    assert.equal(gauge.max.get("warehouse"), 2, "the pool was used up to its limit, never past");
    assert.ok((gauge.max.get("free") ?? 0) > 2, "steps without the pool ran beside them");
    assert.deepEqual(await queue.listSlots(), [], "every slot was given back");
  } finally {
    stop.abort();
    await Promise.all([coordinating, ...workers]);
  }
});

Deno.test("step pools: a step waiting for a slot is canceled with its run; a failing gate fails only its step", async () => {
  const queue = new MemoryRunQueue();
  const limits = { warehouse: 1 };
  // Someone else holds the only slot.
  assert.ok(
    await queue.takeSlots(
      { holderId: "other", runId: "r0", step: "x", workerId: "w0", pools: ["warehouse"] },
      limits,
      0,
    ),
  );
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "load", resources: ["warehouse"], materialize: () => ({}) }),
      defineAsset({ key: "other", materialize: () => ({}) }),
    ],
    resources: { warehouse: { name: "wh" } },
  });
  const controller = new AbortController();
  const running = materialize(graph, {
    stepGate: poolGate(queue, { limits, workerId: "w1", pollMs: 20 }),
    signal: controller.signal,
    cancelGraceMs: 5_000,
  });
  await new Promise((r) => setTimeout(r, 100));
  controller.abort();
  const result = await running;
  assert.equal(result.status, "canceled");
  const load = result.steps.find((s) => s.assetKey === "load");
  assert.equal(load?.status, "canceled");
  assert.match(load?.reason ?? "", /waiting for pool\(s\) warehouse/);
  assert.equal(result.steps.find((s) => s.assetKey === "other")?.status, "success");
  assert.equal((await queue.listSlots()).length, 1, "the waiting step took no slot");

  // A slot given back wakes the waiting step at once (no poll needed).
  const waiting = materialize(graph, {
    stepGate: poolGate(queue, { limits, workerId: "w1", pollMs: 60_000 }),
  });
  await new Promise((r) => setTimeout(r, 50));
  await queue.giveSlots("other");
  assert.equal((await waiting).status, "success");

  class BrokenQueue extends MemoryRunQueue {
    override takeSlots(): Promise<boolean> {
      return Promise.reject(new Error("queue down"));
    }
  }
  const broken = new BrokenQueue();
  const failed = await materialize(graph, {
    stepGate: poolGate(broken, { limits, workerId: "w1" }),
  });
  assert.equal(failed.status, "failed");
  const step = failed.steps.find((s) => s.assetKey === "load");
  assert.equal(step?.status, "failed");
  assert.match(step?.reason ?? "", /could not take a slot of pool\(s\) warehouse: queue down/);
  assert.equal(failed.steps.find((s) => s.assetKey === "other")?.status, "success");
});

Deno.test("step pools: granularity is read and checked; run granularity keeps pools at admission", () => {
  assert.equal(parseLimits({ poolLimits: "warehouse=2" }).poolGranularity, "run");
  assert.equal(parseLimits({ poolGranularity: "step" }).poolGranularity, "step");
  assert.throws(() => parseLimits({ poolGranularity: "op" }), /expected run or step/);
});

Deno.test({
  name: "step pools on Postgres: slots are atomic across queues; a dead worker's slots are freed",
  ignore: await needs("postgres"),
}, async () => {
  await using pg = await startPostgres();
  const queues = await Promise.all([0, 1, 2, 3].map(() => PostgresRunQueue.open(pg.url)));
  try {
    const limits = { warehouse: 3, spatial: 1 };
    // 40 steps of 4 processes ask at once: exactly 3 get a warehouse slot.
    const asks = Array.from({ length: 40 }, (_, i) =>
      (queues[i % 4] as PostgresRunQueue).takeSlots(
        {
          holderId: `h${i}`,
          runId: `r${i}`,
          step: "s",
          workerId: `w${i % 4}`,
          pools: ["warehouse"],
        },
        limits,
        i,
      ));
    const granted = (await Promise.all(asks)).filter(Boolean).length;
    assert.equal(granted, 3);
    const first = queues[0] as PostgresRunQueue;
    const held = await first.listSlots();
    assert.equal(held.length, 3);
    // Both pools or neither: warehouse is full, so spatial is not taken either.
    assert.equal(
      await first.takeSlots(
        {
          holderId: "both",
          runId: "rb",
          step: "s",
          workerId: "w9",
          pools: ["spatial", "warehouse"],
        },
        limits,
        99,
      ),
      false,
    );
    assert.equal((await first.listSlots()).filter((s) => s.pool === "spatial").length, 0);
    // Taking again what one holds is granted (a retried call), not counted twice.
    const holder = held[0] as (typeof held)[number];
    assert.ok(
      await first.takeSlots(
        {
          holderId: holder.holderId,
          runId: holder.runId,
          step: "s",
          workerId: holder.workerId,
          pools: ["warehouse"],
        },
        limits,
        100,
      ),
    );
    assert.equal((await first.listSlots()).length, 3);
    // The worker of one holder dies: forgetting it frees its slots, and a waiter is notified.
    let notified = false;
    const watching = new AbortController();
    await (queues[1] as PostgresRunQueue).watch(() => void (notified = true), watching.signal);
    await first.forgetWorkers([holder.workerId]);
    await until("the notification", () => notified);
    watching.abort();
    const left = await first.listSlots();
    assert.ok(left.every((s) => s.workerId !== holder.workerId));
    assert.ok(
      await first.takeSlots(
        {
          holderId: "next",
          runId: "rn",
          step: "s",
          workerId: "w8",
          pools: ["spatial", "warehouse"],
        },
        limits,
        101,
      ),
    );
    for (const s of await first.listSlots()) await first.giveSlots(s.holderId);
    assert.deepEqual(await first.listSlots(), []);
  } finally {
    for (const q of queues) await q[Symbol.asyncDispose]();
  }
});
