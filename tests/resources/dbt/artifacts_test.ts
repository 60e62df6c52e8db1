/**
 * manifest.json, run_results.json, catalog.json and sources.json validate
 * against dbt's published JSON schemas, whole (manifest v12, run-results v6,
 * catalog v1, sources v3; see tests/fixtures/dbt/schemas/README.md), and the
 * zod schemas here pin the values tools read and the parent/child maps.
 */

import assert from "node:assert/strict";
import { z } from "zod";
import {
  buildManifest,
  loadProject,
  MANIFEST_SCHEMA,
  RUN_RESULTS_SCHEMA,
  runProject,
} from "../../../resources/dbt/mod.ts";
import { openWarehouse } from "../../../resources/warehouse/mod.ts";
import { copyRepoProject, RAW_TABLES_SQL, writeProject } from "./_fixture.ts";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import {
  artifactErrors,
  artifactValidator,
  assertValidArtifact,
  assertValidArtifactFile,
} from "./_dbt_schemas.ts";

const str = z.string();
const nullableStr = z.string().nullable();

/** Fields of ModelNode / GenericTestNode / SingularTestNode that manifest v12 requires, plus what tools read. */
const NodeSchema = z.looseObject({
  database: str,
  schema: str,
  name: str,
  resource_type: z.enum(["model", "test", "seed", "snapshot"]),
  package_name: str,
  path: str,
  original_file_path: str,
  unique_id: str,
  fqn: z.array(str),
  alias: str,
  checksum: z.object({ name: str, checksum: z.string() }),
  config: z.looseObject({ materialized: str, unique_key: z.unknown().optional() }),
  depends_on: z.object({ macros: z.array(str), nodes: z.array(str).optional() }), // seeds: macros only
  // Models carry it once compiled (as in dbt: a parse's manifest has none); tests always.
  compiled_code: str.optional(),
  raw_code: str,
  relation_name: nullableStr,
  description: z.string(),
  columns: z.record(str, z.looseObject({ name: str, description: z.string() })),
  test_metadata: z.object({
    name: str,
    kwargs: z.record(str, z.unknown()),
    namespace: nullableStr,
  }).optional(),
  attached_node: nullableStr.optional(),
});

/** Fields of SourceDefinition that manifest v12 requires. */
const SourceSchema = z.looseObject({
  database: str,
  schema: str,
  name: str,
  resource_type: z.literal("source"),
  package_name: str,
  path: str,
  original_file_path: str,
  unique_id: str,
  fqn: z.array(str),
  source_name: str,
  source_description: z.string(),
  loader: z.string(),
  identifier: str,
  meta: z.record(str, z.unknown()),
});

const idMap = z.record(str, z.array(str));

/** The manifest v12 top level: every required key. */
const ManifestSchema = z.looseObject({
  metadata: z.looseObject({ dbt_schema_version: str, dbt_version: str, invocation_id: str }),
  nodes: z.record(str, NodeSchema),
  sources: z.record(str, SourceSchema),
  macros: z.record(str, z.unknown()),
  docs: z.record(str, z.unknown()),
  exposures: z.record(str, z.unknown()),
  metrics: z.record(str, z.unknown()),
  groups: z.record(str, z.unknown()),
  selectors: z.record(str, z.unknown()),
  disabled: z.record(str, z.unknown()),
  parent_map: idMap,
  child_map: idMap,
  group_map: z.record(str, z.unknown()),
  saved_queries: z.record(str, z.unknown()),
  semantic_models: z.record(str, z.unknown()),
  unit_tests: z.record(str, z.unknown()),
});

const iso = z.string().refine((v) => !Number.isNaN(Date.parse(v)), "an ISO timestamp");

/** A run-results v6 result: exactly its keys (the schema says additionalProperties: false). */
const ResultSchema = z.strictObject({
  status: z.enum(["success", "error", "skipped", "pass", "fail", "warn"]),
  timing: z.array(
    z.strictObject({ name: str, started_at: iso.nullable(), completed_at: iso.nullable() }),
  ),
  thread_id: str,
  execution_time: z.number().nonnegative(),
  adapter_response: z.record(str, z.unknown()),
  message: nullableStr,
  failures: z.number().int().nullable(),
  unique_id: str,
  compiled: z.boolean().nullable(),
  compiled_code: nullableStr,
  relation_name: nullableStr,
});

