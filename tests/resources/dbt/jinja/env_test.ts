/**
 * The template text as Jinja2 reads it (resources/dbt/jinja/env.ts compile):
 * keep_trailing_newline=False, as dbt leaves it, drops ONE newline ending the
 * template, so a model's compiled SQL is byte for byte dbt's. Outputs come from
 * Jinja2 3.1.6 (python3, tools/jinja_fuzz/oracle.py's environment). Before the
 * fix the newline was kept ("select 1\n"). The file itself (raw_code, its
 * checksum) is what was written.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { JinjaEnv } from "../../../../resources/dbt/jinja/env.ts";
import { bareScope } from "./_scope.ts";
import { loadProject } from "../../../../resources/dbt/mod.ts";
import { writeProject } from "../_fixture.ts";

const SCOPE = bareScope(true);
const env = new JinjaEnv();
const render = (text: string) => env.render(env.compile(text, "models/m.sql"), SCOPE);

Deno.test("env: one newline ending a template is dropped, as Jinja2 does", () => {
  for (
    const [template, expected] of [
      ["select 1\n", "select 1"],
      ["select 1\n\n", "select 1\n"],
      ["select 1\r\n", "select 1"],
      ["{{ 'x' }}\n", "x"],
      ["{% if true %}a{% endif %}\n", "a"],
    ]
  ) {
    assert.equal(render(template as string), expected, JSON.stringify(template));
  }
});

Deno.test("env: a model's compiled SQL ends where its last line does; raw_code and checksum keep the file", async () => {
  const text = "select 1 as id\n";
  await using project = await writeProject({
    "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    description: A.\n",
    "models/a.sql": text,
  });
  const p = await loadProject(project.dir, { cache: false });
  const a = p.models.get("a") ?? assert.fail("model a");
  assert.equal(a.compiledCode, "select 1 as id");
  assert.equal(a.rawCode, text);
  assert.equal(a.checksum, createHash("sha256").update(text).digest("hex"));
});
