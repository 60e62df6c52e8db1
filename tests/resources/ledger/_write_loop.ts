/**
 * The write loop both processes of the SQLite concurrency test run.
 *
 * @module
 */

import type { Ledger } from "../../../resources/ledger/mod.ts";
import { sampleInput, sha } from "./_docs.ts";

/** Number of objects both processes write, to contend on the same triples. */
export const SHARED_OBJECTS = 5;

/** When a loop ran, in milliseconds since the epoch. */
export interface WriteWindow {
  readonly start: number;
  readonly end: number;
}

/**
 * Upserts `count` documents of `runId` (keys `<runId>/<i>.json`) and, every
 * tenth step, one of the shared objects.
 */
export async function writeLoop(
  ledger: Ledger,
  runId: string,
  count: number,
): Promise<WriteWindow> {
  const start = Date.now();
  for (let i = 0; i < count; i++) {
    await ledger.upsert(sampleInput(i, { key: `${runId}/${i}.json`, run_id: runId }));
    if (i % 10 === 0) {
      const n = 1_000_000 + (i / 10) % SHARED_OBJECTS;
      await ledger.upsert(sampleInput(n, { key: `shared/${n}.json`, sha256: sha(n) }));
    }
  }
  return { start, end: Date.now() };
}
