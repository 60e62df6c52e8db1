/**
 * target/semantic_manifest.json, which dbt-core writes with every
 * manifest.json: dbt-semantic-interfaces' PydanticSemanticManifest
 * (semantic_models, metrics, project_configuration with its time spines,
 * saved_queries), each object cut to its Pydantic model's fields. Checked on
 * tests/fixtures/dbt/sl_shop (semantic models, five metric types, a saved
 * query, a dbt 1.9 `time_spine:`), on a project with the legacy
 * `metricflow_time_spine` model, and on one without a semantic layer. Before
 * resources/dbt/semantic_manifest.ts the file was not written.
 */

import assert from "node:assert/strict";
import { loadProject, writeManifest } from "../../../resources/dbt/mod.ts";
import { DbtError } from "../../../resources/dbt/errors.ts";
import { buildSemanticManifest } from "../../../resources/dbt/semantic_manifest.ts";
import { copyTree } from "./_project_cli.ts";
import { assertValidArtifact } from "./_dbt_schemas.ts";
import { writeProject } from "./_fixture.ts";

const FIXTURE = new URL("../../fixtures/dbt/sl_shop/", import.meta.url).pathname;

type Obj = Record<string, unknown>;

Deno.test("semantic_manifest.json: sl_shop's semantic layer as dbt-semantic-interfaces writes it", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbt-sm-" });
  try {
    await copyTree(FIXTURE, dir);
    const project = await loadProject(dir, { cache: false, env: () => undefined });
    await writeManifest(project, { invocationId: "x" });
    const written = JSON.parse(await Deno.readTextFile(`${dir}/target/semantic_manifest.json`));
    // manifest.json has the spine too (dbt 1.9's model time_spine and column granularity).
    const manifest = JSON.parse(await Deno.readTextFile(`${dir}/target/manifest.json`));
    const spineNode = manifest.nodes["model.sl_shop.metricflow_time_spine"];
    assert.deepEqual(spineNode.time_spine, {
      standard_granularity_column: "date_day",
      custom_granularities: [],
    });
    assert.equal(spineNode.columns.date_day.granularity, "day");
    assert.equal(manifest.nodes["model.sl_shop.orders"].time_spine, null);
    await assertValidArtifact("manifest", manifest);
    assert.deepEqual(written, JSON.parse(JSON.stringify(buildSemanticManifest(project))));
    assert.deepEqual(Object.keys(written), [
      "semantic_models",
      "metrics",
      "project_configuration",
      "saved_queries",
    ]);
    const orders = (written.semantic_models as Obj[]).find((m) => m.name === "orders") as Obj;
    // Only the Pydantic fields: no unique_id, fqn, depends_on, resource_type...
    assert.deepEqual(Object.keys(orders), [
      "name",
      "defaults",
      "description",
      "node_relation",
      "primary_entity",
      "entities",
      "measures",
      "dimensions",
      "label",
      "metadata",
      "config",
    ]);
    assert.deepEqual(orders.defaults, { agg_time_dimension: "ordered_at" });
    assert.deepEqual(orders.node_relation, {
      alias: "orders",
      schema_name: "sl",
      database: "postgres",
      relation_name: '"postgres"."sl"."orders"',
    });
    const measures = orders.measures as Obj[];
    assert.deepEqual(Object.keys(measures[0] as Obj), [
      "name",
      "agg",
      "description",
      "create_metric",
      "expr",
      "agg_params",
      "metadata",
      "non_additive_dimension",
      "agg_time_dimension",
      "label",
    ]);
    const ordered = (orders.dimensions as Obj[]).find((d) => d.name === "ordered_at") as Obj;
    assert.deepEqual(ordered.type_params, { time_granularity: "day", validity_params: null });
    assert.equal(ordered.is_partition, false);
    const entity = (orders.entities as Obj[])[1] as Obj;
    assert.deepEqual(entity, {
      name: "customer",
      description: null,
      type: "foreign",
      role: null,
      expr: "customer_id",
      metadata: null,
      label: null,
    });
    const metrics = new Map((written.metrics as Obj[]).map((m) => [m.name, m]));
    const total = metrics.get("order_total") as Obj;
    assert.deepEqual(Object.keys(total), [
      "name",
      "description",
      "type",
      "type_params",
      "filter",
      "metadata",
      "label",
      "config",
      "time_granularity",
    ]);
    const params = total.type_params as Obj;
    assert.deepEqual(Object.keys(params), [
      "measure",
      "numerator",
      "denominator",
      "expr",
      "window",
      "grain_to_date",
      "metrics",
      "conversion_type_params",
      "cumulative_type_params",
      "input_measures",
    ]);
    assert.deepEqual(params.measure, {
      name: "order_total",
      filter: null,
      alias: null,
      join_to_timespine: false,
      fill_nulls_with: null,
    });
    for (const m of metrics.values()) {
      assert.ok(
        ["simple", "ratio", "cumulative", "derived", "conversion"].includes(String(m.type)),
      );
    }
    const saved = (written.saved_queries as Obj[])[0] as Obj;
    assert.deepEqual(Object.keys(saved), [
      "name",
      "query_params",
      "description",
      "metadata",
      "label",
      "exports",
    ]);
    const query = saved.query_params as Obj;
    assert.deepEqual(query.metrics, ["order_total", "order_count", "large_order_share"]);
    assert.deepEqual(Object.keys(query), ["metrics", "group_by", "order_by", "limit", "where"]);
    // The model's `time_spine:` is the project's time spine; no legacy table configuration.
    assert.deepEqual(written.project_configuration, {
      time_spine_table_configurations: [],
      metadata: null,
      dsi_package_version: { major_version: "0", minor_version: "7", patch_version: "4" },
      time_spines: [{
        node_relation: {
          alias: "metricflow_time_spine",
          schema_name: "sl",
          database: "postgres",
          relation_name: '"postgres"."sl"."metricflow_time_spine"',
        },
        primary_column: { name: "date_day", time_granularity: "day" },
        custom_granularities: [],
      }],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

const SEMANTIC_YML = `version: 2
semantic_models:
  - name: things
    model: ref('things')
    defaults: {agg_time_dimension: at}
    entities: [{name: id, type: primary}]
    dimensions: [{name: at, type: time, type_params: {time_granularity: day}}]
    measures: [{name: n, agg: count, expr: id}]
metrics:
  - name: n
    label: N
    type: simple
    type_params: {measure: n}
`;

Deno.test("semantic_manifest.json: the legacy metricflow_time_spine model, and a project without a semantic layer", async () => {
  await using legacy = await writeProject({
    "models/things.sql": "select 1 as id, current_date as at",
    "models/metricflow_time_spine.sql": "select current_date as date_day",
    "models/semantic.yml": SEMANTIC_YML,
  });
  const withLegacy = buildSemanticManifest(
    await loadProject(legacy.dir, { cache: false, env: () => undefined }),
  ) as { project_configuration: Obj; semantic_models: Obj[]; metrics: Obj[] };
  assert.deepEqual(withLegacy.project_configuration.time_spine_table_configurations, [
    {
      location: '"postgres"."analytics"."metricflow_time_spine"',
      column_name: "date_day",
      grain: "day",
    },
  ]);
  assert.deepEqual(withLegacy.project_configuration.time_spines, []);
  assert.equal(withLegacy.semantic_models.length, 1);
  assert.equal(withLegacy.metrics[0]?.label, "N");

  await using plain = await writeProject({ "models/m.sql": "select 1 as id" });
  const project = await loadProject(plain.dir, { cache: false, env: () => undefined });
  await writeManifest(project, { invocationId: "x" });
  assert.deepEqual(
    JSON.parse(await Deno.readTextFile(`${plain.dir}/target/semantic_manifest.json`)),
    {
      semantic_models: [],
      metrics: [],
      project_configuration: {
        time_spine_table_configurations: [],
        metadata: null,
        dsi_package_version: { major_version: "0", minor_version: "7", patch_version: "4" },
        time_spines: [],
      },
      saved_queries: [],
    },
  );
});

Deno.test("semantic_manifest.json: a time_spine whose column has no granularity fails the parse naming the file", async () => {
  await using project = await writeProject({
    "models/spine.sql": "select current_date as date_day",
    "models/spine.yml": `version: 2
models:
  - name: spine
    time_spine:
      standard_granularity_column: date_day
    columns:
      - name: date_day
`,
  });
  await assert.rejects(
    () => loadProject(project.dir, { cache: false, env: () => undefined }),
    (error: unknown) =>
      error instanceof DbtError && error.file === "models/spine.yml" &&
      /time_spine standard_granularity_column 'date_day'.*granularity/.test(error.message),
  );
});

Deno.test("semantic models without a time spine of day or finer fail the parse, as in dbt-core", async (t) => {
  const spine = (grain: string) =>
    `version: 2
models:
  - name: calendar
    time_spine:
      standard_granularity_column: period
    columns:
      - name: period
        granularity: ${grain}
`;
  const load = async (files: Record<string, string>) => {
    await using project = await writeProject({
      "models/things.sql": "select 1 as id, current_date as at",
      "models/semantic.yml": SEMANTIC_YML,
      ...files,
    });
    return await loadProject(project.dir, { cache: false, env: () => undefined });
  };
  const refused = (error: unknown) =>
    error instanceof DbtError && error.file === "models/semantic.yml" &&
    /The semantic layer requires a time spine model with granularity DAY or smaller in the project, but none was found \(semantic model 'things'\)/
      .test(error.message);
  await t.step("no time spine at all", async () => {
    await assert.rejects(() => load({}), refused);
  });
  await t.step("only a monthly one", async () => {
    await assert.rejects(
      () =>
        load({
          "models/calendar.sql": "select current_date as period",
          "models/calendar.yml": spine("month"),
        }),
      refused,
    );
  });
  await t.step("a daily or hourly one, or the legacy model, will do", async () => {
    for (const grain of ["day", "hour"]) {
      const project = await load({
        "models/calendar.sql": "select current_date as period",
        "models/calendar.yml": spine(grain),
      });
      assert.equal(project.semantic.length, 2);
    }
    await load({ "models/metricflow_time_spine.sql": "select current_date as date_day" });
  });
  await t.step("metrics alone need none", async () => {
    await using project = await writeProject({ "models/m.sql": "select 1 as id" });
    await loadProject(project.dir, { cache: false, env: () => undefined });
  });
});

Deno.test("semantic_manifest.json is written on one line, as Pydantic's .json() writes it", async () => {
  await using project = await writeProject({
    "models/things.sql": "select 1 as id, current_date as at",
    "models/metricflow_time_spine.sql": "select current_date as date_day",
    "models/semantic.yml": SEMANTIC_YML.replace("label: N", "label: Nº"),
  });
  const loaded = await loadProject(project.dir, { cache: false, env: () => undefined });
  await writeManifest(loaded, { invocationId: "x" });
  const text = await Deno.readTextFile(`${project.dir}/target/semantic_manifest.json`);
  // Python's json.dumps: one line, ", " and ": " separators, non-ASCII escaped, no newline.
  assert.ok(!text.includes("\n"));
  assert.ok(text.startsWith('{"semantic_models": [{"name": "things", "defaults": {'), text);
  assert.ok(text.includes('"label": "N\\u00ba"'), text);
  assert.deepEqual(JSON.parse(text), JSON.parse(JSON.stringify(buildSemanticManifest(loaded))));
});

Deno.test("graph.metrics has the project's metrics as manifest.json does (dbt_project_evaluator unpacks them)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "dbt-sm-" });
  try {
    await copyTree(FIXTURE, dir);
    const project = await loadProject(dir, { cache: false, env: () => undefined });
    const text = await project.renderHook(
      "{% for m in graph.metrics.values() | sort(attribute='name') %}" +
        "{{ m.name }}:{{ m.type }}:{{ m.resource_type }};{% endfor %}",
      { file: "hook", query: () => Promise.reject(new Error("no query expected")) },
    );
    const manifest = project.semantic.filter((r) => r.kind === "metric")
      .map((r) => `${r.name}:${String(r.json.type)}:metric;`).sort().join("");
    assert.ok(manifest.length > 0);
    assert.equal(text, manifest); // was '': graph.metrics was always {}
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
