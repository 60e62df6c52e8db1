/**
 * Jinja2's built-in filters, tests, loop attributes and `str.format()` as dbt
 * macro packages use them: each case renders exactly what Jinja2 3.1 renders
 * for the same template (outputs taken from Jinja2 itself). Before
 * resources/dbt/jinja/builtins.ts, str_format.ts and the loop/`is` patches in
 * python.ts these failed (`loop.cycle`, `is divisibleby 2`, `filesizeformat`)
 * or printed something else (`'abc'[1:]` as a list, `tojson` without spaces,
 * `dictsort` as lists, `{:>5}` left as is).
 */

import assert from "node:assert/strict";
import { renderString } from "../../../../resources/dbt/jinja/env.ts";

const render = (text: string) => renderString(text, { env: () => undefined, file: "models/m.sql" });

/** [template, what Jinja2 3.1 renders] (dbt's `tojson()` global: json.dumps unsorted). */
const CASES: readonly (readonly [string, string])[] = [
  ["{{ '{:>5}|{:<4}|{:^7}|{:*^7}'.format('a', 'b', 'c', 'd') }}", "a|b   |   c   |***d***"],
  [
    "{{ '{:,.2f}|{:08.3f}|{:+d}|{:x}|{:.1%}|{:e}'.format(1234567.891, 3.14159, 5, 255, 0.256, 12345.678) }}",
    "1,234,567.89|0003.142|+5|ff|25.6%|1.234568e+04",
  ],
  ["{{ '{name}_{0}_{0!r}'.format('a', name='n') }}", "n_a_'a'"],
  ["{{ '{{}} {}'.format(1) }}", "{} 1"],
  ["{{ '{0[k]}.{1[1]}'.format({'k': 'v'}, [1, 2]) }}", "v.2"],
  ["{{ {'b': 1, 'a': '\u00e9<'} | tojson }}", '{"a": "\\u00e9\\u003c", "b": 1}'],
  ["{{ tojson({'b': 1, 'a': [1, none, true]}) }}", '{"b": 1, "a": [1, null, true]}'],
  ["{{ [3, 1] | list | sort }}", "[1, 3]"],
  ["{{ {'a': 1, 'b': 2} | list }}", "['a', 'b']"],
  ["{% for k, v in {'a': 1}.items() %}{{ k }}{{ v }}{% endfor %}", "a1"],
  ["{{ {'x': 1, 'y': 2}.items() | list }}", "[('x', 1), ('y', 2)]"],
  ["{{ [{'n': 1}, {'n': 2}] | sum(attribute='n') }}", "3"],
  ["{{ 'abcdef'[1:3] }}{{ 'abcdef'[:-2] }}", "bcabcd"],
  [
    "{{ 1 is eq 1 }}{{ 'A' is upper }}{{ 2 is divisibleby 2 }}{{ 3 is not divisibleby 2 }}",
    "TrueTrueTrueTrue",
  ],
  // A test binds where a filter does (above unary minus, below nothing else): Jinja2's parser.
  ["{{ 1 + 1 is odd }}|{{ 'a' ~ 1 is number }}|{{ 10 is divisibleby 3 + 2 }}", "2|aTrue|2"],
  ["{{ 1 is number | string }}|{{ none is none == true }}|{{ -3 is odd }}", "True|True|True"],
  [
    "{{ not 1 is odd and 2 is even }}|{{ [1] | length is eq 1 }}|{{ -4 is even }}",
    "False|True|True",
  ],
  // Int keys stay ints (a JavaScript object keys by text: they printed '1' and concatenated).
  [
    "{{ {1: 'a', 2: 'b'} }}|{{ {1: 'a'}.keys() | list }}|{{ {3: 'a'} | list }}",
    "{1: 'a', 2: 'b'}|[1]|[3]",
  ],
  [
    "{% set ns = namespace(t=0) %}{% for k, v in {1: 'a', 2: 'b'}.items() %}{% set ns.t = ns.t + k %}{% endfor %}{{ ns.t }}|{% for k in {3: 0} %}{{ k + 1 }}{% endfor %}",
    "3|4",
  ],
  [
    "{% set d = {1: 'a'} %}{% do d.update({2: 'b'}) %}{% do d.setdefault(5, []) %}{{ d }}|{{ d.copy() }}|{{ d[1] }}{{ d.get(2) }}{{ 1 in d }}",
    "{1: 'a', 2: 'b', 5: []}|{1: 'a', 2: 'b', 5: []}|abTrue",
  ],
  ["{{ {2: 'x', 1: 'y'} | dictsort }}|{{ {1: 'a'} | tojson }}", `[(1, 'y'), (2, 'x')]|{"1": "a"}`],
  // Jinja2's lexer counts braces: a nested dict's `}}` followed by a filter, attribute or
  // operator is not the tag's end (nunjucks ended the tag there: a syntax error).
  [
    "{{ {'a': {}, 'c': {'d': 1}} | string }}|{{ {'a': {'b': 1}} ~ 'x' }}",
    "{'a': {}, 'c': {'d': 1}}|{'a': {'b': 1}}x",
  ],
  ["{% for k, v in {'a': {'b': 1}}.items() %}{{ k }}{{ v }}{% endfor %}", "a{'b': 1}"],
  // tojson(indent=N): json.dumps(sort_keys=True, indent=N).
  [
    "{{ {'k': [1, 2], 'a': {}, 'b': [], 'c': {'d': none}} | tojson(indent=2) }}",
    '{\n  "a": {},\n  "b": [],\n  "c": {\n    "d": null\n  },\n  "k": [\n    1,\n    2\n  ]\n}',
  ],
  ["{% for x in range(5) %}{{ loop.cycle('a', 'b', 'c') }}{% endfor %}", "abcab"],
  [
    "{% for x in ['a', 'a', 'b'] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}{% for x in ['a', 'a', 'b'] %}{% if loop.changed(x) %}{{ x }}{% endif %}{% endfor %}",
    "abab",
  ],
  [
    "{% for x in ['a', 'b'] %}[{{ loop.previtem }}|{{ loop.nextitem }}|{{ loop.depth }}{{ loop.depth0 }}]{% endfor %}",
    "[|b|10][a||10]",
  ],
  [
    "{% for g in [{'t': 'x', 'v': 1}, {'t': 'y', 'v': 2}, {'t': 'x', 'v': 3}] | groupby('t') %}{{ g.grouper }}:{{ g.list | map(attribute='v') | join(',') }};{% endfor %}",
    "x:1,3;y:2;",
  ],
  [
    "{% for t, items in [{'t': 'x'}, {'t': 'y'}] | groupby('t') %}{{ t }}{{ items | length }}{% endfor %}",
    "x1y1",
  ],
  [
    "{{ 1536 | filesizeformat }}|{{ 1536 | filesizeformat(true) }}|{{ 1 | filesizeformat }}",
    "1.5 kB|1.5 KiB|1 Byte",
  ],
  ["{{ 'a b c d e' | wordwrap(3) }}", "a b\nc d\ne"],
  ["{{ ['x', 'y'] | pprint }}", "['x', 'y']"],
  ["{{ {'id': 'a\"b', 'skip': none} | xmlattr }}", 'id="a&#34;b"'],
  [
    "{{ 'x' | int }}|{{ 'x' | int(7) }}|{{ '12' | int }}|{{ '0x1f' | int(base=16) }}|{{ '3.9' | int }}",
    "0|7|12|31|3",
  ],
  ["{{ 'x' | float(1.5) }}|{{ '2.5' | float }}", "1.5|2.5"],
  ["{{ 'xxhixx' | trim('x') }}", "hi"],
  // soft_str: none trims to 'None' (jaffle-shop's generate_schema_name of a seed with no
  // custom schema), undefined to '' (before: none trimmed to '').
  ["{{ none | trim }}|{{ undefined_name | trim }}|{{ true | trim }}", "None||True"],
  ["{{ 'a\\n\\nb' | indent(2, blank=true) }}", "a\n  \n  b"],
  ["{{ [1, 2, 3] | count }}", "3"],
  [
    "{{ 'upper' is filter }}{{ 'nope' is filter }}{{ 'odd' is test }}{{ 4 is integer }}{{ 4.5 is float }}",
    "TrueFalseTrueTrueTrue",
  ],
  ["{{ zip(['a', 'b'], [1, 2]) | list }}", "[('a', 1), ('b', 2)]"],
  // Python's round() rounds the float's exact value (2.675 is 2.67499...); exact halves to even.
  [
    "{{ 2.675 | round(2) }}|{{ 0.125 | round(2) }}|{{ '%.2f' % 2.675 }}|{{ -0.5 | round }}|{{ 1.005 | round(2) }}",
    "2.67|0.12|2.67|-0.0|1.0",
  ],
  [
    "{{ range(3) }}|{{ range(1, 9, 2) }}|{{ range(3) | list }}|{{ range(3) | length }}",
    "range(0, 3)|range(1, 9, 2)|[0, 1, 2]|3",
  ],
  ["{{ (1, 2) + (3,) }}|{{ (1,) * 2 }}|{{ [1] + [2] }}", "(1, 2, 3)|(1, 1)|[1, 2]"],
  // An undefined name or attribute is not None (a missing .get() is).
  [
    "{{ nope is none }}|{{ nope is not none }}|{{ {}.x is none }}|{{ {}.get('x') is none }}|{{ none is none }}",
    "False|True|False|True|True",
  ],
  ["{% macro m(a, b=1) %}{% endmacro %}{{ m.arguments }}", "('a', 'b')"],
  // Undefined iterates as empty (fivetran_utils' quote_column on an unset alias).
  ["{{ 'a' in nope }}|{{ 'a' not in nope }}", "False|True"],
];

for (const [template, expected] of CASES) {
  Deno.test(`jinja builtins: ${template}`, () => {
    assert.equal(render(template), expected);
  });
}

Deno.test("jinja builtins: bad input fails naming what is wrong", () => {
  assert.throws(() => render("{{ '{:d}'.format('x') }}"), /code 'd' needs a number/);
  assert.throws(() => render("{{ '{missing}'.format(1) }}"), /no argument named 'missing'/);
  assert.throws(() => render("{{ 1.5 | round(1, 'up') }}"), /method must be 'common'/);
  assert.throws(
    () => render("{{ {'a': 1} | dictsort(by='size') }}"),
    /by must be 'key' or 'value'/,
  );
  assert.throws(() => render("{% for x in [1] %}{{ loop.cycle() }}{% endfor %}"), /at least one/);
  assert.throws(() => render("{{ 1 is }}"), /test name/);
});
