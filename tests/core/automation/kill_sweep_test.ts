/**
 * A daemon killed with -9 at any moment of a drop's way through the load and
 * the eager chain (before or after any one of its run store calls, with its
 * buffered writes committed or lost), then a new daemon on the same store:
 * every request is launched once (a lost run is relaunched once, under the
 * same key), the claimed tick is taken over at once, and the chain ends up
 * having read the drop.
 */

import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { eager } from "../../../core/automation/condition.ts";
import {
  AUTOMATION_SENSOR,
  AUTOMATION_TICK_CLAIMS,
  parseAutomationCursor,
  parseTickHolder,
} from "../../../core/automation/sensor.ts";
import { SensorDaemon } from "../../../core/daemon.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { processOwner } from "../../../core/owner.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import type { RunStore } from "../../../core/run_store/types.ts";
import { FakeClock } from "../../../core/testing.ts";
import { dropsSensor } from "../../_helpers/drops_sensor.ts";

const T0 = Date.parse("2024-03-10T10:30:00Z");
/** The killed daemon's process: same host as the test, a pid that is gone. */
const KILLED = { instanceId: "killed-daemon", host: processOwner().host, pid: 4242 };
/** Writes SQL stores buffer (committed together with the next read or write, or by a timer). */
const BUFFERED = new Set(["putStep", "appendEvents"]);

function graphOf(drops: string[]) {
  const sensor = dropsSensor(drops);
  return defineGraph({
    assets: [
      defineAsset({ key: "bronze", materialize: () => {} }),
      defineAsset({ key: "stg", deps: ["bronze"], automation: eager(), materialize: () => {} }),
      defineAsset({ key: "mart", deps: ["stg"], automation: eager(), materialize: () => {} }),
    ],
    sensors: [sensor],
  });
}

/**
 * `store` as one process sees it, until that process is killed at its
 * `killAt`-th call: from then on no call of it ever returns (nor reaches the
 * store), and the buffered writes not yet committed are lost or, when
 * `timerCommitted`, were committed by the buffer's timer just before.
 */
function killable(store: MemoryRunStore, killAt: number, timerCommitted: boolean) {
  let calls = 0;
  let dead = false;
  let killedIn = "";
  let pending: (() => unknown)[] = [];
  let chain: Promise<unknown> = Promise.resolve();
  let killed!: () => void;
  const death = new Promise<void>((resolve) => (killed = resolve));
  const commit = async () => {
    for (const write of pending.splice(0)) await write();
  };
  const proxy = new Proxy(store, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== "function" || prop === "description") return value;
      return (...args: unknown[]) => {
        if (dead) return new Promise(() => {});
        if (++calls >= killAt) {
          dead = true;
          killedIn = `${String(prop)}(${JSON.stringify(args[0])?.slice(0, 40)})`;
          const lost = pending;
          pending = [];
          chain = chain.then(async () => {
            if (timerCommitted) { for (const write of lost) await write(); }
            killed();
          });
          return new Promise(() => {});
        }
        const call = () => value.apply(target, args);
        if (BUFFERED.has(String(prop))) {
          pending.push(call);
          return Promise.resolve();
        }
        // Every other call commits the buffer first, in order (as the SQL stores do).
        const result = chain.then(async () => {
          await commit();
          return await call();
        });
        chain = result.catch(() => {});
        return result;
      };
    },
  });
  return { store: proxy as RunStore, death, killedIn: () => killedIn };
}

/** Lets a dead process's timers and promise chains settle (its store calls never return). */
const pause = () => new Promise((resolve) => setTimeout(resolve, 30));

