/**
 * manifest.json is written slice by slice (resources/dbt/_json_stream.ts),
 * and must be the very bytes `JSON.stringify(manifest)` makes: for random
 * values (escapes, unicode, integer-like keys, omitted undefineds, empty
 * maps, slices of every size) and for whole projects' manifests. A failure
 * while writing leaves the old file and no temp file.
 */

import assert from "node:assert/strict";
import {
  type Json,
  type JsonParts,
  LazyEntries,
  materializeParts,
  writeJsonParts,
} from "../../../resources/dbt/_json_stream.ts";
import { loadProject } from "../../../resources/dbt/compile/load.ts";
import { buildManifest, writeManifest } from "../../../resources/dbt/artifacts.ts";
import { generate } from "../../../bench/dbt.ts";
import { copyRepoProject, writeProject } from "./_fixture.ts";
import { Random } from "../../_helpers/reliability.ts";

const KEYS = ["a", "1", "0", "01", "-1", "4294967294", "4294967295", 'k"ey', "ключ", "\n", "", "b"];
const STRINGS = [
  "",
  "plain",
  'q"uote',
  "back\\slash",
  "tab\tnl\n",
  "\u0000\u001f",
  "é—𝄞",
  "\ud800",
  "</script>",
];
const NUMBERS = [0, -0, 1, -1.5, 1e21, 1e-7, 123456789.125, Number.MAX_SAFE_INTEGER];

function randomJson(next: () => number, depth: number): Json {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]!;
  const kind = depth > 3 ? Math.floor(next() * 4) : Math.floor(next() * 7);
  switch (kind) {
    case 0:
      return pick(STRINGS);
    case 1:
      return pick(NUMBERS);
    case 2:
      return pick([true, false, null]);
    case 3:
      return pick(STRINGS) + String(Math.floor(next() * 100));
    case 4:
    case 5: {
      const out: Record<string, Json> = {};
      const n = Math.floor(next() * 4);
      for (let i = 0; i < n; i++) out[pick(KEYS)] = randomJson(next, depth + 1);
      return out;
    }
    default:
      return Array.from({ length: Math.floor(next() * 4) }, () => randomJson(next, depth + 1));
  }
}

function randomParts(next: () => number): JsonParts {
  const parts: Record<string, Json | LazyEntries> = {};
  const n = Math.floor(next() * 5);
  for (let i = 0; i < n; i++) {
    const key = KEYS[Math.floor(next() * KEYS.length)]!;
    if (next() < 0.5) {
      parts[key] = randomJson(next, 1);
      continue;
    }
    // Sizes around the slice length (200), with undefined values anywhere, even whole slices.
    const size = [0, 1, 3, 199, 200, 201, 450][Math.floor(next() * 7)]!;
    const blank = next() < 0.2;
    const keys: string[] = [];
    const values: (Json | undefined)[] = [];
    for (let j = 0; j < size; j++) {
      // Distinct keys, none an array index (LazyEntries' contract), some with escapes.
      keys.push(next() < 0.1 ? `${KEYS[j % KEYS.length]!}.${j}` : `node.${j}`);
      values.push(blank || next() < 0.1 ? undefined : randomJson(next, 2));
    }
    parts[key] = new LazyEntries(keys, (i) => values[i]);
  }
  return parts;
}

