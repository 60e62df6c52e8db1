import assert from "node:assert/strict";
import type { Manifest, ManifestProblem } from "../../assets/spatial/manifest.ts";
import {
  clearPendingForNative,
  notePendingForNative,
  pendingForNative,
  pendingKeyOf,
} from "../../assets/spatial/pending.ts";
import { defineAsset } from "../../core/asset.ts";
import { SensorDaemon } from "../../core/daemon.ts";
import { defineGraph } from "../../core/definitions.ts";
import { dynamicPartitions } from "../../core/partitions.ts";
import { MemoryRunStore } from "../../core/run_store/memory.ts";
import { isSensorSkip, type SensorResult, type SensorRunRequests } from "../../core/sensor.ts";
import { buildSensorContext, FakeClock } from "../../core/testing.ts";
import { type Config, loadConfig } from "../../resources/config.ts";
import { wasmGdal } from "../../resources/spatial/gdal_wasm.ts";
import {
  MemoryObjectStore,
  type ObjectStore,
  type ObjectSummary,
} from "../../resources/object_store/mod.ts";
import {
  attemptRunKey,
  type ManifestCursor,
  manifestSensor,
  type ManifestSensorOptions,
  SPATIAL_BATCHES,
  type ValidateManifest,
} from "../../sensors/manifest_sensor.ts";

const BUCKET = "landing-zone";
const config: Config = loadConfig({ env: {}, dotenvPath: null });
const encode = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

/** Accepts a manifest unless it has `bad: true`; the real checks are tested in tests/assets/spatial. */
const stubValidate: ValidateManifest = async (store, bucket, key) => {
  const json = JSON.parse(new TextDecoder().decode(await store.getBytes(bucket, key)));
  if (json.bad) {
    return {
      ok: false,
      batchId: json.batch_id,
      problems: [{ code: "missing_file", message: "roads.shp is missing", file: "b/roads.shp" }],
    };
  }
  const head = await store.head(bucket, key);
  return { ok: true, manifest: json as Manifest, etag: head?.etag ?? "" };
};

/**
 * A sensor with the stub validator and a quarantine that records its calls; a
 * missing file quarantines at once unless `missingFileWaitMs` is given.
 */
function stubbed(options: ManifestSensorOptions = {}) {
  const quarantined: { key: string; problems: readonly ManifestProblem[] }[] = [];
  const sensor = manifestSensor({
    validate: stubValidate,
    missingFileWaitMs: 0,
    quarantine: async (store, bucket, key, problems) => {
      quarantined.push({ key, problems });
      await store.delete(bucket, key);
    },
    ...options,
  });
  return { sensor, quarantined };
}

async function landing(): Promise<MemoryObjectStore> {
  const store = new MemoryObjectStore();
  await store.ensureBucket(BUCKET);
  return store;
}

function commit(store: ObjectStore, batchId: string, extra: Record<string, unknown> = {}) {
  return store.put(
    BUCKET,
    `manifests/${batchId}.json`,
    encode({ batch_id: batchId, uploader: "ana", intent: "load", ...extra }),
  );
}

async function evaluate(
  sensor: ReturnType<typeof manifestSensor>,
  store: ObjectStore,
  cursor?: string,
): Promise<SensorResult & { logs: string[] }> {
  const ctx = buildSensorContext({
    resources: { lake: store, config },
    ...(cursor === undefined ? {} : { cursor }),
  });
  const result = await sensor.evaluate(ctx);
  return { ...result, logs: ctx.logs.map((l) => `${l.level} ${l.message}`) };
}

function requests<T extends SensorResult>(result: T): Extract<T, SensorRunRequests> {
  assert.ok(!isSensorSkip(result), `expected run requests, got ${JSON.stringify(result)}`);
  return result as Extract<T, SensorRunRequests>;
}

Deno.test("manifest sensor: skips, saying why, when there is nothing to do", async (t) => {
  const { sensor } = stubbed();
  await t.step("no landing bucket yet", async () => {
    const result = await evaluate(sensor, new MemoryObjectStore());
    assert.equal(
      "skipReason" in result && result.skipReason,
      "bucket 'landing-zone' does not exist yet",
    );
  });
  await t.step("no manifest committed", async () => {
    const store = await landing();
    await store.put(BUCKET, "b1/roads.geojson", encode({}));
    await store.put(BUCKET, "manifests/readme.txt", encode("not a manifest"));
    await store.put(BUCKET, "manifests/nested/b1.json", encode({}));
    const result = await evaluate(sensor, store);
    assert.equal(
      "skipReason" in result && result.skipReason,
      "no new manifests in landing-zone/manifests/",
    );
  });
});

