import { assert, assertEquals, assertMatch, assertRejects } from "./_assert.ts";
import { ConfigError } from "../../core/errors.ts";
import { serveUi } from "../../ui/mod.ts";
import { fixtureGraph, fixtureServer, postLaunch, SCRIPT, SECRET } from "./_fixture.ts";

async function json(res: Response) {
  const text = await res.text();
  assert(!text.includes(SECRET), `response leaks the secret: ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  // Ends when the probe answers; the deadline is for a loaded CI machine only.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test("api: assets carry the state the graph is coloured by, with partition health", async () => {
  const { server } = await fixtureServer();
  await using _ = server;
  const body = await json(await fetch(`${server.url}/api/assets`));
  const byKey = Object.fromEntries(body.assets.map((a: { key: string }) => [a.key, a]));
  assertEquals(Object.keys(byKey).sort(), [
    "clean_events",
    "marts/broken",
    "marts/summary",
    "raw_events",
    "slow",
  ]);
  assertEquals(byKey["raw_events"].state, "materialized");
  assertEquals(byKey["raw_events"].partitions, {
    total: 3,
    materialized: 3,
    failed: 0,
    running: 0,
    missing: 0,
  });
  assertEquals(byKey["clean_events"].state, "check_failing");
  assertEquals(byKey["marts/broken"].state, "failed");
  assertEquals(byKey["marts/summary"].state, "stale");
  assertMatch(byKey["marts/summary"].why, /upstream newer: clean_events/);
  assertEquals(byKey["slow"].state, "never");
  assertEquals(byKey["raw_events"].kinds, ["csv"]);
});

Deno.test("api: one asset, its history, checks and partitions; unknown asset is a 404 naming the nearest key", async () => {
  const { server } = await fixtureServer();
  await using _ = server;
  const detail = await json(
    await fetch(`${server.url}/api/assets/${encodeURIComponent("marts/summary")}`),
  );
  assertEquals(detail.upstream, ["clean_events"]);
  assertEquals(detail.group, "marts");
  const missing = await fetch(`${server.url}/api/assets/raw_evnts`);
  assertEquals(missing.status, 404);
  assertEquals(await json(missing), {
    error: "unknown_asset",
    message: "Unknown asset 'raw_evnts' (did you mean 'raw_events'?)",
    suggestion: "raw_events",
  });
  const history = await json(await fetch(`${server.url}/api/assets/raw_events/materializations`));
  assertEquals(history.materializations.length, 3);
  assertEquals(
    history.materializations.map((m: { partition: string }) => m.partition).sort(),
    ["east", "north", "south"],
  );
  assert(typeof history.materializations[0].metadata.rows === "number");
  const checks = await json(await fetch(`${server.url}/api/assets/clean_events/checks`));
  assertEquals(checks.checks[0].name, "no_nulls");
  assertEquals(
    checks.checks[0].evaluations.map((
      e: { passed: boolean; partition: string },
    ) => [e.partition, e.passed]),
    [["north", true], ["east", false], ["south", true], ["north", true]],
  );
  const partitions = await json(await fetch(`${server.url}/api/assets/raw_events/partitions`));
  assertEquals(partitions.partitions.map((p: { key: string; status: string }) => p.status), [
    "success",
    "success",
    "success",
  ]);
  const preview = await json(await fetch(`${server.url}/api/assets/raw_events/preview`));
  assertEquals(preview, { previews: [], compiledSql: null });
  for (const suffix of ["materializations", "checks", "partitions", "preview"]) {
    assertEquals((await fetch(`${server.url}/api/assets/nope/${suffix}`)).status, 404);
  }
});

Deno.test("api: selection resolves like the CLI; a typo is a 400 with the nearest key", async () => {
  const { server } = await fixtureServer();
  await using _ = server;
  const ok = await json(
    await fetch(`${server.url}/api/selection?selection=${encodeURIComponent("+marts/summary")}`),
  );
  assertEquals(ok.keys, ["raw_events", "clean_events", "marts/summary"]);
  const bad = await fetch(`${server.url}/api/selection?selection=clean_event`);
  assertEquals(bad.status, 400);
  const body = await json(bad);
  assertEquals(body.error, "selection.unknown_asset");
  assertEquals(body.suggestion, "clean_events");
  const syntax = await fetch(`${server.url}/api/selection?selection=${encodeURIComponent("a,,b")}`);
  assertEquals(syntax.status, 400);
});

Deno.test("api: runs filter by status, asset, sensor and time, page by keyset, 404 when unknown", async () => {
  const { server } = await fixtureServer();
  await using _ = server;
  const all = await json(await fetch(`${server.url}/api/runs`));
  assertEquals(all.runs.length, 2);
  assertEquals(all.next, null);
  const failed = await json(await fetch(`${server.url}/api/runs?status=failed`));
  assertEquals(failed.runs.length, 1);
  const bySensor = await json(await fetch(`${server.url}/api/runs?automation=inbox`));
  assertEquals(
    bySensor.runs.map((r: { runId: string }) => r.runId),
    failed.runs.map((r: { runId: string }) => r.runId),
  );
  const byAsset = await json(
    await fetch(`${server.url}/api/runs?asset=${encodeURIComponent("marts/broken")}`),
  );
  assertEquals(byAsset.runs.length, 1);
  const future = await json(await fetch(`${server.url}/api/runs?since=2999-01-01`));
  assertEquals(future.runs.length, 0);
  const first = await json(await fetch(`${server.url}/api/runs?limit=1`));
  assertEquals(first.runs.length, 1);
  assert(first.next);
  const second = await json(
    await fetch(`${server.url}/api/runs?limit=1&before=${encodeURIComponent(first.next)}`),
  );
  assertEquals(second.runs.length, 1);
  assert(second.runs[0].runId !== first.runs[0].runId);
  assertEquals(second.next, null);
  for (
    const bad of [
      "status=lost",
      "since=yesterday",
      "limit=0",
      "limit=x",
      "before=nonsense",
      "asset=nope",
    ]
  ) {
    const res = await fetch(`${server.url}/api/runs?${bad}`);
    assertEquals(res.status, bad === "asset=nope" ? 404 : 400, bad);
    const body = await json(res);
    assert(typeof body.message === "string" && body.message.length > 0);
  }
  const runId = failed.runs[0].runId;
  const run = await json(await fetch(`${server.url}/api/runs/${runId}`));
  assertEquals(run.run.status, "failed");
  assert(run.steps.length >= 7);
  const events = await json(await fetch(`${server.url}/api/runs/${runId}/events`));
  const failure = events.events.find((e: { type: string }) => e.type === "step_failed");
  assertMatch(failure.data.error, /postgres:\/\/app:\*\*\*@db/);
  const tail = await json(
    await fetch(`${server.url}/api/runs/${runId}/events?after=${events.events[3].id}`),
  );
  assertEquals(tail.events[0].id, events.events[4].id);
  assertEquals((await fetch(`${server.url}/api/runs/${runId}/events?after=x`)).status, 400);
  assertEquals((await fetch(`${server.url}/api/runs/no-such-run`)).status, 404);
  assertEquals((await fetch(`${server.url}/api/runs/no-such-run/events`)).status, 404);
});

Deno.test("api: ETags answer 304 when nothing changed", async () => {
  const { server } = await fixtureServer();
  await using _ = server;
  const first = await fetch(`${server.url}/api/asset-states`);
  await first.body?.cancel();
  const etag = first.headers.get("etag");
  assert(etag);
  const again = await fetch(`${server.url}/api/asset-states`, {
    headers: { "if-none-match": etag },
  });
  assertEquals(again.status, 304);
  await again.body?.cancel();
  const fragment = await fetch(`${server.url}/runs?fragment=list`);
  const tag = fragment.headers.get("etag");
  await fragment.body?.cancel();
  const same = await fetch(`${server.url}/runs?fragment=list`, {
    headers: { "if-none-match": tag ?? "" },
  });
  assertEquals(same.status, 304);
  await same.body?.cancel();
  assertEquals(await fetch(`${server.url}/runs?fragment=nope`).then((r) => r.status), 404);
});

Deno.test("api: automation, graph layout, lake endpoints without a lake, the endpoint index", async () => {
  const { server } = await fixtureServer();
  await using _ = server;
  const automation = await json(await fetch(`${server.url}/api/automation`));
  assertEquals(
    automation.automations.map((a: { name: string; kind: string }) => [a.name, a.kind]),
    [
      ["inbox", "sensor"],
      ["nightly", "schedule"],
    ],
  );
  assertMatch(automation.automations[1].nextTick, /T03:00:00.000Z$/);
  assertEquals(automation.automations[0].runs.length, 1);
  const graph = await json(await fetch(`${server.url}/api/graph`));
  assertEquals(graph.nodes.length, 5);
  assertEquals(graph.groups.map((g: { name: string }) => g.name).sort(), ["ingest", "marts"]);
  assertEquals(graph.edges.length, 2);
  assertEquals((await fetch(`${server.url}/api/lake/objects?bucket=data-lake`)).status, 503);
  const index = await json(await fetch(`${server.url}/api/endpoints`));
  assert(index.endpoints.length >= 15);
  // The /api page showed the summaries' Markdown as written: "keyset pages (`next` → `before`)".
  const docs = await (await fetch(`${server.url}/api`)).text();
  assert(docs.includes("keyset pages (<code>next</code> → <code>before</code>)"), "code spans");
  assert(!docs.includes("`"), "no Markdown backticks on the /api page");
  const unknown = await fetch(`${server.url}/api/nothing`);
  assertEquals(unknown.status, 404);
  assertEquals((await json(unknown)).error, "not_found");
});

