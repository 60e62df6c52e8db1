/**
 * The daemon's automation sensor: a sensor-launched upstream run makes the
 * eager downstream run, once, in one run; two daemons never launch twice; a
 * dead daemon's tick claim is taken over; every evaluation is recorded.
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { eager } from "../../../core/automation/condition.ts";
import {
  AUTOMATION_SENSOR,
  AUTOMATION_TICK_CLAIMS,
  parseAutomationCursor,
  parseTickHolder,
} from "../../../core/automation/sensor.ts";
import { processOwner } from "../../../core/owner.ts";
import { SensorDaemon } from "../../../core/daemon.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import type { RunStore } from "../../../core/run_store/types.ts";
import { FakeClock } from "../../../core/testing.ts";
import { dropsSensor } from "../../_helpers/drops_sensor.ts";

const T0 = Date.parse("2024-03-10T10:30:00Z");

function world() {
  const drops: string[] = [];
  const executed: string[] = [];
  const sensor = dropsSensor(drops);
  const record = (key: string) => () => void executed.push(key);
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "bronze", materialize: record("bronze") }),
      defineAsset({
        key: "stg",
        deps: ["bronze"],
        automation: eager(),
        materialize: record("stg"),
      }),
      defineAsset({ key: "mart", deps: ["stg"], automation: eager(), materialize: record("mart") }),
      defineAsset({ key: "lonely", automation: eager(), materialize: record("lonely") }),
    ],
    sensors: [sensor],
  });
  return { drops, executed, graph };
}

function daemon(
  graph: ReturnType<typeof world>["graph"],
  store: RunStore,
  clock: FakeClock,
  id: string,
) {
  return new SensorDaemon(graph, { runStore: store, clock, daemonId: id, intervalMs: 1000 });
}

/** Ticks `d` until it launches nothing and has nothing in flight (at most 10 ticks). */
async function settle(d: SensorDaemon<unknown>, clock: FakeClock): Promise<void> {
  for (let i = 0; i < 10; i++) {
    clock.advance(1000);
    const reports = await d.tick();
    await d.drain();
    if (reports.every((r) => r.launched.length === 0)) return;
  }
}

Deno.test("automation: a sensor's upstream run makes the eager chain run once, as one run", async () => {
  const { drops, executed, graph } = world();
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = daemon(graph, store, clock, "d1");
  assert.ok(d.automation, "the graph has automated assets: the daemon adds the sensor");
  await settle(d, clock);
  assert.deepEqual(executed, [], "nothing changed since the first evaluation");
  drops.push("file-1.csv");
  await settle(d, clock);
  assert.deepEqual(executed, ["bronze", "stg", "mart"]);
  const runs = await store.listRuns({ limit: 10 });
  const automated = runs.filter((r) => r.tags.sensor === AUTOMATION_SENSOR);
  assert.equal(automated.length, 1, "stg and mart in one run");
  assert.equal(automated[0]?.selection, "stg,mart");
  assert.match(automated[0]?.tags.run_key ?? "", /^automation:\d+:1:[0-9a-f]{8}$/);
  await settle(d, clock);
  assert.equal(executed.length, 3, "and nothing more");

  const evaluations = await store.listAutomationRecords({ kind: "evaluation", assetKey: "mart" });
  const requested = evaluations.find((r) => r.data.requestedCount === 1);
  assert.ok(requested, "the evaluation that requested mart is recorded");
  const tree = requested.data.tree as { label: string; trueCount: number };
  assert.equal(tree.label, "eager");
  assert.equal(tree.trueCount, 1);
  const ticks = await store.listAutomationRecords({ kind: "tick" });
  assert.ok(ticks.length >= 3);
  assert.equal(parseAutomationCursor(await store.getCursor(AUTOMATION_SENSOR)).tick, ticks.length);
});

Deno.test("automation: two daemons on one store launch each automated run once", async () => {
  const { drops, executed, graph } = world();
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using one = daemon(graph, store, clock, "d1");
  await using two = daemon(graph, store, clock, "d2");
  await Promise.all([settle(one, clock), settle(two, clock)]);
  for (const round of [1, 2, 3]) {
    drops.push(`file-${round}.csv`);
    for (let i = 0; i < 6; i++) {
      clock.advance(500);
      // Both evaluate in the same instant, from the same cursor.
      await Promise.all([one.tick(), two.tick()]);
      await Promise.all([one.drain(), two.drain()]);
    }
  }
  const count = (key: string) => executed.filter((k) => k === key).length;
  assert.equal(count("bronze"), 3);
  assert.equal(count("stg"), 3, executed.join(","));
  assert.equal(count("mart"), 3);
});

Deno.test("automation: a tick claimed by a daemon that died is taken over once stale", async () => {
  const { drops, executed, graph } = world();
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await using d = daemon(graph, store, clock, "d1");
  await settle(d, clock);
  const cursor = parseAutomationCursor(await store.getCursor(AUTOMATION_SENSOR));
  // A dead daemon claimed the next tick and never finished it.
  await store.claimRunKey(AUTOMATION_TICK_CLAIMS, String(cursor.tick + 1), `dead@${clock.now()}`);
  drops.push("file-1.csv");
  clock.advance(1000);
  const reports = await d.tick();
  await d.drain();
  const automation = reports.find((r) => r.name === AUTOMATION_SENSOR);
  assert.equal(automation?.status, "skipped", "the claim is fresh");
  assert.deepEqual(executed, ["bronze"]);
  clock.advance(61_000);
  await settle(d, clock);
  assert.deepEqual(executed, ["bronze", "stg", "mart"]);
  const runs = await store.listRuns({ tags: { sensor: AUTOMATION_SENSOR } });
  assert.match(runs[0]?.tags.run_key ?? "", /^automation:\d+:2:/, "attempt 2 of that tick");
});

