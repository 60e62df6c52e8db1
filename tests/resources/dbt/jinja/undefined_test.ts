/**
 * Jinja2's Undefined as dbt compiles with it (resources/dbt/jinja/undefined.ts):
 * an undefined name prints '' but reading an attribute or item of it raises,
 * so a typo in a model fails its compile instead of printing '' into the SQL.
 * Expected outputs and messages come from Jinja2 3.1.6 (python3, the
 * SandboxedEnvironment of tools/jinja_fuzz/oracle.py, dbt's compile env).
 * While parsing (`execute` false) dbt's Undefined is lenient and so are we.
 * Before the fix every "raises" case below rendered ''.
 */

import assert from "node:assert/strict";
import { JinjaEnv } from "../../../../resources/dbt/jinja/env.ts";
import { bareScope } from "./_scope.ts";
import { DbtError, DbtErrorCode, loadProject } from "../../../../resources/dbt/mod.ts";
import { writeProject } from "../_fixture.ts";

const env = new JinjaEnv();
const render = (text: string, execute = true) =>
  env.render(env.compile(text, "models/m.sql"), bareScope(execute));

/** [template, what Jinja2 renders] */
const RENDERS: readonly (readonly [string, string])[] = [
  [
    "{{ foo }}|{{ foo is defined }}|{{ foo | default('d') }}|{% for x in foo %}{{ x }}{% endfor %}|{{ (foo or {}).bar }}",
    "|False|d||",
  ],
  ["{% set d = {'a': 1} %}{{ d.nope }}|{{ d['nope'] }}|{{ d.nope is defined }}", "||False"],
  ["{{ none.x }}|", "|"],
  ["{% set xs = [1] %}{{ xs[3] }}|", "|"],
  ["{% macro m(a) %}[{{ a }}]{% endmacro %}{{ m() }}", "[]"],
  // Inside a list or tuple it is `Undefined`, formatted with %s / {} it is '' (was None).
  [
    "{{ [foo] }}|{{ (foo,) }}|{{ '%s|%r' % (foo, foo) }}|{{ '{}'.format(foo) }}|{{ '{!r}'.format(foo) }}|{{ [foo] | join(',') }}|{{ '%s' % foo }}",
    "[Undefined]|(Undefined,)||Undefined||Undefined||",
  ],
  ["{% macro m(a) %}{{ '%s|' % a }}{{ [a, 1] }}{% endmacro %}{{ m() }}", "|[Undefined, 1]"],
];

/** [template, Jinja2's UndefinedError message] */
const RAISES: readonly (readonly [string, string])[] = [
  ["{{ foo.bar }}", "'foo' is undefined"],
  ["{{ foo['bar'] }}", "'foo' is undefined"],
  ["{{ foo.bar is defined }}", "'foo' is undefined"],
  ["{% set d = {'a': 1} %}{{ d.nope.x }}", "'dict object' has no attribute 'nope'"],
  ["{% set d = {'a': 1} %}{{ d['nope']['x'] }}", "'dict object' has no attribute 'nope'"],
  ["{{ none.x.y }}", "'None' has no attribute 'x'"],
  ["{% set xs = [1] %}{{ xs[3].x }}", "list object has no element 3"],
  ["{{ 'abc'.nope.x }}", "'str object' has no attribute 'nope'"],
  ["{% macro m(a) %}{{ a.x }}{% endmacro %}{{ m() }}", "parameter 'a' was not provided"],
  // Calling an undefined (a macro of a package not installed): at compile only.
  ["{{ foo() }}", "'foo' is undefined"],
  ["{{ foo(1, a=2).bar }}", "'foo' is undefined"],
  ["{{ dbt_utils.star('a') }}", "'dbt_utils' is undefined"],
  ["{% set d = {} %}{{ d.nope() }}", "'dict object' has no attribute 'nope'"],
  ["{{ 'x'.nope() }}", "'str object' has no attribute 'nope'"],
  ["{% macro m(f) %}{{ f() }}{% endmacro %}{{ m() }}", "parameter 'f' was not provided"],
  ["{% for x in foo() %}{{ x }}{% endfor %}", "'foo' is undefined"],
];

Deno.test("undefined: what prints '' renders as Jinja2 renders it", () => {
  for (const [template, expected] of RENDERS) {
    assert.equal(render(template), expected, template);
    assert.equal(render(template, false), expected, template);
  }
});

Deno.test("undefined: an attribute or item of an undefined raises Jinja2's UndefinedError at compile", () => {
  for (const [template, message] of RAISES) {
    assert.throws(
      () => render(template),
      (error: unknown) => {
        assert.ok(error instanceof DbtError, String(error));
        assert.equal(error.code, DbtErrorCode.renderFailed);
        assert.equal(error.file, "models/m.sql");
        assert.ok(error.message.startsWith(`models/m.sql:1: ${message}. `), error.message);
        assert.match(error.message, /deno task dbt deps/);
        return true;
      },
      template,
    );
  }
});

Deno.test("undefined: parsing (execute false) stays lenient, as dbt's parse-time Undefined", () => {
  for (const [template] of RAISES) {
    assert.equal(render(template, false), template.includes("is defined") ? "False" : "", template);
  }
});

Deno.test("undefined: a typo in a model fails its compile naming the model's file and line", async () => {
  await using project = await writeProject({
    "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    description: A.\n",
    "models/a.sql": "{% set cols = {'id': 'id'} %}\nselect 1 as id\nwhere {{ colz.id }} = 1\n",
  });
  // The parse is lenient (dbt's too); the compile raises.
  const p = await loadProject(project.dir, { cache: false });
  assert.throws(
    () => p.models.get("a")?.compiledCode,
    (error: unknown) => {
      assert.ok(error instanceof DbtError, String(error));
      assert.equal(error.file, "models/a.sql");
      assert.equal(error.line, 3);
      assert.match(error.message, /^models\/a\.sql:3: 'colz' is undefined\. /);
      return true;
    },
  );
});

Deno.test("undefined: a model calling a macro of a package not installed parses, as in dbt, and fails at its compile", async () => {
  await using project = await writeProject({
    "models/schema.yml": "version: 2\nmodels:\n  - name: a\n    description: A.\n",
    "models/a.sql": "select\n  {{ dbt_utils.generate_surrogate_key(['id']) }} as sk,\n" +
      "  {{ my_missing_macro() }} as x\nfrom t\n",
  });
  // Before: the parse failed ("'dbt_utils.generate_surrogate_key' is not defined").
  const p = await loadProject(project.dir, { cache: false });
  assert.throws(
    () => p.models.get("a")?.compiledCode,
    (error: unknown) => {
      assert.ok(error instanceof DbtError, String(error));
      assert.equal(error.file, "models/a.sql");
      assert.equal(error.line, 2);
      assert.match(error.message, /^models\/a\.sql:2: 'dbt_utils' is undefined\. /);
      assert.match(error.message, /deno task dbt deps/);
      return true;
    },
  );
});
