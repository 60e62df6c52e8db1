/** Requests into runs: one per connected set, one partition list per run, splits and deferrals. */

import assert from "node:assert/strict";
import { planRuns } from "../../../core/automation/plan_runs.ts";
import { AutomationState } from "../../../core/automation/state.ts";
import { defineAsset } from "../../../core/asset.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { dailyPartitions, dynamicPartitions } from "../../../core/partitions.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";

const days = dailyPartitions("2024-05-01");
const noop = () => {};
const graph = defineGraph({
  assets: [
    defineAsset({ key: "raw", partitions: days, materialize: noop }),
    defineAsset({ key: "bronze", deps: ["raw"], partitions: days, materialize: noop }),
    defineAsset({ key: "mart", deps: ["bronze"], materialize: noop }),
    defineAsset({ key: "report", deps: ["mart"], materialize: noop }),
    defineAsset({ key: "other", materialize: noop }),
    defineAsset({ key: "layers", partitions: dynamicPartitions("b"), materialize: noop }),
  ],
});

function plan(requested: Record<string, string[] | null[]>) {
  const state = new AutomationState(graph, new MemoryRunStore(), () => {});
  const indexes = new Map(
    Object.entries(requested).map(([key, keys]) => [
      key,
      keys.map((k) => state.assets.get(key)?.space.index(k) ?? -1),
    ]),
  );
  return planRuns(indexes, state.assets, graph.order);
}

Deno.test("a connected chain is one run with its partition list; unrelated assets get their own", () => {
  const { runs, deferred } = plan({
    bronze: ["2024-05-09"],
    mart: [null],
    report: [null],
    other: [null],
  });
  assert.deepEqual(runs, [
    { assetKeys: ["bronze", "mart", "report"], partitions: ["2024-05-09"] },
    { assetKeys: ["other"], partitions: null },
  ]);
  assert.equal(deferred.size, 0);
});

Deno.test("the same chain over several partitions (a backfill): one run over all of them", () => {
  const { runs } = plan({
    raw: ["2024-05-08", "2024-05-09"],
    bronze: ["2024-05-08", "2024-05-09"],
  });
  assert.deepEqual(runs, [{
    assetKeys: ["raw", "bronze"],
    partitions: ["2024-05-08", "2024-05-09"],
  }]);
});

Deno.test("one set whose assets want different partitions: one run per key, the unpartitioned downstream deferred", () => {
  const { runs, deferred } = plan({
    raw: ["2024-05-09"],
    bronze: ["2024-05-08", "2024-05-09"],
    mart: [null],
  });
  assert.deepEqual(runs, [
    { assetKeys: ["bronze"], partitions: ["2024-05-08"] },
    { assetKeys: ["raw", "bronze"], partitions: ["2024-05-09"] },
  ]);
  assert.deepEqual([...deferred], [["mart", [0]]]);
  // Unconnected partitions of a chain and its mart: the mart's set is one run.
  assert.deepEqual(
    plan({ raw: ["2024-05-08", "2024-05-09"], bronze: ["2024-05-09"], mart: [null] }).runs,
    [
      { assetKeys: ["raw"], partitions: ["2024-05-08"] },
      { assetKeys: ["raw", "bronze", "mart"], partitions: ["2024-05-09"] },
    ],
  );
});

Deno.test("unaligned partitions of one asset without links are separate runs only when unconnected", () => {
  const { runs } = plan({ raw: ["2024-05-08"], layers: ["b1"] });
  assert.deepEqual(runs, [
    { assetKeys: ["raw"], partitions: ["2024-05-08"] },
    { assetKeys: ["layers"], partitions: ["b1"] },
  ]);
  assert.deepEqual(plan({}).runs, []);
});