Deno.test("pages: HTML escapes keys, metadata, errors and check results; secrets never show", async () => {
  const { server, store } = await fixtureServer();
  await using _ = server;
  const runs = await store.listRuns({ status: "failed" });
  const pages = [
    "/assets",
    "/assets/raw_events",
    "/assets/clean_events",
    `/assets/${encodeURIComponent("marts/broken")}`,
    "/runs",
    `/runs/${runs[0]?.runId}`,
    "/automation",
    "/launch?selection=%3Cscript%3E",
    "/api",
  ];
  for (const path of pages) {
    const res = await fetch(`${server.url}${path}`);
    const text = await res.text();
    assertEquals(res.status, 200, path);
    assert(!text.includes(SCRIPT), `${path} renders raw markup`);
    assert(!text.includes(SECRET), `${path} shows the secret`);
    assert(
      !/<script>(?!<)/.test(
        text.replace(/<script type="module" src="\/static\/app.js"><\/script>/, ""),
      ),
      path,
    );
  }
  const run = await (await fetch(`${server.url}/runs/${runs[0]?.runId}`)).text();
  assert(run.includes("&lt;script&gt;window.__pwned = true&lt;/script&gt;"));
  assert(run.includes("postgres://app:***@db:5432/x"));
  assertEquals((await fetch(`${server.url}/assets/nope`)).status, 404);
  assertEquals((await fetch(`${server.url}/runs/nope`)).status, 404);
  assertEquals((await fetch(`${server.url}/runs?status=bad`)).status, 400);
});

