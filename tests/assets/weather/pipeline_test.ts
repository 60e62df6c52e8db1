// The weather pipeline end to end through core materialize(): a loopback
// Open-Meteo, MemoryObjectStore + MemoryLedger, and PGlite in memory or a
// throwaway PostgreSQL; then a run without network.

import { wasmGdal } from "../../../resources/spatial/gdal_wasm.ts";
import { SpatialiteEngine } from "../../../resources/spatial/spatialite.ts";
import assert from "node:assert/strict";
import { weatherAssets } from "../../../assets/weather/mod.ts";
import { asset } from "../../../assets/_define.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { materialize, type RunResult } from "../../../core/executor.ts";
import {
  defineResource,
  type ResourceSource,
  type ResourceSources,
} from "../../../core/resource.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import { FakeClock } from "../../../core/testing.ts";
import { ConfigError } from "../../../core/errors.ts";
import { FetchHttpClient, HttpUnreachableError } from "../../../resources/http/mod.ts";
import type { AppResources } from "../../../resources/mod.ts";
import { openWarehouse, type Warehouse } from "../../../resources/warehouse/mod.ts";
import { closedPort } from "../../_helpers/open_meteo.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { type WeatherHarness, weatherHarness } from "./_harness.ts";
import { needs } from "../../_helpers/tools.ts";
import { recordingSystemClock } from "../../_helpers/recording_clock.ts";

const DAYS = ["2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23"];

/** An asset that shares nothing with the weather pipeline. */
const independent = asset({
  key: "independent",
  group: "other",
  materialize: () => ({ ok: true }),
});

function graphFor(
  h: WeatherHarness,
  warehouse: ResourceSource<Warehouse>,
  overrides: Partial<ResourceSources<AppResources>> = {},
) {
  return defineGraph<AppResources>({
    assets: [...weatherAssets({ startDate: "2026-11-01" }), independent],
    resources: {
      config: h.config,
      http: h.http,
      lake: h.lake,
      ledger: h.ledger,
      warehouse,
      // Not used by the weather assets; the graph's resources must be complete.
      gdal: wasmGdal,
      spatial: new SpatialiteEngine(),
      notifiers: [],
      ...overrides,
    },
  });
}

function summary(result: RunResult) {
  return result.steps.map((s) => [s.assetKey, s.partition, s.status, s.attempts]);
}

async function endToEnd(warehouse: Warehouse): Promise<void> {
  await using h = await weatherHarness({ now: "2026-11-23T13:00:00Z" });
  const graph = graphFor(h, warehouse);
  const store = new MemoryRunStore();
  const run = (runId: string) =>
    materialize(graph, {
      clock: h.clock,
      runStore: store,
      runId,
      concurrency: 2,
      partitions: { keys: DAYS },
    });

  const first = await run("run-1");
  assert.equal(first.status, "success", first.errorSummary ?? "");
  assert.deepEqual(
    summary(first).sort(),
    [
      ...DAYS.flatMap((
        day,
      ) => [["bronze_weather", day, "success", 1], ["raw_weather", day, "success", 1]]),
      ["independent", null, "success", 1],
    ].sort(),
  );
  const today = first.steps.find((s) =>
    s.assetKey === "raw_weather" && s.partition === "2026-11-23"
  );
  assert.equal(today?.materialization?.metadata.endpoint, "forecast");
  for (const step of first.steps.filter((s) => s.assetKey === "bronze_weather")) {
    assert.deepEqual(step.checks.map((c) => [c.name, c.passed]), [[
      "one_row_per_place_and_hour",
      true,
    ]]);
    assert.equal(step.materialization?.metadata.rows, 48);
  }
  const count = async () =>
    (await warehouse.query<{ n: number }>("SELECT count(*)::int AS n FROM raw.raw_weather"))[0]?.n;
  assert.equal(await count(), DAYS.length * 48);
  const docs = (await h.ledger.findByAsset("raw_weather")).length;
  assert.equal(docs, DAYS.length * 2);

  const second = await run("run-2");
  assert.equal(second.status, "success", second.errorSummary ?? "");
  for (const step of second.steps.filter((s) => s.assetKey === "raw_weather")) {
    assert.equal(step.materialization?.metadata.objects_unchanged, 2);
    assert.equal(step.materialization?.metadata.objects_written, 0);
  }
  assert.equal(await count(), DAYS.length * 48, "no duplicates");
  assert.equal((await h.ledger.findByAsset("raw_weather")).length, docs);
  assert.equal((await h.ledger.findByRun("run-2")).length, 0);
}

Deno.test("weather pipeline end to end on PGlite", async () => {
  await using warehouse = await openWarehouse("pglite:memory:");
  await endToEnd(warehouse);
});

