/**
 * Jinja2's `{% with %}`, `{% filter %}` with a chain of filters and
 * `{% set x | filter %}` block sets, which dbt packages write in macros: each
 * case is what Jinja2 3.1 renders for the same template. Before
 * resources/dbt/jinja/block_tags.ts `with` was an unknown tag, and a `|` in a
 * filter or set block was a syntax error.
 */

import assert from "node:assert/strict";
import { renderString } from "../../../../resources/dbt/jinja/env.ts";

const render = (text: string) => renderString(text, { env: () => undefined, file: "models/m.sql" });

const CASES: readonly (readonly [string, string])[] = [
  ["{% with a = 1, b = 2 %}{{ a + b }}{% endwith %}", "3"],
  // Names set inside (by the tag or by set) are gone after endwith; outer names are untouched.
  ["{% with %}{% set q = 5 %}{{ q }}{% endwith %}[{{ q }}]", "5[]"],
  ["{% set x = 1 %}{% with %}{% set x = 2 %}{{ x }}{% endwith %}{{ x }}", "21"],
  ["{% set x = 1 %}{% with x = 3 %}{{ x }}{% endwith %}{{ x }}", "31"],
  // The values are evaluated in the outer scope: b is the outer a.
  ["{% set a = 'o' %}{% with a = 'i', b = a %}{{ a }}{{ b }}{% endwith %}{{ a }}", "ioo"],
  // Macro arguments, loops inside and around, a mutated list, whitespace control.
  [
    "{% macro m(p) %}{% with z = p * 2 %}{{ p }}{{ z }}{% for i in [1] %}{{ z + i }}{% endfor %}" +
    "{% endwith %}{% endmacro %}{{ m(3) }}",
    "367",
  ],
  ["{% for i in [1, 2] %}{% with j = i * 10 %}{{ j }},{% endwith %}{% endfor %}", "10,20,"],
  ["{% with x = [1] %}{% do x.append(2) %}{{ x }}{% endwith %}", "[1, 2]"],
  ["{% with a = 1 -%}\n  {{ a }}\n{%- endwith %}|", "1|"],
  // Filter blocks: one filter, a filter with arguments, a chain.
  ["{% filter upper %}hello {{ 'x' }}{% endfilter %}", "HELLO X"],
  ["{% filter replace('a', 'b') | upper %}aaa{% endfilter %}", "BBB"],
  ["{% filter trim|upper %}  a  {% endfilter %}|", "A|"],
  // Block sets: plain, `-%}` on the opening tag, through filters.
  ["{% set x %}  hi {% endset %}[{{ x }}]", "[  hi ]"],
  ["{% set x -%}  hi {% endset %}[{{ x }}]", "[hi ]"],
  ["{% set x | trim | upper %}  hi {% endset %}[{{ x }}]", "[HI]"],
  ["{% set x | replace('h', 'j') %}hi {{ 1 + 1 }}{% endset %}[{{ x }}]", "[ji 2]"],
  ["{% set a, b = 1, 2 %}{{ a }}{{ b }}|{% set c = 3 %}{{ c }}", "12|3"],
  // Block sets into a namespace's attribute, as dbt-utils' tests collect an error text.
  ["{% set ns = namespace(m='') %}{% set ns.m %}a {{ 1 + 1 }}{% endset %}[{{ ns.m }}]", "[a 2]"],
  [
    "{% set ns = namespace(m='') %}{% for i in [1, 2] %}{% set ns.m | upper %}x{{ i }}" +
    "{% endset %}{% endfor %}[{{ ns.m }}]",
    "[X2]",
  ],
  [
    "{% macro m() %}{% set ns = namespace(m='') %}{% set ns.m -%}  in {%- endset %}" +
    "{{ return(ns.m) }}{% endmacro %}[{{ m() }}]",
    "[in]",
  ],
];

Deno.test("jinja block tags: with, filter chains and filtered block sets render as in Jinja2", () => {
  for (const [template, expected] of CASES) {
    assert.equal(render(template), expected, template);
  }
});

Deno.test("jinja block tags: a malformed with or set tag is a syntax error naming the file", () => {
  for (
    const template of [
      "{% with a = 1 %}{{ a }}",
      "{% with a %}{% endwith %}",
      "{% with a = 1 b = 2 %}{% endwith %}",
      "{% with 'a' = 1 %}{% endwith %}",
      "{% set x | %}a{% endset %}",
      "{% set x y %}a{% endset %}",
    ]
  ) {
    assert.throws(() => render(template), /models\/m\.sql.*syntax error/, template);
  }
});

Deno.test("jinja: {% raw %} takes whitespace control as Jinja2 does", () => {
  // Before: `{%- endraw %}` / `{%- endraw -%}` were never found, failing the template with
  // "unknown block tag: endraw" (or "unexpected end of file").
  const cases: readonly (readonly [string, string])[] = [
    ["x {%- raw -%} {{ y }} {%- endraw -%} z", "x{{ y }}z"],
    ["x {% raw %} {{ y }} {% endraw %} z", "x  {{ y }}  z"],
    ["x {% raw -%} {{ y }} {% endraw %} z", "x {{ y }}  z"],
    ["x {% raw %} {{ y }} {%- endraw %} z", "x  {{ y }} z"],
    ["x {% raw %} {{ y }} {% endraw -%} z", "x  {{ y }} z"],
    ["x{% raw %}{{ '{%' }}{% endraw %}", "x{{ '{%' }}"],
  ];
  for (const [template, expected] of cases) assert.equal(render(template), expected, template);
  assert.throws(() => render("x {% raw %} y"), /endraw/);
});