/** The run-results v6 top level (additionalProperties: false). */
const RunResultsSchema = z.strictObject({
  metadata: z.strictObject({
    dbt_schema_version: str,
    dbt_version: str,
    generated_at: iso,
    invocation_id: nullableStr,
    env: z.record(str, str),
  }),
  results: z.array(ResultSchema),
  elapsed_time: z.number(),
  args: z.record(str, z.unknown()),
});

Deno.test("dbt artifacts follow dbt's schemas", async (t) => {
  await using project = await copyRepoProject();
  const p = await loadProject(project.dir);
  // One on-disk PGlite for every step, so the CLI steps reach what runProject built.
  const warehouseDir = await Deno.makeTempDir();
  await using _cleanup = {
    [Symbol.asyncDispose]: () => Deno.remove(warehouseDir, { recursive: true }),
  };
  const url = `pglite:${warehouseDir}/wh`;
  const read = async (name: string) =>
    JSON.parse(await Deno.readTextFile(`${project.dir}/target/${name}`));

  await t.step("manifest v12: required fields, nodes, sources, maps", async () => {
    const raw = buildManifest(p, { invocationId: "inv-1" });
    await assertValidArtifact("manifest", raw);
    const manifest = ManifestSchema.parse(raw);
    // Nothing compiled yet: a parse's manifest has no compiled code (dbt's neither).
    assert.equal(
      manifest.nodes["model.platform_marts.fct_weather_daily"]?.compiled_code,
      undefined,
    );
    assert.equal(manifest.metadata.dbt_schema_version, MANIFEST_SCHEMA);
    assert.equal(manifest.metadata.invocation_id, "inv-1");
    const nodes = Object.values(manifest.nodes);
    assert.equal(nodes.filter((n) => n.resource_type === "model").length, 8);
    assert.equal(nodes.filter((n) => n.resource_type === "test").length, p.tests.length);
    for (const [id, node] of Object.entries(manifest.nodes)) assert.equal(node.unique_id, id);
    // raw.raw_weather, raw.daily_activity, raw.sleep, and lake.geoparquet_features (read by DuckDB targets).
    assert.equal(Object.keys(manifest.sources).length, 4);
    const fct = manifest.nodes["model.platform_marts.fct_weather_daily"] ?? assert.fail("fct");
    assert.equal(fct.config.materialized, "incremental");
    assert.equal(fct.config.unique_key, "weather_day_id");
    // With the database, as dbt-postgres writes it (compiled SQL leaves it out).
    assert.equal(fct.relation_name, `"postgres"."analytics_marts"."fct_weather_daily"`);
    assert.deepEqual(fct.depends_on.nodes, ["model.platform_marts.stg_weather_data"]);
    assert.equal(manifest.nodes["model.platform_marts.int_user_days"]?.relation_name, null);
    assert.deepEqual(manifest.parent_map["model.platform_marts.stg_weather_data"], [
      "source.platform_marts.raw.raw_weather",
    ]);
    assert.ok(
      manifest.child_map["model.platform_marts.stg_weather_data"]?.includes(
        "model.platform_marts.fct_weather_daily",
      ),
    );
    // Every id in either map is a node or a source, and the maps mirror each other.
    const ids = new Set([...Object.keys(manifest.nodes), ...Object.keys(manifest.sources)]);
    for (const [child, parents] of Object.entries(manifest.parent_map)) {
      assert.ok(ids.has(child), child);
      for (const parent of parents) assert.ok(manifest.child_map[parent]?.includes(child));
    }
    const test = nodes.find((n) => n.test_metadata?.name === "accepted_values");
    assert.deepEqual(test?.test_metadata?.kwargs.values, ["good", "fair", "poor"]);
    assert.equal(test?.attached_node, "model.platform_marts.outdoor_conditions_daily");
  });

  await t.step("run_results v6: exactly the schema's keys, with timing", async () => {
    await using warehouse = await openWarehouse(url);
    await warehouse.exec(RAW_TABLES_SQL);
    const run = await runProject(p, warehouse, { invocationId: "inv-2" });
    assert.equal(run.success, true);
    const raw = JSON.parse(await Deno.readTextFile(`${project.dir}/target/run_results.json`));
    await assertValidArtifact("run_results", raw);
    const file = RunResultsSchema.parse(raw);
    assert.equal(file.metadata.dbt_schema_version, RUN_RESULTS_SCHEMA);
    assert.equal(file.metadata.invocation_id, "inv-2");
    assert.equal(typeof file.elapsed_time, "number");
    // Source tests check the loaders' assets, not a model: runProject leaves them out.
    const modelTests = p.tests.filter((x) => x.dependsOn.some((id) => id.startsWith("model.")));
    // dbt build runs every test, source tests included. Seven models: the
    // ephemeral int_user_days is compiled into its children and, as in
    // dbt-core, is not a result of its own (since 1581e9d).
    assert.equal(file.results.length, 7 + p.tests.length);
    assert.ok(!file.results.some((r) => r.unique_id.endsWith(".int_user_days")));
    assert.ok(modelTests.length > 0);
    for (const result of file.results) {
      assert.deepEqual(result.timing.map((x) => x.name), ["compile", "execute"]);
      assert.ok(["success", "pass"].includes(result.status), result.unique_id);
    }
    const built = JSON.parse(await Deno.readTextFile(`${project.dir}/target/manifest.json`));
    await assertValidArtifact("manifest", built);
    const manifest = ManifestSchema.parse(built);
    assert.equal(manifest.metadata.invocation_id, "inv-2");
    // Rewritten at the end of the run with the SQL of every node it built.
    assert.match(
      manifest.nodes["model.platform_marts.fct_weather_daily"]?.compiled_code ?? "",
      /from "postgres"\."analytics_staging"\."stg_weather_data"/,
    );
  });

  await t.step("catalog v1 and sources v3 from docs generate and source freshness", async () => {
    const env = (name: string) => (name === "WAREHOUSE_URL" ? url : undefined);
    const lines: string[] = [];
    const io = { out: (l: string) => lines.push(l), err: (l: string) => lines.push(l) };
    const run = (...args: string[]) =>
      runDbtCli([...args, "--project-dir", project.dir], io, { env });
    assert.equal(await run("docs", "generate"), 0, lines.join("\n"));
    const catalog = await read("catalog.json");
    await assertValidArtifact("catalog", catalog);
    assert.ok(catalog.nodes["model.platform_marts.fct_weather_daily"]);
    assert.ok(catalog.sources["source.platform_marts.raw.raw_weather"]);
    // No source of this project declares freshness: the result list is empty, still valid.
    assert.equal(await run("source", "freshness"), 0, lines.join("\n"));
    await assertValidArtifact("sources", await read("sources.json"));
    await assertValidArtifact("manifest", await read("manifest.json"));
  });
});

