/**
 * Seeded random Jinja templates of the kind dbt macros write: typed
 * expressions (so most cases render rather than fail on a type error) and
 * the statements around them. Every template starts with a prelude that sets
 * the data the expressions read, so the oracle needs no context.
 *
 * @module
 */

import { Random } from "../../tests/_helpers/reliability.ts";

/**
 * A seeded pseudo-random source: the same seed, the same cases. The numbers
 * come from the reliability tests' {@linkcode Random} (mulberry32); this adds
 * the `int(n)` the grammar draws with.
 */
export class Rng {
  readonly #random: Random;

  /** Starts the sequence at `seed`. */
  constructor(seed: number) {
    this.#random = new Random(seed);
  }

  /** A float in [0, 1). */
  next(): number {
    return this.#random.next();
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The data every template can read (set by {@linkcode PRELUDE}). */
export const PRELUDE = "{% set xs = [3, 1, 2, 3] %}{% set ys = ['b', 'a', 'C', ''] %}" +
  "{% set d = {'a': 1, 'b': none, 'c': [1, 2]} %}" +
  "{% set rows = [{'name': 'b', 'n': 2, 'tag': 'x'}, {'name': 'a', 'n': 1, 'tag': 'y'}, " +
  "{'name': 'c', 'n': 2, 'tag': 'x'}] %}{% set s = ' Hello, World ' %}{% set n = 7 %}" +
  "{% set f = 2.5 %}{% set t = (1, 'two', none) %}{% set e = [] %}";

type Kind = "str" | "int" | "num" | "bool" | "list" | "dict" | "any";

const STRINGS = [
  "''",
  "'abc'",
  "'a,b,,c'",
  "'Hello World'",
  "'  pad  '",
  "'it''s'".replace("''", "\\'"),
  '"dq \\"x\\""',
  "'tab\\tnew\\nline'",
  "'ünï'",
  "'123'",
  "'-4.5'",
  "'xxaxx'",
  "'a_b-c d'",
  "'%s'",
  "'{}-{}'",
  "'UPPER lower'",
  "'back\\\\slash'",
];
const INTS = ["0", "1", "-1", "2", "3", "7", "-7", "10", "255", "12345678901234567890", "n"];
const FLOATS = ["0.0", "-0.0", "1.5", "-2.25", "1e3", "1e-7", "0.1", "2.5e20", "f", "1.0"];

/** Generates one template from `rng`. */
export function generate(rng: Rng): string {
  const g = new Gen(rng);
  const parts: string[] = [];
  const count = 1 + rng.int(3);
  for (let i = 0; i < count; i++) parts.push(g.statement(2));
  const tail = rng.chance(0.1) ? "\n" : "";
  return PRELUDE + parts.join(rng.pick(["", "|", "\n", " "])) + tail;
}

class Gen {
  readonly #rng: Rng;
  #macros = 0;

  constructor(rng: Rng) {
    this.#rng = rng;
  }

  expr(kind: Kind, depth: number): string {
    const r = this.#rng;
    if (depth <= 0) return this.leaf(kind);
    const d = depth - 1;
    if (r.chance(0.08)) return `(${this.expr(kind, d)})`;
    if (r.chance(0.06)) {
      return `(${this.expr(kind, d)} if ${this.expr("bool", d)} else ${this.expr(kind, d)})`;
    }
    switch (kind) {
      case "str":
        return r.pick([
          () => `${this.expr("str", d)} ~ ${this.expr("any", d)}`,
          () => `${this.expr("str", d)} + ${this.expr("str", d)}`,
          () => `${this.expr("str", d)} * ${r.pick(["0", "2", "-1", "3"])}`,
          () => `${this.expr("str", d)}${this.strMethod(d)}`,
          () => `${this.expr("any", d)} | ${this.strFilter(d)}`,
          () => `${this.expr("list", d)} | join(${r.pick(["", "', '", "'-'"])})`,
          () => `${this.expr("str", d)}[${this.slice()}]`,
          () => `'%s-%s' % (${this.expr("any", d)}, ${this.expr("any", d)})`,
          () =>
            `'%d|%5.2f|%-4s|%r' % (${this.expr("int", d)}, ${this.expr("num", d)}, ${
              this.expr("str", d)
            }, ${this.expr("any", d)})`,
          () => `'{}:{}'.format(${this.expr("any", d)}, ${this.expr("any", d)})`,
          () =>
            `'{0}{1!r}{x}'.format(${this.expr("any", d)}, ${this.expr("any", d)}, x=${
              this.expr("int", d)
            })`,
          () => `${this.expr("any", d)} | string`,
          () => `${this.expr("any", d)} | tojson`,
          () => `tojson(${this.expr("any", d)})`,
          () => `${this.expr("any", d)} | pprint`,
          () =>
            `${this.expr("str", d)} | truncate(${
              r.pick(["3", "5", "10, true", "6, false, '..'"])
            })`,
        ])();
      case "int":
        return r.pick([
          () =>
            `${this.expr("int", d)} ${r.pick(["+", "-", "*", "//", "%"])} ${this.expr("int", d)}`,
          () => `${this.expr("int", d)} ** ${r.pick(["0", "2", "3", "-1"])}`,
          () => `-${this.expr("int", d)}`,
          () => `${this.expr("any", d)} | length`,
          () => `${this.expr("any", d)} | int`,
          () => `${this.expr("str", d)} | int(${r.pick(["-1", "0, 16", "base=2"])})`,
          () => `${this.expr("str", d)}.count(${this.expr("str", d)})`,
          () => `${this.expr("str", d)}.find(${this.expr("str", d)})`,
          () => `${this.expr("list", d)} | sum`,
          () => `${this.expr("list", d)}.index(${this.leaf("any")})`,
          () => `${this.expr("list", d)}.count(${this.leaf("any")})`,
          () => `${this.expr("str", d)} | wordcount`,
          () => `${this.expr("num", d)} | round | int`,
          () => `${this.expr("int", d)} | abs`,
          () => `${this.expr("list", d)} | max`,
          () => `${this.expr("list", d)} | min`,
        ])();
      case "num":
        return r.pick([
          () =>
            `${this.expr("num", d)} ${r.pick(["+", "-", "*", "/", "//", "%"])} ${
              this.expr("num", d)
            }`,
          () => `${this.expr("num", d)} ** ${r.pick(["0.5", "2", "-1"])}`,
          () => `${this.expr("any", d)} | float`,
          () =>
            `${this.expr("num", d)} | round(${
              r.pick(["", "1", "2, 'floor'", "0, 'ceil'", "1, 'common'"])
            })`,
          () => `${this.expr("num", d)} | abs`,
          () => `${this.expr("int", d)} / ${this.expr("int", d)}`,
          () => `${this.expr("str", d)} | float(${r.pick(["", "-1.0"])})`,
          () => this.expr("int", d),
        ])();
      case "bool":
        return r.pick([
          () =>
            `${this.expr("any", d)} ${r.pick(["==", "!=", "<", ">", "<=", ">="])} ${
              this.expr("any", d)
            }`,
          () => `${this.expr("int", d)} < ${this.expr("int", d)} <= ${this.expr("int", d)}`,
          () =>
            `${this.expr("any", d)} ${r.pick(["in", "not in"])} ${
              this.expr(r.pick(["list", "str", "dict"]), d)
            }`,
          () => `${this.expr("any", d)} is ${r.pick(["", "not "])}${this.test(d)}`,
          () => `not ${this.expr("any", d)}`,
          () => `${this.expr("any", d)} ${r.pick(["and", "or"])} ${this.expr("any", d)}`,
          () =>
            `${this.expr("str", d)}.${r.pick(["startswith", "endswith"])}(${
              r.chance(0.3) ? "('a', 'H', ' ')" : this.expr("str", d)
            })`,
          () =>
            `${this.expr("str", d)}.${
              r.pick(["isdigit", "isalpha", "isupper", "islower", "isspace", "isalnum"])
            }()`,
          () => `${this.expr("any", d)} | bool`,
          () => `${this.expr("list", d)} | ${r.pick(["select", "reject"])} | list | length > 0`,
        ])();
      case "list":
        return r.pick([
          () => `[${this.items(d)}]`,
          () => `${this.expr("list", d)} + ${this.expr("list", d)}`,
          () => `${this.expr("list", d)}[${this.slice()}]`,
          () =>
            `${this.expr("str", d)}.${r.pick(["split", "rsplit"])}(${
              r.pick(["", "','", "' '", "',', 1", "'a'"])
            })`,
          () => `${this.expr("any", d)} | list`,
          () =>
            `${this.expr("list", d)} | sort${
              r.pick(["", "(reverse=true)", "(case_sensitive=true)"])
            } | list`,
          () =>
            `rows | sort(attribute='${r.pick(["n", "name", "n,name", "tag"])}'${
              r.pick(["", ", reverse=true"])
            }) | map(attribute='name') | list`,
          () => `${this.expr("list", d)} | unique | list`,
          () => `${this.expr("list", d)} | reverse | list`,
          () =>
            `rows | ${r.pick(["selectattr", "rejectattr"])}('${r.pick(["tag", "n"])}'${
              r.pick([
                "",
                ", 'equalto', 'x'",
                ", 'eq', 2",
                ", 'defined'",
                ", 'none'",
                ", '>', 1",
                ", 'in', ['x']",
              ])
            }) | map(attribute='name') | list`,
          () =>
            `${this.expr("list", d)} | ${r.pick(["select", "reject"])}(${
              r.pick([
                "",
                "'odd'",
                "'string'",
                "'number'",
                "'none'",
                "'defined'",
                "'divisibleby', 3",
                "'lt', 2",
                "'in', [1, 'a']",
                "'sameas', none",
              ])
            }) | list`,
          () =>
            `${this.expr("list", d)} | map(${
              r.pick([
                "'upper'",
                "'string'",
                "'int'",
                "'length'",
                "'default', 'z'",
                "'lower'",
                "'trim'",
              ])
            }) | list`,
          () => `${this.expr("list", d)} | batch(${r.pick(["2", "3, 'x'"])}) | list`,
          () => `${this.expr("list", d)} | slice(${r.pick(["2", "3", "2, 0"])}) | list`,
          () => `rows | groupby('${r.pick(["tag", "n"])}') | list`,
          () => `rows | groupby('${r.pick(["tag", "n"])}') | map(attribute='grouper') | list`,
          () =>
            `${this.expr("dict", d)} | dictsort${
              r.pick(["", "(reverse=true)", "(by='value')", "(false, 'value')"])
            }`,
          () => `${this.expr("dict", d)}.items() | list`,
          () => `${this.expr("dict", d)}.keys() | list`,
          () => `${this.expr("dict", d)}.values() | list`,
          () => `${this.expr("dict", d)} | list`,
          () => `${this.expr("dict", d)} | items | list`,
          () => `range(${r.pick(["3", "1, 4", "5, 0, -2", "0"])}) | list`,
          () => `zip(${this.expr("list", d)}, ${this.expr("list", d)}) | list`,
          () => `set(${this.expr("list", d)}) | sort`,
          () => `${this.expr("list", d)} | map('string') | join(',') | list`,
          () => `(${this.expr("list", d)} | first, ${this.expr("list", d)} | last)`,
          () => `${this.expr("str", d)} | list`,
        ])();
      case "dict":
        return r.pick([
          () => `{${this.pairs(d)}}`,
          () => `dict(${r.pick(["a=1, b='x'", "", "[('k', 1), ('j', 2)]", "d, z=0"])})`,
          () => "d",
          () => `rows[${r.pick(["0", "-1", "1"])}]`,
        ])();
      case "any":
        return this.expr(
          r.pick(["str", "int", "num", "bool", "list", "dict", "str", "int"] as const),
          d,
        ) +
          (r.chance(0.1) ? this.anyTail(d) : "");
    }
  }

  anyTail(d: number): string {
    const r = this.#rng;
    return r.pick([
      () => ` | default(${this.leaf("any")})`,
      () => ` | d(${this.leaf("any")}, true)`,
      () => ` | first`,
      () => ` | last`,
      () => `[${r.pick(["0", "-1", "'a'", "1"])}]`,
      () => `.get('a'${r.pick(["", ", 'dflt'"])})`,
      () => `.${r.pick(["missing", "a", "upper"])}`,
      () => ` | ${this.strFilter(d)}`,
    ])();
  }

  leaf(kind: Kind): string {
    const r = this.#rng;
    switch (kind) {
      case "str":
        return r.pick([...STRINGS, "s", "ys[0]", "rows[0].name", "d | string"]);
      case "int":
        return r.pick(INTS);
      case "num":
        return r.pick([...FLOATS, ...INTS.slice(0, 4)]);
      case "bool":
        return r.pick(["true", "false", "True", "False", "(none is none)", "(1 == 1.0)"]);
      case "list":
        return r.pick([
          "xs",
          "ys",
          "e",
          "[1, 2]",
          "['a', 'b']",
          "t",
          "[none, true, 1.5, 'q']",
          "d.c",
          "(1,)",
          "()",
        ]);
      case "dict":
        return r.pick(["d", "{}", "{'x': 1}", "rows[0]", "{1: 'one', 'k': (1, 2)}"]);
      case "any":
        return r.chance(0.08)
          ? r.pick(["none", "undef_x", "d.missing", "d['zz']", "undef_x.y", "rows[0].nope"])
          : this.leaf(r.pick(["str", "int", "num", "bool", "list", "dict"] as const));
    }
  }

  items(d: number): string {
    const n = this.#rng.int(4);
    return Array.from({ length: n }, () => this.expr("any", Math.min(d, 1))).join(", ");
  }

  pairs(d: number): string {
    const n = this.#rng.int(3);
    return Array.from(
      { length: n },
      (_, i) =>
        `${this.#rng.pick([`'k${i}'`, `${i}`, `'k${i}'`])}: ${this.expr("any", Math.min(d, 1))}`,
    ).join(", ");
  }

  slice(): string {
    return this.#rng.pick([
      "0",
      "-1",
      "1:",
      ":2",
      "::-1",
      "1:-1",
      "::2",
      "-2:",
      "5:",
      "1::-1",
      "-1:0:-1",
      "10",
    ]);
  }