Deno.test("actions: launch is the CLI's run (store, events, status); bad selection is a 400 with the nearest key", async () => {
  const { server, store } = await fixtureServer();
  await using _ = server;
  const headers = { "content-type": "application/json", origin: server.url };
  const res = await fetch(`${server.url}/actions/launch`, {
    method: "POST",
    headers,
    body: JSON.stringify({ selection: "+marts/summary", partition: "south" }),
  });
  assertEquals(res.status, 200);
  const { runId } = await json(res);
  const run = await waitFor(async () => {
    const r = await store.getRun(runId);
    return r && r.status !== "running" ? r : undefined;
  }, "the launched run to end");
  assertEquals(run.status, "success");
  assertEquals(run.selection, "+marts/summary");
  assertEquals(run.partitions, "south");
  assertEquals(run.tags.launched_by, "ui");
  const types = (await store.listEvents(runId)).map((e) => e.type);
  assertEquals(types[0], "run_started");
  assertEquals(types.at(-1), "run_finished");
  assert(types.includes("materialization") && types.includes("check"));
  const bad = await fetch(`${server.url}/actions/launch`, {
    method: "POST",
    headers,
    body: JSON.stringify({ selection: "marts/sumary" }),
  });
  assertEquals(bad.status, 400);
  assertEquals((await json(bad)).suggestion, "marts/summary");
  const badPartition = await fetch(`${server.url}/actions/launch`, {
    method: "POST",
    headers,
    body: JSON.stringify({ selection: "raw_events", partition: "west" }),
  });
  assertEquals(badPartition.status, 400);
  assertMatch((await json(badPartition)).message, /Partition 'west' does not exist/);
  const both = await fetch(`${server.url}/actions/launch`, {
    method: "POST",
    headers,
    body: JSON.stringify({ selection: "raw_events", partition: "north", from: "north" }),
  });
  assertEquals(both.status, 400);
  const form = await fetch(`${server.url}/actions/launch`, {
    method: "POST",
    headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ selection: "marts/summary", upstream: "1" }),
    redirect: "manual",
  });
  assertEquals(form.status, 303);
  assertMatch(form.headers.get("location") ?? "", /^\/runs\/[0-9a-f-]{36}$/);
  await server.context.launcher.drain();
});

