/**
 * Alerts across a daemon handover: two daemons share one run store; the one
 * sending a notification is killed (everything it would do after that moment
 * never reaches the store or the receiver, as with kill -9) at each step of a
 * delivery — before its claim, between claim and record, between record and
 * send, in the middle of the send — and the other takes over. Each
 * notification reaches the receiver exactly once, except a kill in the middle
 * of the send: at-least-once sends it again (same idempotency key), at-most-once
 * records it failed ("delivery unknown") and never sends it twice.
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { type DeliveryGuarantee, onRunFailure } from "../../../core/automation/alerts.ts";
import type { Notification, Notifier } from "../../../core/automation/notification.ts";
import { SensorDaemon } from "../../../core/daemon.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { materialize } from "../../../core/executor.ts";
import type { HostView } from "../../../core/owner.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import type { RunOwner, RunStore } from "../../../core/run_store/types.ts";
import { FakeClock } from "../../../core/testing.ts";

const T0 = Date.parse("2024-05-10T12:00:00Z");
const A: RunOwner = { instanceId: "daemon-a", host: "host-1", pid: 1001 };
const B: RunOwner = { instanceId: "daemon-b", host: "host-1", pid: 1002 };

/** Where in a delivery daemon A dies. */
type KillPoint =
  | "before_claim"
  | "after_claim"
  | "after_record"
  | "during_send"
  | "none";

