import assert from "node:assert/strict";
import { assetFactory, defineAsset } from "../../../core/asset.ts";
import { staticPartitions } from "../../../core/partitions.ts";
import { FakeClock } from "../../../core/testing.ts";
import { assertExit, cli, EXIT, jsonLines, testApp } from "./_app.ts";

const asset = assetFactory<Record<string, unknown>>();

/** raw (group ingest, 2 partitions) -> clean (checked) -> broken (fails). */
function project() {
  return testApp([
    defineAsset({
      key: "raw",
      group: "ingest",
      description: "Rows as fetched",
      partitions: staticPartitions(["eu", "us"]),
      materialize: () => ({ rows: 2 }),
    }),
    asset({
      key: "clean",
      deps: ["raw"],
      materialize: () => ({ rows: 1 }),
      checks: [{ name: "not_empty", run: () => true }],
    }),
    defineAsset({
      key: "broken",
      deps: ["clean"],
      materialize: () => {
        throw new TypeError("cannot read 'temp' of undefined");
      },
    }),
  ]);
}

/** Runs `materialize ARGS` and returns the run id printed in the JSON lines. */
async function runOnce(
  app: ReturnType<typeof project>["app"],
  args: string[] = [],
): Promise<string> {
  const outcome = await cli(app, ["materialize", ...args]);
  const [first] = jsonLines(outcome.stdout);
  assert.ok(first && typeof first.run_id === "string", outcome.stderr);
  return first.run_id;
}

/** Table rows of `text` (header and rule dropped), split on runs of spaces. */
function tableRows(text: string): string[][] {
  return text.trimEnd().split("\n").slice(2).map((row) => row.split(/ {2,}/));
}

