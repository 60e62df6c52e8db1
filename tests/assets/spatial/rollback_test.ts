import assert from "node:assert/strict";
import { rollbackBatch } from "../../../assets/spatial/batch_asset.ts";
import { FakeClock } from "../../../core/testing.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import { sampleInput } from "../../resources/ledger/_docs.ts";

const LANDING = "landing-zone";
const LAKE = "data-lake";

/** Publishes `key` for batch b1 as run `runId` did: the object, then its ledger document. */
async function publish(
  lake: MemoryObjectStore,
  ledger: MemoryLedger,
  n: number,
  key: string,
  runId: string,
) {
  const doc = await ledger.upsert(
    sampleInput(n, { key, run_id: runId, batch_id: "b1", partition: "b1", format: "geoparquet" }),
  );
  await lake.put(LAKE, key, new Uint8Array([n]), { metadata: { mongodb_doc_id: doc.id } });
  return doc;
}

Deno.test("rollbackBatch: removes what this run and the earlier attempts at the commit published, keeps an archived commit's outputs", async (t) => {
  await t.step(
    "a relaunched attempt quarantining the batch also removes the killed attempt's outputs",
    async () => {
      const lake = new MemoryObjectStore();
      const ledger = new MemoryLedger();
      await lake.ensureBucket(LANDING);
      await lake.ensureBucket(LAKE);
      // The first attempt published the vectors, then was killed in the raster step.
      await publish(lake, ledger, 1, "p/b1/points.parquet", "run-killed");
      await publish(lake, ledger, 2, "p/b1/counties.parquet", "run-killed");
      // Its relaunch rewrote the same content (the earlier documents stay) and failed on the raster.
      await ledger.upsert(
        sampleInput(1, { key: "p/b1/points.parquet", run_id: "run-2", batch_id: "b1" }),
      );
      const removed = await rollbackBatch({
        lake,
        ledger,
        landingBucket: LANDING,
        batchId: "b1",
        runId: "run-2",
      });
      assert.deepEqual(removed.sort(), ["p/b1/counties.parquet", "p/b1/points.parquet"]);
      assert.deepEqual(await ledger.findByBatch("b1"), []);
      assert.equal(await lake.head(LAKE, "p/b1/points.parquet"), undefined);
      assert.equal(await lake.head(LAKE, "p/b1/counties.parquet"), undefined);
    },
  );

  await t.step("outputs of an earlier commit, archived before, stay", async () => {
    const clock = new FakeClock(Date.parse("2026-12-01T00:00:00.000Z"));
    const lake = new MemoryObjectStore({ clock });
    const ledger = new MemoryLedger({ clock });
    await lake.ensureBucket(LANDING);
    await lake.ensureBucket(LAKE);
    await publish(lake, ledger, 1, "p/b1/old.parquet", "run-done");
    clock.advance(1_000);
    await lake.put(LANDING, "archive/b1/manifest.json", new TextEncoder().encode("{}"));
    clock.advance(1_000);
    // The batch is committed again; an attempt was killed after one output, its retry fails.
    await publish(lake, ledger, 2, "p/b1/new.parquet", "run-killed");
    const removed = await rollbackBatch({
      lake,
      ledger,
      landingBucket: LANDING,
      batchId: "b1",
      runId: "run-retry",
    });
    assert.deepEqual(removed, ["p/b1/new.parquet"]);
    assert.deepEqual((await ledger.findByBatch("b1")).map((d) => d.key), ["p/b1/old.parquet"]);
    assert.notEqual(await lake.head(LAKE, "p/b1/old.parquet"), undefined);
  });
});