Deno.test("writeJsonParts writes JSON.stringify(value)'s bytes for random values", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (let seed = 1; seed <= 400; seed++) {
      const random = new Random(seed);
      const parts = randomParts(() => random.next());
      const path = await writeJsonParts(dir, "out.json", parts);
      const expected = JSON.stringify(materializeParts(parts));
      const got = await Deno.readFile(path);
      assert.deepEqual(got, new TextEncoder().encode(expected), `seed ${seed}`);
    }
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["out.json"], "no temp file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeJsonParts: more than a megabyte, written in several writes, same bytes", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const keys = Array.from({ length: 8000 }, (_, i) => `test.demo.t_${i}`);
    const nodes = new LazyEntries(
      keys,
      (i) => ({ sql: `select ${"x".repeat(i % 700)} — ${i}`, i }),
    );
    const parts = { metadata: { a: 1 }, nodes, after: [] };
    const path = await writeJsonParts(dir, "big.json", parts);
    const text = await Deno.readTextFile(path);
    assert.ok(text.length > 2 * (1 << 20));
    assert.equal(text, JSON.stringify(materializeParts(parts)));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeJsonParts: a value failing mid-file keeps the old file and leaves no temp file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/manifest.json`, "old\n");
    const keys = Array.from({ length: 3000 }, (_, i) => `n${i}`);
    const nodes = new LazyEntries(keys, (i) => {
      if (i === 2500) throw new Error("node n2500 failed");
      return "x".repeat(1000);
    });
    await assert.rejects(
      () => writeJsonParts(dir, "manifest.json", { nodes }),
      /node n2500 failed/,
    );
    assert.equal(await Deno.readTextFile(`${dir}/manifest.json`), "old\n");
    assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["manifest.json"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("writeManifest writes the bytes of JSON.stringify(buildManifest(...))", async (t) => {
  const same = async (dir: string, label: string) => {
    const project = await loadProject(dir, { cache: false });
    const options = { invocationId: "inv", generatedAt: new Date(Date.UTC(2026, 0, 2)) };
    const path = await writeManifest(project, options);
    assert.equal(path, `${project.targetPath}/manifest.json`);
    const expected = JSON.stringify(buildManifest(project, options));
    assert.equal(await Deno.readTextFile(path), expected, label);
    return JSON.parse(expected) as { nodes: Record<string, unknown> };
  };
  await t.step("our dbt/ project", async () => {
    await using project = await copyRepoProject();
    await same(project.dir, "dbt/");
  });
  await t.step("a generated project of 700 models (2,100 tests, many slices)", async () => {
    const dir = await Deno.makeTempDir();
    try {
      await generate(dir, 700);
      const manifest = await same(dir, "generated");
      assert.equal(Object.keys(manifest.nodes).length, 2800);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
  await t.step("seeds, snapshots, sources, analyses, docs, unicode", async () => {
    await using project = await writeProject({
      "seeds/codes.csv": "id,name\n1,é\n2,𝄞\n",
      "models/a.sql": "select * from {{ source('raw', 'orders') }} -- «ünïcode»",
      "models/b.sql": "{{ config(materialized='table', tags=['x']) }}select * from {{ ref('a') }}",
      "models/schema.yml": `version: 2
sources:
  - name: raw
    tables:
      - name: orders
        columns:
          - name: id
            data_tests: [not_null]
models:
  - name: b
    description: '{{ doc("b_doc") }}'
    columns:
      - name: "1"
        data_tests: [unique]
      - name: id
        data_tests: [not_null, {relationships: {to: "ref('a')", field: id}}]
`,
      "models/docs.md": '{% docs b_doc %}B — "quoted"\n{% enddocs %}',
      "snapshots/s.sql": "{% snapshot s %}{{ config(target_schema='snap', unique_key='id', " +
        "strategy='check', check_cols='all') }}select * from {{ ref('a') }}{% endsnapshot %}",
      "analyses/look.sql": "select * from {{ ref('b') }}",
    });
    await same(project.dir, "kinds");
  });
  await t.step(
    "every kind of test: configs, thresholds, singular, sources, custom generic",
    async () => {
      await using project = await writeProject({
        "models/a.sql": "select 1 as id, 'x' as kind",
        "models/b.sql": "select * from {{ ref('a') }}",
        "macros/tests.sql": "{% test is_even(model, column_name, strict=true) %}" +
          "select * from {{ model }} where {{ column_name }} % 2 = 1{% endtest %}",
        "tests/no_rows.sql": "select * from {{ ref('b') }} where id < 0 -- «singular»",
        "models/schema.yml": `version: 2
sources:
  - name: raw
    tables:
      - name: events
        data_tests: [{is_even: {column_name: id}}]
        columns:
          - name: id
            data_tests: [unique, {not_null: {config: {severity: warn}}}]
models:
  - name: a
    data_tests:
      - is_even: {column_name: id, strict: false, config: {alias: even_a, store_failures: true}}
    columns:
      - name: id
        data_tests:
          - unique: {config: {where: "id > 0", limit: 5, warn_if: ">10", error_if: ">100"}}
          - not_null: {severity: warn}
          - accepted_values: {values: [1, 2.5, "three", null, {nested: [true]}], quote: false}
          - relationships: {to: "ref('b')", field: id, config: {fail_calc: "count(*) * 2"}}
      - name: kind
        tests: [not_null]
        data_tests:
          - accepted_values:
              arguments: {values: ['x', 'ÿ']}
              config: {tags: [t1], meta: {m: 1}}
`,
      });
      const manifest = await same(project.dir, "tests");
      const tests = Object.keys(manifest.nodes).filter((id) => id.startsWith("test."));
      assert.ok(tests.length >= 9, tests.join(", "));
    },
  );
});
