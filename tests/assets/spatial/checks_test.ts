/**
 * The spatial asset checks: the real assets materialise the sample batch and
 * every check passes; then outputs are corrupted one way at a time and the
 * right check fails, naming the object and the problem.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  type CheckResult,
  defineGraph,
  type Materialization,
  materialize,
  MemoryRunStore,
} from "../../../core/mod.ts";
import { buildAssetContext } from "../../../core/testing.ts";
import { ConfigSchema } from "../../../resources/mod.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import {
  LocalObjectStore,
  MemoryObjectStore,
  S3ObjectStore,
} from "../../../resources/object_store/mod.ts";
import type { GetOptions, GetResult, ObjectStore } from "../../../resources/object_store/types.ts";
import { startS3rver } from "../../_helpers/s3rver.ts";
import { asset } from "../../../assets/_define.ts";
import { processVectorBatch } from "../../../assets/spatial/vector.ts";
import { spatialBatches } from "../../../assets/spatial/partitions.ts";
import { readParquetMetadata } from "../../../formats/parquet_metadata.ts";
import { bytesReader } from "../../../formats/byte_reader.ts";
import { SAMPLE_BATCH_ID, spatialAssets } from "../../../assets/spatial/mod.ts";
import {
  cogValid,
  geoparquetValid,
  geoProblems,
  lineageComplete,
  SpatialCheckError,
} from "../../../assets/spatial/checks.ts";
import { cogProblems, readTiffStructure } from "../../../formats/tiff_structure.ts";
import { batchRun, download, duckdb, LAKE, sampleLanding, spatialResources } from "./_fixtures.ts";
import { needs } from "../../_helpers/tools.ts";

const PREFIX = `montana/${SAMPLE_BATCH_ID}`;

/** A lake of each backend the checks read through (ranged gets, streams, user metadata). */
const LAKES: { name: string; open: () => Promise<ObjectStore & AsyncDisposable> }[] = [
  { name: "memory", open: () => Promise.resolve(new MemoryObjectStore()) },
  {
    name: "local",
    open: async () => {
      const root = await Deno.makeTempDir({ prefix: "checks-lake-" });
      const store = new LocalObjectStore({ root, durable: false });
      const close = store[Symbol.asyncDispose].bind(store);
      return Object.assign(store, {
        [Symbol.asyncDispose]: async () => {
          await close();
          await Deno.remove(root, { recursive: true });
        },
      });
    },
  },
  {
    name: "s3 (s3rver)",
    open: async () => {
      const server = await startS3rver();
      const store = new S3ObjectStore({
        endpoint: server.endpoint,
        credentials: server.credentials,
      });
      const close = store[Symbol.asyncDispose].bind(store);
      return Object.assign(store, {
        [Symbol.asyncDispose]: async () => {
          await close();
          await server.stop();
        },
      });
    },
  },
];

/** Materialises `group:spatial` on the sample batch (seeded by the assets) into `lake`. */
async function materializeSample(
  lake: ObjectStore,
  ledger: MemoryLedger,
  extraAssets: ReturnType<typeof asset>[] = [],
) {
  const config = ConfigSchema.parse({});
  const resources = { config, lake, ledger, ...spatialResources() };
  const graph = defineGraph({
    assets: [...spatialAssets({ samples: true }), ...extraAssets],
    resources,
  });
  const runStore = new MemoryRunStore();
  await runStore.addDynamicPartitions("spatial_batches", [SAMPLE_BATCH_ID]);
  return await materialize(graph, {
    selection: "group:spatial",
    partitions: { keys: [SAMPLE_BATCH_ID] },
    resources,
    runStore,
    concurrency: 2,
  });
}