Deno.test("automation: a tick held by a process gone from this host is taken over at once; another host's waits", async () => {
  const { drops, executed, graph } = world();
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  const self = processOwner();
  // pid 4242 is gone on this host; every other pid still runs.
  const host = { self, pidExists: (pid: number) => pid !== 4242 };
  await using d = new SensorDaemon(graph, {
    runStore: store,
    clock,
    daemonId: "d2",
    intervalMs: 1000,
    host,
  });
  await settle(d, clock);
  const claimNext = async (owner: { host: string; pid: number }) => {
    const cursor = parseAutomationCursor(await store.getCursor(AUTOMATION_SENSOR));
    const holder = JSON.stringify({
      daemon: "killed",
      at: clock.now(),
      owner: { instanceId: crypto.randomUUID(), ...owner },
    });
    await store.claimRunKey(AUTOMATION_TICK_CLAIMS, String(cursor.tick + 1), holder);
  };

  // Killed with -9 right after claiming (same host, its pid gone): no waiting.
  const killedTick = parseAutomationCursor(await store.getCursor(AUTOMATION_SENSOR)).tick + 1;
  await claimNext({ host: self.host, pid: 4242 });
  drops.push("file-1.csv");
  clock.advance(1); // the claim stays fresh
  const [report] = await d.tick();
  assert.equal(report?.launched.length, 1, "the load");
  const takeover = await store.getRunKey(AUTOMATION_TICK_CLAIMS, `${killedTick}#2`);
  assert.equal(
    takeover && parseTickHolder(takeover).daemon,
    "d2",
    "attempt 2 of that tick, at once",
  );
  await settle(d, clock);
  assert.deepEqual(executed, ["bronze", "stg", "mart"]);

  // A holder on another machine (or a live pid here) can only be judged by its age.
  await claimNext({ host: "elsewhere", pid: 4242 });
  drops.push("file-2.csv");
  await settle(d, clock);
  assert.deepEqual(executed, ["bronze", "stg", "mart", "bronze"], "waits for the other host");
  clock.advance(61_000);
  await settle(d, clock);
  assert.deepEqual(executed, ["bronze", "stg", "mart", "bronze", "stg", "mart"]);

  // Unreadable holders (hand-written, truncated) are judged by age alone: taken over.
  assert.deepEqual(parseTickHolder("{not json").daemon, "");
  assert.equal(parseTickHolder("d1@123").at, 123, "claims written before owners");
});

/** `store`, with one call of `method` (whose first argument matches `when`) failing once armed. */
function faulty(store: MemoryRunStore) {
  const armed = new Map<string, (args: unknown[]) => boolean>();
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const when = armed.get(String(prop));
        if (when && when(args)) {
          armed.delete(String(prop));
          return Promise.reject(new Error(`run store unreachable (${String(prop)})`));
        }
        return value.apply(target, args);
      };
    },
  });
  return {
    store: proxy as RunStore,
    arm: (m: string, when = (_: unknown[]) => true) => armed.set(m, when),
  };
}

Deno.test("automation: a run store fault mid-evaluation loses no request; each run still launches once", async (t) => {
  for (
    const [what, method, when] of [
      ["records not written", "appendAutomationRecords", () => true],
      ["a run key claim fails", "claimRunKey", (args: unknown[]) => args[0] === AUTOMATION_SENSOR],
      ["the cursor not stored", "setCursor", (args: unknown[]) => args[0] === AUTOMATION_SENSOR],
    ] as const
  ) {
    await t.step(what, async () => {
      const { drops, executed, graph } = world();
      const { store, arm } = faulty(new MemoryRunStore());
      const clock = new FakeClock(T0);
      await using d = daemon(graph, store, clock, "d1");
      await settle(d, clock);
      arm(method, when);
      drops.push("file-1.csv");
      await settle(d, clock);
      await settle(d, clock);
      assert.deepEqual(executed, ["bronze", "stg", "mart"], what);
      const runs = await store.listRuns({ tags: { sensor: AUTOMATION_SENSOR } });
      assert.equal(runs.length, 1, `one automated run (${what})`);
    });
  }
});

Deno.test("automation: an upstream materialized by another process wakes the daemon at once, not at its next interval", async () => {
  const { executed, graph } = world();
  const store = new MemoryRunStore();
  const controller = new AbortController();
  // A tick interval no test waits out: only the feed watch can bring the downstream run.
  const d = new SensorDaemon(graph, {
    runStore: store,
    daemonId: "d1",
    intervalMs: 600_000,
    automationWatchMs: 20,
    signal: controller.signal,
  });
  const loop = d.run();
  try {
    await until(async () => (await store.getCursor(AUTOMATION_SENSOR)) !== undefined);
    const { materialize } = await import("../../../core/executor.ts");
    await materialize(graph, { selection: "bronze", runStore: store }); // another process
    await until(async () =>
      (await store.listRuns({ tags: { sensor: AUTOMATION_SENSOR } }))
        .some((r) => r.status === "success")
    );
    assert.deepEqual(executed, ["bronze", "stg", "mart"]);
  } finally {
    controller.abort();
    await loop;
  }
});

/** Waits (real time, generous deadline for a loaded machine) until `ok`. */
async function until(ok: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