Deno.test("actions: cancel a running run; re-execute and retry from failure", async () => {
  const { server, store, release } = await fixtureServer();
  await using _ = server;
  const headers = { "content-type": "application/json", origin: server.url };
  const { runId } = await json(
    await fetch(`${server.url}/actions/launch`, {
      method: "POST",
      headers,
      body: JSON.stringify({ selection: "slow" }),
    }),
  );
  assertEquals((await store.getRun(runId))?.status, "running");
  const cancel = await fetch(`${server.url}/actions/runs/${runId}/cancel`, {
    method: "POST",
    headers,
  });
  assertEquals(cancel.status, 202);
  assertEquals((await cancel.json()).outcome, "canceling");
  const canceled = await waitFor(async () => {
    const r = await store.getRun(runId);
    return r?.status === "canceled" ? r : undefined;
  }, "the run to be canceled");
  assertEquals(canceled.status, "canceled");
  assertEquals(canceled.cancelReason, "canceled from the UI");
  const again = await fetch(`${server.url}/actions/runs/${runId}/cancel`, {
    method: "POST",
    headers,
  });
  assertEquals(again.status, 409);
  await again.body?.cancel();
  const [failed] = await store.listRuns({ status: "failed" });
  const retry = await json(
    await fetch(`${server.url}/actions/runs/${failed?.runId}/reexecute`, {
      method: "POST",
      headers,
      body: JSON.stringify({ from_failure: true }),
    }),
  );
  const retried = await waitFor(async () => {
    const r = await store.getRun(retry.runId);
    return r && r.status !== "running" ? r : undefined;
  }, "the retry to end");
  assertEquals(retried.selection, "marts/broken");
  assertEquals(retried.tags.parent_run_id, failed?.runId);
  assertEquals(retried.tags.reexecution, "from_failure");
  const full = await json(
    await fetch(`${server.url}/actions/runs/${failed?.runId}/reexecute`, {
      method: "POST",
      headers,
      body: "{}",
    }),
  );
  await server.context.launcher.drain();
  const rerun = await store.getRun(full.runId);
  assertEquals(rerun?.selection, failed?.selection);
  assertEquals(rerun?.tags.reexecution, "all");
  assertEquals(
    await fetch(`${server.url}/actions/runs/nope/reexecute`, { method: "POST", headers }).then(
      async (r) => {
        await r.body?.cancel();
        return r.status;
      },
    ),
    404,
  );
  release();
});

