/**
 * One contract for every run store backend: memory, SQLite (temp file) and
 * Postgres (throwaway cluster, or `DATABASE_URL`). Each check gets a fresh,
 * empty store.
 */

import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import {
  defineAsset,
  defineGraph,
  InvalidStatusError,
  type Materialization,
  materialize,
  OWNER_LOST_TAG,
  ResourceError,
  RUN_STATUSES,
  type RunEvent,
  type RunOwner,
  type RunRecord,
  type RunStore,
  STEP_STATUSES,
  type StepRecord,
} from "../../../core/mod.ts";
import { type Check, runContract } from "./_backends.ts";
import { rejected as rejects } from "../../_helpers/assert_errors.ts";
import { needs } from "../../_helpers/tools.ts";

const T0 = Date.parse("2024-05-01T12:00:00Z");

function run(runId: string, fields: Partial<RunRecord> = {}): RunRecord {
  return {
    runId,
    status: "running",
    selection: "group:weather",
    partitions: "2024-01-01..2024-01-31",
    tags: { sensor: "manifests", run_key: "b1:etag" },
    startedAt: T0,
    finishedAt: null,
    errorSummary: null,
    owner: null,
    heartbeatAt: null,
    heartbeatTimeoutMs: null,
    cancelRequestedAt: null,
    cancelReason: null,
    ...fields,
  };
}

const OWNER_A: RunOwner = { instanceId: "a-0001", host: "host-a", pid: 101 };
const OWNER_B: RunOwner = { instanceId: "b-0002", host: "host-b", pid: 202 };

/** A running run of `owner`, last heartbeat at `heartbeatAt`, lease 30 s. */
function owned(runId: string, owner: RunOwner, heartbeatAt = T0, fields: Partial<RunRecord> = {}) {
  return run(runId, { owner, heartbeatAt, heartbeatTimeoutMs: 30_000, ...fields });
}

function step(assetKey: string, fields: Partial<StepRecord> = {}): StepRecord {
  return {
    runId: "r1",
    assetKey,
    partition: null,
    status: "pending",
    attempts: 0,
    startedAt: null,
    finishedAt: null,
    reason: null,
    ...fields,
  };
}

function event(type: RunEvent["type"], fields: Partial<RunEvent> = {}): RunEvent {
  return { runId: "r1", type, time: T0, assetKey: null, partition: null, data: {}, ...fields };
}

function materialization(
  assetKey: string,
  partition: string | null,
  time: number,
  metadata: Materialization["metadata"] = {},
  runId = "r1",
): RunEvent {
  return event("materialization", {
    runId,
    assetKey,
    partition,
    time,
    data: { metadata, codeVersion: "v2" },
  });
}

/** Strips the store-assigned ids so events compare with what was appended. */
const withoutIds = (events: readonly { id: number }[]) =>
  events.map(({ id: _id, ...rest }) => rest);

