/**
 * Property YAML parsed on a worker thread (resources/dbt/project/yaml_pool.ts)
 * gives the same project as the main thread alone, byte for byte in the
 * manifest, and the same first error naming the same file and line.
 *
 * Each load with the worker reads a project written to a new folder: a file
 * this process has read before is parsed on the main thread (its validated
 * value is kept), so the worker would have nothing to do.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DbtError, DbtErrorCode, loadProject } from "../../../resources/dbt/mod.ts";
import { buildManifest } from "../../../resources/dbt/artifacts.ts";
import { workerThreadsStarted, YamlWorker } from "../../../resources/dbt/project/yaml_pool.ts";
import { yamlValue } from "../../../resources/dbt/project/yaml_value.ts";
import { type ProjectSources, readProject } from "../../../resources/dbt/project/read.ts";
import { writeProject } from "./_fixture.ts";

/** A project whose YAML uses what real ones do: anchors and merge keys, sources, seeds, configs. */
function files(models: number): Record<string, string> {
  const out: Record<string, string> = {
    "macros/cents.sql": "{% macro cents(col) %}({{ col }} * 100){% endmacro %}",
    "seeds/countries.csv": "code,name\nfr,France\nde,Germany\n",
    "seeds/properties.yml":
      "version: 2\nseeds:\n  - name: countries\n    description: ISO codes.\n" +
      "    columns:\n      - name: code\n        data_tests: [unique, not_null]\n",
    "models/sources.yml": `version: 2
sources:
  - name: raw
    schema: raw
    tables:
      - name: orders
        columns:
          - name: id
            data_tests: [not_null]
`,
  };
  for (let folder = 0; folder < 3; folder++) {
    let yml = "version: 2\nx-common: &common\n  meta: {owner: data}\n  config: {tags: ['gen']}\n" +
      "models:\n";
    for (let i = 0; i < models; i++) {
      const name = `m_${folder}_${i}`;
      out[`models/f${folder}/${name}.sql`] = folder === 0
        ? `select id, {{ cents('amount') }} as cents from {{ source('raw', 'orders') }}`
        : `select id from {{ ref('m_${folder - 1}_${i}') }}`;
      yml +=
        `  - name: ${name}\n    <<: *common\n    description: "Model ${i}: 'quoted' \\u00e9"\n` +
        `    columns:\n      - name: id\n        data_tests:\n          - unique\n` +
        `          - accepted_values:\n              values: [1, 2.5, true, null, "x"]\n` +
        `              config: {severity: warn, where: "id > 0"}\n` +
        (folder > 0
          ? `          - relationships:\n              to: ref('m_${folder - 1}_${i}')\n` +
            `              field: id\n`
          : "");
    }
    out[`models/f${folder}/schema.yml`] = yml;
  }
  return out;
}

function manifestOf(project: Awaited<ReturnType<typeof loadProject>>): string {
  const manifest = buildManifest(project, { invocationId: "x", generatedAt: new Date(0) });
  return JSON.stringify({
    manifest,
    sql: [...project.nodes.values()].map((n) => n.compiledCode),
    tests: project.tests.map((t) => [t.uniqueId, t.compiledCode, t.severity, t.dependsOn]),
  });
}

Deno.test("parallel parse: the YAML worker gives the same manifest as the main thread", async () => {
  const written = files(40);
  await using serial = await writeProject(written);
  await using parallel = await writeProject(written);
  const started = workerThreadsStarted();
  const withWorker = await loadProject(parallel.dir, { cache: false, parallel: true });
  assert.equal(workerThreadsStarted(), started + 1, "the worker parsed the YAML");
  const alone = await loadProject(serial.dir, { cache: false, parallel: false });
  assert.equal(workerThreadsStarted(), started + 1, "parallel: false starts no worker");
  // Paths differ (two folders): compare with the folder written as the same placeholder.
  assert.equal(
    manifestOf(withWorker).replaceAll(parallel.dir, "<dir>"),
    manifestOf(alone).replaceAll(serial.dir, "<dir>"),
  );
  assert.equal(withWorker.tests.length, 40 * 2 + 40 * 3 * 2 + 2 + 1);
});

Deno.test("parallel parse: the worker's values are written to and served from the parse cache", async () => {
  await using project = await writeProject(files(5));
  const started = workerThreadsStarted();
  const first = await loadProject(project.dir, { parallel: true });
  assert.equal(workerThreadsStarted(), started + 1);
  const cache = JSON.parse(await Deno.readTextFile(`${project.dir}/target/partial_parse.json`));
  // The three schema.yml, sources.yml and the seeds' properties.
  assert.equal(Object.keys(cache.yaml).length, 5);
  // A cache holding YAML is read instead: no worker.
  const second = await loadProject(project.dir, { parallel: true });
  assert.equal(workerThreadsStarted(), started + 1);
  assert.equal(manifestOf(second), manifestOf(first));
});

