/**
 * The coordinator while its server is away: a standby tries to take the lead
 * every interval, and says so once per outage (then once when the queue
 * answers again), not an error line per try.
 */
import assert from "node:assert/strict";
import { ResourceError } from "../../../core/errors.ts";
import { createLogger, type LogRecord } from "../../../core/logger.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import { Coordinator } from "../../../core/worker/coordinator.ts";
import { MemoryRunQueue } from "../../../core/worker/memory_queue.ts";
import type { Leadership, LeadOptions } from "../../../core/worker/queue.ts";

/** A queue whose server is away for its first `failures` tries to lead. */
class AwayQueue extends MemoryRunQueue {
  tries = 0;
  constructor(readonly failures: number) {
    super();
  }
  override tryLead(role: string, options?: LeadOptions): Promise<Leadership | undefined> {
    if (++this.tries <= this.failures) {
      return Promise.reject(
        new ResourceError("queue.unreachable", "Cannot connect to the run queue: ECONNREFUSED", {
          transient: true,
        }),
      );
    }
    return super.tryLead(role, options);
  }
}

Deno.test("coordinator: a server away is said once, and its return once, not a line per try", async () => {
  const queue = new AwayQueue(25);
  const records: LogRecord[] = [];
  const stop = new AbortController();
  const log = createLogger((record) => {
    records.push(record);
    if (record.message === "coordinator: leading") stop.abort();
  });
  await new Coordinator({ queue, runStore: new MemoryRunStore(), intervalMs: 1, log })
    .run(stop.signal);
  assert.ok(queue.tries > 25, `tried ${queue.tries} times`);
  const said = records.map((r) => `${r.level} ${r.message}`);
  assert.equal(said.filter((s) => /cannot take the lead/.test(s)).length, 1, said.join("\n"));
  assert.match(
    said.find((s) => /cannot take the lead/.test(s)) ?? "",
    /^error coordinator: cannot take the lead: Cannot connect to the run queue: ECONNREFUSED; trying again every 1 ms/,
  );
  assert.equal(said.filter((s) => /answers again/.test(s)).length, 1, said.join("\n"));
});
