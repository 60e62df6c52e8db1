/**
 * Validation of a graph's sensors and schedules, run by `defineGraph` once
 * the graph is indexed: unique names (they share the run store's cursor
 * namespace) and schedule selections that resolve against the graph. The
 * resources sensors declare are checked with the assets' (`definitions.ts`).
 *
 * @module
 */

import { SelectionError } from "./errors.ts";
import type { Graph } from "./graph.ts";
import { resolveSelection } from "./selection.ts";

/** The problems with the sensors and schedules of `graph`, one sentence each. */
export function automationProblems(graph: Graph<unknown>): { code: string; message: string }[] {
  const problems: { code: string; message: string }[] = [];
  const seen = new Map<string, string>();
  for (const item of [...graph.sensors, ...graph.schedules]) {
    const previous = seen.get(item.name);
    if (previous) {
      problems.push({
        code: "graph.duplicate_sensor",
        message: `${item.kind} name '${item.name}' is also used by a ${previous}; ` +
          "sensors and schedules need distinct names (each keeps its own cursor)",
      });
    }
    seen.set(item.name, item.kind);
  }
  for (const schedule of graph.schedules) {
    try {
      resolveSelection(graph, schedule.selection);
    } catch (error) {
      if (!(error instanceof SelectionError)) throw error;
      problems.push({
        code: "graph.invalid_schedule",
        message: `schedule '${schedule.name}' selects '${schedule.selection}': ${error.message}`,
      });
    }
  }
  return problems;
}
