// ops/reconcile_lineage: a crash between the ledger write and the object write
// is repaired, what cannot be repaired is reported and fails the check, and a
// second run changes nothing. Runs on the memory and the SQLite ledger.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  lakeAndLedgerAgree,
  opsAssets,
  RECONCILE_LINEAGE_KEY,
  reconcileLineage,
  reconcileLineageAsset,
  ReconcileReport,
} from "../../../assets/ops/mod.ts";
import { objectSha256 } from "../../../assets/ops/_object_sha.ts";
import type { AssetDefinition, CheckResult } from "../../../core/asset.ts";
import { defineGraph } from "../../../core/definitions.ts";
import { ResourceError } from "../../../core/errors.ts";
import { materialize } from "../../../core/executor.ts";
import { MemoryRunStore } from "../../../core/run_store/memory.ts";
import type { LogRecord } from "../../../core/logger.ts";
import { buildAssetContext, FakeClock } from "../../../core/testing.ts";
import {
  type Ledger,
  type LedgerDocument,
  MemoryLedger,
  SqliteLedger,
} from "../../../resources/ledger/mod.ts";
import { type Config, loadConfig } from "../../../resources/mod.ts";
import { MemoryObjectStore } from "../../../resources/object_store/mod.ts";

const LAKE = "data-lake";
const HOUR = 3_600_000;

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function bytesOf(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** A lake, a ledger and a clock; dispose to close the ledger and remove its folder. */
interface Fixture extends AsyncDisposable {
  readonly config: Config;
  readonly clock: FakeClock;
  readonly lake: MemoryObjectStore;
  readonly ledger: Ledger;
}

type LedgerKind = "memory" | "SQLite";

async function fixture(kind: LedgerKind): Promise<Fixture> {
  const config = loadConfig({ dotenvPath: null, env: {} });
  const clock = new FakeClock(Date.parse("2026-11-23T10:00:00.000Z"));
  const lake = new MemoryObjectStore();
  await lake.ensureBucket(LAKE);
  if (kind === "memory") {
    const ledger = new MemoryLedger({ clock });
    return {
      config,
      clock,
      lake,
      ledger,
      [Symbol.asyncDispose]: () => ledger[Symbol.asyncDispose](),
    };
  }
  const dir = await Deno.makeTempDir({ prefix: "reconcile_test_" });
  const ledger = new SqliteLedger(`${dir}/ledger.db`, { clock });
  return {
    config,
    clock,
    lake,
    ledger,
    async [Symbol.asyncDispose]() {
      await ledger[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/**
 * Writes like the pipelines do: the ledger document first, then the object
 * with the document id in its metadata. `crash` stops before the object.
 */
async function write(
  f: Fixture,
  key: string,
  text: string,
  options: { crash?: boolean; bucket?: string } = {},
): Promise<LedgerDocument> {
  const bytes = bytesOf(text);
  const bucket = options.bucket ?? LAKE;
  const doc = await f.ledger.upsert({
    bucket,
    key,
    sha256: sha256(bytes),
    size: bytes.length,
    run_id: "writer-run",
    asset_key: "raw_weather",
    format: "json",
  });
  if (!options.crash) {
    await f.lake.ensureBucket(bucket);
    await f.lake.put(bucket, key, bytes, { metadata: { mongodb_doc_id: doc.id } });
  }
  return doc;
}

interface Outcome {
  readonly report: ReconcileReport;
  readonly check: CheckResult;
  readonly logs: LogRecord[];
}

/** Materializes the asset (after the grace period) and runs its check. */
async function reconcile(
  f: Fixture,
  asset: AssetDefinition = reconcileLineageAsset(),
  options: { advance?: number } = {},
): Promise<Outcome> {
  f.clock.advance(options.advance ?? HOUR);
  const ctx = buildAssetContext({
    resources: { config: f.config, lake: f.lake, ledger: f.ledger },
    clock: f.clock,
    assetKey: asset.key,
  });
  const metadata = (await asset.materialize(ctx)) ?? {};
  const report = ReconcileReport.parse(metadata);
  const [check] = asset.checks;
  assert.ok(check, "the asset carries its check");
  const materialization = {
    runId: ctx.runId,
    assetKey: asset.key,
    partition: null,
    time: f.clock.now(),
    metadata,
    codeVersion: asset.codeVersion,
  };
  const result = await check.run({ ...ctx, materialization });
  return {
    report,
    check: typeof result === "boolean" ? { passed: result } : result,
    logs: ctx.logs,
  };
}

async function allIds(ledger: Ledger): Promise<string[]> {
  return (await ledger.scan({ limit: 10_000 })).map((doc) => doc.id);
}

const TESTS: Record<string, (f: Fixture) => Promise<void>> = {
  "a clean lake passes and nothing changes": async (f) => {
    await write(f, "raw/a.json", "a");
    await write(f, "raw/b.json", "b");
    const before = await allIds(f.ledger);
    const { report, check } = await reconcile(f);
    assert.equal(check.passed, true, check.description);
    assert.deepEqual(report, {
      lake_bucket: LAKE,
      dry_run: false,
      documents_checked: 2,
      documents_in_flight: 0,
      history_documents: 0,
      orphan_documents: 0,
      orphans_removed: 0,
      mismatches: 0,
      objects_checked: 2,
      objects_without_lineage: 0,
      orphan_samples: [],
      mismatch_samples: [],
      unlineaged_samples: [],
    });
    assert.deepEqual(await allIds(f.ledger), before);
  },

  "a crash between document and object: the document is removed and logged": async (f) => {
    const kept = await write(f, "raw/a.json", "a");
    const orphan = await write(f, "raw/crashed.json", "never written", { crash: true });
    const zoneOrphan = await write(f, "b1/in.csv", "x", { bucket: "landing-zone", crash: true });
    const { report, check, logs } = await reconcile(f);
    assert.equal(report.orphan_documents, 2);
    assert.equal(report.orphans_removed, 2);
    assert.deepEqual(report.orphan_samples, [
      { bucket: LAKE, key: "raw/crashed.json", doc_id: orphan.id, reason: "object_missing" },
      { bucket: "landing-zone", key: "b1/in.csv", doc_id: zoneOrphan.id, reason: "object_missing" },
    ]);
    await assert.rejects(() => f.ledger.get(orphan.id), (e: unknown) => {
      return e instanceof ResourceError && e.code === "ledger.not_found";
    });
    assert.deepEqual(await allIds(f.ledger), [kept.id]);
    const removal = logs.find((log) => log.message.includes(orphan.id));
    assert.ok(removal, "the removal is logged");
    assert.equal(removal.level, "warn");
    assert.match(removal.message, /raw\/crashed\.json/);
    assert.equal(removal.fields?.sha256, orphan.sha256, "the whole document is in the log");
    assert.equal(check.passed, true, "repaired: the lake and the ledger agree");
  },

  "a crash while overwriting: the newer document goes, the older is latest again": async (f) => {
    const v1 = await write(f, "raw/a.json", "version 1");
    f.clock.advance(1000);
    const v2 = await write(f, "raw/a.json", "version 2", { crash: true });
    assert.equal((await f.ledger.findByKey(LAKE, "raw/a.json"))?.id, v2.id);
    const { report, check } = await reconcile(f);
    assert.equal(report.orphans_removed, 1);
    assert.deepEqual(report.orphan_samples, [
      { bucket: LAKE, key: "raw/a.json", doc_id: v2.id, reason: "version_never_written" },
    ]);
    assert.equal(report.mismatches, 0);
    assert.equal((await f.ledger.findByKey(LAKE, "raw/a.json"))?.id, v1.id);
    assert.equal(check.passed, true, check.description);
  },

  "older versions of a rewritten object are kept as history": async (f) => {
    const v1 = await write(f, "raw/a.json", "version 1");
    const v2 = await write(f, "raw/a.json", "version 2");
    const { report, check } = await reconcile(f);
    assert.equal(report.history_documents, 1);
    assert.equal(report.orphans_removed + report.mismatches, 0);
    assert.deepEqual(await allIds(f.ledger), [v1.id, v2.id]);
    assert.equal(check.passed, true, check.description);
  },

  "an object whose content differs from its document is reported, not changed": async (f) => {
    const doc = await write(f, "raw/a.json", "recorded");
    const tampered = bytesOf("changed by hand");
    await f.lake.put(LAKE, "raw/a.json", tampered);
    const { report, check, logs } = await reconcile(f);
    assert.equal(report.mismatches, 1);
    assert.deepEqual(report.mismatch_samples, [{
      bucket: LAKE,
      key: "raw/a.json",
      doc_id: doc.id,
      ledger_sha256: doc.sha256,
      object_sha256: sha256(tampered),
    }]);
    assert.deepEqual(await f.ledger.get(doc.id), doc, "the document is unchanged");
    assert.deepEqual(await f.lake.getBytes(LAKE, "raw/a.json"), tampered, "and so is the object");
    assert.ok(logs.some((log) => log.level === "error" && log.message.includes("raw/a.json")));
    assert.equal(check.passed, false);
    assert.match(check.description ?? "", /1 object\(s\) differ/);
    assert.deepEqual(check.metadata, {
      mismatches: 1,
      objects_without_lineage: 0,
      orphans_left: 0,
    });
  },

  "an object without a ledger document is reported, not changed": async (f) => {
    await write(f, "raw/a.json", "a");
    await f.lake.put(LAKE, "raw/stray.json", bytesOf("{}"));
    const { report, check } = await reconcile(f);
    assert.equal(report.objects_checked, 2);
    assert.equal(report.objects_without_lineage, 1);
    assert.deepEqual(report.unlineaged_samples, ["raw/stray.json"]);
    assert.equal(await f.lake.head(LAKE, "raw/stray.json") !== undefined, true);
    assert.equal(check.passed, false);
    assert.match(check.description ?? "", /1 object\(s\) have no ledger document/);
  },

  "a second run is idempotent": async (f) => {
    await write(f, "raw/a.json", "a");
    await write(f, "raw/crashed.json", "x", { crash: true });
    await write(f, "raw/b.json", "b");
    await f.lake.put(LAKE, "raw/b.json", bytesOf("tampered"));
    await f.lake.put(LAKE, "raw/stray.json", bytesOf("{}"));
    const first = await reconcile(f);
    assert.equal(first.report.orphans_removed, 1);
    const after = await allIds(f.ledger);
    const second = await reconcile(f);
    const third = await reconcile(f);
    assert.equal(second.report.orphans_removed, 0);
    assert.deepEqual(third.report, second.report);
    assert.deepEqual(second.report, {
      ...first.report,
      documents_checked: first.report.documents_checked - 1,
      orphan_documents: 0,
      orphans_removed: 0,
      orphan_samples: [],
    });
    assert.deepEqual(await allIds(f.ledger), after);
    assert.equal(second.check.passed, false, "what needs a person is still reported");
  },

  "a document younger than the grace period is left to its writer": async (f) => {
    const doc = await write(f, "raw/in-flight.json", "x", { crash: true });
    const asset = reconcileLineageAsset({ graceMs: 2 * HOUR });
    const early = await reconcile(f, asset, { advance: HOUR });
    assert.equal(early.report.documents_in_flight, 1);
    assert.equal(early.report.orphans_removed, 0);
    assert.equal((await f.ledger.get(doc.id)).id, doc.id);
    const late = await reconcile(f, asset, { advance: 2 * HOUR });
    assert.equal(late.report.orphans_removed, 1);
  },

  "a dry run reports orphans, removes nothing and fails the check": async (f) => {
    const orphan = await write(f, "raw/crashed.json", "x", { crash: true });
    const { report, check } = await reconcile(f, reconcileLineageAsset({ dryRun: true }));
    assert.equal(report.orphan_documents, 1);
    assert.equal(report.orphans_removed, 0);
    assert.equal((await f.ledger.get(orphan.id)).id, orphan.id);
    assert.equal(check.passed, false);
    assert.deepEqual(check.metadata, {
      mismatches: 0,
      objects_without_lineage: 0,
      orphans_left: 1,
    });
  },

  "small pages walk everything while removing, and samples are capped": async (f) => {
    const kept: string[] = [];
    for (let n = 0; n < 9; n++) {
      const doc = await write(f, `raw/${n}.json`, `n${n}`, { crash: n % 2 === 0 });
      if (n % 2 === 1) kept.push(doc.id);
    }
    for (let n = 0; n < 3; n++) await f.lake.put(LAKE, `stray/${n}.json`, bytesOf("{}"));
    const asset = reconcileLineageAsset({ pageSize: 2, sampleLimit: 1 });
    const { report } = await reconcile(f, asset);
    assert.equal(report.documents_checked, 9);
    assert.equal(report.orphans_removed, 5);
    assert.equal(report.orphan_samples.length, 1);
    assert.equal(report.objects_checked, 7);
    assert.equal(report.objects_without_lineage, 3);
    assert.deepEqual(report.unlineaged_samples, ["stray/0.json"]);
    assert.deepEqual(await allIds(f.ledger), kept);
  },

  "a lake bucket that does not exist yet: its documents are orphans": async (f) => {
    const other = new MemoryObjectStore();
    const doc = await f.ledger.upsert({
      bucket: LAKE,
      key: "raw/a.json",
      sha256: sha256(bytesOf("a")),
      size: 1,
      run_id: "r",
      asset_key: "raw_weather",
      format: "json",
    });
    f.clock.advance(HOUR);
    const report = await reconcileLineage({ lake: other, ledger: f.ledger }, {
      lakeBucket: LAKE,
      now: f.clock.now(),
      log: buildAssetContext().log,
    });
    assert.equal(report.orphans_removed, 1);
    assert.equal(report.objects_checked, 0);
    assert.equal(await f.ledger.findByKey(LAKE, doc.key), undefined);
  },
};

for (const kind of ["memory", "SQLite"] as const) {
  Deno.test(`ops/reconcile_lineage on the ${kind} ledger`, async (t) => {
    for (const [name, run] of Object.entries(TESTS)) {
      await t.step(name, async () => {
        await using f = await fixture(kind);
        await run(f);
      });
    }
  });
}

Deno.test("ops/reconcile_lineage: definition, check and options", async (t) => {
  await t.step("the asset is in group ops with its non-blocking error check", () => {
    const [asset] = opsAssets();
    assert.ok(asset);
    assert.equal(asset.key, RECONCILE_LINEAGE_KEY);
    assert.equal(asset.key, "ops/reconcile_lineage");
    assert.equal(asset.group, "ops");
    assert.deepEqual(asset.resources, ["config", "lake", "ledger"]);
    assert.deepEqual(
      asset.checks.map((c) => [c.name, c.severity, c.blocking]),
      [["lake_and_ledger_agree", "error", false]],
    );
  });

  await t.step("the check fails on metadata that is not a report", async () => {
    const ctx = buildAssetContext();
    const materialization = {
      runId: "r1",
      assetKey: RECONCILE_LINEAGE_KEY,
      partition: null,
      time: 0,
      metadata: { rows: 3 },
      codeVersion: null,
    };
    const result = await lakeAndLedgerAgree.run({
      ...ctx,
      resources: {} as never,
      materialization,
    });
    assert.equal(typeof result === "boolean" ? result : result.passed, false);
    assert.match(typeof result === "boolean" ? "" : result.description ?? "", /not a reconcile/);
  });

  await t.step("options out of range fail with RangeError naming them", async () => {
    await using f = await fixture("memory");
    for (const [name, value] of [["pageSize", 0], ["pageSize", 1001], ["graceMs", -1]] as const) {
      await assert.rejects(
        () =>
          reconcileLineage({ lake: f.lake, ledger: f.ledger }, {
            lakeBucket: LAKE,
            now: 0,
            log: buildAssetContext().log,
            [name]: value,
          }),
        (e: unknown) => e instanceof RangeError && e.message.includes(name),
      );
    }
  });

  await t.step("an object without a recorded sha256 is hashed from its bytes", async () => {
    const lake = new MemoryObjectStore();
    await lake.ensureBucket(LAKE);
    const bytes = bytesOf("written by another tool");
    await lake.put(LAKE, "x.bin", bytes);
    const head = await lake.head(LAKE, "x.bin");
    assert.ok(head);
    const { sha256: _recorded, ...bare } = head;
    assert.equal(
      await objectSha256(lake, { bucket: LAKE, key: "x.bin", head: bare }),
      sha256(bytes),
    );
    await lake.delete(LAKE, "x.bin");
    assert.equal(await objectSha256(lake, { bucket: LAKE, key: "x.bin", head: bare }), undefined);
  });
});

Deno.test("ops/reconcile_lineage through materialize(): the check result is recorded", async () => {
  await using f = await fixture("memory");
  await write(f, "raw/crashed.json", "x", { crash: true });
  const graph = defineGraph({
    assets: opsAssets(),
    resources: { config: f.config, lake: f.lake, ledger: f.ledger },
  });
  f.clock.advance(HOUR);
  const run = () => materialize(graph, { runStore: new MemoryRunStore(), clock: f.clock });
  const repaired = await run();
  assert.equal(repaired.status, "success", repaired.errorSummary ?? "");
  assert.equal(repaired.steps[0]?.materialization?.metadata.orphans_removed, 1);
  assert.deepEqual(repaired.steps[0]?.checks.map((c) => [c.name, c.passed]), [
    ["lake_and_ledger_agree", true],
  ]);
  await f.lake.put(LAKE, "raw/stray.json", bytesOf("{}"));
  const reported = await run();
  assert.equal(reported.status, "failed", "an error-severity check failure fails the run");
  assert.equal(reported.steps[0]?.status, "success", "the step itself succeeded");
  assert.deepEqual(reported.steps[0]?.checks.map((c) => [c.name, c.passed]), [
    ["lake_and_ledger_agree", false],
  ]);
});
