/**
 * A separate process for the multi-process run store tests. It opens the
 * store at URL, prints `{"ready":true}`, waits for a line on stdin (so two
 * processes start together), does MODE, prints one JSON result line and exits.
 *
 * Usage: deno run -A _writer.ts URL MODE WRITER COUNT [SCHEMA]
 *
 * SCHEMA is the Postgres schema (default `ops`); SQLite ignores it.
 *
 * - `write`: records runs 0..COUNT-1 of WRITER (see `_workload.ts`);
 *   prints the time window it wrote in.
 * - `claim`: claims run keys `k0..k{COUNT-1}` of sensor `race` for runs of
 *   WRITER (`w1` upwards, others downwards); prints every claim, by key.
 * - `read`: prints what the store holds for runs 0..COUNT-1 of WRITER.
 *
 * @module
 */

import { openRunStore } from "../../../resources/run_store/mod.ts";
import { runIdOf, writeWorkload } from "./_workload.ts";

const [url, mode, writer, countText, schema = "ops"] = Deno.args;
if (!url || !mode || !writer || !countText) {
  throw new TypeError("usage: _writer.ts URL write|claim|read WRITER COUNT");
}
const count = Number(countText);
await using store = await openRunStore(url, { busyTimeoutMs: 30_000, schema });
console.log(JSON.stringify({ ready: true }));
await waitForGo();

if (mode === "write") {
  const start = Date.now();
  await writeWorkload(store, writer, count);
  console.log(JSON.stringify({ start, end: Date.now() }));
} else if (mode === "claim") {
  // w1 claims upwards and w2 downwards, so the two meet on keys in flight at once.
  const order = Array.from({ length: count }, (_, i) => i);
  if (writer !== "w1") order.reverse();
  const claims = [];
  for (const i of order) {
    claims.push({
      key: `k${i}`,
      ...(await store.claimRunKey("race", `k${i}`, runIdOf(writer, i))),
    });
  }
  claims.sort((a, b) => Number(a.key.slice(1)) - Number(b.key.slice(1)));
  console.log(JSON.stringify(claims));
} else if (mode === "read") {
  const runs = [];
  for (let i = 0; i < count; i++) {
    const runId = runIdOf(writer, i);
    runs.push({
      run: await store.getRun(runId),
      steps: await store.listSteps(runId),
      events: (await store.listEvents(runId)).map(({ id: _id, ...event }) => event),
    });
  }
  console.log(JSON.stringify({
    runs,
    shared: await store.lastMaterialization("shared"),
    total: (await store.listRuns({ limit: 1_000_000 })).length,
  }));
} else {
  throw new TypeError(`unknown mode '${mode}'`);
}

async function waitForGo(): Promise<void> {
  const reader = Deno.stdin.readable.getReader();
  try {
    await reader.read();
  } finally {
    reader.releaseLock();
  }
}
