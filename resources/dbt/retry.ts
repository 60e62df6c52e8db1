/**
 * `deno task dbt retry`, as dbt's `retry`: reads the last invocation's
 * run_results.json and says what to run again — the nodes and tests that
 * errored, failed or were skipped, with that invocation's command, vars,
 * target and flags — and, for a microbatch model that partly succeeded
 * (`partial success`, `batch_results`), only the batches that failed.
 *
 * @module
 */

import { z } from "zod";
import { toError } from "../../core/errors.ts";
import { DbtError, DbtErrorCode } from "./errors.ts";
import type { RetryBatches } from "./execute/run.ts";
import { batchId } from "./execute/microbatch.ts";
import type { DbtProject } from "./nodes.ts";

/** Statuses dbt's retry runs again. */
const RETRY_STATUSES = new Set(["error", "fail", "skipped", "runtime error", "partial success"]);

/** Commands whose results retry can rerun (dbt's also reruns clone, docs generate, run-operation). */
const RETRY_COMMANDS = new Set(["build", "run", "test", "seed", "snapshot", "compile"]);

const Pair = z.tuple([z.string(), z.string()]);
const PreviousRunResults = z.looseObject({
  results: z.array(z.looseObject({
    unique_id: z.string(),
    status: z.string(),
    batch_results: z.looseObject({
      successful: z.array(Pair).optional(),
      failed: z.array(Pair).optional(),
    }).nullable().optional(),
  })),
  args: z.record(z.string(), z.unknown()).optional(),
});

/** What the previous invocation said to retry. */
export interface RetryPlan {
  /** The previous command (`build`, `run`...). */
  readonly command: string;
  /** Its run_results `args` (vars, target, full_refresh, event_time_start...). */
  readonly args: Readonly<Record<string, unknown>>;
  /** Unique ids to run again. */
  readonly ids: ReadonlySet<string>;
  /** Microbatch models' failed (and earlier successful) batches, by unique id. */
  readonly batches: ReadonlyMap<string, RetryBatches>;
}

/**
 * Reads `<targetDir>/run_results.json` and plans the retry (with `warnings`,
 * `--warn-error` given to retry, the tests that warned too). Throws
 * `dbt.invalid_state` when there is none or it cannot be read.
 */
export async function readRetryPlan(
  targetDir: string,
  options: { readonly warnings?: boolean } = {},
): Promise<RetryPlan> {
  const path = `${targetDir}/run_results.json`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    throw new DbtError(
      DbtErrorCode.invalidState,
      `no previous run to retry: ${path} does not exist. Run 'deno task dbt build' (or run, ` +
        "test, seed, snapshot) first; retry reruns what failed there",
      { file: path },
    );
  }
  let reason: string;
  let parsed: z.output<typeof PreviousRunResults> | undefined;
  try {
    const checked = PreviousRunResults.safeParse(JSON.parse(text));
    // A ZodError's message is its issues as JSON: its first line was '[' ("... read ([)").
    const issue = checked.error?.issues[0];
    reason = issue ? `${issue.path.join(".") || "the top level"}: ${issue.message}` : "";
    parsed = checked.data;
  } catch (error) {
    reason = toError(error).message.split("\n")[0] ?? "";
  }
  if (parsed === undefined) {
    throw new DbtError(
      DbtErrorCode.invalidState,
      `cannot retry: ${path} is not a run_results.json this runner can read (${reason}); run ` +
        "the command again instead",
      { file: path },
    );
  }
  const args = parsed.args ?? {};
  const command = typeof args.which === "string" ? args.which : "build";
  if (!RETRY_COMMANDS.has(command)) {
    throw new DbtError(
      DbtErrorCode.invalidState,
      `cannot retry '${command}': retry reruns build, run, test, seed, snapshot or compile`,
      { file: path },
    );
  }
  const ids = new Set<string>();
  const batches = new Map<string, RetryBatches>();
  for (const result of parsed.results) {
    // `dbt retry --warn-error` also reruns what warned (a test that would now fail).
    if (!RETRY_STATUSES.has(result.status) && !(options.warnings && result.status === "warn")) {
      continue;
    }
    ids.add(result.unique_id);
    const failed = result.batch_results?.failed ?? [];
    if (failed.length === 0) continue;
    batches.set(result.unique_id, {
      failed: failed.map((pair) => window(pair, path)),
      successful: (result.batch_results?.successful ?? []).map((pair) => window(pair, path)),
    });
  }
  return { command, args, ids, batches };
}

/** A `[start, end]` pair of run_results as a batch (its id in hourly form when not at midnight). */
function window([start, end]: readonly [string, string], file: string) {
  const from = Date.parse(start);
  const to = Date.parse(end);
  if (Number.isNaN(from) || Number.isNaN(to)) {
    throw new DbtError(
      DbtErrorCode.invalidState,
      `cannot retry: batch [${start}, ${end}] in run_results.json is not a pair of datetimes`,
      { file },
    );
  }
  return { id: batchId(from, from % 86_400_000 === 0 ? "day" : "hour"), start: from, end: to };
}

/** The ids of `plan` still in `project` (a node since deleted is not retried). */
export function retryIds(project: DbtProject, plan: RetryPlan): Set<string> {
  const tests = new Set([...project.tests, ...project.unitTests].map((t) => t.uniqueId));
  return new Set([...plan.ids].filter((id) => project.nodes.has(id) || tests.has(id)));
}