for (const backend of LAKES) {
  Deno.test({
    name:
      `spatial checks (${backend.name} lake): pass on the sample batch, fail on each corruption`,
    fn: async (t) => {
      await using lake = await backend.open();
      await using ledger = new MemoryLedger();
      const result = await materializeSample(lake, ledger);
      const step = (key: string) => result.steps.find((s) => s.assetKey === key)!;
      const vector = step("spatial/vector_geoparquet");
      const raster = step("spatial/raster_cog");

      await t.step("every check passes on the real outputs of the sample batch", () => {
        assert.equal(result.status, "success", result.errorSummary ?? "");
        const outcomes = [vector, raster].map((s) =>
          s.checks.map((c) => [s.assetKey, c.name, c.passed, c.blocking, c.description])
        );
        assert.deepEqual(outcomes, [
          [
            ["spatial/vector_geoparquet", "geoparquet_valid", true, true, null],
            ["spatial/vector_geoparquet", "lineage_complete", true, true, null],
          ],
          [
            ["spatial/raster_cog", "cog_valid", true, true, null],
            ["spatial/raster_cog", "lineage_complete", true, true, null],
          ],
        ]);
        const objects = vector.checks[0]!.metadata.objects as Record<string, { rows: number }>;
        assert.deepEqual(Object.keys(objects).sort(), [
          `${PREFIX}/counties.parquet`,
          `${PREFIX}/trailheads.parquet`,
          `${PREFIX}/trails.parquet`,
        ]);
        assert.ok(Object.values(objects).every((o) => o.rows > 0));
      });

      const run = async (
        check: typeof geoparquetValid,
        materialization: Materialization,
      ): Promise<CheckResult> => {
        const ctx = buildAssetContext({
          resources: { lake, ledger },
          partitionKey: SAMPLE_BATCH_ID,
          assetKey: materialization.assetKey,
        });
        const raw = await check.run({ ...ctx, materialization });
        return typeof raw === "boolean" ? { passed: raw } : raw;
      };

      /** Runs `fn`, then puts the object back as it was. */
      const restoring = async (key: string, fn: () => Promise<void>) => {
        const head = (await lake.head(LAKE, key))!;
        const bytes = await lake.getBytes(LAKE, key);
        try {
          await fn();
        } finally {
          await lake.put(LAKE, key, bytes, { metadata: head.metadata });
        }
      };

      /**
       * Writes `bytes` at `key` as the pipeline would (new ledger document,
       * object carrying its id) and returns `m` pointing at that document.
       */
      const republish = async (
        m: Materialization,
        key: string,
        bytes: Uint8Array,
      ): Promise<Materialization> => {
        const old = (await ledger.findByKey(LAKE, key))!;
        const { id: _id, created_at: _c, updated_at: _u, ...fields } = old;
        const doc = await ledger.upsert({
          ...fields,
          sha256: createHash("sha256").update(bytes).digest("hex"),
          size: bytes.length,
        });
        assert.notEqual(doc.id, old.id);
        await lake.put(LAKE, key, bytes, { metadata: { mongodb_doc_id: doc.id } });
        const outputs = (m.metadata.outputs as { key: string; ledger_id: string }[]).map((o) =>
          o.key === key ? { ...o, ledger_id: doc.id } : o
        );
        return { ...m, metadata: { ...m.metadata, outputs } };
      };

      await t.step("geoparquet_valid: overwritten bytes fail the sha256 comparison", async () => {
        const key = `${PREFIX}/trails.parquet`;
        await restoring(key, async () => {
          const bytes = await lake.getBytes(LAKE, key);
          bytes[100] = bytes[100]! ^ 0xff;
          await lake.put(LAKE, key, bytes, { metadata: (await lake.head(LAKE, key))!.metadata });
          const failed = await run(geoparquetValid, vector.materialization!);
          assert.equal(failed.passed, false);
          assert.match(
            failed.description!,
            /'montana\/montana-sample\/trails\.parquet': its sha256 [0-9a-f]{64} does not match the ledger's/,
          );
          assert.equal((failed.metadata!.problems as string[]).length, 1);
          // The lineage itself is intact.
          assert.equal((await run(lineageComplete, vector.materialization!)).passed, true);
        });
        assert.equal((await run(geoparquetValid, vector.materialization!)).passed, true);
      });

      await t.step("geoparquet_valid: a footer without 'geo' metadata fails", async () => {
        const key = `${PREFIX}/counties.parquet`;
        await restoring(key, async () => {
          const bytes = await lake.getBytes(LAKE, key);
          // Renames the key-value entry 'geo' to 'gex' inside the Thrift footer:
          // still a valid Parquet file, no longer GeoParquet.
          const footerLength = new DataView(bytes.buffer).getUint32(bytes.length - 8, true);
          const footer = bytes.subarray(bytes.length - 8 - footerLength, bytes.length - 8);
          const at = findBytes(footer, [0x03, ...new TextEncoder().encode("geo")]);
          assert.ok(at >= 0, "the footer holds a 'geo' key");
          footer[at + 3] = "x".charCodeAt(0);
          const m = await republish(vector.materialization!, key, bytes);
          const failed = await run(geoparquetValid, m);
          assert.equal(failed.passed, false);
          assert.deepEqual(failed.metadata!.problems, [
            `'${key}': its Parquet footer has no 'geo' key-value metadata`,
          ]);
        });
      });

      await t.step("geoparquet_valid: a row count other than the ledger's fails", async () => {
        const key = `${PREFIX}/counties.parquet`;
        await restoring(key, async () => {
          // Another valid GeoParquet (the trailheads) under the counties' document.
          const other = await lake.getBytes(LAKE, `${PREFIX}/trailheads.parquet`);
          const expected = (await ledger.findByKey(LAKE, key))!.metadata.feature_count;
          const rows = (await ledger.findByKey(LAKE, `${PREFIX}/trailheads.parquet`))!.metadata
            .feature_count;
          assert.notEqual(rows, expected);
          const m = await republish(vector.materialization!, key, other);
          const failed = await run(geoparquetValid, m);
          assert.deepEqual(failed.metadata!.problems, [
            `'${key}': it has ${rows} rows but the ledger's feature_count is ${expected}`,
          ]);
        });
      });

      await t.step("geoparquet_valid: a missing object fails", async () => {
        const key = `${PREFIX}/trailheads.parquet`;
        await restoring(key, async () => {
          await lake.delete(LAKE, key);
          const failed = await run(geoparquetValid, vector.materialization!);
          assert.deepEqual(failed.metadata!.problems, [
            `'${key}': the object is missing from bucket '${LAKE}'`,
          ]);
        });
      });

      await t.step("lineage_complete: an object without mongodb_doc_id fails", async () => {
        const key = `${PREFIX}/trailheads.parquet`;
        await restoring(key, async () => {
          const head = (await lake.head(LAKE, key))!;
          const { mongodb_doc_id: _dropped, ...rest } = head.metadata;
          await lake.put(LAKE, key, await lake.getBytes(LAKE, key), { metadata: rest });
          const failed = await run(lineageComplete, vector.materialization!);
          assert.equal(failed.passed, false);
          assert.deepEqual(failed.metadata!.problems, [
            `'${key}': the object has no mongodb_doc_id user metadata`,
          ]);
          assert.match(
            failed.description!,
            /trailheads\.parquet': the object has no mongodb_doc_id/,
          );
          // The content is untouched, so the blocking check still passes.
          assert.equal((await run(geoparquetValid, vector.materialization!)).passed, true);
        });
      });

      await t.step("lineage_complete: a document id pointing elsewhere fails", async () => {
        const key = `${PREFIX}/trails.parquet`;
        await restoring(key, async () => {
          const other = (await ledger.findByKey(LAKE, `${PREFIX}/counties.parquet`))!.id;
          await lake.put(LAKE, key, await lake.getBytes(LAKE, key), {
            metadata: { mongodb_doc_id: other },
          });
          const failed = await run(lineageComplete, vector.materialization!);
          assert.match(
            (failed.metadata!.problems as string[]).join(),
            new RegExp(`'${key}': the object's mongodb_doc_id '${other}' is not its ledger id`),
          );
        });
      });

      await t.step("cog_valid: overwritten bytes fail the sha256 comparison", async () => {
        const key = `${PREFIX}/dem.tif`;
        await restoring(key, async () => {
          const bytes = await lake.getBytes(LAKE, key);
          bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
          await lake.put(LAKE, key, bytes, { metadata: (await lake.head(LAKE, key))!.metadata });
          const failed = await run(cogValid, raster.materialization!);
          assert.equal(failed.passed, false);
          assert.match(
            failed.description!,
            /'montana\/montana-sample\/dem\.tif': its sha256 .* does not match/,
          );
        });
        assert.equal((await run(cogValid, raster.materialization!)).passed, true);
      });

      await t.step("cog_valid: a plain (striped, not COG) GeoTIFF fails", async () => {
        const key = `${PREFIX}/dem.tif`;
        await restoring(key, async () => {
          const plain = await Deno.readFile(
            new URL("../../../sample_data/spatial/montana-sample/dem.tif", import.meta.url),
          );
          const m = await republish(raster.materialization!, key, plain);
          const failed = await run(cogValid, m);
          assert.equal(failed.passed, false);
          const problems = (failed.metadata!.problems as string[]).join("\n");
          assert.match(problems, /'montana\/montana-sample\/dem\.tif': it is not tiled/);
          assert.match(problems, /lacks the COG layout marker/);
          // The replacement was published properly, so its lineage is complete.
          assert.equal((await run(lineageComplete, m)).passed, true);
        });
      });

      await t.step(
        "lineage_complete: a document of another batch, without sources or CRS, fails",
        async () => {
          const key = `${PREFIX}/dem.tif`;
          await restoring(key, async () => {
            const old = (await ledger.findByKey(LAKE, key))!;
            await ledger.delete(old.id);
            const { id: _id, created_at: _c, updated_at: _u, ...fields } = old;
            const doc = await ledger.upsert({
              ...fields,
              batch_id: "another-batch",
              metadata: { ...old.metadata, source_files: [], crs: "" },
            });
            await lake.put(LAKE, key, await lake.getBytes(LAKE, key), {
              metadata: { mongodb_doc_id: doc.id },
            });
            const m = raster.materialization!;
            const outputs = (m.metadata.outputs as { key: string }[]).map((o) => ({
              ...o,
              ledger_id: doc.id,
            }));
            const failed = await run(lineageComplete, {
              ...m,
              metadata: { ...m.metadata, outputs },
            });
            assert.deepEqual(failed.metadata!.problems, [
              `'${key}': its ledger document's batch_id 'another-batch' is not the batch ` +
              `'${SAMPLE_BATCH_ID}'`,
              `'${key}': its ledger document lists no source_files`,
              `'${key}': its ledger document has no crs`,
            ]);
          });
        },
      );

      await t.step("a materialization without outputs cannot be checked", async () => {
        const m = { ...vector.materialization!, metadata: { files: 0 } };
        await assert.rejects(run(geoparquetValid, m), (error: unknown) => {
          assert.ok(error instanceof SpatialCheckError);
          assert.equal(error.code, "spatial.check_no_outputs");
          assert.match(error.message, /metadata has no outputs\[\{key, ledger_id\}\]/);
          return true;
        });
      });
    },
  });
}

