import assert from "node:assert/strict";
import { assetFactory, defineAsset } from "../../../core/asset.ts";
import { memoryIo, runCli } from "../../../core/cli/mod.ts";
import { deferred } from "../_helpers.ts";
import { assertExit, cli, EXIT, testApp, waitFor } from "./_app.ts";

const asset = assetFactory<Record<string, unknown>>();
/** `text` as a literal pattern (terminal escapes included). */
const escape = (text: string) => text.replace(/[[\]\\^$.|?*+()]/g, "\\$&");

/** Erases the frame below the cursor. */
const CLEAR = "\x1b[J";

/**
 * gate (held until released) -> after_gate; bad (fails) -> down; fine.
 * While gate is held the view must show one of each status.
 */
function mixed() {
  const gate = deferred();
  const { app, store } = testApp([
    defineAsset({ key: "gate", materialize: () => gate.promise }),
    defineAsset({ key: "after_gate", deps: ["gate"], materialize: () => {} }),
    defineAsset({
      key: "bad",
      materialize: () => {
        throw new Error("disk full");
      },
    }),
    defineAsset({ key: "down", deps: ["bad"], materialize: () => {} }),
    defineAsset({ key: "fine", materialize: () => ({ rows: 1 }) }),
  ]);
  return { app, store, gate };
}

Deno.test("terminal: a live view with counts by status and elapsed times", async () => {
  const { app, store, gate } = mixed();
  const io = memoryIo({ isTerminal: true });
  const exit = runCli(["materialize", "--concurrency", "4"], app, io);
  const frame = await waitFor(
    () => io.stdout,
    /(\d+)\/5 · (\d+) pending · (\d+) running · (\d+) done · (\d+) failed · (\d+) skipped · (\d+ms|\d+\.\ds)\n {2}▸ gate {2}(\d+ms|\d+\.\ds)\n/,
  );
  assert.deepStrictEqual(frame.slice(1, 7), ["3", "1", "1", "1", "1", "1"]);
  // The frame is redrawn in place: erased (cursor up, clear) before the next one.
  await waitFor(() => io.stdout, new RegExp(escape("\x1b[2A\x1b[J")));
  gate.resolve();
  assertExit({ code: await exit, stdout: io.stdout, stderr: io.stderr }, EXIT.failed);

  const [run] = await store.listRuns();
  assert.ok(run);
  // After the last escape sequence: the summary table, problems first, and one closing line.
  const summary = io.stdout.slice(io.stdout.lastIndexOf(CLEAR) + CLEAR.length);
  const rows = summary.trimEnd().split("\n");
  assert.match(rows[0] ?? "", /^asset\s+partition\s+status\s+attempts\s+duration\s+note$/);
  assert.deepStrictEqual(
    rows.slice(2, 7).map((row) => row.split(/\s+/).slice(0, 4).join(" ")),
    [
      "bad - failed 1",
      "down - skipped 0",
      "gate - success 1",
      "after_gate - success 1",
      "fine - success 1",
    ],
  );
  assert.match(rows[2] ?? "", /disk full$/);
  assert.match(rows[3] ?? "", /upstream 'bad' failed$/);
  assert.match(rows.at(-1) ?? "", new RegExp(`^Run ${run.runId} failed in (\\d+ms|\\d+\\.\\ds)$`));
  assert.match(io.stderr, /✗ bad: Error: disk full/);
});

