/**
 * `list`, `runs` and `show RUN_ID`: what the graph holds and what ran.
 *
 * @module
 */

import { assetStaleness, describeReason } from "../automation/staleness.ts";
import { systemClock } from "../clock.ts";
import type { Graph } from "../graph.ts";
import { describePartitions } from "../partitions.ts";
import type { RunRecord, RunStatus, StepRecord } from "../run_store/types.ts";
import { RUN_STATUSES } from "../run_store/status.ts";
import { parseCommandArgs, wholeNumberOption } from "./_args.ts";
import { type CliApp, EXIT, UsageError } from "./app.ts";
import type { CliIo } from "./io.ts";
import { openStore } from "./_store.ts";
import { eventToRecord } from "./json_lines.ts";
import { formatDuration, formatTime, table } from "./table.ts";

const JSON_FLAG = {
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** Usage of `list`. */
export const LIST_USAGE = `Usage: list [--json]

Every asset with its group, deps, partitions, checks, last materialization and
whether its data is fresh, stale (and why) or missing. Stale: its code version
changed, or an upstream holds newer data than it consumed; \`materialize --stale\`
runs exactly those.
`;

/** Usage of `runs`. */
export const RUNS_USAGE = `Usage: runs [--limit N] [--status STATUS] [--json]

Recent runs, newest first.

Options:
  --limit N         at most N runs (default: 20)
  --status STATUS   only runs that are running, success, failed or canceled
  --json            one JSON object per run
`;

/** Usage of `show`. */
export const SHOW_USAGE = `Usage: show RUN_ID [--json]

A run: its steps, failures and stack traces. A unique prefix of the id is enough.
`;

/** `list`: every asset with its group, deps, partitions and last materialization. */
export async function listCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const { values } = parseCommandArgs("list", { args: [...args], options: JSON_FLAG });
  if (values.help) return help(io, LIST_USAGE);
  const graph = await app.loadGraph();
  await using store = await openStore(app, io);
  const now = (app.clock ?? systemClock).now();
  const rows = [];
  for (const key of graph.order) {
    const asset = graph.assets.get(key);
    if (!asset) continue;
    const last = await store.lastMaterialization(key);
    const staleness = await assetStaleness(graph as Graph<unknown>, store, key);
    const [fresh] = asset.freshness
      ? await store.listAutomationRecords({ kind: "freshness", assetKey: key, limit: 1 })
      : [];
    rows.push({
      asset: key,
      group: asset.group,
      deps: [...asset.deps],
      partitions: asset.partitions ? describePartitions(asset.partitions) : null,
      checks: graph.checksFor(key).map((c) => c.name),
      last_materialization: last
        ? { run_id: last.runId, partition: last.partition, time: new Date(last.time).toISOString() }
        : null,
      status: staleness.status,
      stale_reasons: staleness.reasons.map((r) => describeReason(r, now)),
      automation: asset.automation?.describe() ?? null,
      freshness: asset.freshness
        ? fresh
          ? { status: String(fresh.data.status), description: String(fresh.data.description) }
          : { status: "not judged yet", description: "" }
        : null,
      description: asset.description,
    });
  }
  if (values.json) {
    for (const row of rows) io.out(JSON.stringify(row) + "\n");
    return EXIT.ok;
  }
  io.out(table(
    ["asset", "group", "deps", "partitions", "checks", "last materialization", "status"],
    rows.map((r) => [
      r.asset,
      r.group,
      r.deps.join(",") || "-",
      r.partitions ?? "-",
      String(r.checks.length),
      r.last_materialization
        ? `${formatTime(Date.parse(r.last_materialization.time))} ${
          r.last_materialization.run_id.slice(0, 8)
        }`
        : "never",
      r.status === "stale" ? `stale: ${r.stale_reasons.join("; ")}` : r.status,
    ]),
  ));
  return EXIT.ok;
}

/** `runs`: recent runs, newest first. */
export async function runsCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const { values } = parseCommandArgs("runs", {
    args: [...args],
    options: { ...JSON_FLAG, limit: { type: "string" }, status: { type: "string" } },
  });
  if (values.help) return help(io, RUNS_USAGE);
  const limit = values.limit === undefined ? 20 : wholeNumberOption("--limit", values.limit, 1);
  const status = values.status as RunStatus | undefined;
  if (status !== undefined && !RUN_STATUSES.includes(status)) {
    throw new UsageError(
      `--status must be one of ${RUN_STATUSES.join(", ")}, got '${values.status}'`,
    );
  }
  await using store = await openStore(app, io);
  const runs = await store.listRuns({ limit, ...(status ? { status } : {}) });
  if (values.json) {
    for (const run of runs) io.out(JSON.stringify(runToRecord(run)) + "\n");
    return EXIT.ok;
  }
  io.out(table(
    ["run", "status", "started", "duration", "selection", "errors"],
    runs.map((run) => [
      run.runId,
      run.status,
      formatTime(run.startedAt),
      run.finishedAt === null ? "-" : formatDuration(run.finishedAt - run.startedAt),
      run.selection || "*",
      run.errorSummary ?? "",
    ]),
  ));
  return EXIT.ok;
}

