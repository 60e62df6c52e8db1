/**
 * Templates of one shape share one compiled function (resources/dbt/jinja/
 * skeleton.ts): each still renders its own text, literals and error lines,
 * and what cannot be shared (dict keys, raw blocks) keeps its own code.
 */

import assert from "node:assert/strict";
import { JinjaEnv } from "../../../../resources/dbt/jinja/env.ts";
import { splitTemplate } from "../../../../resources/dbt/jinja/skeleton.ts";
import { DbtError } from "../../../../resources/dbt/errors.ts";

const env = new JinjaEnv(); // installs nunjucks' dbt patches, which the lexer uses
const render = (text: string, file = "models/m.sql", execute = false) =>
  env.render(env.compile(text, file), {
    ref: (name: string) => name,
    source: (s: string, t: string) => `${s}.${t}`,
    config: () => {},
    var: (_name: string, fallback: unknown) => fallback,
    envVar: (_name: string, fallback: string | undefined) => fallback ?? "",
    isIncremental: () => false,
    self: undefined,
    target: {},
    execute,
  } as never);

Deno.test("two models of one shape have one skeleton, each with its own values", () => {
  const a = splitTemplate("select id, {{ x('a') }}\nfrom {{ ref('m_1') }} -- one");
  const b = splitTemplate("select 1\n\n, {{ x('bb') }}\nfrom {{ ref('other') }} -- two");
  assert.ok(a && b);
  assert.equal(a.text, b.text);
  assert.deepEqual(a.values, ["select id,", "a", "from", "m_1", "-- one"]);
  assert.deepEqual(b.values, ["select 1\n\n,", "bb", "from", "other", "-- two"]);
});

Deno.test("templates sharing a skeleton render their own text and literals", () => {
  const shape = (t: string, r: string, w: string) =>
    `${t}\n{% set cols = ['${w}', "q"] %}{% for c in cols %}{{ c }}, {% endfor %}` +
    `{{ ref('${r}') }}|{{ '${w}' ~ "\\"" }}|{{ '${w}'.upper() }}`;
  assert.equal(render(shape("select", "m1", "id")), 'select\nid, q, m1|id"|ID');
  assert.equal(
    render(shape("with x\n  as (", "m2", "kind")),
    'with x\n  as (\nkind, q, m2|kind"|KIND',
  );
  // Whitespace control trims around the shared text as around the template's own.
  assert.equal(render("  a  {%- if true -%}  b  {%- endif -%}  c  "), "  abc  ");
  assert.equal(render("  x y  {%- if true -%}  z  {%- endif -%}  w  "), "  x yzw  ");
});

Deno.test("an error names the line of the template it happened in, not of the first of its shape", () => {
  const lineOf = (text: string): number | undefined => {
    try {
      // A compile (execute): calling an undefined raises there, not while parsing.
      render(text, "models/bad.sql", true);
    } catch (error) {
      assert.ok(error instanceof DbtError, String(error));
      return error.line;
    }
    assert.fail("rendered");
  };
  const first = lineOf("select 1 {{ nope.nope('a') }}");
  const later = lineOf("select\n1\n\n2 {{ nope.nope('b') }}");
  assert.equal(first, 1);
  assert.equal(later, 4);
});

Deno.test("dict keys, raw blocks and quotes keep their own code and render as written", () => {
  assert.equal(render("{% set d = {'a': 1, '2': 'x'} %}{{ d['a'] }}{{ d['2'] }}"), "1x");
  assert.equal(render("{% raw %}{{ 'x' }}{% endraw %} y"), "{{ 'x' }} y");
  assert.equal(render(`{{ "it's" }} {{ 'a\\nb' }}`), "it's a\nb");
  assert.equal(splitTemplate("{% raw %}x{% endraw %}"), undefined);
  assert.equal(splitTemplate("a \uE000 b {{ 1 }}"), undefined);
});

Deno.test("the split trims, marks and gives up where nunjucks' lexer reads the text so", () => {
  // Text keeps its own whitespace outside the mark (any \s: tabs, form feeds, no-break
  // spaces, line separators), which `{%-`/`-%}` trim.
  assert.deepEqual(
    splitTemplate("\t\fselect\t{{ 'a' }}\u00a0from\u2028{{ ref('m') }}\r\n")?.values,
    ["select", "a", "from", "m"],
  );
  assert.equal(
    splitTemplate("\t\fselect\t{{ 'a' }}\u00a0from\u2028{{ ref('m') }}\r\n")?.text,
    "\t\f\uE0000\uE001\t{{ '\uE0001\uE001' }}\u00a0\uE0002\uE001\u2028{{ ref('\uE0003\uE001') }}\r\n",
  );
  // A `#}` in the text (even ending right where a tag starts), an `r/regex/` token, an
  // unclosed tag or string: left to nunjucks.
  assert.equal(splitTemplate("select x#}{{ 'a' }}"), undefined);
  assert.equal(splitTemplate("select {{ 'a' }} #} from t"), undefined);
  assert.equal(splitTemplate("select {{ 'a' }} # } from t")?.values.length, 3);
  assert.equal(splitTemplate("select {{ r/a'b/ }}"), undefined);
  assert.equal(splitTemplate("select {{ 'a' is r/x/ }}"), undefined);
  assert.deepEqual(splitTemplate("select {{ 'a' | replace('r/', \"x\") }}")?.values, [
    "select",
    "a",
    "r/",
    "x",
  ]);
  assert.equal(splitTemplate("select {{ 'a' "), undefined);
  assert.equal(splitTemplate("select {{ 'a }}"), undefined);
  // A quote inside a name is not a string start.
  assert.equal(splitTemplate("select {{ a'b' }}"), undefined);
  assert.deepEqual(splitTemplate("{{ \"it\" }}, {{ 'x' }} {# c #} y")?.values, [
    "it",
    ",",
    "x",
    "y",
  ]);
});

