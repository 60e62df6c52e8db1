/**
 * Asset states of a big graph cost no store lookup per asset when the run
 * index holds every run: an asset the index never saw was never materialized.
 */

import { assertEquals } from "./_assert.ts";
import type { Materialization } from "../../core/asset.ts";
import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import type { Graph } from "../../core/graph.ts";
import { materialize } from "../../core/executor.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { assetStatuses } from "../../ui/asset_status.ts";
import { RunIndex } from "../../ui/run_index.ts";

class CountingStore extends MemoryRunStore {
  lookups = 0;
  override lastMaterialization(
    assetKey: string,
    partition?: string | null,
  ): Promise<Materialization | undefined> {
    this.lookups++;
    return super.lastMaterialization(assetKey, partition);
  }
}

Deno.test("asset states: a complete index answers 'never materialized' without asking the store; an incomplete one asks", async () => {
  const graph = defineGraph({
    assets: Array.from(
      { length: 300 },
      (_, i) => defineAsset({ key: `a${i}`, materialize: () => {} }),
    ),
  }) as Graph<unknown>;
  const store = new CountingStore();
  await materialize(graph, { runStore: store, selection: "a0" });
  const complete = new RunIndex(store);
  await complete.refresh(true);
  const states = await assetStatuses(graph, complete, store, { now: Date.now() });
  assertEquals(store.lookups, 0);
  assertEquals([states.get("a0")?.state, states.get("a1")?.state], ["materialized", "never"]);

  // An index that holds only the newest run may miss older materializations: it asks.
  await materialize(graph, { runStore: store, selection: "a2" });
  const partial = new RunIndex(store, { maxRuns: 1 });
  await partial.refresh(true);
  store.lookups = 0;
  const older = await assetStatuses(graph, partial, store, { now: Date.now() });
  assertEquals(older.get("a0")?.state, "materialized", "found in the store, outside the window");
  assertEquals(store.lookups, 299);
});

Deno.test("run index: the first refresh reads the store however soon after the process started", async () => {
  // performance.now() counts from the process start: a server asked for its first
  // page within minRefreshMs of it showed every asset as never materialized.
  const graph = defineGraph({
    assets: [defineAsset({ key: "a", materialize: () => {} })],
  }) as Graph<unknown>;
  const store = new MemoryRunStore();
  await materialize(graph, { runStore: store });
  const index = new RunIndex(store, { minRefreshMs: Number.MAX_SAFE_INTEGER });
  await index.refresh();
  assertEquals(index.size, 1);
  // Later calls within minRefreshMs reuse it, as before.
  await materialize(graph, { runStore: store });
  await index.refresh();
  assertEquals(index.size, 1);
  await index.refresh(true);
  assertEquals(index.size, 2);
});
