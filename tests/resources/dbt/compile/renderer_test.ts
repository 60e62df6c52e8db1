/**
 * The compile render's scopes (resources/dbt/compile/renderer.ts): each
 * render gets its own `model` dict and its package's vars, and a node reads
 * the ephemeral models it refs as CTEs, however many nodes are compiled
 * before it.
 */

import assert from "node:assert/strict";
import { loadProject } from "../../../../resources/dbt/mod.ts";
import { PROJECT_YML, writeProject } from "../_fixture.ts";

const noQuery = () => Promise.reject(new Error("no query expected"));

Deno.test("a hook reads its package's vars and its node's model dict, whatever rendered before", async () => {
  await using project = await writeProject({
    "dbt_project.yml": PROJECT_YML.replace(
      "  threshold: 2\n",
      "  threshold: 2\n  other:\n    threshold: 5\n",
    ),
    "models/a.sql": "select 1 as id",
    "models/b.sql": "select 2 as id",
  });
  const loaded = await loadProject(project.dir, { cache: false, env: () => undefined });
  const hook = (text: string, options: { packageName?: string; nodeName?: string } = {}) =>
    loaded.renderHook(text, { file: "hook", query: noQuery, ...options });
  const text = "{{ var('threshold') }}|{{ model.name }}|{{ model.package_name }}|{{ execute }}";
  for (let round = 0; round < 2; round++) {
    assert.equal(await hook(text), "2||demo|True");
    assert.equal(await hook(text, { packageName: "other" }), "5||other|True");
    assert.equal(await hook(text, { nodeName: "a" }), "2|a|demo|True");
    assert.equal(await hook(text, { packageName: "other", nodeName: "b" }), "5|b|demo|True");
    assert.equal(await hook(text, { packageName: "demo" }), "2||demo|True");
  }
});

Deno.test("a node reads each ephemeral model it refs as a CTE, other refs as relations", async () => {
  await using project = await writeProject({
    "models/e.sql": "{{ config(materialized='ephemeral') }}select 1 as id",
    "models/f.sql": "{{ config(materialized='ephemeral') }}select id from {{ ref('e') }}",
    "models/t.sql": "select 2 as id",
    "models/a.sql": "select * from {{ ref('t') }}",
    "models/b.sql": "select * from {{ ref('t') }} join {{ ref('f') }} using (id)",
    "models/c.sql": "select * from {{ ref('t') }}",
  });
  const loaded = await loadProject(project.dir, { cache: false, env: () => undefined });
  const sql = (name: string) => loaded.models.get(name)?.compiledCode ?? "";
  assert.equal(
    sql("a"),
    'select * from "postgres"."analytics"."t"'.replace("postgres", db(sql("a"))),
  );
  const b = sql("b");
  assert.match(b, /^with __dbt__cte__e as \(/, b);
  assert.match(b, /__dbt__cte__f as \(/, b);
  assert.match(b, /join __dbt__cte__f using \(id\)$/, b);
  assert.equal(sql("c"), sql("a"));
});

/** The database a compiled relation names (the profile's default). */
function db(sql: string): string {
  return /"([^"]*)"\."analytics"/.exec(sql)?.[1] ?? "";
}
