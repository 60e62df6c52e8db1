/**
 * Cancel from the UI reaches a run of another process: the request goes
 * through the run store and the run's owner (a real subprocess here) stops
 * it at its next heartbeat; the run page shows the request, then the end.
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { SqliteRunStore } from "../../resources/run_store/sqlite.ts";
import { serveUi } from "../../ui/serve.ts";
import { fixtureGraph } from "./_fixture.ts";

const SLOW_RUN = new URL("./_slow_run.ts", import.meta.url).pathname;

async function until<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  // Ends when the probe answers; the deadline is for a loaded CI machine only.
  const deadline = Date.now() + 120_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("cancel from the UI stops a run executing in another process", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ui-cancel-" });
  const path = `${dir}/runs.db`;
  const runId = crypto.randomUUID();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SLOW_RUN, path, runId],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let printed = "";
  const stderr = new Response(child.stderr).text();
  try {
    while (!printed.includes("STARTED")) {
      const { value, done } = await out.read();
      if (done) throw new Error(`the run's process ended early: ${printed} ${await stderr}`);
      printed += value;
    }
    await using store = SqliteRunStore.open(path);
    const { graph } = fixtureGraph();
    await using server = await serveUi({ graph, store, port: 0 });
    const run = await store.getRun(runId);
    assertEquals(run?.owner?.pid, child.pid, "the other process owns it");

    const before = await (await fetch(`${server.url}/runs/${runId}`)).text();
    assertMatch(before, /<button class="danger" type="submit"\s+title="ask its process/);
    const api = await (await fetch(`${server.url}/api/runs/${runId}`)).json();
    assertEquals([api.cancelable, api.launchedHere], [true, false]);

    const res = await fetch(`${server.url}/actions/runs/${runId}/cancel`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.url },
    });
    assertEquals(res.status, 202);
    assertEquals((await res.json()).outcome, "requested");
    const canceled = await until(async () => {
      const r = await store.getRun(runId);
      return r?.status === "canceled" ? r : undefined;
    }, "the other process to cancel the run");
    assertEquals(canceled.cancelReason, "canceled from the UI");
    assertMatch(canceled.errorSummary ?? "", /cancel/);
    const status = await child.status;
    assertEquals(status.code, 0, `${printed} ${await stderr}`);
    const steps = await store.listSteps(runId);
    assertEquals(steps.map((s) => [s.assetKey, s.status]), [["slow", "canceled"]]);
    const after = await (await fetch(`${server.url}/runs/${runId}`)).text();
    assert(after.includes('data-status="canceled"'));
    assert(after.includes("requested") && after.includes("canceled from the UI"));
    const again = await fetch(`${server.url}/actions/runs/${runId}/cancel`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: server.url },
    });
    assertEquals(again.status, 409);
    await again.body?.cancel();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already ended
    }
    await child.status;
    await out.cancel().catch(() => {});
    await stderr.catch(() => "");
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cancel refuses a run recorded without an owner: no process could be asked", async () => {
  const { graph } = fixtureGraph();
  const { MemoryRunStore } = await import("../../core/run_store/memory.ts");
  await using store = new MemoryRunStore();
  await store.createRun({
    runId: "legacy",
    status: "running",
    selection: "",
    partitions: null,
    tags: {},
    startedAt: Date.now(),
    finishedAt: null,
    errorSummary: null,
  });
  await using server = await serveUi({ graph, store, port: 0 });
  const page = await (await fetch(`${server.url}/runs/legacy`)).text();
  assertMatch(page, /<button class="danger" type="submit" disabled/);
  const res = await fetch(`${server.url}/actions/runs/legacy/cancel`, {
    method: "POST",
    headers: { "content-type": "application/json", origin: server.url },
  });
  assertEquals(res.status, 409);
  assertEquals((await res.json()).error, "no_owner");
});
