/**
 * executeNode reads the run's clock as a clock, whatever its class: the
 * CLI's AlignedClock (core/clock.ts, aligned on a shared run store's server)
 * keeps private state, and a build that called its `now` detached from it
 * failed every model of `deno task materialize` ("Cannot read private
 * member #source").
 */

import assert from "node:assert/strict";
import { alignClock, AlignedClock } from "../../../../core/clock.ts";
import { executeNode, type RunResultEntry } from "../../../../resources/dbt/mod.ts";
import { embeddedProject, PGLITE_TARGET, rows } from "../_embedded.ts";

Deno.test("executeNode: a model builds on an AlignedClock, its times from that clock", async () => {
  await using h = await embeddedProject(PGLITE_TARGET, { "models/m.sql": "select 1 as one" });
  const project = await h.load();
  const clock = new AlignedClock();
  // A server an hour ahead: the run result's times are the aligned clock's.
  await alignClock(clock, () => Promise.resolve(Date.now() + 3_600_000));
  const recorded: RunResultEntry[] = [];
  const built = await executeNode(h.warehouse, project, project.models.get("m")!, {
    clock,
    record: (entry) => {
      recorded.push(entry);
      return Promise.resolve();
    },
  });
  assert.equal(built.name, "m");
  assert.deepEqual(await rows(h.warehouse, "select * from analytics.m"), [{ one: 1 }]);
  assert.equal(recorded.length, 1);
  assert.equal(recorded[0]!.status, "success");
  const started = Date.parse(recorded[0]!.timing.at(-1)!.started_at!);
  assert.ok(started > Date.now() + 3_000_000, `started ${recorded[0]!.timing.at(-1)!.started_at}`);
});
