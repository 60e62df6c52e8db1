/**
 * A lake for the STAC catalogue's tests and benchmark (stac_test.ts,
 * bench/stac.ts): an in-memory store counting the requests an update makes.
 */

import type { updateStac } from "../../../assets/spatial/stac.ts";
import type { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";

/** The lake bucket of these tests. */
export const BUCKET = "data-lake";

/**
 * Publishes one GeoParquet output of `project`/`batch` (ledger first, then
 * the object) and brings the catalogue up to date with `update` (the
 * `updateStac` under test).
 */
export async function publishOne(
  update: typeof updateStac,
  lake: MemoryObjectStore,
  ledger: MemoryLedger,
  project: string,
  batch: string,
  west: number,
): Promise<void> {
  const key = `${project}/${batch}/roads.parquet`;
  const doc = await ledger.upsert({
    bucket: BUCKET,
    key,
    sha256: "b".repeat(64),
    size: 4,
    run_id: `run-${batch}`,
    asset_key: "spatial/vector_geoparquet",
    partition: batch,
    batch_id: batch,
    format: "geoparquet",
    content_type: "application/vnd.apache.parquet",
    metadata: {
      crs: "EPSG:4326",
      bbox: [west, 45, west + 1, 46],
      feature_count: 2,
      column_schema: [],
    },
  });
  await lake.put(BUCKET, key, new TextEncoder().encode("PAR1"), {
    metadata: { mongodb_doc_id: doc.id },
  });
  await update({ lake, ledger, lakeBucket: BUCKET, project, batchId: batch, runId: "r" });
}

/** A memory lake counting object reads, writes and listed keys (what an S3 lake pays for). */
export class CountingStore extends MemoryObjectStore {
  /** Objects read (`getBytes`). */
  reads = 0;
  /** Objects written (`put`). */
  writes = 0;
  /** Keys and prefixes listed (`list` pages, and so `listAll`). */
  listed = 0;
  override getBytes(...args: Parameters<MemoryObjectStore["getBytes"]>) {
    this.reads++;
    return super.getBytes(...args);
  }
  override put(...args: Parameters<MemoryObjectStore["put"]>) {
    this.writes++;
    return super.put(...args);
  }
  override list(...args: Parameters<MemoryObjectStore["list"]>) {
    return super.list(...args).then((page) => {
      this.listed += page.objects.length + page.prefixes.length;
      return page;
    });
  }
}