function findBytes(haystack: Uint8Array, needle: number[]): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("geoProblems: each GeoParquet 1.1 rule names the field and the problem", () => {
  const columns = [
    { name: "name", physicalType: "BYTE_ARRAY", children: [] },
    { name: "geometry", physicalType: "BYTE_ARRAY", children: [] },
    {
      name: "bbox",
      physicalType: undefined,
      children: ["xmin", "ymin", "xmax", "ymax"].map((name) => ({ name })),
    },
  ];
  const covering = {
    bbox: {
      xmin: ["bbox", "xmin"],
      ymin: ["bbox", "ymin"],
      xmax: ["bbox", "xmax"],
      ymax: ["bbox", "ymax"],
    },
  };
  const valid = {
    version: "1.1.0",
    primary_column: "geometry",
    columns: {
      geometry: {
        encoding: "WKB",
        geometry_types: ["Point", "MultiPolygon Z"],
        crs: { type: "GeographicCRS", name: "WGS 84" },
        bbox: [-112, 45, -110, 46],
        covering,
      },
    },
  };
  const geometry = valid.columns.geometry;
  const problems = (geo: unknown) => geoProblems(JSON.stringify(geo), columns);
  assert.deepEqual(problems(valid), []);
  // crs may be absent (OGC:CRS84) or null (unknown), as the specification says.
  const { crs: _crs, ...noCrs } = geometry;
  assert.deepEqual(problems({ ...valid, columns: { geometry: noCrs } }), []);
  assert.deepEqual(problems({ ...valid, columns: { geometry: { ...geometry, crs: null } } }), []);

  const cases: [string, unknown, RegExp][] = [
    ["version", { ...valid, version: "1.0.0" }, /^geo\.version: must be '1\.1\.0'$/],
    // The rules of the specification's JSON schema that were not checked before.
    ["a later version", { ...valid, version: "1.1.7" }, /^geo\.version: must be '1\.1\.0'$/],
    [
      "edges",
      { ...valid, columns: { geometry: { ...geometry, edges: "geodesic" } } },
      /^geo\.columns\.geometry\.edges: must be 'planar' or 'spherical'$/,
    ],
    [
      "orientation",
      { ...valid, columns: { geometry: { ...geometry, orientation: "clockwise" } } },
      /^geo\.columns\.geometry\.orientation: must be 'counterclockwise'$/,
    ],
    [
      "epoch",
      { ...valid, columns: { geometry: { ...geometry, epoch: "2024.5" } } },
      /^geo\.columns\.geometry\.epoch: must be a number/,
    ],
    ["no column", { ...valid, columns: {} }, /^geo\.columns: must describe at least one/],
    [
      "covering field",
      {
        ...valid,
        columns: {
          geometry: {
            ...geometry,
            covering: { bbox: { ...covering.bbox, xmin: ["bbox", "ymin"] } },
          },
        },
      },
      /^geo\.columns\.geometry\.covering\.bbox\.xmin\.1: must name the struct's field 'xmin'$/,
    ],
    [
      "encoding",
      { ...valid, columns: { geometry: { ...geometry, encoding: "WKT" } } },
      /^geo\.columns\.geometry\.encoding: encoding must be 'WKB'$/,
    ],
    [
      "geometry type",
      { ...valid, columns: { geometry: { ...geometry, geometry_types: ["Pointy"] } } },
      /^geo\.columns\.geometry\.geometry_types\.0: must be a GeoParquet geometry type$/,
    ],
    [
      "crs",
      { ...valid, columns: { geometry: { ...geometry, crs: "EPSG:4326" } } },
      /^geo\.columns\.geometry\.crs: must be a PROJJSON object/,
    ],
    [
      "bbox",
      { ...valid, columns: { geometry: { ...geometry, bbox: [1, 2, 3] } } },
      /^geo\.columns\.geometry\.bbox: must hold 4 numbers/,
    ],
    [
      "primary column",
      { ...valid, primary_column: "geom" },
      /^geo\.primary_column 'geom' is not described in geo\.columns$/,
    ],
    [
      "column not in the schema",
      { ...valid, primary_column: "shape", columns: { shape: geometry } },
      /^geo\.columns\.shape: the column is not in the Parquet schema$/,
    ],
    [
      "covering",
      {
        ...valid,
        columns: {
          geometry: {
            ...geometry,
            covering: { bbox: { ...covering.bbox, xmax: ["box", "xmax"] } },
          },
        },
      },
      /^geo\.columns\.geometry\.covering\.bbox\.xmax: the struct field 'box\.xmax' is not in/,
    ],
  ];
  for (const [what, geo, expected] of cases) {
    const found = problems(geo);
    assert.equal(found.length, 1, `${what}: ${found.join(" | ")}`);
    assert.match(found[0]!, expected, what);
  }
  assert.deepEqual(geoProblems(undefined, columns), [
    "its Parquet footer has no 'geo' key-value metadata",
  ]);
  assert.match(geoProblems("{not json", columns)[0]!, /^its 'geo' metadata is not JSON/);
});

