import assert from "node:assert/strict";
import { defineGraph } from "../../../core/definitions.ts";
import { materialize, type RunResult } from "../../../core/executor.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import { buildAssetContext, FakeClock } from "../../../core/testing.ts";
import type { AssetDefinition } from "../../../core/asset.ts";
import {
  activityAssets,
  BRONZE_ACTIVITY_KEY,
  SAMPLE_ACTIVITY_DIR,
  SAMPLE_DROPS_KEY,
  sampleDropsAsset,
} from "../../../assets/activity/mod.ts";
import { ConfigSchema } from "../../../resources/config.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";
import { generateSamples } from "../../../sample_data/activity/_generate.ts";
import { activityCsv, BUCKET, warehouseTargets } from "./_fixtures.ts";
import { needs } from "../../_helpers/tools.ts";

const SAMPLES = generateSamples();
const expectedRows = (prefix: string) =>
  SAMPLES.filter((f) => f.name.startsWith(prefix)).reduce((n, f) => n + f.dataRows - f.badRows, 0);

Deno.test("the sample files are the generator's output, with dirty rows under the tolerance", async () => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(SAMPLE_ACTIVITY_DIR)) {
    if (entry.name.endsWith(".csv")) names.push(entry.name);
  }
  assert.deepEqual(names.sort(), SAMPLES.map((f) => f.name).sort());
  for (const file of SAMPLES) {
    assert.equal(
      await Deno.readTextFile(new URL(file.name, SAMPLE_ACTIVITY_DIR)),
      file.text,
      file.name,
    );
    assert.ok(file.badRows > 0 && file.badRows / file.dataRows <= 0.02, file.name);
  }
  assert.deepEqual(
    SAMPLES.map((f) => [f.name, f.dataRows, f.badRows, f.nullValues]),
    [
      ["daily_activity_2026-10-05_2026-10-18.csv", 84, 1, 1],
      ["sleep_2026-10-05_2026-10-18.csv", 62, 1, 1],
      ["daily_activity_2026-10-19_2026-11-01.csv", 84, 1, 1],
      ["sleep_2026-10-19_2026-11-01.csv", 58, 1, 0],
    ],
  );
});

Deno.test("activityAssets wires the sample seeding upstream of bronze_activity only when asked", () => {
  const withSamples = activityAssets({ samples: true });
  assert.deepEqual(withSamples.map((a) => [a.key, a.group, a.deps]), [
    [SAMPLE_DROPS_KEY, "activity", []],
    [BRONZE_ACTIVITY_KEY, "activity", [SAMPLE_DROPS_KEY]],
  ]);
  assert.deepEqual(
    activityAssets({ samples: false }).map((a) => [a.key, a.deps]),
    [[BRONZE_ACTIVITY_KEY, []]],
  );
  const bronze = withSamples[1];
  assert.deepEqual(
    bronze?.checks.map((c) => [c.name, c.severity, c.blocking]),
    [["no_rejected_files", "error", false]],
  );
});

Deno.test("sample_drops is idempotent and never overwrites someone else's file", async () => {
  // No warehouse: the asset only reads sample_data/ and writes the landing zone.
  const h = lakeOnly();
  const asset = sampleDropsAsset();
  const first = await h.run(asset);
  assert.equal(first.metadata.copied, 4);
  const second = await h.run(asset);
  assert.deepEqual([second.metadata.copied, second.metadata.unchanged], [0, 4]);
  const [one, two] = SAMPLES;
  await h.drop(one!.name, "Id,ActivityDate\nsomeone's own file\n");
  await h.lake.put(BUCKET, `activity/${two!.name}`, new TextEncoder().encode("old sample"), {
    metadata: { origin: "sample_data" },
  });
  const third = await h.run(asset);
  assert.deepEqual([third.metadata.copied, third.metadata.left_alone], [1, 1]);
  assert.equal(
    new TextDecoder().decode(await h.lake.getBytes(BUCKET, `activity/${one!.name}`)),
    "Id,ActivityDate\nsomeone's own file\n",
  );
  assert.equal(
    new TextDecoder().decode(await h.lake.getBytes(BUCKET, `activity/${two!.name}`)),
    two!.text,
  );
  assert.ok(
    third.logs.some((l) => l.startsWith(`warn: left ${BUCKET}/activity/${one!.name} alone`)),
  );
});

