import assert from "node:assert/strict";
import { type AssetDefinition, assetFactory, checkFactory, defineAsset } from "../../core/asset.ts";
import { defineGraph } from "../../core/definitions.ts";
import { GraphDefinitionError } from "../../core/graph.ts";
import { sensorFactory } from "../../core/sensor.ts";
import { InvalidDefinitionError } from "../../core/errors.ts";
import { defineResource } from "../../core/resource.ts";
import { catchError } from "./_helpers.ts";

const noop = () => {};
const asset = (key: string, deps: string[] = []): AssetDefinition =>
  defineAsset({ key, deps, materialize: noop });
const check = checkFactory<{ db: string; lake: string }>();
const typedAsset = assetFactory<{ db: string; lake: string; warehouse: string }>();

function graphError(fn: () => unknown, code: string): GraphDefinitionError {
  const error = catchError(fn, GraphDefinitionError);
  assert.ok(error instanceof InvalidDefinitionError);
  assert.equal(error.code, code, error.message);
  assert.ok(error.message.startsWith("Cannot load the asset graph: "), error.message);
  return error;
}

Deno.test("defineGraph indexes assets in declaration order and orders them topologically", () => {
  const graph = defineGraph({
    assets: [asset("d", ["b", "c"]), asset("b", ["a"]), asset("c", ["a"]), asset("a")],
  });
  assert.deepEqual([...graph.assets.keys()], ["d", "b", "c", "a"]);
  assert.deepEqual(graph.order, ["a", "b", "c", "d"]);
  assert.deepEqual(graph.upstream("d"), ["b", "c"]);
  assert.deepEqual(graph.upstream("a"), []);
  assert.deepEqual(graph.downstream("a"), ["b", "c"]);
  assert.deepEqual(graph.downstream("d"), []);
  assert.deepEqual(graph.upstream("missing"), []);
  assert.deepEqual(graph.downstream("missing"), []);
  assert.deepEqual(graph.resources, {});
  assert.ok(Object.isFrozen(graph));
});

Deno.test("topological order keeps declaration order for independent assets", () => {
  const graph = defineGraph({ assets: [asset("z"), asset("m"), asset("a"), asset("k")] });
  assert.deepEqual(graph.order, ["z", "m", "a", "k"]);
});

Deno.test("topological order is the same for the same declaration, every time", () => {
  const build = () =>
    defineGraph({
      assets: [
        asset("x"),
        asset("y", ["x"]),
        asset("w"),
        asset("v", ["w", "y"]),
        asset("u", ["x"]),
      ],
    }).order;
  const first = build();
  assert.deepEqual(build(), first);
  // Every asset comes after all of its deps.
  const at = new Map(first.map((key, i) => [key, i]));
  for (const [key, deps] of [["y", ["x"]], ["v", ["w", "y"]], ["u", ["x"]]] as const) {
    for (const dep of deps) {
      assert.ok((at.get(dep) ?? -1) < (at.get(key) ?? -1), `${dep} before ${key}`);
    }
  }
});

// Declaration order already is a topological order here, so a stable order
// ("declaration order breaks ties") must be exactly the declaration order.
Deno.test("topological order equals declaration order when that order is already valid", () => {
  const graph = defineGraph({ assets: [asset("a"), asset("c", ["a"]), asset("b")] });
  assert.deepEqual(graph.order, ["a", "c", "b"]);
});

Deno.test("unknown dependency names both assets and suggests the nearest key", () => {
  const error = graphError(
    () => defineGraph({ assets: [asset("raw_weather"), asset("bronze_weather", ["raw_weathr"])] }),
    "graph.unknown_dependency",
  );
  assert.equal(
    error.message,
    "Cannot load the asset graph: asset 'bronze_weather' depends on 'raw_weathr', which is not defined " +
      "(did you mean 'raw_weather'?)",
  );
  assert.deepEqual(error.problems, [
    "asset 'bronze_weather' depends on 'raw_weathr', which is not defined (did you mean 'raw_weather'?)",
  ]);
});