/** One scenario: the first daemon is killed at its `killAt`-th store call after the drop. */
async function scenario(killAt: number, timerCommitted: boolean) {
  const drops: string[] = [];
  const graph = graphOf(drops);
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  // The first daemon runs until it has evaluated once, then the drop lands and the kill is armed.
  const warm = new SensorDaemon(graph, {
    runStore: store,
    clock,
    daemonId: "warm",
    intervalMs: 1000,
  });
  await warm.tick();
  await warm.close();
  const one = killable(store, killAt, timerCommitted);
  const first = new SensorDaemon(graph, {
    runStore: one.store,
    clock,
    daemonId: "one",
    intervalMs: 1000,
    owner: KILLED,
    host: { self: KILLED, pidExists: () => true },
  });
  drops.push("file-1.csv");
  let dead = false;
  const died = one.death.then(() => (dead = true));
  for (let i = 0; i < 8 && !dead; i++) {
    clock.advance(1000);
    await Promise.race([first.tick(), died]);
    if (!dead) await Promise.race([first.drain(), died]);
  }
  await pause();
  const cursorAtKill = parseAutomationCursor(await store.getCursor(AUTOMATION_SENSOR)).tick;
  const held = await store.getRunKey(AUTOMATION_TICK_CLAIMS, String(cursorAtKill + 1));
  const heldByKilled = held !== undefined && parseTickHolder(held).daemon === "one";
  // The restarted daemon: this process, which sees that pid 4242 is gone.
  const second = new SensorDaemon(graph, {
    runStore: store,
    clock,
    daemonId: "two",
    intervalMs: 1000,
    host: { self: processOwner(), pidExists: (pid) => pid !== KILLED.pid },
  });
  try {
    for (let i = 0; i < 8; i++) {
      clock.advance(1000);
      await second.tick();
      await second.drain();
    }
  } finally {
    await second.close();
  }
  await pause();
  const takeover = await store.getRunKey(AUTOMATION_TICK_CLAIMS, `${cursorAtKill + 1}#2`);
  return {
    store,
    dead,
    killedIn: one.killedIn(),
    heldByKilled,
    takeover: takeover && parseTickHolder(takeover).daemon,
  };
}

Deno.test("automation: a daemon killed at any store call of a drop's load and eager chain; the next launches every request once and finishes the chain", async () => {
  const failures: string[] = [];
  let scenarios = 0;
  for (const timerCommitted of [false, true]) {
    for (let killAt = 1;; killAt++) {
      const { store, dead, killedIn, heldByKilled, takeover } = await scenario(
        killAt,
        timerCommitted,
      );
      if (!dead) break; // killed after everything: the sweep covered every call
      scenarios++;
      const where = `killed at call ${killAt}, ${killedIn} (buffered writes ${
        timerCommitted ? "committed" : "lost"
      })`;
      try {
        if (heldByKilled) {
          assert.equal(
            takeover,
            "two",
            "the killed daemon's tick was evaluated again, as attempt 2",
          );
        }
        const runs = (await store.listRuns({ limit: 100 })).reverse();
        assert.ok(runs.every((r) => r.status !== "running"), "no run left running");
        const automated = runs.filter((r) => r.tags.sensor === AUTOMATION_SENSOR);
        const keys = runs.filter((r) => !r.tags.relaunch_of).map((r) => r.tags.run_key);
        assert.equal(new Set(keys).size, keys.length, `no run key launched twice: ${keys}`);
        assert.ok(
          automated.filter((r) => !r.tags.relaunch_of).length <= 1,
          `one marts request for one drop: ${automated.map((r) => r.tags.run_key)}`,
        );
        const [bronze] = await store.listMaterializations("bronze");
        const [stg] = await store.listMaterializations("stg");
        const [mart] = await store.listMaterializations("mart");
        assert.ok(bronze, "the drop was loaded");
        assert.equal(stg?.provenance?.inputs.bronze?.runId, bronze.runId, "stg read the load");
        assert.equal(mart?.provenance?.inputs.stg?.runId, stg?.runId, "mart read stg");
      } catch (error) {
        failures.push(`${where}: ${String(error).split("\n")[0]}`);
      }
    }
  }
  assert.ok(scenarios > 20, `the sweep killed the daemon at ${scenarios} points`);
  assert.deepEqual(failures, [], `${failures.length} of ${scenarios} kill points failed`);
});
