/**
 * The worker thread of `_parquet_encoder.ts`: runs parquet-wasm on the
 * writer's pages while the writer's thread reads and builds the next ones.
 * One file per worker. Messages: {@linkcode EncodeRequest} in (`start`,
 * then each `page`, then `end`), {@linkcode EncodeReply} out (`took` once
 * a page is copied into parquet-wasm, the file's `bytes`, then `done` or
 * `error`).
 *
 * @module
 */

import { encodeParquet, type EncodeReply, type EncodeRequest } from "./_parquet_encode.ts";

const scope = self as unknown as {
  onmessage: ((event: MessageEvent<EncodeRequest>) => void) | null;
  postMessage(message: EncodeReply, transfer?: Transferable[]): void;
};

/** Pages received and not yet taken (`undefined`: the end). */
const pages: (Uint8Array | undefined)[] = [];
/** The encoder waiting for a page. */
let waiting: ((ipc: Uint8Array | undefined) => void) | undefined;

function take(): Promise<Uint8Array | undefined> {
  if (pages.length > 0) return Promise.resolve(pages.shift());
  return new Promise((resolve) => (waiting = resolve));
}

async function encode(request: Extract<EncodeRequest, { type: "start" }>): Promise<void> {
  try {
    const bytes = await encodeParquet(
      take,
      request.settings,
      () => scope.postMessage({ type: "took" }),
    );
    for await (const chunk of bytes) {
      // Moved, not copied, when the chunk owns its buffer.
      const own = chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength
        ? chunk
        : chunk.slice();
      scope.postMessage({ type: "bytes", chunk: own }, [own.buffer as ArrayBuffer]);
    }
    scope.postMessage({ type: "done" });
  } catch (error) {
    scope.postMessage({
      type: "error",
      message: error instanceof Error ? error.message : String(error),
    });
  }
}

scope.onmessage = (event) => {
  const request = event.data;
  if (request.type === "start") return void encode(request);
  // A view of the writer's page buffer: parquet-wasm copies it before `took`.
  const ipc = request.type === "page"
    ? new Uint8Array(request.buffer, 0, request.length)
    : undefined;
  const resolve = waiting;
  waiting = undefined;
  if (resolve) resolve(ipc);
  else pages.push(ipc);
};