/**
 * What a template renders (or the error it raises, with its line) and the
 * ref/source/config/var calls it makes, as a parse captures them.
 */
function outcome(text: string): string {
  const calls: string[] = [];
  const scope = {
    ref: (...names: string[]) => (calls.push(`ref ${names.join(".")}`), names.join(".")),
    source: (s: string, t: string) => (calls.push(`source ${s}.${t}`), `${s}.${t}`),
    config: (...args: unknown[]) => (calls.push(`config ${JSON.stringify(args)}`), ""),
    var: (name: string, fallback: unknown) => (calls.push(`var ${name}`), fallback),
    envVar: (_name: string, fallback: string | undefined) => fallback ?? "",
    isIncremental: () => false,
    self: undefined,
    target: {},
  } as never;
  try {
    return JSON.stringify({ out: env.render(env.compile(text, "models/m.sql"), scope), calls });
  } catch (error) {
    assert.ok(error instanceof DbtError, String(error));
    return JSON.stringify({ error: error.message, line: error.line, calls });
  }
}

Deno.test("templates of one shape render as each one's own code: literals that steer filters, tests, lookups and calls", () => {
  // A raw block keeps a template's own code (never shared), and renders nothing.
  const own = (text: string) => outcome(`{% raw %}{% endraw %}${text}`);
  const families: [string, string[]][] = [
    ["{{ '@' | format('q') }}", ["%s", "a%sb", "[%s]", "x"]],
    ["{{ 'a,b,c' | replace('@', '-') }}|{{ 'a,b,c'.split('@') }}", [",", "b", "$&", "zz"]],
    ["{{ 'a' is sameas '@' }}{{ '@' == 'a' }}{{ 'a' < '@' }}{% if '@' in 'abc' %}in{% endif %}", [
      "a",
      "b",
      "",
      "bc",
    ]],
    ["{% set d = {'a': 1, 'items': 2} %}{{ d['@'] }}|{{ d.get('@', 'none') }}", [
      "a",
      "items",
      "keys",
      "__proto__",
    ]],
    ["{% macro m(a='@') %}[{{ a }}|{{ caller() }}]{% endmacro %}{% call m() %}@{% endcall %}", [
      "d",
      "sp  aced",
      "{ brace",
    ]],
    ["  @  {%- if true -%}  @  {%- endif -%}  @  {#- c -#} @ ", [
      "x\ty",
      "a\u00a0b",
      "p\u2028q",
      "r\ufeff\ns",
    ]],
    [
      "{{ config(alias='@') }}select * from {{ ref('@') }}, {{ source('@', 't') }} {{ var('@', 'd') }}",
      [
        "a",
        "b_b",
        "",
      ],
    ],
    ["{{ '@' }}|{{ '@' '@' }}|{{ '@' | tojson }}|{{ ['@'] }}", ["{{ x }}", "%}", "#}", "😀", "it"]],
    ["@\n{{ ref('m') }}\n{{ nope.nope('q') }}", ["one", "two\nlines", "x\n\n\n\ny"]],
    ["{{ exceptions.raise_compiler_error('@') }}", ["boom", "other {{ x }}"]],
    ["{% set x -%}  @  {%- endset %}[{{ x }}]{{ x == '@' }}", ["a", "b  c", "x".repeat(5000)]],
    // A literal left in the skeleton whose text reads like the code's positions.
    [`@ {{ "it's lineno = 0, colno = 40" }}{{ {'lineno = 0, colno = 41': '@'} }}`, ["a", "b"]],
  ];
  for (const [shape, values] of families) {
    // Whitespace at either end of a text stays in the skeleton (`-%}` trims it), so only inner.
    const texts = values.map((value) => shape.replaceAll("@", value));
    const skeletons = new Set(texts.map((text) => splitTemplate(text)?.text));
    assert.equal(skeletons.size, 1, `one skeleton for ${shape}`);
    assert.notEqual([...skeletons][0], undefined, `${shape} is shared`);
    for (const text of texts) assert.equal(outcome(text), own(text), JSON.stringify(text));
  }
});
