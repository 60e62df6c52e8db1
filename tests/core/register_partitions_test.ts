/**
 * Dynamic partitions registered on demand: a run naming a key nothing has
 * registered asks the partitioning's registrar (core/_register_partitions.ts),
 * with the resources it declared, before planning.
 */

import assert from "node:assert/strict";
import {
  assetFactory,
  defineAsset,
  defineGraph,
  defineResource,
  dynamicPartitions,
  materialize,
  MemoryRunStore,
  type PartitionRegistrar,
  SelectionError,
} from "../../core/mod.ts";

/** A registrar that admits keys starting with `ok-`, recording what it was asked. */
function registrar(asked: string[]): PartitionRegistrar {
  return {
    resources: ["inbox"],
    admit(key, ctx) {
      asked.push(key);
      const inbox = ctx.resources.inbox as { has(key: string): boolean };
      return Promise.resolve(inbox.has(key) ? true : `'${key}' is not in the inbox`);
    },
  };
}

function graphWith(asked: string[], log: string[]) {
  const partitions = dynamicPartitions("batches", {
    initialKeys: ["sample"],
    register: registrar(asked),
  });
  const inbox = defineResource("inbox", () => {
    log.push("opened");
    return {
      has: (key: string) => key.startsWith("ok-"),
      [Symbol.dispose]: () => log.push("closed"),
    };
  });
  const asset = assetFactory<{ inbox: { has(key: string): boolean } }>();
  return defineGraph({
    assets: [
      asset({
        key: "process",
        partitions,
        resources: ["inbox"],
        materialize: (ctx) => ({ partition: ctx.partitionKey ?? null }),
      }),
    ],
    resources: { inbox },
  });
}

Deno.test("a named key the registrar admits is registered, then run", async () => {
  const asked: string[] = [];
  const log: string[] = [];
  const runStore = new MemoryRunStore();
  await runStore.addDynamicPartitions("batches", ["old"]);
  const result = await materialize(graphWith(asked, log), {
    partitions: { keys: ["ok-1", "old", "sample"] },
    runStore,
  });
  assert.equal(result.status, "success");
  assert.deepEqual(result.steps.map((s) => s.partition), ["old", "ok-1", "sample"]);
  // Only the unknown key is asked about; known and initial keys are not.
  assert.deepEqual(asked, ["ok-1"]);
  assert.deepEqual(await runStore.dynamicPartitions("batches"), ["old", "ok-1", "sample"]);
  // The registrar's resources are opened for it and closed before the run opens its own.
  assert.deepEqual(log.slice(0, 2), ["opened", "closed"]);
});

Deno.test("a named key the registrar refuses fails the run before it starts, with the reason", async () => {
  const asked: string[] = [];
  const runStore = new MemoryRunStore();
  const error = await materialize(graphWith(asked, []), {
    partitions: { keys: ["nope"] },
    runStore,
  }).then(() => undefined, (e) => e);
  assert.ok(error instanceof SelectionError, String(error));
  assert.equal(error.code, "selection.unknown_partition");
  assert.match(
    error.message,
    /Partition 'nope' does not exist in dynamic 'batches' and cannot be registered: 'nope' is not in the inbox/,
  );
  assert.deepEqual(await runStore.dynamicPartitions("batches"), []);
  assert.deepEqual(await runStore.listRuns(), [], "no run was recorded");
});

Deno.test("without --partition keys, or without a registrar, nothing is asked", async () => {
  const asked: string[] = [];
  const result = await materialize(graphWith(asked, []), { runStore: new MemoryRunStore() });
  assert.equal(result.status, "success");
  assert.deepEqual(asked, []);
  const plain = defineGraph({
    assets: [
      defineAsset({
        key: "x",
        partitions: dynamicPartitions("plain", { registerHint: "run the sensor" }),
        materialize: () => ({}),
      }),
    ],
  });
  await assert.rejects(
    materialize(plain, { partitions: { keys: ["k"] } }),
    /Partition 'k' does not exist in dynamic 'plain' \(it has no partitions yet\); run the sensor/,
  );
});
