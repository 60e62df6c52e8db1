/**
 * The sensors and schedules the UI lists: the graph's own, plus the sensor
 * daemon's built-in `automation` sensor when an asset has an automation
 * condition or a freshness policy (the daemon adds it; the UI shows its
 * on/off state, ticks and records like any sensor's).
 *
 * @module
 */

import { AUTOMATION_SENSOR, needsAutomation } from "../core/automation/sensor.ts";
import type { ScheduleDefinition } from "../core/schedule.ts";
import type { SensorDefinition } from "../core/sensor.ts";
import type { UiContext } from "./context.ts";

/** A sensor or schedule of the graph. */
export type Automation = SensorDefinition | ScheduleDefinition;

/**
 * The daemon's built-in `automation` sensor, as the UI shows it: it exists
 * when an asset has an automation condition or a freshness policy. The UI
 * never evaluates it (the daemon does); it shows its state, ticks and records.
 */
export const AUTOMATION_ITEM: SensorDefinition = Object.freeze({
  kind: "sensor" as const,
  name: AUTOMATION_SENSOR,
  intervalMs: undefined,
  description:
    "Built in: evaluates the assets' automation conditions and freshness policies when what they depend on changes, and requests their runs.",
  resources: [],
  evaluate: () => ({ skipReason: "evaluated by the sensor daemon, not by the UI" }),
});

const withAutomation = new WeakMap<object, boolean>();

/** Every sensor (the built-in `automation` one too, when the graph needs it) and schedule. */
export function automations(ctx: UiContext): Automation[] {
  let needed = withAutomation.get(ctx.graph);
  if (needed === undefined) {
    needed = needsAutomation(ctx.graph) &&
      !ctx.graph.sensors.some((s) => s.name === AUTOMATION_SENSOR);
    withAutomation.set(ctx.graph, needed);
  }
  return [...ctx.graph.sensors, ...(needed ? [AUTOMATION_ITEM] : []), ...ctx.graph.schedules];
}

/** The sensor or schedule named `name`, or `undefined`. */
export function findAutomation(ctx: UiContext, name: string): Automation | undefined {
  return automations(ctx).find((a) => a.name === name);
}