const CONTRACT: Record<string, Check> = {
  "createRun then getRun returns the record, by id and by unique prefix": async ({ store }) => {
    await store.createRun(run("20240501-abc"));
    await store.createRun(run("20240501-abd", { partitions: null, tags: {} }));
    await store.createRun(run("x_1"));
    await store.createRun(run("xy1"));
    assertEquals(await store.getRun("20240501-abc"), run("20240501-abc"));
    assertEquals(
      await store.getRun("20240501-abd"),
      run("20240501-abd", { partitions: null, tags: {} }),
    );
    assertEquals((await store.getRun("20240501-abc"))?.tags, {
      sensor: "manifests",
      run_key: "b1:etag",
    });
    assertEquals((await store.getRun("20240501-abd".slice(0, 12)))?.runId, "20240501-abd");
    assertEquals(await store.getRun("20240501-ab"), undefined, "an ambiguous prefix finds nothing");
    assertEquals(await store.getRun("nope"), undefined);
    assertEquals(await store.getRun(""), undefined, "the empty prefix finds nothing");
    assertEquals((await store.getRun("x_"))?.runId, "x_1", "'_' is not a wildcard");
    assertEquals(await store.getRun("x%"), undefined, "'%' is not a wildcard");
  },

  "an exact id wins over longer ids it prefixes": async ({ store }) => {
    await store.createRun(run("ab"));
    await store.createRun(run("abc"));
    assertEquals((await store.getRun("ab"))?.runId, "ab");
  },

  "createRun of an existing id fails with run_store.duplicate_run and keeps the first": async (
    { store },
  ) => {
    await store.createRun(run("r1"));
    const error = await rejects(
      () => store.createRun(run("r1", { selection: "other" })),
      ResourceError,
    );
    assertEquals(error.code, "run_store.duplicate_run");
    assert(error.message.includes("'r1'"), error.message);
    assertEquals((await store.getRun("r1"))?.selection, "group:weather");
    await store.flush();
  },

  "updateRun sets status, end and summary; absent keeps, null clears": async ({ store }) => {
    await store.createRun(run("r1"));
    await store.updateRun("r1", {
      status: "failed",
      finishedAt: T0 + 5_000,
      errorSummary: "raw_weather failed: HTTP 500",
    });
    assertEquals(
      await store.getRun("r1"),
      run("r1", {
        status: "failed",
        finishedAt: T0 + 5_000,
        errorSummary: "raw_weather failed: HTTP 500",
      }),
    );
    await store.updateRun("r1", { status: "canceled" });
    assertEquals(
      await store.getRun("r1"),
      run("r1", {
        status: "canceled",
        finishedAt: T0 + 5_000,
        errorSummary: "raw_weather failed: HTTP 500",
      }),
    );
    await store.updateRun("r1", { status: "success", errorSummary: null, finishedAt: null });
    assertEquals(await store.getRun("r1"), run("r1", { status: "success" }));
  },

  "updateRun of an unknown run id fails with run_store.unknown_run": async ({ store }) => {
    await store.createRun(run("r1"));
    const error = await rejects(
      () => store.updateRun("r2", { status: "success", finishedAt: T0 }),
      ResourceError,
    );
    assertEquals(error.code, "run_store.unknown_run");
    assert(error.message.includes("'r2'"), error.message);
    assertEquals(await store.getRun("r2"), undefined, "nothing was created");
    assertEquals((await store.getRun("r1"))?.status, "running");
  },

  "listRuns: most recent first, filtered by status, at most limit": async ({ store }) => {
    for (let i = 0; i < 25; i++) {
      await store.createRun(
        run(`run-${String(i).padStart(2, "0")}`, {
          startedAt: T0 + ((i * 7) % 25) * 1000, // not in insertion order
          status: i % 3 === 0 ? "failed" : "success",
        }),
      );
    }
    const all = await store.listRuns({ limit: 100 });
    assertEquals(all.length, 25);
    const times = all.map((r) => r.startedAt);
    assertEquals(times, [...times].sort((a, b) => b - a));
    assertEquals((await store.listRuns()).length, 20, "20 by default");
    assertEquals(await store.listRuns({ limit: 3 }), all.slice(0, 3));
    const failed = await store.listRuns({ status: "failed", limit: 100 });
    assertEquals(failed, all.filter((r) => r.status === "failed"));
    assertEquals(failed.length, 9);
    assertEquals(await store.listRuns({ status: "canceled" }), []);
  },

  "listRuns orders runs started at the same instant by id, descending": async ({ store }) => {
    for (const id of ["b", "c", "a"]) await store.createRun(run(id));
    assertEquals((await store.listRuns()).map((r) => r.runId), ["c", "b", "a"]);
  },

  "listRuns rejects a limit that is not a whole number >= 1": async ({ store }) => {
    for (const limit of [0, -1, 1.5, Number.NaN]) {
      await rejects(() => store.listRuns({ limit }), RangeError);
    }
  },

  "putStep upserts per (run, asset, partition), in order of first record": async ({ store }) => {
    await store.createRun(run("r1"));
    await store.putStep(step("raw_weather", { partition: "2024-01-02" }));
    await store.putStep(step("raw_weather", { partition: "2024-01-01" }));
    await store.putStep(step("bronze_weather"));
    await store.putStep(
      step("raw_weather", {
        partition: "2024-01-01",
        status: "running",
        attempts: 1,
        startedAt: T0,
      }),
    );
    await store.putStep(
      step("raw_weather", {
        partition: "2024-01-01",
        status: "running",
        attempts: 2,
        startedAt: T0,
      }),
    );
    await store.putStep(
      step("raw_weather", {
        partition: "2024-01-01",
        status: "failed",
        attempts: 3,
        startedAt: T0,
        finishedAt: T0 + 1_500,
        reason: "HTTP 500 from Open-Meteo",
      }),
    );
    await store.putStep(
      step("bronze_weather", { status: "skipped", reason: "upstream 'raw_weather' failed" }),
    );
    await store.putStep(step("other_run_asset", { runId: "r2" }));
    assertEquals(await store.listSteps("r1"), [
      step("raw_weather", { partition: "2024-01-02" }),
      step("raw_weather", {
        partition: "2024-01-01",
        status: "failed",
        attempts: 3,
        startedAt: T0,
        finishedAt: T0 + 1_500,
        reason: "HTTP 500 from Open-Meteo",
      }),
      step("bronze_weather", { status: "skipped", reason: "upstream 'raw_weather' failed" }),
    ]);
    assertEquals(await store.listSteps("r2"), [step("other_run_asset", { runId: "r2" })]);
    assertEquals(await store.listSteps("nope"), []);
  },

  "putStep keeps a known start time when the replacement has none": async ({ store }) => {
    await store.putStep(step("a", { status: "running", attempts: 1, startedAt: T0 }));
    await store.putStep(
      step("a", { status: "canceled", attempts: 1, finishedAt: T0 + 10, reason: "canceled" }),
    );
    assertEquals(await store.listSteps("r1"), [
      step("a", {
        status: "canceled",
        attempts: 1,
        startedAt: T0,
        finishedAt: T0 + 10,
        reason: "canceled",
      }),
    ]);
    await store.flush();
    await store.putStep(step("a", { status: "canceled", attempts: 1, finishedAt: T0 + 20 }));
    assertEquals((await store.listSteps("r1"))[0]?.startedAt, T0, "also across flushes");
  },

  "events: appended in order, with increasing ids, filtered by type and afterId": async (
    { store },
  ) => {
    const metadata = {
      rows: 120,
      ratio: 0.125,
      negative: -3,
      big: 2 ** 53 - 1,
      ok: true,
      missing: null,
      keys: ["raw/weather/2024/01/01/billings.json"],
      bbox: [-108.5, 45.7, -108.4, 45.8],
      nested: { crs: "EPSG:4326", empty: {}, list: [], deep: [{ a: [1, "2", null] }] },
      text: 'Ünïcödé ✓ — "quoted" \\ back\nslash\ttab 🌦',
      "key with spaces": "",
    };
    const events: RunEvent[] = [
      event("run_started", { data: { steps: 2 } }),
      event("step_started", { assetKey: "raw_weather", partition: "2024-01-01", time: T0 + 1 }),
      event("log", {
        time: T0 + 2,
        data: { level: "info", message: "fetched 24 rows", fields: { place: "Billings" } },
      }),
      materialization("raw_weather", "2024-01-01", T0 + 3, metadata),
      event("check", {
        assetKey: "raw_weather",
        partition: "2024-01-01",
        time: T0 + 4,
        data: { name: "row_count", passed: false, severity: "error", blocking: true, value: 0 },
      }),
      event("step_failed", {
        assetKey: "bronze_weather",
        time: T0 + 5,
        data: {
          message: 'relation "raw.raw_weather" does not exist',
          stack: "Error: relation ...\n    at load (assets/weather.ts:10:5)\n    at run",
        },
      }),
      event("run_finished", { time: T0 + 6, data: { status: "failed", duration_ms: 6 } }),
    ];
    await store.appendEvents(events.slice(0, 2));
    await store.appendEvents([event("log", { runId: "r2", data: { message: "other run" } })]);
    await store.appendEvents(events.slice(2));
    const stored = await store.listEvents("r1");
    assertEquals(withoutIds(stored), events);
    const ids = stored.map((e) => e.id);
    assert(ids.every((id, i) => i === 0 || id > (ids[i - 1] ?? 0)), `ids increase: ${ids}`);
    assertEquals(
      withoutIds(await store.listEvents("r1", { types: ["materialization", "check"] })),
      [events[3], events[4]],
    );
    assertEquals(
      withoutIds(await store.listEvents("r1", { afterId: ids[4] ?? 0 })),
      events.slice(5),
    );
    assertEquals(
      withoutIds(await store.listEvents("r1", { afterId: ids[1] ?? 0, types: ["log"] })),
      [events[2]],
    );
    assertEquals(await store.listEvents("r1", { types: [] }), []);
    assertEquals((await store.listEvents("r2")).length, 1);
    assertEquals(await store.listEvents("nope"), []);
    const failure = stored.find((e) => e.type === "step_failed");
    assertEquals(failure?.data.stack, events[5]?.data.stack, "the stack keeps its new lines");
  },

  "appendEvents rejects an event it cannot store, and stores none of that call": async (
    { store },
  ) => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: RunEvent[][] = [
      [event("log"), event("log", { data: { n: 1n } as unknown as RunEvent["data"] })],
      [event("log"), event("log", { data: cyclic as RunEvent["data"] })],
      [event("log"), event("materialization", { data: { metadata: {} } })],
    ];
    for (const events of bad) await rejects(() => store.appendEvents(events), TypeError);
    await store.appendEvents([event("run_started")]);
    await store.flush();
    assertEquals(withoutIds(await store.listEvents("r1")), [event("run_started")]);
  },

  "runs, steps and events with impossible numbers are refused with TypeError": async (
    { store },
  ) => {
    for (const startedAt of [Number.NaN, Infinity, 1e300]) {
      await rejects(() => store.createRun(run("bad", { startedAt })), TypeError);
    }
    await rejects(() => store.createRun(run("bad", { finishedAt: Number.NaN })), TypeError);
    assertEquals(await store.getRun("bad"), undefined);
    await store.createRun(run("r1"));
    await rejects(
      () => store.updateRun("r1", { status: "success", finishedAt: Infinity }),
      TypeError,
    );
    assertEquals((await store.getRun("r1"))?.status, "running");
    for (const fields of [{ attempts: -1 }, { attempts: 1.5 }, { startedAt: Number.NaN }]) {
      await rejects(() => store.putStep(step("a", fields)), TypeError);
    }
    await rejects(() => store.appendEvents([event("log", { time: Number.NaN })]), TypeError);
    await store.flush();
    assertEquals(await store.listSteps("r1"), []);
    assertEquals(await store.listEvents("r1"), []);
  },

  "a status outside the schema is refused with InvalidStatusError, nothing stored": async (
    { store },
  ) => {
    // Statuses from outside the type system (a form, a JSON file, an older client).
    const bad = (value: string) => value as RunRecord["status"];
    const refused = await rejects(
      () => store.createRun(run("bad", { status: bad("succeeded") })),
      InvalidStatusError,
    );
    assertEquals(refused.code, "run_store.invalid_status");
    assertEquals(refused.input, "succeeded");
    assertEquals(
      refused.message,
      "Cannot record run 'bad': status must be one of running, success, failed, canceled, " +
        "got 'succeeded'",
    );
    assertEquals(await store.getRun("bad"), undefined);
    await store.createRun(run("r1"));
    await rejects(
      () => store.updateRun("r1", { status: bad("done"), finishedAt: T0 + 1 }),
      InvalidStatusError,
    );
    await rejects(() => store.updateRun("r1", { status: bad("") }), InvalidStatusError);
    assertEquals((await store.getRun("r1"))?.status, "running");
    assertEquals((await store.getRun("r1"))?.finishedAt, null);
    const badStep = await rejects(
      () => store.putStep(step("a", { status: "finished" as StepRecord["status"] })),
      InvalidStatusError,
    );
    assertEquals(
      badStep.message,
      "Cannot record step 'a' of run 'r1': status must be one of pending, running, success, " +
        "failed, skipped, canceled, got 'finished'",
    );
    await rejects(() => store.listRuns({ status: bad("RUNNING") }), InvalidStatusError);
    await store.flush();
    assertEquals(await store.listSteps("r1"), []);
    // Every status of the schema is taken.
    for (const status of STEP_STATUSES) await store.putStep(step(`s_${status}`, { status }));
    for (const status of RUN_STATUSES) {
      await store.updateRun("r1", { status });
      assertEquals((await store.listRuns({ status })).map((r) => r.runId), ["r1"]);
    }
    assertEquals((await store.listSteps("r1")).length, STEP_STATUSES.length);
  },

  "stored records do not change when the caller's objects do": async ({ store }) => {
    const data = { metadata: { rows: 1, keys: ["a"] }, codeVersion: null };
    const tags = { sensor: "s" };
    await store.createRun({ ...run("r1"), tags });
    await store.appendEvents([event("materialization", { assetKey: "a", data })]);
    data.metadata.rows = 2;
    data.metadata.keys.push("b");
    tags.sensor = "changed";
    assertEquals((await store.listEvents("r1"))[0]?.data, {
      metadata: { rows: 1, keys: ["a"] },
      codeVersion: null,
    });
    assertEquals((await store.lastMaterialization("a"))?.metadata, { rows: 1, keys: ["a"] });
    assertEquals((await store.getRun("r1"))?.tags, { sensor: "s" });
  },

  "lastMaterialization per asset and partition, newest by time": async ({ store }) => {
    assertEquals(await store.lastMaterialization("raw_weather"), undefined);
    await store.appendEvents([
      materialization("raw_weather", "2024-01-01", T0 + 10, { rows: 1 }),
      materialization("raw_weather", "2024-01-02", T0 + 30, { rows: 2 }, "r2"),
      materialization("raw_weather", "2024-01-01", T0 + 20, { rows: 3 }, "r3"),
      materialization("bronze_weather", null, T0 + 5, { table: "raw.raw_weather" }),
    ]);
    const expected = (
      partition: string | null,
      time: number,
      metadata: Materialization["metadata"],
      runId: string,
    ): Materialization => ({
      runId,
      assetKey: "raw_weather",
      partition,
      time,
      metadata,
      codeVersion: "v2",
    });
    assertEquals(
      await store.lastMaterialization("raw_weather", "2024-01-01"),
      expected("2024-01-01", T0 + 20, { rows: 3 }, "r3"),
    );
    assertEquals(
      await store.lastMaterialization("raw_weather"),
      expected("2024-01-02", T0 + 30, { rows: 2 }, "r2"),
      "any partition: the newest",
    );
    assertEquals(await store.lastMaterialization("raw_weather", null), undefined);
    assertEquals(await store.lastMaterialization("raw_weather", "2024-01-03"), undefined);
    assertEquals(await store.lastMaterialization("bronze_weather", null), {
      runId: "r1",
      assetKey: "bronze_weather",
      partition: null,
      time: T0 + 5,
      metadata: { table: "raw.raw_weather" },
      codeVersion: "v2",
    });
    // An older materialization recorded later (a late writer) does not win.
    await store.appendEvents([materialization("raw_weather", "2024-01-01", T0 + 15, {}, "r4")]);
    await store.flush();
    assertEquals((await store.lastMaterialization("raw_weather", "2024-01-01"))?.runId, "r3");
    assertEquals((await store.lastMaterialization("raw_weather"))?.runId, "r2");
    // At the same instant, the later record wins.
    await store.appendEvents([materialization("bronze_weather", null, T0 + 5, {}, "r5")]);
    assertEquals((await store.lastMaterialization("bronze_weather", null))?.runId, "r5");
    const late = (await store.listEvents("r4"))[0];
    assertEquals(late?.type, "materialization", "the late event itself is kept");
  },

  "a materialization event without metadata reads back with empty metadata": async ({ store }) => {
    await store.appendEvents([
      event("materialization", { assetKey: "a", data: { codeVersion: 3 } }),
    ]);
    assertEquals(await store.lastMaterialization("a"), {
      runId: "r1",
      assetKey: "a",
      partition: null,
      time: T0,
      metadata: {},
      codeVersion: null,
    });
  },

  "listEventsAfter: every run's events after an id, oldest first, by type, at most limit": async (
    { store },
  ) => {
    await store.appendEvents([
      event("run_started", { runId: "r1" }),
      materialization("a", null, T0 + 1, { rows: 1 }, "r1"),
      event("run_started", { runId: "r2", time: T0 + 2 }),
      materialization("b", "p1", T0 + 3, {}, "r2"),
    ]);
    const all = await store.listEventsAfter(0);
    assertEquals(all.map((e) => [e.runId, e.type]), [
      ["r1", "run_started"],
      ["r1", "materialization"],
      ["r2", "run_started"],
      ["r2", "materialization"],
    ]);
    assert(all.every((e, i) => i === 0 || e.id > (all[i - 1]?.id ?? 0)), "ids increase");
    const after = await store.listEventsAfter(all[1]?.id ?? 0, { types: ["materialization"] });
    assertEquals(after.map((e) => [e.runId, e.assetKey, e.partition]), [["r2", "b", "p1"]]);
    assertEquals((await store.listEventsAfter(0, { limit: 1 })).length, 1);
    assertEquals(await store.listEventsAfter(all[3]?.id ?? 0), []);
    await rejects(() => store.listEventsAfter(0, { limit: 0 }), RangeError);
  },

  "listMaterializations: the latest of every partition, with provenance": async ({ store }) => {
    const provenance = {
      dataVersion: "sha:1",
      startedAt: T0,
      inputs: { up: { dataVersion: "r0", runId: "r0", partition: null, time: T0 - 5 }, gone: null },
    };
    await store.appendEvents([
      materialization("a", "p1", T0, {}, "r1"),
      materialization("a", "p2", T0 + 1, {}, "r1"),
      event("materialization", {
        runId: "r2",
        assetKey: "a",
        partition: "p1",
        time: T0 + 2,
        data: { metadata: { rows: 2 }, codeVersion: "v3", provenance },
      }),
      materialization("b", null, T0, {}, "r1"),
    ]);
    const list = (await store.listMaterializations("a")).sort((x, y) =>
      String(x.partition).localeCompare(String(y.partition))
    );
    assertEquals(list.map((m) => [m.partition, m.runId, m.time]), [
      ["p1", "r2", T0 + 2],
      ["p2", "r1", T0 + 1],
    ]);
    assertEquals(list[0]?.provenance, provenance);
    assertEquals(list[1]?.provenance, undefined);
    assertEquals((await store.lastMaterialization("a", "p1"))?.provenance, provenance);
    assertEquals((await store.listMaterializations("b")).map((m) => m.partition), [null]);
    assertEquals(await store.listMaterializations("none"), []);
  },

  "automation records: appended, listed newest first, filtered and paged": async ({ store }) => {
    await store.appendAutomationRecords([
      { kind: "tick", time: T0, assetKey: null, name: "automation", data: { requested: 1 } },
      { kind: "evaluation", time: T0, assetKey: "a", name: "eager", data: { tree: { t: 1 } } },
      { kind: "evaluation", time: T0 + 1, assetKey: "b", name: "eager", data: {} },
      { kind: "notification", time: T0 + 2, assetKey: null, name: "hook", data: { sent: true } },
    ]);
    const all = await store.listAutomationRecords();
    assertEquals(all.map((r) => r.kind), ["notification", "evaluation", "evaluation", "tick"]);
    assertEquals(all[2]?.data, { tree: { t: 1 } });
    assertEquals(
      (await store.listAutomationRecords({ kind: "evaluation" })).map((r) => r.assetKey),
      ["b", "a"],
    );
    assertEquals(
      (await store.listAutomationRecords({ assetKey: "a" })).map((r) => r.name),
      ["eager"],
    );
    const firstId = all[3]?.id ?? 0;
    assertEquals(
      (await store.listAutomationRecords({ afterId: firstId, limit: 2 })).map((r) => r.kind),
      ["notification", "evaluation"],
    );
    assertEquals(
      (await store.listAutomationRecords({ beforeId: all[1]?.id ?? 0 })).map((r) => r.kind),
      ["evaluation", "tick"],
    );
    await rejects(
      () =>
        store.appendAutomationRecords([
          { kind: "tick", time: T0, assetKey: null, name: "x", data: { ok: true } },
          { kind: "tick", time: Number.NaN, assetKey: null, name: "x", data: {} },
        ]),
      TypeError,
    );
    assertEquals((await store.listAutomationRecords()).length, 4, "a bad call stores nothing");
    await rejects(() => store.listAutomationRecords({ limit: -1 }), RangeError);
  },

  "sensor cursors: unknown is undefined, set overwrites, one per sensor": async ({ store }) => {
    assertEquals(await store.getCursor("manifests"), undefined);
    await store.setCursor("manifests", "");
    assertEquals(await store.getCursor("manifests"), "", "the empty cursor is a cursor");
    await store.setCursor("manifests", '{"after":"b1.json"}');
    await store.setCursor("daily", "2024-01-01");
    await store.setCursor("manifests", '{"after":"b2.json"}');
    assertEquals(await store.getCursor("manifests"), '{"after":"b2.json"}');
    assertEquals(await store.getCursor("daily"), "2024-01-01");
  },

  "claimRunKey: the first claim wins; later claims return the winner's run id": async (
    { store },
  ) => {
    assertEquals(await store.claimRunKey("manifests", "b1:etag1", "run-a"), {
      claimed: true,
      runId: "run-a",
    });
    assertEquals(await store.claimRunKey("manifests", "b1:etag1", "run-b"), {
      claimed: false,
      runId: "run-a",
    });
    assertEquals(await store.claimRunKey("manifests", "b1:etag1", "run-a"), {
      claimed: false,
      runId: "run-a",
    });
    assertEquals(await store.claimRunKey("manifests", "b1:etag2", "run-c"), {
      claimed: true,
      runId: "run-c",
    });
    assertEquals(await store.claimRunKey("daily", "b1:etag1", "run-d"), {
      claimed: true,
      runId: "run-d",
    }, "keys are per sensor");
  },

  "getRunKey: the run id of a claimed key, per sensor; reading claims nothing": async (
    { store },
  ) => {
    assertEquals(await store.getRunKey("manifests", "b1:etag1"), undefined);
    assertEquals(await store.getRunKey("manifests", "b1:etag1"), undefined, "still unclaimed");
    await store.claimRunKey("manifests", "b1:etag1", "run-a");
    assertEquals(await store.getRunKey("manifests", "b1:etag1"), "run-a");
    await store.claimRunKey("manifests", "b1:etag1", "run-b");
    assertEquals(await store.getRunKey("manifests", "b1:etag1"), "run-a", "the winner's id");
    assertEquals(await store.getRunKey("daily", "b1:etag1"), undefined, "keys are per sensor");
    assertEquals(await store.getRunKey("manifests", "b1"), undefined, "whole keys only");
    assertEquals(await store.claimRunKey("manifests", "b1:etag2", "run-c"), {
      claimed: true,
      runId: "run-c",
    });
  },

  "claimRunKey: of concurrent claims of one key, exactly one wins": async ({ store }) => {
    const claims = await Promise.all(
      Array.from({ length: 10 }, (_, i) => store.claimRunKey("s", "k", `run-${i}`)),
    );
    const winners = claims.filter((c) => c.claimed);
    assertEquals(winners.length, 1);
    const winner = winners[0]?.runId;
    assert(claims.every((c) => c.runId === winner), JSON.stringify(claims));
  },

  "dynamic partitions: add returns only new keys, order kept, delete removes": async (
    { store },
  ) => {
    assertEquals(await store.dynamicPartitions("spatial_batches"), []);
    assertEquals(await store.addDynamicPartitions("spatial_batches", ["b3", "b1", "b3", "b2"]), [
      "b3",
      "b1",
      "b2",
    ]);
    assertEquals(await store.addDynamicPartitions("spatial_batches", ["b2", "b0", "b1", "b9"]), [
      "b0",
      "b9",
    ]);
    assertEquals(await store.addDynamicPartitions("spatial_batches", []), []);
    assertEquals(await store.addDynamicPartitions("spatial_batches", ["b0"]), []);
    assertEquals(await store.addDynamicPartitions("other", ["b1"]), ["b1"], "per partitioning");
    assertEquals(await store.dynamicPartitions("spatial_batches"), ["b3", "b1", "b2", "b0", "b9"]);
    await store.deleteDynamicPartition("spatial_batches", "b1");
    await store.deleteDynamicPartition("spatial_batches", "never-added");
    await store.deleteDynamicPartition("nope", "b1");
    assertEquals(await store.dynamicPartitions("spatial_batches"), ["b3", "b2", "b0", "b9"]);
    assertEquals(await store.addDynamicPartitions("spatial_batches", ["b1"]), ["b1"]);
    assertEquals(
      await store.dynamicPartitions("spatial_batches"),
      ["b3", "b2", "b0", "b9", "b1"],
      "a key added again goes last",
    );
    assertEquals(await store.dynamicPartitions("other"), ["b1"]);
  },

  "a materialize() run is recorded completely, failure and skip included": async ({ store }) => {
    const graph = defineGraph({
      assets: [
        defineAsset({ key: "raw", materialize: () => ({ rows: 3, keys: ["raw/a.json"] }) }),
        defineAsset({
          key: "bronze",
          deps: ["raw"],
          retry: { maxAttempts: 1 },
          materialize: () => {
            throw new Error('relation "raw.x" does not exist');
          },
        }),
        defineAsset({ key: "mart", deps: ["bronze"], materialize: () => ({}) }),
      ],
    });
    const result = await materialize(graph, {
      runStore: store,
      runId: "run-1",
      tags: { by: "test" },
    });
    assertEquals(result.status, "failed");
    const recorded = await store.getRun("run-1");
    assertEquals(recorded?.status, "failed");
    assertEquals(recorded?.tags, { by: "test" });
    assert(recorded?.finishedAt !== null && recorded?.errorSummary, JSON.stringify(recorded));
    const steps = await store.listSteps("run-1");
    assertEquals(
      steps.map((s) => [s.assetKey, s.status, s.attempts]),
      [["raw", "success", 1], ["bronze", "failed", 1], ["mart", "skipped", 0]],
    );
    assert(steps.every((s) => s.finishedAt !== null), "every step has ended");
    assert(steps[2]?.reason?.includes("bronze"), `skip names its cause: ${steps[2]?.reason}`);
    const events = await store.listEvents("run-1");
    assertEquals(events[0]?.type, "run_started");
    assertEquals(events.at(-1)?.type, "run_finished");
    const failed = events.find((e) => e.type === "step_failed");
    assertEquals(failed?.assetKey, "bronze");
    assertEquals(failed?.data.error, 'relation "raw.x" does not exist');
    assert(String(failed?.data.stack).includes("\n"), "the failure keeps its stack");
    assertEquals(
      (await store.lastMaterialization("raw", null))?.metadata,
      { rows: 3, keys: ["raw/a.json"] },
    );
    assertEquals(await store.lastMaterialization("bronze"), undefined);
  },

  "a run without owner has none; an owned run keeps owner, heartbeat and lease": async (
    { store },
  ) => {
    await store.createRun({
      runId: "plain",
      status: "running",
      selection: "",
      partitions: null,
      tags: {},
      startedAt: T0,
      finishedAt: null,
      errorSummary: null,
    });
    assertEquals(
      await store.getRun("plain"),
      run("plain", { selection: "", partitions: null, tags: {} }),
    );
    // heartbeatAt defaults to startedAt
    await store.createRun({ ...run("mine"), owner: OWNER_A, heartbeatTimeoutMs: 40_000 });
    assertEquals(
      await store.getRun("mine"),
      run("mine", { owner: OWNER_A, heartbeatAt: T0, heartbeatTimeoutMs: 40_000 }),
    );
    await store.createRun(owned("later", OWNER_B, T0 + 7));
    assertEquals((await store.getRun("later"))?.heartbeatAt, T0 + 7);
    assertEquals(
      (await store.listRuns({ limit: 5 })).find((r) => r.runId === "later")?.owner,
      OWNER_B,
    );
  },

  "createRun refuses an owner without a lease, and a malformed owner": async ({ store }) => {
    const bad: Partial<RunRecord>[] = [
      { owner: OWNER_A },
      { owner: OWNER_A, heartbeatTimeoutMs: 0 },
      { owner: OWNER_A, heartbeatTimeoutMs: 1.5 },
      { owner: { ...OWNER_A, instanceId: "" }, heartbeatTimeoutMs: 1000 },
      { owner: { ...OWNER_A, pid: -1 }, heartbeatTimeoutMs: 1000 },
      { tags: { n: 1 as unknown as string } },
    ];
    for (const fields of bad) {
      const error = await rejects(() => store.createRun({ ...run("r1"), ...fields }), TypeError);
      assert(error.message.startsWith("Cannot record run 'r1'"), error.message);
    }
    assertEquals(await store.getRun("r1"), undefined, "nothing was stored");
  },

  "heartbeat moves the owner's running runs and reports the runs it lost": async ({ store }) => {
    await store.createRun(owned("r1", OWNER_A));
    await store.createRun(owned("r2", OWNER_B));
    await store.createRun(owned("r3", OWNER_A, T0, { status: "success", finishedAt: T0 + 1 }));
    const reply = await store.heartbeat(OWNER_A, ["r1", "r2", "r3", "nope", "r1"], T0 + 5_000);
    assertEquals(reply, { cancelRequested: [], lost: ["r2", "r3", "nope"] });
    assertEquals((await store.getRun("r1"))?.heartbeatAt, T0 + 5_000);
    assertEquals((await store.getRun("r2"))?.heartbeatAt, T0, "another owner's run is not touched");
    assertEquals(await store.heartbeat(OWNER_A, [], T0), { cancelRequested: [], lost: [] });
    await rejects(() => store.heartbeat({ ...OWNER_A, instanceId: "" }, ["r1"], T0), TypeError);
    await rejects(() => store.heartbeat(OWNER_A, ["r1"], Number.NaN), TypeError);
  },

  "requestCancel marks a running run once; its owner sees it at the next heartbeat": async (
    { store },
  ) => {
    await store.createRun(owned("r1", OWNER_A));
    await store.createRun(owned("done", OWNER_A, T0, { status: "failed", finishedAt: T0 }));
    assertEquals(
      await store.requestCancel("r1", { time: T0 + 1, reason: "from the UI by ana" }),
      true,
    );
    assertEquals(await store.requestCancel("r1", { time: T0 + 2, reason: "again" }), true);
    assertEquals(await store.requestCancel("done", { time: T0 + 1, reason: "x" }), false);
    assertEquals(await store.requestCancel("nope", { time: T0 + 1, reason: "x" }), false);
    const recorded = await store.getRun("r1");
    assertEquals([recorded?.cancelRequestedAt, recorded?.cancelReason], [
      T0 + 1,
      "from the UI by ana",
    ]);
    assertEquals(recorded?.status, "running", "the owner decides when it has stopped");
    assertEquals(await store.heartbeat(OWNER_A, ["r1"], T0 + 3), {
      cancelRequested: [{ runId: "r1", reason: "from the UI by ana" }],
      lost: [],
    });
    await rejects(() => store.requestCancel("r1", { time: T0, reason: "" }), TypeError);
  },

  "reapRuns fails the runs whose owner is gone, with their steps, exactly once": async (
    { store },
  ) => {
    await store.createRun(owned("lapsed", OWNER_A, T0));
    await store.createRun(owned("fresh", OWNER_B, T0 + 20_000));
    await store.createRun(owned("dead", OWNER_B, T0 + 20_000));
    await store.createRun(run("ownerless")); // runs recorded before owners: never reaped
    await store.createRun(owned("ended", OWNER_A, T0, { status: "success", finishedAt: T0 + 1 }));
    for (
      const [assetKey, status] of [["a", "success"], ["b", "running"], ["c", "pending"]] as const
    ) {
      await store.putStep(
        step(assetKey, { runId: "lapsed", status, startedAt: status === "pending" ? null : T0 }),
      );
    }
    // The lease of "lapsed" ends at T0 + 30 s: not yet at T0 + 30 s, lapsed 1 ms later.
    assertEquals(await store.reapRuns({ now: T0 + 30_000 }), []);
    const now = T0 + 30_001;
    const reaped = await store.reapRuns({ now, reaper: OWNER_B });
    assertEquals(reaped.map((r) => r.runId), ["lapsed"]);
    const record = await store.getRun("lapsed");
    assertEquals(reaped[0], record);
    assertEquals(record?.status, "failed");
    assertEquals(record?.finishedAt, now);
    assertEquals(record?.tags, {
      sensor: "manifests",
      run_key: "b1:etag",
      [OWNER_LOST_TAG]: "pending",
    });
    assert(
      /^owner process died \(no heartbeat from host-a pid 101 since 2024-05-01T12:00:00\.000Z\)$/
        .test(record?.errorSummary ?? ""),
      String(record?.errorSummary),
    );
    assertEquals((await store.listSteps("lapsed")).map((s) => [s.assetKey, s.status, s.reason]), [
      ["a", "success", null],
      ["b", "failed", "owner process died"],
      ["c", "canceled", "owner process died"],
    ]);
    const [finished] = await store.listEvents("lapsed", { types: ["run_finished"] });
    assertEquals(finished?.data, {
      status: "failed",
      reason: record?.errorSummary ?? null,
      reaped: true,
      reaper: "host-b pid 202",
    });
    assertEquals(await store.reapRuns({ now }), [], "each run is reaped once");
    // A process known gone is reaped whatever its lease says.
    const known = await store.reapRuns({ now, deadOwners: [OWNER_B.instanceId] });
    assertEquals(known.map((r) => r.runId).sort(), ["dead", "fresh"]);
    assert(
      known[0]?.errorSummary?.startsWith("owner process died (process host-b pid 202 is gone)"),
    );
    assertEquals((await store.getRun("ownerless"))?.status, "running");
    assertEquals((await store.getRun("ended"))?.status, "success");
    // The owner, back after a pause, learns it lost its run and must not record its end.
    assertEquals(await store.heartbeat(OWNER_A, ["lapsed"], now + 1), {
      cancelRequested: [],
      lost: ["lapsed"],
    });
    await rejects(() => store.reapRuns({ now: Number.NaN }), TypeError);
  },

  "two reapers at once reap each run exactly once": async ({ store, reopen }) => {
    const other = reopen ? await reopen() : store;
    try {
      for (let i = 0; i < 30; i++) await store.createRun(owned(`r${i}`, OWNER_A));
      await store.flush();
      const [a, b] = await Promise.all([
        store.reapRuns({ now: T0 + 60_000 }),
        other.reapRuns({ now: T0 + 60_000 }),
      ]);
      const ids = [...a, ...b].map((r) => r.runId);
      assertEquals(ids.length, 30, `reaped ${ids.length}: ${a.length} + ${b.length}`);
      assertEquals(new Set(ids).size, 30);
      for (let i = 0; i < 30; i++) {
        assertEquals((await store.listEvents(`r${i}`, { types: ["run_finished"] })).length, 1);
      }
    } finally {
      if (other !== store) await other[Symbol.asyncDispose]();
    }
  },

  "listRuns filters by tags; updateRun merges tags": async ({ store }) => {
    await store.createRun(run("r1", { tags: { sensor: "s", run_key: "k1" } }));
    await store.createRun(run("r2", { tags: { sensor: "s", run_key: "k2" }, startedAt: T0 + 1 }));
    await store.createRun(run("r3", { tags: { schedule: "s" }, startedAt: T0 + 2 }));
    const ids = async (tags: Record<string, string>) =>
      (await store.listRuns({ tags, limit: 10 })).map((r) => r.runId);
    assertEquals(await ids({ sensor: "s" }), ["r2", "r1"]);
    assertEquals(await ids({ sensor: "s", run_key: "k1" }), ["r1"]);
    assertEquals(await ids({ sensor: "x" }), []);
    assertEquals(await ids({}), ["r3", "r2", "r1"]);
    assertEquals((await store.listRuns({ tags: { sensor: "s" }, limit: 1 })).map((r) => r.runId), [
      "r2",
    ]);
    await store.updateRun("r1", {
      status: "failed",
      tags: { owner_lost: "relaunched as r9", sensor: "t" },
    });
    assertEquals((await store.getRun("r1"))?.tags, {
      sensor: "t",
      run_key: "k1",
      owner_lost: "relaunched as r9",
    });
    assertEquals(await ids({ owner_lost: "relaunched as r9" }), ["r1"]);
    await rejects(() => store.listRuns({ tags: { n: 1 as unknown as string } }), TypeError);
  },

  "flush makes every write visible to another store on the same data": async (place) => {
    const { store, reopen } = place;
    await writeSample(store);
    await store.flush();
    if (!reopen) return; // memory: nothing is shared between stores
    await using other = await reopen();
    await assertSample(other);
  },

  "everything written survives closing and reopening": async ({ store, reopen }) => {
    if (!reopen) return;
    await writeSample(store);
    await store[Symbol.asyncDispose](); // no flush: closing commits the buffer
    await using again = await reopen();
    await assertSample(again);
  },

  "a closed store rejects calls with run_store.closed": async ({ store, reopen }) => {
    if (!reopen) return; // memory holds no connection
    await store[Symbol.asyncDispose]();
    await store[Symbol.asyncDispose](); // closing twice is fine
    const calls = [() => store.getRun("r1"), () => store.putStep(step("a")), () => store.flush()];
    for (const call of calls) {
      const error = await rejects(call, ResourceError);
      assertEquals(error.code, "run_store.closed");
    }
  },
};

