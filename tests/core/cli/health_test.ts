/**
 * The health endpoint of `sensor` and `worker`: `/livez` follows the main
 * loop (waiting counts as live; a loop that stalled is not), `/readyz` also
 * needs the run store to answer within the timeout. What a kubelet or a
 * Compose healthcheck reads.
 */

import assert from "node:assert/strict";
import { HealthState, openHealth, serveHealth } from "../../../core/cli/health.ts";
import { FakeClock } from "../../../core/testing.ts";

async function get(
  port: number,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: response.status, body: await response.json() };
}

Deno.test("health: waiting is live but not ready; ticking with a store that answers is both", async () => {
  const clock = new FakeClock();
  const state = new HealthState(clock);
  await using server = serveHealth(state, { hostname: "127.0.0.1", port: 0, staleAfterMs: 60_000 });
  assert.equal((await get(server.port, "/livez")).status, 200);
  const notReady = await get(server.port, "/readyz");
  assert.equal(notReady.status, 503);
  assert.match(String(notReady.body.problem), /run store is not open yet/);
  state.watchStore(() => Promise.resolve([]));
  assert.equal((await get(server.port, "/readyz")).status, 503, "still waiting");
  state.beat();
  const ready = await get(server.port, "/readyz");
  assert.equal(ready.status, 200);
  assert.deepEqual(ready.body, {
    status: "ok",
    loop_age_ms: 0,
    waiting: false,
    store: { reachable: true },
  });
});

Deno.test("health: a loop that stalled past staleAfterMs is neither live nor ready", async () => {
  const clock = new FakeClock();
  const state = new HealthState(clock);
  state.watchStore(() => Promise.resolve([]));
  await using server = serveHealth(state, { hostname: "127.0.0.1", port: 0, staleAfterMs: 5_000 });
  state.beat();
  clock.advance(5_000);
  assert.equal((await get(server.port, "/livez")).status, 200);
  clock.advance(1);
  const live = await get(server.port, "/livez");
  assert.equal(live.status, 503);
  assert.equal(live.body.status, "unhealthy");
  assert.match(String(live.body.problem), /main loop has not gone round for 5001 ms/);
  assert.equal((await get(server.port, "/readyz")).status, 503);
  state.beat();
  assert.equal((await get(server.port, "/livez")).status, 200);
});

Deno.test("health: a run store that refuses or does not answer makes it unready, still live", async () => {
  const clock = new FakeClock();
  const state = new HealthState(clock);
  await using server = serveHealth(state, {
    hostname: "127.0.0.1",
    port: 0,
    staleAfterMs: 60_000,
    timeoutMs: 200,
  });
  state.beat();
  state.watchStore(() => Promise.reject(new Error("connect ECONNREFUSED 127.0.0.1:5432")));
  const refused = await get(server.port, "/readyz");
  assert.equal(refused.status, 503);
  assert.deepEqual(refused.body.store, {
    reachable: false,
    error: "connect ECONNREFUSED 127.0.0.1:5432",
  });
  assert.equal((await get(server.port, "/livez")).status, 200, "a restart would not help");
  let release = () => {};
  state.watchStore(() => new Promise<void>((resolve) => (release = resolve)));
  const started = performance.now();
  const hung = await get(server.port, "/readyz");
  release();
  assert.equal(hung.status, 503);
  assert.match(String((hung.body.store as { error: string }).error), /no answer within 200 ms/);
  assert.ok(performance.now() - started < 2_000);
});

Deno.test("health: other paths and methods are refused; a port in use names the variables", async () => {
  const state = new HealthState();
  await using server = serveHealth(state, { hostname: "127.0.0.1", port: 0, staleAfterMs: 60_000 });
  const missing = await fetch(`http://127.0.0.1:${server.port}/`);
  await missing.body?.cancel();
  assert.equal(missing.status, 404);
  const posted = await fetch(`http://127.0.0.1:${server.port}/livez`, { method: "POST" });
  await posted.body?.cancel();
  assert.equal(posted.status, 405);
  assert.throws(
    () => openHealth({ hostname: "127.0.0.1", port: server.port, staleAfterMs: 60_000 }),
    (error: Error & { code?: string }) => {
      assert.equal(error.code, "health.listen_failed");
      assert.match(error.message, /127\.0\.0\.1:\d+ \(HEALTH_HOST, HEALTH_PORT\)/);
      return true;
    },
  );
  await using off = openHealth(undefined);
  assert.equal(off.server, undefined);
});
