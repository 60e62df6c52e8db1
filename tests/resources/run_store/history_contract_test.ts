/**
 * The run store's history and automation contract, on every backend (memory,
 * SQLite, Postgres): the run list's filters and keyset pages, one asset's
 * events over every run, sensor/schedule on-off states, and tick history.
 * Each check gets a fresh, empty store. Also: a store made before the run
 * list had its tag and asset index is indexed when opened.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import postgres from "postgres";
import {
  type NewRun,
  type NewTick,
  type RunEvent,
  type RunRecord,
  type RunStore,
  type StepRecord,
  TICK_HISTORY,
} from "../../../core/mod.ts";
import { PostgresRunStore, SqliteRunStore } from "../../../resources/run_store/mod.ts";
import { startPostgres } from "../../_helpers/postgres.ts";
import { needs } from "../../_helpers/tools.ts";
import { rejected as rejects } from "../../_helpers/assert_errors.ts";
import { type Check, runContract } from "./_backends.ts";

const T0 = Date.parse("2024-05-01T12:00:00Z");

function newRun(runId: string, startedAt: number, fields: Partial<NewRun> = {}): NewRun {
  return {
    runId,
    status: "success",
    selection: "",
    partitions: null,
    tags: {},
    startedAt,
    finishedAt: startedAt + 5,
    errorSummary: null,
    ...fields,
  };
}

function step(runId: string, assetKey: string, partition: string | null = null): StepRecord {
  return {
    runId,
    assetKey,
    partition,
    status: "success",
    attempts: 1,
    startedAt: T0,
    finishedAt: T0 + 1,
    reason: null,
  };
}

function assetEvent(
  runId: string,
  type: RunEvent["type"],
  assetKey: string,
  partition: string | null,
  time: number,
): RunEvent {
  return {
    runId,
    type,
    time,
    assetKey,
    partition,
    data: type === "materialization"
      ? { metadata: { rows: time - T0 }, codeVersion: "1" }
      : type === "check"
      ? { name: "c", passed: true }
      : { message: "m" },
  };
}

function tick(name: string, fields: Partial<NewTick> = {}): NewTick {
  return {
    name,
    kind: "sensor",
    time: T0,
    status: "skipped",
    runIds: [],
    duplicateKeys: [],
    reason: "nothing new",
    cursor: null,
    ...fields,
  };
}

const ids = (runs: readonly RunRecord[]) => runs.map((r) => r.runId);

/** Every page of `options` through `store`, following the cursor. */
async function allPages(
  store: RunStore,
  options: Parameters<RunStore["listRuns"]>[0],
  limit: number,
): Promise<string[][]> {
  const pages: string[][] = [];
  let after: { startedAt: number; runId: string } | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await store.listRuns({ ...options, limit, ...(after ? { after } : {}) });
    if (page.length === 0) return pages;
    pages.push(ids(page));
    const last = page[page.length - 1] as RunRecord;
    after = { startedAt: last.startedAt, runId: last.runId };
  }
  throw new Error("paging did not end");
}

/** Twelve runs: r00..r11, 10 ms apart except r04/r05/r06, which start at the same instant. */
async function twelveRuns(store: RunStore): Promise<void> {
  for (let i = 0; i < 12; i++) {
    const id = `r${String(i).padStart(2, "0")}`;
    const startedAt = i >= 4 && i <= 6 ? T0 + 40 : T0 + i * 10;
    await store.createRun(newRun(id, startedAt, {
      status: i % 3 === 0 ? "failed" : "success",
      tags: i % 2 === 0 ? { sensor: "inbox", run_key: `k${i}` } : { schedule: "nightly" },
    }));
    await store.putStep(step(id, i % 4 === 0 ? "rare" : "common", i % 4 === 0 ? "p1" : null));
    await store.putStep(step(id, "common", "p2"));
  }
}

