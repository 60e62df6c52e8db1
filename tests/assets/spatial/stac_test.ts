// The STAC catalogue kept by spatial/batch_archive: what a batch's update
// leaves in the lake, across batches and projects.

import assert from "node:assert/strict";
import { updateStac } from "../../../assets/spatial/stac.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { BUCKET, CountingStore, publishOne } from "./_stac_lake.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import { crawlItems, StacCatalog, StacCollection } from "./_stac_schema.ts";

/** Publishes one output of `project`/`batch` and updates the catalogue. */
const publish = (
  lake: MemoryObjectStore,
  ledger: MemoryLedger,
  project: string,
  batch: string,
  west: number,
) => publishOne(updateStac, lake, ledger, project, batch, west);

async function readJson(lake: MemoryObjectStore, key: string): Promise<unknown> {
  return JSON.parse(new TextDecoder().decode(await lake.getBytes(BUCKET, key)));
}

Deno.test("STAC: each batch's update keeps every Item of the project in its Collection and every project in the Catalog", async () => {
  await using lake = new MemoryObjectStore();
  await using ledger = new MemoryLedger();
  await lake.ensureBucket(BUCKET);
  // Not a project: a folder under stac/ without a Collection is never linked.
  await lake.put(BUCKET, "stac/notes/readme.txt", new TextEncoder().encode("hand-made"));
  // More Items than are read at once, so the Collection is built across reads.
  for (let i = 0; i < 20; i++) await publish(lake, ledger, "montana", `b${i}`, -116 + i / 10);
  await publish(lake, ledger, "idaho", "i0", -117);

  const collection = StacCollection.parse(await readJson(lake, "stac/montana/collection.json"));
  assert.deepEqual(
    await crawlItems((key) => readJson(lake, key), "stac/montana/collection.json"),
    Array.from({ length: 20 }, (_, i) => `stac/montana/b${i}/roads.json`).sort(),
    "every batch's Item, reached from the Collection",
  );
  assert.deepEqual(collection.extent.spatial.bbox, [[-116, 45, -116 + 19 / 10 + 1, 46]]);

  const catalog = StacCatalog.parse(await readJson(lake, "stac/catalog.json"));
  assert.deepEqual(
    catalog.links.filter((l) => l.rel === "child").map((l) => l.href),
    ["./idaho/collection.json", "./montana/collection.json"],
  );
});

Deno.test("STAC: an update reads the same few objects whether the project has 1 Item or 300", async () => {
  await using lake = new CountingStore();
  await using ledger = new MemoryLedger();
  await lake.ensureBucket(BUCKET);
  let most = [0, 0];
  for (let i = 0; i < 300; i++) {
    const [reads, writes, listed] = [lake.reads, lake.writes, lake.listed];
    await publish(lake, ledger, "montana", `b${i}`, -116 + (i % 50) / 10);
    // Less the batch's own output (one put) and Item (one put); the first
    // update writes the root Catalog too.
    const touched = [lake.reads - reads, lake.writes - writes - 2];
    if (i > 0) most = most.map((m, k) => Math.max(m, touched[k]!));
    // Listed: the batch's folder (its Items) and, twice at most, the
    // project's folder level (batch folders and shards), never every Item.
    const folderLevel = i + 1 + Math.min(i + 1, 256) + 1; // batch folders, shards, the Collection
    // (The first update lists stac/ too, for the root Catalog.)
    assert.ok(
      i === 0 || lake.listed - listed <= 2 + 2 * folderLevel,
      `update ${i} listed ${lake.listed - listed}`,
    );
  }
  // Reads: the shard and the Collection, each read back once after writing;
  // writes: the batch's Catalog, the shard, the Collection.
  assert.deepEqual(most, [4, 3], "most reads, writes of an update");
  const items = await crawlItems((key) => readJson(lake, key), "stac/montana/collection.json");
  assert.equal(items.length, 300);
  const collection = StacCollection.parse(await readJson(lake, "stac/montana/collection.json"));
  assert.deepEqual(collection.extent.spatial.bbox, [[-116, 45, -116 + 49 / 10 + 1, 46]]);
  assert.ok(collection.links.length <= 2 + 256, "one link per shard, not per Item");
});

Deno.test("STAC: batches of two projects archived at once all end up linked from the root", async () => {
  await using lake = new MemoryObjectStore();
  await using ledger = new MemoryLedger();
  await lake.ensureBucket(BUCKET);
  // 40 batches a project (batch ids are unique across projects), all updating at once: many share a shard (256 by
  // hash), all share the Collection, and both projects are new to the root.
  const batches = Array.from({ length: 40 }, (_, i) => i);
  await Promise.all(
    ["montana", "idaho"].flatMap((project, p) =>
      batches.map((i) => publish(lake, ledger, project, `${project}-${i}`, -120 + p * 10 + i / 10))
    ),
  );
  for (const project of ["montana", "idaho"]) {
    assert.deepEqual(
      await crawlItems((key) => readJson(lake, key), `stac/${project}/collection.json`),
      batches.map((i) => `stac/${project}/${project}-${i}/roads.json`).sort(),
      `every Item of ${project} reached from its Collection`,
    );
    // The extent is read, widened and written without a conditional write:
    // a widening can still be lost to a writer that read before it (see
    // assets/spatial/stac.ts); the Collection stays a valid STAC Collection.
    StacCollection.parse(await readJson(lake, `stac/${project}/collection.json`));
  }
  const catalog = StacCatalog.parse(await readJson(lake, "stac/catalog.json"));
  assert.deepEqual(
    catalog.links.filter((l) => l.rel === "child").map((l) => l.href),
    ["./idaho/collection.json", "./montana/collection.json"],
  );
});

Deno.test("STAC: a batch run again is linked once; a Collection of the earlier layout keeps its Items", async () => {
  await using lake = new MemoryObjectStore();
  await using ledger = new MemoryLedger();
  await lake.ensureBucket(BUCKET);
  // A Collection written before the shards: its Items linked from it directly.
  const put = (key: string, json: unknown) =>
    lake.put(BUCKET, key, new TextEncoder().encode(JSON.stringify(json)));
  await put("stac/montana/old/roads.json", {
    type: "Feature",
    stac_version: "1.0.0",
    id: "old-roads",
    geometry: null,
    properties: { datetime: "2026-01-01T00:00:00Z" },
    links: [{ rel: "parent", href: "../collection.json" }],
    assets: {},
  });
  await put("stac/montana/collection.json", {
    type: "Collection",
    stac_version: "1.0.0",
    id: "montana",
    description: "d",
    license: "other",
    extent: {
      spatial: { bbox: [[-120, 40, -119, 41]] },
      temporal: { interval: [["2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"]] },
    },
    links: [{ rel: "item", href: "./old/roads.json" }],
  });
  await publish(lake, ledger, "montana", "b1", -116);
  await publish(lake, ledger, "montana", "b1", -116);
  assert.deepEqual(
    await crawlItems((key) => readJson(lake, key), "stac/montana/collection.json"),
    ["stac/montana/b1/roads.json", "stac/montana/old/roads.json"],
  );
  const collection = StacCollection.parse(await readJson(lake, "stac/montana/collection.json"));
  assert.deepEqual(collection.extent.spatial.bbox, [[-120, 40, -115, 46]]);
  assert.equal(collection.extent.temporal.interval[0]![0], "2026-01-01T00:00:00Z");
});
