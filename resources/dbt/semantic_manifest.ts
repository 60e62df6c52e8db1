/**
 * `target/semantic_manifest.json`, which dbt-core writes beside every
 * manifest.json: the semantic layer as MetricFlow reads it, dbt-semantic-
 * interfaces' `PydanticSemanticManifest` (`semantic_models`, `metrics`,
 * `project_configuration` with `time_spine_table_configurations`,
 * `dsi_package_version` and `time_spines`, `saved_queries`).
 *
 * Each object is the manifest entry (compile/semantic.ts) cut to the fields
 * of its Pydantic model, in that model's order, with its defaults where the
 * entry has none: what `PydanticX.parse_obj(entry)` then `.json()` gives
 * (Pydantic ignores the manifest's other keys: unique_id, fqn, depends_on...).
 * Time spines come from models with `time_spine:` (dbt 1.9); a model named
 * `metricflow_time_spine` without one is the legacy spine (`date_day`, day).
 *
 * @module
 */

import type { Json } from "./_json_stream.ts";
import type { DbtProject, ModelNode, SemanticResource } from "./nodes.ts";

/** The dbt-semantic-interfaces release dbt-core 1.9 pins (`>=0.7.4,<0.8`). */
const DSI_VERSION = { major_version: "0", minor_version: "7", patch_version: "4" } as const;

/** dbt's legacy time spine: a model of this name, read at `date_day` by day. */
const LEGACY_TIME_SPINE = "metricflow_time_spine";

type Obj = Record<string, unknown>;

/** How one field is written: copied (`null` when missing), a default, or a nested model. */
type Field = null | { readonly default: Json } | ((value: unknown) => Json);

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** The fields of `value` a Pydantic model keeps, in its order; null when `value` is not a mapping. */
function model(fields: Readonly<Record<string, Field>>): (value: unknown) => Json {
  return (value) => {
    if (!isObj(value)) return null;
    const out: Record<string, Json> = {};
    for (const [name, field] of Object.entries(fields)) {
      const v = value[name];
      if (typeof field === "function") out[name] = field(v);
      else if (v !== undefined && v !== null) out[name] = v as Json;
      else out[name] = field === null ? null : field.default;
    }
    return out;
  };
}

/** A list of `item`s; null stays null (an optional list), a missing one is `fallback`. */
const listOf = (item: (value: unknown) => Json, fallback: Json = []) => (value: unknown): Json =>
  Array.isArray(value) ? value.map(item) : value === null ? null : fallback;

const meta = model({ meta: { default: {} } });
const whereFilter = model({ where_filters: listOf(model({ where_sql_template: null })) });
const window = model({ count: null, granularity: null });
const nodeRelation = model({ alias: null, schema_name: null, database: null, relation_name: null });

const entity = model({
  name: null,
  description: null,
  type: null,
  role: null,
  expr: null,
  metadata: null,
  label: null,
});

const measure = model({
  name: null,
  agg: null,
  description: null,
  create_metric: null,
  expr: null,
  agg_params: model({
    percentile: null,
    use_discrete_percentile: { default: false },
    use_approximate_percentile: { default: false },
  }),
  metadata: null,
  non_additive_dimension: model({
    name: null,
    window_choice: { default: "min" },
    window_groupings: { default: [] },
  }),
  agg_time_dimension: null,
  label: null,
});

const dimension = model({
  name: null,
  description: null,
  type: null,
  is_partition: { default: false },
  type_params: model({
    time_granularity: null,
    validity_params: model({ is_start: { default: false }, is_end: { default: false } }),
  }),
  expr: null,
  metadata: null,
  label: null,
  config: meta,
});

const semanticModel = model({
  name: null,
  defaults: model({ agg_time_dimension: null }),
  description: null,
  node_relation: nodeRelation,
  primary_entity: null,
  entities: listOf(entity),
  measures: listOf(measure),
  dimensions: listOf(dimension),
  label: null,
  metadata: null,
  config: meta,
});

const inputMeasure = model({
  name: null,
  filter: whereFilter,
  alias: null,
  join_to_timespine: { default: false },
  fill_nulls_with: null,
});

const metricInput = model({
  name: null,
  filter: whereFilter,
  alias: null,
  offset_window: window,
  offset_to_grain: null,
});

const metric = model({
  name: null,
  description: null,
  type: null,
  type_params: model({
    measure: inputMeasure,
    numerator: metricInput,
    denominator: metricInput,
    expr: null,
    window: window,
    grain_to_date: null,
    metrics: listOf(metricInput, null),
    conversion_type_params: model({
      base_measure: inputMeasure,
      conversion_measure: inputMeasure,
      entity: null,
      calculation: { default: "conversion_rate" },
      window: window,
      constant_properties: listOf(model({ base_property: null, conversion_property: null }), null),
    }),
    cumulative_type_params: model({
      window: window,
      grain_to_date: null,
      period_agg: { default: "first" },
    }),
    input_measures: listOf(inputMeasure),
  }),
  filter: whereFilter,
  metadata: null,
  label: null,
  config: meta,
  time_granularity: null,
});

const savedQuery = model({
  name: null,
  query_params: model({
    metrics: { default: [] },
    group_by: { default: [] },
    order_by: { default: [] },
    limit: null,
    where: whereFilter,
  }),
  description: null,
  metadata: null,
  label: null,
  exports: listOf(
    model({ name: null, config: model({ export_as: null, schema_name: null, alias: null }) }),
  ),
});

/** The node relation of `node` as the semantic manifest writes it. */
function relationOf(node: ModelNode): Json {
  return {
    alias: node.relation.identifier,
    schema_name: node.relation.schema,
    database: node.relation.database,
    relation_name: node.relation.relationName,
  };
}

/** `project`'s semantic manifest, as dbt-core writes it to target/semantic_manifest.json. */
export function buildSemanticManifest(project: DbtProject): Record<string, Json> {
  const of = (kind: SemanticResource["kind"], shape: (value: unknown) => Json) =>
    project.semantic.filter((r) => r.kind === kind).map((r) => shape(r.json));
  const timeSpines: Json[] = [];
  let legacy: ModelNode | undefined;
  for (const node of project.nodes.values()) {
    if (node.resourceType !== "model") continue;
    const spine = node.timeSpine;
    if (spine) {
      timeSpines.push({
        node_relation: relationOf(node),
        primary_column: {
          name: spine.standardGranularityColumn,
          time_granularity: spine.granularity,
        },
        custom_granularities: spine.customGranularities.map((c) => ({
          name: c.name,
          column_name: c.columnName,
        })),
      });
    } else if (node.name === LEGACY_TIME_SPINE && node.packageName === project.name) {
      legacy = node;
    }
  }
  const hasSemanticModels = project.semantic.some((r) => r.kind === "semantic_model");
  return {
    semantic_models: of("semantic_model", semanticModel),
    metrics: of("metric", metric),
    project_configuration: {
      // Kept for projects that predate `time_spine:` (dbt reads them only with semantic models).
      time_spine_table_configurations: hasSemanticModels && legacy
        ? [{ location: legacy.relation.relationName, column_name: "date_day", grain: "day" }]
        : [],
      metadata: null,
      dsi_package_version: DSI_VERSION,
      time_spines: timeSpines,
    },
    saved_queries: of("saved_query", savedQuery),
  };
}
