/**
 * Macro calls checked as Jinja2 checks them (resources/dbt/jinja/compat.ts):
 * a keyword the macro does not declare, or more positional arguments than it
 * declares, is a TypeError unless its body reads `kwargs` / `varargs`.
 * Outputs and messages come from Jinja2 3.1.6 (python3, the SandboxedEnvironment
 * of tools/jinja_fuzz/oracle.py). Before the fix the keyword was dropped and
 * the macro's default silently used (`m(1, c=2)` printed 11).
 */

import assert from "node:assert/strict";
import { JinjaEnv } from "../../../../resources/dbt/jinja/env.ts";
import { bareScope } from "./_scope.ts";
import { DbtError } from "../../../../resources/dbt/mod.ts";

const env = new JinjaEnv();
const render = (text: string, execute = true) =>
  env.render(env.compile(text, "macros/m.sql"), bareScope(execute));

const M = "{% macro m(a, b=1) %}{{ a }}{{ b }}{% endmacro %}";

Deno.test("compat: a macro call with a keyword or an argument the macro does not take fails as in Jinja2", () => {
  for (
    const [template, message] of [
      [`${M}{{ m(1, c=2) }}`, "macro 'm' takes no keyword argument 'c'"],
      [`${M}{{ m(1, 2, 3) }}`, "macro 'm' takes not more than 2 argument(s)"],
      // A keyword naming a parameter given by position; keywords are checked before the count.
      [`${M}{{ m(1, a=2) }}`, "macro 'm' takes no keyword argument 'a'"],
      [`${M}{{ m(1, 2, 3, c=4) }}`, "macro 'm' takes no keyword argument 'c'"],
      // A call block (or caller=) given to a macro whose body never calls caller().
      [
        `${M}{% call m(1) %}x{% endcall %}`,
        "macro 'm' was invoked with two values for the special caller argument. This is most likely a bug.",
      ],
      [
        `${M}{{ m(1, caller=2) }}`,
        "macro 'm' was invoked with two values for the special caller argument. This is most likely a bug.",
      ],
    ]
  ) {
    // dbt parses with the same Macro objects: the call fails its parse (execute false) too.
    for (const execute of [true, false]) {
      assert.throws(
        () => render(template as string, execute),
        (error: unknown) => {
          assert.ok(error instanceof DbtError, String(error));
          assert.equal(error.file, "macros/m.sql");
          assert.ok(error.message.includes(message as string), error.message);
          return true;
        },
        template,
      );
    }
  }
});

Deno.test("compat: kwargs / varargs in the body take what the macro does not name", () => {
  for (
    const [template, expected] of [
      ["{% macro m(a) %}{{ a }}{{ kwargs }}{% endmacro %}{{ m(1, c=2) }}", "1{'c': 2}"],
      ["{% macro m(a) %}{{ a }}{{ varargs }}{% endmacro %}{{ m(1, 2, 3) }}", "1(2, 3)"],
      [`${M}{{ m(b=5, a=4) }}|{{ m(7) }}`, "45|71"],
      ["{% macro m(a) %}{{ a }}{{ caller() }}{% endmacro %}{% call m(1) %}x{% endcall %}", "1x"],
      // caller read by a macro nested in the body counts, as in Jinja2.
      [
        "{% macro m() %}{% macro n() %}{{ caller() }}{% endmacro %}x{% endmacro %}{% call m() %}y{% endcall %}",
        "x",
      ],
    ]
  ) {
    assert.equal(render(template as string), expected, template);
  }
});

Deno.test("compat: == and in compare as Python's: True == 1, a range only equals a range", () => {
  for (
    const [template, expected] of [
      [
        "{{ range(3) == [0,1,2] }}|{{ [0,1,2] == range(3) }}|{{ range(3) == range(3) }}|{{ range(0) == range(2,2) }}|{{ range(3) | list == [0,1,2] }}|{{ range(3) != [0,1,2] }}",
        "False|False|True|True|True|True",
      ],
      [
        "{{ 1 in [True] }}|{{ True in [1] }}|{{ 0 in [False] }}|{{ True in (1, 2) }}|{{ 2 in [True] }}|{{ 1 in ['1'] }}|{{ 1 in range(3) }}",
        "True|True|True|True|False|False|True",
      ],
      [
        "{{ [1,True].index(True) }}|{{ [True,1].index(1) }}|{{ [1,True,1.0].count(1) }}|{{ [0, False].count(False) }}|{{ [1.0].index(True) }}|{% set l = [1, True] %}{% do l.remove(True) %}{{ l }}",
        "0|0|3|2|0|[True]",
      ],
      ["{{ True == 1 }}|{{ [True] == [1] }}|{{ [1] == [1.0] }}", "True|True|True"],
    ]
  ) {
    assert.equal(render(template as string), expected, template);
  }
  assert.throws(() => render("{{ [1].index(2) }}"), /2 is not in list/);
});

Deno.test("compat: return() outside a macro fails naming the file, line and what to do, not [object Object]", () => {
  for (const execute of [true, false]) {
    for (const template of ["select 1\n{{ return('a') }}", "select 1\n{% do return(none) %}"]) {
      assert.throws(
        () => render(template, execute),
        (error: unknown) => {
          assert.ok(error instanceof DbtError);
          assert.match(error.message, /return\(\) is called outside a macro/);
          assert.match(error.message, /macros\/m\.sql/);
          assert.doesNotMatch(error.message, /object Object/);
          return true;
        },
      );
    }
  }
  // Inside a macro it still gives the caller its value.
  assert.equal(render("{% macro f() %}{{ return(41 + 1) }}{% endmacro %}{{ f() }}"), "42");
});
