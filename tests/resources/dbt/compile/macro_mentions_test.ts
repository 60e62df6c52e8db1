/**
 * A node's `depends_on.macros` lists every macro whose `name(` occurs in its
 * text, in the macro list's order, as searching the text for each call did
 * (compile/macro_mentions.ts finds them from each `(` instead): names that
 * end other names (`hash`, `md5hash`), one name in two packages, a call at
 * the very start, names never called, non-ASCII text; and through a loaded
 * project's manifest entry.
 */

import assert from "node:assert/strict";
import { MacroMentions } from "../../../../resources/dbt/compile/macro_mentions.ts";
import { buildManifest, loadProject } from "../../../../resources/dbt/mod.ts";
import { writeProject } from "../_fixture.ts";

/** What a node listed before: each macro whose call text the text includes, in list order. */
function byIncludes(macros: readonly (readonly [string, string])[], text: string): string[] {
  return macros.filter(([, name]) => text.includes(`${name}(`)).map(([p, n]) => `macro.${p}.${n}`);
}

const MACROS: [string, string][] = [
  ["dbt", "hash"],
  ["proj", "md5hash"],
  ["dbt", "concat"],
  ["utils", "hash"],
  ["proj", "a"],
  ["proj", "scale"],
  ["proj", "never_called"],
  ["proj", "ünï"],
];

Deno.test("macro mentions: the macros whose call text occurs, in list order", () => {
  const mentions = new MacroMentions(MACROS);
  assert.deepEqual(mentions.idsIn("select md5hash(x) from t"), [
    "macro.dbt.hash",
    "macro.proj.md5hash",
    "macro.utils.hash",
  ]);
  assert.deepEqual(mentions.idsIn("a(1)"), ["macro.proj.a"]);
  assert.deepEqual(mentions.idsIn("{{ scale('x') }} ünï(1) concat (2)"), [
    "macro.proj.scale",
    "macro.proj.ünï",
  ]);
  assert.deepEqual(mentions.idsIn("select 1 -- (no call)"), []);
  assert.deepEqual(mentions.idsIn(""), []);
  assert.deepEqual(new MacroMentions([]).idsIn("hash(1)"), []);
});

Deno.test("macro mentions: the same list as searching for each call, on 2,000 random texts", () => {
  const mentions = new MacroMentions(MACROS);
  // A fixed linear congruential sequence: the same texts every run.
  let seed = 7;
  const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
  const pieces = ["hash", "md5", "a", "(", " ", "scale", "concat", "ü", "nï", "x", ")", "\n"];
  for (let i = 0; i < 2000; i++) {
    let text = "";
    for (let k = next(30); k > 0; k--) text += pieces[next(pieces.length)];
    assert.deepEqual(mentions.idsIn(text), byIncludes(MACROS, text), JSON.stringify(text));
  }
});

Deno.test("macro mentions: a model's manifest entry lists the macros its text calls", async () => {
  await using tmp = await writeProject({
    "macros/scale.sql": "{% macro scale(col) %}({{ col }} * 2){% endmacro %}\n" +
      "{% macro unused(col) %}{{ col }}{% endmacro %}",
    "models/m.sql": "select {{ scale('id') }} as id, hash(x) as h from (select 1 as id) s",
  });
  const project = await loadProject(tmp.dir);
  const nodes = buildManifest(project, { invocationId: "i" }).nodes as Record<
    string,
    { depends_on: { macros: string[] } }
  >;
  // `hash(` in plain SQL reads as a call of dbt's hash, as before; `unused` is not called.
  assert.deepEqual(nodes["model.demo.m"]!.depends_on.macros, [
    "macro.dbt.hash",
    "macro.demo.scale",
  ]);
});