Deno.test("terminal: a fast successful run prints only the summary", async () => {
  const { app } = testApp([defineAsset({ key: "quick", materialize: () => ({ rows: 1 }) })]);
  const outcome = await cli(app, ["materialize"], { isTerminal: true });
  assertExit(outcome, EXIT.ok);
  assert.equal(outcome.stderr, "");
  assert.doesNotMatch(outcome.stdout, /^\{/m, "no JSON lines on a terminal");
  assert.match(outcome.stdout, /quick\s+-\s+success\s+1\s+\d+ms/);
  assert.match(outcome.stdout, /Run \S+ success in \d+ms\n$/);
});

Deno.test("terminal: warnings and errors logged by assets are printed above the view", async () => {
  const { app } = testApp([
    asset({
      key: "noisy",
      materialize: (ctx) => {
        ctx.log.info("routine detail");
        ctx.log.warn("3 rows dropped");
        ctx.log.error("sensor offline");
      },
    }),
  ]);
  const outcome = await cli(app, ["materialize"], { isTerminal: true });
  assertExit(outcome, EXIT.ok);
  assert.match(outcome.stdout, /warn {2}noisy: 3 rows dropped\n/);
  assert.match(outcome.stdout, /error {2}noisy: sensor offline\n/);
  assert.doesNotMatch(outcome.stdout, /routine detail/, "info lines stay in the run store");
});

Deno.test("terminal: checks show in the summary note", async () => {
  const { app } = testApp([
    asset({
      key: "checked",
      materialize: () => ({ rows: 5 }),
      checks: [
        { name: "rows_positive", run: () => true },
        { name: "few_nulls", severity: "warn", run: () => false },
      ],
    }),
  ]);
  const outcome = await cli(app, ["materialize"], { isTerminal: true });
  assertExit(outcome, EXIT.ok);
  assert.match(outcome.stdout, /checked .*check few_nulls warned/);
});

Deno.test("canceled: exit 130, running assets see the signal, the run is recorded as canceled", async (t) => {
  for (const isTerminal of [false, true]) {
    await t.step(isTerminal ? "on a terminal" : "as JSON lines", async () => {
      const started = deferred();
      let sawAbort = false;
      let cleanedUp = false;
      const { app, store } = testApp([
        asset({
          key: "slow",
          materialize: (ctx) =>
            new Promise<void>((_, reject) => {
              ctx.signal.addEventListener("abort", () => {
                sawAbort = true;
                reject(new Error("stopped by signal"));
              });
              started.resolve();
            }).finally(() => {
              cleanedUp = true;
            }),
        }),
        defineAsset({ key: "after", deps: ["slow"], materialize: () => {} }),
      ]);
      const controller = new AbortController();
      const io = memoryIo({ isTerminal });
      const exit = runCli(["materialize"], app, io, { signal: controller.signal });
      await started.promise;
      controller.abort();
      const code = await exit;
      assertExit({ code, stdout: io.stdout, stderr: io.stderr }, EXIT.canceled);
      assert.ok(sawAbort && cleanedUp);
      const [run] = await store.listRuns();
      assert.ok(run);
      assert.equal(run.status, "canceled");
      assert.ok(run.finishedAt !== null);
      const steps = await store.listSteps(run.runId);
      assert.deepStrictEqual(steps.map((s) => [s.assetKey, s.status]), [
        ["slow", "canceled"],
        ["after", "canceled"],
      ]);
      assert.match(io.stderr, new RegExp(`^Run ${run.runId} canceled: 2 of 2 steps canceled\n`));
      if (isTerminal) {
        assert.match(io.stdout, /slow\s+-\s+canceled/);
        assert.match(io.stdout, new RegExp(`Run ${run.runId} canceled in`));
      } else {
        assert.match(io.stdout, /"step":"run","status":"canceled"/);
      }
    });
  }
});

Deno.test("canceled before it starts: nothing runs, exit 130", async () => {
  const ran: string[] = [];
  const { app, store } = testApp([
    defineAsset({ key: "a", materialize: () => void ran.push("a") }),
  ]);
  const controller = new AbortController();
  controller.abort();
  const outcome = await cli(app, ["materialize"], { signal: controller.signal });
  assertExit(outcome, EXIT.canceled);
  assert.deepStrictEqual(ran, []);
  assert.equal((await store.listRuns())[0]?.status, "canceled");
});
