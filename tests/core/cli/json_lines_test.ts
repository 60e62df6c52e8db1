import assert from "node:assert/strict";
import { assetFactory, defineAsset } from "../../../core/asset.ts";
import { eventToJsonLine, eventToRecord } from "../../../core/cli/mod.ts";
import type { RunEvent } from "../../../core/run_store/types.ts";
import { assertExit, cli, EXIT, jsonLines, testApp } from "./_app.ts";

const asset = assetFactory<Record<string, unknown>>();

/** The keys every JSON line carries, in this order. */
const SHAPE = ["time", "run_id", "asset", "partition", "step", "status", "duration_ms"];

function graph() {
  return testApp([
    asset({
      key: "raw",
      materialize: (ctx) => {
        ctx.log.info("fetched", { rows: 2 });
        return { rows: 2 };
      },
      checks: [{ name: "has_rows", run: () => true }],
    }),
    defineAsset({
      key: "broken",
      deps: ["raw"],
      materialize: () => {
        throw new Error("bad row 7");
      },
    }),
    defineAsset({ key: "after", deps: ["broken"], materialize: () => {} }),
  ]);
}

Deno.test("JSON lines: every line has the same leading keys", async (t) => {
  for (
    const [name, args, isTerminal] of [
      ["stdout is not a terminal", ["materialize"], false],
      ["--json on a terminal", ["materialize", "--json"], true],
    ] as const
  ) {
    await t.step(name, async () => {
      const { app, store } = graph();
      const outcome = await cli(app, args, { isTerminal });
      assertExit(outcome, EXIT.failed);
      assert.ok(!outcome.stdout.includes("\x1b["), "no terminal escapes in JSON output");
      const lines = jsonLines(outcome.stdout);
      const [run] = await store.listRuns();
      assert.ok(run);
      for (const line of lines) {
        assert.deepStrictEqual(
          Object.keys(line).slice(0, SHAPE.length),
          SHAPE,
          JSON.stringify(line),
        );
        assert.equal(line.run_id, run.runId);
        assert.ok(!Number.isNaN(Date.parse(String(line.time))));
        assert.ok(line.duration_ms === null || typeof line.duration_ms === "number");
      }
      const brief = lines.map((l) =>
        [l.step, l.asset, l.status].join(" ") + (typeof l.duration_ms === "number" ? " +ms" : "")
      );
      assert.deepStrictEqual(brief, [
        "run  running",
        "asset raw running",
        "log raw log",
        "check raw passed",
        "asset raw success +ms",
        "asset broken running",
        "asset broken failed +ms",
        "asset after skipped",
        "run  failed +ms",
      ]);
    });
  }
});

Deno.test("JSON lines: what each kind of line adds", async () => {
  const { app } = graph();
  const lines = jsonLines((await cli(app, ["materialize", "--json"])).stdout);
  const find = (step: string, status: string) => {
    const line = lines.find((l) => l.step === step && l.status === status);
    assert.ok(line, `${step} ${status}`);
    return line;
  };
  assert.equal(find("run", "running").steps, 3);
  const success = find("asset", "success");
  assert.equal(success.attempt, 1);
  assert.deepStrictEqual(success.metadata, { rows: 2 });
  const failed = find("asset", "failed");
  assert.equal(failed.asset, "broken");
  assert.equal(failed.partition, null);
  assert.equal(failed.error, "bad row 7");
  assert.equal(failed.error_class, "Error");
  assert.equal("stack" in failed, false, "stack traces stay in the run store");
  assert.equal(find("asset", "skipped").reason, "upstream 'broken' failed");
  assert.equal(find("check", "passed").check, "has_rows");
  const log = find("log", "log");
  assert.equal(log.level, "info");
  assert.equal(log.message, "fetched");
  assert.deepStrictEqual(log.fields, { rows: 2 });
  const end = find("run", "failed");
  assert.equal(end.asset, null);
  assert.deepStrictEqual(
    [end.success, end.failed, end.skipped, end.canceled],
    [1, 1, 1, 0],
  );
});

Deno.test("eventToJsonLine: one line per event; materialization events are not logged", () => {
  const base = { runId: "r1", time: Date.parse("2024-05-01T10:00:00Z"), partition: "p1" };
  const started: RunEvent = {
    ...base,
    type: "step_started",
    assetKey: "a",
    data: { attempt: 1 },
  };
  assert.equal(
    eventToJsonLine(started),
    '{"time":"2024-05-01T10:00:00.000Z","run_id":"r1","asset":"a","partition":"p1",' +
      '"step":"asset","status":"running","duration_ms":null,"attempt":1}\n',
  );
  const retry: RunEvent = {
    ...base,
    type: "step_retry",
    assetKey: "a",
    data: { attempt: 1, delay_ms: 500, error: "timeout", stack: "Error: timeout\n  at x" },
  };
  assert.deepStrictEqual(eventToRecord(retry), {
    time: "2024-05-01T10:00:00.000Z",
    run_id: "r1",
    asset: "a",
    partition: "p1",
    step: "asset",
    status: "retrying",
    duration_ms: null,
    attempt: 1,
    delay_ms: 500,
    error: "timeout",
  });
  const canceled: RunEvent = {
    ...base,
    type: "step_canceled",
    assetKey: "a",
    data: { duration_ms: 42, error: "The run was canceled" },
  };
  assert.equal(eventToRecord(canceled)?.status, "canceled");
  assert.equal(eventToRecord(canceled)?.duration_ms, 42);
  const materialization: RunEvent = {
    ...base,
    type: "materialization",
    assetKey: "a",
    data: { metadata: { rows: 1 } },
  };
  assert.equal(eventToJsonLine(materialization), undefined);
  for (const line of [started, retry, canceled].map(eventToJsonLine)) {
    assert.ok(line?.endsWith("\n") && !line.slice(0, -1).includes("\n"), "exactly one line");
  }
});

Deno.test("JSON lines: a retried asset logs each retry, then its outcome with the attempt", async () => {
  let calls = 0;
  const { app } = testApp([
    defineAsset({
      key: "flaky",
      retry: { maxAttempts: 3, delayMs: 1, jitter: 0 },
      materialize: () => {
        if (++calls < 3) throw new Error(`timeout #${calls}`);
        return { rows: 1 };
      },
    }),
  ]);
  const outcome = await cli(app, ["materialize", "--json"]);
  assertExit(outcome, EXIT.ok);
  const steps = jsonLines(outcome.stdout).filter((l) => l.step === "asset");
  assert.deepStrictEqual(steps.map((l) => [l.status, l.attempt, l.error ?? null]), [
    ["running", 1, null],
    ["retrying", 1, "timeout #1"],
    ["retrying", 2, "timeout #2"],
    ["success", 3, null],
  ]);
  assert.equal(typeof steps.at(-1)?.duration_ms, "number");
});
