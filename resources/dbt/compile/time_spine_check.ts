/**
 * dbt-core refuses to parse a project with semantic models but no time spine
 * of day or finer granularity: MetricFlow needs a calendar to aggregate by
 * day. A model with `time_spine:` whose standard column is `day` or finer,
 * or a model named `metricflow_time_spine` (the legacy spine, read by day),
 * satisfies it.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import type { ModelNode, SemanticResource } from "../nodes.ts";

/** MetricFlow's granularities, finest first. */
export const GRANULARITIES: readonly string[] = [
  "nanosecond",
  "microsecond",
  "millisecond",
  "second",
  "minute",
  "hour",
  "day",
  "week",
  "month",
  "quarter",
  "year",
];

const DAY = GRANULARITIES.indexOf("day");

/**
 * Throws `dbt.invalid_project` naming the first semantic model's file when
 * `semantic` has semantic models and `models` no time spine of day or finer.
 */
export function requireDailyTimeSpine(
  semantic: readonly SemanticResource[],
  models: Iterable<ModelNode>,
): void {
  const first = semantic.find((resource) => resource.kind === "semantic_model");
  if (first === undefined) return;
  for (const model of models) {
    if (model.resourceType !== "model") continue;
    if (model.name === "metricflow_time_spine") return;
    const grain = model.timeSpine?.granularity.toLowerCase();
    if (
      grain !== undefined && GRANULARITIES.indexOf(grain) >= 0 &&
      GRANULARITIES.indexOf(grain) <= DAY
    ) return;
  }
  throw new DbtError(
    DbtErrorCode.invalidProject,
    `The semantic layer requires a time spine model with granularity DAY or smaller in the ` +
      `project, but none was found (semantic model '${first.name}'). Add one: a model with ` +
      `time_spine: {standard_granularity_column: date_day} whose column has granularity: day, ` +
      `or a model named metricflow_time_spine with a date_day column ` +
      `(https://docs.getdbt.com/docs/build/metricflow-time-spine)`,
    { file: first.file },
  );
}
