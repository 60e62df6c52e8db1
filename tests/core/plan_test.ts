import assert from "node:assert/strict";
import { type AssetDefinition, defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { SelectionError } from "../../core/errors.ts";
import {
  dailyPartitions,
  dynamicPartitions,
  type PartitionEnvironment,
  type PartitionsDefinition,
  staticPartitions,
} from "../../core/partitions.ts";
import { buildPlan, type PartitionSelection, type Plan, stepId } from "../../core/plan.ts";
import { resolveSelection } from "../../core/selection.ts";
import { catchError } from "./_helpers.ts";

const NOW = Date.parse("2024-01-05T12:00:00Z"); // daily keys 2024-01-01 .. 2024-01-04
const env: PartitionEnvironment = {
  now: NOW,
  dynamicKeys: (name) => (name === "batches" ? ["b1", "b2"] : []),
};
const noop = () => {};

function asset(
  key: string,
  deps: string[] = [],
  partitions?: PartitionsDefinition,
  dependsOnPast = false,
): AssetDefinition {
  return defineAsset({
    key,
    deps,
    ...(partitions ? { partitions } : {}),
    dependsOnPast,
    materialize: noop,
  });
}

function plan(assets: AssetDefinition[], wanted: PartitionSelection = {}, selection = ""): Plan {
  const graph = defineGraph({ assets });
  return buildPlan(graph, resolveSelection(graph, selection), wanted, env);
}

/** Each step as `id <- ids it waits for`, readable in failures. */
function shape(p: Plan): string[] {
  return p.steps.map((step) => {
    assert.equal(p.steps[step.index], step);
    const waits = step.waitsFor.map((i) => p.steps[i]?.id ?? `?${i}`);
    return waits.length ? `${step.id} <- ${waits.join(" ")}` : step.id;
  });
}

const daily = dailyPartitions("2024-01-01");

Deno.test("stepId", () => {
  assert.equal(stepId("a", undefined), "a");
  assert.equal(stepId("a", "2024-01-01"), "a[2024-01-01]");
});

Deno.test("unpartitioned chain: one step each, each waits for its upstream", () => {
  const p = plan([asset("a"), asset("b", ["a"]), asset("c", ["b"]), asset("d", ["a", "c"])]);
  assert.deepEqual(shape(p), ["a", "b <- a", "c <- b", "d <- a c"]);
  assert.deepEqual(p.steps.map((s) => [s.index, s.asset.key, s.partition]), [
    [0, "a", undefined],
    [1, "b", undefined],
    [2, "c", undefined],
    [3, "d", undefined],
  ]);
});

Deno.test("an upstream outside the selection is not waited for", () => {
  const p = plan([asset("a"), asset("b", ["a"]), asset("c", ["b"])], {}, "b+");
  assert.deepEqual(shape(p), ["b", "c <- b"]);
});

Deno.test("same partitioning: partition p waits only for partition p upstream", () => {
  const p = plan([asset("raw", [], daily), asset("bronze", ["raw"], daily)], {
    from: "2024-01-02",
    to: "2024-01-03",
  });
  assert.deepEqual(shape(p), [
    "raw[2024-01-02]",
    "raw[2024-01-03]",
    "bronze[2024-01-02] <- raw[2024-01-02]",
    "bronze[2024-01-03] <- raw[2024-01-03]",
  ]);
});

Deno.test("static and dynamic partitionings align key by key too", () => {
  const places = staticPartitions(["x", "y"]);
  assert.deepEqual(
    shape(plan([asset("s", [], places), asset("t", ["s"], staticPartitions(["x", "y"]))])),
    [
      "s[x]",
      "s[y]",
      "t[x] <- s[x]",
      "t[y] <- s[y]",
    ],
  );
  const batches = dynamicPartitions("batches");
  assert.deepEqual(shape(plan([asset("u", [], batches), asset("v", ["u"], batches)])), [
    "u[b1]",
    "u[b2]",
    "v[b1] <- u[b1]",
    "v[b2] <- u[b2]",
  ]);
});

Deno.test("unpartitioned downstream of a partitioned asset waits for every selected partition", () => {
  const p = plan([asset("raw", [], daily), asset("summary", ["raw"])], {
    keys: ["2024-01-01", "2024-01-03"],
  });
  assert.deepEqual(shape(p), [
    "raw[2024-01-01]",
    "raw[2024-01-03]",
    "summary <- raw[2024-01-01] raw[2024-01-03]",
  ]);
});

Deno.test("partitioned downstream of an unpartitioned or differently partitioned asset waits for all of it", () => {
  const places = staticPartitions(["p", "q"]);
  const p = plan([asset("dim"), asset("s", [], places), asset("d", ["dim", "s"], daily)]);
  assert.deepEqual(shape(p), ["dim", "s[p]", "s[q]", "d[2024-01-04] <- dim s[p] s[q]"]);
});

Deno.test("dependsOnPast chains partitions in order", () => {
  const p = plan([asset("raw", [], daily), asset("cumulative", ["raw"], daily, true)], {
    from: "2024-01-01",
    to: "2024-01-03",
  });
  assert.deepEqual(shape(p), [
    "raw[2024-01-01]",
    "raw[2024-01-02]",
    "raw[2024-01-03]",
    "cumulative[2024-01-01] <- raw[2024-01-01]",
    "cumulative[2024-01-02] <- raw[2024-01-02] cumulative[2024-01-01]",
    "cumulative[2024-01-03] <- raw[2024-01-03] cumulative[2024-01-02]",
  ]);
});

Deno.test("dependsOnPast chains partitions in partition order whatever order they are given in", () => {
  const p = plan([asset("cumulative", [], daily, true)], { keys: ["2024-01-03", "2024-01-01"] });
  assert.deepEqual(shape(p), [
    "cumulative[2024-01-01]",
    "cumulative[2024-01-03] <- cumulative[2024-01-01]",
  ]);
});

Deno.test("default partitions: daily runs the latest only, static and dynamic run all", () => {
  const p = plan([
    asset("d", [], daily),
    asset("s", [], staticPartitions(["x", "y", "z"])),
    asset("y", [], dynamicPartitions("batches")),
    asset("plain"),
  ]);
  assert.deepEqual(shape(p), ["d[2024-01-04]", "s[x]", "s[y]", "s[z]", "y[b1]", "y[b2]", "plain"]);
});

Deno.test("a daily asset with no complete day yet has no steps by default", () => {
  const p = plan([asset("future", [], dailyPartitions("2024-02-01")), asset("after", ["future"])]);
  assert.deepEqual(shape(p), ["after"]);
});

Deno.test("explicit partitions apply to every partitioned asset; unpartitioned assets run once", () => {
  const p = plan([asset("d", [], daily), asset("plain", ["d"])], { keys: ["2024-01-02"] });
  assert.deepEqual(shape(p), ["d[2024-01-02]", "plain <- d[2024-01-02]"]);
});

Deno.test("an explicit partition missing from an asset's partitioning fails naming the asset", () => {
  const assets = [asset("d", [], daily), asset("places", [], staticPartitions(["x", "y"]))];
  const error = catchError(() => plan(assets, { keys: ["2024-01-02"] }), SelectionError);
  assert.equal(error.code, "selection.unknown_partition");
  // The selection mixes partitionings: it says which assets the partition belongs to (before,
  // `materialize --from DAY --to DAY` with no selection named only a spatial asset's batches).
  assert.equal(
    error.message,
    "Asset 'places': Partition '2024-01-02' does not exist in static (2) (valid: x .. y); " +
      "the selection mixes partitionings: select the assets these partitions belong to, e.g. 'd'",
  );
  const alone = catchError(
    () => plan([asset("places", [], staticPartitions(["x", "y"]))], { keys: ["z"] }),
    SelectionError,
  );
  assert.doesNotMatch(alone.message, /mixes/);
  const range = catchError(
    () => plan([asset("d", [], daily)], { from: "2024-01-03", to: "2024-01-01" }),
    SelectionError,
  );
  assert.equal(range.code, "selection.bad_range");
  assert.match(range.message, /^Asset 'd': /);
});

Deno.test("partition arguments with no partitioned asset selected are a selection error", () => {
  const error = catchError(
    () => plan([asset("a"), asset("b", ["a"])], { keys: ["2024-01-01"] }),
    SelectionError,
  );
  assert.equal(error.code, "selection.not_partitioned");
  assert.match(error.message, /none of the 2 selected asset\(s\) is partitioned/);
  // One partitioned asset in the selection is enough; the others run once.
  assert.deepEqual(
    shape(plan([asset("a"), asset("d", [], daily)], { keys: ["2024-01-02"] })),
    ["a", "d[2024-01-02]"],
  );
});
