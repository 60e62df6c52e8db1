/**
 * The automation page and its API: on/off toggles the daemon honours (kept
 * in the run store), tick history with the reasons, paging, bad input.
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { SensorDaemon } from "../../core/daemon.ts";
import { FakeClock } from "../../core/testing.ts";
import { serveUi } from "../../ui/serve.ts";
import { fixtureGraph, ranStore, SCRIPT } from "./_fixture.ts";

const T0 = Date.parse("2026-12-05T10:00:00Z");

async function setup() {
  const { graph, release } = fixtureGraph();
  const store = await ranStore(graph);
  const clock = new FakeClock(T0);
  const server = await serveUi({ graph, store, port: 0, clock });
  const daemon = new SensorDaemon(graph, { runStore: store, clock });
  return {
    server,
    store,
    clock,
    daemon,
    [Symbol.asyncDispose]: async () => {
      release();
      await daemon.close();
      await server.close();
    },
  };
}

const json = { "content-type": "application/json" };

Deno.test("automation: the toggle turns a sensor off for the daemon, and on again; the page and API show it", async () => {
  await using s = await setup();
  const { server, store, daemon, clock } = s;
  const headers = { ...json, origin: server.url };
  await daemon.tick(); // inbox skips: "nothing new"
  const off = await fetch(`${server.url}/actions/automation/inbox`, {
    method: "POST",
    headers,
    body: JSON.stringify({ enabled: false }),
  });
  assertEquals(off.status, 200);
  assertEquals(await off.json(), {
    name: "inbox",
    enabled: false,
    updatedAt: T0,
    updatedBy: "ui",
  });
  clock.advance(1000);
  const reports = await daemon.tick();
  assertEquals(reports.find((r) => r.name === "inbox")?.status, "off");

  const api = await (await fetch(`${server.url}/api/automation`)).json();
  const inbox = api.automations.find((a: { name: string }) => a.name === "inbox");
  assertEquals([inbox.enabled, inbox.state.updatedBy], [false, "ui"]);
  assertEquals(
    inbox.ticks.map((t: { status: string; reason: string }) => [t.status, t.reason]),
    [["off", "turned off by ui at 2026-12-05T10:00:00.000Z"], ["skipped", "nothing new"]],
  );
  const nightly = api.automations.find((a: { name: string }) => a.name === "nightly");
  assertEquals([nightly.enabled, nightly.state], [true, null]);

  const page = await (await fetch(`${server.url}/automation`)).text();
  assertMatch(page, /data-automation="inbox"[\s\S]*data-state="off"[\s\S]*Turn on/);
  assertMatch(page, /data-automation="nightly"[\s\S]*data-state="on"[\s\S]*Turn off/);
  assert(page.includes('data-tick-status="off"'));

  // A form post (the page's button) turns it back on and returns to the page.
  const form = await fetch(`${server.url}/actions/automation/inbox`, {
    method: "POST",
    headers: { origin: server.url, "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ enabled: "true" }),
    redirect: "manual",
  });
  assertEquals(form.status, 303);
  assertEquals(form.headers.get("location"), "/automation#inbox");
  clock.advance(1000);
  assertEquals((await daemon.tick()).find((r) => r.name === "inbox")?.status, "skipped");
  assertEquals((await store.automationStates())[0]?.enabled, true);
});

Deno.test("automation: bad toggles and unknown names are refused; toggles need the token like any change", async () => {
  await using s = await setup();
  const { server } = s;
  const headers = { ...json, origin: server.url };
  const post = (name: string, body: unknown) =>
    fetch(`${server.url}/actions/automation/${name}`, {
      method: "POST",
      headers,
      body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: await r.json() }));
  const unknown = await post("inbx", { enabled: false });
  assertEquals([unknown.status, unknown.body.error], [404, "unknown_automation"]);
  assertEquals(unknown.body.suggestion, "inbox");
  assertEquals(
    unknown.body.message,
    "No sensor or schedule is named 'inbx' (did you mean 'inbox'?)",
  );
  for (const enabled of ["maybe", "", null, 2]) {
    const bad = await post("inbox", { enabled });
    assertEquals([bad.status, bad.body.error], [400, "bad_enabled"], String(enabled));
  }
  const cross = await fetch(`${server.url}/actions/automation/inbox`, {
    method: "POST",
    headers: { ...json, origin: "http://evil.example" },
    body: JSON.stringify({ enabled: false }),
  });
  assertEquals(cross.status, 403);
  await cross.body?.cancel();
  assertEquals(await s.store.automationStates(), []);
  const missing = await fetch(`${server.url}/automation/inbx`);
  assertEquals(missing.status, 404);
  assert((await missing.text()).includes('href="/automation/inbox"'), "suggests the nearest");
  const unknownTicks = await fetch(`${server.url}/api/automation/inbx/ticks`);
  assertEquals([unknownTicks.status, (await unknownTicks.json()).suggestion], [404, "inbox"]);
  for (const query of ["before=x", "limit=0", "limit=501"]) {
    const res = await fetch(`${server.url}/api/automation/inbox/ticks?${query}`);
    assertEquals(res.status, 400, query);
    await res.body?.cancel();
  }
  const badPage = await fetch(`${server.url}/automation/inbox?before=x`);
  assertEquals(badPage.status, 400);
  await badPage.body?.cancel();
});

Deno.test("automation: tick history pages newest first over the API and the history page; failures show their reason escaped", async () => {
  await using s = await setup();
  const { server, store } = s;
  const ticks = Array.from({ length: 60 }, (_, i) => ({
    name: "inbox",
    kind: "sensor" as const,
    time: T0 + i * 1000,
    status: i % 2 === 0 ? "failed" as const : "requested" as const,
    runIds: i % 2 === 0 ? [] : [`run-${i}`],
    duplicateKeys: [],
    reason: i % 2 === 0 ? `${SCRIPT} boom ${i}` : null,
    cursor: i % 2 === 0 ? null : String(i),
  }));
  await store.recordTicks(ticks);
  const first = await (await fetch(`${server.url}/api/automation/inbox/ticks?limit=25`)).json();
  assertEquals(first.ticks.length, 25);
  assertEquals(first.ticks[0].cursor, "59");
  const rest = await (await fetch(
    `${server.url}/api/automation/inbox/ticks?limit=100&before=${first.next}`,
  )).json();
  assertEquals(rest.ticks.length, 35);
  assertEquals(rest.next, null);
  const times = [...first.ticks, ...rest.ticks].map((t: { time: number }) => t.time);
  assertEquals(times, ticks.map((t) => t.time).reverse());

  const page = await (await fetch(`${server.url}/automation/inbox`)).text();
  assertEquals([...page.matchAll(/<tr class="tick"/g)].length, 50);
  assert(!page.includes(SCRIPT) && page.includes("&lt;script&gt;"));
  assertMatch(page, /href="\/runs\/run-59"/);
  const older = /href="\/automation\/inbox\?before=(\d+)"/.exec(page)?.[1];
  assert(older, "an older-ticks link");
  const next = await (await fetch(`${server.url}/automation/inbox?before=${older}`)).text();
  assertEquals([...next.matchAll(/<tr class="tick"/g)].length, 10);
  assert(!/\?before=\d+"/.test(next), "the last page links no older one");
});
