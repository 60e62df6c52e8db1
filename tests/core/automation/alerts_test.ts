/**
 * Alerting end to end in one daemon: a failing run sends exactly one webhook
 * and one email with what failed, the error and the links; a notifier that
 * is down is retried and every attempt recorded, while the run's outcome and
 * timing do not change; filters; freshness breaches; redelivery after a crash.
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import {
  onCheckFailure,
  onFreshnessBreach,
  onRunFailure,
  onRunSuccess,
} from "../../../core/automation/alerts.ts";
import { freshness } from "../../../core/automation/freshness_policy.ts";
import type { Notifier } from "../../../core/automation/notification.ts";
import { SensorDaemon } from "../../../core/daemon.ts";
import { defineGraph } from "../../../core/definitions.ts";
import type { RunResult } from "../../../core/executor.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import type { RunStore } from "../../../core/run_store/types.ts";
import { defineSensor, type SensorDefinition } from "../../../core/sensor.ts";
import { buildSensorContext, FakeClock } from "../../../core/testing.ts";
import { MemoryNotifier } from "../../../resources/notifier/memory.ts";
import { openNotifier } from "../../../resources/notifier/open.ts";
import { CERT_PATH, startSmtp, startWebhook } from "../../resources/notifier/_servers.ts";

const T0 = Date.parse("2024-05-10T12:00:00Z");

/** A graph whose `drops` sensor launches `selection` once per pushed item. */
function world(alerts: SensorDefinition[], notifiers: readonly Notifier[]) {
  const drops: string[] = [];
  const sensor = defineSensor({
    name: "drops",
    evaluate: (ctx) => ({
      runRequests: drops.slice(Number(ctx.cursor ?? 0)).map((d) => {
        const [runKey, selection] = d.split("|") as [string, string];
        return { runKey, selection };
      }),
      cursor: String(drops.length),
    }),
  });
  const graph = defineGraph<{ notifiers: readonly Notifier[] }>({
    assets: [
      defineAsset({ key: "bronze", group: "ingest", materialize: () => {} }),
      defineAsset({
        key: "fct_weather_daily",
        group: "marts",
        deps: ["bronze"],
        materialize: () => {
          throw new Error("relation raw.raw_weather does not exist");
        },
      }),
      defineAsset({
        key: "checked",
        group: "marts",
        checks: [{ name: "not_empty", description: "has rows", run: () => false }],
        materialize: () => {},
      }),
    ],
    sensors: [sensor, ...alerts],
    resources: { notifiers },
  });
  return { drops, graph };
}

async function settle(d: SensorDaemon<unknown>, clock: FakeClock, ticks = 4): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (let i = 0; i < ticks; i++) {
    clock.advance(1000);
    await d.tick();
    results.push(...await d.drain());
  }
  return results;
}

