/**
 * The queue commands on the embedded run store (no queue): the refusal says
 * what runs the same work now, in this process.
 *
 * @module
 */

import { defineAsset } from "../../../core/asset.ts";
import { staticPartitions } from "../../../core/partitions.ts";
import { assertExit, cli, EXIT, testApp } from "../cli/_app.ts";
import assert from "node:assert/strict";

Deno.test("backfill and materialize --queue without a queue exit 2 saying how to run the partitions now", async () => {
  // Before: only "needs RUNS_URL=postgres://...": nothing said that materialize --from/--to
  // runs the same backfill on the embedded defaults.
  const { app } = testApp([
    defineAsset({ key: "p", partitions: staticPartitions(["a", "b"]), materialize: () => ({}) }),
  ]);
  const backfill = await cli(app, ["backfill", "p", "--from", "a", "--to", "b"]);
  assertExit(backfill, EXIT.usage);
  assert.match(backfill.stderr, /'backfill' needs the run queue, which needs RUNS_URL=postgres/);
  assert.match(
    backfill.stderr,
    /to run those partitions now, in this process: deno task materialize SELECTION --from KEY --to KEY/,
  );
  const queued = await cli(app, ["materialize", "p", "--queue"]);
  assertExit(queued, EXIT.usage);
  assert.match(queued.stderr, /leave out --queue to run them now, in this process/);
});