/** `show RUN_ID`: a run, its steps and its failures (id prefixes are accepted). */
export async function showCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
): Promise<number> {
  const { values, positionals } = parseCommandArgs("show", {
    args: [...args],
    allowPositionals: true,
    options: JSON_FLAG,
  });
  if (values.help) return help(io, SHOW_USAGE);
  const [id, extra] = positionals;
  if (id === undefined || extra !== undefined) {
    throw new UsageError(`Usage: ${app.name} show RUN_ID`);
  }
  await using store = await openStore(app, io);
  const run = await store.getRun(id);
  if (!run) {
    throw new UsageError(
      `No run matches '${id}' (or the prefix matches more than one run); '${app.name} runs' lists recent runs`,
    );
  }
  const steps = await store.listSteps(run.runId);
  const events = await store.listEvents(run.runId);
  if (values.json) {
    io.out(
      JSON.stringify({
        run: runToRecord(run),
        steps: steps.map(stepToRecord),
        events: events.map(eventToRecord).filter((e) => e !== undefined),
      }) + "\n",
    );
    return EXIT.ok;
  }
  io.out(`Run ${run.runId}  ${run.status}\n`);
  io.out(`  started ${formatTime(run.startedAt)}, finished ${formatTime(run.finishedAt)}\n`);
  io.out(
    `  selection ${run.selection || "*"}${
      run.partitions ? `, partitions ${run.partitions}` : ""
    }\n`,
  );
  if (run.errorSummary) io.out(`  ${run.errorSummary}\n`);
  io.out(
    "\n" + table(
      ["asset", "partition", "status", "attempts", "duration", "reason"],
      steps.map((s) => [
        s.assetKey,
        s.partition ?? "-",
        s.status,
        String(s.attempts),
        s.startedAt !== null && s.finishedAt !== null
          ? formatDuration(s.finishedAt - s.startedAt)
          : "-",
        s.reason ?? "",
      ]),
    ),
  );
  const checks = events.filter((e) => e.type === "check");
  if (checks.length > 0) {
    io.out(
      "\nchecks:\n" + table(
        ["asset", "partition", "check", "result", "severity", "detail"],
        checks.map((e) => [
          e.assetKey ?? "-",
          e.partition ?? "-",
          String(e.data.name ?? "?"),
          e.data.passed === true ? "passed" : "failed",
          String(e.data.severity ?? ""),
          checkDetail(e.data),
        ]),
        100,
      ),
    );
  }
  for (const event of events.filter((e) => e.type === "step_failed" || e.type === "step_retry")) {
    const where = event.partition === null
      ? event.assetKey
      : `${event.assetKey}[${event.partition}]`;
    io.out(
      `\n${event.type === "step_failed" ? "failed" : "retried"}: ${where}: ${
        String(event.data.error)
      }\n`,
    );
    if (event.type === "step_failed" && typeof event.data.stack === "string") {
      io.out(`${event.data.stack}\n`);
    }
  }
  return EXIT.ok;
}

/** A check result in one line: its description, else its figures. */
function checkDetail(data: Readonly<Record<string, unknown>>): string {
  if (typeof data.description === "string" && data.description) return data.description;
  const metadata = data.metadata;
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) return "";
  const figures = Object.entries(metadata as Record<string, unknown>)
    .filter(([, v]) => v !== null && typeof v !== "object");
  return figures.slice(0, 4).map(([k, v]) => `${k}=${v}`).join(" ");
}

function help(io: CliIo, text: string): number {
  io.out(text);
  return EXIT.ok;
}

/** A run as `--json` prints it: snake_case keys and ISO times, like the JSON lines of a run. */
function runToRecord(run: RunRecord) {
  return {
    run_id: run.runId,
    status: run.status,
    selection: run.selection,
    partitions: run.partitions,
    tags: run.tags,
    started_at: isoTime(run.startedAt),
    finished_at: isoTime(run.finishedAt),
    duration_ms: run.finishedAt === null ? null : run.finishedAt - run.startedAt,
    error_summary: run.errorSummary,
  };
}

/** A step as `show --json` prints it. */
function stepToRecord(step: StepRecord) {
  return {
    asset: step.assetKey,
    partition: step.partition,
    status: step.status,
    attempts: step.attempts,
    started_at: isoTime(step.startedAt),
    finished_at: isoTime(step.finishedAt),
    duration_ms: step.startedAt !== null && step.finishedAt !== null
      ? step.finishedAt - step.startedAt
      : null,
    reason: step.reason,
  };
}

function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
