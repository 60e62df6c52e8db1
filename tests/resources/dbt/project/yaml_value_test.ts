/**
 * YAML floats as dbt's PyYAML reads them, through every path a value takes:
 * dbt_project.yml vars, `--vars`, schema.yml (parsed on the main thread, on
 * the parse worker, and from the parse cache of an earlier run), `fromyaml` /
 * `toyaml`. Before resources/dbt/project/yaml_value.ts boxed them, `rate:
 * 1.0` was the JavaScript number 1: `{{ var('rate') }}` printed `1` where dbt
 * prints `1.0`, `values: [1.0]` named a test `..._1` instead of `..._1_0`,
 * and `big: 1e3` (a string for PyYAML) printed `1000.0`.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../../resources/dbt/cli.ts";
import { loadProject } from "../../../../resources/dbt/mod.ts";
import { PyFloat } from "../../../../resources/dbt/jinja/py_number.ts";
import { pyStr } from "../../../../resources/dbt/jinja/py_repr.ts";
import { renderString } from "../../../../resources/dbt/jinja/env.ts";
import { YamlWorker } from "../../../../resources/dbt/project/yaml_pool.ts";
import {
  fromCachedYaml,
  toCachedYaml,
  yamlValue,
} from "../../../../resources/dbt/project/yaml_value.ts";
import { PROJECT_YML, writeProject } from "../_fixture.ts";

const VALUES = `rate: 1.0
half: 0.5
n: 3
neg: -2.0
zero: -0.0
exp: 1.5e+3
dot: .5
sep: 1_000.0
big: 1e3
nosign: 1.0e3
inf: .inf
tagged: !!float 2
nested: {w: [2.0, 1]}
`;

Deno.test("yaml floats: integral floats stay floats, PyYAML's float forms and strings", () => {
  const value = yamlValue(VALUES, "vars.yml") as Record<string, unknown>;
  assert.ok(value.rate instanceof PyFloat);
  assert.equal(
    pyStr(value),
    "{'rate': 1.0, 'half': 0.5, 'n': 3, 'neg': -2.0, 'zero': -0.0, 'exp': 1500.0, 'dot': 0.5, " +
      "'sep': 1000.0, 'big': '1e3', 'nosign': '1.0e3', 'inf': inf, 'tagged': 2.0, " +
      "'nested': {'w': [2.0, 1]}}",
  );
  // JSON (the manifest) still holds numbers.
  assert.equal(JSON.stringify(value.nested), '{"w":[2,1]}');
  // The parse cache (JSON on disk) gives the floats back.
  const cached = JSON.parse(JSON.stringify(toCachedYaml(value, true)));
  assert.equal(pyStr(fromCachedYaml(cached)), pyStr(value));
  assert.deepEqual(fromCachedYaml({ n: 1 }), { n: 1 });
});

Deno.test("yaml floats: the parse worker's values keep their floats", async () => {
  const dir = await Deno.makeTempDir({ prefix: "yaml-floats-" });
  try {
    const files = ["a", "b"].map((name) => ({ path: `${dir}/${name}.yml`, file: `${name}.yml` }));
    for (const f of files) await Deno.writeTextFile(f.path, VALUES);
    using worker = new YamlWorker();
    // Without readRest the worker parses every file itself.
    const reads = await worker.read(files).done;
    for (const read of reads) {
      assert.equal(read.kind, "parsed");
      if (read.kind !== "parsed") continue;
      const value = read.value as Record<string, unknown>;
      assert.ok(value.rate instanceof PyFloat, "boxed again after the structured clone");
      assert.equal(pyStr(value.nested), "{'w': [2.0, 1]}");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("yaml floats: fromyaml and toyaml read and write floats as PyYAML does", () => {
  const render = (text: string) =>
    renderString(text, { env: () => undefined, file: "models/m.sql" });
  assert.equal(
    render("{{ fromyaml('a: 1.0\\nb: 1e3\\nc: [2.0, 0.5]') }}|{{ fromyaml('x: 1.0').x * 2 }}"),
    "{'a': 1.0, 'b': '1e3', 'c': [2.0, 0.5]}|2.0",
  );
  assert.equal(
    render("{{ fromyaml('') }}|{{ toyaml({'a': 1.0, 'b': 2, 'c': 0.5}) }}"),
    "None|a: 1.0\nb: 2\nc: 0.5",
  );
});

const MODEL = "select {{ var('rate') }} as r, {{ var('n') / 2 }} as h, {{ var('n') // 2 }} as f, " +
  "{{ var('rate') * 3 }} as m, {{ var('big') }} as b, {{ var('neg') }} as g, {{ var('nested') }} as w";
const COMPILED =
  "select 1.0 as r, 1.5 as h, 1 as f, 3.0 as m, 1e3 as b, -2.0 as g, {'w': [2.0, 1]} as w";

const SCHEMA_YML = `version: 2.0
models:
  - name: m
    columns:
      - name: r
        tests:
          - accepted_values:
              values: [1.0, 2.5]
              quote: false
`;

Deno.test("yaml floats: vars and test arguments render as dbt renders them, cold and from the parse cache", async () => {
  await using project = await writeProject({
    "dbt_project.yml": PROJECT_YML.replace('version: "1.0.0"', "version: 1.0").replace(
      "vars:\n",
      `vars:\n${VALUES.trimEnd().split("\n").map((line) => `  ${line}\n`).join("")}`,
    ),
    "models/m.sql": MODEL,
    "models/schema.yml": SCHEMA_YML,
  });
  // Cold (parsed here, or on the worker), then warm (from target/partial_parse.json).
  for (const run of ["cold", "warm"]) {
    const loaded = await loadProject(project.dir, {
      parallel: run === "cold",
      env: () => undefined,
    });
    assert.equal(loaded.models.get("m")?.compiledCode, COMPILED, run);
    const test = loaded.tests.find((t) => t.name.startsWith("accepted_values_m_r"));
    assert.equal(test?.name, "accepted_values_m_r__False__1_0__2_5", run);
    assert.match(test?.compiledCode ?? "", /not in \(1\.0, 2\.5\)/, run);
  }
  // The parse cache on disk holds the marked floats (a later process reads them back).
  const cache = await Deno.readTextFile(`${project.dir}/target/partial_parse.json`);
  assert.match(cache, /\\u0000floats/);
});

Deno.test("yaml floats: --vars is read as PyYAML reads it", async () => {
  await using project = await writeProject({
    "models/m.sql": "select {{ var('rate') }} as r, {{ var('big') }} as b",
  });
  const err: string[] = [];
  const code = await runDbtCli(
    ["compile", "--project-dir", project.dir, "--vars", "{rate: 1.0, big: 1e3}"],
    { out: () => {}, err: (line) => err.push(line) },
    { env: (name) => name === "WAREHOUSE_URL" ? "pglite:memory:" : undefined },
  );
  assert.equal(code, 0, err.join("\n"));
  const compiled = await Deno.readTextFile(`${project.dir}/target/compiled/demo/models/m.sql`);
  assert.equal(compiled.trim(), "select 1.0 as r, 1e3 as b");
  const bad = await runDbtCli(
    ["compile", "--project-dir", project.dir, "--vars", "{rate: [1"],
    { out: () => {}, err: (line) => err.push(line) },
    { env: (name) => name === "WAREHOUSE_URL" ? "pglite:memory:" : undefined },
  );
  assert.equal(bad, 2);
  assert.match(err.at(-1) ?? "", /--vars is not valid YAML/);
});

Deno.test("yaml 1.1: booleans and ints as PyYAML reads them (yes/no/on/off, octal 010, 08 a string)", () => {
  const value = yamlValue(
    "a: [yes, no, on, off, y, n, True, FALSE]\nb: [010, 08, 0o17, 1_000, 0x1F, -5, '010']\n",
    "x.yml",
  );
  assert.equal(
    pyStr(value),
    "{'a': [True, False, True, False, 'y', 'n', True, False], " +
      "'b': [8, '08', '0o17', 1000, 31, -5, '010']}",
  );
});