Deno.test("security: POST only, same origin, and the token rule", async () => {
  const token = "tok-" + "x".repeat(24);
  const { server } = await fixtureServer({ token });
  await using _ = server;
  const launch = (headers: Record<string, string>) => postLaunch(server.url, headers);
  assertEquals((await launch({ origin: server.url })).status, 401);
  assertEquals((await launch({ origin: "http://evil.example" })).status, 403);
  assertEquals(
    (await launch({ origin: "http://evil.example", authorization: `Bearer ${token}` })).status,
    403,
  );
  assertEquals((await launch({})).status, 403); // no origin, no bearer: a browser form from elsewhere
  assertEquals((await launch({ authorization: "Bearer wrong" })).status, 401);
  assertEquals((await launch({ authorization: `Bearer ${token}` })).status, 200);
  assertEquals((await launch({ origin: server.url, cookie: `ui_token=${token}` })).status, 200);
  const put = await fetch(`${server.url}/actions/launch`, {
    method: "PUT",
    headers: { origin: server.url },
  });
  assertEquals(put.status, 405);
  await put.body?.cancel();
  const login = await fetch(`${server.url}/login`, {
    method: "POST",
    headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token }),
    redirect: "manual",
  });
  assertEquals(login.status, 303);
  assertMatch(login.headers.get("set-cookie") ?? "", /ui_token=.*HttpOnly.*SameSite=Strict/i);
  const wrong = await fetch(`${server.url}/login`, {
    method: "POST",
    headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ token: "nope" }),
  });
  assertEquals(wrong.status, 401);
  const page = await (await fetch(`${server.url}/api`)).text();
  assert(!page.includes(token), "the token is shown");
  assertEquals(
    await fetch(`${server.url}/api/assets`).then(async (r) => {
      await r.body?.cancel();
      return r.status;
    }),
    200,
  );
  await server.context.launcher.drain();
});

Deno.test("security: a non-loopback bind needs UI_TOKEN; a foreign Host is refused on loopback", async () => {
  const { graph } = fixtureGraph();
  const { MemoryRunStore } = await import("../../core/run_store/memory.ts");
  await assertRejects(
    () => serveUi({ graph, store: new MemoryRunStore(), host: "0.0.0.0", port: 0 }),
    ConfigError,
    "without UI_TOKEN",
  );
  const { server } = await fixtureServer();
  await using _ = server;
  const port = Number(new URL(server.url).port);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(new TextEncoder().encode(
    "GET /api/assets HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n",
  ));
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
    chunks.push(buf.slice(0, n));
  }
  conn.close();
  const reply = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
  assertMatch(reply, /^HTTP\/1.1 403/);
});

Deno.test("api: an asset's materializations over every run, paged, with durations", async () => {
  const { defineAsset } = await import("../../core/asset.ts");
  const { defineGraph } = await import("../../core/definitions.ts");
  const { materialize } = await import("../../core/executor.ts");
  const { MemoryRunStore } = await import("../../core/run_store/memory.ts");
  let n = 0;
  const graph = defineGraph({
    assets: [defineAsset({ key: "counted", materialize: () => ({ rows: ++n }) })],
  });
  const store = new MemoryRunStore();
  for (let i = 0; i < 130; i++) await materialize(graph, { runStore: store });
  await using server = await serveUi({ graph, store, port: 0 });
  const first = await json(await fetch(`${server.url}/api/assets/counted/materializations`));
  assertEquals(first.materializations.length, 100);
  assertEquals(first.materializations[0].metadata.rows, 130);
  assert(first.materializations.every((m: { durationMs: number | null }) => m.durationMs !== null));
  const rest = await json(
    await fetch(`${server.url}/api/assets/counted/materializations?before=${first.next}`),
  );
  assertEquals(rest.materializations.map((m: { metadata: { rows: number } }) => m.metadata.rows), [
    ...Array.from({ length: 30 }, (_, i) => 30 - i),
  ]);
  assertEquals(rest.next, null);
  const small = await json(
    await fetch(`${server.url}/api/assets/counted/materializations?limit=7`),
  );
  assertEquals(small.materializations.length, 7);
  for (const bad of ["before=x", "limit=0", "limit=501"]) {
    const res = await fetch(`${server.url}/api/assets/counted/materializations?${bad}`);
    assertEquals(res.status, 400, bad);
    await res.body?.cancel();
  }
  const page = await (await fetch(`${server.url}/assets/counted`)).text();
  const older = /href="\/assets\/counted\?before=(\d+)#history"/.exec(page)?.[1];
  assertEquals(older, String(first.next));
  const olderPage = await (await fetch(`${server.url}/assets/counted?before=${older}`)).text();
  assert(olderPage.includes("30 materialization(s) (older page)"), "the older page");
});
