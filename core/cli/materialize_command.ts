/**
 * `materialize [SELECTION]`: runs assets now, with live progress on a terminal
 * and JSON lines otherwise.
 *
 * @module
 */

import { materialize, type RunResult } from "../executor.ts";
import type { PartitionSelection } from "../plan.ts";
import type { RunEvent, RunStore } from "../run_store/types.ts";
import { staleRuns } from "../automation/staleness.ts";
import type { Graph } from "../graph.ts";
import { resolveSelection } from "../selection.ts";
import { quote } from "../printable.ts";
import { parseCommandArgs, wholeNumberOption } from "./_args.ts";
import { type CliApp, EXIT, UsageError } from "./app.ts";
import type { CliIo } from "./io.ts";
import { openStore } from "./_store.ts";
import { eventToJsonLine } from "./json_lines.ts";
import { ProgressView, summaryTable } from "./progress.ts";
import { formatDuration } from "./table.ts";
import { queueMaterialize } from "../worker/commands.ts";

/** Usage of `materialize`. */
export const MATERIALIZE_USAGE = `Usage: materialize [SELECTION] [options]

Runs the selected assets now (every asset when no selection is given).

Selection (comma for union):
  key            one asset             group:NAME   assets of a group
  +key           with its upstream     tag:NAME     assets with a tag
  key+           with its downstream   marts/*      keys matching a glob
  +key+          both

Options:
  --exclude SELECTION   leave these assets out
  --partition KEY       run this partition (repeat, or comma-separated)
  --from KEY --to KEY   run a range of partitions (a backfill)
  --concurrency N       steps at once (default: number of cores)
  --tag KEY=VALUE       tag the run (repeatable)
  --stale               only the stale asset partitions among the selection (code
                        version changed, or an upstream holds newer data than they
                        consumed: see \`list\`), one run per connected set
  --queue               queue the run for the workers instead of running it here
                        (needs RUNS_URL=postgres://...); prints its id
  --priority N          with --queue: higher runs first (default: 0)
  --max-retries N       with --queue: run retries on failure (default: QUEUE_MAX_RETRIES)
  --json                JSON lines on stdout, even on a terminal
  -h, --help            show this help

Exit status: 0 success, 1 a step or check failed, 2 usage error, 130 canceled
(Ctrl-C), 143 canceled (SIGTERM).
`;

/** The `materialize` command line, parsed and checked. */
export interface MaterializeArgs {
  /** Positional selections joined by commas; empty means every asset. */
  selection: string;
  /** `--exclude`, same syntax; empty when absent. */
  exclude: string;
  /** `--partition` keys, or the `--from`/`--to` range. */
  partitions: PartitionSelection;
  /** `--concurrency`, or `undefined` for the executor's default. */
  concurrency: number | undefined;
  /** `--tag KEY=VALUE` pairs. */
  tags: Record<string, string>;
  /** `--json`: JSON lines even on a terminal. */
  json: boolean;
  /** `--stale`: only the stale partitions of the selection. */
  stale: boolean;
  /** `--queue`: queue the run for the workers. */
  queue: boolean;
  /** `--priority` as given (with `--queue`). */
  priority: string | undefined;
  /** `--max-retries` as given (with `--queue`). */
  maxRetries: string | undefined;
}

