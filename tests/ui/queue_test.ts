/**
 * The UI with a run queue (the in-memory twin of the Postgres queue): a
 * launch is queued (pools and group tag from the graph, priority, retries),
 * the queue page and API show each waiting run with why it waits, a queued
 * run can be canceled before any worker takes it, and once a worker runs
 * it its page is the run page. Without a queue, the queue routes say so.
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { assetFactory } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { defineResource } from "../../core/resource.ts";
import { staticPartitions } from "../../core/partitions.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { FakeClock } from "../../core/testing.ts";
import { parseLimits } from "../../core/worker/admission.ts";
import { Coordinator } from "../../core/worker/coordinator.ts";
import { MemoryRunQueue } from "../../core/worker/memory_queue.ts";
import { RunWorker } from "../../core/worker/worker.ts";
import { serveUi } from "../../ui/serve.ts";
import { fixtureServer, SCRIPT } from "./_fixture.ts";

const T0 = Date.parse("2026-12-06T02:00:00Z");

function queueGraph() {
  const defineAsset = assetFactory<{ warehouse: { name: string } }>();
  return defineGraph({
    resources: { warehouse: defineResource("test warehouse", () => ({ name: "wh" })) },
    assets: [
      defineAsset({ key: "raw", group: "ingest", materialize: () => ({ rows: 1 }) }),
      defineAsset({
        key: "parts",
        group: "ingest",
        partitions: staticPartitions(["north", "south", "east"]),
        materialize: () => ({ rows: 3 }),
      }),
      defineAsset({
        key: "mart",
        group: "marts",
        deps: ["raw"],
        resources: ["warehouse"],
        materialize: () => ({ rows: 2 }),
      }),
    ],
  });
}

async function setup() {
  const graph = queueGraph();
  const store = new MemoryRunStore();
  const queue = new MemoryRunQueue();
  const clock = new FakeClock(T0);
  const server = await serveUi({ graph, store, queue, clock, port: 0, maxRetries: 2 });
  const post = (path: string, body: Record<string, unknown>) =>
    fetch(`${server.url}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.url },
      body: JSON.stringify(body),
    });
  return {
    graph,
    store,
    queue,
    clock,
    server,
    post,
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await queue[Symbol.asyncDispose]();
    },
  };
}

Deno.test("queue: a UI launch is queued with pools, group tag, priority and retries; page and API show why it waits", async () => {
  await using s = await setup();
  const { server, queue, store, post } = s;
  const launched = await post("/actions/launch", {
    selection: "mart",
    priority: 5,
    tags: "team=geo",
  });
  assertEquals(launched.status, 200);
  const { runId, state, url } = await launched.json();
  assertEquals([state, url], ["queued", `/runs/${runId}`]);
  const entry = await queue.get(runId);
  assert(entry, "the run is in the queue");
  assertEquals(
    [entry.state, entry.priority, entry.pools, entry.maxRetries, entry.enqueuedAt],
    ["queued", 5, ["warehouse"], 2, T0],
  );
  assertEquals(entry.tags, { launched_by: "ui", team: "geo", group: "marts", max_retries: "2" });
  assertEquals(await store.getRun(runId), undefined, "nothing runs in the UI's process");
  // A second, lower-priority run waits behind it; max_retries per launch overrides the default.
  const second = await (await post("/actions/launch", { selection: "raw", max_retries: 0 })).json();
  assertEquals((await queue.get(second.runId))?.maxRetries, 0);

  // No coordinator has led: that is why they wait.
  const api = await (await fetch(`${server.url}/api/queue`)).json();
  assertEquals(api.counts.queued, 2);
  assertEquals(api.waiting.map((r: { run_id: string }) => r.run_id), [runId, second.runId]);
  assertMatch(api.waiting[0].reason, /no coordinator has run yet/);
  assertEquals(api.limits, null);

  // Limits published by a coordinator, one run active: the next waits for the limit.
  await queue.publishLimits(parseLimits({ maxConcurrentRuns: 1 }));
  await queue.admit((queued) => queued.slice(0, 1).map((r) => r.runId), { now: T0 });
  const after = await (await fetch(`${server.url}/api/queue`)).json();
  assertEquals(after.counts.launched, 1);
  assertMatch(
    after.waiting.find((r: { run_id: string }) => r.run_id === second.runId).reason,
    /1 of 1 runs launched or running \(limit max runs 1\)/,
  );
  assertMatch(after.waiting[0].reason, /no live worker/);
  assertEquals(after.limitsText, "max runs 1");

  const page = await (await fetch(`${server.url}/queue`)).text();
  assertMatch(page, /<a href="\/queue" class="active">Queue<\/a>/);
  assertMatch(page, /data-queued="1" data-admitted="1"/);
  assertMatch(page, new RegExp(`data-run="${runId}" data-state="launched" data-priority="5"`));
  assertMatch(page, /<span class="tag pool">warehouse<\/span>/);
  assertMatch(page, /limit max runs 1/);
  const fragment = await fetch(`${server.url}/queue?fragment=queue`);
  const etag = fragment.headers.get("etag") ?? "";
  await fragment.text();
  const unchanged = await fetch(`${server.url}/queue?fragment=queue`, {
    headers: { "if-none-match": etag },
  });
  assertEquals(unchanged.status, 304);
  await unchanged.body?.cancel();

  // The run's own page before a worker records it: the queue's view, with the reason.
  const runPage = await (await fetch(`${server.url}/runs/${second.runId}`)).text();
  assertMatch(runPage, /data-queue-state="queued"/);
  assertMatch(runPage, /limit max runs 1/);
  assertMatch(runPage, /Cancel \(remove from the queue\)/);
  const runs = await (await fetch(`${server.url}/runs`)).text();
  assertMatch(runs, /data-queue-waiting="2"/);
  // Both are listed above the recorded runs, in admission order; a filtered list leaves them out.
  assertMatch(
    runs,
    new RegExp(
      `data-run="${runId}" data-status="launched"[\\s\\S]*data-run="${second.runId}" data-status="queued"`,
    ),
  );
  assert(!(await (await fetch(`${server.url}/runs?status=failed`)).text()).includes(second.runId));

  const launchPage = await (await fetch(`${server.url}/launch`)).text();
  assertMatch(launchPage, /name="priority"/);
  assertMatch(launchPage, /Queue run/);
});

Deno.test("queue: bad launches queue nothing: a bad selection names the nearest key, a bad priority is a 400", async () => {
  await using s = await setup();
  const { queue, post } = s;
  const typo = await post("/actions/launch", { selection: "mrt" });
  assertEquals(typo.status, 400);
  assertEquals((await typo.json()).suggestion, "mart");
  for (const priority of ["high", "1.5", SCRIPT]) {
    const bad = await post("/actions/launch", { selection: "mart", priority });
    assertEquals(bad.status, 400);
    assertMatch((await bad.json()).message, /priority must be a whole number/);
  }
  const retries = await post("/actions/launch", { selection: "mart", max_retries: -1 });
  assertEquals(retries.status, 400);
  await retries.body?.cancel();
  assertEquals((await queue.counts()).queued, 0);
});

Deno.test("queue: a backfill from the UI queues one run per partition, tagged with its id; without partitions it is refused", async () => {
  await using s = await setup();
  const { queue, post } = s;
  const res = await post("/actions/launch", {
    selection: "parts",
    partition: "north,east",
    backfill: "1",
    priority: 2,
  });
  assertEquals(res.status, 200);
  const { backfill, runIds, url } = await res.json();
  assertEquals([runIds.length, url], [2, "/queue"]);
  const entries = await Promise.all(runIds.map((id: string) => queue.get(id)));
  assertEquals(
    entries.map((e) => [e?.partitions, e?.tags.partition, e?.tags.backfill, e?.priority]),
    [[{ keys: ["north"] }, "north", backfill, 2], [{ keys: ["east"] }, "east", backfill, 2]],
  );
  const none = await post("/actions/launch", {
    selection: "raw",
    partition: "north",
    backfill: "1",
  });
  assertEquals(none.status, 400);
  assertMatch((await none.json()).message, /partitioned/);
  const noKeys = await post("/actions/launch", { selection: "parts", backfill: "1" });
  assertEquals(noKeys.status, 400);
  assertMatch((await noKeys.json()).message, /needs partition keys or a from\/to range/);
  assertEquals((await queue.counts()).queued, 2);
});

Deno.test("queue: step-level pool slots on the queue page; a run's pending step says it waits for a slot", async () => {
  await using s = await setup();
  const { server, queue, store } = s;
  await queue.publishLimits({
    maxConcurrentRuns: null,
    tagLimits: [],
    poolLimits: { warehouse: 1 },
    poolGranularity: "step",
  });
  // Another run's step holds the only warehouse slot.
  assert(
    await queue.takeSlots(
      {
        holderId: "h1",
        runId: "run-holder",
        step: "mart",
        workerId: "worker-1",
        pools: ["warehouse"],
      },
      { warehouse: 1 },
      T0 - 5000,
    ),
  );
  await store.createRun({
    runId: "run-waiting",
    status: "running",
    selection: "+mart",
    partitions: null,
    tags: {},
    startedAt: T0 - 1000,
    finishedAt: null,
    errorSummary: null,
  });
  for (const [assetKey, status] of [["raw", "success"], ["mart", "pending"]] as const) {
    await store.putStep({
      runId: "run-waiting",
      assetKey,
      partition: null,
      status,
      attempts: status === "success" ? 1 : 0,
      startedAt: status === "success" ? T0 - 900 : null,
      finishedAt: status === "success" ? T0 - 800 : null,
      reason: null,
    });
  }
  const page = await (await fetch(`${server.url}/queue`)).text();
  assertMatch(
    page,
    /<tr data-pool="warehouse" data-in-use="1">[\s\S]*?1 of 1[\s\S]*?run-hold[\s\S]*?mart/,
  );
  const api = await (await fetch(`${server.url}/api/queue`)).json();
  assertEquals(api.slots.map((x: { pool: string; runId: string }) => [x.pool, x.runId]), [
    ["warehouse", "run-holder"],
  ]);
  const run = await (await fetch(`${server.url}/runs/run-waiting`)).text();
  assertMatch(run, /data-step="mart"[\s\S]*?waits for a slot of pool warehouse \(1 of 1 in use\)/);
  const rawRow = /<tr data-step="raw"[\s\S]*?<\/tr>/.exec(run)?.[0] ?? "";
  assert(rawRow && !rawRow.includes("waits for a slot"), "a finished step waits for nothing");
  // The slot given back: the step no longer waits.
  await queue.giveSlots("h1");
  assert(
    !(await (await fetch(`${server.url}/runs/run-waiting`)).text()).includes("waits for a slot"),
  );
});

Deno.test("queue: cancel while queued takes the run out for good; a started entry gets a request; an ended one is a 409", async () => {
  await using s = await setup();
  const { server, queue, store, post } = s;
  const { runId } = await (await post("/actions/launch", { selection: "raw" })).json();
  const canceled = await post(`/actions/runs/${runId}/cancel`, {});
  assertEquals(canceled.status, 202);
  assertEquals(await canceled.json(), {
    runId,
    url: `/runs/${runId}`,
    outcome: "dequeued",
    queueState: "canceled",
  });
  const entry = await queue.get(runId);
  assertEquals([entry?.state, entry?.outcome], ["canceled", "canceled: canceled from the UI"]);
  const again = await post(`/actions/runs/${runId}/cancel`, {});
  assertEquals(again.status, 409);
  assertMatch(
    (await again.json()).message,
    /already left the queue \(canceled: canceled from the UI\)/,
  );
  const page = await (await fetch(`${server.url}/runs/${runId}`)).text();
  assertMatch(page, /data-queue-state="canceled"/);
  assert(!page.includes("Cancel (remove"), "no cancel button on a canceled entry");

  // A form post from the queue page goes back to the queue page.
  const { runId: other } = await (await post("/actions/launch", { selection: "raw" })).json();
  const form = await fetch(`${server.url}/actions/runs/${other}/cancel`, {
    method: "POST",
    headers: {
      origin: server.url,
      referer: `${server.url}/queue`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: "",
    redirect: "manual",
  });
  assertEquals([form.status, form.headers.get("location")], [303, "/queue"]);
  await form.body?.cancel();

  // Started by a worker that has not recorded the run yet: the request is kept for it.
  const { runId: third } = await (await post("/actions/launch", { selection: "raw" })).json();
  await queue.admit((queued) => queued.map((r) => r.runId), { now: T0 });
  assert(await queue.claim(third, "worker-1", T0));
  const requested = await post(`/actions/runs/${third}/cancel`, {});
  assertEquals(requested.status, 202);
  assertEquals((await requested.json()).outcome, "requested");
  assertEquals((await queue.get(third))?.cancelRequested, "canceled from the UI");
  assertEquals(await store.getRun(third), undefined);

  const unknown = await post(`/actions/runs/nope/cancel`, {});
  assertEquals(unknown.status, 404);
  await unknown.body?.cancel();
});

Deno.test("queue: a queued run runs on a worker, and its page becomes the run page", async () => {
  await using s = await setup();
  const { server, queue, store, graph, post } = s;
  const { runId } = await (await post("/actions/launch", { selection: "+mart" })).json();
  const waiting = await (await fetch(`${server.url}/runs/${runId}?fragment=queued`)).text();
  assert(!waiting.includes("data-reload"));
  const stop = new AbortController();
  const coordinator = new Coordinator({ queue, runStore: store, intervalMs: 20 });
  const worker = new RunWorker(graph, {
    queue,
    runStore: store,
    heartbeatIntervalMs: 100,
    owner: { instanceId: crypto.randomUUID(), host: "test-host", pid: 1 },
  });
  const running = [coordinator.run(stop.signal), worker.run(stop.signal)];
  try {
    const deadline = Date.now() + 30_000;
    while ((await store.getRun(runId))?.status !== "success") {
      if (Date.now() > deadline) throw new Error("the queued run did not finish on the worker");
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    stop.abort();
    await Promise.all(running);
  }
  // The live part of the queued page tells the script to show the run page.
  const fragment = await fetch(`${server.url}/runs/${runId}?fragment=queued`);
  assertEquals(fragment.status, 200);
  assertMatch(await fragment.text(), /data-reload/);
  const page = await (await fetch(`${server.url}/runs/${runId}`)).text();
  assertMatch(page, /data-step="mart"[^>]*data-status="success"/);
  const api = await (await fetch(`${server.url}/api/queue`)).json();
  assertEquals(api.ended.map((r: { run_id: string; state: string }) => [r.run_id, r.state]), [
    [runId, "finished"],
  ]);
});

Deno.test("queue: without a queue the queue page and API say so, and a priority is refused", async () => {
  const { server, release } = await fixtureServer();
  await using _ = server;
  try {
    const page = await fetch(`${server.url}/queue`);
    assertEquals(page.status, 404);
    assertMatch(await page.text(), /no run queue/);
    const api = await fetch(`${server.url}/api/queue`);
    assertEquals([api.status, (await api.json()).error], [404, "no_queue"]);
    const nav = await (await fetch(`${server.url}/assets`)).text();
    assert(!nav.includes('href="/queue"'), "no queue entry in the navigation");
    const launch = await fetch(`${server.url}/actions/launch`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.url },
      body: JSON.stringify({ selection: "raw_events", priority: 3 }),
    });
    assertEquals(launch.status, 400);
    assertMatch((await launch.json()).message, /this UI has none/);
    const backfill = await fetch(`${server.url}/actions/launch`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.url },
      body: JSON.stringify({ selection: "raw_events", partition: "north", backfill: true }),
    });
    assertEquals(backfill.status, 400);
    assertMatch((await backfill.json()).message, /needs the run queue/);
  } finally {
    release();
  }
});
