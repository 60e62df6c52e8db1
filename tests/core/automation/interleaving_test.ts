/**
 * The daemon's automation against every order of events a fast machine can
 * produce: steps that end before the next evaluation reads their run's start,
 * a load that lands while the eager chain still runs, evaluations between
 * any two events.
 * Steps wait on gates the test opens, the daemon ticks when the test says,
 * so each interleaving is replayed exactly (a seed names it).
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { eager } from "../../../core/automation/condition.ts";
import { AUTOMATION_SENSOR } from "../../../core/automation/sensor.ts";
import { SensorDaemon } from "../../../core/daemon.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import { FakeClock } from "../../../core/testing.ts";
import { Random } from "../../_helpers/reliability.ts";
import { dropsSensor } from "../../_helpers/drops_sensor.ts";

const T0 = Date.parse("2024-03-10T10:30:00Z");
const MARTS = ["stg_a", "stg_b", "int", "base", "dev"];
/** The parents of each marts asset. */
const DEPS: Record<string, string[]> = {
  stg_a: ["bronze"],
  stg_b: ["bronze"],
  int: ["stg_a", "stg_b"],
  base: ["int"],
  dev: ["int", "base"],
};

/** The shipped graph's shape: one load, two staging models over it, a chain after them. */
function world() {
  const drops: string[] = [];
  /** Steps waiting for the test to let them finish, in the order they began. */
  const waiting: { key: string; finish: () => void }[] = [];
  const step = (key: string) => () =>
    new Promise<void>((resolve) => waiting.push({ key, finish: resolve }));
  const sensor = dropsSensor(drops);
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "bronze", materialize: step("bronze") }),
      defineAsset({
        key: "stg_a",
        deps: ["bronze"],
        automation: eager(),
        materialize: step("stg_a"),
      }),
      defineAsset({
        key: "stg_b",
        deps: ["bronze"],
        automation: eager(),
        materialize: step("stg_b"),
      }),
      defineAsset({
        key: "int",
        deps: ["stg_a", "stg_b"],
        automation: eager(),
        materialize: step("int"),
      }),
      defineAsset({ key: "base", deps: ["int"], automation: eager(), materialize: step("base") }),
      defineAsset({
        key: "dev",
        deps: ["int", "base"],
        automation: eager(),
        materialize: step("dev"),
      }),
    ],
    sensors: [sensor],
  });
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  const options = { runStore: store, clock, daemonId: "d1", intervalMs: 1000, concurrency: 2 };
  const daemon = new SensorDaemon(graph, options);
  /** Lets every pending promise chain run (the runs' store writes are all in memory). */
  const idle = async () => {
    for (let i = 0; i < 50; i++) await Promise.resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
    for (let i = 0; i < 50; i++) await Promise.resolve();
  };
  /** Lets the step of `key` that began first finish. */
  const finish = async (key: string) => {
    const i = waiting.findIndex((w) => w.key === key);
    assert.ok(i >= 0, `a step of ${key} is running (running: ${waiting.map((w) => w.key)})`);
    waiting.splice(i, 1)[0]?.finish();
    await idle();
  };
  const tick = async () => {
    await daemon.tick();
    await idle();
  };
  const automated = async () =>
    (await store.listRuns({ tags: { sensor: AUTOMATION_SENSOR }, limit: 100 })).reverse();
  /** Ends everything: finishes steps and ticks until nothing runs and nothing is launched. */
  const settle = async () => {
    for (let round = 0; round < 100; round++) {
      while (waiting.length > 0) await finish((waiting[0] as { key: string }).key);
      const reports = await daemon.tick();
      await idle();
      if (waiting.length === 0 && reports.every((r) => r.launched.length === 0)) {
        await daemon.drain();
        return;
      }
    }
    throw new Error("the daemon never settled");
  };
  return { drops, waiting, store, clock, daemon, idle, finish, tick, automated, settle };
}

/** Automated runs that plan a marts asset while another automated run planning it is running. */
async function overlapping(w: ReturnType<typeof world>): Promise<string[]> {
  const running = (await w.automated()).filter((r) => r.status === "running");
  const seen = new Map<string, string>();
  const overlaps: string[] = [];
  for (const run of running) {
    for (const key of run.selection.split(",")) {
      const other = seen.get(key);
      if (other) overlaps.push(`${key} in ${other} and ${run.tags.run_key}`);
      seen.set(key, run.tags.run_key ?? run.runId);
    }
  }
  return overlaps;
}

