/**
 * The SQL of a run list page, shared by the SQL backends: which index a
 * filter walks, and the keyset condition that starts the page at its cursor.
 *
 * Every page walks one index in the list's order (`started_at`, `run_id`,
 * descending) from the cursor and stops after `limit` rows that match, so a
 * page deep in a history of 100,000 runs costs what the first page does:
 *
 * - an asset filter walks `run_assets` (asset, start, run),
 * - else a tag filter walks `run_tags` (key, value, start, run) by its first tag,
 * - else a status filter walks `pipeline_runs (status, started_at, run_id)`,
 * - else `pipeline_runs (started_at, run_id)`.
 *
 * The other filters are checked on the rows the walk meets (another tag by
 * an `EXISTS` on `run_tags` by run id).
 *
 * @module
 */

import type { RunFilter } from "../../core/run_store/base.ts";

/** How a dialect writes parameters, times and the tables. */
export interface RunListDialect {
  /** Table names, qualified as the dialect needs (e.g. `ops.pipeline_runs`). */
  readonly tables: Readonly<Record<"pipeline_runs" | "run_tags" | "run_assets", string>>;
  /** Columns selected from `pipeline_runs` aliased `r`. */
  readonly columns: string;
  /** Placeholder of the `n`th parameter (1-based): `?` or `$n`. */
  placeholder(n: number): string;
  /** SQL turning a millisecond parameter into the type of the time columns. */
  time(placeholder: string): string;
  /** The join keyword that keeps the driving index as the outer loop. */
  readonly join: string;
}

/** The statement and parameters of one page of `filter`. */
export function runListQuery(
  filter: RunFilter,
  dialect: RunListDialect,
): { sql: string; params: (string | number)[] } {
  const params: (string | number)[] = [];
  const param = (value: string | number) => {
    params.push(value);
    return dialect.placeholder(params.length);
  };
  const time = (ms: number) => dialect.time(param(Math.round(ms)));
  const tags = Object.entries(filter.tags ?? {});
  const { tables } = dialect;
  let from: string;
  let order: string; // alias of the driving index's table
  const where: string[] = [];
  let statusDone = false;
  if (filter.asset !== undefined) {
    from =
      `${tables.run_assets} d ${dialect.join} ${tables.pipeline_runs} r ON r.run_id = d.run_id`;
    order = "d";
    where.push(`d.asset_key = ${param(filter.asset)}`);
  } else if (tags.length > 0) {
    const [key, value] = tags.shift() as [string, string];
    from = `${tables.run_tags} d ${dialect.join} ${tables.pipeline_runs} r ON r.run_id = d.run_id`;
    order = "d";
    where.push(`d.key = ${param(key)}`, `d.value = ${param(value)}`);
  } else {
    from = `${tables.pipeline_runs} r`;
    order = "r";
    if (filter.status !== undefined) {
      where.push(`r.status = ${param(filter.status)}`);
      statusDone = true;
    }
  }
  if (filter.after) {
    where.push(
      `(${order}.started_at, ${order}.run_id) < (${time(filter.after.startedAt)}, ${
        param(filter.after.runId)
      })`,
    );
  }
  if (filter.startedFrom !== undefined) {
    where.push(`${order}.started_at >= ${time(filter.startedFrom)}`);
  }
  if (filter.startedBefore !== undefined) {
    where.push(`${order}.started_at < ${time(filter.startedBefore)}`);
  }
  if (filter.status !== undefined && !statusDone) where.push(`r.status = ${param(filter.status)}`);
  for (const [key, value] of tags) {
    where.push(
      `EXISTS (SELECT 1 FROM ${tables.run_tags} t WHERE t.run_id = r.run_id AND t.key = ${
        param(key)
      } AND t.value = ${param(value)})`,
    );
  }
  const sql = `SELECT ${dialect.columns} FROM ${from}${
    where.length ? ` WHERE ${where.join(" AND ")}` : ""
  } ORDER BY ${order}.started_at DESC, ${order}.run_id DESC LIMIT ${param(filter.limit)}`;
  return { sql, params };
}
