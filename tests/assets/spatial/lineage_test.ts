/**
 * publishOutput: a lake copy that differs from the file written fails with a
 * typed, stable error naming the user's landing files and what to do.
 */

import assert from "node:assert/strict";
import { ResourceError } from "../../../core/errors.ts";
import { publishOutput, type SpatialLedgerMetadata } from "../../../assets/spatial/lineage.ts";
import { MemoryLedger } from "../../../resources/ledger/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";

const SOURCE = "montana-2024/counties.shp";

function metadata(): SpatialLedgerMetadata {
  return {
    uploader: "ann",
    intent: "publish",
    project: "montana",
    source_files: [{ key: SOURCE, sha256: "a".repeat(64), size: 3 }],
    crs: "EPSG:4326",
    bbox: null,
    column_schema: [],
    manifest_etag: "etag",
    iso19115: {
      title: "counties",
      abstract: "counties",
      extent: { geographic_bbox: null, temporal: { processed_at: "2026-12-07T00:00:00Z" } },
      reference_system: "EPSG:4326",
      lineage: { statement: "s", sources: [SOURCE], process_steps: [] },
      distribution_format: "GeoParquet",
      contact: "ann",
    },
  };
}

Deno.test("publishOutput: a file that changed while it was uploaded fails with lake.output_changed naming the landing file and what to do", async () => {
  const file = await Deno.makeTempFile({ prefix: "lineage-" });
  try {
    await Deno.writeTextFile(file, "what the store reads");
    const error = await publishOutput({
      lake: new MemoryObjectStore(),
      ledger: new MemoryLedger(),
      bucket: "data-lake",
      key: "montana/montana-2024/counties.parquet",
      file,
      // The writer's hash of what it wrote: the store stores other bytes.
      written: { sha256: "b".repeat(64), size: 3 },
      contentType: "application/vnd.apache.parquet",
      format: "geoparquet",
      runId: "run-1",
      assetKey: "spatial/vector_geoparquet",
      batchId: "montana-2024",
      metadata: metadata(),
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof ResourceError, String(error));
    assert.equal(error.code, "lake.output_changed");
    assert.equal(error.transient, true);
    assert.equal(error.input, "data-lake/montana/montana-2024/counties.parquet");
    assert.match(error.message, /'montana-2024\/counties\.shp'/);
    assert.match(error.message, /batch 'montana-2024'/);
    assert.match(error.message, /--partition montana-2024/);
  } finally {
    await Deno.remove(file);
  }
});