/** A landing zone and a runner for assets that use only `config` and `lake`. */
function lakeOnly() {
  const lake = new MemoryObjectStore();
  const config = ConfigSchema.parse({});
  const encoder = new TextEncoder();
  return {
    lake,
    drop: (name: string, text: string) =>
      lake.put(BUCKET, `activity/${name}`, encoder.encode(text)),
    async run(asset: AssetDefinition) {
      const ctx = buildAssetContext({ resources: { config, lake } });
      const metadata = (await asset.materialize(ctx)) ?? {};
      return { metadata, logs: ctx.logs.map((l) => `${l.level}: ${l.message}`) };
    },
  };
}

/** The parts of a run a test asserts as a whole. */
function summary(result: RunResult) {
  return {
    status: result.status,
    steps: result.steps.map((s) => [s.assetKey, s.status]),
    checks: result.steps.flatMap((s) => s.checks.map((c) => [c.name, c.passed])),
  };
}

for (const target of warehouseTargets()) {
  Deno.test({
    name: `end to end with materialize() on a memory store and ${target.name}`,
    ignore: await needs(...target.needs),
    async fn(t) {
      const { warehouse, stop } = await target.open();
      try {
        const lake = new MemoryObjectStore();
        const config = ConfigSchema.parse({ SAMPLE_DATA: "true" });
        const graph = defineGraph({
          assets: activityAssets({ samples: config.SAMPLE_DATA }),
          resources: { config, lake, warehouse },
        });
        const runStore = new MemoryRunStore();
        const clock = new FakeClock(Date.parse("2026-11-02T06:00:00Z"));
        const run = () => materialize(graph, { runStore, clock, concurrency: 1 });
        const count = async (table: string) =>
          Number(
            (await warehouse.query<{ n: bigint }>(`SELECT count(*) AS n FROM ${table}`))[0]?.n,
          );

        await t.step("the quick start seeds the samples and loads all of them", async () => {
          const result = await run();
          assert.deepEqual(summary(result), {
            status: "success",
            steps: [[SAMPLE_DROPS_KEY, "success"], [BRONZE_ACTIVITY_KEY, "success"]],
            checks: [["no_rejected_files", true]],
          });
          const bronze = result.steps[1]?.materialization?.metadata;
          assert.equal(bronze?.files_loaded, 4);
          assert.equal(bronze?.bad_rows_skipped, 4);
          assert.equal(await count("raw.daily_activity"), expectedRows("daily_activity"));
          assert.equal(await count("raw.sleep"), expectedRows("sleep"));
          assert.equal(expectedRows("daily_activity"), 166);
          assert.equal(expectedRows("sleep"), 118);
          const users = await warehouse.query<{ n: bigint }>(
            "SELECT count(DISTINCT user_id) AS n FROM raw.daily_activity",
          );
          assert.equal(Number(users[0]?.n), 6);
        });

        await t.step("a second run copies nothing, loads nothing, changes nothing", async () => {
          const manifest = await warehouse.query(
            "SELECT * FROM ops.raw_ingest_manifest ORDER BY 1",
          );
          const result = await run();
          assert.equal(result.status, "success");
          assert.equal(result.steps[0]?.materialization?.metadata.copied, 0);
          const bronze = result.steps[1]?.materialization?.metadata;
          assert.deepEqual([bronze?.files_loaded, bronze?.files_skipped], [0, 4]);
          assert.equal(await count("raw.daily_activity"), 166);
          assert.equal(await count("raw.sleep"), 118);
          assert.deepEqual(
            await warehouse.query("SELECT * FROM ops.raw_ingest_manifest ORDER BY 1"),
            manifest,
          );
        });

        await t.step("a rejected drop fails the check (not the asset) and the run", async () => {
          await lake.put(BUCKET, "activity/sleep_broken.csv", new TextEncoder().encode("Id\n1\n"));
          await lake.put(
            BUCKET,
            "activity/daily_activity_extra.csv",
            new TextEncoder().encode(activityCsv(5)),
          );
          const result = await run();
          assert.deepEqual(summary(result), {
            status: "failed",
            steps: [[SAMPLE_DROPS_KEY, "success"], [BRONZE_ACTIVITY_KEY, "success"]],
            checks: [["no_rejected_files", false]],
          });
          assert.match(result.errorSummary ?? "", /no_rejected_files/);
          assert.equal(await count("raw.daily_activity"), 171);
          assert.ok(await lake.head(BUCKET, "quarantine/activity/sleep_broken.csv.error.json"));
        });
      } finally {
        await stop();
      }
    },
  });
}