/** Parses `materialize` arguments; throws {@linkcode UsageError}. */
export function parseMaterializeArgs(args: readonly string[]): MaterializeArgs | "help" {
  const { values, positionals } = parse(args);
  if (values.help) return "help";
  // An empty value is what an unset shell variable gives (`--partition "$DAY"`): taken as
  // absent, it ran the latest partition, or (a selection) every asset.
  for (const given of values.partition ?? []) {
    if (given.split(",").some((key) => key.trim() === "")) {
      throw new UsageError(
        `--partition ${quote(given)} names no partition key${
          given.trim() === "" ? "" : " between its commas"
        }; give KEY or KEY,KEY (or drop --partition)`,
      );
    }
  }
  for (const flag of ["from", "to"] as const) {
    if (values[flag] !== undefined && values[flag].trim() === "") {
      throw new UsageError(`--${flag} needs a partition key, got ${quote(values[flag])}`);
    }
  }
  if (positionals.length > 0 && positionals.join(",").split(",").every((p) => p.trim() === "")) {
    throw new UsageError(
      `The selection ${quote(positionals.join(","))} names no asset; give asset keys, or no ` +
        "selection at all for every asset",
    );
  }
  if (values.exclude !== undefined && values.exclude.trim() === "") {
    throw new UsageError(`--exclude ${quote(values.exclude)} names no asset; give asset keys`);
  }
  const keys = (values.partition ?? []).flatMap((p) => p.split(",")).map((p) => p.trim());
  if (keys.length > 0 && (values.from !== undefined || values.to !== undefined)) {
    throw new UsageError("Use either --partition or --from/--to, not both");
  }
  if (values.stale && (keys.length > 0 || values.from !== undefined || values.to !== undefined)) {
    throw new UsageError("--stale picks the partitions itself: drop --partition/--from/--to");
  }
  if (values.queue && values.stale) {
    throw new UsageError(
      "--stale runs here (one run per connected set); queue stale partitions with backfill",
    );
  }
  if (values.queue && values.concurrency !== undefined) {
    throw new UsageError(
      "--concurrency does not apply to a queued run: the worker's --step-concurrency decides",
    );
  }
  if (!values.queue && (values.priority !== undefined || values["max-retries"] !== undefined)) {
    throw new UsageError("--priority and --max-retries apply to queued runs: add --queue");
  }
  let concurrency: number | undefined;
  if (values.concurrency !== undefined) {
    concurrency = wholeNumberOption("--concurrency", values.concurrency, 1);
  }
  const tags: Record<string, string> = {};
  for (const tag of values.tag ?? []) {
    const at = tag.indexOf("=");
    if (at < 1) throw new UsageError(`--tag must be KEY=VALUE, got '${tag}'`);
    tags[tag.slice(0, at)] = tag.slice(at + 1);
  }
  return {
    selection: positionals.join(","),
    exclude: values.exclude ?? "",
    partitions: {
      ...(keys.length > 0 ? { keys } : {}),
      ...(values.from !== undefined ? { from: values.from } : {}),
      ...(values.to !== undefined ? { to: values.to } : {}),
    },
    concurrency,
    tags,
    json: values.json ?? false,
    stale: values.stale ?? false,
    queue: values.queue ?? false,
    priority: values.priority,
    maxRetries: values["max-retries"],
  };
}

