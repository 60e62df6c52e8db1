/**
 * The parse cache (target/partial_parse.json) after each kind of change
 * keeps exactly the entries the change leaves valid and replaces the rest:
 * an edited, an added and a deleted model, a changed var of dbt_project.yml,
 * and a changed macro. Each step also checks the load itself reflects the
 * change (a cache entry kept too long would show up as stale SQL).
 *
 * @module
 */

import assert from "node:assert/strict";
import { loadProject } from "../../../resources/dbt/mod.ts";
import { PROJECT_YML, writeProject } from "./_fixture.ts";

type Section = "templates" | "yaml" | "static";

Deno.test("parse cache: each change invalidates exactly what it should", async (t) => {
  await using project = await writeProject({
    "models/a.sql": "select {{ var('threshold') }} as x",
    "models/b.sql": "select x from {{ ref('a') }}",
    "models/c.sql": "select {{ twice('x') }} as y from {{ ref('a') }}",
    "macros/twice.sql": "{% macro twice(col) %}({{ col }} * 2){% endmacro %}",
    "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    columns:\n" +
      "      - name: x\n        data_tests: [not_null]\n",
  });
  const cachePath = `${project.dir}/target/partial_parse.json`;
  const keys = async (): Promise<Record<Section, Set<string>>> => {
    const cache = JSON.parse(await Deno.readTextFile(cachePath));
    return {
      templates: new Set(Object.keys(cache.templates)),
      yaml: new Set(Object.keys(cache.yaml)),
      static: new Set(Object.keys(cache.static)),
    };
  };
  /** What a change did to each section: keys kept, removed, added. */
  const diff = (before: Set<string>, after: Set<string>) => ({
    kept: [...before].filter((k) => after.has(k)).length,
    removed: [...before].filter((k) => !after.has(k)).length,
    added: [...after].filter((k) => !before.has(k)).length,
  });
  let project0 = await loadProject(project.dir);
  let before = await keys();
  assert.equal(before.static.size, 3, "one static parse per model");
  assert.equal(before.yaml.size, 1);
  const step = async (
    name: string,
    change: () => Promise<void>,
    expected: Record<Section, { kept: number; removed: number; added: number }>,
    check: (loaded: typeof project0) => void,
  ) => {
    await t.step(name, async () => {
      await change();
      project0 = await loadProject(project.dir);
      const after = await keys();
      for (const section of ["templates", "yaml", "static"] as const) {
        assert.deepEqual(diff(before[section], after[section]), expected[section], section);
      }
      check(project0);
      before = after;
    });
  };
  // twice.sql (the models parse statically: no template yet; the global project's macros are
  // compiled ahead of time, resources/dbt/jinja/precompiled.ts).
  const templates = before.templates.size;
  assert.equal(templates, 1);
  const same = (n: number) => ({ kept: n, removed: 0, added: 0 });

  await step(
    "an edited model: its static parse alone",
    () =>
      Deno.writeTextFile(`${project.dir}/models/b.sql`, "select x + 1 as x from {{ ref('a') }}"),
    { templates: same(templates), yaml: same(1), static: { kept: 2, removed: 1, added: 1 } },
    (p) =>
      assert.equal(
        p.models.get("b")?.compiledCode,
        `select x + 1 as x from "postgres"."analytics"."a"`,
      ),
  );
  await step(
    "an added model: one new static parse",
    () => Deno.writeTextFile(`${project.dir}/models/d.sql`, "select 4 as x"),
    { templates: same(templates), yaml: same(1), static: { kept: 3, removed: 0, added: 1 } },
    (p) => assert.ok(p.models.has("d")),
  );
  await step(
    "a deleted model: its static parse goes",
    () => Deno.remove(`${project.dir}/models/d.sql`),
    { templates: same(templates), yaml: same(1), static: { kept: 3, removed: 1, added: 0 } },
    (p) => assert.ok(!p.models.has("d")),
  );
  await step(
    "a changed var of dbt_project.yml: every static parse (a var may decide a ref), not the YAML",
    () =>
      Deno.writeTextFile(
        `${project.dir}/dbt_project.yml`,
        PROJECT_YML.replace("threshold: 2", "threshold: 5"),
      ),
    { templates: same(templates), yaml: same(1), static: { kept: 0, removed: 3, added: 3 } },
    (p) => assert.equal(p.models.get("a")?.compiledCode, "select 5 as x"),
  );
  await step(
    "a changed macro body: its template alone (the models that call it still parse statically)",
    () =>
      Deno.writeTextFile(
        `${project.dir}/macros/twice.sql`,
        "{% macro twice(col) %}({{ col }} + {{ col }}){% endmacro %}",
      ),
    {
      templates: { kept: templates - 1, removed: 1, added: 1 },
      yaml: same(1),
      static: same(3),
    },
    (p) => assert.match(p.models.get("c")?.compiledCode ?? "", /\(x \+ x\) as y/),
  );
  await step(
    "a macro that now refs a model: every static parse (what is safe to read changed)",
    () =>
      Deno.writeTextFile(
        `${project.dir}/macros/twice.sql`,
        "{% macro twice(col) %}(select {{ col }} from {{ ref('b') }}){% endmacro %}",
      ),
    {
      // c is rendered at parse time now: its template joins the cache.
      templates: { kept: templates - 1, removed: 1, added: 2 },
      yaml: same(1),
      // Re-keyed, c's entry saying the static parser gave up.
      static: { kept: 0, removed: 3, added: 3 },
    },
    (p) => {
      assert.deepEqual([...(p.models.get("c")?.refs ?? [])].sort(), ["a", "b"]);
      assert.match(
        p.models.get("c")?.compiledCode ?? "",
        /\(select x from "postgres"\."analytics"\."b"\) as y/,
      );
    },
  );
  await step(
    "an edited schema.yml: its YAML entry alone",
    () =>
      Deno.writeTextFile(
        `${project.dir}/models/schema.yml`,
        "version: 2\nmodels:\n  - name: a\n    description: Now documented.\n",
      ),
    { templates: same(templates + 1), yaml: { kept: 0, removed: 1, added: 1 }, static: same(3) },
    (p) => {
      assert.equal(p.models.get("a")?.description, "Now documented.");
      assert.equal(p.tests.length, 0);
    },
  );
});

Deno.test("parse cache: a cache file that is JSON of another shape is a full parse; a folder in its place is a typed error naming it", async () => {
  // Before: `null` crashed the load (TypeError reading 'engine'), a folder gave a bare
  // IsADirectory with a stack.
  await using project = await writeProject({ "models/a.sql": "select 1 as x" });
  const cachePath = `${project.dir}/target/partial_parse.json`;
  await loadProject(project.dir);
  for (const text of ["null", "[]", '"x"', "42", "{", "\u0000\u0001"]) {
    await Deno.writeTextFile(cachePath, text);
    const loaded = await loadProject(project.dir);
    assert.deepEqual([...loaded.models.keys()], ["a"], text);
  }
  await Deno.remove(cachePath);
  await Deno.mkdir(cachePath);
  await assert.rejects(() => loadProject(project.dir), (error: Error & { code?: string }) => {
    assert.equal(error.code, "dbt.invalid_project");
    assert.match(error.message, /partial_parse\.json: cannot read the parse cache .*remove it/);
    return true;
  });
});
