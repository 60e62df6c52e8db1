/**
 * The relaunch policy for runs whose process died (reaped, tag
 * `owner_lost=pending`): whether to launch the run again, and as what. The
 * daemon applies it (`daemon.ts`), launching through its run-key and launch
 * claims so that two daemons never both relaunch a run.
 *
 * @module
 */

import type { Graph } from "./graph.ts";
import { OWNER_LOST_TAG, type RunRecord, type StepRecord } from "./run_store/types.ts";
import type { RunRequest } from "./sensor.ts";

/** What to do with a lost run. */
export type RelaunchPlan =
  | {
    readonly relaunch: true;
    /** The sensor or schedule that launched it. */
    readonly kind: "sensor" | "schedule";
    readonly name: string;
    /** The request of the new attempt: same run key, tags linking it to the lost run. */
    readonly request: RunRequest;
    /** The key claimed for this attempt, `<run key>#attempt-<n>`: one launch per attempt. */
    readonly claimKey: string;
    /** Its attempt number (2 for the first relaunch). */
    readonly attempt: number;
  }
  | {
    readonly relaunch: false; /** Why not, recorded on the lost run. */
    readonly decision: string;
  };

/**
 * Decides about `run`, lost with `steps`, in `graph`, relaunching at most
 * `maxRelaunches` times: never a run launched by hand, of a sensor or
 * schedule no longer in the graph, or whose every step had succeeded.
 *
 * @example
 * ```ts
 * import { planRelaunch } from "./_relaunch.ts";
 * import { defineGraph } from "./definitions.ts";
 * const run = {
 *   runId: "r1", status: "failed" as const, selection: "", partitions: null, tags: {},
 *   startedAt: 0, finishedAt: 1, errorSummary: "owner process died", owner: null,
 *   heartbeatAt: null, heartbeatTimeoutMs: null, cancelRequestedAt: null, cancelReason: null,
 * };
 * planRelaunch(run, [], defineGraph({ assets: [] }), 1);
 * // { relaunch: false, decision: "not relaunched: not launched by a sensor or schedule" }
 * ```
 */
export function planRelaunch(
  run: RunRecord,
  steps: readonly StepRecord[],
  graph: Graph<unknown>,
  maxRelaunches: number,
): RelaunchPlan {
  const no = (decision: string) => ({ relaunch: false as const, decision });
  const kind = run.tags.sensor !== undefined
    ? "sensor"
    : run.tags.schedule !== undefined
    ? "schedule"
    : undefined;
  const name = kind === undefined ? undefined : run.tags[kind];
  const runKey = run.tags.run_key;
  if (kind === undefined || name === undefined || runKey === undefined) {
    return no("not relaunched: not launched by a sensor or schedule");
  }
  const known = kind === "sensor"
    ? graph.sensors.some((s) => s.name === name)
    : graph.schedules.some((s) => s.name === name);
  if (!known) return no(`not relaunched: ${kind} '${name}' is not in the graph`);
  if (steps.length > 0 && steps.every((s) => s.status === "success")) {
    return no("not relaunched: every step had succeeded");
  }
  const attempt = Number(run.tags.attempt ?? "1");
  if (!Number.isSafeInteger(attempt) || attempt > maxRelaunches) {
    return no(
      `not relaunched: it was attempt ${run.tags.attempt ?? "1"}, and lost runs are ` +
        `relaunched at most ${maxRelaunches} time(s)`,
    );
  }
  const next = attempt + 1;
  const { [OWNER_LOST_TAG]: _lost, ...tags } = run.tags;
  return {
    relaunch: true,
    kind,
    name,
    attempt: next,
    claimKey: `${runKey}#attempt-${next}`,
    request: {
      runKey,
      selection: run.selection,
      ...(run.partitions ? { partitions: run.partitions.split(",") } : {}),
      tags: {
        ...tags,
        attempt: String(next),
        relaunch_of: run.runId,
        root_run_id: run.tags.root_run_id ?? run.runId,
      },
    },
  };
}