Deno.test("new node kinds, catalog.json and sources.json follow dbt's schemas", async () => {
  await using project = await writeProject({
    "seeds/codes.csv": "code,label\nA,first\nB,second\n",
    "snapshots/snap.sql": `{% snapshot codes_snap %}
{{ config(target_schema='snapshots', unique_key='code', strategy='check', check_cols='all') }}
select * from {{ ref('codes') }}
{% endsnapshot %}`,
    "models/m.sql": "select code, {{ shout('label') }} as label from {{ ref('codes') }}",
    "macros/shout.sql": "{% macro shout(x) %}upper({{ x }}){% endmacro %}",
    "tests/no_blank_codes.sql": "select * from {{ ref('m') }} where code = ''",
    "models/docs.md": "{% docs codes %}Codes we use.{% enddocs %}",
    "models/schema.yml": `version: 2
sources:
  - name: raw
    tables:
      - name: events
        loaded_at_field: at
        freshness:
          warn_after: {count: 1, period: hour}
          error_after: {count: 2, period: day}
models:
  - name: m
    description: "{{ doc('codes') }}"
    columns:
      - name: code
        data_tests: [unique]
unit_tests:
  - name: upper_labels
    model: m
    given:
      - input: ref('codes')
        rows: [{code: A, label: x}]
    expect:
      rows: [{code: A, label: X}]
  - name: upper_labels_csv
    model: m
    given:
      - input: ref('codes')
        format: csv
        rows: |
          code,label
          B,y
    expect:
      format: csv
      rows: |
        code,label
        B,Y
exposures:
  - name: board
    type: dashboard
    owner: {email: a@example.com}
    depends_on: [ref('m')]
`,
  });
  const warehouseDir = await Deno.makeTempDir();
  try {
    const url = `pglite:${warehouseDir}/wh`;
    {
      await using warehouse = await openWarehouse(url);
      await warehouse.exec(
        "create schema raw; create table raw.events (at timestamptz); insert into raw.events values (now() - interval '3 hours')",
      );
    }
    const env = (name: string) => (name === "WAREHOUSE_URL" ? url : undefined);
    const io = { out: () => {}, err: () => {} };
    const run = (...args: string[]) =>
      runDbtCli([...args, "--project-dir", project.dir], io, { env });
    // Every command that writes artifacts writes them valid, not only build.
    for (const command of ["parse", "compile", "seed", "snapshot", "run", "test"]) {
      await Deno.remove(`${project.dir}/target/run_results.json`).catch(() => {});
      assert.equal(await run(command), 0, command);
      await assertValidArtifactFile(project.dir, "manifest");
      const wrote = await Deno.stat(`${project.dir}/target/run_results.json`)
        .then(() => true, () => false);
      if (["seed", "snapshot", "run", "test"].includes(command)) assert.ok(wrote, command);
      if (wrote) await assertValidArtifactFile(project.dir, "run_results");
    }
    assert.equal(await run("build"), 0);
    assert.equal(await run("docs", "generate"), 0);
    assert.equal(await run("source", "freshness"), 0); // warn only
    const read = async (name: string) =>
      JSON.parse(await Deno.readTextFile(`${project.dir}/target/${name}`));
    const rawManifest = await read("manifest.json");
    await assertValidArtifact("manifest", rawManifest);
    const manifest = ManifestSchema.parse(rawManifest);
    assert.equal(manifest.nodes["seed.demo.codes"]?.resource_type, "seed");
    assert.equal(manifest.nodes["test.demo.no_blank_codes"]?.resource_type, "test");
    assert.deepEqual(manifest.nodes["model.demo.m"]?.depends_on.macros, ["macro.demo.shout"]);
    // The schema check can fail: a seed carrying a model's fields is refused.
    const check = await artifactValidator("manifest");
    const seed = rawManifest.nodes["seed.demo.codes"];
    assert.equal(check({ ...rawManifest, nodes: { x: { ...seed, language: "sql" } } }), false);
    assert.equal(
      check({ ...rawManifest, nodes: { x: { ...seed, depends_on: { nodes: [] } } } }),
      false,
    );
    const snap = rawManifest.nodes["snapshot.demo.codes_snap"];
    assert.equal(check({ ...rawManifest, nodes: { x: { ...snap, access: "protected" } } }), false);
    assert.equal(manifest.nodes["snapshot.demo.codes_snap"]?.resource_type, "snapshot");
    assert.ok(manifest.unit_tests["unit_test.demo.m.upper_labels"]);
    assert.deepEqual(manifest.unit_tests["unit_test.demo.m.upper_labels_csv"], {
      ...(manifest.unit_tests["unit_test.demo.m.upper_labels_csv"] as object),
      given: [{ input: "ref('codes')", rows: "code,label\nB,y\n", format: "csv", fixture: null }],
      expect: { rows: "code,label\nB,Y\n", format: "csv", fixture: null },
    });
    assert.ok(manifest.exposures["exposure.demo.board"]);
    assert.ok(manifest.docs["doc.demo.codes"]);
    assert.equal(manifest.nodes["model.demo.m"]?.description, "Codes we use.");
    await assertValidArtifact("run_results", await read("run_results.json"));
    const results = RunResultsSchema.parse(await read("run_results.json"));
    assert.ok(
      results.results.some((r) =>
        r.unique_id === "unit_test.demo.m.upper_labels" && r.status === "pass"
      ),
    );
    const catalog = await read("catalog.json");
    await assertValidArtifact("catalog", catalog);
    assert.deepEqual(Object.keys(catalog.nodes["model.demo.m"].columns), ["code", "label"]);
    assert.ok(catalog.sources["source.demo.raw.events"]);
    const sources = await read("sources.json");
    await assertValidArtifact("sources", sources);
    assert.equal(sources.results[0].status, "warn");

    // Each check can fail on a real mistake, and says where and what in words.
    const { checksum: _checksum, ...modelWithoutChecksum } = rawManifest.nodes["model.demo.m"];
    const manifestErrors = await artifactErrors("manifest", {
      ...rawManifest,
      nodes: { ...rawManifest.nodes, "model.demo.m": modelWithoutChecksum },
    });
    assert.match(
      manifestErrors ?? "",
      /\/nodes\/model\.demo\.m: must have required property 'checksum'/,
    );
    const rawResults = await read("run_results.json");
    const { thread_id: _thread, ...resultWithoutThread } = rawResults.results[0];
    assert.match(
      (await artifactErrors("run_results", {
        ...rawResults,
        results: [resultWithoutThread, ...rawResults.results.slice(1)],
      })) ?? "",
      /\/results\/0: must have required property 'thread_id'/,
    );
    const { stats: _stats, ...tableWithoutStats } = catalog.nodes["model.demo.m"];
    assert.match(
      (await artifactErrors("catalog", {
        ...catalog,
        nodes: { ...catalog.nodes, "model.demo.m": tableWithoutStats },
      })) ?? "",
      /\/nodes\/model\.demo\.m: must have required property 'stats'/,
    );
    const staleResult = { ...sources.results[0], status: "stale" };
    assert.match(
      (await artifactErrors("sources", { ...sources, results: [staleResult] })) ?? "",
      /\/results\/0\/status: must be equal to one of the allowed values/,
    );
    const { criteria: _criteria, ...resultWithoutCriteria } = sources.results[0];
    assert.match(
      (await artifactErrors("sources", { ...sources, results: [resultWithoutCriteria] })) ?? "",
      /\/results\/0: must have required property 'criteria'/,
    );
  } finally {
    await Deno.remove(warehouseDir, { recursive: true });
  }
});

