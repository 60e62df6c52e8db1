/**
 * The UI starts reading the run index, the asset states and the layout when
 * it starts, so the first visit of a big graph finds them ready; a warm-up
 * that fails is logged and the first page tries again.
 */

import { assert, assertEquals, assertMatch } from "./_assert.ts";
import { createLogger, type LogRecord } from "../../core/logger.ts";
import { serveUi } from "../../ui/serve.ts";
import { fixtureGraph, ranStore } from "./_fixture.ts";

Deno.test("warm-up: the index is read before any page is asked for", async () => {
  const { graph, release } = fixtureGraph();
  const store = await ranStore(graph);
  await using server = await serveUi({ graph, store, port: 0 });
  try {
    await server.context.warm();
    assertEquals(server.context.index.size, 2, "both runs indexed without a request");
  } finally {
    release();
  }
});

Deno.test("warm-up: a store that fails is logged, and the first page reads it again", async () => {
  const { graph, release } = fixtureGraph();
  const store = await ranStore(graph);
  let fail = true;
  const listRuns = store.listRuns.bind(store);
  store.listRuns = (options) =>
    fail ? Promise.reject(new Error("run store down for maintenance")) : listRuns(options);
  const lines: LogRecord[] = [];
  await using server = await serveUi({
    graph,
    store,
    port: 0,
    log: createLogger((r) => lines.push(r)),
  });
  try {
    await server.context.warm();
    assert(lines.some((l) => l.level === "warn" && /run store down/.test(l.message)));
    fail = false;
    const page = await fetch(`${server.url}/assets`);
    assertEquals(page.status, 200);
    // Read again at once (the failed warm-up is not reused): the runs' states show.
    // Each state's count is a link to its list.
    assertMatch(await page.text(), /5 assets in 2 group\(s\): .*>\d+ materialized<\/a>/);
  } finally {
    release();
  }
});
