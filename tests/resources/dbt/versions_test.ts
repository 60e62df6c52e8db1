/**
 * Model versions (`versions:` in a model's properties): one node per version
 * under its file's name, refs by `v=` / `version=` and to the latest, each
 * version's columns and config from the model's with its own over them, and
 * the mistakes a project makes refused with the file and what to fix.
 */

import assert from "node:assert/strict";
import {
  DbtError,
  DbtErrorCode,
  loadProject,
  type LoadProjectOptions,
} from "../../../resources/dbt/mod.ts";
import { selectNodes } from "../../../resources/dbt/select.ts";
import { writeProject } from "./_fixture.ts";
import { buildManifest } from "../../../resources/dbt/artifacts.ts";
import { assertValidArtifact } from "./_dbt_schemas.ts";

const opts: LoadProjectOptions = { cache: false, env: () => undefined };

const PROPS = `version: 2
models:
  - name: dim
    latest_version: 1
    config:
      materialized: table
      tags: [core]
    columns:
      - name: id
        data_type: int
        description: The id.
      - name: name
        data_type: text
    versions:
      - v: 1
        columns:
          - include: all
            exclude: [name]
      - v: 2
        config:
          tags: [preview]
      - v: 3
        defined_in: dim_next
`;

const FILES = {
  "models/dim_v1.sql": "select 1 as id",
  "models/dim_v2.sql": "select 1 as id, 'a' as name",
  "models/dim_next.sql": "select 1 as id, 'a' as name",
  "models/props.yml": PROPS,
  "models/latest.sql": "select * from {{ ref('dim') }}",
  "models/second.sql": "select * from {{ ref('dim', v=2) }}",
  "models/third.sql": "select * from {{ ref('dim', version='3') }}",
};

Deno.test("versions: refs pick a version, each version has its own properties", async () => {
  await using project = await writeProject(FILES);
  const loaded = await loadProject(project.dir, opts);
  const depends = (name: string) => loaded.models.get(name)?.dependsOn;
  // dbt's unique ids: model.<package>.<model>.v<version>, whatever the file is called.
  assert.deepEqual(depends("latest"), ["model.demo.dim.v1"]);
  assert.deepEqual(depends("second"), ["model.demo.dim.v2"]);
  assert.deepEqual(depends("third"), ["model.demo.dim.v3"]);
  const v1 = loaded.models.get("dim_v1");
  const v2 = loaded.models.get("dim_v2");
  assert.equal(v1?.config.materialized, "table");
  assert.deepEqual(Object.keys(v1?.columns ?? {}), ["id"]);
  assert.equal(v1?.columns.id?.description, "The id.");
  assert.deepEqual(Object.keys(v2?.columns ?? {}), ["id", "name"]);
  assert.deepEqual(v2?.config.tags, ["preview"]);
  assert.equal(v2?.relation.identifier, "dim_v2");
});

