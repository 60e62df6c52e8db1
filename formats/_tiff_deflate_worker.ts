/**
 * One thread of `tiff_deflate.ts`: takes an uncompressed TIFF tile, applies
 * the TIFF predictor and deflates it with the runtime's own zlib (native code,
 * see the parent's module doc for why not GDAL's), and answers with the
 * compressed bytes. Messages: {@linkcode TileJob} in, {@linkcode TileDone} out.
 *
 * @module
 */

import { compressTile, type TileJob } from "./_tiff_tile.ts";

/** The answer to one {@linkcode TileJob}. */
export interface TileDone {
  id: number;
  bytes?: Uint8Array;
  error?: string;
}

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<TileJob>) => void) | null;
  postMessage(message: TileDone, transfer?: Transferable[]): void;
};

scope.onmessage = (event) => {
  const job = event.data;
  try {
    const bytes = compressTile(job);
    scope.postMessage({ id: job.id, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (error) {
    scope.postMessage({
      id: job.id,
      error: error instanceof Error ? error.message : String(error),
    });
  }
};