Deno.test("a failing run sends exactly one webhook and one email with what failed, why, and the links", async () => {
  await using hook = startWebhook();
  await using smtp = await startSmtp();
  const notifiers = [
    openNotifier(`slack+${hook.url}`),
    openNotifier(
      `smtp://alerts:s3cret-pass@127.0.0.1:${smtp.port}?from=platform@example.test` +
        `&to=ops@example.test&ca=${CERT_PATH}`,
    ),
  ];
  const failures = onRunFailure({ uiUrl: "http://localhost:3000" });
  const { drops, graph } = world([failures], notifiers);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  await settle(d, clock);
  drops.push("f1|bronze,fct_weather_daily", "f2|bronze");
  const results = await settle(d, clock);
  await failures.idle();
  assert.deepEqual(results.map((r) => r.status).sort(), ["failed", "success"]);
  const failed = results.find((r) => r.status === "failed") as RunResult;
  assert.equal(hook.received.length, 1, "one webhook");
  assert.equal(smtp.mails.length, 1, "one email");
  const slack = JSON.stringify(hook.received[0]);
  assert.match(slack, new RegExp(`Run ${failed.runId.slice(0, 8)} failed: fct_weather_daily`));
  assert.match(slack, /relation raw.raw_weather does not exist/);
  assert.match(slack, new RegExp(`deno task cli show ${failed.runId}`));
  assert.match(slack, new RegExp(`http://localhost:3000/runs/${failed.runId}`));
  const mail = smtp.mails[0]?.raw ?? "";
  assert.match(
    mail,
    new RegExp(`Subject: Run ${failed.runId.slice(0, 8)} failed: fct_weather_daily`),
  );
  assert.match(mail, /1 failed: fct_weather_daily \(relation raw.raw_weather does not exist\)/);
  assert.match(mail, new RegExp(`CLI: deno task cli show ${failed.runId}`));
  const records = await store.listAutomationRecords({ kind: "notification" });
  assert.deepEqual(records.map((r) => [r.name, r.data.status]).sort(), [
    ["email", "pending"],
    ["email", "sent"],
    ["slack", "pending"],
    ["slack", "sent"],
  ]);
  await settle(d, clock);
  await failures.idle();
  assert.equal(hook.received.length + smtp.mails.length, 2, "nothing sent twice");
});

Deno.test("a notifier that is down is retried and recorded; the run's outcome and timing are unchanged", async () => {
  await using hook = startWebhook([503, 503]);
  await using smtp = await startSmtp();
  smtp.down = 1;
  const notifiers = [
    openNotifier(hook.url),
    openNotifier(
      `smtp://alerts:s3cret-pass@127.0.0.1:${smtp.port}?from=p@example.test&to=o@example.test` +
        `&ca=${CERT_PATH}`,
    ),
  ];
  const failures = onRunFailure({ retryDelayMs: 500 });
  const { drops, graph } = world([failures], notifiers);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  await settle(d, clock);
  drops.push("f1|bronze,fct_weather_daily");
  const [result] = await settle(d, clock, 2);
  await failures.idle();
  assert.equal(result?.status, "failed", "the run failed as it would without notifiers");
  const run = await store.getRun(result?.runId ?? "");
  assert.equal(run?.status, "failed");
  assert.match(run?.errorSummary ?? "", /relation raw.raw_weather does not exist/);
  assert.equal(hook.received.length, 3, "two refused, the third accepted");
  assert.equal(smtp.refused, 1);
  assert.equal(smtp.mails.length, 1);
  const attempts = (await store.listAutomationRecords({ kind: "notification" })).reverse()
    .map((r) => `${r.name}:${r.data.status}:${r.data.attempt}`);
  assert.deepEqual(attempts.filter((a) => a.startsWith("webhook")), [
    "webhook:pending:0",
    "webhook:retrying:1",
    "webhook:retrying:2",
    "webhook:sent:3",
  ]);
  assert.deepEqual(attempts.filter((a) => a.startsWith("email")), [
    "email:pending:0",
    "email:retrying:1",
    "email:sent:2",
  ]);
  const retrying = (await store.listAutomationRecords({ kind: "notification" })).find((r) =>
    r.data.status === "retrying" && r.name === "webhook"
  );
  assert.match(String(retrying?.data.error), /HTTP 503/);
  assert.doesNotMatch(String(retrying?.data.error), /SECRET-TOKEN/);
});

Deno.test("a notifier down for good: failed after the last attempt, recorded with the reason", async () => {
  const down = new MemoryNotifier("pager");
  down.failures = 99;
  const failures = onRunFailure({ maxAttempts: 3, retryDelayMs: 10 });
  const { drops, graph } = world([failures], [down]);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  await settle(d, clock);
  drops.push("f1|bronze,fct_weather_daily");
  await settle(d, clock);
  await failures.idle();
  const last = (await store.listAutomationRecords({ kind: "notification", limit: 1 }))[0];
  assert.equal(last?.data.status, "failed");
  assert.equal(last?.data.attempt, 3);
  assert.match(String(last?.data.error), /memory notifier is down/);
});

