/**
 * Worker that creates a new PGlite data dir. Creating one runs initdb inside
 * the WASM module for seconds without yielding; doing it here keeps the main
 * thread (its progress view, its signal handlers) responsive. The main thread
 * then opens the finished dir, which takes a fraction of that time.
 *
 * Message in: the data dir path. Message out: `{ ok: true }` or
 * `{ ok: false, message }`.
 *
 * @module
 */

import { PGlite } from "@electric-sql/pglite";

/** The worker's own scope (the Deno lib types `self` as a window). */
const scope = self as unknown as {
  onmessage: ((event: MessageEvent<string>) => void) | null;
  postMessage(message: { ok: boolean; message?: string }): void;
  close(): void;
};

scope.onmessage = async (event) => {
  try {
    const db = await PGlite.create(event.data);
    await db.close();
    scope.postMessage({ ok: true });
  } catch (error) {
    scope.postMessage({
      ok: false,
      message: error instanceof Error ? error.message : String(error),
    });
  }
  scope.close();
};
