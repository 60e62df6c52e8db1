/**
 * The activity drop sensor: watches `landing-zone/activity/` and asks for a
 * `bronze_activity` run when a drop (`daily_activity*.csv`, `sleep*.csv`)
 * appears or changes. `bronze_activity` loads every pending file of the
 * folder, so one run per tick covers whatever arrived; while a load it asked
 * for is still running, new files wait for the next tick (two loads of the
 * same file at once would only repeat work). What runs downstream of the
 * load (the dbt marts) is the automation's business: they are eager.
 *
 * The cursor keeps the etag of every drop already asked for, so a restart
 * or a second daemon does not load the same content twice (the run key is a
 * hash of the new drops and their etags, claimed in the run store).
 *
 * @module
 */

import { z } from "zod";
import { ResourceError } from "../core/errors.ts";
import { type SensorDefinition, sensorFactory } from "../core/sensor.ts";
import type { AppResources } from "../resources/app.ts";
import { ACTIVITY_PREFIX, BRONZE_ACTIVITY_KEY } from "../assets/activity/bronze.ts";
import { dropKindOf } from "../assets/activity/_columns.ts";

/** Name of the sensor (and of its cursor). */
export const ACTIVITY_DROPS_SENSOR = "activity_drops";

/** Options of {@linkcode activitySensor}. */
export interface ActivitySensorOptions {
  /**
   * Sensor name.
   * @default {"activity_drops"}
   */
  readonly name?: string;
  /**
   * Evaluation interval (milliseconds).
   * @default {the daemon's}
   */
  readonly intervalMs?: number;
}

const Cursor = z.object({ v: z.literal(1), seen: z.record(z.string(), z.string()) });

const sensor = sensorFactory<AppResources>();

/**
 * The activity drop sensor.
 *
 * @example
 * ```ts
 * import { activitySensor } from "./activity_sensor.ts";
 * const drops = activitySensor({ intervalMs: 500 });
 * ```
 */
export function activitySensor(options: ActivitySensorOptions = {}): SensorDefinition {
  const name = options.name ?? ACTIVITY_DROPS_SENSOR;
  return sensor({
    name,
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    description:
      `Activity CSV drops in ${ACTIVITY_PREFIX} of the landing bucket -> ${BRONZE_ACTIVITY_KEY}`,
    resources: ["lake", "config"],
    async evaluate(ctx) {
      const bucket = ctx.resources.config.LANDING_BUCKET;
      const seen = parse(ctx.cursor, (message) => ctx.log.warn(message));
      const listed = new Map<string, string>();
      try {
        for await (
          const object of ctx.resources.lake.listAll(bucket, {
            prefix: ACTIVITY_PREFIX,
            delimiter: "/",
          })
        ) {
          if (dropKindOf(object.key.slice(ACTIVITY_PREFIX.length))) {
            listed.set(object.key, object.etag);
          }
        }
      } catch (error) {
        if (error instanceof ResourceError && error.code === "object_store.bucket_not_found") {
          return { skipReason: `bucket '${bucket}' does not exist yet` };
        }
        throw error;
      }
      const fresh = [...listed].filter(([key, etag]) => seen[key] !== etag).sort();
      if (fresh.length === 0) return { skipReason: `no new drops in ${bucket}/${ACTIVITY_PREFIX}` };
      const running = await ctx.runStore?.listRuns({
        status: "running",
        tags: { sensor: name },
        limit: 1,
      });
      if (running && running.length > 0) {
        return { skipReason: `waiting for the load in progress (run ${running[0]?.runId})` };
      }
      const runKey = `drops:${await digest(fresh.map(([k, e]) => `${k}\0${e}`).join("\n"))}`;
      return {
        runRequests: [{
          runKey,
          selection: BRONZE_ACTIVITY_KEY,
          tags: { drops: String(fresh.length), first_drop: fresh[0]?.[0] ?? "" },
        }],
        // Keys no longer listed (loaded and moved, quarantined) leave the cursor.
        cursor: JSON.stringify({ v: 1, seen: Object.fromEntries(listed) }),
      };
    },
  });
}

function parse(text: string | undefined, warn: (message: string) => void): Record<string, string> {
  if (text === undefined) return {};
  try {
    return Cursor.parse(JSON.parse(text)).seen;
  } catch {
    warn("unreadable cursor: every drop in the folder is looked at again");
    return {};
  }
}

async function digest(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(hash).slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}
