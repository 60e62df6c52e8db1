import assert from "node:assert/strict";
import { WriteBuffer } from "../../../resources/run_store/_buffer.ts";

class Items {
  readonly items: number[] = [];
  get size(): number {
    return this.items.length;
  }
}

function buffer(
  commit: (batch: Items) => Promise<void> | void,
  options: { maxBuffered?: number; flushIntervalMs?: number } = {},
) {
  return new WriteBuffer<Items>({
    newBatch: () => new Items(),
    commit,
    keep: (failed, newer) => {
      newer.items.unshift(...failed.items);
      return newer;
    },
    flushIntervalMs: options.flushIntervalMs ?? 60_000,
    maxBuffered: options.maxBuffered ?? 100,
  });
}

Deno.test("writes wait for a flush and are committed together, in order", async () => {
  const committed: number[][] = [];
  const b = buffer((batch) => void committed.push([...batch.items]));
  b.batch.items.push(1, 2);
  await b.added();
  b.batch.items.push(3);
  await b.added();
  assert.deepEqual(committed, []);
  await b.flush();
  await b.flush(); // nothing left: no empty commit
  assert.deepEqual(committed, [[1, 2, 3]]);
  b.dispose();
});

Deno.test("past maxBuffered the writer waits for the commit", async () => {
  const committed: number[][] = [];
  const b = buffer((batch) => void committed.push([...batch.items]), { maxBuffered: 2 });
  b.batch.items.push(1);
  await b.added();
  assert.deepEqual(committed, []);
  b.batch.items.push(2);
  await b.added();
  assert.deepEqual(committed, [[1, 2]]);
  b.dispose();
});

Deno.test("a failed commit keeps its writes ahead of newer ones, and the next flush retries", async () => {
  const committed: number[][] = [];
  let failing = true;
  const b = buffer((batch) => {
    if (failing) throw new Error("disk full");
    committed.push([...batch.items]);
  });
  b.batch.items.push(1, 2);
  await assert.rejects(b.flush(), /disk full/);
  b.batch.items.push(3);
  await b.added();
  failing = false;
  await b.flush();
  assert.deepEqual(committed, [[1, 2, 3]]);
  b.dispose();
});

Deno.test("commits run one after another even when a slow one is in flight", async () => {
  const log: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const b = buffer(async (batch) => {
    log.push(`start ${batch.items.join(",")}`);
    if (batch.items[0] === 1) await gate;
    log.push(`end ${batch.items.join(",")}`);
  });
  b.batch.items.push(1);
  const first = b.flush();
  await Promise.resolve(); // the first commit has taken [1] and waits on the gate
  b.batch.items.push(2);
  const second = b.flush();
  await Promise.resolve();
  assert.deepEqual(log, ["start 1"]);
  release();
  await Promise.all([first, second]);
  assert.deepEqual(log, ["start 1", "end 1", "start 2", "end 2"]);
  b.dispose();
});

Deno.test("the timer commits within flushIntervalMs and swallows a failure for the next flush", async () => {
  let calls = 0;
  let committed: number[] = [];
  let timerDone!: () => void;
  const ran = new Promise<void>((resolve) => (timerDone = resolve));
  const b = buffer((batch) => {
    calls++;
    if (calls === 1) {
      timerDone();
      throw new Error("busy");
    }
    committed = [...batch.items];
  }, { flushIntervalMs: 1 });
  b.batch.items.push(7);
  await b.added();
  await ran; // the timer's commit failed: nobody awaited it, nothing rejected
  await b.flush();
  assert.deepEqual(committed, [7]);
  b.dispose();
});
