/**
 * The spatial assets end to end through the executor: the sample batch is
 * seeded into the landing zone, then both assets materialise its partition on
 * embedded twins (memory store and ledger, SpatiaLite).
 */

import assert from "node:assert/strict";
import { defineGraph, materialize, MemoryRunStore, SelectionError } from "../../../core/mod.ts";
import { memoryIo, runCli } from "../../../core/cli/mod.ts";
import { ConfigSchema } from "../../../resources/mod.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import { toMongoJsonSchema } from "../../../resources/ledger/schema.ts";
import {
  SAMPLE_BATCH_ID,
  spatialAssets,
  SpatialLedgerMetadata,
} from "../../../assets/spatial/mod.ts";
import { LAKE, LANDING, sampleLanding, spatialResources } from "./_fixtures.ts";
import { crawlItems, StacCatalog, StacCollection, StacItem } from "./_stac_schema.ts";
import path from "node:path";

Deno.test({
  name: "spatial assets: the sample batch is seeded, then turned into GeoParquet and COG",
  fn: async (t) => {
    await using lake = new MemoryObjectStore();
    await using ledger = new MemoryLedger();
    const config = ConfigSchema.parse({});
    const resources = { config, lake, ledger, ...spatialResources() };
    const graph = defineGraph({ assets: spatialAssets({ samples: true }), resources });
    const runStore = new MemoryRunStore();

    await t.step("spatial/sample_batch copies files, then the manifest", async () => {
      const result = await materialize(graph, {
        selection: "spatial/sample_batch",
        resources,
        runStore,
      });
      assert.equal(result.status, "success");
      const keys = (await Array.fromAsync(lake.listAll(LANDING))).map((o) => o.key).sort();
      assert.deepEqual(keys, [
        "manifests/montana-sample.json",
        "montana-sample/counties.dbf",
        "montana-sample/counties.prj",
        "montana-sample/counties.shp",
        "montana-sample/counties.shx",
        "montana-sample/dem.tif",
        "montana-sample/trailheads.geojson",
        "montana-sample/trails.gpkg",
      ]);
    });

    await t.step("both assets materialise the batch partition after the seeding", async () => {
      await runStore.addDynamicPartitions("spatial_batches", [SAMPLE_BATCH_ID]);
      const result = await materialize(graph, {
        selection: "group:spatial",
        partitions: { keys: [SAMPLE_BATCH_ID] },
        resources,
        runStore,
        concurrency: 2,
      });
      assert.deepEqual(
        result.steps.map((s) => [s.assetKey, s.partition, s.status, s.reason]).sort(),
        [
          ["spatial/batch_archive", SAMPLE_BATCH_ID, "success", null],
          ["spatial/raster_cog", SAMPLE_BATCH_ID, "success", null],
          ["spatial/sample_batch", null, "success", null],
          ["spatial/vector_geoparquet", SAMPLE_BATCH_ID, "success", null],
        ],
      );
      const lakeKeys = (await Array.fromAsync(lake.listAll(LAKE))).map((o) => o.key)
        .filter((k) => !k.startsWith("stac/")).sort();
      assert.deepEqual(lakeKeys, [
        "montana/montana-sample/counties.parquet",
        "montana/montana-sample/dem.tif",
        "montana/montana-sample/trailheads.parquet",
        "montana/montana-sample/trails.parquet",
      ]);
      const docs = await ledger.findByBatch(SAMPLE_BATCH_ID);
      assert.equal(docs.length, 4);
      for (const doc of docs) SpatialLedgerMetadata.parse(doc.metadata);
      // Everything uploaded is archived, manifest included.
      const landing = (await Array.fromAsync(lake.listAll(LANDING))).map((o) => o.key);
      assert.ok(landing.every((k) => k.startsWith("archive/montana-sample/")), landing.join());
      assert.ok(landing.includes("archive/montana-sample/manifest.json"));
    });

    await t.step(
      "the lake's STAC catalogue follows the STAC 1.0 rules and points at the objects",
      async () => {
        const read = async (key: string) =>
          JSON.parse(new TextDecoder().decode(await lake.getBytes(LAKE, key)));
        const catalog = StacCatalog.parse(await read("stac/catalog.json"));
        const child = catalog.links.find((l) => l.rel === "child")!;
        assert.equal(child.href, "./montana/collection.json");
        StacCollection.parse(await read("stac/montana/collection.json"));
        const itemKeys = await crawlItems(read, "stac/montana/collection.json");
        assert.equal(itemKeys.length, 4);
        for (const itemKey of itemKeys) {
          const item = StacItem.parse(await read(itemKey));
          const asset = item.assets.data!;
          // The asset's href resolves to the object, and its checksum is the ledger's.
          const objectKey = path.posix.normalize(
            path.posix.join(path.posix.dirname(itemKey), asset.href),
          );
          const head = (await lake.head(LAKE, objectKey))!;
          const doc = await ledger.get(head.metadata.mongodb_doc_id!);
          assert.equal(asset["file:checksum"], `1220${doc.sha256}`);
          assert.equal(asset["file:size"], doc.size);
          const isRaster = objectKey.endsWith(".tif");
          assert.ok(
            item.stac_extensions!.some((e) => e.includes(isRaster ? "/raster/" : "/table/")),
          );
          if (isRaster) assert.equal(asset["raster:bands"]!.length, 1);
          else assert.equal(item.properties["table:row_count"], doc.metadata.feature_count);
          assert.equal(item.properties["proj:epsg"], isRaster ? 32612 : 4326);
          // Every STAC object has its own ledger document, like every lake object.
          assert.ok((await lake.head(LAKE, itemKey))!.metadata.mongodb_doc_id);
        }
      },
    );

    await t.step("seeding again does nothing once the batch is archived", async () => {
      const result = await materialize(graph, {
        selection: "spatial/sample_batch",
        resources,
        runStore,
      });
      assert.equal(result.status, "success");
      assert.equal(await lake.head(LANDING, "manifests/montana-sample.json"), undefined);
    });
  },
});