Deno.test("versions: mistakes are refused naming the model and what exists", async (t) => {
  const cases: readonly (readonly [string, Record<string, string>, string, RegExp])[] = [
    [
      "a version that does not exist",
      { "models/second.sql": "select * from {{ ref('dim', v=9) }}" },
      DbtErrorCode.unknownRef,
      /ref\('dim', v=9\): model 'dim' has versions 1, 2, 3/,
    ],
    [
      "a version of a model without versions",
      { "models/second.sql": "select * from {{ ref('latest', v=1) }}" },
      DbtErrorCode.unknownRef,
      /model 'latest' has no versions/,
    ],
    [
      "latest_version not among the versions",
      { "models/props.yml": PROPS.replace("latest_version: 1", "latest_version: 7") },
      DbtErrorCode.invalidYaml,
      /model 'dim': latest_version 7 is not one of its versions \(1, 2, 3\)/,
    ],
    [
      "a version listed twice",
      { "models/props.yml": PROPS.replace("      - v: 2\n", "      - v: 1\n") },
      DbtErrorCode.invalidYaml,
      /model 'dim': version 1 is listed twice/,
    ],
  ];
  for (const [name, change, code, pattern] of cases) {
    await t.step(name, async () => {
      await using project = await writeProject({ ...FILES, ...change });
      try {
        await loadProject(project.dir, opts);
        assert.fail("expected an error");
      } catch (error) {
        assert.ok(error instanceof DbtError, String(error));
        assert.equal(error.code, code, error.message);
        assert.match(error.message, pattern);
        assert.match(error.message, /^models\//);
      }
    });
  }
});

Deno.test("versions: the manifest names each version as dbt (name, version, latest_version)", async () => {
  await using project = await writeProject(FILES);
  const loaded = await loadProject(project.dir, opts);
  const manifest = buildManifest(loaded, { invocationId: "x" }) as {
    nodes: Record<string, { name: string; version: unknown; latest_version: unknown }>;
  };
  await assertValidArtifact("manifest", manifest);
  const v2 = manifest.nodes["model.demo.dim.v2"];
  assert.deepEqual([v2?.name, v2?.version, v2?.latest_version], ["dim", 2, 1]);
  assert.equal(manifest.nodes["model.demo.dim.v3"]?.name, "dim");
  assert.equal(manifest.nodes["model.demo.dim_v2"], undefined);
});

Deno.test("versions: a version's fqn ends in its model's name and version; selectors match as dbt's", async () => {
  await using project = await writeProject(FILES);
  const loaded = await loadProject(project.dir, opts);
  const manifest = buildManifest(loaded, { invocationId: "x" }) as {
    nodes: Record<string, { fqn: string[] }>;
  };
  // dbt-core rewrites the fqn when it patches the version: `dim_v2.sql` is demo.dim.v2.
  assert.deepEqual(manifest.nodes["model.demo.dim.v2"]?.fqn, ["demo", "dim", "v2"]);
  assert.deepEqual(manifest.nodes["model.demo.dim.v3"]?.fqn, ["demo", "dim", "v3"]);
  assert.deepEqual(manifest.nodes["model.demo.latest"]?.fqn, ["demo", "latest"]);
  const pick = (...select: string[]) => [...selectNodes(loaded, select)].sort();
  assert.deepEqual(pick("dim"), ["model.demo.dim.v1", "model.demo.dim.v2", "model.demo.dim.v3"]);
  assert.deepEqual(pick("dim_v2"), ["model.demo.dim.v2"]);
  assert.deepEqual(pick("dim.v2"), ["model.demo.dim.v2"]);
  assert.deepEqual(pick("demo.dim.v3"), ["model.demo.dim.v3"]);
  assert.deepEqual(pick("dim_v*"), ["model.demo.dim.v1", "model.demo.dim.v2", "model.demo.dim.v3"]);
  assert.deepEqual(pick("latest"), ["model.demo.latest"]);
});

Deno.test("versions: unit tests read ref('dim', v=2) inputs and name the version they test", async () => {
  const unit = (extra: string) => ({
    ...FILES,
    "models/units.yml": `version: 2
unit_tests:
  - name: second_reads_v2
    model: second
    given:
      - input: ref('dim', v=2)
        rows: [{id: 7, name: x}]
    expect:
      rows: [{id: 7, name: x}]
${extra}`,
  });
  await using project = await writeProject(unit(""));
  const loaded = await loadProject(project.dir, opts);
  const test = loaded.unitTests.find((u) => u.name === "second_reads_v2");
  assert.ok(test);
  assert.match(test.modelSql, /__dbt__unit_input_0/);
  assert.equal(test.uniqueId, "unit_test.demo.second.second_reads_v2");
  assert.equal(test.inputs[0]?.relation?.identifier, "dim_v2");
  assert.deepEqual(test.dependsOn, ["model.demo.second"]);
  await using versioned = await writeProject(unit(`  - name: on_dim
    model: dim
    versions: {include: [2]}
    given: []
    expect:
      rows: [{id: 1, name: a}]
  - name: on_every_dim
    model: dim
    given: []
    expect:
      rows: [{id: 1}]
`));
  await assert.rejects(
    loadProject(versioned.dir, opts),
    /unit test 'on_every_dim': model 'dim' has versions 1, 2, 3: .*versions: \{include: \[<v>\]\}/,
  );
  await using wrongInput = await writeProject({
    ...unit(""),
    "models/units.yml": `version: 2
unit_tests:
  - name: bad
    model: second
    given:
      - input: ref('dim', v=9)
        rows: [{id: 1}]
    expect:
      rows: [{id: 1}]
`,
  });
  await assert.rejects(
    loadProject(wrongInput.dir, opts),
    /input ref\('dim', v=9\): .*has versions 1, 2, 3/,
  );
});
