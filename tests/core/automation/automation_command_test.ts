/** `automation`: the recorded evaluations, trees, ticks and freshness, as a person reads them. */

import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { eager } from "../../../core/automation/condition.ts";
import { freshness } from "../../../core/automation/freshness_policy.ts";
import { SensorDaemon } from "../../../core/daemon.ts";
import { defineSensor } from "../../../core/sensor.ts";
import { FakeClock } from "../../../core/testing.ts";
import { assertExit, cli, EXIT, jsonLines, testApp } from "../cli/_app.ts";

Deno.test("automation command: assets, one asset's trees, ticks, json, usage errors", async () => {
  const drops: string[] = [];
  const { app, store, graph } = testApp([
    defineAsset({ key: "bronze", materialize: () => {} }),
    defineAsset({
      key: "mart",
      deps: ["bronze"],
      automation: eager(),
      freshness: freshness({ maxLagMinutes: 60 }),
      materialize: () => {},
    }),
    defineAsset({ key: "plain", materialize: () => {} }),
  ], {
    sensors: [defineSensor({
      name: "drops",
      evaluate: (ctx) => ({
        runRequests: drops.slice(Number(ctx.cursor ?? 0)).map((d) => ({
          runKey: d,
          selection: "bronze",
        })),
        cursor: String(drops.length),
      }),
    })],
  });
  const before = await cli(app, ["automation", "mart"]);
  assertExit(before, EXIT.ok);
  assert.match(before.stdout, /not evaluated yet/);

  const clock = new FakeClock(Date.parse("2024-05-10T12:00:00Z"));
  await using daemon = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  const settle = async () => {
    for (let i = 0; i < 4; i++) {
      clock.advance(1000);
      await daemon.tick();
      await daemon.drain();
    }
  };
  await settle();
  drops.push("f1");
  await settle();

  const overview = await cli(app, ["automation"]);
  assertExit(overview, EXIT.ok);
  assert.match(overview.stdout, /^asset\s+condition\s+last evaluation\s+requested\s+freshness/);
  assert.match(
    overview.stdout,
    /mart\s+eager\s+\S+ \S+ tick \d+\s+(no|requested 1)\s+pass: data \d+ s old; allowed 1 h/,
  );
  assert.doesNotMatch(overview.stdout, /plain/);

  const one = await cli(app, ["automation", "mart", "--limit", "10"]);
  assertExit(one, EXIT.ok);
  assert.match(one.stdout, /^mart: eager\n/);
  assert.match(one.stdout, /requested 1 in run key automation:\d+:1:[0-9a-f]{8}/);
  assert.match(
    one.stdout,
    /\n {2}✓ eager\n {4}✓ in_latest_time_window\n {4}✓ any_deps_updated since/,
  );
  assert.match(one.stdout, /✗ any_deps_missing/);
  // The freshness verdict changes, each a check result in its own check run.
  assert.match(one.stdout, /\nfreshness: pass: data \d+ s old; allowed 1 h\n/);
  assert.match(one.stdout, /\n {2}\S+ \S+ {2}error -> pass {2}\(check run [0-9a-f]{8}\)\n/);
  assert.match(one.stdout, /\n {2}\S+ \S+ {2}- -> error {2}\(check run [0-9a-f]{8}\)\n/);

  const ticks = await cli(app, ["automation", "--ticks"]);
  assertExit(ticks, EXIT.ok);
  assert.match(ticks.stdout, /^tick\s+time\s+daemon/);
  assert.match(ticks.stdout, /\n1\s+2024-05-10 12:00:01Z\s+d1/);

  const json = jsonLines((await cli(app, ["automation", "mart", "--json"])).stdout);
  assert.ok(json.some((r) => r.kind === "evaluation" && r.requestedCount === 1));
  assert.ok(json.some((r) => r.kind === "freshness" && r.status === "pass"));

  assertExit(await cli(app, ["automation", "nope"]), EXIT.usage);
  assertExit(await cli(app, ["automation", "--limit", "0"]), EXIT.usage);
  assertExit(await cli(app, ["automation", "a", "b"]), EXIT.usage);
});

Deno.test("automation command --partition: what was true for one partition", async () => {
  const { dailyPartitions } = await import("../../../core/partitions.ts");
  const { materialize } = await import("../../../core/executor.ts");
  const days = dailyPartitions("2024-05-01");
  const { app, store, graph } = testApp([
    defineAsset({ key: "raw", partitions: days, materialize: () => {} }),
    defineAsset({
      key: "bronze",
      deps: ["raw"],
      partitions: days,
      automation: eager({ lookbackDays: 3 }),
      materialize: () => {},
    }),
  ]);
  const clock = new FakeClock(Date.parse("2024-05-10T12:00:00Z"));
  await using daemon = new SensorDaemon(graph, { runStore: store, clock, daemonId: "d1" });
  clock.advance(1000);
  await daemon.tick();
  clock.advance(1000);
  await materialize(graph, {
    runStore: store,
    clock,
    selection: "raw",
    partitions: { keys: ["2024-05-08", "2024-05-02"] },
  });
  clock.advance(1000);
  await daemon.tick();
  await daemon.drain();
  const latest = await cli(app, ["automation", "bronze", "--partition", "2024-05-08"]);
  assertExit(latest, EXIT.ok);
  assert.match(latest.stdout, /requested 1 \(2024-05-08\)/);
  assert.match(latest.stdout, /✓ eager\(3d\)\n {4}✓ in_latest_time_window\(3d\)/);
  const old = await cli(app, ["automation", "bronze", "--partition", "2024-05-02"]);
  assert.match(
    old.stdout,
    /✗ eager\(3d\)\n {4}✗ in_latest_time_window\(3d\)\n {4}✓ any_deps_updated since/,
  );
  const never = await cli(app, ["automation", "bronze", "--partition", "2030-01-01"]);
  assert.match(never.stdout, /no recent evaluation looked at partition 2030-01-01/);
  assertExit(await cli(app, ["automation", "raw", "--partition", "x"]), EXIT.ok);
});