Deno.test("parallel parse: errors name the same file and line with and without the worker", async (t) => {
  const cases: [string, Record<string, string>, string, string, number][] = [
    [
      "a YAML syntax error in the second of three files",
      { "models/f1/schema.yml": "version: 2\nmodels:\n  - name: m_1_0\n    columns: [\n" },
      DbtErrorCode.invalidYaml,
      "models/f1/schema.yml",
      5,
    ],
    [
      "a value of the wrong shape",
      { "models/f2/schema.yml": "version: 2\nmodels:\n  - name: m_2_0\n    columns: 7\n" },
      DbtErrorCode.invalidYaml,
      "models/f2/schema.yml",
      4,
    ],
    [
      "a duplicate key",
      { "models/f0/schema.yml": "version: 2\nmodels:\n  - name: m_0_0\n    name: again\n" },
      DbtErrorCode.invalidYaml,
      "models/f0/schema.yml",
      4,
    ],
  ];
  for (const [name, broken, code, file, line] of cases) {
    await t.step(name, async () => {
      const written = { ...files(3), ...broken };
      const errors: DbtError[] = [];
      for (const parallel of [true, false]) {
        await using project = await writeProject(written);
        const error = await loadProject(project.dir, { cache: false, parallel }).then(
          () => assert.fail("expected the load to fail"),
          (e: unknown) => e,
        );
        assert.ok(error instanceof DbtError, String(error));
        assert.equal(error.code, code, error.message);
        assert.equal(error.file, file, error.message);
        assert.equal(error.line, line, error.message);
        errors.push(error);
      }
      assert.equal(errors[0]?.message, errors[1]?.message);
    });
  }
});

Deno.test("parallel parse: the project's other files are handed over before the YAML is waited for", async () => {
  // loadProject loads the macros and parses the models statically in that hook, while the
  // worker parses the property YAML; a broken property file still fails the read after it.
  const broken = {
    "models/f1/schema.yml": "version: 2\nmodels:\n  - name: m_1_0\n    columns: [\n",
  };
  for (const parallel of [true, false]) {
    await using project = await writeProject({ ...files(3), ...broken });
    const handed: ProjectSources[] = [];
    const error = await readProject(project.dir, {
      cache: false,
      parallel,
      beforeProperties: (sources) => handed.push(sources),
    }).then(() => assert.fail("expected the read to fail"), (e: unknown) => e);
    assert.ok(error instanceof DbtError && error.file === "models/f1/schema.yml", String(error));
    assert.equal(handed.length, 1, `parallel: ${parallel}`);
    const [root] = handed[0]?.packages ?? [];
    assert.deepEqual(root?.macros.map((m) => m.file), ["macros/cents.sql"]);
    assert.equal(root?.models.length, 9);
    assert.ok(!("properties" in (root ?? {})), "no property file is parsed yet");
  }
});

Deno.test("parallel parse: a broken property file is reported before a broken macro, as before", async () => {
  const macro = { "macros/cents.sql": "{% macro cents(col) %}({{ col }} * 100)" }; // no endmacro
  const yaml = { "models/f2/schema.yml": "version: 2\nmodels:\n  - name: m_2_0\n    columns: 7\n" };
  for (const parallel of [true, false]) {
    for (
      const [broken, file] of [[{ ...macro, ...yaml }, "models/f2/schema.yml"], [
        macro,
        "macros/cents.sql",
      ]] as const
    ) {
      await using project = await writeProject({ ...files(3), ...broken });
      const error = await loadProject(project.dir, { cache: false, parallel }).then(
        () => assert.fail("expected the load to fail"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof DbtError, String(error));
      assert.equal(error.file, file, `parallel: ${parallel}: ${error.message}`);
    }
  }
});

Deno.test("parallel parse: values parsed on the worker equal the main thread's, failures are answered", async () => {
  const dir = await Deno.makeTempDir({ prefix: "yaml-pool-" });
  try {
    const texts: Record<string, string> = {
      "anchors.yml": "base: &b {a: 1, list: [x, y]}\nmerged:\n  <<: *b\n  c: 2\n",
      "scalars.yml": "ints: [0, -7, 0x1f, 1_000]\nfloats: [1.5, .inf, -.inf, .nan, 1e3]\n" +
        "other: [null, ~, true, False, '', \"\\u00e9\", 2024-01-02]\n",
      "empty.yml": "",
      "comments.yml": "# version: 2\n# models: []\n",
      "broken.yml": "a: [1, 2\n",
      "duplicate.yml": "a: 1\na: 2\n",
    };
    for (const [name, text] of Object.entries(texts)) {
      await Deno.writeTextFile(`${dir}/${name}`, text);
    }
    const files = [...Object.keys(texts), "missing.yml"].map((name) => ({
      path: `${dir}/${name}`,
      file: `models/${name}`,
    }));
    using worker = new YamlWorker();
    // readRest is not called: the worker reads every file, and its answers cross the thread.
    const reads = await worker.read(files).done;
    for (const [i, name] of Object.keys(texts).entries()) {
      const read = reads[i];
      let expected: unknown;
      try {
        expected = yamlValue(texts[name] as string, `models/${name}`);
      } catch {
        assert.equal(read?.kind, "invalid", name);
        continue;
      }
      assert.equal(read?.kind, "parsed", name);
      assert.ok(read?.kind === "parsed");
      assert.equal(read.text, texts[name]);
      assert.deepEqual(read.value, expected, name);
    }
    assert.deepEqual(reads.map((r) => r.kind), [
      "parsed",
      "parsed",
      "parsed",
      "parsed",
      "invalid",
      "invalid",
      "unread",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
