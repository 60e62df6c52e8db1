import { assert, assertEquals, assertRejects } from "./_assert.ts";
import { defineGraph } from "../../core/definitions.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { FakeClock } from "../../core/testing.ts";
import { openWarehouse } from "../../resources/warehouse/open.ts";
import type { Warehouse } from "../../resources/warehouse/types.ts";
import { UiContext, type UiSources } from "../../ui/context.ts";
import { Launcher } from "../../ui/launcher.ts";

function contextWith(sources: UiSources, clock = new FakeClock()) {
  const graph = defineGraph({ assets: [] });
  const store = new MemoryRunStore();
  return new UiContext({
    graph,
    store,
    launcher: new Launcher(graph, store) as Launcher<unknown>,
    sources,
    clock,
    tokenRequired: false,
  });
}

Deno.test("context: overlapping reads share one warehouse, which closes when idle and reopens", async () => {
  const opened: Warehouse[] = [];
  let closed = 0;
  const ctx = contextWith({
    // The embedded warehouse (PGlite) refuses a second open in one process:
    // overlapping page reads must share one. DuckDB in memory opens fast.
    openWarehouse: async () => {
      const w = await openWarehouse("duckdb::memory:");
      opened.push(w);
      const close = w[Symbol.asyncDispose].bind(w);
      w[Symbol.asyncDispose] = async () => {
        closed++;
        await close();
      };
      return w;
    },
  });
  try {
    const release = Promise.withResolvers<void>();
    const reads = Array.from({ length: 5 }, (_, i) =>
      ctx.withWarehouse(async (w) => {
        await release.promise;
        const [row] = await w.query<{ n: number }>(`SELECT ${i}::integer AS n`);
        return row?.n;
      }));
    release.resolve();
    assertEquals(await Promise.all(reads), [0, 1, 2, 3, 4]);
    assertEquals(opened.length, 1);
    // The fake clock's idle wait ends at once: the warehouse closes after the last read.
    for (let i = 0; i < 50 && closed === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assertEquals(closed, 1);
    assertEquals(
      await ctx.withWarehouse(async (w) => (await w.query("SELECT 1 AS one")).length),
      1,
    );
    assertEquals(opened.length, 2, "opened again after the idle close");
  } finally {
    await ctx.close();
  }
  assertEquals(closed, 2, "close() closes the warehouse left open");
});

Deno.test("context: a warehouse that cannot open fails the read with its error, and the next read tries again", async () => {
  let attempts = 0;
  const ctx = contextWith({
    openWarehouse: () => {
      attempts++;
      return attempts === 1
        ? Promise.reject(new Error("Cannot open the warehouse: locked by pid 42"))
        : openWarehouse("duckdb::memory:");
    },
  });
  try {
    await assertRejects(() => ctx.withWarehouse(() => Promise.resolve(1)), Error, "pid 42");
    assertEquals(await ctx.withWarehouse(async (w) => (await w.query("SELECT 1 AS x")).length), 1);
    assertEquals(attempts, 2);
    const none = contextWith({});
    await assertRejects(() => none.withWarehouse(() => Promise.resolve(1)), Error, "without");
    assert(none.lake() === undefined && none.ledger() === undefined);
  } finally {
    await ctx.close();
  }
});
