/**
 * Python's int/float distinction and Jinja2's recursive loops, as dbt renders
 * them: each case is what Jinja2 3.1 prints for the same template (Python's
 * float repr, `/` always a float, `//` and `%` floored, `round` keeping an
 * int an int). Before resources/dbt/jinja/py_number.ts `{{ 1.0 }}` printed
 * `1`, `{{ 4 / 2 }}` printed `2`, `{{ -7 % 3 }}` printed `-1`, and a
 * `recursive` loop failed to parse.
 */

import assert from "node:assert/strict";
import { renderString } from "../../../../resources/dbt/jinja/env.ts";

const render = (text: string) => renderString(text, { env: () => undefined, file: "models/m.sql" });

const FLOATS: readonly (readonly [string, string])[] = [
  [
    "{{ 1e16 }}|{{ 1e3 }}|{{ 1.5e3 }}|{{ 2.5e20 }}|{{ 1e3 + 1 }}|{{ [1e2, 1.5] }}|{% set e3 = 5 %}{{ e3 }}",
    "1e+16|1000.0|1500.0|2.5e+20|1001.0|[100.0, 1.5]|5",
  ],
  [
    '{{ \'[1, 2.0]\' | as_native }}{{ fromjson(\'{"a": 1.0, "b": 2, "c": 1e2, "d": 0.5}\') }}{{ fromjson(\'[1.0]\')[0] + 1 }}',
    "[1, 2.0]{'a': 1.0, 'b': 2, 'c': 100.0, 'd': 0.5}2.0",
  ],
  [
    "{{ 1 in [1.0] }}{{ 1.0 in [1] }}{{ [1] in [[1]] }}{{ {'a': 1} in [{'a': 1}] }}{{ 2 in [1.0] }}",
    "TrueTrueTrueTrueFalse",
  ],
  [
    "{{ 1.0 }}|{{ 0.5 }}|{{ -0.0 }}|{{ 10.0 ** 16 }}|{{ 10.0 ** 15 }}",
    "1.0|0.5|-0.0|1e+16|1000000000000000.0",
  ],
  [
    "{{ 0.1 + 0.2 }}|{{ 0.00001 }}|{{ 0.0001 }}|{{ 1 / 3 }}",
    "0.30000000000000004|1e-05|0.0001|0.3333333333333333",
  ],
  [
    "{{ 4 / 2 }}|{{ 7 // 2 }}|{{ 7.0 // 2 }}|{{ -7 // 2 }}|{{ -7 % 3 }}|{{ 7 % -3 }}|{{ 7.5 % 2 }}",
    "2.0|3|3.0|-4|2|-2|1.5",
  ],
  [
    "{{ 2 ** 10 }}|{{ 2 ** -1 }}|{{ 2.0 ** 2 }}|{{ 3 * 1.0 }}|{{ 1 + 1.0 }}|{{ 3 - 1.0 }}|{{ 10 ** 21 }}",
    "1024|0.5|4.0|3.0|2.0|2.0|1000000000000000000000",
  ],
  [
    "{% set x = 4 / 2 %}{{ x * 3 }} {{ x + 1 }} {{ x|int }} {{ x == 2 }} {{ x ~ '' }}",
    "6.0 3.0 2 True 2.0",
  ],
  [
    "{{ 2.5|round }}|{{ 3.5|round }}|{{ 5|round }}|{{ 5.4|round }}|{{ 5|round(method='ceil') }}|{{ 1.25|round(1, 'floor') }}",
    "2.0|4.0|5|5.0|5.0|1.2",
  ],
  [
    "{{ 3.7|int }}|{{ 3|float }}|{{ 'x'|float }}|{{ '2'|float }}|{{ 'inf'|float }}|{{ 'nan'|float }}|{{ '-inf'|float }}",
    "3|3.0|0.0|2.0|inf|nan|-inf",
  ],
  [
    "{{ [1, 2.0]|sum }}|{{ [1, 2]|sum }}|{{ [0.5, 0.5]|sum }}|{{ -2.0|abs }}|{{ -2|abs }}|{{ [1.0, 3]|max }}",
    "3.0|3|1.0|2.0|2|3",
  ],
  [
    "{{ [10.0, 2.0, 3]|max }}|{{ [10.0, 2.0, 3]|min }}|{{ [10.0, 2, 3.5]|sort }}",
    "10.0|2.0|[2, 3.5, 10.0]",
  ],
  [
    "{{ 2.0|string }}|{{ 1.0 ~ 'x' }}|{{ [1.0, 2]|tojson }}|{{ {'a': 1.0} }}|{{ [1.0] }}|{{ (1.0, 2) }}",
    "2.0|1.0x|[1.0, 2]|{'a': 1.0}|[1.0]|(1.0, 2)",
  ],
  [
    "{{ '%s|%d|%.2f|%r' % (1.0, 2.0, 3, 1.0) }}|{{ '{}|{:.1f}|{!r}'.format(1.0, 2, 2.0) }}",
    "1.0|2|3.00|1.0|1.0|2.0|2.0",
  ],
  [
    "{% if 0.0 %}t{% else %}f{% endif %}{{ 2.0 is float }}{{ 2 is float }}{{ 2 is integer }}{{ 2.0 is integer }}{{ 2.0 is number }}",
    "fTrueFalseTrueFalseTrue",
  ],
  [
    "{{ [1] + [2] }}|{{ 'a' + 'b' }}|{{ 1.0 == 1.0 }}|{{ (4 / 2) == (6 / 3) }}",
    "[1, 2]|ab|True|True",
  ],
];