Deno.test("unknown dependency far from every key has no suggestion", () => {
  const error = graphError(
    () => defineGraph({ assets: [asset("alpha"), asset("beta", ["something_else_entirely"])] }),
    "graph.unknown_dependency",
  );
  assert.ok(!error.message.includes("did you mean"), error.message);
});

Deno.test("duplicate asset key is rejected, naming the key", () => {
  const error = graphError(
    () => defineGraph({ assets: [asset("a"), asset("b"), asset("a")] }),
    "graph.duplicate_key",
  );
  assert.deepEqual(error.problems, ["asset key 'a' is defined more than once"]);
  assert.equal(
    error.message,
    "Cannot load the asset graph: asset key 'a' is defined more than once",
  );
});

Deno.test("a cycle is printed in data-flow order", () => {
  // b reads a, c reads b, a reads c.
  const error = graphError(
    () => defineGraph({ assets: [asset("a", ["c"]), asset("b", ["a"]), asset("c", ["b"])] }),
    "graph.cycle",
  );
  assert.deepEqual(error.problems, ["the assets form a cycle: a -> b -> c -> a"]);
  assert.equal(
    error.message,
    "Cannot load the asset graph: the assets form a cycle: a -> b -> c -> a",
  );
});

Deno.test("a cycle is found past assets that merely hang off it", () => {
  const error = graphError(
    () =>
      defineGraph({
        assets: [asset("root"), asset("tail", ["y"]), asset("x", ["root", "y"]), asset("y", ["x"])],
      }),
    "graph.cycle",
  );
  assert.deepEqual(error.problems, ["the assets form a cycle: y -> x -> y"]);
});

Deno.test("undeclared resource names the asset and the resource", () => {
  const a = typedAsset({ key: "loader", resources: ["warehouse"], materialize: noop });
  const error = graphError(() => defineGraph({ assets: [a] }), "graph.undeclared_resource");
  assert.deepEqual(error.problems, [
    "asset 'loader' uses resource 'warehouse', but the graph gives none",
  ]);
  const withOthers = graphError(
    () => defineGraph({ assets: [a], resources: { lake: 1, ledger: 2 } }),
    "graph.undeclared_resource",
  );
  assert.deepEqual(withOthers.problems, [
    "asset 'loader' uses resource 'warehouse', but the graph gives 'lake', 'ledger'",
  ]);
});

Deno.test("a check's undeclared resource names the check and its asset", () => {
  const error = graphError(
    () =>
      defineGraph({
        assets: [asset("a")],
        checks: [check({ asset: "a", name: "fresh", resources: ["db"], run: () => true })],
      }),
    "graph.undeclared_resource",
  );
  assert.deepEqual(error.problems, [
    "check 'fresh' on 'a' uses resource 'db', but the graph gives none",
  ]);
});

Deno.test("a check on an unknown asset is rejected, naming check and asset", () => {
  const error = catchError(
    () =>
      defineGraph({
        assets: [asset("a")],
        checks: [check({ asset: "b", name: "rows", run: () => true })],
      }),
    GraphDefinitionError,
  );
  assert.deepEqual(error.problems, [
    "check 'rows' is on asset 'b', which is not defined (did you mean 'a'?)",
  ]);
});

Deno.test("a check on an unknown asset has its own error code", () => {
  const error = catchError(
    () =>
      defineGraph({
        assets: [asset("a")],
        checks: [check({ asset: "b", name: "rows", run: () => true })],
      }),
    GraphDefinitionError,
  );
  assert.notEqual(error.code, "graph.undeclared_resource");
  assert.match(error.code, /^graph\./);
});

