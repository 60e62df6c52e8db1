/**
 * The reliability suite's own checks (`_world.ts`) against states built by
 * hand: each kind of broken state the suite exists to catch is caught, and
 * the healthy states pass. Without this, a check that can never fail would
 * make the whole suite green.
 */

import assert from "node:assert/strict";
import { ensureActivityTables } from "../../assets/activity/_warehouse.ts";
import {
  batchState,
  createWorld,
  dropState,
  lineageProblems,
  quarantineReports,
  reconcileWorld,
  runsLeftRunning,
  warehouseView,
  type World,
} from "./_world.ts";
import { Random, reliabilitySettings } from "../_helpers/reliability.ts";

const encode = (text: string) => new TextEncoder().encode(text);

async function duckdbWorld(): Promise<World> {
  return await createWorld({
    name: "checks",
    urls: (dir) => ({ WAREHOUSE_URL: `duckdb:${dir}/warehouse.duckdb` }),
  });
}

Deno.test("checks: a spatial batch is judged done, quarantined, pending or half", async () => {
  await using world = await duckdbWorld();
  const lake = await world.lake();
  const ledger = await world.ledger();
  const landing = world.config.LANDING_BUCKET;
  const lakeBucket = world.config.LAKE_BUCKET;
  await lake.ensureBucket(landing);
  await lake.ensureBucket(lakeBucket);
  const manifest = (id: string) =>
    encode(JSON.stringify({ batch_id: id, files: [{ path: `${id}/a.geojson` }] }));
  const publish = async (id: string) => {
    const bytes = encode(`{"out":"${id}"}`);
    const put = await lake.put(lakeBucket, `p/${id}/a.parquet`, bytes);
    await ledger.upsert({
      bucket: lakeBucket,
      key: `p/${id}/a.parquet`,
      sha256: put.sha256,
      size: bytes.length,
      run_id: "r1",
      asset_key: "spatial/vector_geoparquet",
      batch_id: id,
      format: "geoparquet",
    });
  };
  // done: manifest and file archived, an output with its document.
  await lake.put(landing, "archive/done/manifest.json", manifest("done"));
  await lake.put(landing, "archive/done/a.geojson", encode("{}"));
  await publish("done");
  // quarantined: the manifest beside its report, nothing published.
  await lake.put(landing, "quarantine/quar.json", manifest("quar"));
  await lake.put(
    landing,
    "quarantine/quar.error.json",
    encode(JSON.stringify({ manifest_key: "manifests/quar.json", problems: [] })),
  );
  // pending: committed, untouched.
  await lake.put(landing, "manifests/pend.json", manifest("pend"));
  await lake.put(landing, "pend/a.geojson", encode("{}"));
  // half: archived manifest, file still in the landing zone.
  await lake.put(landing, "archive/half/manifest.json", manifest("half"));
  await lake.put(landing, "half/a.geojson", encode("{}"));
  await publish("half");
  // half: quarantined, but an output stayed published.
  await lake.put(landing, "quarantine/leak.json", manifest("leak"));
  await lake.put(
    landing,
    "quarantine/leak.error.json",
    encode(JSON.stringify({ manifest_key: "manifests/leak.json", problems: [] })),
  );
  await publish("leak");
  // half: archived with an output that has no ledger document.
  await lake.put(landing, "archive/bare/manifest.json", manifest("bare"));
  await lake.put(landing, "archive/bare/a.geojson", encode("{}"));
  await lake.put(lakeBucket, "p/bare/a.parquet", encode("x"));

  const reports = await quarantineReports(world);
  const state = async (id: string) =>
    (await batchState(world, reports, {
      batchId: id,
      manifestKey: `manifests/${id}.json`,
      project: "p",
    })).state;
  assert.equal(await state("done"), "done");
  assert.equal(await state("quar"), "quarantined");
  assert.equal(await state("pend"), "pending");
  assert.equal(await state("half"), "half");
  assert.equal(await state("leak"), "half");
  assert.equal(await state("bare"), "half");

  // Lake and ledger: the object without a document is reported; an orphan document is
  // repaired by the reconciler and not reported.
  await ledger.upsert({
    bucket: lakeBucket,
    key: "p/gone/a.parquet",
    sha256: "0".repeat(64),
    size: 1,
    run_id: "r2",
    asset_key: "spatial/vector_geoparquet",
    batch_id: "gone",
    format: "geoparquet",
  });
  const report = await reconcileWorld(world);
  assert.equal(report.orphans_removed, 1);
  const problems = lineageProblems(report);
  assert.equal(problems.length, 1, problems.join("\n"));
  assert.match(problems[0]!, /without a ledger document: .*p\/bare\/a\.parquet/);
});