Deno.test("automation: steps that ended before the next evaluation read their run's start stay in progress until the run ends", async () => {
  const w = world();
  await using _ = w.daemon;
  // Time moves (1 ms per evaluation): this is about order, not same-millisecond ties.
  const tick = async () => {
    w.clock.advance(1);
    await w.tick();
  };
  await tick(); // the first evaluation: nothing to do
  w.drops.push("file-1.csv");
  await tick(); // the load starts
  await w.finish("bronze");
  await tick(); // the load ended: the marts run starts
  const [first] = await w.automated();
  assert.deepEqual(first?.selection.split(","), MARTS);
  // A fast machine: both staging steps end before the next evaluation reads the run's start.
  await w.finish("stg_a");
  await w.finish("stg_b");
  w.drops.push("file-2.csv");
  await tick(); // reads the marts run's start; the second load starts
  await w.finish("bronze");
  await tick(); // the second load ended while int, base, dev still run
  assert.deepEqual(await overlapping(w), [], "nothing requested again while the chain runs");
  assert.equal((await w.automated()).length, 1, "the staging models wait for the marts run");
  await w.settle();
  const runs = await w.automated();
  assert.equal(runs.length, 2, runs.map((r) => `${r.tags.run_key} ${r.selection}`).join("; "));
  assert.deepEqual(runs[1]?.selection.split(","), MARTS, "then one more run of the whole chain");
});

/**
 * Plays 300 seeded interleavings; with `ties`, time moves only now and then,
 * so loads, requests and steps often share a millisecond.
 */
async function explore(ties: boolean): Promise<void> {
  const failures: string[] = [];
  for (let seed = 1; seed <= 300; seed++) {
    const random = new Random(seed); // a failing seed replays its interleaving
    const w = world();
    const trace: string[] = [];
    try {
      await w.tick();
      w.drops.push("file-1.csv");
      trace.push("drop 1");
      let dropped = 1;
      for (let move = 0; move < 60; move++) {
        if (!ties) w.clock.advance(1);
        const r = random.next();
        if (r < 0.35) {
          await w.tick();
          trace.push("tick");
        } else if (r < 0.8 && w.waiting.length > 0) {
          const { key } = w.waiting[Math.floor(random.next() * w.waiting.length)] as {
            key: string;
          };
          await w.finish(key);
          trace.push(`end ${key}`);
        } else if (r < 0.9 && dropped === 1 && (await w.automated()).length > 0) {
          w.drops.push("file-2.csv");
          dropped = 2;
          trace.push("drop 2");
        } else if (ties && r < 0.95) {
          w.clock.advance(1);
          trace.push("+1ms");
        }
        const overlaps = await overlapping(w);
        assert.deepEqual(overlaps, [], "a marts asset is requested again while a run plans it");
      }
      await w.settle();
      const runs = await w.automated();
      assert.ok(runs.length <= dropped, `at most one marts run per load: ${runs.length}`);
      assert.ok(runs.every((r) => r.status === "success"));
      // Up to date: every marts asset read the latest data of each of its parents.
      for (const [key, deps] of Object.entries(DEPS)) {
        const [m] = await w.store.listMaterializations(key);
        for (const dep of deps) {
          const [latest] = await w.store.listMaterializations(dep);
          assert.equal(m?.provenance?.inputs[dep]?.runId, latest?.runId, `${key} read ${dep}`);
        }
      }
    } catch (error) {
      failures.push(`seed ${seed} (${trace.join(", ")}): ${String(error).split("\n")[0]}`);
    } finally {
      await w.settle().catch(() => {});
      await w.daemon.close();
    }
  }
  assert.deepEqual(failures, [], `${failures.length} of 300 interleavings failed`);
}

Deno.test("automation: any interleaving of two loads, the eager chain's steps and evaluations runs the chain once per load it missed, never twice at once", () =>
  explore(false));

Deno.test("automation: the same, with loads, requests and steps sharing a millisecond: the feed's order tells them apart", () =>
  explore(true));
