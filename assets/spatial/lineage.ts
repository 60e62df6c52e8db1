/**
 * Lineage of spatial outputs: the ledger metadata of each GeoParquet or COG
 * written to the lake (one zod schema, so a MongoDB `$jsonSchema` can be
 * generated from it with `toMongoJsonSchema`), and {@linkcode publishOutput},
 * which records the ledger document and writes the object carrying its id.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { z } from "zod";
import type { Ledger } from "../../resources/ledger/types.ts";
import type { LedgerDocument } from "../../resources/ledger/schema.ts";
import type { ObjectStore } from "../../resources/object_store/types.ts";
import { ResourceError } from "../../core/errors.ts";
import { Intent } from "./intents.ts";

const Bbox = z.tuple([z.number(), z.number(), z.number(), z.number()]).describe(
  "[xmin, ymin, xmax, ymax] in the output CRS",
);

/** One landing file an output was made from. */
export const SourceFile = z.strictObject({
  key: z.string().min(1),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.int().min(0),
});

/** ISO 19115-style description of a dataset (the core elements). */
export const Iso19115 = z.strictObject({
  title: z.string().min(1),
  abstract: z.string().min(1),
  extent: z.strictObject({
    geographic_bbox: Bbox.nullable(),
    temporal: z.strictObject({ processed_at: z.string() }),
  }),
  reference_system: z.string().min(1),
  lineage: z.strictObject({
    statement: z.string().min(1),
    sources: z.array(z.string()),
    process_steps: z.array(z.string()),
  }),
  distribution_format: z.string().min(1),
  contact: z.string().min(1),
});

/** The `metadata` of a spatial output's ledger document. */
export const SpatialLedgerMetadata = z.strictObject({
  uploader: z.string().min(1),
  intent: Intent,
  project: z.string().min(1),
  source_files: z.array(SourceFile).min(1),
  crs: z.string().min(1),
  bbox: Bbox.nullable(),
  feature_count: z.int().min(0).optional(),
  geometry_types: z.array(z.string()).optional(),
  column_schema: z.array(z.strictObject({ name: z.string(), type: z.string() })),
  raster: z.record(z.string(), z.json()).optional(),
  engine: z.string().optional(),
  gdal_engine: z.string().optional(),
  source_crs: z.string().optional().describe("CRS the file was read in"),
  crs_source: z.enum(["file", "declared"]).optional().describe(
    "Whether the file carried its CRS or the manifest's declared CRS was assigned",
  ),
  manifest_etag: z.string(),
  iso19115: Iso19115,
});

/** The `metadata` of a spatial output's ledger document. */
export type SpatialLedgerMetadata = z.output<typeof SpatialLedgerMetadata>;

/** What {@linkcode publishOutput} needs. */
export interface PublishInput {
  lake: ObjectStore;
  ledger: Ledger;
  bucket: string;
  key: string;
  /** Local file to upload. */
  file: string;
  contentType: string;
  format: "geoparquet" | "cog";
  runId: string;
  assetKey: string;
  batchId: string;
  metadata: SpatialLedgerMetadata;
  /**
   * Size and SHA-256 of `file` as its writer computed them while writing it
   * (the GeoParquet writer does), so that it is not read again to hash it.
   * The store's own hash of what it stored must still match.
   *
   * @default {computed here from the file}
   */
  written?: { sha256: string; size: number };
}

async function fileSha256(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  const chunk = new Uint8Array(1024 * 1024);
  let size = 0;
  using handle = await Deno.open(file);
  for (let read = await handle.read(chunk); read !== null; read = await handle.read(chunk)) {
    hash.update(chunk.subarray(0, read));
    size += read;
  }
  return { sha256: hash.digest("hex"), size };
}

/**
 * Records the output in the ledger (idempotent by bucket, key and SHA-256),
 * then writes the object with the document id in its user metadata
 * (`mongodb_doc_id`). The object appears atomically at its key.
 */
export async function publishOutput(input: PublishInput): Promise<LedgerDocument> {
  const metadata = SpatialLedgerMetadata.parse(input.metadata);
  const { sha256, size } = input.written ?? await fileSha256(input.file);
  const doc = await input.ledger.upsert({
    bucket: input.bucket,
    key: input.key,
    sha256,
    size,
    run_id: input.runId,
    asset_key: input.assetKey,
    partition: input.batchId,
    batch_id: input.batchId,
    format: input.format,
    content_type: input.contentType,
    metadata: metadata as unknown as Record<string, z.core.util.JSONType>,
  });
  await input.lake.ensureBucket(input.bucket);
  // On the local store the file is linked in, not copied (see ObjectStore.putFile).
  const written = await input.lake.putFile(input.bucket, input.key, input.file, {
    contentType: input.contentType,
    metadata: { mongodb_doc_id: doc.id, batch_id: input.batchId, run_id: input.runId },
  });
  if (written.sha256 !== sha256) {
    // The platform's failure, not the user's file: retried (transient), never quarantined.
    const sources = metadata.source_files.map((f) => `'${f.key}'`).join(", ");
    throw new ResourceError(
      "lake.output_changed",
      `The output of ${sources} (batch '${input.batchId}') changed while it was uploaded to ` +
        `'${input.bucket}/${input.key}': the lake stored SHA-256 ${
          written.sha256.slice(0, 12)
        }…, ` +
        `the file written had ${
          sha256.slice(0, 12)
        }… (another process writing the same temporary ` +
        `file, or a failing disk). Run the batch again: deno task materialize ${input.assetKey} ` +
        `--partition ${input.batchId}`,
      {
        resourceKey: "lake",
        assetKey: input.assetKey,
        input: `${input.bucket}/${input.key}`,
        transient: true,
      },
    );
  }
  return doc;
}

/** Builds the ISO 19115-style block of an output. */
export function iso19115(options: {
  title: string;
  abstract: string;
  bbox: [number, number, number, number] | null;
  crs: string;
  sources: string[];
  steps: string[];
  format: string;
  uploader: string;
  processedAt: string;
}): z.output<typeof Iso19115> {
  return {
    title: options.title,
    abstract: options.abstract,
    extent: { geographic_bbox: options.bbox, temporal: { processed_at: options.processedAt } },
    reference_system: options.crs,
    lineage: {
      statement: `Derived from ${options.sources.length} uploaded file(s) by the spatial pipeline.`,
      sources: options.sources,
      process_steps: options.steps,
    },
    distribution_format: options.format,
    contact: options.uploader,
  };
}