Deno.test("manifest sensor: requests the spatial assets for each new batch, keyed by batch id and etag", async (t) => {
  const { sensor } = stubbed();
  const store = await landing();
  const b1 = await commit(store, "b1");
  const b2 = await commit(store, "b2");
  const first = requests(await evaluate(sensor, store));

  await t.step("one request per manifest, for its batch's partition", () => {
    assert.deepEqual(first.runRequests, [
      {
        runKey: `b1:${b1.etag}`,
        selection: "group:spatial",
        partitions: ["b1"],
        tags: {
          batch_id: "b1",
          manifest_key: "manifests/b1.json",
          uploader: "ana",
          intent: "load",
        },
      },
      {
        runKey: `b2:${b2.etag}`,
        selection: "group:spatial",
        partitions: ["b2"],
        tags: {
          batch_id: "b2",
          manifest_key: "manifests/b2.json",
          uploader: "ana",
          intent: "load",
        },
      },
    ]);
    assert.deepEqual(first.dynamicPartitions, [{ name: SPATIAL_BATCHES, keys: ["b1", "b2"] }]);
  });

  await t.step("the cursor remembers what was handled", async () => {
    const cursor = JSON.parse(first.cursor ?? "") as ManifestCursor;
    assert.deepEqual(Object.keys(cursor.seen).sort(), ["manifests/b1.json", "manifests/b2.json"]);
    const again = await evaluate(sensor, store, first.cursor);
    assert.ok("skipReason" in again);
  });

  await t.step("the same manifest committed again is not new", async () => {
    await commit(store, "b1");
    assert.ok("skipReason" in await evaluate(sensor, store, first.cursor));
  });

  await t.step(
    "a manifest re-committed with new content is requested again, with its new etag",
    async () => {
      const changed = await commit(store, "b1", { uploader: "bob" });
      assert.notEqual(changed.etag, b1.etag);
      const result = requests(await evaluate(sensor, store, first.cursor));
      assert.deepEqual(result.runRequests.map((r) => r.runKey), [`b1:${changed.etag}`]);
    },
  );

  await t.step("a new selection can be configured", async () => {
    const other = stubbed({ selection: "spatial/vector_geoparquet" }).sensor;
    const result = requests(await evaluate(other, store));
    assert.ok(result.runRequests.every((r) => r.selection === "spatial/vector_geoparquet"));
  });
});

Deno.test("manifest sensor: a bad manifest is quarantined and the other batches go on", async () => {
  const { sensor, quarantined } = stubbed();
  const store = await landing();
  await commit(store, "good");
  await commit(store, "broken", { bad: true });
  const result = requests(await evaluate(sensor, store));
  assert.deepEqual(result.runRequests.map((r) => r.partitions), [["good"]]);
  assert.deepEqual(quarantined, [{
    key: "manifests/broken.json",
    problems: [{ code: "missing_file", message: "roads.shp is missing", file: "b/roads.shp" }],
  }]);
  assert.ok(
    result.logs.includes(
      "warn quarantined manifest 'manifests/broken.json' (batch broken): missing_file (b/roads.shp): " +
        "roads.shp is missing",
    ),
  );
  assert.deepEqual(result.dynamicPartitions, [{ name: SPATIAL_BATCHES, keys: ["good"] }]);
});

Deno.test("manifest sensor: by default validates and quarantines with assets/spatial/manifest.ts", async () => {
  const store = await landing();
  await store.put(BUCKET, "manifests/b9.json", new TextEncoder().encode("{ not json"));
  const result = requests(await evaluate(manifestSensor(), store));
  assert.deepEqual(result.runRequests, []);
  assert.equal(await store.head(BUCKET, "manifests/b9.json"), undefined);
  assert.ok(await store.head(BUCKET, "quarantine/b9.json"));
  const report = JSON.parse(
    new TextDecoder().decode(await store.getBytes(BUCKET, "quarantine/b9.error.json")),
  );
  assert.equal(report.problems[0].code, "malformed_json");
  // The daemon's log says what is wrong and where the report is, not only the code.
  const line = result.logs.find((l) => l.includes("quarantined manifest 'manifests/b9.json'"));
  assert.match(line ?? "", /malformed_json: .*not valid JSON|malformed_json: .*JSON/);
  assert.match(line ?? "", /report: landing-zone\/quarantine\/b9\.error\.json$/);
  assert.doesNotMatch(line ?? "", /\.;/, "a message's full stop before '; '");
  assert.ok(result.cursor, "the cursor moves past the quarantined manifest");
});

Deno.test("manifest sensor: sees a manifest listed late with an older timestamp, within the lookback", async () => {
  const objects: ObjectSummary[] = [];
  const listing = {
    async *listAll() {
      yield* objects;
    },
  } as unknown as ObjectStore;
  const validate: ValidateManifest = (_store, _bucket, key) => {
    const batchId = key.slice("manifests/".length, -".json".length);
    return Promise.resolve({
      ok: true,
      manifest: { batch_id: batchId } as Manifest,
      etag: `e-${batchId}`,
    });
  };
  const sensor = manifestSensor({ validate, lookbackMs: 60_000 });
  const at = (iso: string) => new Date(iso);
  objects.push({
    key: "manifests/b1.json",
    size: 1,
    etag: "e-b1",
    lastModified: at("2024-01-01T10:00:00Z"),
  });
  const first = requests(await evaluate(sensor, listing));
  objects.push(
    {
      key: "manifests/late.json",
      size: 1,
      etag: "e-late",
      lastModified: at("2024-01-01T09:59:30Z"),
    },
    {
      key: "manifests/ancient.json",
      size: 1,
      etag: "e-ancient",
      lastModified: at("2024-01-01T09:58:00Z"),
    },
  );
  const second = requests(await evaluate(sensor, listing, first.cursor));
  assert.deepEqual(second.runRequests.map((r) => r.partitions?.[0]), ["late"]);
  const third = await evaluate(sensor, listing, second.cursor);
  assert.ok("skipReason" in third);
});

