/**
 * The semantic layer's YAML (`semantic_models:`, `metrics:`, `saved_queries:`)
 * parsed as dbt-core 1.8+ parses it into the manifest: each entry shaped like
 * manifest v12's SemanticModel / Metric / SavedQuery, its `model: ref(...)`
 * and metric inputs resolved to unique ids (so they are in parent_map and
 * child_map and can be selected), `create_metric: true` measures turned into
 * simple metrics, and the checks dbt (with dbt-semantic-interfaces) makes at
 * parse time: an unknown aggregation, entity or dimension type, a time
 * dimension without a granularity, a measure without an aggregation time
 * dimension, a metric over a measure or metric nobody defines. Jinja in
 * `filter:` / `where:` (`{{ Dimension('customer__type') }}`) is MetricFlow's
 * template and is kept as written, as dbt keeps it. Nothing here runs: the
 * runner has no MetricFlow, so `dbt build` skips these with a note.
 *
 * @module
 */

import { DbtError, DbtErrorCode } from "../errors.ts";
import type { ModelNode, SemanticResource } from "../nodes.ts";
import { parseRefText } from "./ref_text.ts";
import { GRANULARITIES } from "./time_spine_check.ts";

/** One raw YAML entry of the semantic layer, with where it was written. */
export interface SemanticEntry {
  /** Which list it is in. */
  readonly kind: "semantic_model" | "metric" | "saved_query";
  /** The entry as written. */
  readonly props: unknown;
  /** Properties file, relative to its package. */
  readonly file: string;
  /** Line of the entry. */
  readonly line: number | undefined;
  /** Package of the file. */
  readonly packageName: string;
}

/** What the parse needs from the rest of the project. */
export interface SemanticContext {
  /** The node `ref(name, version)` reads, or undefined. */
  readonly modelOf: (name: string, version: string | undefined) => ModelNode | undefined;
  /** Target database and schema (saved query exports default to them). */
  readonly database: string;
  /** Target schema. */
  readonly schema: string;
  /**
   * What dbt_project.yml's `semantic-models:` / `metrics:` / `saved-queries:`
   * give the entry at `fqnPath` (its folders and name) of `packageName`.
   */
  readonly projectConfig?: (
    kind: SemanticEntry["kind"],
    packageName: string,
    fqnPath: readonly string[],
  ) => Record<string, unknown>;
}

type Obj = Record<string, unknown>;

const AGGS = new Set([
  "sum",
  "min",
  "max",
  "count_distinct",
  "sum_boolean",
  "average",
  "percentile",
  "median",
  "count",
]);
const ENTITY_TYPES = new Set(["foreign", "natural", "primary", "unique"]);
const DIMENSION_TYPES = new Set(["categorical", "time"]);
const GRAINS = new Set(GRANULARITIES);
/** How messages name an entry of each kind. */
const LABELS: Readonly<Record<SemanticEntry["kind"], string>> = {
  semantic_model: "semantic model",
  metric: "metric",
  saved_query: "saved query",
};
const METRIC_TYPES = new Set(["simple", "ratio", "cumulative", "derived", "conversion"]);

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const str = (v: unknown): string | null =>
  v === undefined || v === null ? null : typeof v === "string" ? v : String(v);
const list = (
  v: unknown,
): unknown[] => (Array.isArray(v) ? v : v === undefined || v === null ? [] : [v]);