/** A process that can die: once dead, nothing it does reaches the store or the receiver. */
class Process {
  dead = false;
  kill(): void {
    this.dead = true;
  }
  /** `store` as this process sees it; `trigger` decides, per call, to die just before it. */
  store(store: RunStore, trigger: (method: string, args: unknown[]) => boolean): RunStore {
    return new Proxy(store, {
      get: (target, prop) => {
        const value = Reflect.get(target, prop, target);
        if (typeof value !== "function") return value;
        return (...args: unknown[]) => {
          if (!this.dead && trigger(String(prop), args)) this.kill();
          if (this.dead) return Promise.reject(new Error("killed (-9)"));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
  }
}

/** The receiving end (a webhook), shared by both daemons' notifiers. */
type Inbox = Notification[];

function notifier(inbox: Inbox, process: Process, point: KillPoint): Notifier {
  return {
    name: "hook",
    description: "loopback hook",
    send(n) {
      if (process.dead) return Promise.reject(new Error("killed (-9)"));
      if (point === "after_record") {
        process.kill(); // recorded pending, about to send
        return Promise.reject(new Error("killed (-9)"));
      }
      inbox.push(n);
      if (point === "during_send") {
        process.kill(); // the receiver has it; the sender never learns
        return Promise.reject(new Error("killed (-9)"));
      }
      return Promise.resolve();
    },
  };
}

function daemonGraph(
  inbox: Inbox,
  process: Process,
  point: KillPoint,
  owner: RunOwner,
  host: HostView,
  delivery: DeliveryGuarantee,
) {
  const alert = onRunFailure({ owner, host, delivery, staleClaimMs: 60_000, retryDelayMs: 100 });
  const graph = defineGraph<{ notifiers: readonly Notifier[] }>({
    assets: [defineAsset({
      key: "mart",
      materialize: () => {
        throw new Error("relation raw.raw_weather does not exist");
      },
    })],
    sensors: [alert],
    resources: { notifiers: [notifier(inbox, process, point)] },
  });
  return { graph, alert };
}

async function handover(
  point: KillPoint,
  options: { delivery?: DeliveryGuarantee; otherHost?: boolean } = {},
) {
  const delivery = options.delivery ?? "at-least-once";
  const shared = new MemoryRunStore();
  const clock = new FakeClock(T0);
  const inbox: Inbox = [];
  const a = new Process();
  const ownerA = options.otherHost ? { ...A, host: "host-2" } : A;
  const viewA: HostView = { self: ownerA, pidExists: () => true };
  const viewB: HostView = { self: B, pidExists: (pid) => !(pid === A.pid && a.dead) };
  let armed = false;
  const storeA = a.store(shared, (method, args) => {
    if (!armed) return false;
    if (point === "before_claim") return method === "claimRunKey";
    const recording = (status: string) =>
      method === "appendAutomationRecords" &&
      (args[0] as { kind: string; data: { status?: string } }[])
        .some((r) => r.kind === "notification" && r.data.status === status);
    if (point === "after_claim") return recording("pending");
    // at-most-once records `sending` before the attempt: dying before that is before the send.
    if (point === "after_record") return recording("sending");
    return false;
  });
  const one = daemonGraph(inbox, a, point, ownerA, viewA, delivery);
  const two = daemonGraph(inbox, new Process(), "none", B, viewB, delivery);
  const da = new SensorDaemon(one.graph, {
    runStore: storeA,
    clock,
    daemonId: "a",
    owner: ownerA,
    host: viewA,
  });
  // A killed process closes nothing; the test still frees its timers (its store refuses).
  await using _closeA = { [Symbol.asyncDispose]: () => da.close().catch(() => {}) };
  await using db = new SensorDaemon(two.graph, {
    runStore: shared,
    clock,
    daemonId: "b",
    owner: B,
    host: viewB,
  });
  // Both up: the alert cursors start at the end of the feed.
  clock.advance(1000);
  await da.tick();
  await db.tick();
  const failed = await materialize(one.graph, { runStore: shared, clock });
  assert.equal(failed.status, "failed");
  // A notices first, and dies where the test says.
  armed = true;
  clock.advance(1000);
  await da.tick();
  await Promise.race([one.alert.idle(), new Promise((r) => setTimeout(r, 50))]);
  assert.equal(a.dead, point !== "none", "daemon A died at the kill point");
  // B carries on (A, dead, never ticks again).
  for (let i = 0; i < 4; i++) {
    clock.advance(options.otherHost ? 30_000 : 1000);
    await db.tick();
    await two.alert.idle();
  }
  const records = (await shared.listAutomationRecords({ kind: "notification" })).reverse();
  return { inbox, records, runId: failed.runId };
}

for (
  const point of ["before_claim", "after_claim", "after_record", "none"] as const
) {
  for (const delivery of ["at-least-once", "at-most-once"] as const) {
    Deno.test(`handover, A killed ${point.replace("_", " ")} (${delivery}): sent exactly once`, async () => {
      const { inbox, records, runId } = await handover(point, { delivery });
      assert.equal(inbox.length, 1, inbox.map((n) => n.id).join(", "));
      assert.equal(inbox[0]?.runId, runId);
      assert.equal(inbox[0]?.id, `run:${runId}:failed:hook`, "the idempotency key");
      const finals = records.filter((r) => r.data.status === "sent" || r.data.status === "failed");
      assert.deepEqual(finals.map((r) => r.data.status), ["sent"]);
      assert.equal(
        (finals[0]?.data.holder as { instanceId: string }).instanceId,
        point === "none" ? "daemon-a" : "daemon-b",
      );
    });
  }
}

Deno.test("handover, A killed in the middle of the send, at-least-once: sent again with the same idempotency key", async () => {
  const { inbox, records } = await handover("during_send", { delivery: "at-least-once" });
  assert.equal(inbox.length, 2, "the receiver may get it twice");
  assert.equal(inbox[0]?.id, inbox[1]?.id, "with one key, so it can drop the second");
  const statuses = records.map((r) =>
    `${(r.data.holder as { instanceId: string }).instanceId}:${r.data.status}`
  );
  assert.deepEqual(statuses, ["daemon-a:pending", "daemon-b:pending", "daemon-b:sent"]);
  assert.equal(records[1]?.data.takeover, 2);
});

Deno.test("handover, A killed in the middle of the send, at-most-once: never sent twice, recorded as unknown", async () => {
  const { inbox, records } = await handover("during_send", { delivery: "at-most-once" });
  assert.equal(inbox.length, 1);
  const statuses = records.map((r) =>
    `${(r.data.holder as { instanceId: string }).instanceId}:${r.data.status}`
  );
  assert.deepEqual(statuses, ["daemon-a:pending", "daemon-a:sending", "daemon-b:failed"]);
  assert.match(String(records.at(-1)?.data.error), /delivery unknown.*at-most-once/);
});

Deno.test("handover to a daemon on another host: it waits out the holder's silence (staleClaimMs), then sends once", async () => {
  const { inbox, records } = await handover("after_record", { otherHost: true });
  assert.equal(inbox.length, 1);
  const pending = records.filter((r) => r.data.status === "pending");
  const sent = records.find((r) => r.data.status === "sent");
  assert.equal(pending.length, 2);
  // B took over only once A had been silent for the stale time.
  assert.ok((sent?.time ?? 0) - (pending[0]?.time ?? 0) >= 60_000, JSON.stringify(records));
});

Deno.test("a live daemon's delivery is not taken over, however slow its notifier", async () => {
  const shared = new MemoryRunStore();
  const clock = new FakeClock(T0);
  const inbox: Inbox = [];
  const answer = Promise.withResolvers<void>();
  const viewA: HostView = { self: A, pidExists: () => true };
  const viewB: HostView = { self: B, pidExists: () => true };
  const slow: Notifier = {
    name: "hook",
    description: "slow hook",
    send: (n) => answer.promise.then(() => void inbox.push(n)),
  };
  const make = (owner: RunOwner, host: HostView, n: Notifier) => {
    const alert = onRunFailure({ owner, host, staleClaimMs: 60_000 });
    const graph = defineGraph<{ notifiers: readonly Notifier[] }>({
      assets: [defineAsset({
        key: "mart",
        materialize: () => {
          throw new Error("boom");
        },
      })],
      sensors: [alert],
      resources: { notifiers: [n] },
    });
    return { graph, alert };
  };
  const one = make(A, viewA, slow);
  const two = make(B, viewB, notifier(inbox, new Process(), "none"));
  await using da = new SensorDaemon(one.graph, { runStore: shared, clock, daemonId: "a" });
  await using db = new SensorDaemon(two.graph, { runStore: shared, clock, daemonId: "b" });
  clock.advance(1000);
  await da.tick();
  await db.tick();
  await materialize(one.graph, { runStore: shared, clock });
  clock.advance(1000);
  await da.tick();
  for (let i = 0; i < 3; i++) {
    clock.advance(1000);
    await db.tick();
  }
  assert.equal(inbox.length, 0, "B leaves A's delivery alone");
  answer.resolve();
  await one.alert.idle();
  assert.equal(inbox.length, 1);
});

Deno.test("two daemons in one process, each with its own alert sensor, ticking together: sent once", async () => {
  const shared = new MemoryRunStore();
  const clock = new FakeClock(T0);
  const inbox: Inbox = [];
  const make = () => {
    const alert = onRunFailure(); // default owner: the same process for both
    const graph = defineGraph<{ notifiers: readonly Notifier[] }>({
      assets: [defineAsset({
        key: "mart",
        materialize: () => {
          throw new Error("boom");
        },
      })],
      sensors: [alert],
      resources: { notifiers: [notifier(inbox, new Process(), "none")] },
    });
    return { graph, alert };
  };
  const one = make();
  const two = make();
  await using da = new SensorDaemon(one.graph, { runStore: shared, clock, daemonId: "a" });
  await using db = new SensorDaemon(two.graph, { runStore: shared, clock, daemonId: "b" });
  clock.advance(1000);
  await Promise.all([da.tick(), db.tick()]);
  await materialize(one.graph, { runStore: shared, clock });
  for (let i = 0; i < 3; i++) {
    clock.advance(1000);
    await Promise.all([da.tick(), db.tick()]);
  }
  await Promise.all([one.alert.idle(), two.alert.idle()]);
  assert.equal(inbox.length, 1, inbox.map((n) => n.id).join(", "));
});