Deno.test("list: assets, deps, group, partitions, checks and last materialization", async (t) => {
  const { app } = project();

  await t.step("before any run: never materialized", async () => {
    const outcome = await cli(app, ["list"]);
    assertExit(outcome, EXIT.ok);
    assert.match(
      outcome.stdout,
      /^asset\s+group\s+deps\s+partitions\s+checks\s+last materialization\s+status\n/,
    );
    assert.deepStrictEqual(tableRows(outcome.stdout), [
      ["raw", "ingest", "-", "static (2)", "0", "never", "missing"],
      ["clean", "default", "raw", "-", "1", "never", "missing"],
      ["broken", "default", "clean", "-", "0", "never", "missing"],
    ]);
  });

  const runId = await runOnce(app);

  await t.step("after a run: time and run of the last materialization", async () => {
    const outcome = await cli(app, ["list"]);
    assertExit(outcome, EXIT.ok);
    const rows = tableRows(outcome.stdout);
    const last = new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\dZ ${runId.slice(0, 8)}$`);
    assert.match(rows[0]?.[5] ?? "", last);
    assert.match(rows[1]?.[5] ?? "", last);
    assert.equal(rows[2]?.[5], "never", "a failed asset has no materialization");
  });

  await t.step("--json: one object per asset", async () => {
    const outcome = await cli(app, ["list", "--json"]);
    assertExit(outcome, EXIT.ok);
    const [raw, clean, broken] = jsonLines(outcome.stdout);
    assert.ok(raw && clean && broken);
    assert.deepStrictEqual(
      { ...raw, last_materialization: null },
      {
        asset: "raw",
        group: "ingest",
        deps: [],
        partitions: "static (2)",
        checks: [],
        last_materialization: null,
        status: "fresh",
        stale_reasons: [],
        automation: null,
        freshness: null,
        description: "Rows as fetched",
      },
    );
    const last = raw.last_materialization as Record<string, unknown>;
    assert.equal(last.run_id, runId);
    assert.equal(last.partition, "us");
    assert.ok(!Number.isNaN(Date.parse(String(last.time))));
    assert.deepStrictEqual(clean.deps, ["raw"]);
    assert.deepStrictEqual(clean.checks, ["not_empty"]);
    assert.equal(broken.last_materialization, null);
  });

  await t.step("usage errors", async () => {
    assertExit(await cli(app, ["list", "raw"]), EXIT.usage);
    const outcome = await cli(app, ["list", "--jsn"]);
    assertExit(outcome, EXIT.usage);
    assert.match(outcome.stderr, /Unknown option '--jsn' for list \(did you mean '--json'\?\)/);
    const help = await cli(app, ["list", "--help"]);
    assertExit(help, EXIT.ok);
    assert.match(help.stdout, /^Usage: list/);
  });
});

Deno.test("runs: recent runs, newest first, with status and errors", async (t) => {
  // Runs that start in the same millisecond have no defined order: the second starts a second later.
  const clock = new FakeClock(Date.parse("2024-03-10T10:00:00Z"));
  const app = { ...project().app, clock };
  const first = await runOnce(app, ["raw"]);
  clock.advance(1_000);
  const second = await runOnce(app, ["+broken", "--partition", "eu"]);

  await t.step("table", async () => {
    const outcome = await cli(app, ["runs"]);
    assertExit(outcome, EXIT.ok);
    assert.match(outcome.stdout, /^run\s+status\s+started\s+duration\s+selection\s+errors\n/);
    const rows = tableRows(outcome.stdout);
    assert.deepStrictEqual(rows.map((r) => [r[0], r[1], r[4]]), [
      [second, "failed", "+broken"],
      [first, "success", "raw"],
    ]);
    assert.match(rows[0]?.[5] ?? "", /1 failed: broken \(cannot read 'temp' of undefined\)/);
  });

  await t.step("--limit and --status", async () => {
    assert.deepStrictEqual(
      jsonLines((await cli(app, ["runs", "--limit", "1", "--json"])).stdout).map((r) => r.run_id),
      [second],
    );
    assert.deepStrictEqual(
      jsonLines((await cli(app, ["runs", "--status", "success", "--json"])).stdout).map((r) =>
        r.run_id
      ),
      [first],
    );
    const none = await cli(app, ["runs", "--status", "canceled", "--json"]);
    assertExit(none, EXIT.ok);
    assert.equal(none.stdout, "");
  });

  await t.step("--json: snake_case, ISO times, like the JSON lines", async () => {
    const [run] = jsonLines((await cli(app, ["runs", "--json", "--limit", "1"])).stdout);
    assert.ok(run);
    assert.deepStrictEqual(Object.keys(run), [
      "run_id",
      "status",
      "selection",
      "partitions",
      "tags",
      "started_at",
      "finished_at",
      "duration_ms",
      "error_summary",
    ]);
    assert.equal(run.status, "failed");
    assert.equal(run.partitions, "eu");
    assert.equal(typeof run.duration_ms, "number");
    assert.match(String(run.started_at), /^\d{4}-\d\d-\d\dT.*Z$/);
    assert.match(String(run.error_summary), /broken/);
  });

  await t.step("usage errors", async () => {
    for (const args of [["--limit", "0"], ["--limit", "x"], ["--status", "done"], ["extra"]]) {
      const outcome = await cli(app, ["runs", ...args]);
      assertExit(outcome, EXIT.usage);
    }
    assert.match(
      (await cli(app, ["runs", "--status", "done"])).stderr,
      /--status must be one of running, success, failed, canceled, got 'done'/,
    );
  });
});

Deno.test("show: a run by id or unique prefix, with steps and failures", async (t) => {
  const { app, store } = project();
  const runId = await runOnce(app);

  await t.step("by full id", async () => {
    const outcome = await cli(app, ["show", runId]);
    assertExit(outcome, EXIT.ok);
    assert.match(outcome.stdout, new RegExp(`^Run ${runId} {2}failed\n`));
    assert.match(outcome.stdout, /selection \*/);
    assert.match(outcome.stdout, /asset\s+partition\s+status\s+attempts\s+duration\s+reason/);
    const [stepTable = "", checkTable = ""] = outcome.stdout.split("\nchecks:\n");
    const steps = stepTable.split("\n").filter((l) => /^(raw|clean|broken) /.test(l)).map((
      l,
    ) => l.split(/\s+/).slice(0, 3).join(" "));
    // The run's check results: the check of `clean`, with its result.
    assert.match(checkTable, /^asset\s+partition\s+check\s+result\s+severity\s+detail\n/);
    assert.match(checkTable, /\nclean\s+-\s+not_empty\s+passed\s+error/);
    assert.deepStrictEqual(steps, [
      "raw eu success",
      "raw us success",
      "clean - success",
      "broken - failed",
    ]);
    assert.match(outcome.stdout, /failed: broken: cannot read 'temp' of undefined\n/);
    assert.match(outcome.stdout, /TypeError: cannot read 'temp' of undefined\n\s+at /, "stack");
  });

  await t.step("by a prefix of the id", async () => {
    const outcome = await cli(app, ["show", runId.slice(0, 8)]);
    assertExit(outcome, EXIT.ok);
    assert.match(outcome.stdout, new RegExp(`^Run ${runId} `));
  });

  await t.step("--json: the run, its steps and its events", async () => {
    const outcome = await cli(app, ["show", runId, "--json"]);
    assertExit(outcome, EXIT.ok);
    const [shown] = jsonLines(outcome.stdout);
    assert.ok(shown);
    const run = shown.run as Record<string, unknown>;
    assert.equal(run.run_id, runId);
    assert.equal(run.status, "failed");
    const steps = shown.steps as Record<string, unknown>[];
    assert.deepStrictEqual(steps.map((s) => [s.asset, s.partition, s.status, s.attempts]), [
      ["raw", "eu", "success", 1],
      ["raw", "us", "success", 1],
      ["clean", null, "success", 1],
      ["broken", null, "failed", 1],
    ]);
    const events = shown.events as Record<string, unknown>[];
    assert.ok(events.length > 0);
    for (const event of events) assert.equal(event.run_id, runId);
    assert.ok(events.some((e) => e.asset === "broken" && e.status === "failed"));
  });

  await t.step("an unknown id is a usage error (exit 2) that says how to find runs", async () => {
    const outcome = await cli(app, ["show", "nope"]);
    assertExit(outcome, EXIT.usage);
    assert.match(outcome.stderr, /No run matches 'nope'.*'platform runs' lists recent runs/);
  });

  await t.step("an ambiguous prefix matches no single run", async () => {
    const other = await runOnce(app, ["raw"]);
    let prefix = 0;
    while (runId[prefix] === other[prefix]) prefix++;
    if (prefix === 0) {
      // Two random ids rarely share a first character; make them by hand then.
      await store.createRun({ ...(await store.getRun(runId))!, runId: `${runId[0]}-dup` });
      prefix = 1;
    }
    const ambiguous = runId.slice(0, prefix);
    const outcome = await cli(app, ["show", ambiguous]);
    assertExit(outcome, EXIT.usage);
    assert.match(outcome.stderr, /matches more than one run/);
  });

  await t.step("missing or extra ids", async () => {
    for (const args of [[], [runId, runId]]) {
      const outcome = await cli(app, ["show", ...args]);
      assertExit(outcome, EXIT.usage);
      assert.match(outcome.stderr, /Usage: platform show RUN_ID/);
    }
  });
});