function parse(args: readonly string[]) {
  return parseCommandArgs("materialize", {
    args: [...args],
    allowPositionals: true,
    options: {
      exclude: { type: "string" },
      partition: { type: "string", multiple: true },
      from: { type: "string" },
      to: { type: "string" },
      concurrency: { type: "string" },
      tag: { type: "string", multiple: true },
      json: { type: "boolean" },
      stale: { type: "boolean" },
      queue: { type: "boolean" },
      priority: { type: "string" },
      "max-retries": { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/** Runs `materialize`; returns the exit code. */
export async function materializeCommand<R>(
  app: CliApp<R>,
  args: readonly string[],
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  const parsed = parseMaterializeArgs(args);
  if (parsed === "help") {
    io.out(MATERIALIZE_USAGE);
    return EXIT.ok;
  }
  if (parsed.queue) return await queueMaterialize(app, parsed, io);
  const graph = await app.loadGraph();
  await using store = await openStore(app, io);
  if (parsed.stale) return await materializeStale(app, graph, store, parsed, io, signal);
  return await runOnce(app, graph, store, parsed, io, signal);
}

/** `--stale`: plans the stale partitions and runs them, one run per connected set. */
async function materializeStale<R>(
  app: CliApp<R>,
  graph: Graph<R>,
  store: RunStore,
  parsed: MaterializeArgs,
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  const keys = resolveSelection(graph as Graph<unknown>, parsed.selection, parsed.exclude);
  const plan = await staleRuns(graph as Graph<unknown>, store, keys);
  if (plan.runs.length === 0) {
    io.err(`Nothing is stale among the ${keys.length} selected asset(s)\n`);
    return EXIT.ok;
  }
  const names = [...plan.stale].map(([key, parts]) =>
    parts[0] === null ? key : `${key}[${parts.join(",")}]`
  );
  io.err(`Stale: ${names.join(", ")}; ${plan.runs.length} run(s)\n`);
  let code: number = EXIT.ok;
  for (const run of plan.runs) {
    const result = await runOnce(
      app,
      graph,
      store,
      {
        ...parsed,
        selection: run.assetKeys.join(","),
        exclude: "",
        partitions: run.partitions ? { keys: run.partitions } : {},
        tags: { ...parsed.tags, stale: "true" },
      },
      io,
      signal,
    );
    if (result === EXIT.canceled) return result;
    if (result !== EXIT.ok) code = result;
  }
  return code;
}

async function runOnce<R>(
  app: CliApp<R>,
  graph: Graph<R>,
  store: RunStore,
  parsed: MaterializeArgs,
  io: CliIo,
  signal?: AbortSignal,
): Promise<number> {
  const live = io.isTerminal && !parsed.json;
  const view = live ? new ProgressView(io, app.clock) : undefined;
  const onEvent = live ? (event: RunEvent) => view?.onEvent(event) : (event: RunEvent) => {
    const line = eventToJsonLine(event);
    if (line) io.out(line);
  };
  view?.start();
  let result: RunResult;
  try {
    result = await materialize(graph, {
      selection: parsed.selection,
      exclude: parsed.exclude,
      partitions: parsed.partitions,
      runStore: store,
      tags: parsed.tags,
      ...(app.clock ? { clock: app.clock } : {}),
      ...(app.heartbeatIntervalMs ? { heartbeatIntervalMs: app.heartbeatIntervalMs() } : {}),
      onEvent,
      ...(parsed.concurrency ? { concurrency: parsed.concurrency } : {}),
      ...(signal ? { signal } : {}),
    });
  } finally {
    view?.stop();
  }
  if (live) {
    io.out(
      summaryTable(result) +
        `\nRun ${result.runId} ${result.status} in ${formatDuration(result.durationMs)}\n`,
    );
  }
  const notes = app.runNotes?.(result) ?? [];
  if (notes.length > 0) (live ? io.out : io.err)(notes.join("\n") + "\n");
  if (result.status !== "success") io.err(failureReport(app, result));
  return result.status === "success"
    ? EXIT.ok
    : result.status === "canceled"
    ? EXIT.canceled
    : EXIT.failed;
}

/** The short report printed on stderr when a run did not succeed. */
export function failureReport(app: CliApp<unknown>, result: RunResult): string {
  const summary = result.errorSummary ?? "no step failed";
  // The summary of a canceled run starts "canceled: ..."; said once is enough.
  const said = summary.startsWith(`${result.status}: `)
    ? summary.slice(result.status.length + 2)
    : summary;
  const lines = [`Run ${result.runId} ${result.status}: ${said}`];
  for (const step of result.steps) {
    const id = step.partition === null ? step.assetKey : `${step.assetKey}[${step.partition}]`;
    if (step.status === "failed" && step.error) {
      lines.push(`  ✗ ${id}: ${step.error.name}: ${step.error.message}`);
      const cause = step.error.cause instanceof Error ? step.error.cause.message : undefined;
      if (cause) lines.push(`      caused by: ${cause}`);
    }
    for (const check of step.checks) {
      if (!check.passed && check.severity === "error") {
        lines.push(`  ✗ check '${check.name}' on ${id}: ${check.description}`);
      }
    }
  }
  lines.push(`Details: ${app.name} show ${result.runId}`);
  return lines.join("\n") + "\n";
}