Deno.test("filters: selection, run tags, notifier names; success and check failures", async () => {
  const a = new MemoryNotifier("a");
  const b = new MemoryNotifier("b");
  const martsOnly = onRunFailure({
    name: "marts_failures",
    selection: "group:marts",
    notifiers: ["a"],
  });
  const ingestOnly = onRunFailure({ name: "ingest_failures", selection: "group:ingest" });
  const successes = onRunSuccess({ runTags: { sensor: "drops" }, notifiers: ["b"] });
  const checks = onCheckFailure({ notifiers: ["b"] });
  const alerts = [martsOnly, ingestOnly, successes, checks];
  const { drops, graph } = world(alerts, [a, b]);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  await settle(d, clock);
  drops.push("f1|bronze,fct_weather_daily", "f2|bronze", "f3|checked");
  await settle(d, clock);
  await Promise.all(alerts.map((s) => s.idle()));
  // f3's run fails on its error-severity check: a failure of a marts asset too.
  assert.deepEqual(a.sent.map((n) => n.title.replace(/Run \w+ /, "Run X ")).sort(), [
    "Run X failed: checked",
    "Run X failed: fct_weather_daily",
  ]);
  assert.deepEqual(b.sent.map((n) => n.event).sort(), ["check_failure", "run_success"]);
  assert.match(
    b.sent.find((n) => n.event === "check_failure")?.title ?? "",
    /Check not_empty failed on checked/,
  );
});

Deno.test("freshness: a breach is notified once per change of status", async () => {
  const pager = new MemoryNotifier("pager");
  const breaches = onFreshnessBreach();
  const graph = defineGraph<{ notifiers: readonly Notifier[] }>({
    assets: [
      defineAsset({
        key: "fct_weather_daily",
        freshness: freshness({ maxLagMinutes: 7 * 60, warnLagMinutes: 6 * 60 }),
        materialize: () => {},
      }),
    ],
    sensors: [breaches],
    resources: { notifiers: [pager] },
  });
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  await settle(d, clock, 2); // never materialized: error
  const { materialize } = await import("../../../core/executor.ts");
  await materialize(graph, { runStore: store, clock });
  await settle(d, clock, 2); // pass
  clock.advance(6.5 * 3_600_000);
  await settle(d, clock, 2); // warn
  clock.advance(3_600_000);
  await settle(d, clock, 3); // error
  await breaches.idle();
  const statuses = (await store.listAutomationRecords({ kind: "freshness" })).reverse()
    .map((r) => r.data.status);
  assert.deepEqual(statuses, ["error", "pass", "warn", "error"]);
  assert.deepEqual(pager.sent.map((n) => n.title), [
    "Freshness error: fct_weather_daily is older than allowed",
    "Freshness warn: fct_weather_daily is older than allowed",
    "Freshness error: fct_weather_daily is older than allowed",
  ]);
  assert.match(pager.sent[0]?.summary ?? "", /never materialized; allowed 7 h/);
  assert.match(pager.sent[2]?.summary ?? "", /data 7 h 30 min old; allowed 7 h/);
});

Deno.test("after a crash, notifications left pending are sent again at the next start", async () => {
  const store: RunStore = new MemoryRunStore();
  const pager = new MemoryNotifier("pager");
  const notification = {
    id: "run:r9:failed:pager",
    event: "run_failure" as const,
    title: "Run r9 failed: x",
    summary: "boom",
    runId: "r9",
    assetKeys: ["x"],
    links: { cli: "deno task cli show r9", ui: null },
    time: T0,
    details: {},
  };
  await store.appendAutomationRecords([{
    kind: "notification",
    time: T0,
    assetKey: "x",
    name: "pager",
    data: {
      sensor: "on_run_failure",
      id: notification.id,
      status: "pending",
      attempt: 0,
      notification: JSON.parse(JSON.stringify(notification)),
    },
  }]);
  const sensor = onRunFailure();
  await sensor.evaluate(
    buildSensorContext({
      runStore: store,
      resources: { notifiers: [pager] },
      clock: new FakeClock(T0),
    }),
  );
  await sensor.idle();
  assert.deepEqual(pager.sent.map((n) => n.id), ["run:r9:failed:pager"]);
});