  strMethod(d: number): string {
    const r = this.#rng;
    return r.pick([
      () =>
        `.${
          r.pick(["upper", "lower", "title", "capitalize", "strip", "lstrip", "rstrip", "swapcase"])
        }()`,
      () => `.${r.pick(["strip", "lstrip", "rstrip"])}(${r.pick(["'x'", "' H'", "'abc'"])})`,
      () => `.replace(${this.expr("str", 0)}, ${this.expr("str", 0)}${r.pick(["", ", 1"])})`,
      () => `.zfill(${r.pick(["5", "0", "8"])})`,
      () => `.${r.pick(["ljust", "rjust", "center"])}(${r.pick(["6", "7, '*'"])})`,
      () => `.join(${this.expr("list", Math.min(d, 1))} | map('string'))`,
      () => `.split(${r.pick(["", "','"])})[${r.pick(["0", "-1"])}]`,
      () => `.partition(',') | list | join('|')`,
    ])();
  }

  strFilter(d: number): string {
    const r = this.#rng;
    return r.pick([
      "lower",
      "upper",
      "title",
      "capitalize",
      "trim",
      "string",
      `replace(${this.expr("str", 0)}, ${this.expr("str", 0)})`,
      `indent(${r.pick(["2", "4, true", "width=2, first=true, blank=true"])})`,
      `center(${r.pick(["9", "3"])})`,
      `format(${this.expr("any", Math.min(d, 1))})`,
      "filesizeformat",
      "filesizeformat(true)",
      `trim(${r.pick(["'x'", "' H'"])})`,
      "striptags",
      "urlencode",
      "e",
      "wordwrap(5)",
    ]);
  }