Deno.test("run_results.json with errors, failures, warnings and skips follows run-results v6", async () => {
  await using project = await writeProject({
    "models/a.sql": "select 1 as id union all select 1",
    "models/c.sql": "select 1 as id",
    "models/broken.sql": "select nope from {{ ref('c') }}",
    "models/after.sql": "select * from {{ ref('broken') }}",
    "models/schema.yml": `version: 2
models:
  - name: a
    columns:
      - name: id
        data_tests:
          - unique
          - not_null:
              config: {severity: warn}
          - accepted_values:
              values: [2]
              config: {severity: warn}
`,
  });
  await using warehouse = await openWarehouse("pglite:memory:");
  const p = await loadProject(project.dir, { cache: false });
  const run = await runProject(p, warehouse, { invocationId: "inv-3" });
  assert.equal(run.success, false);
  const raw = JSON.parse(await Deno.readTextFile(`${project.dir}/target/run_results.json`));
  await assertValidArtifact("run_results", raw);
  const statuses = new Set(raw.results.map((r: { status: string }) => r.status));
  for (const status of ["success", "error", "skipped", "fail", "pass", "warn"]) {
    assert.ok(statuses.has(status), `${status} in ${[...statuses].join(",")}`);
  }
  // A failing error test on `a` does not skip its sibling tests (dbt runs them all).
  const byId = new Map(raw.results.map((r: { unique_id: string; status: string }) => [
    r.unique_id,
    r.status,
  ]));
  assert.equal(byId.get(p.tests.find((t) => t.testName === "not_null")?.uniqueId), "pass");
  assert.equal(byId.get(p.tests.find((t) => t.testName === "accepted_values")?.uniqueId), "warn");
  // The schema is not a test that cannot fail: an extra key is refused.
  assert.match((await artifactErrors("run_results", { ...raw, extra: 1 })) ?? "", /'extra'/);
});