Deno.test("jinja numbers: ints and floats print and compute as Python's", () => {
  for (const [template, expected] of FLOATS) {
    assert.equal(render(template), expected, template);
  }
});

/** Jinja2 3.1's number literals (its lexer's float_re / integer_re) and what Python prints. */
const LITERALS: readonly (readonly [string, string])[] = [
  [
    "{{ 1e-5 }}|{{ 1E-5 }}|{{ 1E5 }}|{{ 1.5e-3 }}|{{ 2.5E+2 }}|{{ -1e-5 }}",
    "1e-05|1e-05|100000.0|0.0015|250.0|-1e-05",
  ],
  [
    "{{ 1_000 }}|{{ 1_000.5 }}|{{ 1_0e1_0 }}|{{ 0 }}|{{ 0x1F }}|{{ 0o17 }}|{{ 0b101 }}",
    "1000|1000.5|100000000000.0|0|31|15|5",
  ],
  [
    "{{ 2e-1 * 10 }}|{{ 1e-5 * 2 }}|{{ 1.5e3 + 1 }}|{{ [1e-5, 3E0] }}",
    "2.0|2e-05|1501.0|[1e-05, 3.0]",
  ],
  // After a `.` digits are an item lookup, never a float: `x.0.1` is x[0][1].
  [
    "{% set l = [[1, 2], [3]] %}{{ l.0 }}|{{ l.0.1 }}|{{ l.1[0] }}|{{ {0: 'z'}.0 }}",
    "[1, 2]|2|3|z",
  ],
  // Template text is not lexed: numbers in SQL stay as written.
  ["select 1e-5, .5, 5. from t", "select 1e-5, .5, 5. from t"],
];

Deno.test("jinja numbers: float and int literals are read as Jinja2's lexer reads them", () => {
  for (const [template, expected] of LITERALS) {
    assert.equal(render(template), expected, template);
  }
  // `.5`, `5.` and `007` are not numbers in Jinja2: dbt fails to compile them.
  for (const template of ["{{ .5 }}", "{{ 5. }}", "{{ 007 }}"]) {
    assert.throws(() => render(template), /syntax error/, template);
  }
});

