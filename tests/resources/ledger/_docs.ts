/**
 * Sample ledger inputs shared by the ledger tests and the writer subprocess.
 *
 * @module
 */

import type { LedgerDocumentInput } from "../../../resources/ledger/mod.ts";

/** A valid SHA-256 made from a number, so tests can name hashes by index. */
export function sha(n: number): string {
  return n.toString(16).padStart(64, "0");
}

/** A valid input for `raw/<n>.json`, with any field overridden. */
export function sampleInput(
  n: number,
  overrides: Partial<LedgerDocumentInput> = {},
): LedgerDocumentInput {
  return {
    bucket: "data-lake",
    key: `raw/${n}.json`,
    sha256: sha(n),
    size: 100 + n,
    run_id: "run-1",
    asset_key: "raw_weather",
    format: "json",
    ...overrides,
  };
}