/** Parses every semantic model, metric and saved query of the project. */
export function parseSemanticLayer(
  entries: readonly SemanticEntry[],
  ctx: SemanticContext,
): SemanticResource[] {
  const fail = (entry: SemanticEntry, what: string, message: string): never => {
    throw new DbtError(DbtErrorCode.invalidYaml, `${what}: ${message}`, {
      file: entry.file,
      ...(entry.line === undefined ? {} : { line: entry.line }),
    });
  };
  const named = (entry: SemanticEntry, label: string): string => {
    const props = isObj(entry.props) ? entry.props : fail(entry, label, "each entry is a mapping");
    const name = props.name;
    if (typeof name !== "string" || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      return fail(
        entry,
        `${label} '${String(name)}'`,
        "needs a name of letters, digits and underscores",
      );
    }
    return name;
  };
  const base = (entry: SemanticEntry, name: string, kind: string) => {
    const path = entry.file.slice(entry.file.indexOf("/") + 1);
    const dirs = path.split("/").slice(0, -1);
    return {
      name,
      resource_type: kind,
      package_name: entry.packageName,
      path,
      original_file_path: entry.file,
      unique_id: `${kind}.${entry.packageName}.${name}`,
      fqn: [entry.packageName, ...dirs, name],
    };
  };
  // The entry's config over the project's (`+enabled: false` leaves it out, as dbt disables it).
  const configOf = (entry: SemanticEntry, fqn: readonly string[]): Obj => {
    const props = entry.props as Obj;
    const own = isObj(props.config) ? props.config : {};
    return { ...(ctx.projectConfig?.(entry.kind, entry.packageName, fqn.slice(1)) ?? {}), ...own };
  };
  const enabled = (config: Obj) => config.enabled !== false && String(config.enabled) !== "false";
  // The enabled entries of one kind, in the order written, each named and configured: a
  // generator, so an entry's name is checked only after the entries before it were parsed
  // (the first error a user sees stays the first one written).
  function* enabledOf(kind: SemanticEntry["kind"]) {
    const label = LABELS[kind];
    for (const entry of entries) {
      if (entry.kind !== kind) continue;
      const name = named(entry, label);
      const head = base(entry, name, kind);
      const config = configOf(entry, head.fqn);
      if (!enabled(config)) continue;
      yield { entry, name, what: `${label} '${name}'`, props: entry.props as Obj, head, config };
    }
  }
  const seen = new Map<string, string>();
  const unique = (entry: SemanticEntry, id: string, what: string) => {
    const previous = seen.get(id);
    if (previous !== undefined) {
      fail(entry, what, `is defined twice (also in ${previous}); keep one`);
    }
    seen.set(id, entry.file);
  };

  // Semantic models first: metrics find their measures in them.
  const out: SemanticResource[] = [];
  const measures = new Map<string, { model: string; measure: Obj }>();
  const metricEntries: { entry: SemanticEntry; props: Obj }[] = [];
  for (const { entry, name, what, props, head, config } of enabledOf("semantic_model")) {
    unique(entry, head.unique_id, what);
    const modelText = str(props.model) ?? fail(entry, what, "needs model: ref('<model>')");
    const ref = parseRefText(modelText) ??
      fail(entry, what, `model: ${modelText} is not ref('<model>')`);
    const node = ctx.modelOf(ref.name, ref.version) ??
      fail(entry, what, `model: ${modelText} names no enabled model`);
    const defaults = isObj(props.defaults) ? props.defaults : null;
    const dimensions = list(props.dimensions).map((d, i) => {
      if (!isObj(d) || typeof d.name !== "string") {
        return fail(entry, what, `dimensions[${i}] needs a name`);
      }
      const type = String(d.type ?? "");
      if (!DIMENSION_TYPES.has(type)) {
        fail(entry, what, `dimension '${d.name}' has type '${type}' (categorical or time)`);
      }
      const params = isObj(d.type_params) ? d.type_params : null;
      const grain = params?.time_granularity;
      if (type === "time" && (typeof grain !== "string" || !GRAINS.has(grain))) {
        fail(
          entry,
          what,
          `time dimension '${d.name}' needs type_params.time_granularity (one of ${
            [...GRAINS].join(", ")
          })`,
        );
      }
      const validity = params && isObj(params.validity_params) ? params.validity_params : null;
      return {
        name: d.name,
        type,
        description: str(d.description),
        label: str(d.label),
        is_partition: d.is_partition === true,
        type_params: params
          ? {
            time_granularity: String(grain ?? "day"),
            validity_params: validity
              ? { is_start: validity.is_start === true, is_end: validity.is_end === true }
              : null,
          }
          : null,
        expr: str(d.expr),
        metadata: null,
        config: { meta: isObj(d.config) && isObj(d.config.meta) ? d.config.meta : {} },
      };
    });
    const timeDimensions = new Set(dimensions.filter((d) => d.type === "time").map((d) => d.name));
    const entities = list(props.entities).map((e, i) => {
      if (!isObj(e) || typeof e.name !== "string") {
        return fail(entry, what, `entities[${i}] needs a name`);
      }
      const type = String(e.type ?? "");
      if (!ENTITY_TYPES.has(type)) {
        fail(
          entry,
          what,
          `entity '${e.name}' has type '${type}' (one of ${[...ENTITY_TYPES].join(", ")})`,
        );
      }
      return {
        name: e.name,
        type,
        description: str(e.description),
        label: str(e.label),
        role: str(e.role),
        expr: str(e.expr),
        config: { meta: isObj(e.config) && isObj(e.config.meta) ? e.config.meta : {} },
      };
    });
    const measureJson = list(props.measures).map((m, i) => {
      if (!isObj(m) || typeof m.name !== "string") {
        return fail(entry, what, `measures[${i}] needs a name`);
      }
      const agg = String(m.agg ?? "");
      if (!AGGS.has(agg)) {
        fail(entry, what, `measure '${m.name}' has agg '${agg}' (one of ${[...AGGS].join(", ")})`);
      }
      const aggTime = str(m.agg_time_dimension) ?? str(defaults?.agg_time_dimension);
      if (aggTime === null) {
        fail(
          entry,
          what,
          `measure '${m.name}' has no aggregation time dimension: set agg_time_dimension on it ` +
            "or defaults.agg_time_dimension on the semantic model",
        );
      } else if (!timeDimensions.has(aggTime)) {
        fail(
          entry,
          what,
          `measure '${m.name}': agg_time_dimension '${aggTime}' is not a time dimension of it`,
        );
      }
      const params = isObj(m.agg_params) ? m.agg_params : null;
      const nad = isObj(m.non_additive_dimension) ? m.non_additive_dimension : null;
      const measure: Obj = {
        name: m.name,
        agg,
        description: str(m.description),
        label: str(m.label),
        create_metric: m.create_metric === true,
        expr: str(m.expr),
        agg_params: params
          ? {
            percentile: typeof params.percentile === "number" ? params.percentile : null,
            use_discrete_percentile: params.use_discrete_percentile === true,
            use_approximate_percentile: params.use_approximate_percentile === true,
          }
          : null,
        non_additive_dimension: nad
          ? {
            name: String(nad.name),
            window_choice: String(nad.window_choice ?? "min"),
            window_groupings: list(nad.window_groupings).map(String),
          }
          : null,
        agg_time_dimension: str(m.agg_time_dimension),
        config: { meta: isObj(m.config) && isObj(m.config.meta) ? m.config.meta : {} },
      };
      const previous = measures.get(m.name);
      if (previous) {
        fail(
          entry,
          what,
          `measure '${m.name}' is also defined in semantic model '${previous.model}'`,
        );
      }
      measures.set(m.name, { model: head.unique_id, measure });
      if (m.create_metric === true) {
        metricEntries.push({
          entry,
          props: {
            name: m.name,
            label: m.label ?? m.name,
            description: m.description ?? "",
            type: "simple",
            type_params: { measure: { name: m.name } },
          },
        });
      }
      return measure;
    });
    const primary = str(props.primary_entity);
    if (entities.length > 0 && !entities.some((e) => e.type === "primary") && primary === null) {
      if (dimensions.length > 0) {
        fail(
          entry,
          what,
          "has dimensions but no primary entity: add an entity of type primary or primary_entity:",
        );
      }
    }
    const group = str(config.group ?? props.group);
    const tags = list(config.tags ?? props.tags).map(String);
    out.push({
      kind: "semantic_model",
      uniqueId: head.unique_id,
      name,
      packageName: entry.packageName,
      file: entry.file,
      fqn: head.fqn,
      dependsOn: [node.uniqueId],
      tags,
      json: {
        ...head,
        model: modelText,
        node_relation: {
          alias: node.relation.identifier,
          schema_name: node.relation.schema,
          database: node.relation.database || null,
          relation_name: node.relation.relationName,
        },
        description: str(props.description),
        label: str(props.label),
        defaults: defaults ? { agg_time_dimension: str(defaults.agg_time_dimension) } : null,
        entities,
        measures: measureJson,
        dimensions,
        metadata: null,
        depends_on: { macros: [], nodes: [node.uniqueId] },
        refs: [{ name: ref.name, package: null, version: ref.version ?? null }],
        config: {
          enabled: true,
          group,
          meta: isObj(config.meta) ? config.meta : isObj(props.meta) ? props.meta : {},
        },
        unrendered_config: {},
        primary_entity: primary,
        group,
      },
    });
  }

  for (const { entry, props } of enabledOf("metric")) metricEntries.push({ entry, props });
  const metricNames = new Set(metricEntries.map((m) => String(m.props.name)));
  const metricOut = new Map<string, SemanticResource>();
  for (const { entry, props } of metricEntries) {
    const name = String(props.name);
    const what = `metric '${name}'`;
    const head = base(entry, name, "metric");
    unique(entry, head.unique_id, what);
    const type = String(props.type ?? "").toLowerCase();
    if (!METRIC_TYPES.has(type)) {
      fail(entry, what, `has type '${type}' (one of ${[...METRIC_TYPES].join(", ")})`);
    }
    const params = isObj(props.type_params) ? props.type_params : {};
    const nodes = new Set<string>();
    const inputMetrics: string[][] = [];
    const measureInput = (value: unknown, key: string) => {
      if (value === undefined || value === null) return null;
      const m = isObj(value) ? value : { name: value };
      const measureName = String(m.name ?? "");
      const found = measures.get(measureName) ??
        fail(entry, what, `${key} '${measureName}' is not a measure of any semantic model`);
      nodes.add(found.model);
      return {
        name: measureName,
        filter: whereFilter(m.filter),
        alias: str(m.alias),
        join_to_timespine: m.join_to_timespine === true,
        fill_nulls_with: typeof m.fill_nulls_with === "number" ? m.fill_nulls_with : null,
      };
    };
    const metricInput = (value: unknown, key: string) => {
      if (value === undefined || value === null) return null;
      const m = isObj(value) ? value : { name: value };
      const metricName = String(m.name ?? "");
      if (!metricNames.has(metricName)) {
        fail(entry, what, `${key} '${metricName}' is not a metric of this project`);
      }
      nodes.add(`metric.${entry.packageName}.${metricName}`);
      inputMetrics.push([metricName]);
      return {
        name: metricName,
        filter: whereFilter(m.filter),
        alias: str(m.alias),
        offset_window: timeWindow(m.offset_window, entry, what),
        offset_to_grain: str(m.offset_to_grain),
      };
    };
    const cumulative = isObj(params.cumulative_type_params) ? params.cumulative_type_params : {};
    const window = timeWindow(params.window ?? cumulative.window, entry, what);
    const grainToDate = str(params.grain_to_date ?? cumulative.grain_to_date);
    const measure = measureInput(params.measure, "measure");
    const conversion = isObj(params.conversion_type_params) ? params.conversion_type_params : null;
    const base_measure = conversion ? measureInput(conversion.base_measure, "base_measure") : null;
    const conversion_measure = conversion
      ? measureInput(conversion.conversion_measure, "conversion_measure")
      : null;
    if ((type === "simple" || type === "cumulative") && measure === null) {
      fail(entry, what, `a ${type} metric needs type_params.measure`);
    }
    if (type === "conversion" && (base_measure === null || conversion_measure === null)) {
      fail(
        entry,
        what,
        "a conversion metric needs conversion_type_params.base_measure and conversion_measure",
      );
    }
    const numerator = metricInput(params.numerator, "numerator");
    const denominator = metricInput(params.denominator, "denominator");
    if (type === "ratio" && (numerator === null || denominator === null)) {
      fail(entry, what, "a ratio metric needs type_params.numerator and denominator");
    }
    const inputs = params.metrics === undefined
      ? null
      : list(params.metrics).map((m) => metricInput(m, "metrics"));
    if (type === "derived" && (inputs === null || inputs.length === 0 || !str(params.expr))) {
      fail(entry, what, "a derived metric needs type_params.expr and type_params.metrics");
    }
    const config = entry.kind === "metric" ? configOf(entry, head.fqn) : {};
    const meta = isObj(config.meta) ? config.meta : isObj(props.meta) ? props.meta : {};
    const tags = list(config.tags ?? props.tags).map(String);
    const group = str(config.group ?? props.group);
    const resource: SemanticResource = {
      kind: "metric",
      uniqueId: head.unique_id,
      name,
      packageName: entry.packageName,
      file: entry.file,
      fqn: head.fqn,
      dependsOn: [...nodes].sort(),
      tags,
      json: {
        ...head,
        description: String(props.description ?? ""),
        label: String(props.label ?? name),
        type,
        type_params: {
          measure,
          input_measures: [measure, base_measure, conversion_measure].filter((m) => m !== null),
          numerator,
          denominator,
          expr: str(params.expr),
          window,
          grain_to_date: grainToDate,
          metrics: inputs,
          conversion_type_params: conversion && base_measure && conversion_measure
            ? {
              base_measure,
              conversion_measure,
              entity: String(conversion.entity ?? ""),
              calculation: String(conversion.calculation ?? "conversion_rate"),
              window: timeWindow(conversion.window, entry, what),
              constant_properties: null,
            }
            : null,
          cumulative_type_params: type === "cumulative"
            ? {
              window,
              grain_to_date: grainToDate,
              period_agg: String(cumulative.period_agg ?? "first"),
            }
            : null,
        },
        filter: whereFilter(props.filter),
        metadata: null,
        time_granularity: str(props.time_granularity),
        meta,
        tags,
        config: { enabled: true, group, meta },
        unrendered_config: {},
        sources: [],
        depends_on: { macros: [], nodes: [...nodes].sort() },
        refs: [],
        metrics: inputMetrics,
        group,
      },
    };
    metricOut.set(name, resource);
    out.push(resource);
  }
  // A ratio or derived metric's input_measures are those of the metrics it reads, as dbt links them.
  const measuresOf = (name: string, path: readonly string[]): unknown[] => {
    if (path.includes(name)) {
      const entry = metricEntries.find((m) => m.props.name === name)?.entry as SemanticEntry;
      fail(entry, `metric '${name}'`, `reads itself (${[...path, name].join(" -> ")})`);
    }
    const json = metricOut.get(name)?.json as { type_params: Obj; metrics: string[][] } | undefined;
    if (!json) return [];
    const own = json.type_params.input_measures as unknown[];
    return own.length > 0 || json.metrics.length === 0
      ? own
      : json.metrics.flatMap(([m]) => measuresOf(m as string, [...path, name]));
  };
  for (const [name, resource] of metricOut) {
    const params = (resource.json as { type_params: Obj }).type_params;
    params.input_measures = measuresOf(name, []);
  }

  for (const { entry, name, what, props, head, config } of enabledOf("saved_query")) {
    unique(entry, head.unique_id, what);
    const query = isObj(props.query_params) ? props.query_params : {};
    const metrics = list(query.metrics).map(String);
    if (metrics.length === 0) fail(entry, what, "needs query_params.metrics");
    for (const m of metrics) {
      if (!metricOut.has(m)) fail(entry, what, `metric '${m}' is not a metric of this project`);
    }
    const exports = list(props.exports).map((e, i) => {
      if (!isObj(e) || typeof e.name !== "string") {
        return fail(entry, what, `exports[${i}] needs a name`);
      }
      const c = isObj(e.config) ? e.config : {};
      const exportAs = String(c.export_as ?? config.export_as ?? "");
      if (exportAs !== "table" && exportAs !== "view") {
        fail(entry, what, `export '${e.name}' needs config.export_as: table or view`);
      }
      return {
        name: e.name,
        config: {
          export_as: exportAs,
          schema_name: str(c.schema ?? c.schema_name ?? config.schema) ?? ctx.schema,
          alias: str(c.alias) ?? e.name,
          database: str(c.database) ?? ctx.database,
        },
        unrendered_config: {},
      };
    });
    const tags = list(config.tags ?? props.tags).map(String);
    const group = str(config.group ?? props.group);
    const dependsOn = metrics.map((m) => `metric.${entry.packageName}.${m}`).sort();
    const cache = isObj(config.cache) ? config.cache : {};
    out.push({
      kind: "saved_query",
      uniqueId: head.unique_id,
      name,
      packageName: entry.packageName,
      file: entry.file,
      fqn: head.fqn,
      dependsOn,
      tags,
      json: {
        ...head,
        query_params: {
          metrics,
          group_by: list(query.group_by).map(String),
          where: whereFilter(query.where),
          order_by: list(query.order_by).map(String),
          limit: typeof query.limit === "number" ? query.limit : null,
        },
        exports,
        description: str(props.description),
        label: str(props.label),
        metadata: null,
        config: {
          enabled: true,
          group,
          meta: isObj(config.meta) ? config.meta : {},
          export_as: str(config.export_as),
          schema: str(config.schema),
          cache: { enabled: cache.enabled === true },
        },
        unrendered_config: {},
        group,
        depends_on: { macros: [], nodes: dependsOn },
        refs: [],
        tags,
      },
    });
  }
  return out;
}

/** A `filter:` / `where:` (one template or a list of them) as dbt's WhereFilterIntersection. */
function whereFilter(value: unknown): { where_filters: { where_sql_template: string }[] } | null {
  if (value === undefined || value === null) return null;
  return { where_filters: list(value).map((w) => ({ where_sql_template: String(w).trim() })) };
}

/** `window: 7 days` as dbt parses it: a count and a singular granularity. */
function timeWindow(
  value: unknown,
  entry: SemanticEntry,
  what: string,
): { count: number; granularity: string } | null {
  if (value === undefined || value === null) return null;
  if (isObj(value)) {
    return { count: Number(value.count), granularity: String(value.granularity) };
  }
  const m = /^\s*(\d+)\s+([a-z_]+)\s*$/i.exec(String(value));
  const grain = m?.[2]?.toLowerCase().replace(/s$/, "");
  if (!m || grain === undefined || !GRAINS.has(grain)) {
    throw new DbtError(
      DbtErrorCode.invalidYaml,
      `${what}: window '${String(value)}' is not '<count> <granularity>' (e.g. 7 days)`,
      { file: entry.file, ...(entry.line === undefined ? {} : { line: entry.line }) },
    );
  }
  return { count: Number(m[1]), granularity: grain };
}
