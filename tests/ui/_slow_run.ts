/**
 * Another process running a run, for the cross-process cancel test: runs
 * asset `slow` (which waits until canceled) with run id `Deno.args[1]` on the
 * SQLite run store at `Deno.args[0]`, heartbeating every 100 ms, and prints
 * `STARTED` once the run is recorded; exits 0 when canceled, 1 otherwise.
 *
 *     deno run -A tests/ui/_slow_run.ts RUNS_DB RUN_ID
 *
 * @module
 */

import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { materialize } from "../../core/executor.ts";
import { SqliteRunStore } from "../../resources/run_store/sqlite.ts";

const [path, runId] = Deno.args;
if (!path || !runId) {
  console.error("usage: _slow_run.ts RUNS_DB RUN_ID");
  Deno.exit(2);
}
const graph = defineGraph({
  assets: [defineAsset({
    key: "slow",
    materialize: (ctx) =>
      new Promise((_, reject) => {
        const timer = setTimeout(() => reject(new Error("never canceled")), 60_000);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          reject(ctx.signal.reason);
        }, { once: true });
      }),
  })],
});
await using store = SqliteRunStore.open(path);
const result = await materialize(graph, {
  runId,
  runStore: store,
  heartbeatIntervalMs: 100,
  onEvent: (event) => {
    if (event.type === "run_started") console.log("STARTED");
  },
});
console.log(`ENDED ${result.status}`);
Deno.exit(result.status === "canceled" ? 0 : 1);