Deno.test("checks: an activity drop is judged loaded, rejected, pending or half", async () => {
  await using world = await duckdbWorld();
  const lake = await world.lake();
  const landing = world.config.LANDING_BUCKET;
  await lake.ensureBucket(landing);
  const files = {
    loaded: encode("a"),
    short: encode("b"),
    rejected: encode("c"),
    pending: encode("d"),
    twice: encode("e"),
  };
  for (const [name, bytes] of Object.entries(files)) {
    if (name !== "rejected") await lake.put(landing, `activity/${name}.csv`, bytes);
  }
  await lake.put(landing, "quarantine/activity/rejected.csv", files.rejected);
  await lake.put(
    landing,
    "quarantine/activity/rejected.csv.error.json",
    encode(JSON.stringify({ file: "x", source_filename: "rejected.csv", reason: "empty_file" })),
  );
  const sha = async (bytes: Uint8Array) =>
    Array.from(
      new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
  await world.withWarehouse(async (wh) => {
    await ensureActivityTables(wh);
    const insert = (file: string, user: string, day: string) =>
      wh.execute(
        "INSERT INTO raw.sleep (user_id, sleep_date, source_file) VALUES ($1, $2, $3)",
        [user, day, file],
      );
    await insert("loaded.csv", "u1", "2025-01-01");
    await insert("loaded.csv", "u1", "2025-01-02");
    await insert("short.csv", "u1", "2025-01-01");
    await insert("twice.csv", "u1", "2025-01-01");
    await insert("twice.csv", "u1", "2025-01-01");
    for (const [name, rows] of [["loaded", 2], ["short", 3], ["twice", 2]] as const) {
      await wh.execute(
        `INSERT INTO ops.raw_ingest_manifest VALUES ($1, $2, now(), $3, 'loaded')`,
        [`${name}.csv`, await sha(files[name]), rows],
      );
    }
  });
  const view = await warehouseView(world);
  assert.deepEqual(view.duplicates.length, 1, view.duplicates.join("\n"));
  assert.match(view.duplicates[0]!, /twice\.csv/);
  const state = async (name: keyof typeof files) =>
    (await dropState(world, view, `${name}.csv`, files[name])).state;
  assert.equal(await state("loaded"), "loaded");
  assert.equal(await state("rejected"), "rejected");
  assert.equal(await state("pending"), "pending");
  assert.equal(await state("short"), "half"); // the manifest counts 3 rows, the table holds 1
  // A file whose bytes changed since it was loaded is not judged loaded.
  assert.equal((await dropState(world, view, "loaded.csv", encode("changed"))).state, "half");
});

Deno.test("checks: a run left running is reported", async () => {
  await using world = await duckdbWorld();
  const store = await world.runStore();
  await store.createRun({
    runId: "stuck",
    status: "running",
    selection: "x",
    partitions: null,
    tags: {},
    startedAt: 0,
    finishedAt: null,
    errorSummary: null,
  });
  await store.flush();
  assert.deepEqual((await runsLeftRunning(store)).map((r) => r.runId), ["stuck"]);
});

Deno.test("settings: counts from the environment, profiles, and a typo refused", () => {
  const plain = reliabilitySettings({});
  assert.deepEqual([plain.profile, plain.manifests <= 20, plain.fuzzCases <= 60], [
    "default",
    true,
    true,
  ]);
  // CI runs issue 15's counts: kill points, two daemons, fuzz corpus.
  const ci = reliabilitySettings({ CI: "true" });
  assert.deepEqual(
    [ci.profile, ci.killPoints >= 20, ci.manifests >= 100, ci.fuzzCases >= 200],
    ["ci", true, true, true],
  );
  const soak = reliabilitySettings({ RELIABILITY_SOAK: "1", CI: "true" });
  assert.deepEqual(
    [soak.profile, soak.killPoints >= 20, soak.manifests >= 100, soak.fuzzCases >= 200],
    ["soak", true, true, true],
  );
  assert.equal(reliabilitySettings({ RELIABILITY_KILL_POINTS: "3", CI: "true" }).killPoints, 3);
  assert.throws(
    () => reliabilitySettings({ RELIABILITY_FUZZ_CASES: "2OO" }),
    /RELIABILITY_FUZZ_CASES must be a whole number/,
  );
  const a = new Random(7), b = new Random(7);
  assert.deepEqual([a.next(), a.int(1, 6)], [b.next(), b.int(1, 6)]);
  assert.notEqual(new Random(7).fork("x").next(), new Random(7).fork("y").next());
});