const CONTRACT: Record<string, Check> = {
  "listRuns pages by cursor through every run once, newest first, ties by id descending": async (
    { store },
  ) => {
    await twelveRuns(store);
    const all = ids(await store.listRuns({ limit: 100 }));
    assertEquals(all, [
      "r11",
      "r10",
      "r09",
      "r08",
      "r07",
      "r06",
      "r05",
      "r04",
      "r03",
      "r02",
      "r01",
      "r00",
    ]);
    for (const limit of [1, 3, 5, 12]) {
      assertEquals((await allPages(store, {}, limit)).flat(), all, `pages of ${limit}`);
    }
    // A cursor inside the tie group: the page goes on with the smaller ids of that instant.
    assertEquals(
      ids(await store.listRuns({ limit: 3, after: { startedAt: T0 + 40, runId: "r06" } })),
      ["r05", "r04", "r03"],
    );
    // A cursor need not be a run of the store: it is a position.
    assertEquals(
      ids(await store.listRuns({ limit: 2, after: { startedAt: T0 + 75, runId: "zzz" } })),
      ["r07", "r06"],
    );
  },

  "listRuns filters by asset, status, tags and time range, alone and together, and pages each":
    async ({ store }) => {
      await twelveRuns(store);
      const pages = (options: Parameters<RunStore["listRuns"]>[0]) =>
        allPages(store, options, 2).then((p) => p.flat());
      assertEquals(await pages({ asset: "rare" }), ["r08", "r04", "r00"]);
      assertEquals((await pages({ asset: "common" })).length, 12);
      assertEquals(await pages({ asset: "nope" }), []);
      assertEquals(await pages({ status: "failed" }), ["r09", "r06", "r03", "r00"]);
      assertEquals(await pages({ tags: { sensor: "inbox" } }), [
        "r10",
        "r08",
        "r06",
        "r04",
        "r02",
        "r00",
      ]);
      assertEquals(await pages({ tags: { sensor: "inbox", run_key: "k8" } }), ["r08"]);
      assertEquals(await pages({ tags: { sensor: "inbox" }, status: "failed" }), ["r06", "r00"]);
      assertEquals(await pages({ asset: "rare", status: "failed" }), ["r00"]);
      assertEquals(await pages({ asset: "rare", tags: { run_key: "k4" } }), ["r04"]);
      assertEquals(await pages({ startedFrom: T0 + 40, startedBefore: T0 + 80 }), [
        "r07",
        "r06",
        "r05",
        "r04",
      ]);
      assertEquals(
        await pages({ asset: "common", startedFrom: T0 + 90 }),
        ["r11", "r10", "r09"],
      );
      assertEquals(
        await pages({ tags: { schedule: "nightly" }, startedBefore: T0 + 40 }),
        ["r03", "r01"],
      );
      assertEquals(await pages({ status: "failed", startedFrom: T0 + 100 }), []);
    },

  "the asset and tag filters follow steps, tag updates and reaps written after the run": async (
    { store },
  ) => {
    await store.createRun(newRun("a1", T0, { status: "running", tags: { sensor: "s" } }));
    assertEquals(ids(await store.listRuns({ asset: "x" })), []);
    await store.putStep(step("a1", "x", "p1"));
    await store.putStep({ ...step("a1", "x", "p1"), status: "failed" });
    await store.putStep(step("a1", "x", "p2"));
    assertEquals(ids(await store.listRuns({ asset: "x" })), ["a1"]);
    await store.updateRun("a1", { status: "failed", tags: { sensor: "t", extra: "1" } });
    assertEquals(ids(await store.listRuns({ tags: { sensor: "s" } })), []);
    assertEquals(ids(await store.listRuns({ tags: { sensor: "t", extra: "1" } })), ["a1"]);
    // A step recorded before its run is found once the run is.
    await store.putStep(step("early", "y"));
    await store.createRun(newRun("early", T0 + 1));
    assertEquals(ids(await store.listRuns({ asset: "y" })), ["early"]);
    // A reaped run gets the owner_lost tag, which lists it.
    await store.createRun({
      ...newRun("lost", T0 + 2, { status: "running", finishedAt: null }),
      owner: { instanceId: "gone", host: "h", pid: 1 },
      heartbeatTimeoutMs: 10,
    });
    await store.reapRuns({ now: T0 + 1000 });
    assertEquals(ids(await store.listRuns({ tags: { owner_lost: "pending" } })), ["lost"]);
    await store.updateRun("lost", { status: "failed", tags: { owner_lost: "not relaunched" } });
    assertEquals(ids(await store.listRuns({ tags: { owner_lost: "pending" } })), []);
  },

  "listRuns refuses a bad asset, time or cursor with TypeError": async ({ store }) => {
    for (
      const options of [
        { asset: "" },
        { startedFrom: Number.NaN },
        { startedBefore: Infinity },
        { after: { startedAt: T0 } as unknown as { startedAt: number; runId: string } },
        { after: null as unknown as { startedAt: number; runId: string } },
      ]
    ) {
      await rejects(() => store.listRuns(options), TypeError);
    }
  },

  "listAssetEvents: one asset over every run, newest first, by type and partition, in pages":
    async ({ store }) => {
      await store.createRun(newRun("e1", T0));
      await store.createRun(newRun("e2", T0 + 100));
      await store.appendEvents([
        assetEvent("e1", "step_started", "a", "p1", T0 + 1),
        assetEvent("e1", "materialization", "a", "p1", T0 + 2),
        assetEvent("e1", "check", "a", "p1", T0 + 3),
        assetEvent("e1", "materialization", "b", null, T0 + 4),
        assetEvent("e1", "log", "a", null, T0 + 5),
      ]);
      await store.appendEvents([
        assetEvent("e2", "materialization", "a", "p2", T0 + 101),
        assetEvent("e2", "check", "a", "p2", T0 + 102),
        assetEvent("e2", "materialization", "a", null, T0 + 103),
      ]);
      const seen = (events: readonly RunEvent[]) =>
        events.map((e) => `${e.runId}:${e.type}:${e.partition ?? "-"}`);
      assertEquals(seen(await store.listAssetEvents("a")), [
        "e2:materialization:-",
        "e2:check:p2",
        "e2:materialization:p2",
        "e1:log:-",
        "e1:check:p1",
        "e1:materialization:p1",
        "e1:step_started:p1",
      ]);
      const history = await store.listAssetEvents("a", { types: ["materialization", "check"] });
      assertEquals(history.length, 5);
      assertEquals(history[0]?.data, { metadata: { rows: 103 }, codeVersion: "1" });
      assertEquals(
        seen(await store.listAssetEvents("a", { types: ["materialization"], partition: "p1" })),
        ["e1:materialization:p1"],
      );
      assertEquals(
        seen(await store.listAssetEvents("a", { partition: null })),
        ["e2:materialization:-", "e1:log:-"],
      );
      const first = await store.listAssetEvents("a", { limit: 3 });
      const rest = await store.listAssetEvents("a", { beforeId: first.at(-1)?.id ?? 0, limit: 10 });
      assertEquals(
        [...first, ...rest].map((e) => e.id),
        (await store.listAssetEvents("a")).map((e) => e.id),
      );
      assertEquals(await store.listAssetEvents("nope"), []);
      assertEquals(await store.listAssetEvents("a", { types: [] }), []);
      await rejects(() => store.listAssetEvents("a", { limit: 0 }), RangeError);
      await rejects(() => store.listAssetEvents("a", { beforeId: 1.5 }), RangeError);
    },

  "automation states: none until set; set, overwritten, one per name, seen by another store":
    async ({ store, reopen }) => {
      assertEquals(await store.automationStates(), []);
      const off = await store.setAutomationState("inbox", {
        enabled: false,
        time: T0,
        by: "ui",
      });
      assertEquals(off, { name: "inbox", enabled: false, updatedAt: T0, updatedBy: "ui" });
      await store.setAutomationState("nightly", { enabled: false, time: T0 + 1 });
      await store.setAutomationState("inbox", { enabled: true, time: T0 + 2, by: "ui (ana)" });
      const expected = [
        { name: "inbox", enabled: true, updatedAt: T0 + 2, updatedBy: "ui (ana)" },
        { name: "nightly", enabled: false, updatedAt: T0 + 1, updatedBy: null },
      ];
      assertEquals(await store.automationStates(), expected);
      if (reopen) {
        await using other = await reopen();
        assertEquals(await other.automationStates(), expected);
      }
      await rejects(() => store.setAutomationState("", { enabled: true, time: T0 }), TypeError);
      await rejects(
        () => store.setAutomationState("x", { enabled: "no" as unknown as boolean, time: T0 }),
        TypeError,
      );
      await rejects(() => store.setAutomationState("x", { enabled: true, time: NaN }), TypeError);
    },

  "ticks: identical idle ticks are one record with a count; launches, cursors and changes are new records":
    async ({ store }) => {
      await store.recordTicks([tick("inbox", { time: T0 })]);
      await store.recordTicks([tick("inbox", { time: T0 + 1 }), tick("other", { time: T0 + 1 })]);
      await store.recordTicks([tick("inbox", { time: T0 + 2 })]);
      let [latest] = await store.listTicks("inbox");
      assertEquals(latest?.count, 3);
      assertEquals([latest?.time, latest?.lastTime], [T0, T0 + 2]);
      await store.recordTicks([
        tick("inbox", { time: T0 + 3, status: "requested", runIds: ["run-1"], reason: null }),
        tick("inbox", {
          time: T0 + 4,
          status: "requested",
          runIds: [],
          duplicateKeys: ["k1"],
          reason: null,
        }),
        tick("inbox", {
          time: T0 + 5,
          status: "requested",
          runIds: [],
          duplicateKeys: ["k1"],
          reason: null,
        }),
        tick("inbox", { time: T0 + 6, status: "failed", reason: "boom" }),
        tick("inbox", { time: T0 + 7, status: "failed", reason: "boom" }),
        tick("inbox", { time: T0 + 8, status: "failed", reason: "other boom" }),
        tick("inbox", { time: T0 + 9, status: "requested", cursor: "c2", reason: null }),
        tick("inbox", { time: T0 + 10, status: "requested", cursor: "c2", reason: null }),
        tick("inbox", { time: T0 + 11, status: "off", reason: "turned off by ui" }),
      ]);
      const records = await store.listTicks("inbox");
      assertEquals(
        records.map((t) => [t.status, t.count, t.reason, t.runIds, t.duplicateKeys, t.cursor]),
        [
          ["off", 1, "turned off by ui", [], [], null],
          ["requested", 1, null, [], [], "c2"],
          ["requested", 1, null, [], [], "c2"],
          ["failed", 1, "other boom", [], [], null],
          ["failed", 2, "boom", [], [], null],
          ["requested", 2, null, [], ["k1"], null],
          ["requested", 1, null, ["run-1"], [], null],
          ["skipped", 3, "nothing new", [], [], null],
        ],
      );
      [latest] = records;
      assertEquals([latest?.time, latest?.lastTime, latest?.kind], [T0 + 11, T0 + 11, "sensor"]);
      assert(records.every((r, i) => i === 0 || r.id < (records[i - 1]?.id ?? 0)));
      const page = await store.listTicks("inbox", { limit: 3 });
      const next = await store.listTicks("inbox", { beforeId: page.at(-1)?.id ?? 0, limit: 100 });
      assertEquals([...page, ...next], records);
      assertEquals((await store.listTicks("other")).length, 1);
      assertEquals(await store.listTicks("nobody"), []);
      await rejects(() => store.listTicks("inbox", { limit: 0 }), RangeError);
    },

  "ticks: a bad tick fails its call and records none of it": async ({ store }) => {
    for (
      const bad of [
        tick(""),
        tick("s", { status: "idle" as NewTick["status"] }),
        tick("s", { kind: "cron" as NewTick["kind"] }),
        tick("s", { time: Number.NaN }),
        tick("s", { runIds: [1] as unknown as string[] }),
        tick("s", { reason: 3 as unknown as string }),
      ]
    ) {
      await rejects(() => store.recordTicks([tick("s"), bad]), TypeError);
    }
    assertEquals(await store.listTicks("s"), []);
    await store.recordTicks([]);
  },

  "ticks: the newest TICK_HISTORY records of each name are kept": async ({ store }) => {
    const many = Array.from(
      { length: TICK_HISTORY + 5 },
      (_, i) => tick("busy", { time: T0 + i, reason: `reason ${i}` }),
    );
    await store.recordTicks(many);
    await store.recordTicks([tick("quiet", { time: T0 })]);
    const kept = await store.listTicks("busy", { limit: TICK_HISTORY + 10 });
    assertEquals(kept.length, TICK_HISTORY);
    assertEquals(kept[0]?.reason, `reason ${TICK_HISTORY + 4}`);
    assertEquals(kept.at(-1)?.reason, "reason 5");
    assertEquals((await store.listTicks("quiet")).length, 1);
  },
};