Deno.test("two daemons on one store notify each failure once", async () => {
  const pager = new MemoryNotifier("pager");
  const failures = onRunFailure();
  const { drops, graph } = world([failures], [pager]);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using one = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  await using two = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d2" });
  const both = async (ticks: number) => {
    for (let i = 0; i < ticks; i++) {
      clock.advance(1000);
      await Promise.all([one.tick(), two.tick()]);
      await Promise.all([one.drain(), two.drain()]);
    }
  };
  await both(2);
  drops.push("f1|bronze,fct_weather_daily", "f2|fct_weather_daily");
  await both(4);
  await failures.idle();
  assert.equal(pager.sent.length, 2, pager.sent.map((n) => n.title).join("\n"));
  assert.equal(new Set(pager.sent.map((n) => n.runId)).size, 2);
});

Deno.test("a slow notifier holds up neither the run, the daemon's ticks, nor the other notifiers", async () => {
  await using hook = startWebhook();
  const answer = Promise.withResolvers<void>();
  const slow: Notifier = {
    name: "slow",
    description: "a notifier that answers when told",
    send: () => answer.promise,
  };
  const fast = openNotifier(hook.url);
  const failures = onRunFailure();
  const { drops, graph } = world([failures], [slow, fast]);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  await settle(d, clock);
  drops.push("f1|bronze,fct_weather_daily");
  const [result] = await settle(d, clock, 2);
  assert.equal(result?.status, "failed");
  // Ticks go on while the slow delivery hangs; a second failure is notified too.
  drops.push("f2|bronze,fct_weather_daily");
  const later = await settle(d, clock, 3);
  assert.deepEqual(later.map((r) => r.status), ["failed"]);
  const byNotifier = async (name: string) =>
    (await store.listAutomationRecords({ kind: "notification" })).filter((r) => r.name === name)
      .map((r) => String(r.data.status)).sort();
  // The fast notifier's deliveries end (recorded `sent`) while the slow one still hangs.
  await waitFor(async () => (await byNotifier("webhook")).length === 4);
  assert.equal(hook.received.length, 2);
  assert.deepEqual(await byNotifier("webhook"), ["pending", "pending", "sent", "sent"]);
  assert.deepEqual(await byNotifier("slow"), ["pending", "pending"], "still in flight");
  answer.resolve();
  await failures.idle();
  assert.deepEqual(await byNotifier("slow"), ["pending", "pending", "sent", "sent"]);
});

/** Waits (real time) until `ok`; the deadline is for a loaded CI machine only. */
async function waitFor(ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("an unreadable alert cursor (hand-edited, truncated) restarts from now instead of failing every tick", async () => {
  const memory = new MemoryNotifier("m");
  const failures = onRunFailure();
  const { drops, graph } = world([failures], [memory]);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  for (const bad of ['{"after":', '{"after":"12"}', "[]", '{"after":-1}']) {
    await store.setCursor("on_run_failure", bad);
    clock.advance(1000);
    const reports = await d.tick();
    const report = reports.find((r) => r.name === "on_run_failure");
    assert.notEqual(report?.status, "failed", `${bad}: ${report?.error?.message}`);
    assert.match(String(await store.getCursor("on_run_failure")), /^\{"after":\d+\}$/);
  }
  drops.push("f1|bronze,fct_weather_daily");
  await settle(d, clock);
  await failures.idle();
  assert.equal(memory.sent.length, 1, "failures after the reset are notified");
});
