import assert from "node:assert/strict";
import { defineAsset } from "../../core/asset.ts";
import {
  findCycle,
  GraphDefinitionError,
  indexAssets,
  topologicalOrder,
} from "../../core/graph.ts";
import { catchError } from "./_helpers.ts";

const asset = (key: string, deps: string[] = []) =>
  defineAsset({ key, deps, materialize: () => {} });

Deno.test("indexAssets keeps declaration order and rejects every duplicate key", () => {
  assert.deepEqual([...indexAssets([asset("b"), asset("a")]).keys()], ["b", "a"]);
  const error = catchError(
    () => indexAssets([asset("a"), asset("a"), asset("b"), asset("b")]),
    GraphDefinitionError,
  );
  assert.equal(error.code, "graph.duplicate_key");
  assert.deepEqual(error.problems, [
    "asset key 'a' is defined more than once",
    "asset key 'b' is defined more than once",
  ]);
});

Deno.test("topologicalOrder puts dependencies first, declaration order breaking ties", () => {
  const assets = indexAssets([asset("d", ["b", "c"]), asset("c", ["a"]), asset("b"), asset("a")]);
  assert.deepEqual(topologicalOrder(assets), ["b", "a", "c", "d"]);
});

Deno.test("findCycle returns one cycle in data-flow order, or nothing", () => {
  assert.deepEqual(findCycle(indexAssets([asset("a"), asset("b", ["a"])])), []);
  const cyclic = indexAssets([asset("x", ["z"]), asset("y", ["x"]), asset("z", ["y"])]);
  assert.deepEqual(findCycle(cyclic), ["x", "y", "z", "x"]);
  const error = catchError(() => topologicalOrder(cyclic), GraphDefinitionError);
  assert.equal(error.code, "graph.cycle");
  assert.match(error.message, /the assets form a cycle: x -> y -> z -> x/);
});