await runContract("run store history contract", CONTRACT, await needs("postgres"));

/** Runs recorded with tags and steps, to find again after the index tables are rebuilt. */
async function indexedSample(store: RunStore): Promise<void> {
  await store.createRun(newRun("old1", T0, { tags: { sensor: "inbox" } }));
  await store.createRun(newRun("old2", T0 + 1, { tags: { schedule: "nightly" } }));
  await store.putStep(step("old1", "a"));
  await store.putStep(step("old2", "b"));
  await store.flush();
}

async function assertIndexed(store: RunStore): Promise<void> {
  assertEquals(ids(await store.listRuns({ tags: { sensor: "inbox" } })), ["old1"]);
  assertEquals(ids(await store.listRuns({ asset: "b" })), ["old2"]);
}

Deno.test("sqlite: a store made before the run index is indexed when opened", async () => {
  const dir = await Deno.makeTempDir({ prefix: "run_store_index_" });
  try {
    const path = `${dir}/runs.db`;
    {
      await using store = SqliteRunStore.open(path);
      await indexedSample(store);
    }
    const db = new DatabaseSync(path);
    db.exec("DROP TABLE run_tags; DROP TABLE run_assets; DROP TABLE automation_ticks");
    db.close();
    await using store = SqliteRunStore.open(path);
    await assertIndexed(store);
    await store.recordTicks([tick("s")]);
    assertEquals((await store.listTicks("s")).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "postgres: a store made before the run index is indexed when opened",
  ignore: await needs("postgres"),
  async fn() {
    await using pg = await startPostgres();
    const schema = "old_store";
    {
      await using store = await PostgresRunStore.open(pg.url, { schema });
      await indexedSample(store);
    }
    const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
    await sql.unsafe(
      `DROP TABLE ${schema}.run_tags, ${schema}.run_assets, ${schema}.automation_ticks`,
    );
    await sql.end();
    await using store = await PostgresRunStore.open(pg.url, { schema });
    await assertIndexed(store);
  },
});