Deno.test("manifest sensor: handles at most maxPerTick manifests per evaluation, oldest first", async () => {
  const { sensor } = stubbed({ maxPerTick: 2 });
  const store = await landing();
  for (const id of ["b1", "b2", "b3"]) await commit(store, id);
  const first = requests(await evaluate(sensor, store));
  assert.deepEqual(first.runRequests.map((r) => r.partitions?.[0]), ["b1", "b2"]);
  const second = requests(await evaluate(sensor, store, first.cursor));
  assert.deepEqual(second.runRequests.map((r) => r.partitions?.[0]), ["b3"]);
});

Deno.test("manifest sensor: an unreadable cursor starts over, with a warning", async () => {
  const { sensor } = stubbed();
  const store = await landing();
  await commit(store, "b1");
  const result = requests(await evaluate(sensor, store, "{garbage"));
  assert.equal(result.runRequests.length, 1);
  assert.ok(result.logs.some((line) => line.startsWith("warn cursor is unreadable")));
});

Deno.test("manifest sensor in the daemon: each committed content runs once", async () => {
  const processed: string[] = [];
  const spatial = defineAsset({
    key: "spatial/fake",
    group: "spatial",
    partitions: dynamicPartitions(SPATIAL_BATCHES),
    materialize: (ctx) => void processed.push(ctx.partitionKey ?? "?"),
  });
  const { sensor, quarantined } = stubbed();
  const store = await landing();
  const graph = defineGraph({
    assets: [spatial],
    resources: { lake: store, config, gdal: wasmGdal },
    sensors: [sensor],
  });
  const runs = new MemoryRunStore();
  await using daemon = new SensorDaemon(graph, { runStore: runs, clock: new FakeClock() });
  const tickAndWait = async () => {
    const reports = await daemon.tick();
    await daemon.drain();
    return reports.flatMap((r) => r.launched);
  };

  await commit(store, "b1");
  assert.equal((await tickAndWait()).length, 1);
  await commit(store, "b1");
  assert.deepEqual(await tickAndWait(), [], "the same manifest committed twice runs once");
  await commit(store, "b1", { metadata: { project: "p" } });
  assert.equal((await tickAndWait()).length, 1, "changed content runs again");
  await commit(store, "b2", { bad: true });
  assert.deepEqual(await tickAndWait(), []);
  assert.deepEqual(processed, ["b1", "b1"]);
  assert.deepEqual(quarantined.map((q) => q.key), ["manifests/b2.json"]);
  assert.deepEqual(await runs.dynamicPartitions(SPATIAL_BATCHES), ["b1"]);
  const recorded = await runs.listRuns();
  assert.ok(
    recorded.every((run) => run.status === "success" && run.tags.sensor === "spatial_manifests"),
  );
});

Deno.test("manifest sensor: one manifest's failure never fails the tick; it is retried next time", async () => {
  const store = await landing();
  await commit(store, "good");
  await commit(store, "flaky", { bad: true });
  let failures = 1;
  const { sensor, quarantined } = stubbed({
    quarantine: async (s, bucket, key, problems) => {
      if (failures-- > 0) throw new Error("the store answered 503");
      quarantined.push({ key, problems });
      await s.delete(bucket, key);
    },
  });
  const first = requests(await evaluate(sensor, store));
  assert.deepEqual(first.runRequests.map((r) => r.partitions), [["good"]]);
  assert.ok(
    first.logs.some((l) => /could not handle manifest 'manifests\/flaky.json'.*503/.test(l)),
  );
  // The failed one stays out of the cursor, so the next evaluation handles it.
  const second = await evaluate(sensor, store, first.cursor);
  assert.deepEqual(quarantined.map((q) => q.key), ["manifests/flaky.json"]);
  assert.ok(second.logs.some((l) => /quarantined manifest 'manifests\/flaky.json'/.test(l)));
});

Deno.test("manifest sensor: a batch being archived by another daemon is neither quarantined nor lost", async () => {
  const store = await landing();
  const manifest = {
    batch_id: "b9",
    uploader: "ana",
    intent: "publish",
    files: [{ path: "b9/a.geojson", type: "vector", format: "geojson", crs: "EPSG:4326" }],
    metadata: { project: "p", description: "d" },
  };
  await store.put(BUCKET, "manifests/b9.json", encode(manifest));
  // The other daemon's archive step already moved the file, not yet the manifest.
  await store.put(
    BUCKET,
    "archive/b9/a.geojson",
    encode({ type: "FeatureCollection", features: [] }),
  );
  const quarantined: string[] = [];
  const sensor = manifestSensor({
    quarantine: (_s, _b, key) => Promise.resolve(quarantined.push(key)),
  });
  const result = requests(await evaluate(sensor, store));
  assert.deepEqual(result.runRequests.map((r) => r.partitions), [["b9"]]);
  assert.equal(quarantined.length, 0);
  // And a manifest that left between the listing and the read is skipped quietly.
  const gone = manifestSensor({
    validate: () =>
      Promise.resolve({
        ok: false,
        batchId: "b9",
        problems: [{ code: "manifest_missing" as const, message: "gone" }],
      }),
    quarantine: (_s, _b, key) => Promise.resolve(quarantined.push(key)),
  });
  const skipped = requests(await evaluate(gone, store));
  assert.deepEqual(skipped.runRequests, []);
  assert.equal(quarantined.length, 0);
});

