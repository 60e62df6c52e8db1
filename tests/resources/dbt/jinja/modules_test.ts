/**
 * `modules.re` / `modules.datetime` and the `default` filter as dbt packages
 * use them (outputs are what Python's re/datetime and Jinja2 3.1 give).
 * Before: `(?P<name>...)` groups and `(?i)` threw, `re.match(p, s, re.I)` and
 * `re.sub(..., count)` ignored their argument, `findall` with groups gave
 * lists, `datetime.date(2020, 1, 2)` was not callable, and `[] |
 * default('x', true)` printed `[]`; `re.compile(p, flags)` dropped its flags
 * and its `match` did not anchor, `date - timedelta` failed and
 * `strptime(text, format)` ignored the format.
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
  // Verbose patterns ((?x), re.X / re.VERBOSE): whitespace and # comments are not part of
  // them, except in a class or escaped (dbt_project_evaluator's hard-coded reference finder;
  // before, nothing ever matched).
  [
    "{{ modules.re.findall('(?ix)\\n  # a comment\\n  (?<!distinct\\s)\\n  (from|join)\\s+  # keyword\\n  (\\w+)(\\.)(\\w+)\\n', 'select * FROM raw.orders, distinct from s.t') }}",
    "[('FROM', 'raw', '.', 'orders')]",
  ],
  [
    "{{ modules.re.findall('a b # c', 'ab', modules.re.X) }}|{{ modules.re.findall('[ #]x', ' x#x', modules.re.VERBOSE) }}|{{ modules.re.findall('a\\ b', 'a b', modules.re.X) }}",
    "['ab']|[' x', '#x']|['a b']",
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
  // Compiled patterns bind their flags; match anchors; split's maxsplit; groups() a tuple.
  // Dates and timedeltas: arithmetic, comparison, str(), replace(), weekday(), strftime codes.
  [
    "{{ modules.re.compile('b').match('abc') is none }}|{{ modules.re.compile('a').match('abc') is none }}",
    "True|False",
  ],
  [
    "{{ modules.re.compile('abc', modules.re.IGNORECASE).match('ABC') is none }}",
    "False",
  ],
  [
    "{{ modules.re.compile('(\\\\d+)').findall('a1b22') }}|{{ modules.re.compile('\\\\s+').sub('_', 'a  b c') }}",
    "['1', '22']|a_b_c",
  ],
  [
    "{{ modules.re.compile('x').search('axb').group(0) }}|{{ modules.re.compile('^a$').fullmatch('a') is not none }}",
    "x|True",
  ],
  [
    "{{ modules.re.split(',', 'a,b,c', 1) }}|{{ modules.re.split('[,;]', 'a,b;c') }}",
    "['a', 'b,c']|['a', 'b', 'c']",
  ],
  [
    "{{ modules.re.match('(\\\\w+)@(\\\\w+)', 'me@host').group(2) }}|{{ modules.re.match('(\\\\w+)@(\\\\w+)', 'me@host').groups() }}",
    "host|('me', 'host')",
  ],
  [
    "{{ (modules.datetime.datetime(2024, 3, 1) - modules.datetime.timedelta(days=1)).strftime('%Y-%m-%d') }}",
    "2024-02-29",
  ],
  [
    "{{ (modules.datetime.date(2024, 3, 1) - modules.datetime.date(2024, 1, 1)).days }}",
    "60",
  ],
  [
    "{{ (modules.datetime.datetime(2024, 3, 1, 12) + modules.datetime.timedelta(hours=13)).isoformat() }}",
    "2024-03-02T01:00:00",
  ],
  [
    "{{ modules.datetime.date(2024, 3, 1).isoformat() }}|{{ modules.datetime.date(2024, 3, 1).weekday() }}|{{ modules.datetime.date(2024, 3, 1).isoweekday() }}",
    "2024-03-01|4|5",
  ],
  [
    "{{ modules.datetime.datetime(2024, 3, 1).replace(day=15).strftime('%d %B %A %a %b') }}",
    "15 March Friday Fri Mar",
  ],
  [
    "{{ modules.datetime.datetime(2024, 3, 1, 5, 6, 7) }}|{{ modules.datetime.date(2024, 3, 1) }}|{{ modules.datetime.datetime(2024, 3, 1) > modules.datetime.datetime(2024, 2, 1) }}",
    "2024-03-01 05:06:07|2024-03-01|True",
  ],
  [
    "{{ modules.datetime.datetime(2024, 3, 1).date() == modules.datetime.date(2024, 3, 1) }}",
    "True",
  ],
  [
    "{{ modules.datetime.datetime(2024, 1, 31).strftime('%Y-%m-%dT%H:%M:%S') }}|{{ modules.datetime.datetime(2024, 1, 5).strftime('%w %U %j %I %p') }}",
    "2024-01-31T00:00:00|5 00 005 12 AM",
  ],
  [
    "{{ modules.itertools.product([1, 2], ['a']) | list }}|{{ modules.itertools.chain([1], [2]) | list }}",
    "[(1, 'a'), (2, 'a')]|[1, 2]",
  ],
  [
    "{{ modules.datetime.timedelta(days=2).total_seconds() }}|{{ modules.datetime.timedelta(days=1, hours=12).days }}",
    "172800.0|1",
  ],
];

Deno.test("jinja modules.re, modules.datetime.date and default() behave as in Python and Jinja2", () => {
  for (const [template, expected] of CASES) {
    assert.equal(render(template), expected, template);
  }
});

Deno.test("jinja modules.datetime.datetime.strptime reads its format, and refuses text that does not match", () => {
  assert.equal(
    render("{{ modules.datetime.datetime.strptime('20240315', '%Y%m%d').strftime('%Y-%m-%d') }}"),
    "2024-03-15",
  );
  assert.equal(
    render("{{ modules.datetime.datetime.strptime('15/Mar/24 10:20', '%d/%b/%y %H:%M') }}"),
    "2024-03-15 10:20:00",
  );
  assert.throws(
    () => render("{{ modules.datetime.datetime.strptime('2024-03-15', '%d') }}"),
    /time data '2024-03-15' does not match format '%d'/,
  );
});

Deno.test("jinja run_started_at and now(tz) are aware (UTC, printed +00:00); astimezone/localize move zones as pytz", () => {
  // dbt takes run_started_at as datetime.now(tz=pytz.utc): '{{ run_started_at }}'::timestamptz
  // must not be read in the session's zone.
  assert.match(render("{{ run_started_at }}"), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{6})?\+00:00$/);
  assert.match(render("{{ run_started_at.isoformat() }}"), /T.*\+00:00$/);
  assert.equal(
    render("{{ run_started_at.tzinfo }}|{{ run_started_at.strftime('%z %Z') }}"),
    "UTC|+0000 UTC",
  );
  assert.match(render("{{ modules.datetime.datetime.now(modules.pytz.utc) }}"), /\+00:00$/);
  assert.doesNotMatch(render("{{ modules.datetime.datetime.utcnow() }}"), /\+/);
  assert.doesNotMatch(render("{{ run_started_at.replace(tzinfo=none) }}"), /\+/);
  const cases: [string, string][] = [
    [
      "{{ modules.datetime.datetime(2020, 1, 1, 12).astimezone(modules.pytz.timezone('America/New_York')) }}",
      "2020-01-01 07:00:00-05:00",
    ],
    [
      "{{ modules.datetime.datetime(2020, 7, 1).astimezone(modules.pytz.timezone('Europe/Paris')).strftime('%H:%M %z') }}",
      "02:00 +0200",
    ],
    // The example of dbt's docs for modules.pytz.
    [
      "{{ modules.pytz.timezone('US/Eastern').localize(modules.datetime.datetime(2002, 10, 27, 6, 0, 0)) }}",
      "2002-10-27 06:00:00-05:00",
    ],
    [
      "{% set t = modules.datetime.datetime(2020, 1, 1, 12) %}{{ (t.astimezone(modules.pytz.utc) + modules.datetime.timedelta(hours=1)) }}",
      "2020-01-01 13:00:00+00:00",
    ],
  ];
  for (const [template, expected] of cases) assert.equal(render(template), expected, template);
  assert.throws(
    () => render("{{ modules.pytz.timezone('Nope/Nowhere') }}"),
    /unknown time zone 'Nope\/Nowhere'/,
  );
});

Deno.test("jinja now(tz) with something that is no tzinfo names it as Python writes it, never [object Object]", () => {
  for (
    const [template, shown] of [
      ["{{ modules.datetime.datetime.now({'zone': 5}) }}", "{'zone': 5}"],
      ["{{ modules.datetime.datetime(2020, 1, 1).astimezone('UTC') }}", "'UTC'"],
    ] as const
  ) {
    assert.throws(
      () => render(template),
      (error: unknown) => {
        assert.ok(error instanceof Error);
        assert.ok(!error.message.includes("[object Object]"), error.message);
        assert.ok(error.message.includes(`${shown} is not a tzinfo`), error.message);
        return true;
      },
      template,
    );
  }
});

Deno.test("jinja datetimes print as Python's str() and repr() (microseconds, tzinfo=, in lists and dicts)", () => {
  // Before: microseconds below the millisecond were dropped, tzinfo= was ignored, and a list
  // of datetimes printed [2024-01-02 03:04:05] instead of Python's repr.
  const dt = "modules.datetime";
  const cases: readonly (readonly [string, string])[] = [
    [`{{ ${dt}.datetime(2024, 1, 2, 3, 4, 5, 120) }}`, "2024-01-02 03:04:05.000120"],
    [`{{ ${dt}.datetime(2024, 1, 2, 3, 4, 5, 1500).microsecond }}`, "1500"],
    [
      `{{ ${dt}.datetime(2024, 1, 2, 3, 4, 5, 1500).replace(second=9) }}`,
      "2024-01-02 03:04:09.001500",
    ],
    [
      `{{ ${dt}.datetime(2024, 1, 2, 3, 4, 5, tzinfo=${dt}.timezone.utc) }}`,
      "2024-01-02 03:04:05+00:00",
    ],
    [`{{ [${dt}.datetime(2024, 1, 2, 3, 4, 5)] }}`, "[datetime.datetime(2024, 1, 2, 3, 4, 5)]"],
    [`{{ [${dt}.datetime(2024, 1, 2)] }}`, "[datetime.datetime(2024, 1, 2, 0, 0)]"],
    [
      `{{ [${dt}.datetime(2024, 1, 2, 3, 4, 0, 5)] }}`,
      "[datetime.datetime(2024, 1, 2, 3, 4, 0, 5)]",
    ],
    [
      `{{ {'at': ${dt}.datetime(2024, 1, 2, 3, 4, 5, tzinfo=modules.pytz.utc)} }}`,
      "{'at': datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=<UTC>)}",
    ],
    [`{{ [${dt}.date(2024, 1, 2)] }}`, "[datetime.date(2024, 1, 2)]"],
    [`{{ [${dt}.timedelta(days=1, hours=2)] }}`, "[datetime.timedelta(days=1, seconds=7200)]"],
    [`{{ [${dt}.timedelta(0)] }}`, "[datetime.timedelta(0)]"],
    [`{{ [${dt}.timedelta(minutes=-5)] }}`, "[datetime.timedelta(days=-1, seconds=86100)]"],
    [
      `{{ ${dt}.datetime(2024, 1, 2, 3, 4, 5, tzinfo=${dt}.timezone.utc).timestamp() }}`,
      "1704164645.0",
    ],
  ];
  for (const [template, expected] of cases) assert.equal(render(template), expected, template);
});

Deno.test("jinja astimezone() and timestamp() read a naive datetime as local time, as Python does", async () => {
  // Before: a naive datetime was taken as UTC, so on a machine in New York astimezone(utc)
  // of 03:04 gave 03:04+00:00 (Python: 08:04+00:00) and astimezone() gave UTC.
  const module = new URL("../../../../resources/dbt/jinja/env.ts", import.meta.url).href;
  const code = `
import { renderString } from "${module}";
const r = (t) => renderString(t, { env: () => undefined, file: "models/m.sql" });
console.log(JSON.stringify([
  r("{{ modules.datetime.datetime(2024, 1, 2, 3, 4, 5).astimezone(modules.pytz.utc) }}"),
  r("{{ modules.datetime.datetime(2024, 7, 2, 3, 4, 5).astimezone() }}"),
  r("{{ modules.datetime.datetime(2024, 1, 2, 3, 4, 5).timestamp() }}"),
  r("{{ modules.datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=modules.pytz.utc).astimezone(modules.pytz.utc) }}"),
]));`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--no-check", code],
    env: { TZ: "America/New_York", NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  // What Python 3 prints with TZ=America/New_York.
  assert.deepEqual(JSON.parse(text.trim().split("\n").at(-1) ?? ""), [
    "2024-01-02 08:04:05+00:00",
    "2024-07-02 03:04:05-04:00",
    "1704182645.0",
    "2024-01-02 03:04:05+00:00",
  ]);
});
