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
const render = (text: string, file = "models/m.sql") =>
  env.render(env.compile(text, file), {
    ref: (name: string) => name,
    source: (s: string, t: string) => `${s}.${t}`,
    config: () => {},
    var: (_name: string, fallback: unknown) => fallback,
    envVar: (_name: string, fallback: string | undefined) => fallback ?? "",
    isIncremental: () => false,
    self: undefined,
    target: {},
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
      render(text, "models/bad.sql");
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
