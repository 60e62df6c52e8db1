/**
 * Asset states of a big graph cost no store lookup per asset when the run
 * index holds every run: an asset the index never saw was never materialized.
 * Stale is what `materialize --stale` rebuilds: data versions, not times.
 */

import { assertEquals, assertMatch } from "./_assert.ts";
import type { Materialization } from "../../core/asset.ts";
import { defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import type { Graph } from "../../core/graph.ts";
import { materialize } from "../../core/executor.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { staleRuns } from "../../core/automation/staleness.ts";
import { staticPartitions } from "../../core/partitions.ts";
import { FakeClock } from "../../core/testing.ts";
import { assetStatuses } from "../../ui/asset_status.ts";
import { RunIndex } from "../../ui/run_index.ts";
import { serveUi } from "../../ui/serve.ts";

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

const T0 = Date.parse("2024-05-10T12:00:00Z");

/** bronze → stg, where bronze reports `version()` as its data version. */
function versioned(version: () => string) {
  return defineGraph({
    assets: [
      defineAsset({ key: "bronze", materialize: () => ({ data_version: version() }) }),
      defineAsset({ key: "stg", deps: ["bronze"], materialize: () => {} }),
    ],
  }) as Graph<unknown>;
}

/**
 * The state the UI shows for `key`, from an index of every run and from one
 * of the newest run only (which reads the rest from the store): both must agree.
 */
async function shown(graph: Graph<unknown>, store: MemoryRunStore, key: string) {
  const states: (string | undefined)[] = [];
  for (const maxRuns of [2000, 1]) {
    const index = new RunIndex(store, { maxRuns });
    await index.refresh(true);
    states.push((await assetStatuses(graph, index, store, { now: T0 })).get(key)?.state);
  }
  assertEquals(states[0], states[1], "a full and a partial index show the same state");
  return states[0];
}

/** What `materialize --stale` would rebuild of `key`: its stale partitions. */
async function staleForCli(graph: Graph<unknown>, store: MemoryRunStore, key: string) {
  return (await staleRuns(graph, store, [key])).stale.get(key) ?? [];
}

Deno.test("asset states: an upstream rewritten with another data version on the same clock tick makes it stale, as materialize --stale says", async () => {
  let version = "v1";
  const graph = versioned(() => version);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0); // never advances: every write has one timestamp
  await materialize(graph, { runStore: store, clock });
  assertEquals(await shown(graph, store, "stg"), "materialized");
  version = "v2";
  await materialize(graph, { runStore: store, clock, selection: "bronze" });
  assertEquals(await staleForCli(graph, store, "stg"), [null]);
  assertEquals(await shown(graph, store, "stg"), "stale");
});

Deno.test("asset states: an upstream rewritten later with the same data version leaves it fresh, as materialize --stale says", async () => {
  const graph = versioned(() => "v1");
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await materialize(graph, { runStore: store, clock });
  clock.advance(3_600_000);
  await materialize(graph, { runStore: store, clock, selection: "bronze" });
  assertEquals(await staleForCli(graph, store, "stg"), []);
  assertEquals(await shown(graph, store, "stg"), "materialized");
});

Deno.test("asset states: a partitioned asset is stale while any partition is, not only its latest one", async () => {
  const places = staticPartitions(["p1", "p2"]);
  let version = 0;
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "bronze",
        partitions: places,
        materialize: () => ({ data_version: `v${version++}` }),
      }),
      defineAsset({ key: "stg", deps: ["bronze"], partitions: places, materialize: () => {} }),
    ],
  }) as Graph<unknown>;
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  for (const p of ["p1", "p2"]) {
    await materialize(graph, { runStore: store, clock, partitions: { keys: [p] } });
  }
  clock.advance(60_000);
  await materialize(graph, {
    runStore: store,
    clock,
    selection: "bronze",
    partitions: { keys: ["p1"] },
  });
  clock.advance(60_000);
  // The latest materialization of stg (p2) is fresh; p1 read the bronze p1 that changed since.
  await materialize(graph, {
    runStore: store,
    clock,
    selection: "stg",
    partitions: { keys: ["p2"] },
  });
  assertEquals(await staleForCli(graph, store, "stg"), ["p1"]);
  assertEquals(await shown(graph, store, "stg"), "stale");
});

Deno.test("asset states: a stale asset coloured by its failing check still counts in 'Materialize stale (N)', which runs it", async () => {
  // Before: the button counted the assets coloured 'stale' (0 here) while the launch ran
  // every stale asset (1): 'Materialize stale' was hidden though materialize --stale runs stg.
  let version = "v1";
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "bronze", materialize: () => ({ data_version: version }) }),
      defineAsset({
        key: "stg",
        deps: ["bronze"],
        checks: [{ name: "non_empty", run: () => ({ passed: false, description: "0 rows" }) }],
        materialize: () => {},
      }),
    ],
  }) as Graph<unknown>;
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await materialize(graph, { runStore: store, clock });
  version = "v2";
  await materialize(graph, { runStore: store, clock, selection: "bronze" });
  assertEquals(await staleForCli(graph, store, "stg"), [null]);
  const index = new RunIndex(store, { maxRuns: 2000 });
  await index.refresh(true);
  const statuses = await assetStatuses(graph, index, store, { now: T0 });
  assertEquals(statuses.get("stg")?.state, "check_failing");
  assertEquals(statuses.get("stg")?.stale, true);
  assertEquals(statuses.get("bronze")?.stale, false);
  await using ui = await serveUi({ graph, store, port: 0, clock });
  const page = await fetch(`${ui.url}/assets`).then((r) => r.text());
  assertMatch(page, /<button[^>]*>Materialize stale \(1\)<\/button>/);
});

Deno.test("asset states: a failing check evaluated before the index window shows check_failing, as a full index does", async () => {
  // Before: the check evaluations were read from the index only, so with a history longer
  // than the index an asset whose check failed in an older run showed "stale".
  let version = "v1";
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "bronze", materialize: () => ({ data_version: version }) }),
      defineAsset({
        key: "stg",
        deps: ["bronze"],
        checks: [{ name: "has_rows", severity: "warn", run: () => false }],
        materialize: () => {},
      }),
    ],
  }) as Graph<unknown>;
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await materialize(graph, { runStore: store, clock });
  assertEquals(await shown(graph, store, "stg"), "check_failing");
  version = "v2";
  clock.advance(60_000);
  await materialize(graph, { runStore: store, clock, selection: "bronze" });
  assertEquals(await shown(graph, store, "stg"), "check_failing");
});
