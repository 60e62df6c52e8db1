import type { RunRecord, StepRecord, StepStatus } from "../../../core/run_store/types.ts";
import { ganttChart } from "../../../ui/pages/runs.ts";
import { assert, assertMatch } from "../_assert.ts";

// A run store's rows are read as they are (resources/run_store/_rows.ts casts the status), so a
// database someone edited or damaged must not be able to put markup into the page.
Deno.test("runs page: the Gantt chart escapes a step status read from a damaged run store", () => {
  const status = `failed" onmouseover="alert(1)"><script>alert(2)</script>` as StepStatus;
  const run = { runId: "r1", startedAt: 1_000, finishedAt: 5_000 } as RunRecord;
  const step: StepRecord = {
    runId: "r1",
    assetKey: "marts/summary",
    partition: null,
    status,
    attempts: 1,
    startedAt: 1_000,
    finishedAt: 4_000,
    reason: null,
  };
  const svg = String(ganttChart(run, [step], 6_000));
  assert(!svg.includes("<script>"), svg);
  assert(!svg.includes('" onmouseover="'), svg);
  assertMatch(svg, /<rect class="gbar s-failed/);
});