Deno.test("sources.json with pass, warn, error and runtime error follows sources v3", async () => {
  const rule = (warn: string, error: string) =>
    `freshness: {warn_after: {count: ${warn}}, error_after: {count: ${error}}}`;
  await using project = await writeProject({
    "models/schema.yml": `version: 2
sources:
  - name: raw
    loaded_at_field: at
    tables:
      - name: fresh
        ${rule("1, period: hour", "2, period: hour")}
      - name: late
        ${rule("1, period: minute", "1, period: day")}
      - name: stale
        ${rule("1, period: minute", "2, period: minute")}
      - name: missing
        ${rule("1, period: hour", "1, period: day")}
`,
  });
  const warehouseDir = await Deno.makeTempDir();
  try {
    const url = `pglite:${warehouseDir}/wh`;
    {
      await using warehouse = await openWarehouse(url);
      await warehouse.exec(`create schema raw;
        create table raw.fresh as select now() as at;
        create table raw.late as select now() - interval '2 hours' as at;
        create table raw.stale as select now() - interval '3 hours' as at;`);
    }
    const env = (name: string) => (name === "WAREHOUSE_URL" ? url : undefined);
    const io = { out: () => {}, err: () => {} };
    assert.equal(
      await runDbtCli(["source", "freshness", "--project-dir", project.dir], io, { env }),
      1,
    );
    const sources = JSON.parse(await Deno.readTextFile(`${project.dir}/target/sources.json`));
    await assertValidArtifact("sources", sources);
    const byTable = Object.fromEntries(
      sources.results.map((r: { unique_id: string; status: string }) => [
        r.unique_id.split(".").at(-1),
        r.status,
      ]),
    );
    assert.deepEqual(byTable, {
      fresh: "pass",
      late: "warn",
      stale: "error",
      missing: "runtime error",
    });
    const failed = sources.results.find((r: { status: string }) => r.status === "runtime error");
    assert.deepEqual(Object.keys(failed).sort(), ["error", "status", "unique_id"]);
  } finally {
    await Deno.remove(warehouseDir, { recursive: true });
  }
});

