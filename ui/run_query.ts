/**
 * Run listing for the UI: filters (status, asset, sensor or schedule, time)
 * and keyset pages (`before` = the last row's `startedAt` and run id), each
 * one query of the run store's indexed list, so a page costs the same at the
 * end of a long history as at its start.
 *
 * @module
 */

import type { RunRecord, RunStatus } from "../core/run_store/types.ts";
import { RUN_STATUSES } from "../core/run_store/status.ts";
import { closest } from "../core/suggest.ts";
import type { UiContext } from "./context.ts";
import { automations, findAutomation } from "./automations.ts";

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
  /** Only runs having each of these tags with this value (`tag=KEY=VALUE,KEY2=VALUE2`). */
  readonly tags?: Readonly<Record<string, string>>;
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
const STATUSES: readonly string[] = RUN_STATUSES;

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
  if (query.tag) filter.tags = parseTags(query.tag);
  if (query.automation) filter.automation = query.automation;
  for (const name of ["since", "until"] as const) {
    const value = query[name];
    if (!value) continue;
    const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
    if (!Number.isFinite(ms) || Math.abs(ms) > 8.64e15) {
      throw new RangeError(`${name} '${value}' is not a date (YYYY-MM-DD or ISO time)`);
    }
    filter[name] = ms;
  }
  return filter;
}

/**
 * `KEY=VALUE[,KEY=VALUE...]` as tags; throws `RangeError` naming a pair
 * without a key. A piece without `=` continues the value before it: the run
 * page links each tag as `KEY=VALUE`, and a value may hold commas (a file
 * name, a partition list).
 */
function parseTags(text: string): Record<string, string> {
  const pairs: [string, string][] = [];
  for (const piece of text.split(",")) {
    if (piece.trim() === "") continue;
    const at = piece.indexOf("=");
    const last = pairs.at(-1);
    if (at < 0 && last) {
      last[1] += `,${piece}`;
      continue;
    }
    if (at < 0 || piece.slice(0, at).trim() === "") {
      throw new RangeError(`tag '${piece.trim()}' must be KEY=VALUE, e.g. tag=backfill=ab12cd34`);
    }
    pairs.push([piece.slice(0, at).trim(), piece.slice(at + 1)]);
  }
  return Object.fromEntries(pairs.map(([key, value]) => [key, value.trim()]));
}

/** Encodes the keyset cursor of a run. */
export function cursorOf(run: RunRecord): string {
  return `${run.startedAt}_${run.runId}`;
}

function parseCursor(cursor: string): { startedAt: number; runId: string } {
  const at = cursor.indexOf("_");
  const startedAt = Number(cursor.slice(0, at));
  if (
    at < 1 || at === cursor.length - 1 || !/^-?\d+$/.test(cursor.slice(0, at)) ||
    !Number.isSafeInteger(startedAt)
  ) {
    throw new RangeError(`cursor '${cursor}' is not one this server gave`);
  }
  return { startedAt, runId: cursor.slice(at + 1) };
}

/**
 * The tags that select the runs of sensor or schedule `name` of the graph.
 * @throws {RangeError} when the graph has no sensor or schedule of that name.
 */
export function automationTags(ctx: UiContext, name: string): Record<string, string> {
  const item = findAutomation(ctx, name);
  if (item) return item.kind === "sensor" ? { sensor: name } : { schedule: name };
  const names = automations(ctx).map((a) => a.name);
  const near = closest(name, names);
  throw new RangeError(
    `automation '${name}' is no sensor or schedule of this graph${
      near ? ` (did you mean '${near}'?)` : ""
    }`,
  );
}

/**
 * One page of runs matching `filter`, after `before` (a cursor from
 * {@linkcode cursorOf}): one indexed query of the run store, whatever the
 * page's depth in the history.
 * @throws {RangeError} on a cursor this server did not give, or an unknown automation.
 */
export async function queryRuns(
  ctx: UiContext,
  filter: RunFilter,
  before?: string,
  limit = RUN_PAGE_SIZE,
): Promise<RunPage> {
  const after = before ? parseCursor(before) : undefined;
  const tags = filter.automation || filter.tags
    ? {
      ...filter.tags,
      ...(filter.automation ? automationTags(ctx, filter.automation) : {}),
    }
    : undefined;
  const runs = await ctx.store.listRuns({
    limit: limit + 1,
    ...(filter.status ? { status: filter.status } : {}),
    ...(filter.asset ? { asset: filter.asset } : {}),
    ...(filter.since !== undefined ? { startedFrom: filter.since } : {}),
    ...(filter.until !== undefined ? { startedBefore: filter.until } : {}),
    ...(tags ? { tags } : {}),
    ...(after ? { after } : {}),
  });
  const page = runs.slice(0, limit);
  const last = page[page.length - 1];
  return runs.length > limit && last ? { runs: page, next: cursorOf(last) } : { runs: page };
}
