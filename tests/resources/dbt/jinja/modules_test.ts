/**
 * `modules.re` / `modules.datetime` and the `default` filter as dbt packages
 * use them (outputs are what Python's re/datetime and Jinja2 3.1 give).
 * Before: `(?P<name>...)` groups and `(?i)` threw, `re.match(p, s, re.I)` and
 * `re.sub(..., count)` ignored their argument, `findall` with groups gave
 * lists, `datetime.date(2020, 1, 2)` was not callable, and `[] |
 * default('x', true)` printed `[]`.
 */

import assert from "node:assert/strict";
import { renderString } from "../../../../resources/dbt/jinja/env.ts";

const render = (text: string) => renderString(text, { env: () => undefined, file: "models/m.sql" });

const CASES: readonly (readonly [string, string])[] = [
  ["{{ 'abc'.partition('b') }}{{ 'abc'.partition('x') }}", "('a', 'b', 'c')('abc', '', '')"],
  [
    "{{ modules.re.match('(?P<y>[0-9]{4})-(?P<m>[0-9]{2})', '2020-03-x').group('m') }}",
    "03",
  ],
  ["{{ modules.re.match('(?i)abc', 'ABCd') is not none }}", "True"],
  ["{{ modules.re.match('b', 'abc') is none }}", "True"],
  ["{{ modules.re.search('x', 'aXb', modules.re.I).start() }}", "1"],
  ["{{ modules.re.sub('a', 'b', 'aaa', 2) }}|{{ modules.re.sub('a', 'b', 'aaa') }}", "bba|bbb"],
  ["{{ modules.re.sub('(?P<w>[a-z]+)', '<\\\\g<w>>', 'ab cd') }}", "<ab> <cd>"],
  [
    "{{ modules.re.findall('(a)(b)', 'abab') }}{{ modules.re.findall('a(b)', 'ab') }}",
    "[('a', 'b'), ('a', 'b')]['b']",
  ],
  [
    "{{ modules.re.fullmatch('ab', 'abc') is none }}{{ modules.re.fullmatch('ab', 'ab') is none }}",
    "TrueFalse",
  ],
  [
    "{{ modules.datetime.date(2020, 1, 2) }}|{{ modules.datetime.date(2020, 1, 2).strftime('%Y/%m/%d') }}",
    "2020-01-02|2020/01/02",
  ],
  ["{{ modules.datetime.date.fromisoformat('2021-05-06') }}", "2021-05-06"],
  [
    "{{ [] | default('e', true) }}{{ {} | d('f', true) }}{{ none | default('n') }}{{ '' | default('s', boolean=true) }}{{ 0 | default('z', true) }}{{ x | default('u') }}{{ 'v' | default('w', true) }}{{ '' | default('q') }}",
    "efNoneszuv",
  ],
];

Deno.test("jinja modules.re, modules.datetime.date and default() behave as in Python and Jinja2", () => {
  for (const [template, expected] of CASES) {
    assert.equal(render(template), expected, template);
  }
});
