/**
 * Alerts across a real daemon handover: daemon process A starts delivering a
 * failure notification and is killed with SIGKILL at the moment of sending —
 * when its connection reaches the webhook (nothing received yet), or once
 * the webhook has the whole request (A never learns) — then daemon process B
 * (the standby that takes over, on the same SQLite run store) finishes the
 * job. With at-least-once a kill before the request arrived costs nothing
 * (sent once, by B) and a kill after costs a duplicate with the same
 * Idempotency-Key; with at-most-once B never sends what A may have sent.
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import type { DeliveryGuarantee } from "../../../core/automation/alerts.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { materialize } from "../../../core/executor.ts";
import type { StoredAutomationRecord } from "../../../core/run_store/types.ts";
import { SqliteRunStore } from "../../../resources/run_store/sqlite.ts";

const SCRIPT = new URL("./_alert_daemon.ts", import.meta.url).pathname;

/** A request a webhook endpoint got whole. */
interface Received {
  readonly key: string | null;
  readonly body: { id?: string };
}

/** Starts daemon `id`; resolves once it printed `ready`. */
async function startDaemon(db: string, url: string, delivery: DeliveryGuarantee, id: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SCRIPT, db, url, delivery, id],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) {
      const err = await new Response(child.stderr).text();
      throw new Error(`daemon ${id} ended before it was ready:\n${out}\n${err}`);
    }
    out += value;
  }
  // Keep draining, so the child never blocks on a full pipe.
  const drained = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  const stderr = new Response(child.stderr).text();
  return { child, drained, stderr };
}

/**
 * Endpoint A sees: on a connection, `kill` at once (`connect`), or after
 * reading the whole request (`request`, recorded in `received`).
 */
function killingEndpoint(when: "connect" | "request", kill: () => void) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const received: Received[] = [];
  const done = (async () => {
    for await (const conn of listener) {
      if (when === "connect") {
        kill();
        conn.close();
        continue;
      }
      const buffer = new Uint8Array(1 << 16);
      let text = "";
      for (;;) {
        const n = await conn.read(buffer).catch(() => null);
        if (n === null) break;
        text += new TextDecoder().decode(buffer.subarray(0, n));
        const [head = "", body = ""] = text.split("\r\n\r\n");
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? Number.NaN);
        if (new TextEncoder().encode(body).length >= length) {
          received.push({
            key: /idempotency-key: (.+)\r/i.exec(head)?.[1] ?? null,
            body: JSON.parse(body),
          });
          break;
        }
      }
      kill(); // the webhook has it; the sender never hears back
      conn.close();
    }
  })().catch(() => {});
  return {
    url: `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/hook`,
    received,
    async close() {
      listener.close();
      await done;
    },
  };
}

/** Endpoint B sees: a plain webhook answering 200. */
function webhook() {
  const received: Received[] = [];
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (r) => {
    received.push({ key: r.headers.get("idempotency-key"), body: await r.json() });
    return new Response("ok");
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}/hook`,
    received,
    close: () => server.shutdown(),
  };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 120_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function handover(when: "connect" | "request", delivery: DeliveryGuarantee) {
  const dir = await Deno.makeTempDir({ prefix: "alert_handover_" });
  const db = `${dir}/runs.db`;
  await using store = SqliteRunStore.open(db);
  let a: Awaited<ReturnType<typeof startDaemon>> | undefined;
  const endpointA = killingEndpoint(when, () => {
    try {
      a?.child.kill("SIGKILL");
    } catch { /* already gone */ }
  });
  const endpointB = webhook();
  try {
    a = await startDaemon(db, endpointA.url, delivery, "a");
    // A's alert cursor is stored: failures from now on are notified.
    await until(
      "A's first tick",
      async () => (await store.getCursor("on_run_failure")) ?? undefined,
    );
    const graph = defineGraph({
      assets: [defineAsset({
        key: "mart",
        materialize: () => {
          throw new Error("boom");
        },
      })],
    });
    const failed = await materialize(graph, { runStore: store });
    assert.equal(failed.status, "failed");
    const status = await a.child.status;
    assert.equal(status.signal, "SIGKILL", "A was killed at the moment of sending");
    await a.drained;
    await a.stderr;
    // The standby takes over (same host: A's pid is gone, no waiting out a lease).
    const b = await startDaemon(db, endpointB.url, delivery, "b");
    try {
      const records = await until("a final record", async () => {
        const all = (await store.listAutomationRecords({ kind: "notification" })).reverse();
        return all.some((r) => r.data.status === "sent" || r.data.status === "failed")
          ? all
          : undefined;
      });
      return { records, a: endpointA.received, b: endpointB.received, runId: failed.runId };
    } finally {
      b.child.kill("SIGTERM");
      await b.child.status;
      await b.drained;
      await b.stderr;
    }
  } finally {
    try {
      a?.child.kill("SIGKILL");
    } catch { /* gone */ }
    await endpointA.close();
    await endpointB.close();
    await Deno.remove(dir, { recursive: true });
  }
}

/** `pid:status` of each record, for messages. */
function trail(records: readonly StoredAutomationRecord[]): string[] {
  return records.map((r) =>
    `${(r.data.holder as { pid?: number } | undefined)?.pid}:${r.data.status}`
  );
}

Deno.test("kill -9 of the sending daemon before the webhook got the request: sent once, by the standby", async () => {
  const { records, a, b, runId } = await handover("connect", "at-least-once");
  assert.equal(a.length, 0, "nothing reached the webhook from A");
  assert.equal(b.length, 1);
  assert.equal(b[0]?.key, `run:${runId}:failed:hook`);
  assert.equal(records.at(-1)?.data.status, "sent", trail(records).join());
  assert.equal(records.filter((r) => r.data.status === "sent").length, 1);
  assert.ok(records.some((r) => r.data.takeover === 2), "B took the delivery over");
});

Deno.test("kill -9 of the sending daemon after the webhook got the request: at-least-once repeats it with the same key", async () => {
  const { a, b, runId } = await handover("request", "at-least-once");
  assert.equal(a.length, 1);
  assert.equal(b.length, 1);
  assert.equal(a[0]?.key, `run:${runId}:failed:hook`);
  assert.equal(b[0]?.key, a[0]?.key, "the receiver can drop the repeat");
  assert.equal(b[0]?.body.id, a[0]?.body.id);
});

Deno.test("kill -9 of the sending daemon after the webhook got the request: at-most-once never repeats it", async () => {
  const { records, a, b } = await handover("request", "at-most-once");
  assert.equal(a.length, 1);
  assert.equal(b.length, 0);
  assert.equal(records.at(-1)?.data.status, "failed", trail(records).join());
  assert.match(String(records.at(-1)?.data.error), /delivery unknown/);
  assert.ok(!records.some((r) => r.data.status === "sent"));
});