Deno.test("manifest sensor: a manifest whose content already has a run (any daemon) is not validated again", async () => {
  const store = await landing();
  const put = await commit(store, "b1");
  const put2 = await commit(store, "b2");
  const runs = new MemoryRunStore();
  // Another daemon launched b1's run (claimed its key, recorded the run) ...
  await runs.claimRunKey("spatial_manifests", `b1:${put.etag}`, "run-b1");
  await runs.createRun({
    runId: "run-b1",
    status: "running",
    selection: "group:spatial",
    partitions: "b1",
    tags: {},
    startedAt: 0,
    finishedAt: null,
    errorSummary: null,
  });
  // ... and claimed b2's key but died before launching it: b2 is requested again.
  await runs.claimRunKey("spatial_manifests", `b2:${put2.etag}`, "run-b2");
  const validated: string[] = [];
  const { sensor, quarantined } = stubbed({
    name: "spatial_manifests",
    validate: (s, bucket, key) => {
      validated.push(key);
      return stubValidate(s, bucket, key);
    },
  });
  const ctx = buildSensorContext({
    resources: { lake: store, config },
    runStore: runs,
    sensorName: "spatial_manifests",
  });
  const result = requests(await sensor.evaluate(ctx));
  assert.deepEqual(validated, ["manifests/b2.json"]);
  assert.deepEqual(result.runRequests.map((r) => r.partitions), [["b2"]]);
  assert.deepEqual(quarantined, []);
  assert.ok(
    ctx.logs.some((l) =>
      l.message === "manifest 'manifests/b1.json' already has run run-b1; " +
          "not validated again"
    ),
  );
  // Both are in the cursor: b1 is handled (its run goes on), b2 was requested.
  const cursor = JSON.parse(result.cursor ?? "{}");
  assert.equal(JSON.stringify(cursor).includes("manifests/b1.json"), true);
});

Deno.test("two daemons: a batch another daemon's run holds is never validated again, so never quarantined", async () => {
  const store = await landing();
  const manifest = {
    batch_id: "b7",
    uploader: "ana",
    intent: "publish",
    files: [{ path: "b7/a.geojson", type: "vector", format: "geojson", crs: "EPSG:4326" }],
    metadata: { project: "p", description: "d" },
  };
  await store.put(BUCKET, "b7/a.geojson", encode({ type: "FeatureCollection", features: [] }));
  await store.put(BUCKET, "manifests/b7.json", encode(manifest));
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  let started!: () => void;
  const running = new Promise<void>((resolve) => (started = resolve));
  const processed: string[] = [];
  const spatial = defineAsset({
    key: "spatial/fake",
    group: "spatial",
    partitions: dynamicPartitions(SPATIAL_BATCHES),
    async materialize(ctx) {
      // Half-way through finishing the batch: its file has left the landing
      // zone and is not in the archive yet (an S3 move is a copy, then a delete).
      await store.delete(BUCKET, "b7/a.geojson");
      started();
      await held;
      processed.push(ctx.partitionKey ?? "?");
    },
  });
  const quarantined: string[] = [];
  const sensor = manifestSensor({
    missingFileWaitMs: 0,
    quarantine: async (s, bucket, key, problems) => {
      quarantined.push(`${key}: ${problems.map((p) => p.code).join(",")}`);
      await s.delete(bucket, key);
    },
  });
  const graph = defineGraph({
    assets: [spatial],
    resources: { lake: store, config, gdal: wasmGdal },
    sensors: [sensor],
  });
  const runs = new MemoryRunStore();
  await using a = new SensorDaemon(graph, {
    runStore: runs,
    clock: new FakeClock(),
    daemonId: "a",
  });
  await using b = new SensorDaemon(graph, {
    runStore: runs,
    clock: new FakeClock(),
    daemonId: "b",
  });

  const [first] = await a.tick();
  assert.equal(first!.launched.length, 1);
  await running;
  // Daemon b read the cursor before a stored it: it sees the manifest as new.
  await runs.setCursor("spatial_manifests", JSON.stringify({ v: 1, watermark: 0, seen: {} }));
  const [second] = await b.tick();
  // It asks for no run (the batch is a's): a skipped tick, 'no run requested'.
  assert.equal(second!.status, "skipped");
  assert.deepEqual(second!.launched, [], "b launches nothing");
  assert.deepEqual(quarantined, [], "b does not quarantine the batch a is finishing");
  assert.ok(await store.head(BUCKET, "manifests/b7.json"), "the manifest is where a left it");
  release();
  await a.drain();
  assert.deepEqual(processed, ["b7"]);
  const recorded = await runs.listRuns();
  assert.equal(recorded.length, 1);
  assert.equal(recorded[0]!.status, "success");

  // A sensor that cannot see launched runs would have quarantined the same state:
  // ctx.launchedRun is what keeps it safe.
  const blind = await sensor.evaluate(buildSensorContext({ resources: { lake: store, config } }));
  assert.ok(!isSensorSkip(blind));
  assert.deepEqual(quarantined, ["manifests/b7.json: missing_file"]);
});

