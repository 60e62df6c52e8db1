/**
 * One asset's history over every run, from the run store's asset events
 * (`RunStore.listAssetEvents`): its materializations with their step's
 * duration, page by page, and its check evaluations. Unlike the run index
 * (recent runs only), it reaches back to the first run.
 *
 * @module
 */

import { toMaterialization } from "../core/run_store/materialization.ts";
import type { UiContext } from "./context.ts";
import { type CheckEvaluation, checkOf, type MaterializationEntry } from "./run_index.ts";

/** A page of materializations, newest first, and where the next (older) page starts. */
export interface MaterializationPage {
  /** Materializations with their step's duration, newest first. */
  readonly materializations: readonly MaterializationEntry[];
  /** Pass as `before` for the next page; absent on the last. */
  readonly next?: number;
}

/**
 * Up to `limit` materializations of `assetKey` older than event `before`.
 * Each gets its duration from its step's `step_success` event, which the
 * executor appends after it (a pair split by a page boundary shows no
 * duration).
 */
export async function materializationPage(
  ctx: UiContext,
  assetKey: string,
  options: { before?: number | undefined; limit: number },
): Promise<MaterializationPage> {
  const found: MaterializationEntry[] = [];
  const durations = new Map<string, number>();
  let beforeId = options.before;
  let more = false;
  const chunk = Math.min(2 * options.limit + 10, 2000);
  for (;;) {
    const events = await ctx.store.listAssetEvents(assetKey, {
      types: ["materialization", "step_success"],
      limit: chunk,
      ...(beforeId !== undefined ? { beforeId } : {}),
    });
    for (const event of events) {
      const step = `${event.runId}\0${event.partition ?? ""}`;
      if (event.type === "step_success") {
        if (typeof event.data.duration_ms === "number") {
          durations.set(step, event.data.duration_ms);
        }
        continue;
      }
      if (found.length === options.limit) {
        more = true;
        break;
      }
      found.push({
        ...toMaterialization(event),
        durationMs: durations.get(step) ?? null,
        eventId: event.id,
      });
    }
    const last = events.at(-1);
    if (more || events.length < chunk || !last) break;
    beforeId = last.id;
  }
  const last = found.at(-1);
  return more && last
    ? { materializations: found, next: last.eventId }
    : { materializations: found };
}

/** The latest `limit` check evaluations of `assetKey`, newest first. */
export async function checkHistory(
  ctx: UiContext,
  assetKey: string,
  limit: number,
): Promise<CheckEvaluation[]> {
  const events = await ctx.store.listAssetEvents(assetKey, { types: ["check"], limit });
  return events.map(checkOf);
}