/** Ints past 2**53 (ids, hashes): Python's ints are exact; JavaScript numbers lost digits. */
const BIG_INTS: readonly (readonly [string, string])[] = [
  ["{{ 9007199254740993 }}|{{ -9007199254740993 }}", "9007199254740993|-9007199254740993"],
  [
    "{{ 9007199254740993 + 1 }}|{{ -9007199254740993 - 2 }}|{{ 9007199254740992 * 3 }}|{{ 2 ** 64 }}|{{ 2**53 + 1 }}",
    "9007199254740994|-9007199254740995|27021597764222976|18446744073709551616|9007199254740993",
  ],
  [
    "{{ 12345678901234567890 // 7 }}|{{ -12345678901234567890 // 7 }}|{{ -12345678901234567890 % 7 }}|{{ 12345678901234567890 / 10 }}|{{ 9007199254740993 + 0.5 }}",
    "1763668414462081127|-1763668414462081128|6|1.2345678901234568e+18|9007199254740992.0",
  ],
  [
    "{{ [9007199254740993] }}|{{ 9007199254740993 == 9007199254740993 }}|{{ 9007199254740993 > 9007199254740992 }}|{{ 9007199254740993 - 9007199254740992 }}",
    "[9007199254740993]|True|True|1",
  ],
  [
    "{{ '9007199254740993' | int }}|{{ '%d' % 9007199254740993 }}|{{ '{}'.format(9007199254740993) }}|{{ 9007199254740993 | string }}|{{ '-0x20000000000001' | int(0, 16) }}",
    "9007199254740993|9007199254740993|9007199254740993|9007199254740993|-9007199254740993",
  ],
  [
    "{{ 0xFFFFFFFFFFFFFFFFF }}|{{ 9007199254740993 is number }}|{{ 9007199254740993 is integer }}|{{ 9007199254740993 is odd }}|{{ -9007199254740993 | abs }}",
    "295147905179352825855|True|True|True|9007199254740993",
  ],
  [
    "{{ {'id': 9007199254740993} | tojson }}|{{ (9007199254740993, 1) }}|{{ 9007199254740993 in [9007199254740993] }}|{{ [9007199254740993, 1] | max }}|{{ (1e20 | int) + 1 }}",
    '{"id": 9007199254740993}|(9007199254740993, 1)|True|9007199254740993|100000000000000000001',
  ],
  ["{{ 12345678901234567890 | float }}", "1.2345678901234567e+19"],
];

Deno.test("jinja numbers: ints past 2**53 stay exact, as Python's", () => {
  for (const [template, expected] of BIG_INTS) {
    assert.equal(render(template), expected, template);
  }
});

Deno.test("jinja numbers: division by zero fails the render like Python's ZeroDivisionError", () => {
  for (const template of ["{{ 1 / 0 }}", "{{ 1 // 0 }}", "{{ 1 % 0 }}"]) {
    assert.throws(() => render(template), /by zero.*|.*by zero/, template);
  }
});

const TREE =
  "{% set tree = [{'n': 'a', 'c': [{'n': 'b', 'c': [{'n': 'c', 'c': []}]}, {'n': 'd', 'c': []}]}, {'n': 'e', 'c': []}] %}";

Deno.test("jinja recursive loops: loop(children) recurses with depth, depth0 and per-level loop state", () => {
  assert.equal(
    render(
      TREE +
        "{% for x in tree recursive %}[{{ loop.depth }}{{ loop.depth0 }}{{ x.n }}{{ loop.index }}/{{ loop.length }}" +
        "{% if x.c %}<{{ loop(x.c) }}>{% endif %}]{% endfor %}",
    ),
    "[10a1/2<[21b1/2<[32c1/1]>][21d2/2]>][10e2/2]",
  );
  // Inside a macro, with loop.last at each level, an else branch, and a filter at every level.
  assert.equal(
    render(
      "{% macro m(t) %}{% for k in t recursive %}{{ k.n }}{% if k.c %}({{ loop(k.c) }}){% endif %}" +
        "{% if not loop.last %},{% endif %}{% endfor %}{% endmacro %}" +
        "{{ m([{'n': 1, 'c': [{'n': 2}, {'n': 3, 'c': [{'n': 4}]}]}]) }}",
    ),
    "1(2,3(4))",
  );
  assert.equal(
    render("{% for x in [] recursive %}{{ x }}{% else %}none{% endfor %}"),
    "none",
  );
  assert.equal(
    render(
      "{% for x in [{'a': 1, 'c': [{'a': 0, 'c': []}, {'a': 2, 'c': []}]}] if x.a recursive %}" +
        "{{ x.a }}{{ loop(x.c) }}{% endfor %}",
    ),
    "12",
  );
  // A non-recursive loop inside a recursive one has its own loop (and depth 1).
  assert.equal(
    render(
      TREE +
        "{% for x in tree recursive %}{% for y in [0] %}{{ loop.depth }}{% endfor %}{{ loop.depth }}" +
        "{{ loop(x.c) }}{% endfor %}",
    ),
    "1112131211",
  );
});
