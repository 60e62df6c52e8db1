/**
 * Run listing for the UI: filters (status, asset, sensor or schedule, time)
 * and keyset pages (`before` = the last row's `startedAt` and run id), so a
 * page costs the same at the end of a long history as at its start.
 *
 * @module
 */

import type { RunRecord, RunStatus } from "../core/run_store/types.ts";
import type { UiContext } from "./context.ts";

/** Filters of the run list. */
export interface RunFilter {
  /** Only runs with this status. */
  readonly status?: RunStatus;
  /** Only runs with a step of this asset. */
  readonly asset?: string;
  /** Only runs launched by this sensor or schedule. */
  readonly automation?: string;
  /** Only runs started at or after (ms). */
  readonly since?: number;
  /** Only runs started before (ms). */
  readonly until?: number;
}

/** A page of runs and the cursor of the next one. */
export interface RunPage {
  /** Runs, newest first. */
  readonly runs: readonly RunRecord[];
  /** Pass as `before` for the next page; absent on the last page. */
  readonly next?: string;
}

/** Runs per page. */
export const RUN_PAGE_SIZE = 50;
const STATUSES: readonly string[] = ["running", "success", "failed", "canceled"];

/**
 * Parses the list's query parameters; throws `RangeError` naming a bad one.
 */
export function parseRunFilter(query: Record<string, string | undefined>): RunFilter {
  const filter: { -readonly [K in keyof RunFilter]: RunFilter[K] } = {};
  if (query.status) {
    if (!STATUSES.includes(query.status)) {
      throw new RangeError(
        `status '${query.status}' is not one of ${STATUSES.join(", ")}`,
      );
    }
    filter.status = query.status as RunStatus;
  }
  if (query.asset) filter.asset = query.asset;
  if (query.automation) filter.automation = query.automation;
  for (const name of ["since", "until"] as const) {
    const value = query[name];
    if (!value) continue;
    const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isFinite(ms)) {
      throw new RangeError(`${name} '${value}' is not a date (YYYY-MM-DD or ISO time)`);
    }
    filter[name] = ms;
  }
  return filter;
}

/** Encodes the keyset cursor of a run. */
export function cursorOf(run: RunRecord): string {
  return `${run.startedAt}_${run.runId}`;
}

function parseCursor(cursor: string): { startedAt: number; runId: string } {
  const at = cursor.indexOf("_");
  const startedAt = Number(cursor.slice(0, at));
  if (at < 1 || !Number.isFinite(startedAt)) {
    throw new RangeError(`cursor '${cursor}' is not one this server gave`);
  }
  return { startedAt, runId: cursor.slice(at + 1) };
}

/** Whether `run` matches the tag-level parts of `filter`. */
export function matchesAutomation(run: RunRecord, automation: string): boolean {
  return run.tags.sensor === automation || run.tags.schedule === automation;
}

/** One page of runs matching `filter`, after `before`. */
export async function queryRuns(
  ctx: UiContext,
  filter: RunFilter,
  before?: string,
  limit = RUN_PAGE_SIZE,
): Promise<RunPage> {
  const after = before ? parseCursor(before) : undefined;
  // The run store lists newest first by limit only: read enough to fill a page.
  const scan = await ctx.store.listRuns({
    limit: 5000,
    ...(filter.status ? { status: filter.status } : {}),
  });
  const touching = filter.asset ? await runsWithAsset(ctx, filter.asset) : undefined;
  const runs: RunRecord[] = [];
  for (const run of scan) {
    if (after) {
      const older = run.startedAt < after.startedAt ||
        (run.startedAt === after.startedAt && run.runId < after.runId);
      if (!older) continue;
    }
    if (filter.since !== undefined && run.startedAt < filter.since) continue;
    if (filter.until !== undefined && run.startedAt >= filter.until) continue;
    if (filter.automation && !matchesAutomation(run, filter.automation)) continue;
    if (touching && !touching.has(run.runId)) continue;
    runs.push(run);
    if (runs.length > limit) break;
  }
  const page = runs.slice(0, limit);
  const last = page[page.length - 1];
  return runs.length > limit && last ? { runs: page, next: cursorOf(last) } : { runs: page };
}

async function runsWithAsset(ctx: UiContext, asset: string): Promise<Set<string>> {
  await ctx.index.refresh();
  const ids = new Set<string>();
  for (const step of ctx.index.asset(asset).latestByPartition.values()) ids.add(step.runId);
  for (const m of ctx.index.asset(asset).materializations) ids.add(m.runId);
  for (const id of ctx.index.runsOf(asset)) ids.add(id);
  return ids;
}