Deno.test("what dbt refuses in exposures, freshness rules and unit tests is refused, not written into a manifest that breaks v12", async () => {
  const cases: Record<string, RegExp> = {
    "exposures: [{name: e, type: Dashboard, owner: {name: a}}]": /type/,
    "exposures: [{name: e, type: dashboard, owner: {}}]": /owner needs a name or an email/,
    "unit_tests: [{name: u, model: m, given: [{rows: [{id: 1}]}], expect: {rows: []}}]": /input/,
    "exposures: [{name: e, type: dashboard}]": /owner/,
    "exposures: [{name: e, type: ml, owner: {name: a}, maturity: mature}]": /maturity/,
    "sources: [{name: s, tables: [{name: t, freshness: {warn_after: {count: 1, period: hours}}}]}]":
      /period/,
    "sources: [{name: s, tables: [{name: t, freshness: {warn_after: {count: 1.5, period: hour}}}]}]":
      /count/,
    "sources: [{name: s, freshness: {error_after: {count: 1, period: day, every: 2}}, tables: [{name: t}]}]":
      /every/,
  };
  for (const [yml, key] of Object.entries(cases)) {
    await using project = await writeProject({
      "models/m.sql": "select 1 as id",
      "models/schema.yml": `version: 2\n${yml}\n`,
    });
    const error = await loadProject(project.dir, { cache: false }).then(
      () => assert.fail(`accepted: ${yml}`),
      (e: Error) => e,
    );
    assert.match(error.message, /schema\.yml/, yml);
    assert.match(error.message, key, `${yml}: ${error.message}`);
  }
});

