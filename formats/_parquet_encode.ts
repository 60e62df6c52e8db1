/**
 * Parquet encoding of the GeoParquet writer's pages (Arrow IPC streams of
 * one record batch each) with parquet-wasm, shared by the two places it
 * runs: the writer's own thread for a layer of one page, a worker thread
 * (`_parquet_encode_worker.ts`, driven by `_parquet_encoder.ts`) for more.
 * One function builds the writer properties, so both give the same bytes.
 *
 * @module
 */

import * as parquet from "parquet-wasm";

/** How a file is encoded: plain data, so it crosses to a worker by structured clone. */
export interface EncodeSettings {
  /** Rows per row group. */
  rowGroupSize: number;
  /** Most uncompressed bytes of a row group. */
  rowGroupBytes: number;
  /** Text columns, which get dictionary encoding (no other column does). */
  stringColumns: string[];
  /** The geometry column: no statistics. */
  geometryColumn: string;
  /** The `geo` key-value metadata as written first (a reserved value, patched later). */
  geo: string;
}

/** A message to the encoding worker. */
export type EncodeRequest =
  | { type: "start"; settings: EncodeSettings }
  | { type: "page"; buffer: SharedArrayBuffer; length: number }
  | { type: "end" };

/**
 * A message from the encoding worker (`took`: it copied the oldest page
 * into parquet-wasm, so that page's buffer may hold another).
 */
export type EncodeReply =
  | { type: "took" }
  | { type: "bytes"; chunk: Uint8Array }
  | { type: "done" }
  | { type: "error"; message: string };

function writerProperties(settings: EncodeSettings): parquet.WriterProperties {
  // Dictionary encoding only pays for repeated values: WKB and bbox
  // coordinates are unique per feature, and hashing them costs more than
  // the rest of the write. Statistics on WKB bytes are meaningless too; the
  // bbox columns carry the statistics readers filter on.
  let builder = new parquet.WriterPropertiesBuilder()
    .setDictionaryEnabled(false)
    .setColumnStatisticsEnabled(settings.geometryColumn, parquet.EnabledStatistics.None);
  for (const name of settings.stringColumns) {
    builder = builder.setColumnDictionaryEnabled(name, true);
  }
  return builder
    .setCompression(parquet.Compression.ZSTD)
    .setMaxRowGroupSize(settings.rowGroupSize)
    .setMaxRowGroupBytes(settings.rowGroupBytes)
    .setCreatedBy("deno data platform (parquet-wasm)")
    .setKeyValueMetadata(new Map([["geo", settings.geo]]))
    .build();
}

/**
 * The Parquet file of the pages `next` gives (Arrow IPC streams of one
 * record batch each, `undefined` after the last), as a byte stream;
 * `taken` is called once a page's bytes were copied into parquet-wasm.
 */
export function encodeParquet(
  next: () => Promise<Uint8Array | undefined>,
  settings: EncodeSettings,
  taken?: () => void,
): Promise<ReadableStream<Uint8Array>> {
  const batches = new ReadableStream<parquet.RecordBatch>({
    async pull(controller) {
      const ipc = await next();
      if (ipc === undefined) return controller.close();
      // The Table is freed at once: left to its finalizer, each page's copy
      // stayed in parquet-wasm's memory until a garbage collection, which
      // never shrinks (200k polygons: 60 MiB more peak RSS, 25 % more CPU
      // importing the pages).
      const imported = parquet.Table.fromIPCStream(ipc);
      taken?.();
      try {
        controller.enqueue(imported.recordBatch(0)!);
      } finally {
        imported.free();
      }
    },
  });
  return parquet.transformParquetStream(batches, writerProperties(settings)) as Promise<
    ReadableStream<Uint8Array>
  >;
}