Deno.test("a separate check duplicating an asset's check is rejected", () => {
  const a = defineAsset({
    key: "a",
    checks: [{ name: "rows", run: () => true }],
    materialize: noop,
  });
  const error = graphError(
    () =>
      defineGraph({ assets: [a], checks: [check({ asset: "a", name: "rows", run: () => false })] }),
    "graph.duplicate_check",
  );
  assert.deepEqual(error.problems, ["asset 'a' has two checks named 'rows'"]);
  graphError(
    () =>
      defineGraph({
        assets: [asset("b")],
        checks: [
          check({ asset: "b", name: "x", run: () => true }),
          check({ asset: "b", name: "x", run: () => true }),
        ],
      }),
    "graph.duplicate_check",
  );
});

Deno.test("several problems of one kind are reported together", () => {
  const error = graphError(
    () =>
      defineGraph({
        assets: [asset("a", ["nope"]), asset("b", ["a", "missing"]), asset("c", ["zzz"])],
      }),
    "graph.unknown_dependency",
  );
  assert.equal(error.problems.length, 3);
  assert.equal(
    error.message,
    "Cannot load the asset graph: 3 problems:\n" +
      "  - asset 'a' depends on 'nope', which is not defined\n" +
      "  - asset 'b' depends on 'missing', which is not defined\n" +
      "  - asset 'c' depends on 'zzz', which is not defined",
  );
});

Deno.test("resource problems of assets and checks are reported together", () => {
  const a = typedAsset({ key: "a", resources: ["db", "lake"], materialize: noop });
  const error = graphError(
    () =>
      defineGraph({
        assets: [a],
        resources: { db: "x" },
        checks: [check({ asset: "a", name: "n", resources: ["lake"], run: () => true })],
      }),
    "graph.undeclared_resource",
  );
  assert.deepEqual(error.problems, [
    "asset 'a' uses resource 'lake', but the graph gives 'db'",
    "check 'n' on 'a' uses resource 'lake', but the graph gives 'db'",
  ]);
  assert.match(error.message, /^Cannot load the asset graph: 2 problems:\n {2}- /);
});

Deno.test("resource problems of assets, checks and sensors are one list with one wording", () => {
  const a = typedAsset({ key: "a", resources: ["lake"], materialize: noop });
  const inbox = sensorFactory<{ queue: string }>()({
    name: "inbox",
    resources: ["queue"],
    evaluate: () => ({ runRequests: [] }),
  });
  const error = graphError(
    () => defineGraph({ assets: [a], sensors: [inbox], resources: { db: "x" } }),
    "graph.undeclared_resource",
  );
  assert.deepEqual(error.problems, [
    "asset 'a' uses resource 'lake', but the graph gives 'db'",
    "sensor 'inbox' uses resource 'queue', but the graph gives 'db'",
  ]);
});

Deno.test("checksFor lists the asset's own checks first, then separate ones", () => {
  const a = defineAsset({
    key: "a",
    checks: [{ name: "own1", run: () => true }, { name: "own2", run: () => true }],
    materialize: noop,
  });
  const graph = defineGraph({
    assets: [a, asset("b", ["a"])],
    resources: { db: "pg", lake: "file" },
    checks: [
      check({ asset: "a", name: "extra", resources: ["db"], severity: "warn", run: () => true }),
      check({ asset: "b", name: "only", run: () => true }),
    ],
  });
  assert.deepEqual(graph.checksFor("a").map((c) => c.name), ["own1", "own2", "extra"]);
  const extra = graph.checksFor("a")[2];
  assert.equal(extra?.severity, "warn");
  assert.deepEqual(extra?.resources, ["db"]);
  assert.equal(extra?.assetKey, "a");
  assert.deepEqual(graph.checksFor("b").map((c) => c.name), ["only"]);
  assert.deepEqual(graph.checksFor("nothing"), []);
});

Deno.test("graph keeps resource sources as given (values and factories)", () => {
  const factory = defineResource("a db", () => ({ query: () => 1 }));
  const graph = defineGraph({ assets: [asset("a")], resources: { db: factory, n: 3 } });
  assert.equal(graph.resources.db, factory);
  assert.equal(graph.resources.n, 3);
});