Deno.test("manifest macros carry macro_sql: each block as written, tests as test_<name>", async () => {
  const shout = "{% macro shout(x) -%}\n  upper({{ x }})\n{%- endmacro %}";
  const positive = "{% test positive(model, column_name) %}\n" +
    "select * from {{ model }} where {{ column_name }} < 0\n{% endtest %}";
  await using project = await writeProject({
    "models/m.sql": "select 1 as id",
    "macros/util.sql": `-- helpers\n${shout}\n\n${positive}\n`,
  });
  const loaded = await loadProject(project.dir, { cache: false, env: () => undefined });
  const manifest = buildManifest(loaded, { invocationId: "x" }) as {
    macros: Record<string, { macro_sql: string }>;
  };
  assert.equal(manifest.macros["macro.demo.shout"]?.macro_sql, shout);
  assert.equal(manifest.macros["macro.demo.test_positive"]?.macro_sql, positive);
  const globalMacro = Object.entries(manifest.macros).find(([id]) => id.startsWith("macro.dbt."));
  assert.match(globalMacro?.[1].macro_sql ?? "", /^\{%-? *macro /);
  await assertValidArtifact("manifest", manifest);
});

Deno.test("relation_name: database, schema and name as dbt-postgres writes them; null for an ephemeral model", async () => {
  await using project = await writeProject({
    "seeds/codes.csv": "code\nA\n",
    "snapshots/snap.sql": `{% snapshot codes_snap %}
{{ config(target_schema='snapshots', unique_key='code', strategy='check', check_cols='all') }}
select * from {{ ref('codes') }}
{% endsnapshot %}`,
    "models/eph.sql": "{{ config(materialized='ephemeral') }}select 1 as id",
    "models/m.sql": "select * from {{ ref('eph') }}, {{ source('raw', 'events') }}",
    "models/schema.yml": `version: 2
sources:
  - name: raw
    quoting: {identifier: false}
    tables:
      - name: events
        identifier: EVENTS
models:
  - name: m
    columns:
      - name: id
        data_tests:
          - not_null: {config: {store_failures: true}}
          - unique
`,
  });
  const loaded = await loadProject(project.dir, { cache: false, env: () => undefined });
  const manifest = buildManifest(loaded, { invocationId: "x" }) as {
    nodes: Record<string, { relation_name: string | null; compiled_code?: string }>;
    sources: Record<string, { relation_name: string | null }>;
  };
  const relationName = (id: string) => manifest.nodes[id]?.relation_name;
  assert.equal(relationName("model.demo.m"), '"postgres"."analytics"."m"');
  assert.equal(relationName("seed.demo.codes"), '"postgres"."analytics"."codes"');
  assert.equal(relationName("snapshot.demo.codes_snap"), '"postgres"."snapshots"."codes_snap"');
  assert.equal(relationName("model.demo.eph"), null);
  // A test has one only when it stores its failures: its audit table.
  const testIds = Object.keys(manifest.nodes).filter((id) => id.startsWith("test."));
  const notNull = testIds.find((id) => id.includes(".not_null_m_id.")) ?? assert.fail("not_null");
  const unique = testIds.find((id) => id.includes(".unique_m_id.")) ?? assert.fail("unique");
  assert.equal(relationName(notNull), '"postgres"."analytics_dbt_test__audit"."not_null_m_id"');
  assert.equal(relationName(unique), null);
  assert.equal(
    manifest.sources["source.demo.raw.events"]?.relation_name,
    '"postgres"."raw".EVENTS',
  );
  // Compiled SQL keeps the connection's database implicit.
  assert.match(loaded.models.get("m")?.compiledCode ?? "", /"raw"\.EVENTS/);
  await assertValidArtifact("manifest", manifest);
});
