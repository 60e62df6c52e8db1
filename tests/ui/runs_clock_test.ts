/**
 * The runs pages take time from the UI's clock (core/clock.ts), never from
 * the wall clock: a running run's and step's duration move with a FakeClock.
 */

import { assertMatch } from "./_assert.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { FakeClock } from "../../core/testing.ts";
import { serveUi } from "../../ui/serve.ts";
import { fixtureGraph } from "./_fixture.ts";

// Far from the wall clock: a page that read Date.now() would show years, not minutes.
const T0 = Date.parse("2031-03-01T12:00:00Z");

Deno.test("runs pages: a running run's and step's durations come from the UI's clock", async () => {
  const { graph, release } = fixtureGraph();
  const store = new MemoryRunStore();
  await store.createRun({
    runId: "run-clock",
    status: "running",
    selection: "raw_events",
    partitions: null,
    tags: {},
    startedAt: T0,
    finishedAt: null,
    errorSummary: null,
  });
  await store.putStep({
    runId: "run-clock",
    assetKey: "raw_events",
    partition: null,
    status: "running",
    attempts: 1,
    startedAt: T0 + 30_000,
    finishedAt: null,
    reason: null,
  });
  const clock = new FakeClock(T0 + 90_000);
  await using server = await serveUi({ graph, store, port: 0, clock });
  try {
    const list = await (await fetch(`${server.url}/runs`)).text();
    assertMatch(list, /data-run="run-clock"[\s\S]*?<td>1 m 30 s<\/td>/);
    clock.advance(60_000);
    const page = await (await fetch(`${server.url}/runs/run-clock`)).text();
    assertMatch(page, /running for 2 m 30 s/);
    assertMatch(page, /data-step="raw_events"[\s\S]*?<td>2 m 00 s<\/td>/);
    const fragment = await (await fetch(`${server.url}/runs?fragment=list`)).text();
    assertMatch(fragment, /<td>2 m 30 s<\/td>/);
  } finally {
    release();
  }
});
