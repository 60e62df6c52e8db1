// Shared fixtures of the spatial tests: a landing zone holding the shipped
// sample batch (or a variant of it), and readers of what the pipeline wrote.

import { DuckDBInstance } from "@duckdb/node-api";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import type { ObjectStore } from "../../../resources/object_store/types.ts";
import type { Ledger } from "../../../resources/ledger/types.ts";
import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import type { GdalEngine } from "../../../resources/spatial/gdal.ts";
import { SpatialiteEngine } from "../../../resources/spatial/spatialite.ts";
import { FakeClock } from "../../../core/testing.ts";
import type { BatchRun } from "../../../assets/spatial/batch_asset.ts";
import { spatialAssets } from "../../../assets/spatial/mod.ts";
import { spatialBatches } from "../../../assets/spatial/partitions.ts";
import { type Config, ConfigSchema } from "../../../resources/config.ts";
import { defineGraph, materialize, MemoryRunStore } from "../../../core/mod.ts";

/** The shipped sample batch. */
export const SAMPLE_DIR = new URL("../../../sample_data/spatial/", import.meta.url);
export const LANDING = "landing-zone";
export const LAKE = "data-lake";

/** The sample manifest, parsed, for variants. */
export async function sampleManifest(): Promise<Record<string, unknown>> {
  return JSON.parse(
    await Deno.readTextFile(new URL("manifests/montana-sample.json", SAMPLE_DIR)),
  );
}

/**
 * A memory store with the sample batch uploaded under `batchId` (paths
 * rewritten), its manifest transformed by `edit`, and a memory ledger.
 */
export async function sampleLanding<S extends ObjectStore = MemoryObjectStore>(
  batchId = "montana-sample",
  edit: (manifest: Record<string, unknown>) => Record<string, unknown> = (m) => m,
  store: S = new MemoryObjectStore() as ObjectStore as S,
) {
  await store.ensureBucket(LANDING);
  const dir = new URL("montana-sample/", SAMPLE_DIR);
  for await (const entry of Deno.readDir(dir)) {
    await store.put(
      LANDING,
      `${batchId}/${entry.name}`,
      await Deno.readFile(new URL(entry.name, dir)),
    );
  }
  const manifest = await sampleManifest();
  manifest.batch_id = batchId;
  manifest.files = (manifest.files as { path: string }[]).map((f) => ({
    ...f,
    path: f.path.replace("montana-sample/", `${batchId}/`),
  }));
  await store.put(
    LANDING,
    `manifests/${batchId}.json`,
    new TextEncoder().encode(JSON.stringify(edit(manifest))),
  );
  return { store, ledger: new MemoryLedger() };
}

/** Writes an object of the store to a temp file and returns its path. */
export async function download(store: MemoryObjectStore, bucket: string, key: string) {
  const dir = await Deno.makeTempDir({ prefix: "spatial-test-" });
  const file = `${dir}/${key.split("/").pop()}`;
  await Deno.writeFile(file, await store.getBytes(bucket, key));
  return { file, dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** Runs SQL in an in-memory DuckDB and returns the rows as objects. */
export async function duckdb(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(":memory:");
  const conn = await instance.connect();
  try {
    const reader = await conn.runAndReadAll(sql);
    return reader.getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
}

/** The embedded spatial resources of a test graph: gdal3.js and SpatiaLite. */
export function spatialResources() {
  return { gdal: wasmGdal, spatial: new SpatialiteEngine(wasmGdal) };
}

/** A fixed clock for the ISO 19115 `processed_at` of outputs. */
export const FIXED_CLOCK = new FakeClock(Date.parse("2026-11-01T00:00:00Z"));

/** Everything `processVectorBatch` / `processRasterBatch` need for `batchId` of `landing`. */
export function batchRun(
  landing: { store: ObjectStore; ledger: Ledger },
  batchId: string,
  extra: Partial<BatchRun> = {},
): BatchRun {
  return {
    lake: landing.store,
    ledger: landing.ledger,
    gdal: wasmGdal,
    engine: new SpatialiteEngine(wasmGdal),
    landingBucket: LANDING,
    lakeBucket: LAKE,
    targetCrs: "EPSG:4326",
    batchId,
    runId: `run-${batchId}`,
    clock: FIXED_CLOCK,
    ...extra,
  };
}

/** Materialises `group:spatial` for `batchId` through the assets (quarantine, archive included). */
export async function runBatch(
  landing: { store: ObjectStore; ledger: Ledger },
  batchId: string,
  config: Partial<Config> = {},
  overrides: { gdal?: GdalEngine } = {},
) {
  const resources = {
    config: { ...ConfigSchema.parse({}), ...config },
    lake: landing.store,
    ledger: landing.ledger,
    ...spatialResources(),
    ...overrides,
  };
  const graph = defineGraph({ assets: spatialAssets(), resources });
  const runStore = new MemoryRunStore();
  await runStore.addDynamicPartitions(spatialBatches.name, [batchId]);
  return await materialize(graph, {
    selection: "group:spatial",
    partitions: { keys: [batchId] },
    resources,
    runStore,
    clock: FIXED_CLOCK,
  });
}