Deno.test("weather pipeline end to end on DuckDB", async () => {
  await using warehouse = await openWarehouse("duckdb::memory:");
  await endToEnd(warehouse);
});

Deno.test("weather pipeline end to end on PostgreSQL", {
  ignore: await needs("postgres"),
}, async () => {
  await using server = await startPostgres();
  await using warehouse = await openWarehouse(server.url);
  await endToEnd(warehouse);
});

Deno.test("without network raw_weather fails quickly and the rest of the graph goes on", async () => {
  await using h = await weatherHarness({ now: "2026-11-23T13:00:00Z" });
  // bronze_weather is skipped, so the warehouse must never be opened.
  const warehouse = defineResource<Warehouse>("unused warehouse", () => {
    throw new Error("the warehouse was opened although bronze_weather was skipped");
  });
  const dead = `http://127.0.0.1:${closedPort()}`;
  // The real clock inside the HTTP client (as in production), recording its
  // retry waits; the executor's clock is fake, so a 5-minute asset retry
  // would show as a recorded sleep rather than a hang. Waits are what an
  // unreachable host costs (a refused connect is immediate; an attempt that
  // waited out HTTP_TIMEOUT_MS would be a timeout error), so they are
  // asserted instead of the wall time, which a loaded machine stretches.
  const httpClock = recordingSystemClock();
  const graph = graphFor(h, warehouse, {
    config: {
      ...h.config,
      OPEN_METEO_ARCHIVE_URL: `${dead}/v1/archive`,
      OPEN_METEO_FORECAST_URL: `${dead}/v1/forecast`,
    },
    http: new FetchHttpClient({ timeoutMs: h.config.HTTP_TIMEOUT_MS, clock: httpClock }),
  });
  const clock = new FakeClock(h.clock.now());
  const result = await materialize(graph, {
    clock,
    runStore: new MemoryRunStore(),
    concurrency: 2,
    partitions: { keys: ["2026-11-22"] },
  });
  assert.deepEqual(clock.sleeps, [], "no asset-level retry wait");
  const waits = httpClock.sleeps;
  assert.equal(waits.length, 1, `HTTP retry waits ${JSON.stringify(waits)}: one, for one retry`);
  assert.ok(waits[0]! <= 600, `the HTTP client waited ${waits[0]} ms before its retry`);
  assert.equal(result.status, "failed");
  assert.deepEqual(summary(result), [
    ["raw_weather", "2026-11-22", "failed", 1],
    ["bronze_weather", "2026-11-22", "skipped", 0],
    ["independent", null, "success", 1],
  ]);
  const failed = result.steps[0]!;
  assert.ok(failed.error instanceof HttpUnreachableError);
  assert.equal(failed.error.attempts, 2);
  assert.match(failed.reason ?? "", /^Cannot reach 127\.0\.0\.1: no network\?/);
  assert.match(result.steps[1]?.reason ?? "", /raw_weather/);
});

Deno.test("raw_weather spends its retries only on the API: a misconfigured lake fails at once", async () => {
  await using h = await weatherHarness({ now: "2026-11-23T13:00:00Z" });
  const warehouse = defineResource<Warehouse>("unused warehouse", () => {
    throw new Error("the warehouse was opened although bronze_weather was skipped");
  });
  const graph = graphFor(h, warehouse, {
    lake: defineResource("broken lake", () => {
      throw new ConfigError("object_store.invalid_url", "LAKE_URL is not a valid URL");
    }),
  });
  const clock = new FakeClock(h.clock.now());
  const result = await materialize(graph, {
    clock,
    runStore: new MemoryRunStore(),
    partitions: { keys: ["2026-11-22"] },
  });
  assert.deepEqual(clock.sleeps, [], "no five-minute wait for a lake that will not open");
  assert.deepEqual(summary(result)[0], ["raw_weather", "2026-11-22", "failed", 1]);

  // A 503 from the API is what the retries are for.
  h.api.failNext({ kind: "status", status: 503 }, { kind: "status", status: 503 }, {
    kind: "status",
    status: 503,
  }, { kind: "status", status: 503 });
  const retried = await materialize(
    graphFor(h, warehouse, {
      http: new FetchHttpClient({ retries: 0, baseDelayMs: 0 }),
    }),
    { clock, runStore: new MemoryRunStore(), partitions: { keys: ["2026-11-22"] } },
  );
  const step = retried.steps.find((s) => s.assetKey === "raw_weather")!;
  assert.ok(step.attempts >= 2, `attempts ${step.attempts}`);
  assert.ok(clock.sleeps.length >= 1, "waited before retrying the API");
});