/** Records run `runId` for `runKey` as the daemon would (claim + run tagged with sensor and key). */
async function recordRun(
  runs: MemoryRunStore,
  runKey: string,
  runId: string,
  run: Partial<Parameters<MemoryRunStore["createRun"]>[0]> = {},
) {
  await runs.claimRunKey("spatial_manifests", runKey, runId);
  await runs.createRun({
    runId,
    status: "running",
    selection: "group:spatial",
    partitions: "b1",
    tags: { sensor: "spatial_manifests", run_key: runKey, uploader: "ana" },
    startedAt: 0,
    finishedAt: null,
    errorSummary: null,
    ...run,
  });
}

Deno.test("manifest sensor: a batch whose run ended without success gets the next attempt, once that run has ended", async () => {
  const store = await landing();
  const put = await commit(store, "b1");
  const runs = new MemoryRunStore();
  const clock = new FakeClock(1_000_000);
  const { sensor } = stubbed({ name: "spatial_manifests", retryDelayMs: 30_000 });
  const evaluateAt = async (cursor?: string) => {
    const ctx = buildSensorContext({
      resources: { lake: store, config },
      runStore: runs,
      sensorName: "spatial_manifests",
      clock,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const result = await sensor.evaluate(ctx);
    return { result, logs: ctx.logs.map((l) => l.message) };
  };
  const first = requests((await evaluateAt()).result);
  assert.deepEqual(first.runRequests.map((r) => r.runKey), [`b1:${put.etag}`]);
  const cursor = first.cursor;
  await recordRun(runs, `b1:${put.etag}`, "run-1");

  // Running: nothing to do.
  assert.ok(isSensorSkip((await evaluateAt(cursor)).result));
  // Canceled when its daemon shut down: the next attempt at once, with a key of its own.
  await runs.updateRun("run-1", {
    status: "canceled",
    finishedAt: clock.now(),
    errorSummary: "3 of 3 steps canceled",
  });
  const retried = await evaluateAt(cursor);
  const second = requests(retried.result);
  assert.deepEqual(second.runRequests, [{
    runKey: `b1:${put.etag}:attempt-2`,
    selection: "group:spatial",
    partitions: ["b1"],
    tags: {
      uploader: "ana",
      batch_id: "b1",
      manifest_key: "manifests/b1.json",
      batch_attempt: "2",
      retry_of: "run-1",
    },
  }]);
  assert.equal(second.cursor, cursor, "a retry does not move the cursor");
  assert.deepEqual(second.dynamicPartitions, [{ name: SPATIAL_BATCHES, keys: ["b1"] }]);
  assert.ok(retried.logs.some((l) => /run run-1 ended canceled.*requesting attempt 2/.test(l)));
  // Asked again before the daemon recorded attempt 2: the same key (the claim makes it one run).
  assert.deepEqual(
    requests((await evaluateAt(cursor)).result).runRequests.map((r) => r.runKey),
    [`b1:${put.etag}:attempt-2`],
  );

  // Attempt 2 runs, then fails on a platform fault: attempt 3 only after the retry delay,
  // doubled once per attempt after the first (30 s x 2).
  await recordRun(runs, `b1:${put.etag}:attempt-2`, "run-2");
  assert.ok(isSensorSkip((await evaluateAt(cursor)).result));
  await runs.updateRun("run-2", {
    status: "failed",
    finishedAt: clock.now(),
    errorSummary: "the GDAL host died",
  });
  clock.advance(59_000);
  assert.ok(isSensorSkip((await evaluateAt(cursor)).result), "not before the retry delay");
  clock.advance(1_000);
  assert.deepEqual(
    requests((await evaluateAt(cursor)).result).runRequests.map((r) => r.runKey),
    [`b1:${put.etag}:attempt-3`],
  );
  // Attempt 3 fails too: the wait doubles.
  await recordRun(runs, `b1:${put.etag}:attempt-3`, "run-3", {
    status: "failed",
    startedAt: clock.now(),
    finishedAt: clock.now(),
  });
  clock.advance(119_000);
  assert.ok(isSensorSkip((await evaluateAt(cursor)).result), "the wait doubles per attempt");
  clock.advance(1_000);
  assert.equal(requests((await evaluateAt(cursor)).result).runRequests.length, 1);
  // Done (the run archived the manifest): nothing more.
  await store.delete(BUCKET, "manifests/b1.json");
  assert.ok(isSensorSkip((await evaluateAt(cursor)).result));
});

Deno.test("manifest sensor: no new attempt while the daemon decides about a lost run, nor after a cancel on request, nor after success", async (t) => {
  const cases: [string, Parameters<typeof recordRun>[3], RegExp | null][] = [
    ["a lost run awaiting relaunch", {
      status: "failed",
      finishedAt: 5,
      errorSummary: "owner process died",
      tags: { sensor: "spatial_manifests", run_key: "", owner_lost: "pending" },
    }, null],
    ["a run canceled on request", {
      status: "canceled",
      finishedAt: 5,
      cancelRequestedAt: 4,
      cancelReason: "wrong upload",
    }, /canceled on request \(wrong upload\); not retried/],
    [
      "a run that succeeded (its archive is on the way)",
      { status: "success", finishedAt: 5 },
      null,
    ],
  ];
  for (const [name, run, log] of cases) {
    await t.step(name, async () => {
      const store = await landing();
      const put = await commit(store, "b1");
      const runs = new MemoryRunStore();
      const key = `b1:${put.etag}`;
      const tags = run?.tags ? { ...run.tags, run_key: key } : undefined;
      await recordRun(runs, key, "run-1", { ...run, ...(tags ? { tags } : {}) });
      const { sensor } = stubbed({ name: "spatial_manifests", retryDelayMs: 0 });
      const ctx = buildSensorContext({
        resources: { lake: store, config },
        runStore: runs,
        sensorName: "spatial_manifests",
        clock: new FakeClock(1_000_000),
      });
      const first = requests(await sensor.evaluate(ctx));
      assert.deepEqual(first.runRequests, [], "a content with a run is not requested again");
      const again = await sensor.evaluate({ ...ctx, cursor: first.cursor });
      assert.ok(isSensorSkip(again), JSON.stringify(again));
      if (log) assert.equal(ctx.logs.filter((l) => log.test(l.message)).length, 1);
    });
  }
});

Deno.test("two daemons: a batch whose run failed on a platform fault is run again by exactly one of them", async () => {
  let failures = 1;
  const processed: string[] = [];
  const spatial = defineAsset({
    key: "spatial/fake",
    group: "spatial",
    partitions: dynamicPartitions(SPATIAL_BATCHES),
    materialize: (ctx) => {
      processed.push(ctx.partitionKey ?? "?");
      if (failures-- > 0) throw new Error("the GDAL host died");
    },
  });
  const store = await landing();
  const runs = new MemoryRunStore();
  const clock = new FakeClock(1_000_000);
  const daemons = [0, 1].map(() => {
    const { sensor } = stubbed({ retryDelayMs: 10_000 });
    const graph = defineGraph({
      assets: [spatial],
      resources: { lake: store, config, gdal: wasmGdal },
      sensors: [sensor],
    });
    return new SensorDaemon(graph, { runStore: runs, clock });
  });
  try {
    const tickBoth = async () => {
      const launched: string[] = [];
      for (const daemon of daemons) {
        launched.push(...(await daemon.tick()).flatMap((r) => r.launched));
        await daemon.drain();
      }
      return launched;
    };
    await commit(store, "b1");
    assert.equal((await tickBoth()).length, 1);
    assert.deepEqual(processed, ["b1"]);
    assert.deepEqual(await tickBoth(), [], "not before the retry delay");
    clock.advance(10_000);
    const retried = await tickBoth();
    assert.equal(retried.length, 1, "one daemon launches the next attempt, the other sees it");
    assert.deepEqual(await tickBoth(), []);
    assert.deepEqual(processed, ["b1", "b1"]);
    const all = await runs.listRuns();
    assert.deepEqual(all.map((r) => r.status).sort(), ["failed", "success"]);
    assert.deepEqual(
      all.map((r) => r.tags.run_key?.replace(/:[0-9a-f]+/, ":<etag>")).sort(),
      ["b1:<etag>", "b1:<etag>:attempt-2"],
    );
  } finally {
    for (const daemon of daemons) await daemon.close();
  }
});

Deno.test("manifest sensor: a batch pending for native GDAL waits on gdal3.js, and runs at once on a daemon with native GDAL", async () => {
  const store = await landing();
  const put = await commit(store, "b1");
  const runs = new MemoryRunStore();
  const clock = new FakeClock(1_000_000);
  const evaluateOn = async (
    sensor: ReturnType<typeof manifestSensor>,
    kind: "wasm" | "native",
    cursor?: string,
  ) => {
    const ctx = buildSensorContext({
      resources: { lake: store, config, gdal: { kind } },
      runStore: runs,
      sensorName: "spatial_manifests",
      clock,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const result = await sensor.evaluate(ctx);
    return { result, logs: ctx.logs.map((l) => l.message) };
  };
  // A failed run of b1 with the note the batch asset writes when gdal3.js lacks a codec
  // (tests/assets/spatial: the real run).
  const failedPendingForNative = async (runKey: string, runId: string) => {
    await recordRun(runs, runKey, runId, {
      status: "failed",
      startedAt: clock.now(),
      finishedAt: clock.now(),
    });
    await notePendingForNative(store, BUCKET, {
      batch_id: "b1",
      manifest_etag: put.etag,
      run_id: runId,
      problems: [{ file: "b1/dem.jp2", message: "no JP2OpenJPEG driver" }],
    }, clock);
  };
  const options = { name: "spatial_manifests", retryDelayMs: 30_000 };
  const onWasm = stubbed(options).sensor;
  const first = requests((await evaluateOn(onWasm, "wasm")).result);
  const cursor = first.cursor;
  await failedPendingForNative(`b1:${put.etag}`, "run-1");

  // On gdal3.js: never retried (it would fail the same way), said once.
  const waiting = await evaluateOn(onWasm, "wasm", cursor);
  assert.ok(isSensorSkip(waiting.result));
  assert.ok(
    waiting.logs.some((l) => /waits for the native GDAL engine.*b1\/dem\.jp2.*gdal-bin/.test(l)),
  );
  clock.advance(3 * 3_600_000);
  const later = await evaluateOn(onWasm, "wasm", cursor);
  assert.ok(isSensorSkip(later.result), "not retried on gdal3.js, however long");
  assert.deepEqual(later.logs.filter((l) => /waits for the native/.test(l)), [], "said once");

  // The daemon restarts with native GDAL: the next attempt at once, not after the wait.
  const onNative = stubbed(options).sensor;
  await failedPendingForNative(`b1:${put.etag}:attempt-2`, "run-2");
  const retried = await evaluateOn(onNative, "native", cursor);
  assert.deepEqual(
    requests(retried.result).runRequests.map((r) => r.runKey),
    [`b1:${put.etag}:attempt-3`],
  );
  assert.ok(retried.logs.some((l) => /attempt 3 on the native GDAL engine/.test(l)));

  // A note about older content is no reason: that batch waits as any failed one.
  const recommitted = await commit(store, "b1", { note: "new content" });
  assert.notEqual(recommitted.etag, put.etag);
  assert.equal(await pendingForNative(store, BUCKET, "b1", recommitted.etag), undefined);
  // Archived (or quarantined): the note goes.
  await clearPendingForNative(store, BUCKET, "b1");
  assert.equal(await store.head(BUCKET, pendingKeyOf("b1")), undefined);
});

Deno.test("manifest sensor: a run its process stopped because its heartbeat could not be recorded is retried after a backoff, doubling, said once in the log", async () => {
  const store = await landing();
  const put = await commit(store, "b1");
  const runs = new MemoryRunStore();
  const clock = new FakeClock(1_000_000);
  const { sensor } = stubbed({ name: "spatial_manifests", retryDelayMs: 30_000 });
  const evaluateAt = async (cursor?: string) => {
    const ctx = buildSensorContext({
      resources: { lake: store, config },
      runStore: runs,
      sensorName: "spatial_manifests",
      clock,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const result = await sensor.evaluate(ctx);
    return { result, logs: ctx.logs.map((l) => l.message) };
  };
  const cursor = requests((await evaluateAt()).result).cursor;
  const stopped = {
    status: "canceled" as const,
    errorSummary: "canceled: its heartbeat could not be recorded for 40000 ms (connection " +
      "refused); stopped before its lease of 60000 ms lapsed",
  };
  await recordRun(runs, `b1:${put.etag}`, "run-1", { ...stopped, finishedAt: clock.now() });
  const waiting = await evaluateAt(cursor);
  assert.ok(isSensorSkip(waiting.result), "not retried at once: the outage would stop it again");
  const due = new Date(clock.now() + 30_000).toISOString();
  assert.deepEqual(
    waiting.logs.filter((l) => l.includes(`attempt 2 at ${due} (backoff 30 s)`)).length,
    1,
    waiting.logs.join("\n"),
  );
  assert.deepEqual(
    (await evaluateAt(cursor)).logs.filter((l) => /backoff/.test(l)),
    [],
    "said once",
  );
  clock.advance(29_999);
  assert.ok(isSensorSkip((await evaluateAt(cursor)).result));
  clock.advance(1);
  assert.deepEqual(
    requests((await evaluateAt(cursor)).result).runRequests.map((r) => r.runKey),
    [`b1:${put.etag}:attempt-2`],
  );
  await recordRun(runs, `b1:${put.etag}:attempt-2`, "run-2", {
    ...stopped,
    finishedAt: clock.now(),
  });
  clock.advance(59_999);
  assert.ok(isSensorSkip((await evaluateAt(cursor)).result), "the wait doubles");
  clock.advance(1);
  assert.deepEqual(
    requests((await evaluateAt(cursor)).result).runRequests.map((r) => r.runKey),
    [`b1:${put.etag}:attempt-3`],
  );
});

Deno.test("manifest sensor: a manifest committed before its files waits for them, then is quarantined naming them", async () => {
  // Before: the manifest was quarantined at the first evaluation, while its files were uploading.
  const clock = new FakeClock(Date.parse("2026-12-01T10:00:00Z"));
  const store = new MemoryObjectStore({ clock });
  await store.ensureBucket(BUCKET);
  const manifest = (batchId: string, names: string[]) => ({
    batch_id: batchId,
    uploader: "ana",
    intent: "publish",
    files: names.map((name) => ({
      path: `${batchId}/${name}`,
      type: "vector",
      format: "geojson",
      crs: "EPSG:4326",
    })),
    metadata: { project: "p", description: "d" },
  });
  const geojson = encode({ type: "FeatureCollection", features: [] });
  await store.put(BUCKET, "b1/a.geojson", geojson);
  await store.put(BUCKET, "manifests/b1.json", encode(manifest("b1", ["a.geojson", "b.geojson"])));
  await store.put(BUCKET, "manifests/b2.json", encode(manifest("b2", ["never.geojson"])));
  const sensor = manifestSensor({ missingFileWaitMs: 300_000 });
  const tick = async (cursor?: string) => {
    const ctx = buildSensorContext({
      resources: { lake: store, config },
      clock,
      ...(cursor === undefined ? {} : { cursor }),
    });
    const result = await sensor.evaluate(ctx);
    return { ...result, logs: ctx.logs.map((l) => `${l.level} ${l.message}`) };
  };

  const first = requests(await tick());
  assert.deepEqual(first.runRequests, []);
  assert.ok(await store.head(BUCKET, "manifests/b1.json"), "b1 still waits in manifests/");
  assert.ok(await store.head(BUCKET, "manifests/b2.json"), "b2 still waits in manifests/");
  assert.deepEqual(first.logs, [
    "info manifest 'manifests/b1.json' waits for b1/b.geojson to arrive; quarantined if still " +
    "missing at 2026-12-01T10:05:00.000Z",
    "info manifest 'manifests/b2.json' waits for b2/never.geojson to arrive; quarantined if " +
    "still missing at 2026-12-01T10:05:00.000Z",
  ]);

  clock.advance(60_000);
  await store.put(BUCKET, "b1/b.geojson", geojson);
  const second = requests(await tick(first.cursor));
  assert.deepEqual(second.runRequests.map((r) => r.partitions), [["b1"]]);
  assert.deepEqual(second.logs, [], "said once, not at every evaluation");

  clock.advance(241_000);
  const third = requests(await tick(second.cursor));
  assert.deepEqual(third.runRequests, []);
  assert.equal(await store.head(BUCKET, "manifests/b2.json"), undefined);
  const report = JSON.parse(
    new TextDecoder().decode(await store.getBytes(BUCKET, "quarantine/b2.error.json")),
  );
  assert.deepEqual(report.problems.map((p: ManifestProblem) => [p.code, p.file]), [
    ["missing_file", "b2/never.geojson"],
  ]);
  assert.match(
    report.problems[0].message,
    /File 'b2\/never\.geojson' of batch 'b2' is not in the landing zone.*\(waited 301 s after the manifest was committed\)$/,
  );
  assert.ok(await store.head(BUCKET, "manifests/b1.json"), "b1 is its run's to archive");
});

Deno.test("manifest sensor: a batch whose run died with its process is retried at once; from the second such attempt in a row it backs off, and deaths do not add to its failures' backoff", async () => {
  const store = await landing();
  const put = await commit(store, "b1");
  const runs = new MemoryRunStore();
  const clock = new FakeClock(1_000_000);
  const { sensor } = stubbed({ name: "spatial_manifests", retryDelayMs: 30_000 });
  const evaluateAt = async (cursor?: string) => {
    const ctx = buildSensorContext({
      resources: { lake: store, config },
      runStore: runs,
      sensorName: "spatial_manifests",
      clock,
      ...(cursor === undefined ? {} : { cursor }),
    });
    return await sensor.evaluate(ctx);
  };
  const cursor = requests(await evaluateAt()).cursor;
  const key = (attempt: number) => attemptRunKey("b1", put.etag, attempt);
  // Died with its daemon (a deploy, a node lost), already relaunched once by the daemon.
  const died = (attempt: number) => ({
    status: "failed" as const,
    finishedAt: clock.now(),
    errorSummary: "owner process died (process host pid 7 is gone)",
    tags: { sensor: "spatial_manifests", run_key: key(attempt), owner_lost: "relaunched" },
  });
  const failed = (attempt: number) => ({
    status: "failed" as const,
    finishedAt: clock.now(),
    errorSummary: "the GDAL host died",
    tags: { sensor: "spatial_manifests", run_key: key(attempt) },
  });
  const next = async () => requests(await evaluateAt(cursor)).runRequests.map((r) => r.runKey);

  await recordRun(runs, key(1), "run-1", died(1));
  assert.deepEqual(await next(), [key(2)], "an infra death: the restart was the wait");
  await recordRun(runs, key(2), "run-2", died(2));
  // A second attempt in a row dying with its process: the batch may be what kills it.
  assert.ok(isSensorSkip(await evaluateAt(cursor)), "a batch that kills its daemon backs off");
  clock.advance(29_999);
  assert.ok(isSensorSkip(await evaluateAt(cursor)));
  clock.advance(1);
  assert.deepEqual(await next(), [key(3)]);
  await recordRun(runs, key(3), "run-3", died(3));
  clock.advance(59_999);
  assert.ok(isSensorSkip(await evaluateAt(cursor)), "doubling per death in a row");
  clock.advance(1);
  assert.deepEqual(await next(), [key(4)]);
  // The batch's own failure after those deaths: its first retry waits the base, not 2^3 x base.
  await recordRun(runs, key(4), "run-4", failed(4));
  clock.advance(29_999);
  assert.ok(isSensorSkip(await evaluateAt(cursor)));
  clock.advance(1);
  assert.deepEqual(await next(), [key(5)]);
  await recordRun(runs, key(5), "run-5", failed(5));
  clock.advance(59_999);
  assert.ok(isSensorSkip(await evaluateAt(cursor)), "failures double among themselves");
  clock.advance(1);
  assert.deepEqual(await next(), [key(6)]);
});