Deno.test("the spatial ledger metadata converts to a MongoDB $jsonSchema", () => {
  const schema = toMongoJsonSchema(SpatialLedgerMetadata);
  assert.equal(schema.bsonType, "object");
  const required = schema.required as string[];
  for (const field of ["uploader", "intent", "source_files", "crs", "bbox", "iso19115"]) {
    assert.ok(required.includes(field), field);
  }
});

Deno.test({
  name:
    "materialize --partition registers a committed, valid batch; anything else is refused with why",
  fn: async (t) => {
    const config = ConfigSchema.parse({});
    const run = async (lake: MemoryObjectStore, batch: string, runStore = new MemoryRunStore()) => {
      await using ledger = new MemoryLedger();
      const resources = { config, lake, ledger, ...spatialResources() };
      const graph = defineGraph({ assets: spatialAssets(), resources });
      const result = await materialize(graph, {
        selection: "group:spatial",
        partitions: { keys: [batch] },
        resources,
        runStore,
      });
      return { result, runStore };
    };
    await t.step("no manifest: says where to commit one", async () => {
      await using lake = new MemoryObjectStore();
      await assert.rejects(
        run(lake, "fresh-batch"),
        (e: Error) =>
          e instanceof SelectionError &&
          /Partition 'fresh-batch' does not exist in dynamic 'spatial_batches' and cannot be registered: there is no manifest at 'landing-zone\/manifests\/fresh-batch\.json'/
            .test(e.message),
      );
    });
    await t.step("an invalid manifest: its problems, and it is left where it is", async () => {
      const { store } = await sampleLanding("bad-crs", (m) => ({
        ...m,
        files: (m.files as Record<string, unknown>[]).map((f) => ({ ...f, crs: "EPSG:4326x" })),
      }));
      await assert.rejects(run(store, "bad-crs"), /is not valid: .*files\[0\]\.crs/);
      assert.ok(
        await store.head(LANDING, "manifests/bad-crs.json"),
        "not quarantined by a refusal",
      );
    });
    await t.step("a committed, valid batch is registered and processed", async () => {
      const { store } = await sampleLanding("fresh");
      const { result, runStore } = await run(store, "fresh");
      assert.equal(result.status, "success", result.errorSummary ?? "");
      assert.deepEqual(await runStore.dynamicPartitions("spatial_batches"), ["fresh"]);
      assert.ok(await store.head(LANDING, "archive/fresh/manifest.json"), "archived at the end");
      // Archived now: naming it again re-runs it (safe), no need to commit it again.
      const again = await run(store, "fresh");
      assert.equal(again.result.status, "success");
    });
    await t.step("a quarantined batch: points at its report", async () => {
      await using lake = new MemoryObjectStore();
      await lake.ensureBucket(LANDING);
      await lake.put(LANDING, "quarantine/q1.error.json", new TextEncoder().encode("{}"));
      await assert.rejects(
        run(lake, "q1"),
        /was quarantined; read 'landing-zone\/quarantine\/q1\.error\.json'/,
      );
    });
    await t.step("from the command line: exit 2 with the reason", async () => {
      await using lake = new MemoryObjectStore();
      await using ledger = new MemoryLedger();
      const resources = { config, lake, ledger, ...spatialResources() };
      const graph = defineGraph({ assets: spatialAssets(), resources });
      const io = memoryIo();
      const code = await runCli(
        ["materialize", "group:spatial", "--partition", "nope"],
        {
          name: "deno task cli",
          loadGraph: () => Promise.resolve(graph),
          openRunStore: () => Promise.resolve(new MemoryRunStore()),
        },
        io,
      );
      assert.equal(code, 2);
      assert.match(
        io.stderr,
        /cannot be registered: there is no manifest at 'landing-zone\/manifests\/nope\.json'/,
      );
    });
  },
});

Deno.test("the STAC schemas refuse what the specification forbids", async () => {
  const { stacItem } = await import("../../../assets/spatial/stac.ts");
  const doc = {
    id: "0190b6f2-0000-7000-8000-000000000000",
    bucket: "data-lake",
    key: "p/b/x.parquet",
    sha256: "a".repeat(64),
    size: 10,
    run_id: "r",
    asset_key: "spatial/vector_geoparquet",
    partition: "b",
    batch_id: "b",
    format: "geoparquet",
    created_at: "2026-11-01T00:00:00.000Z",
    updated_at: "2026-11-01T00:00:00.000Z",
    metadata: { crs: "EPSG:4326", bbox: [1, 2, 3, 4], feature_count: 2, column_schema: [] },
  };
  const item = stacItem(doc);
  assert.ok(StacItem.safeParse(item).success);
  const broken: Record<string, unknown>[] = [
    { ...item, bbox: undefined },
    { ...item, type: "Item" },
    { ...item, properties: { datetime: null } },
    { ...item, assets: { data: { href: "x", "file:checksum": "a".repeat(64) } } },
    { ...item, bbox: [3, 4, 1, 2] },
  ];
  for (const b of broken) assert.equal(StacItem.safeParse(b).success, false, JSON.stringify(b));
});
