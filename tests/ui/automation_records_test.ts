/**
 * The automation's records in the UI: on the asset page, each evaluation of
 * its condition with the tree (what was true) and whether a run was
 * requested, and its freshness verdicts; on the automation page, the
 * built-in `automation` sensor with its toggle, evaluation passes and the
 * latest evaluation per asset; the records over the API. The records are
 * made by the real daemon (SensorDaemon with a fake clock).
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { defineAsset } from "../../core/asset.ts";
import { eager } from "../../core/automation/condition.ts";
import { freshness } from "../../core/automation/freshness_policy.ts";
import { SensorDaemon } from "../../core/daemon.ts";
import { defineGraph } from "../../core/definitions.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { dropsSensor } from "../_helpers/drops_sensor.ts";
import { FakeClock } from "../../core/testing.ts";
import { serveUi } from "../../ui/serve.ts";
import { SCRIPT } from "./_fixture.ts";

const T0 = Date.parse("2026-12-06T01:00:00Z");

async function setup() {
  const drops: string[] = [];
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "bronze",
        freshness: freshness({ maxLagMinutes: 60 }),
        materialize: () => {},
      }),
      defineAsset({
        key: "stg",
        deps: ["bronze"],
        automation: eager(),
        description: SCRIPT,
        materialize: () => {},
      }),
      defineAsset({ key: "plain", materialize: () => {} }),
    ],
    sensors: [dropsSensor(drops)],
  });
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  const daemon = new SensorDaemon(graph, {
    runStore: store,
    clock,
    daemonId: "d1",
    intervalMs: 1000,
  });
  const server = await serveUi({ graph, store, clock, port: 0 });
  const settle = async () => {
    for (let i = 0; i < 10; i++) {
      clock.advance(1000);
      const reports = await daemon.tick();
      await daemon.drain();
      if (reports.every((r) => r.launched.length === 0)) return;
    }
  };
  return {
    drops,
    store,
    clock,
    server,
    settle,
    [Symbol.asyncDispose]: async () => {
      await daemon.close();
      await server.close();
    },
  };
}

Deno.test("automation records: the asset page shows why a run was or was not requested, with the condition tree", async () => {
  await using s = await setup();
  const { drops, server, settle, store } = s;
  await settle(); // first evaluations: nothing changed, nothing requested
  drops.push("file-1.csv");
  await settle(); // bronze runs; stg is requested by its eager condition

  const evaluations = await store.listAutomationRecords({ kind: "evaluation", assetKey: "stg" });
  const requested = evaluations.find((r) => Number(r.data.requestedCount) > 0);
  const quiet = evaluations.find((r) => Number(r.data.requestedCount) === 0);
  assert(requested && quiet, "the daemon recorded a requesting and a quiet evaluation");

  const page = await (await fetch(`${server.url}/assets/stg`)).text();
  assertMatch(page, /<th>condition<\/th><td><code>eager[^<]*<\/code>/);
  assertMatch(page, new RegExp(`data-evaluation="${requested.id}" data-requested="1"`));
  assertMatch(page, new RegExp(`data-evaluation="${quiet.id}" data-requested="0"`));
  assertMatch(page, /the condition was false for all 1 evaluated partition/);
  // The tree: the root true in the requesting evaluation, with its parts below it.
  const tree = page.slice(page.indexOf(`data-evaluation="${requested.id}"`));
  assertMatch(
    tree,
    /<ul class="cond-tree"><li class="cond cond-true" data-true="true"><span class="mark">✓<\/span> <code>eager/,
  );
  assert((tree.match(/class="cond /g) ?? []).length > 2, "the parts of the condition are listed");
  assert(!page.includes(SCRIPT), "the description is escaped");
  const fragment = await (await fetch(`${server.url}/assets/stg?fragment=automation`)).text();
  assertMatch(fragment, /cond-tree/);

  // Freshness verdicts on the asset that has a policy; a plain asset says it has none.
  const bronze = await (await fetch(`${server.url}/assets/bronze`)).text();
  assertMatch(bronze, /at most 60 m 00 s old/);
  assertMatch(bronze, /<tr data-freshness="(pass|error)">/);
  const plain = await (await fetch(`${server.url}/assets/plain`)).text();
  assertMatch(plain, /No automation condition or freshness policy/);
});

Deno.test("automation records: the automation page lists the built-in sensor with its passes and per-asset outcome; it can be turned off", async () => {
  await using s = await setup();
  const { drops, server, settle, store } = s;
  await settle();
  drops.push("file-1.csv");
  await settle();
  const page = await (await fetch(`${server.url}/automation`)).text();
  assertMatch(page, /data-automation="automation"/);
  assertMatch(page, /<tr data-automated="stg">[\s\S]*?requested/);
  assertMatch(
    page,
    /<tr data-automated="bronze">[\s\S]*?data-automated|<tr data-automated="bronze">[\s\S]*?(pass|error)/,
  );
  const ticks = await store.listAutomationRecords({ kind: "tick", limit: 1 });
  assertMatch(page, new RegExp(`data-automation-tick="${ticks[0]?.data.tick}"`));
  const history = await (await fetch(`${server.url}/automation/automation`)).text();
  assertMatch(history, /Evaluation passes/);
  // Its runs are found by the runs filter, like any sensor's.
  const runs = await (await fetch(`${server.url}/api/runs?automation=automation`)).json();
  assert(runs.runs.length >= 1, "the automation's run is listed");
  // The toggle reaches it like any sensor.
  const off = await fetch(`${server.url}/actions/automation/automation`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: server.url },
    body: JSON.stringify({ enabled: false }),
  });
  assertEquals(off.status, 200);
  assertEquals((await off.json()).enabled, false);
  assertEquals(
    (await store.automationStates()).find((x) => x.name === "automation")?.enabled,
    false,
  );
});

Deno.test("automation records: the API pages them by kind and asset, and refuses bad filters", async () => {
  await using s = await setup();
  const { drops, server, settle } = s;
  await settle();
  drops.push("file-1.csv");
  await settle();
  const first =
    await (await fetch(`${server.url}/api/automation-records?kind=evaluation&asset=stg&limit=1`))
      .json();
  assertEquals(first.records.length, 1);
  assertEquals(first.records[0].assetKey, "stg");
  assert(first.next, "a next page");
  const second = await (await fetch(
    `${server.url}/api/automation-records?kind=evaluation&asset=stg&limit=1&before=${first.next}`,
  )).json();
  assert(second.records[0].id < first.records[0].id);
  const bad = await fetch(`${server.url}/api/automation-records?kind=bogus`);
  assertEquals(bad.status, 400);
  assertEquals((await bad.json()).error, "bad_kind");
  const unknown = await fetch(`${server.url}/api/automation-records?asset=stgg`);
  assertEquals(unknown.status, 404);
  assertMatch((await unknown.json()).message, /stg/);
});
