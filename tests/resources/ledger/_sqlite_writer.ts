/**
 * A second process for the SQLite concurrency test: upserts `count` documents
 * of run `runId` into the ledger at `path`, plus shared objects both
 * processes write, and prints JSON progress lines on stdout.
 *
 * Usage: deno run --allow-read --allow-write _sqlite_writer.ts PATH RUN_ID COUNT
 *
 * @module
 */

import { SqliteLedger } from "../../../resources/ledger/sqlite.ts";
import { writeLoop } from "./_write_loop.ts";

const [path, runId, countText] = Deno.args;
if (path === undefined || runId === undefined || countText === undefined) {
  throw new TypeError("usage: _sqlite_writer.ts PATH RUN_ID COUNT");
}
await using ledger = new SqliteLedger(path, { busyTimeoutMs: 20_000 });
console.log(JSON.stringify({ ready: true }));
const window = await writeLoop(ledger, runId, Number(countText));
console.log(JSON.stringify(window));
