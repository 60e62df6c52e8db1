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

Deno.test("env: CR LF and lone CR inside a template read as LF, as Jinja2's newline_sequence", () => {
  for (
    const [template, expected] of [
      ["select 1\r\nfrom t\r\n", "select 1\nfrom t"],
      ["a\rb\r\n\r\n", "a\nb\n"],
      ["{% if true %}\r\nx\r\n{% endif %}\r\n", "\nx\n"],
      ["{{ 'a\r\nb' }}|{% raw %}r\r\n{% endraw %}", "a\nb|r\n"],
      ["{%- if true -%}\r\n  x  \r\n{%- endif %}\r\ny", "x\ny"],
      ["{% set s %}\r\nq\r\n{% endset %}{{ s | length }}", "3"],
      ["-- c\r\n{# c\r\n #}\r\nz", "-- c\n\nz"],
    ]
  ) {
    assert.equal(render(template as string), expected, JSON.stringify(template));
  }
});

Deno.test("env: a model written with CR LF (a Windows editor) compiles with LF as in dbt; raw_code keeps the file", async () => {
  const text = "select 1 as id,\r\n  {{ 'x' }} as x\r\nfrom t\r\n";
  await using project = await writeProject({
    "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    description: A.\n",
    "models/a.sql": text,
  });
  const p = await loadProject(project.dir, { cache: false });
  const a = p.models.get("a") ?? assert.fail("model a");
  assert.equal(a.compiledCode, "select 1 as id,\n  x as x\nfrom t");
  assert.equal(a.rawCode, text);
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
