/**
 * Validation of a graph's sensors and schedules, run by `defineGraph`: unique
 * names (they share the run store's cursor namespace), resources the graph
 * gives, and schedule selections that resolve against the graph.
 *
 * @module
 */

import type { ScheduleDefinition } from "./schedule.ts";
import type { SensorDefinition } from "./sensor.ts";
import { resolveSelection } from "./selection.ts";
import { SelectionError } from "./errors.ts";
import type { Graph } from "./definitions.ts";

/** The problems with `sensors` and `schedules` in `graph`, one sentence each. */
export function automationProblems(
  graph: Graph<unknown>,
  sensors: readonly SensorDefinition[],
  schedules: readonly ScheduleDefinition[],
): { code: string; message: string }[] {
  const problems: { code: string; message: string }[] = [];
  const seen = new Map<string, string>();
  for (const item of [...sensors, ...schedules]) {
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
  const provided = Object.keys(graph.resources as Record<string, unknown>);
  for (const sensor of sensors) {
    for (const key of sensor.resources) {
      if (!provided.includes(key)) {
        problems.push({
          code: "graph.undeclared_resource",
          message: `sensor '${sensor.name}' uses resource '${key}', but the graph gives ${
            provided.length ? provided.map((k) => `'${k}'`).join(", ") : "none"
          }`,
        });
      }
    }
  }
  for (const schedule of schedules) {
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