Deno.test("cogProblems: overviews are required once the image is larger than a tile", {
  ignore: await needs("gdal"),
}, async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "cog-check-" });
  const dem = new URL("../../../sample_data/spatial/montana-sample/dem.tif", import.meta.url);
  const translate = async (args: string[], out: string) => {
    const done = await new Deno.Command("gdal_translate", {
      args: ["-q", "-outsize", "1500", "1500", ...args, dem.pathname, `${dir}/${out}`],
    }).output();
    assert.equal(done.code, 0, new TextDecoder().decode(done.stderr));
    const bytes = await Deno.readFile(`${dir}/${out}`);
    const read = (offset: number, length: number) =>
      Promise.resolve(bytes.subarray(offset, offset + length));
    return await readTiffStructure(read, bytes.length);
  };
  try {
    await t.step("a 1500x1500 COG by Debian's GDAL has overviews and passes", async () => {
      const tiff = await translate(["-of", "COG", "-co", "BLOCKSIZE=512"], "cog.tif");
      assert.deepEqual(cogProblems(tiff), []);
      assert.deepEqual(tiff.ifds.map((i) => [i.width, i.subfileType, i.tileWidth]), [
        [1500, 0, 512],
        [750, 1, 512],
        [375, 1, 512],
      ]);
    });
    await t.step("a tiled GeoTIFF without overviews fails", async () => {
      const tiff = await translate(["-co", "TILED=YES"], "tiled.tif");
      assert.deepEqual(cogProblems(tiff), [
        "it lacks the COG layout marker LAYOUT=IFDS_BEFORE_DATA (GDAL ghost area)",
        "it has no overviews although 1500x1500 is larger than one 256x256 tile",
      ]);
    });
    await t.step("a BigTIFF COG is read too", async () => {
      const tiff = await translate(["-of", "COG", "-co", "BIGTIFF=YES"], "big.tif");
      assert.equal(tiff.bigTiff, true);
      assert.deepEqual(cogProblems(tiff), []);
    });
    await t.step("bytes that are not a TIFF are refused", async () => {
      const read = () => Promise.resolve(new TextEncoder().encode("PAR1 not a tiff at all"));
      await assert.rejects(readTiffStructure(read, 22), /no TIFF byte-order mark/);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** A lake whose whole-object reads of one key come back with a flipped byte (bit rot). */
class RottingLake extends MemoryObjectStore {
  constructor(readonly rotten: string) {
    super();
  }
  override async get(bucket: string, key: string, options?: GetOptions): Promise<GetResult> {
    const result = await super.get(bucket, key, options);
    if (bucket !== LAKE || key !== this.rotten || options?.range) return result;
    let first = true;
    const flip = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        const copy = chunk.slice();
        if (first && copy.length > 0) copy[0] = copy[0]! ^ 0xff;
        first = false;
        controller.enqueue(copy);
      },
    });
    return { ...result, body: result.body.pipeThrough(flip) };
  }
}

