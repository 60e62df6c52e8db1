/**
 * Staleness over fake time: reasons (upstream changed, code version), data
 * versions, partitions; `list` shows them and `materialize --stale` runs
 * exactly the stale partitions.
 */

import assert from "node:assert/strict";
import {
  assetStaleness,
  describeReason,
  partitionStaleness,
  staleRuns,
} from "../../../core/automation/staleness.ts";
import { defineAsset } from "../../../core/asset.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { materialize } from "../../../core/executor.ts";
import { staticPartitions } from "../../../core/partitions.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import { FakeClock } from "../../../core/testing.ts";
import { assertExit, cli, EXIT, jsonLines, testApp } from "../cli/_app.ts";

const T0 = Date.parse("2024-05-10T12:00:00Z");
const HOUR = 3_600_000;

function world(options: { version?: () => string | undefined; code?: string } = {}) {
  const ran: string[] = [];
  const graph = defineGraph({
    assets: [
      defineAsset({
        key: "bronze_activity",
        materialize: () => {
          ran.push("bronze_activity");
          const v = options.version?.();
          return v ? { data_version: v } : {};
        },
      }),
      defineAsset({
        key: "stg",
        deps: ["bronze_activity"],
        ...(options.code ? { codeVersion: options.code } : {}),
        materialize: () => void ran.push("stg"),
      }),
      defineAsset({ key: "mart", deps: ["stg"], materialize: () => void ran.push("mart") }),
    ],
  });
  return { graph, ran };
}

Deno.test("stale when an upstream changed after it consumed, with the reason and its age", async () => {
  const { graph } = world();
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  assert.equal((await assetStaleness(graph, store, "stg")).status, "missing");
  await materialize(graph, { runStore: store, clock });
  assert.equal((await assetStaleness(graph, store, "stg")).status, "fresh");
  clock.advance(HOUR);
  await materialize(graph, { runStore: store, clock, selection: "bronze_activity" });
  clock.advance(2 * HOUR);
  const report = await assetStaleness(graph, store, "stg");
  assert.equal(report.status, "stale");
  assert.deepEqual(report.reasons.map((r) => describeReason(r, clock.now())), [
    "upstream bronze_activity changed 2 h ago",
  ]);
  assert.equal(
    (await assetStaleness(graph, store, "mart")).status,
    "fresh",
    "direct upstreams only",
  );
});

Deno.test("an upstream rewritten with the same data version does not make it stale", async () => {
  let version = "sha256:aaa";
  const { graph } = world({ version: () => version });
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await materialize(graph, { runStore: store, clock });
  clock.advance(HOUR);
  await materialize(graph, { runStore: store, clock, selection: "bronze_activity" });
  assert.equal((await assetStaleness(graph, store, "stg")).status, "fresh");
  version = "sha256:bbb";
  clock.advance(HOUR);
  await materialize(graph, { runStore: store, clock, selection: "bronze_activity" });
  assert.equal((await assetStaleness(graph, store, "stg")).status, "stale");
});

Deno.test("an upstream rewritten within the same millisecond with another data version makes it stale", async () => {
  // A fast machine runs both materializations on one clock tick (seen on a quiet CI
  // machine): the new data version is what counts, not a strictly later time.
  let version = "sha256:aaa";
  const { graph } = world({ version: () => version });
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await materialize(graph, { runStore: store, clock });
  version = "sha256:bbb";
  await materialize(graph, { runStore: store, clock, selection: "bronze_activity" });
  const report = await assetStaleness(graph, store, "stg");
  assert.equal(report.status, "stale");
  assert.deepEqual(report.reasons.map((r) => describeReason(r, clock.now())), [
    "upstream bronze_activity changed 0 s ago",
  ]);
});

Deno.test("a changed code version makes it stale, named both ways", async () => {
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await materialize(world({ code: "1" }).graph, { runStore: store, clock });
  const report = await assetStaleness(world({ code: "2" }).graph, store, "stg");
  assert.equal(report.status, "stale");
  assert.deepEqual(report.reasons.map((r) => describeReason(r, clock.now())), [
    "code version changed (1 → 2)",
  ]);
});

Deno.test("partitions are judged one by one against the same partition upstream", async () => {
  const places = staticPartitions(["eu", "us"]);
  const graph = defineGraph({
    assets: [
      defineAsset({ key: "raw", partitions: places, materialize: () => {} }),
      defineAsset({ key: "clean", deps: ["raw"], partitions: places, materialize: () => {} }),
    ],
  });
  const store = new MemoryRunStore();
  const clock = new FakeClock(T0);
  await materialize(graph, { runStore: store, clock });
  clock.advance(1000);
  await materialize(graph, {
    runStore: store,
    clock,
    selection: "raw",
    partitions: { keys: ["us"] },
  });
  const reports = await partitionStaleness(graph, store, "clean");
  assert.deepEqual(reports.map((r) => [r.partition, r.status]), [["eu", "fresh"], ["us", "stale"]]);
  const plan = await staleRuns(graph, store, ["raw", "clean"]);
  assert.deepEqual(plan.runs, [{ assetKeys: ["clean"], partitions: ["us"] }]);
});

Deno.test("cli: list shows stale with its reason; materialize --stale runs exactly the stale ones", async () => {
  const ran: string[] = [];
  const record = (key: string) => () => void ran.push(key);
  const { app, store } = testApp([
    defineAsset({ key: "bronze_activity", materialize: record("bronze_activity") }),
    defineAsset({ key: "stg", deps: ["bronze_activity"], materialize: record("stg") }),
    defineAsset({ key: "mart", deps: ["stg"], materialize: record("mart") }),
    defineAsset({ key: "other", materialize: record("other") }),
  ]);
  assertExit(await cli(app, ["materialize", "--json"]), EXIT.ok);
  assertExit(await cli(app, ["materialize", "bronze_activity", "--json"]), EXIT.ok);
  const listed = await cli(app, ["list"]);
  assertExit(listed, EXIT.ok);
  assert.match(listed.stdout, /stg .*stale: upstream bronze_activity changed \d+ s ago/);
  assert.match(listed.stdout, /mart .*fresh/);
  const json = jsonLines((await cli(app, ["list", "--json"])).stdout);
  const stg = json.find((row) => row.asset === "stg");
  assert.equal(stg?.status, "stale");
  assert.match(String((stg?.stale_reasons as string[])[0]), /^upstream bronze_activity changed/);

  ran.length = 0;
  const stale = await cli(app, ["materialize", "--stale", "--json"]);
  assertExit(stale, EXIT.ok);
  assert.deepEqual(ran, ["stg"], "only stg was stale");
  assert.match(stale.stderr, /Stale: stg; 1 run\(s\)/);
  // Now mart consumed an older stg: it is the stale one.
  ran.length = 0;
  assertExit(await cli(app, ["materialize", "--stale", "--json"]), EXIT.ok);
  assert.deepEqual(ran, ["mart"]);
  ran.length = 0;
  const nothing = await cli(app, ["materialize", "--stale"]);
  assertExit(nothing, EXIT.ok);
  assert.deepEqual(ran, []);
  assert.match(nothing.stderr, /Nothing is stale among the 4 selected asset\(s\)/);
  assertExit(await cli(app, ["materialize", "--stale", "--partition", "x"]), EXIT.usage);
  assert.ok((await store.listRuns({ tags: { stale: "true" } })).length === 2);
});
