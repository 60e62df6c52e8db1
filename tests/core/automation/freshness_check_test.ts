/**
 * Freshness verdicts as asset check results: each change of verdict (and,
 * unchanged, one per `freshnessRecordEveryMs`) is a `check` event of a check
 * run, read where every check is read (the asset's check history, `show`),
 * with the facts (last update, allowed lag, overdue by); the executor judges
 * the check right after each materialization; a breach is notified once per
 * change, by one daemon even across a handover, and never by onCheckFailure.
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { onCheckFailure, onFreshnessBreach } from "../../../core/automation/alerts.ts";
import { FRESHNESS_CHECK } from "../../../core/automation/freshness_check.ts";
import { freshness } from "../../../core/automation/freshness_policy.ts";
import { AUTOMATION_CHECK_TAG } from "../../../core/automation/sensor.ts";
import type { Notifier } from "../../../core/automation/notification.ts";
import { SensorDaemon } from "../../../core/daemon.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { materialize } from "../../../core/executor.ts";
import { GraphDefinitionError } from "../../../core/graph.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import type { StoredRunEvent } from "../../../core/run_store/types.ts";
import { FakeClock } from "../../../core/testing.ts";
import { MemoryNotifier } from "../../../resources/notifier/memory.ts";
import { assertExit, cli, EXIT, testApp } from "../cli/_app.ts";

const T0 = Date.parse("2024-05-10T12:00:00Z");
const HOUR = 3_600_000;

function graphWith(notifiers: readonly Notifier[], alerts = true) {
  const breaches = onFreshnessBreach();
  const checks = onCheckFailure();
  const graph = defineGraph<{ notifiers: readonly Notifier[] }>({
    assets: [
      defineAsset({
        key: "fct_weather_daily",
        freshness: freshness({ maxLagMinutes: 7 * 60, warnLagMinutes: 6 * 60 }),
        materialize: () => {},
      }),
    ],
    sensors: alerts ? [breaches, checks] : [],
    resources: { notifiers },
  });
  return { graph, breaches, checks };
}

async function ticks(d: SensorDaemon<unknown>, clock: FakeClock, n: number, stepMs = 1000) {
  for (let i = 0; i < n; i++) {
    clock.advance(stepMs);
    await d.tick();
    await d.drain();
  }
}

async function freshnessChecks(store: MemoryRunStore): Promise<StoredRunEvent[]> {
  return (await store.listAssetEvents("fct_weather_daily", { types: ["check"] }))
    .filter((e) => e.data.name === FRESHNESS_CHECK).reverse();
}

Deno.test("freshness verdicts are check results in the asset's check history, with the facts, on each change", async () => {
  const pager = new MemoryNotifier("pager");
  const { graph, breaches, checks } = graphWith([pager]);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  await ticks(d, clock, 3); // never materialized: error, recorded once
  let history = await freshnessChecks(store);
  assert.equal(history.length, 1, "one record for three ticks of the same verdict");
  const first = history[0] as StoredRunEvent;
  assert.equal(first.data.passed, false);
  assert.equal(first.data.severity, "error");
  assert.match(String(first.data.description), /never materialized; allowed 7 h/);
  const facts = first.data.metadata as Record<string, unknown>;
  assert.equal(facts.last_updated_at, null);
  assert.equal(facts.allowed_lag_ms, 7 * HOUR);
  assert.equal(facts.warn_lag_ms, 6 * HOUR);
  // The check run: ended, tagged, and nothing a run-status alert is about.
  const run = await store.getRun(first.runId);
  assert.equal(run?.status, "success");
  assert.equal(run?.tags[AUTOMATION_CHECK_TAG], "freshness");
  assert.deepEqual(await store.listSteps(first.runId), []);
  assert.deepEqual(
    (await store.listEvents(first.runId)).map((e) => e.type),
    ["check"],
  );

  // Materialized: the executor's own freshness check passes in that run.
  clock.advance(1000);
  const result = await materialize(graph, { runStore: store, clock });
  const inRun = (await store.listEvents(result.runId, { types: ["check"] }))
    .find((e) => e.data.name === FRESHNESS_CHECK);
  assert.equal(inRun?.data.passed, true, "judged right after the materialization");
  assert.equal((inRun?.data.metadata as Record<string, unknown>).lag_ms, 0);

  await ticks(d, clock, 2); // pass (the daemon's transition)
  clock.advance(6.5 * HOUR);
  await ticks(d, clock, 2); // warn
  clock.advance(HOUR);
  await ticks(d, clock, 2); // error
  // The daemon's verdicts (the executor's pass in the run is the other one).
  history = (await freshnessChecks(store)).filter((e) => e.data.automation === "freshness");
  assert.deepEqual(
    history.map((e) => `${e.data.passed ? "pass" : e.data.severity}`),
    ["error", "pass", "warn", "error"],
  );
  const overdue = (history.at(-1)?.data.metadata ?? {}) as Record<string, unknown>;
  assert.equal(overdue.status, "error");
  assert.equal(overdue.lag_ms, 7.5 * HOUR + 5000);
  assert.equal(overdue.overdue_by_ms, 0.5 * HOUR + 5000);
  assert.equal(overdue.last_updated_at, new Date(T0 + 4000).toISOString());

  await breaches.idle();
  await checks.idle();
  assert.deepEqual(pager.sent.map((n) => n.event), [
    "freshness_breach",
    "freshness_breach",
    "freshness_breach",
  ], "one notification per breach, none from onCheckFailure");
  // The automation record links its check run.
  const [record] = await store.listAutomationRecords({ kind: "freshness", limit: 1 });
  assert.equal(record?.data.run_id, history.at(-1)?.runId);
  assert.equal(record?.data.transition, true);
  assert.equal(record?.data.overdue_by_ms, 0.5 * HOUR + 5000);
});

Deno.test("an unchanged verdict is recorded again at the cadence, not every tick, and not notified again", async () => {
  const pager = new MemoryNotifier("pager");
  const { graph, breaches } = graphWith([pager]);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = new SensorDaemon(graph, {
    runStore: store,
    clock,
    daemonId: "d1",
    freshnessRecordEveryMs: 10 * 60_000,
  });
  // 40 minutes of ticks a minute apart: the first record, then one every 10 min.
  await ticks(d, clock, 40, 60_000);
  const history = await freshnessChecks(store);
  assert.equal(history.length, 4, history.map((e) => new Date(e.time).toISOString()).join(" "));
  assert.ok(history.every((e) => e.data.passed === false));
  const records = (await store.listAutomationRecords({ kind: "freshness" })).reverse();
  assert.deepEqual(records.map((r) => r.data.transition), [true, false, false, false]);
  await breaches.idle();
  assert.equal(pager.sent.length, 1, "notified when it changed, not at each record");
});

Deno.test("handover: a daemon taking over does not record or notify again a verdict its predecessor recorded", async () => {
  const pager = new MemoryNotifier("pager");
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  const one = graphWith([pager]);
  const two = graphWith([pager]);
  await materialize(one.graph, { runStore: store, clock });
  // Both daemons are up and have judged the data fresh.
  await using d1 = new SensorDaemon(one.graph, { runStore: store, clock, daemonId: "d1" });
  await using d2 = new SensorDaemon(two.graph, { runStore: store, clock, daemonId: "d2" });
  await ticks(d1, clock, 2);
  await ticks(d2, clock, 2);
  // It ages past the warning lag; d1 records the change and notifies it.
  clock.advance(6.5 * HOUR);
  await ticks(d1, clock, 2);
  await one.breaches.idle();
  const before = await freshnessChecks(store);
  assert.deepEqual(
    before.map((e) => e.data.metadata && (e.data.metadata as { status: string }).status),
    [
      "pass", // the executor's
      "pass",
      "warn",
    ],
  );
  await d1[Symbol.asyncDispose](); // d1 goes away; d2 carries on alone
  await ticks(d2, clock, 3);
  await Promise.all([one.breaches.idle(), two.breaches.idle()]);
  assert.equal((await freshnessChecks(store)).length, before.length, "nothing recorded twice");
  assert.deepEqual(pager.sent.map((n) => n.title), [
    "Freshness warn: fct_weather_daily is older than allowed",
  ]);
});

Deno.test("show and the check history read the freshness check; a check named like the policy is refused", async () => {
  const { app, store, graph } = testApp([
    defineAsset({
      key: "mart",
      freshness: freshness({ maxLagMinutes: 60 }),
      materialize: () => {},
    }),
  ]);
  assert.deepEqual(graph.checksFor("mart").map((c) => c.name), [FRESHNESS_CHECK]);
  const clock = new FakeClock(T0);
  await using d = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  await ticks(d, clock, 2);
  const [event] = await store.listAssetEvents("mart", { types: ["check"] });
  const shown = await cli(app, ["show", event?.runId ?? "?"]);
  assertExit(shown, EXIT.ok);
  assert.match(shown.stdout, /checks:/);
  assert.match(
    shown.stdout,
    /mart\s+-\s+freshness\s+failed\s+error\s+never materialized; allowed 1 h/,
  );

  assert.throws(
    () =>
      defineGraph({
        assets: [defineAsset({
          key: "mart",
          freshness: freshness({ maxLagMinutes: 60 }),
          checks: [{ name: FRESHNESS_CHECK, run: () => true }],
          materialize: () => {},
        })],
      }),
    (e: unknown) =>
      e instanceof GraphDefinitionError &&
      /asset 'mart' has a freshness policy and a check named 'freshness'/.test(e.message),
  );
});