Deno.test({
  name: "spatial checks: a failing geoparquet_valid skips what depends on the asset",
  fn: async () => {
    await using lake = new RottingLake(`${PREFIX}/trails.parquet`);
    await using ledger = new MemoryLedger();
    const downstream = asset({
      key: "spatial/uses_vectors",
      deps: ["spatial/vector_geoparquet"],
      group: "spatial",
      partitions: spatialBatches,
      materialize: () => ({ ran: true }),
    });
    const result = await materializeSample(lake, ledger, [downstream]);
    assert.equal(result.status, "failed");
    const byKey = new Map(result.steps.map((s) => [s.assetKey, s]));
    const vector = byKey.get("spatial/vector_geoparquet")!;
    assert.equal(vector.status, "success");
    const check = vector.checks.find((c) => c.name === "geoparquet_valid")!;
    assert.equal(check.passed, false);
    assert.match(check.description!, /trails\.parquet': its sha256 .* does not match/);
    // The raster step runs after the vectors, so it waits as well; nothing is archived.
    assert.equal(byKey.get("spatial/raster_cog")!.status, "skipped");
    assert.equal(byKey.get("spatial/batch_archive")!.status, "skipped");
    const skipped = byKey.get("spatial/uses_vectors")!;
    assert.equal(skipped.status, "skipped");
    assert.match(skipped.reason!, /blocking check 'geoparquet_valid' failed/);
  },
});

/**
 * A lake that loses one object's user metadata on the way, as OpenStack Swift's
 * s3api did with multipart uploads (`mongodb_doc_id` came back as `mongodb-doc-id`).
 */
class MetadataLosingLake extends MemoryObjectStore {
  constructor(readonly suffix: string) {
    super();
  }
  override async head(bucket: string, key: string) {
    const head = await super.head(bucket, key);
    if (head === undefined || bucket !== LAKE || !key.endsWith(this.suffix)) return head;
    const { mongodb_doc_id: _lost, ...rest } = head.metadata;
    return { ...head, metadata: rest };
  }
}

Deno.test({
  name: "spatial checks: a failing lineage_complete blocks the archive; the batch stays pending",
  fn: async () => {
    await using lake = new MetadataLosingLake(".tif");
    await using ledger = new MemoryLedger();
    const config = ConfigSchema.parse({});
    const result = await materializeSample(lake, ledger);
    assert.equal(result.status, "failed");
    const byKey = new Map(result.steps.map((s) => [s.assetKey, s]));
    const raster = byKey.get("spatial/raster_cog")!;
    const check = raster.checks.find((c) => c.name === "lineage_complete")!;
    assert.equal(check.passed, false);
    assert.equal(check.blocking, true);
    assert.match(check.description!, /no mongodb_doc_id user metadata/);
    const archive = byKey.get("spatial/batch_archive")!;
    assert.equal(archive.status, "skipped");
    assert.match(archive.reason!, /blocking check 'lineage_complete' failed/);
    // Nothing was archived: the manifest is still committed in the landing zone.
    const landing = [];
    for await (const o of lake.listAll(config.LANDING_BUCKET)) landing.push(o.key);
    assert.ok(landing.includes(`manifests/${SAMPLE_BATCH_ID}.json`), landing.join(", "));
    assert.ok(!landing.some((key) => key.startsWith("archive/")), landing.join(", "));
  },
});

Deno.test("readParquetMetadata: rows, schema and geo metadata agree with DuckDB", async (t) => {
  const landing = await sampleLanding("footer1");
  await using store = landing.store;
  await processVectorBatch(batchRun(landing, "footer1"));
  const key = "montana/footer1/trails.parquet";
  const head = (await store.head(LAKE, key))!;

  await t.step("the footer decodes as DuckDB reads it", async () => {
    const footer = await readParquetMetadata(
      bytesReader(await store.getBytes(LAKE, key)),
      head.size,
    );
    await using file = await download(store, LAKE, key);
    const [count] = await duckdb(`SELECT count(*)::INTEGER AS n FROM '${file.file}'`);
    assert.equal(footer.numRows, count!.n);
    const [kv] = await duckdb(
      `SELECT decode(value) AS geo FROM parquet_kv_metadata('${file.file}')
       WHERE decode(key) = 'geo'`,
    );
    assert.equal(footer.keyValue.get("geo"), kv!.geo);
    const bbox = footer.columns.find((c) => c.name === "bbox")!;
    assert.deepEqual(bbox.children.map((c) => c.name), ["xmin", "ymin", "xmax", "ymax"]);
    assert.equal(footer.columns.find((c) => c.name === "geometry")!.physicalType, "BYTE_ARRAY");
    assert.ok(footer.footerBytes < head.size);
  });

  await t.step("an object that is not Parquet is refused", async () => {
    await store.put(LAKE, "x/not.parquet", new TextEncoder().encode("not a parquet file at all"));
    await assert.rejects(
      readParquetMetadata(bytesReader(await store.getBytes(LAKE, "x/not.parquet")), 25),
      /does not start and end with the Parquet magic/,
    );
    // Magic at both ends, but a footer length of 2^31 - 1 bytes in a 20-byte file.
    const bytes = new Uint8Array([
      ...new TextEncoder().encode("PAR1xxxxxxxx"),
      0xff,
      0xff,
      0xff,
      0x7f,
      ...new TextEncoder().encode("PAR1"),
    ]);
    await store.put(LAKE, "x/bad.parquet", bytes);
    await assert.rejects(
      readParquetMetadata(bytesReader(await store.getBytes(LAKE, "x/bad.parquet")), bytes.length),
      /footer length \d+ is impossible/,
    );
    // A well-framed footer that is an empty Thrift struct: no schema, no rows.
    const empty = new Uint8Array([
      ...new TextEncoder().encode("PAR1"),
      0,
      1,
      0,
      0,
      0,
      0x50,
      0x41,
      0x52,
      0x31,
    ]);
    await store.put(LAKE, "x/empty.parquet", empty);
    await assert.rejects(
      readParquetMetadata(bytesReader(await store.getBytes(LAKE, "x/empty.parquet")), empty.length),
      /footer cannot be decoded|schema/,
    );
  });
});
