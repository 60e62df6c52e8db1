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
 * **Drops are never stranded.** A load that ended without success (failed
 * on a platform fault: a full disk, a server gone; or canceled when its
 * daemon stopped) leaves its drops in the landing folder, already in the
 * cursor: as Dagster's run keys, a key never runs twice, so the sensor asks
 * for a new attempt under a key of its own, `<run key>:attempt-<n>` (the
 * same from every daemon, so one run), once the previous attempt ended: at
 * once after a shutdown cancel, else (a failure, or a load its own process
 * stopped because its heartbeat could not be recorded) after `retryDelayMs`
 * doubling per attempt up to `maxRetryDelayMs`, said in the log and the
 * tick's skip reason (Dagster leaves this to run retries; here
 * the sensor knows whether the drops are still waiting). Not retried: a
 * load canceled on a person's request, a lost run while the daemon decides
 * about relaunching it, a load that succeeded. A new drop asks for a load at
 * once, which takes the waiting drops along (the load reads the folder).
 *
 * @module
 */

import { z } from "zod";
import { SaidOnce } from "./_said_once.ts";
import { ResourceError } from "../core/errors.ts";
import { OWNER_LOST_TAG } from "../core/run_store/types.ts";
import { sensorRetryDelay } from "../core/sensor_retry.ts";
import {
  type SensorContext,
  type SensorDefinition,
  sensorFactory,
  type SensorRunRequests,
} from "../core/sensor.ts";
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
  /**
   * Wait after a failed load before its next attempt, in milliseconds;
   * doubled per attempt after the first retry.
   * @default {30000}
   */
  readonly retryDelayMs?: number;
  /**
   * Longest wait between two attempts, in milliseconds.
   * @default {3600000}
   */
  readonly maxRetryDelayMs?: number;
}

const Cursor = z.object({
  v: z.literal(1),
  /** Drop key -> etag of every drop asked for and still listed. */
  seen: z.record(z.string(), z.string()),
  /** The last load asked for: its first run key and the attempt asked for last. */
  request: z.object({ runKey: z.string(), attempt: z.number().int().min(1) }).optional(),
});
type Cursor = z.output<typeof Cursor>;

/** Run key of attempt `attempt` of the load first keyed `runKey`. */
function attemptKey(runKey: string, attempt: number): string {
  return attempt === 1 ? runKey : `${runKey}:attempt-${attempt}`;
}

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
  const retryDelayMs = options.retryDelayMs ?? 30_000;
  const maxRetryDelayMs = options.maxRetryDelayMs ?? 3_600_000;
  // Loads canceled on request already said why their drops wait, once per process.
  const toldCanceled = new SaidOnce();
  // Loads waiting out their backoff already said until when, once per process.
  const toldBackoff = new SaidOnce();
  return sensor({
    name,
    ...(options.intervalMs === undefined ? {} : { intervalMs: options.intervalMs }),
    description:
      `Activity CSV drops in ${ACTIVITY_PREFIX} of the landing bucket -> ${BRONZE_ACTIVITY_KEY}`,
    resources: ["lake", "config"],
    async evaluate(ctx) {
      const bucket = ctx.resources.config.LANDING_BUCKET;
      const cursor = parse(ctx.cursor, (message) => ctx.log.warn(message));
      const seen = cursor.seen;
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
      if (fresh.length === 0) {
        // Drops asked for and still waiting: the load may have ended without success.
        const retry = listed.size > 0 && cursor.request
          ? await retryRequest(ctx, cursor, cursor.request, listed.size)
          : undefined;
        if (retry === undefined || typeof retry === "string") {
          return { skipReason: retry ?? `no new drops in ${bucket}/${ACTIVITY_PREFIX}` };
        }
        return retry;
      }
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
        cursor: JSON.stringify(
          {
            v: 1,
            seen: Object.fromEntries(listed),
            request: { runKey, attempt: 1 },
          } satisfies Cursor,
        ),
      };
    },
  });

  /**
   * The next attempt of the last load, when it ended without success and
   * its wait is over; else why not (a skip reason), or `undefined` when it
   * is simply done.
   */
  async function retryRequest(
    ctx: SensorContext<Pick<AppResources, "lake" | "config">>,
    cursor: Cursor,
    request: { runKey: string; attempt: number },
    waiting: number,
  ): Promise<SensorRunRequests | string | undefined> {
    const key = attemptKey(request.runKey, request.attempt);
    const run = await ctx.latestRun(key);
    if (run === undefined) return `waiting for the load ${key} to be launched`;
    if (run.status === "running") return `waiting for the load in progress (run ${run.runId})`;
    if (run.status === "success") return undefined;
    if (run.tags[OWNER_LOST_TAG] === "pending") {
      return `waiting for the daemon's decision about lost run ${run.runId}`;
    }
    if (run.cancelRequestedAt !== null) {
      if (toldCanceled.first(run.runId)) {
        ctx.log.info(
          `load ${run.runId} of ${waiting} drop(s) was canceled on request ` +
            `(${run.cancelReason ?? "no reason given"}); not retried — drop a file again or ` +
            `materialize ${BRONZE_ACTIVITY_KEY} to load them`,
        );
      }
      return `load ${run.runId} was canceled on request`;
    }
    const attempt = request.attempt + 1;
    // The earlier attempts too: whether they died with their process decides the backoff.
    const runs = [];
    for (let earlier = 1; earlier < request.attempt; earlier++) {
      const ended = await ctx.latestRun(attemptKey(request.runKey, earlier));
      if (ended !== undefined) runs.push(ended);
    }
    runs.push(run);
    const delay = sensorRetryDelay(runs, { baseMs: retryDelayMs, maxMs: maxRetryDelayMs });
    const due = (run.finishedAt ?? run.startedAt) + delay;
    if (ctx.clock.now() < due) {
      const wait = `load ${run.runId} ended ${run.status}; attempt ${attempt} at ${
        new Date(due).toISOString()
      } (backoff ${Math.round(delay / 1000)} s)`;
      // Said once per run in the log; the tick's skip reason says it every time.
      if (toldBackoff.first(run.runId)) {
        ctx.log.info(`${wait}${run.errorSummary ? `: ${run.errorSummary}` : ""}`);
      }
      return wait;
    }
    ctx.log.info(
      `load ${run.runId} of ${waiting} drop(s) ended ${run.status}` +
        `${run.errorSummary ? ` (${run.errorSummary})` : ""}; requesting attempt ${attempt}`,
    );
    return {
      runRequests: [{
        runKey: attemptKey(request.runKey, attempt),
        selection: BRONZE_ACTIVITY_KEY,
        tags: { drops: String(waiting), drops_attempt: String(attempt), retry_of: run.runId },
      }],
      cursor: JSON.stringify({ ...cursor, request: { ...request, attempt } } satisfies Cursor),
    };
  }
}

function parse(text: string | undefined, warn: (message: string) => void): Cursor {
  if (text === undefined) return { v: 1, seen: {} };
  try {
    return Cursor.parse(JSON.parse(text));
  } catch {
    warn("unreadable cursor: every drop in the folder is looked at again");
    return { v: 1, seen: {} };
  }
}

async function digest(text: string): Promise<string> {
  const hash = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return [...new Uint8Array(hash).slice(0, 12)].map((b) => b.toString(16).padStart(2, "0")).join(
    "",
  );
}
