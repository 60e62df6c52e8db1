/**
 * `dev` with a run queue: the UI launches to the queue, and the same process
 * leads the daemon and the coordinator and runs a worker, so a run launched
 * from the UI executes with no other process (like `dagster dev`); Ctrl-C
 * stops it all with exit 0.
 */

import { assertEquals, assertMatch } from "./_assert.ts";
import type { CliApp } from "../../core/cli/app.ts";
import { memoryIo } from "../../core/cli/io.ts";
import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { MemoryRunQueue } from "../../core/worker/memory_queue.ts";
import type { RunQueue } from "../../core/worker/queue.ts";
import { uiCommand } from "../../ui/serve.ts";

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 60_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("dev with a queue: a run launched from the UI is queued, admitted and executed in the same process", async () => {
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "raw", materialize: () => ({ rows: 1 }) }),
      defineAsset({ key: "mart", deps: ["raw"], materialize: () => ({ rows: 2 }) }),
    ],
  });
  const store = new MemoryRunStore();
  const queue = new MemoryRunQueue();
  let opened = 0;
  // Every openQueue is a new handle on the one queue (as on Postgres), closed by its opener.
  const handle = (): RunQueue => {
    opened++;
    return new Proxy(queue, {
      get(target, key) {
        if (key === Symbol.asyncDispose) return () => Promise.resolve();
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  };
  const app: CliApp<Record<string, never>> = {
    name: "test",
    loadGraph: () => Promise.resolve(graph),
    openRunStore: () => Promise.resolve(store),
    openQueue: () => Promise.resolve(handle()),
    sensorIntervalMs: () => 50,
    heartbeatIntervalMs: () => 200,
  };
  const io = memoryIo();
  const stop = new AbortController();
  const exit = uiCommand(
    app,
    { sources: () => Promise.resolve({ sources: {}, secrets: [], token: undefined }) },
    ["--port", "0"],
    io,
    { signal: stop.signal, daemon: true },
  );
  try {
    await until("UI_URL", () => io.stdout.includes("UI_URL="));
    const url = /UI_URL=(\S+)/.exec(io.stdout)?.[1] as string;
    assertMatch(io.stdout, /runs go to the queue memory/);
    const res = await fetch(`${url}/actions/launch`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: url },
      body: JSON.stringify({ selection: "+mart" }),
    });
    const { runId, state } = await res.json();
    assertEquals(state, "queued");
    await until(
      "the queued run to succeed",
      async () => (await store.getRun(runId))?.status === "success",
    );
    assertEquals((await queue.get(runId))?.state, "finished");
    assertEquals(opened, 2, "one handle for the UI, one for the daemon's coordinator");
  } finally {
    stop.abort();
    assertEquals(await exit, 0);
    await queue[Symbol.asyncDispose]();
  }
});
