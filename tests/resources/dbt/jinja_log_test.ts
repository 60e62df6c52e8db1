/**
 * What a project's macros say (#18 item 9: `log`, `print`,
 * `exceptions.warn`) reaches `deno task dbt`'s output, as dbt prints it:
 * `log(..., info=True)`, `print()` and warnings are printed, a plain
 * `log()` (debug level) is not, and a model that runs queries while it
 * renders says its messages once, with the answers, not once per replay.
 */

import assert from "node:assert/strict";
import { runDbtCli } from "../../../resources/dbt/cli.ts";
import { writeProject } from "./_fixture.ts";

Deno.test("dbt cli: log(info=True), print() and exceptions.warn() are printed; log() alone is not", async () => {
  await using project = await writeProject({
    "macros/shout.sql":
      "{% macro shout(what) %}{% do log('macro says ' ~ what, info=True) %}{{ what }}{% endmacro %}",
    "models/m.sql": `{% do log('hello ' ~ this.name, info=True) %}{% do log('quiet debug line') %}
{{ print('printed line') }}{% do exceptions.warn('careful with ' ~ this.name) %}
select {{ shout('1') }} as id`,
    "models/q.sql":
      `{%- set seven = run_query('select 7 as n').columns[0].values()[0] if execute else 0 -%}
{% do log('seven is ' ~ seven, info=True) %}
select {{ seven }} as n`,
  });
  const out: string[] = [];
  const code = await runDbtCli(
    ["build", "--project-dir", project.dir],
    { out: (l) => out.push(l), err: (l) => out.push(l) },
    { env: (name) => (name === "WAREHOUSE_URL" ? "pglite:memory:" : undefined) },
  );
  const text = out.join("\n");
  assert.equal(code, 0, text);
  for (const line of ["hello m", "printed line", "warning: careful with m", "macro says 1"]) {
    assert.match(text, new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${line}$`, "m"), line);
  }
  assert.doesNotMatch(text, /quiet debug line/);
  // q renders again at build with the query's answer: said once there.
  assert.equal(out.filter((l) => l.endsWith("seven is 7")).length, 1, text);
});

Deno.test("dbt cli: print() and log() write Python's str() of a list, dict, None or number", async () => {
  await using project = await writeProject({
    "models/m.sql":
      `{{ print([1, 'a', none]) }}{{ print({'k': true}) }}{% do log(none, info=True) %}
{% do log(2.0, info=True) %}select 1 as id`,
  });
  const out: string[] = [];
  const code = await runDbtCli(
    ["build", "--project-dir", project.dir],
    { out: (l) => out.push(l), err: (l) => out.push(l) },
    { env: (name) => (name === "WAREHOUSE_URL" ? "pglite:memory:" : undefined) },
  );
  const text = out.join("\n");
  assert.equal(code, 0, text);
  for (const line of ["\\[1, 'a', None\\]", "\\{'k': True\\}", "None", "2\\.0"]) {
    assert.match(text, new RegExp(`^\\d\\d:\\d\\d:\\d\\d  ${line}$`, "m"), line);
  }
  assert.doesNotMatch(text, /object Object|1,a,/);
});
