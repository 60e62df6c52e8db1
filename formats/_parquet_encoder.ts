/**
 * Runs the GeoParquet writer's Parquet encoding (parquet-wasm, about half
 * of the writer's CPU time: zstd, pages, statistics) on a worker thread
 * (`_parquet_encode_worker.ts`), so that the writer's thread reads and
 * builds the next pages meanwhile: the machine's second core, where the
 * writer used one. The writer stays one pass with bounded memory: at most
 * {@linkcode PAGES_AHEAD} pages are sent before the worker takes one, each
 * copied into one of as many shared buffers.
 *
 * One worker per file, ended with it: a Web Worker keeps a Deno process
 * alive while it runs, so one kept for the next file would hold a command
 * open after its work (and `node:worker_threads`, which can be unref'd,
 * took ~90 ms a message round trip in Deno 2.9 against ~0.1 ms here).
 * Its start costs ~50 ms of CPU, which is why a layer of one page is
 * encoded on the writer's thread instead (`geoparquet.ts`).
 *
 * @module
 */

import { PlatformError } from "../core/errors.ts";
import type { EncodeReply, EncodeRequest, EncodeSettings } from "./_parquet_encode.ts";

/**
 * Pages sent ahead of the worker: the writer builds one while the worker
 * encodes another, with one spare for the moments either is slower.
 */
export const PAGES_AHEAD = 2;

/**
 * The encoding worker failed or stopped: a fault of the platform (out of
 * memory, a crash), not of the layer, so a batch failing so is retried.
 */
export class ParquetEncoderError extends PlatformError {}

let started = 0;

/** How many encoding workers this process has started (tests check which route a write took). */
export function encodeWorkersStarted(): number {
  return started;
}

/** A Parquet file being encoded on a worker; {@linkcode close} (or `using`) ends the worker. */
export interface WorkerEncoding extends Disposable {
  /** The file's bytes, as the worker encodes them. */
  bytes: ReadableStream<Uint8Array>;
  /** Ends the worker (done or not). */
  close(): void;
}

/**
 * Encodes the pages `next` gives (Arrow IPC streams of one record batch
 * each, `undefined` after the last) on a new worker thread. An error of
 * `next` ends the worker and errors `bytes` with it.
 */
export function encodeOnWorker(
  next: () => Promise<Uint8Array | undefined>,
  settings: EncodeSettings,
): WorkerEncoding {
  started++;
  const worker = new Worker(new URL("./_parquet_encode_worker.ts", import.meta.url).href, {
    type: "module",
  });
  const post = (request: EncodeRequest, transfer: Transferable[] = []) =>
    worker.postMessage(request, transfer);
  let output!: ReadableStreamDefaultController<Uint8Array>;
  let finished = false;
  const finish = (error?: unknown) => {
    if (finished) return;
    finished = true;
    worker.terminate();
    if (error === undefined) output.close();
    else output.error(error);
  };
  // Pages cross in shared buffers, reused: a buffer moved to the worker per
  // page was garbage there, which its heap, seldom collected, let add up
  // (2.4M points: +45 MiB peak against 300k).
  const free: SharedArrayBuffer[] = [];
  const lent: SharedArrayBuffer[] = [];
  let credits = PAGES_AHEAD;
  let pumping = false;
  let ended = false;
  // Sends pages while the worker has room for them.
  const pump = async () => {
    if (pumping) return;
    pumping = true;
    try {
      while (credits > 0 && !ended && !finished) {
        credits--;
        const ipc = await next();
        if (finished) return;
        if (ipc === undefined) {
          ended = true;
          post({ type: "end" });
          continue;
        }
        let buffer = free.pop();
        if (buffer === undefined || buffer.byteLength < ipc.length) {
          buffer = new SharedArrayBuffer(Math.max(ipc.length, buffer?.byteLength ?? 0) * 1.25);
        }
        new Uint8Array(buffer).set(ipc);
        lent.push(buffer);
        post({ type: "page", buffer, length: ipc.length });
      }
    } catch (error) {
      finish(error);
    } finally {
      pumping = false;
    }
  };
  worker.onmessage = (event: MessageEvent<EncodeReply>) => {
    const reply = event.data;
    switch (reply.type) {
      case "took":
        // Pages are taken in the order they were sent.
        free.push(lent.shift()!);
        credits++;
        void pump();
        return;
      case "bytes":
        if (!finished) output.enqueue(reply.chunk);
        return;
      case "done":
        return finish();
      case "error":
        return finish(
          new ParquetEncoderError(
            "spatial.parquet_encoder_failed",
            `Cannot write GeoParquet: the Parquet encoder failed (${reply.message}); ` +
              "run the batch again",
          ),
        );
    }
  };
  worker.onerror = (event: ErrorEvent) => {
    event.preventDefault();
    finish(
      new ParquetEncoderError(
        "spatial.parquet_encoder_failed",
        `Cannot write GeoParquet: the Parquet encoder's thread stopped (${event.message}); ` +
          "run the batch again",
      ),
    );
  };
  const bytes = new ReadableStream<Uint8Array>({
    start(controller) {
      output = controller;
      post({ type: "start", settings });
      void pump();
    },
    cancel() {
      finished = true;
      worker.terminate();
    },
  });
  const close = () => {
    if (finished) return;
    finished = true;
    worker.terminate();
  };
  return { bytes, close, [Symbol.dispose]: close };
}