async function writeSample(store: RunStore): Promise<void> {
  await store.createRun(owned("o1", OWNER_A));
  await store.heartbeat(OWNER_A, ["o1"], T0 + 3);
  await store.requestCancel("o1", { time: T0 + 4, reason: "stop" });
  await store.createRun(run("r1"));
  await store.putStep(
    step("a", { status: "success", attempts: 1, startedAt: T0, finishedAt: T0 + 9 }),
  );
  await store.appendEvents([materialization("a", null, T0 + 9, { rows: 3 })]);
  await store.appendEvents([event("log", { data: { message: "done" } })]);
  await store.updateRun("r1", { status: "success", finishedAt: T0 + 10 });
  await store.putStep(step("b", { status: "skipped", reason: "because" }));
  await store.setCursor("s", "c1");
  await store.claimRunKey("s", "k1", "r1");
  await store.addDynamicPartitions("d", ["p1", "p2"]);
}

async function assertSample(store: RunStore): Promise<void> {
  assertEquals(
    await store.getRun("o1"),
    owned("o1", OWNER_A, T0 + 3, { cancelRequestedAt: T0 + 4, cancelReason: "stop" }),
  );
  assertEquals(await store.getRun("r1"), run("r1", { status: "success", finishedAt: T0 + 10 }));
  assertEquals(await store.listSteps("r1"), [
    step("a", { status: "success", attempts: 1, startedAt: T0, finishedAt: T0 + 9 }),
    step("b", { status: "skipped", reason: "because" }),
  ]);
  assertEquals(withoutIds(await store.listEvents("r1")), [
    materialization("a", null, T0 + 9, { rows: 3 }),
    event("log", { data: { message: "done" } }),
  ]);
  assertEquals((await store.lastMaterialization("a", null))?.metadata, { rows: 3 });
  assertEquals(await store.getCursor("s"), "c1");
  assertEquals(await store.claimRunKey("s", "k1", "r2"), { claimed: false, runId: "r1" });
  assertEquals(await store.dynamicPartitions("d"), ["p1", "p2"]);
}

await runContract("run store contract", CONTRACT, await needs("postgres"));