  test(d: number): string {
    const r = this.#rng;
    return r.pick([
      "defined",
      "undefined",
      "none",
      "string",
      "number",
      "integer",
      "float",
      "mapping",
      "iterable",
      "sequence",
      "boolean",
      "true",
      "false",
      "odd",
      "even",
      "lower",
      "upper",
      "callable",
      `sameas ${this.leaf("any")}`,
      `divisibleby(${r.pick(["2", "3"])})`,
      `eq ${this.leaf("any")}`,
      `ne(${this.leaf("any")})`,
      `lt ${this.leaf("int")}`,
      `ge ${this.leaf("num")}`,
      `in(${this.expr("list", Math.min(d, 1))})`,
      `equalto ${this.leaf("any")}`,
    ]);
  }

  statement(depth: number): string {
    const r = this.#rng;
    const d = depth - 1;
    const ws = () => r.pick(["", "", "-"]);
    const body = () => (depth > 0 ? this.statement(d) : `{{ ${this.expr("any", 1)} }}`);
    const options = [
      () => `{{${ws()} ${this.expr("any", 3)} ${ws()}}}`,
      () => `{{ ${this.expr("any", 2)} }}`,
      () => `{% set v = ${this.expr("any", 2)} %}{{ v }}`,
      () =>
        `{% for x in ${this.expr("list", 2)} ${
          r.pick(["", "if x", "if x is number", "recursive"])
        } %}` +
        `{{ loop.index }}{{ loop.index0 }}:{{ x }}${
          r.pick([
            "",
            "{{ loop.first }}{{ loop.last }}",
            "{{ loop.length }}{{ loop.revindex }}",
            "{{ loop.cycle('a', 'b') }}",
            "{% if loop.index > 1 %}{% break %}{% endif %}",
            "{% if x %}{% continue %}{% endif %}!",
            "{{ loop.previtem }}|{{ loop.nextitem }}",
            "{{ loop.changed(x) }}",
          ])
        }` +
        `${ws() === "-" ? "\n  " : ","}{% ${r.pick(["else", "endfor"])} %}${
          r.chance(0.5) ? "" : "nothing"
        }` +
        `{% endfor %}`.replace(/\{% endfor %\}nothing\{% endfor %\}$/, "{% endfor %}nothing"),
      () => `{% for k, v in ${this.expr("dict", 1)}.items() %}{{ k }}={{ v }};{% endfor %}`,
      () =>
        `{% if ${this.expr("bool", 2)} %}${body()}{% elif ${
          this.expr("any", 1)
        } %}B{% else %}${body()}{% endif %}`,
      () =>
        `{% set ns = namespace(total=0, seen=[]) %}{% for x in ${
          this.expr("list", 1)
        } %}{% set ns.total = ns.total + 1 %}{% do ns.seen.append(x) %}{% endfor %}{{ ns.total }}{{ ns.seen }}`,
      () =>
        `{% set acc = [] %}{% do acc.${
          r.pick([
            "append(1)",
            "extend([1, 2])",
            "insert(0, 'z')",
            "append(xs.pop())",
            "extend(ys)",
          ])
        } %}{% do acc.${
          r.pick(["append(2)", "pop()", "reverse()", "sort()", "remove(1)"])
        } %}{{ acc }}{{ xs }}`,
      () =>
        `{% set m = {'a': 1} %}{% do m.update(${r.pick(["{'b': 2}", "b=3", "d"])}) %}{% do m.${
          r.pick(["pop('a')", "setdefault('q', [])", "pop('zz', 0)", "clear()", "pop('zz')"])
        } %}{{ m }}{{ m | length }}`,
      () => this.macro(d),
      () => `{% set blk %}${body()} x {% endset %}[{{ blk }}]{{ blk | length }}`,
      () =>
        `{% filter ${
          r.pick(["upper", "trim", "replace('a', 'b')", "indent(2)"])
        } %}${body()} aab {% endfilter %}`,
      () => `{% raw %}{{ x }}{% endraw %}{# note {{ y }} #}${body()}`,
      () => `  {%- if true -%}\n  ${body()}\n  {%- endif %}  \n{{- ' after' }}`,
      () => `\n{% for i in range(2) %}\n  {{ i }}\n{% endfor %}\n`,
      () =>
        `{% set a, b = ${r.pick(["(1, 2)", "[xs, ys]", "'ab'", "(1, 2, 3)"])} %}{{ a }}/{{ b }}`,
      () => `{{ ${this.expr("any", 1)} }}{{ ${this.expr("any", 1)} }}`,
      () => `{% with q = ${this.expr("any", 1)} %}{{ q }}{% endwith %}`,
    ];
    return r.pick(options)();
  }

