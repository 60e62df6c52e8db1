import assert from "node:assert/strict";
import { defineAsset } from "../../../core/asset.ts";
import { parseSensorArgs, UsageError } from "../../../core/cli/mod.ts";
import { defineSensor } from "../../../core/sensor.ts";
import { assertExit, cli, EXIT, jsonLines, testApp } from "./_app.ts";

const ok = defineAsset({ key: "ok", materialize: () => ({ rows: 1 }) });
const boom = defineAsset({
  key: "boom",
  materialize: () => {
    throw new Error("boom");
  },
});

/** Requests `selection` once per distinct run key `key`. */
const requesting = (name: string, selection: string) =>
  defineSensor({
    name,
    evaluate: () => ({ runRequests: [{ runKey: "k1", selection }], cursor: "1" }),
  });

Deno.test("parseSensorArgs: options and usage errors", async (t) => {
  await t.step("defaults", () => {
    assert.deepEqual(parseSensorArgs([]), {
      once: false,
      intervalMs: undefined,
      graceMs: 0,
      json: false,
    });
  });
  await t.step("every option", () => {
    assert.deepEqual(parseSensorArgs(["--once", "--interval", "250", "--grace", "0", "--json"]), {
      once: true,
      intervalMs: 250,
      graceMs: 0,
      json: true,
    });
    assert.equal(parseSensorArgs(["-h"]), "help");
  });
  for (
    const [args, message] of [
      [["--interval", "0"], /--interval must be a whole number of milliseconds >= 1, got '0'/],
      [["--interval", "1s"], /--interval must be a whole number/],
      [["--grace", "-5"], /--grace/],
      [["extra"], /sensor takes no argument 'extra'/],
      [["--nope"], /nope/],
    ] as const
  ) {
    await t.step(`rejects ${args.join(" ")}`, () => {
      assert.throws(
        () => parseSensorArgs(args),
        (error) => error instanceof UsageError && message.test(error.message),
      );
    });
  }
});

Deno.test("sensor --once: one tick, waits for the runs, exit 0 when they succeed", async () => {
  const { app, store, opened } = testApp([ok], { sensors: [requesting("wants_ok", "ok")] });
  const out = await cli(app, ["sensor", "--once"]);
  assertExit(out, EXIT.ok);
  assert.match(out.stdout, /INFO {2}sensor wants_ok: launched 1 \(.*\); cursor 1\n/);
  assert.match(out.stdout, /run .* \(sensor wants_ok, key k1\) success in \d+ ms/);
  const [run] = await store.listRuns();
  assert.equal(run?.status, "success");
  assert.equal(opened.closed, opened.count, "the run store is closed");
  const again = await cli(app, ["sensor", "--once"]);
  assertExit(again, EXIT.ok);
  assert.equal((await store.listRuns()).length, 1, "the run key is not launched twice");
});

Deno.test("sensor --once: exit 1 when a launched run fails, with JSON lines on --json", async () => {
  const { app } = testApp([boom], { sensors: [requesting("wants_boom", "boom")] });
  const out = await cli(app, ["sensor", "--once", "--json"]);
  assertExit(out, EXIT.failed);
  const lines = jsonLines(out.stdout);
  assert.ok(
    lines.some((line) =>
      line.level === "warn" && /failed in \d+ ms: 1 failed: boom/.test(String(line.message))
    ),
  );
});

Deno.test("sensor --once without a run queue: a failed run is retried QUEUE_MAX_RETRIES times (as queued runs are); exit 0 when a retry succeeds", async () => {
  let calls = 0;
  const flaky = defineAsset({
    key: "flaky",
    materialize: () => {
      if (++calls === 1) throw new Error("flaky once");
    },
  });
  const { app, store } = testApp([flaky], { sensors: [requesting("wants_flaky", "flaky")] });
  const out = await cli({ ...app, queueMaxRetries: () => 1 }, ["sensor", "--once"]);
  assertExit(out, EXIT.ok);
  const runs = await store.listRuns();
  const first = runs.find((r) => r.status === "failed");
  const retry = runs.find((r) => r.status === "success");
  assert.equal(runs.length, 2);
  assert.deepEqual([retry?.tags.retry_of, retry?.tags.attempt], [first?.runId, "2"]);
  assert.match(
    out.stdout,
    new RegExp(
      `\\(sensor wants_flaky, key k1\\) failed; retried as ${retry?.runId} \\(attempt 2 of 2\\)`,
    ),
  );
});

Deno.test("sensor: --help, and a usage error exits 2", async () => {
  const { app } = testApp([ok]);
  const help = await cli(app, ["sensor", "--help"]);
  assertExit(help, EXIT.ok);
  assert.match(help.stdout, /--once/);
  assertExit(await cli(app, ["sensor", "--interval", "x"]), EXIT.usage);
  assert.match((await cli(app, ["--help"])).stdout, /sensor\s+daemon: sensors and schedules/);
});

Deno.test("sensor: runs until the signal aborts, then exits 0", async () => {
  const { app, store } = testApp([ok], { sensors: [requesting("wants_ok", "ok")] });
  const controller = new AbortController();
  const running = cli(app, ["sensor", "--interval", "5"], { signal: controller.signal });
  const deadline = Date.now() + 5_000;
  while ((await store.listRuns()).length === 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  controller.abort();
  const out = await running;
  assertExit(out, EXIT.ok);
  assert.match(out.stdout, /sensor daemon .* started: wants_ok, every 5 ms/);
  assert.match(out.stdout, /sensor daemon .* stopped\n$/);
});

Deno.test("parseSensorArgs: --interval given twice is a usage error, a misspelt option gets a suggestion", () => {
  assert.throws(
    () => parseSensorArgs(["--interval", "10", "--interval", "20"]),
    (e: unknown) =>
      e instanceof UsageError && /--interval is given twice \('10', then '20'\)/.test(e.message),
  );
  assert.throws(
    () => parseSensorArgs(["--intervall", "10"]),
    (e: unknown) => e instanceof UsageError && /did you mean '--interval'\?/.test(e.message),
  );
});
