/**
 * The landing sensor of the automation tests: one `bronze` run per new drop
 * pushed into `drops` (run key: the drop's name), as the shipped activity
 * sensor asks for a load per landed file.
 *
 * @module
 */

import { defineSensor, type SensorDefinition } from "../../core/sensor.ts";

/** A sensor named `drops` asking for a `bronze` run per drop added to `drops` since its cursor. */
export function dropsSensor(drops: readonly string[]): SensorDefinition {
  return defineSensor({
    name: "drops",
    evaluate(ctx) {
      const fresh = drops.slice(Number(ctx.cursor ?? 0));
      return {
        runRequests: fresh.map((drop) => ({ runKey: drop, selection: "bronze" })),
        cursor: String(drops.length),
      };
    },
  });
}