  macro(d: number): string {
    const r = this.#rng;
    const name = `m${this.#macros++}`;
    const sig = r.pick(["a, b=2", "a=none, b='x'", "a", "a, b=[1]"]);
    const body = r.pick([
      "{{ a }}|{{ b }}|{{ varargs }}|{{ kwargs }}",
      "{{ a }}{% if caller is defined %}[{{ caller() }}]{% endif %}",
      "{{ a ~ b }}",
      "{{ a }}{{ kwargs.get('z', 0) }}{{ varargs | length }}",
    ].filter((b) => sig.includes("b") || !b.includes("b ") && !b.includes("b}")));
    const arg = () => this.expr("any", Math.min(d, 1));
    const call = r.pick([
      () => `{{ ${name}(${arg()}) }}`,
      () => `{{ ${name}(${arg()}, ${arg()}) }}`,
      () => `{{ ${name}(${arg()}, b=${arg()}) }}`,
      () => `{{ ${name}(${arg()}, 1, 2, z=3) }}`,
      () => `{% call ${name}(${arg()}) %}inner {{ 1 + 1 }}{% endcall %}`,
      () => `{{ ${name}(b=1, a=${arg()}) | ${r.pick(["trim", "length", "upper"])} }}`,
      () => `{% set r = ${name}(${arg()}) %}{{ r }}{{ r is string }}`,
    ])();
    return `{% macro ${name}(${sig}) -%}${body}{%- endmacro %}${call}`;
  }
}
