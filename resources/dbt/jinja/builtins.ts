/**
 * Jinja2's built-in filters and tests that nunjucks lacks or computes
 * differently, as Jinja2 3.1 (and so dbt) computes them: `count`,
 * `filesizeformat`, `pprint`, `wordwrap`, `xmlattr`, `dictsort` / `items` /
 * `groupby` as tuples, `list` of a dict as its keys, `join(attribute=)`,
 * `int` / `float` with their defaults, `round` half to even, `sum(attribute=,
 * start=)`, `trim(chars)`, `indent(width=, first=, blank=)`, `tojson` as
 * Python's `json.dumps` prints (sorted keys, `", "` / `": "`), and the tests
 * `integer`, `float`, `true`, `false`, `filter`, `test`, `sameas`.
 *
 * Hand-written: nunjucks is the Jinja engine here, and these are the
 * behaviours of Python built-ins (json.dumps, round, textwrap) that no npm
 * package reproduces byte for byte.
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import type nunjucks from "nunjucks";
import { dictEntries, dictKeys } from "./py_dict.ts";
import { asTuple, isPlainDict, pyRepr, pyStr } from "./py_repr.ts";
import { attributeOf } from "./python.ts";
import { Relation } from "../relation.ts";
import {
  formatNumber,
  isPyFloat,
  isPyNumber,
  pyAdd,
  pyFixed,
  PyFloat,
  pyFloat,
  pyInt,
  unbox,
} from "./py_number.ts";

type Fn = (...args: unknown[]) => unknown;

/** Keyword arguments as nunjucks passes them: a trailing object flagged `__keywords`. */
function splitArgs(args: unknown[]): { positional: unknown[]; kwargs: Record<string, unknown> } {
  const last = args.at(-1);
  if (typeof last === "object" && last !== null && (last as { __keywords?: unknown }).__keywords) {
    const { __keywords: _, ...kwargs } = last as Record<string, unknown>;
    return { positional: args.slice(0, -1), kwargs };
  }
  return { positional: args, kwargs: {} };
}

/** The `i`th argument, by position or by keyword, else `fallback`. */
function arg(
  parsed: { positional: unknown[]; kwargs: Record<string, unknown> },
  i: number,
  name: string,
  fallback: unknown,
): unknown {
  if (Object.hasOwn(parsed.kwargs, name)) return parsed.kwargs[name];
  return i < parsed.positional.length ? parsed.positional[i] : fallback;
}

/** The item itself without an attribute, else its attribute path (as `map(attribute=...)`). */
function attribute(item: unknown, path: unknown): unknown {
  return path === undefined || path === null ? item : attributeOf(item, path);
}

function entries(value: unknown): [unknown, unknown][] {
  if (value instanceof Map) return [...value.entries()];
  if (typeof value === "object" && value !== null) return dictEntries(value);
  return [];
}

/** Python's ordering of two sort keys (numbers numerically, the rest as text). */
function order(a: unknown, b: unknown): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  const [x, y] = [pyStr(a), pyStr(b)];
  return x < y ? -1 : x > y ? 1 : 0;
}

function sortKey(caseSensitive: boolean) {
  return (value: unknown) =>
    !caseSensitive && typeof value === "string" ? value.toLowerCase() : value;
}

/** Python's `json.dumps(value, sort_keys=...)`: `", "` and `": "` separators, ASCII only. */
export function pyJsonDumps(
  value: unknown,
  sortKeys: boolean,
  indent?: number,
  level = 0,
): string {
  // With an indent, Python puts each item on its own line (separators ',' and ': ').
  const wrap = (open: string, items: string[], close: string) => {
    if (indent === undefined) return `${open}${items.join(", ")}${close}`;
    if (items.length === 0) return `${open}${close}`;
    const pad = " ".repeat(indent * (level + 1));
    return `${open}\n${pad}${items.join(`,\n${pad}`)}\n${" ".repeat(indent * level)}${close}`;
  };
  const inner = (v: unknown) => pyJsonDumps(v, sortKeys, indent, level + 1);
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "number") {
    if (Number.isNaN(value)) return "NaN";
    if (!Number.isFinite(value)) return value > 0 ? "Infinity" : "-Infinity";
    return formatNumber(value);
  }
  if (value instanceof Number || typeof value === "bigint") return pyStr(value);
  if (typeof value === "string") {
    return JSON.stringify(value).replace(
      /[\u007f-\uffff]/g,
      (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  }
  if (Array.isArray(value)) return wrap("[", value.map(inner), "]");
  if (typeof value === "object") {
    const toJson = (value as { toJSON?: () => unknown }).toJSON;
    if (typeof toJson === "function") {
      return pyJsonDumps(toJson.call(value), sortKeys, indent, level);
    }
    const pairs = Object.entries(value).filter(([, v]) => v !== undefined);
    if (sortKeys) pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return wrap("{", pairs.map(([k, v]) => `${pyJsonDumps(k, sortKeys)}: ${inner(v)}`), "}");
  }
  throw new TypeError(`Object of type ${typeof value} is not JSON serializable`);
}

/**
 * Python's `round(value, digits)`: the float's exact decimal value is rounded,
 * so `round(2.675, 2)` is 2.67 (2.675 is stored as 2.67499999...), and exact
 * halves go to the even neighbour (`round(0.125, 2)` is 0.12).
 */
function roundHalfEven(value: number, digits: number): number {
  if (!Number.isFinite(value)) return value;
  if (digits >= 0) {
    // Past 17 significant digits a float has nothing left to round.
    if (digits > 20 || Math.abs(value) >= 1e21) return value;
    return Number(pyFixed(value, digits));
  }
  const scale = 10 ** digits;
  const scaled = value * scale;
  const floor = Math.floor(scaled);
  const diff = scaled - floor;
  const rounded = diff > 0.5 || (diff === 0.5 && floor % 2 !== 0) ? floor + 1 : floor;
  return rounded / scale;
}

/** Python's `int(text, base)` for what a template passes: `'42'`, `'0x1A'`, `' 7 '`. */
function parseInt10(text: string, base: number): number | bigint | undefined {
  let body = text.trim().replaceAll("_", "").toLowerCase();
  let sign = 1;
  if (body.startsWith("-") || body.startsWith("+")) {
    if (body.startsWith("-")) sign = -1;
    body = body.slice(1);
  }
  const prefixes: Record<string, number> = { "0x": 16, "0o": 8, "0b": 2 };
  const prefix = prefixes[body.slice(0, 2)];
  if (prefix !== undefined && (base === 0 || base === prefix)) {
    base = prefix;
    body = body.slice(2);
  }
  if (base === 0) base = 10;
  const digits = "0123456789abcdefghijklmnopqrstuvwxyz".slice(0, base);
  if (body === "" || [...body].some((ch) => !digits.includes(ch))) return undefined;
  const parsed = Number.parseInt(body, base);
  if (Number.isSafeInteger(parsed)) return sign * parsed;
  // Python's int() is exact: a big id stays every digit (base 10, 16, 8, 2 as BigInt reads them).
  const radix = base === 16
    ? "0x"
    : base === 8
    ? "0o"
    : base === 2
    ? "0b"
    : base === 10
    ? ""
    : null;
  if (radix === null) return sign * parsed;
  const exact = BigInt(radix + body);
  return pyInt(sign < 0 ? -exact : exact);
}

/** Python's `textwrap.wrap(line, width)` for one line, as `wordwrap` uses it. */
function wrapLine(line: string, width: number, breakLong: boolean): string[] {
  const words = line.replace(/\s/g, " ").split(/( +)/).filter((w) => w !== "");
  const lines: string[] = [];
  let current = "";
  for (const word of words) {
    if (/^ +$/.test(word)) {
      if (current !== "") current += word;
      continue;
    }
    if ((current + word).length <= width) {
      current += word;
      continue;
    }
    if (current.trimEnd() !== "") lines.push(current.trimEnd());
    current = "";
    let rest = word;
    while (breakLong && rest.length > width) {
      lines.push(rest.slice(0, width));
      rest = rest.slice(width);
    }
    current = rest;
  }
  if (current.trimEnd() !== "") lines.push(current.trimEnd());
  return lines;
}

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&#34;").replaceAll("'", "&#39;");
}

/** A `groupby` result: a tuple that also answers `.grouper` and `.list`, as Jinja2's namedtuple. */
function group(grouper: unknown, list: unknown[]): unknown[] {
  const tuple = asTuple([grouper, list]);
  Object.defineProperties(tuple, {
    grouper: { value: grouper },
    list: { value: list },
  });
  return tuple;
}

/** Python's truthiness of a template value. */
function pyTruthy(value: unknown): boolean {
  if (Array.isArray(value) || typeof value === "string") return value.length > 0;
  if (value instanceof PyFloat) return value.valueOf() !== 0;
  if (value instanceof Map || value instanceof Set) return value.size > 0;
  if (isPlainDict(value)) return Object.keys(value).length > 0;
  return Boolean(value) || (typeof value === "object" && value !== null);
}

/** Adds the filters and tests of this module to `env`, replacing nunjucks' own where they differ. */
export function addJinjaBuiltins(env: nunjucks.Environment): void {
  const filter = (name: string, fn: Fn) => env.addFilter(name, fn);
  const length = env.getFilter("length") as Fn;
  // The str filters take any value as Jinja2's soft_str does (`true | lower` is `true`,
  // `none | upper` is `NONE`); nunjucks' failed on a bool or number ("toLowerCase is not a
  // function") and gave '' for false.
  for (const name of ["lower", "upper", "capitalize", "center"]) {
    const own = env.getFilter(name) as Fn;
    env.addFilter(name, function (this: unknown, value: unknown, ...rest: unknown[]) {
      const text = value === undefined || typeof value === "string" ? value : pyStr(value);
      return own.call(this, text, ...rest);
    });
  }
  // Jinja2's do_title: a word starts after '-', whitespace, '(', '{', '[' or '<' (nunjucks
  // knew only spaces: 'a-b' stayed 'A-b', a word after a tab or newline stayed lower case).
  filter("title", (value) => {
    const text = value === undefined ? "" : typeof value === "string" ? value : pyStr(value);
    return text.split(/([-\s({[<]+)/).filter((item) => item !== "")
      .map((item) => item.charAt(0).toUpperCase() + item.slice(1).toLowerCase()).join("");
  });
  // `d | sort` sorts a dict's keys and `'abc' | sort` a str's characters, as Jinja2 iterates
  // them (nunjucks gave [] for a dict). `attribute='a,b'` sorts by a, then b (Jinja2 3.1).
  const ownSort = env.getFilter("sort") as Fn;
  env.addFilter("sort", function (this: unknown, value: unknown, ...rest: unknown[]) {
    const items = isPlainDict(value)
      ? dictKeys(value)
      : typeof value === "string"
      ? [...value]
      : value;
    const a = splitArgs(rest);
    const attr = arg(a, 2, "attribute", null);
    if (typeof attr !== "string" || !attr.includes(",") || !Array.isArray(items)) {
      return ownSort.call(this, items, ...rest);
    }
    const reverse = arg(a, 0, "reverse", false) === true;
    const key = sortKey(arg(a, 1, "case_sensitive", false) === true);
    const paths = attr.split(",").map((p) => p.trim());
    const compare = (x: unknown, y: unknown) => {
      for (const path of paths) {
        const c = order(key(attribute(x, path)), key(attribute(y, path)));
        if (c !== 0) return c;
      }
      return 0;
    };
    // Stable both ways, as Python's sorted(reverse=True) keeps equal items in order.
    return [...items].sort((x, y) => reverse ? compare(y, x) : compare(x, y));
  });
  // striptags takes any value, as Jinja2's str() of it (nunjucks called .replace on it).
  const ownStriptags = env.getFilter("striptags") as Fn;
  env.addFilter("striptags", function (this: unknown, value: unknown, ...rest: unknown[]) {
    return ownStriptags.call(this, value === undefined ? "" : pyStr(value), ...rest);
  });
  // `d | first` / `d | last` are its first and last keys, as Jinja2 iterates a dict; an
  // undefined value gives undefined (nunjucks crashed reading [0] of it).
  for (const name of ["first", "last"]) {
    const own = env.getFilter(name) as Fn;
    env.addFilter(name, function (this: unknown, value: unknown, ...rest: unknown[]) {
      if (value === undefined) return undefined;
      return own.call(this, isPlainDict(value) ? dictKeys(value) : value, ...rest);
    });
  }

  // Jinja2's do_slice: the slices past the longer ones get fill_with when it is not None
  // (nunjucks skipped a falsy one, and filled the wrong slices).
  filter("slice", (value, ...rest) => {
    const a = splitArgs(rest);
    const slices = Number(arg(a, 0, "slices", 1));
    const fill = arg(a, 1, "fill_with", null);
    const items = isPlainDict(value)
      ? dictKeys(value)
      : typeof value === "string"
      ? [...value]
      : Array.isArray(value)
      ? value
      : [...(value as Iterable<unknown>)];
    const per = Math.floor(items.length / slices);
    const extra = items.length % slices;
    const out: unknown[][] = [];
    let offset = 0;
    for (let i = 0; i < slices; i++) {
      const start = offset + i * per;
      if (i < extra) offset++;
      const part = items.slice(start, offset + (i + 1) * per);
      if (fill !== null && fill !== undefined && i >= extra) part.push(fill);
      out.push(part);
    }
    return out;
  });
  filter("count", (value) => length(value));
  filter("filesizeformat", (value, ...rest) => {
    const binary = arg(splitArgs(rest), 0, "binary", false) === true;
    const bytes = Number(value);
    const base = binary ? 1024 : 1000;
    const units = binary
      ? ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]
      : ["kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"];
    if (bytes === 1) return "1 Byte";
    if (bytes < base) return `${bytes} Bytes`;
    let unit = units[units.length - 1] as string;
    let size = bytes / base ** units.length;
    for (let i = 0; i < units.length; i++) {
      if (bytes < base ** (i + 2)) {
        unit = units[i] as string;
        size = bytes / base ** (i + 1);
        break;
      }
    }
    return `${size.toFixed(1)} ${unit}`;
  });
  filter("pprint", (value) => pyRepr(value));
  // Python's str(): `none | string` is 'None' (nunjucks threw reading null).
  filter("string", (value) => value === undefined ? "" : pyStr(value));
  // Jinja2's truncate keeps text within `leeway` (5) characters of the length whole.
  filter("truncate", (value, ...rest) => {
    const a = splitArgs(rest);
    const text = pyStr(value);
    const size = Number(arg(a, 0, "length", 255));
    const killwords = arg(a, 1, "killwords", false) === true;
    const end = String(arg(a, 2, "end", "..."));
    const leeway = Number(arg(a, 3, "leeway", 5) ?? 5);
    if (text.length <= size + leeway) return text;
    if (killwords) return text.slice(0, size - end.length) + end;
    const head = text.slice(0, size - end.length);
    const cut = head.lastIndexOf(" ");
    return (cut < 0 ? head : head.slice(0, cut)) + end;
  });
  filter("wordwrap", (value, ...rest) => {
    const a = splitArgs(rest);
    const width = Number(arg(a, 0, "width", 79));
    const breakLong = arg(a, 1, "break_long_words", true) !== false;
    const wrap = arg(a, 2, "wrapstring", null);
    const sep = typeof wrap === "string" ? wrap : "\n";
    return String(value).split(/\r?\n/).map((line) => wrapLine(line, width, breakLong).join(sep))
      .join(sep);
  });
  filter("xmlattr", (value, ...rest) => {
    const autospace = arg(splitArgs(rest), 0, "autospace", true) !== false;
    const text = entries(value)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `${escapeXml(String(k))}="${escapeXml(pyStr(v))}"`)
      .join(" ");
    return autospace && text !== "" ? ` ${text}` : text;
  });
  filter("join", (value, ...rest) => {
    const a = splitArgs(rest);
    const sep = arg(a, 0, "d", "");
    const attr = arg(a, 1, "attribute", null);
    const items = typeof value === "string" ? [...value] : Array.isArray(value) ? value : [];
    return items.map((item) => pyStr(attribute(item, attr))).join(pyStr(sep ?? ""));
  });
  filter("list", (value) => {
    // An undefined value iterates as nothing in Jinja2 (`d['missing'] | list` is []).
    if (value === undefined) return [];
    if (typeof value === "string") return [...value];
    if (Array.isArray(value)) return [...value];
    if (value instanceof Map || value instanceof Set) return [...value.keys()];
    if (typeof value === "object" && value !== null && Symbol.iterator in value) {
      return [...(value as Iterable<unknown>)];
    }
    if (typeof value === "object" && value !== null) return dictKeys(value);
    throw new TypeError(`list: ${pyRepr(value)} is not iterable`);
  });
  filter("int", (boxed, ...rest) => {
    const value = unbox(boxed);
    const a = splitArgs(rest);
    const fallback = arg(a, 0, "default", 0);
    const base = Number(arg(a, 1, "base", 10));
    if (typeof value === "number") return Number.isFinite(value) ? Math.trunc(value) : fallback;
    if (typeof value === "bigint") return value;
    if (typeof value === "boolean") return value ? 1 : 0;
    if (typeof value !== "string") return fallback;
    const parsed = parseInt10(value, base);
    if (parsed !== undefined) return parsed;
    const float = Number(value.trim());
    return value.trim() !== "" && Number.isFinite(float) ? Math.trunc(float) : fallback;
  });
  filter("float", (value, ...rest) => {
    const fallback = arg(splitArgs(rest), 0, "default", 0.0);
    const float = (n: number) => pyFloat(n);
    if (isPyNumber(value) || typeof value === "bigint") return float(Number(value));
    if (typeof value === "boolean") return float(value ? 1 : 0);
    const text = typeof value === "string" ? value.trim().toLowerCase() : "";
    if (text === "inf" || text === "infinity" || text === "+inf") return Infinity;
    if (text === "-inf" || text === "-infinity") return -Infinity;
    if (text === "nan") return NaN;
    const number = Number(text.replaceAll("_", ""));
    if (text !== "" && !Number.isNaN(number) && !/^[+-]?0[xob]/.test(text)) return float(number);
    // Jinja2's default is the float 0.0; a default the template gives is returned as given.
    return fallback === 0.0 && arg(splitArgs(rest), 0, "default", undefined) === undefined
      ? float(0)
      : fallback;
  });
  filter("round", (value, ...rest) => {
    const a = splitArgs(rest);
    const digits = Number(arg(a, 0, "precision", 0));
    const method = String(arg(a, 1, "method", "common"));
    const number = Number(value);
    const scale = 10 ** digits;
    // Jinja2: ceil/floor divide (always a float); common is Python's round(), which keeps an
    // int an int (`5|round` is 5, `5.4|round` is 5.0).
    if (method === "ceil") return pyFloat(Math.ceil(number * scale) / scale);
    if (method === "floor") return pyFloat(Math.floor(number * scale) / scale);
    if (method !== "common") {
      throw new TypeError(`round: method must be 'common', 'ceil' or 'floor', not '${method}'`);
    }
    if (typeof value === "number" && Number.isInteger(value)) {
      return digits >= 0 ? value : roundHalfEven(value, digits);
    }
    return pyFloat(roundHalfEven(number, digits));
  });
  // Jinja2's batch fills the last batch with any fill_with but None (nunjucks skipped a falsy
  // one: `batch(2, 0)` left [3] unfilled); a str batches its characters.
  filter("batch", (value, ...rest) => {
    const a = splitArgs(rest);
    const size = Number(arg(a, 0, "linecount", 1));
    const fill = arg(a, 1, "fill_with", null);
    if (!Number.isInteger(size) || size < 1) throw new TypeError("batch: linecount must be >= 1");
    const items = typeof value === "string" ? [...value] : Array.isArray(value) ? value : [];
    const out: unknown[][] = [];
    for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
    const last = out.at(-1);
    if (last && fill !== null && fill !== undefined) {
      while (last.length < size) last.push(fill);
    }
    return out;
  });
  filter("sum", (value, ...rest) => {
    const a = splitArgs(rest);
    const attr = arg(a, 0, "attribute", null);
    const start = arg(a, 1, "start", 0);
    const items = (Array.isArray(value) ? value : []).map((item) => attribute(item, attr));
    if (Array.isArray(start)) return items.reduce<unknown[]>((acc, x) => acc.concat(x), start);
    return items.reduce<unknown>((acc, x) => pyAdd(acc, x), start);
  });
  filter("trim", (value, ...rest) => {
    const chars = arg(splitArgs(rest), 0, "chars", null);
    // Jinja2's soft_str: none trims to 'None' (a seed's unset custom schema in jaffle-shop's
    // generate_schema_name), undefined to ''.
    const text = pyStr(value === undefined ? "" : value);
    if (typeof chars !== "string") return text.trim();
    let [from, to] = [0, text.length];
    while (from < to && chars.includes(text.charAt(from))) from++;
    while (to > from && chars.includes(text.charAt(to - 1))) to--;
    return text.slice(from, to);
  });
  filter("indent", (value, ...rest) => {
    const a = splitArgs(rest);
    const width = arg(a, 0, "width", 4);
    const first = arg(a, 1, "first", false) === true;
    const blank = arg(a, 2, "blank", false) === true;
    const pad = typeof width === "string" ? width : " ".repeat(Number(width));
    const lines = pyStr(value ?? "").split("\n");
    return lines.map((line, i) =>
      (i === 0 && !first) || (!blank && line.trim() === "") ? line : pad + line
    ).join("\n");
  });
  filter("items", (value) => entries(value).map((pair) => asTuple(pair)));
  filter("dictsort", (value, ...rest) => {
    const a = splitArgs(rest);
    const key = sortKey(arg(a, 0, "case_sensitive", false) === true);
    const by = String(arg(a, 1, "by", "key"));
    const reverse = arg(a, 2, "reverse", false) === true;
    if (by !== "key" && by !== "value") {
      throw new TypeError(`dictsort: by must be 'key' or 'value', not '${by}'`);
    }
    const at = by === "key" ? 0 : 1;
    const sorted = entries(value).sort((x, y) => order(key(x[at]), key(y[at])));
    if (reverse) sorted.reverse();
    return sorted.map((pair) => asTuple(pair));
  });
  filter("groupby", (value, ...rest) => {
    const a = splitArgs(rest);
    const attr = arg(a, 0, "attribute", undefined);
    const fallback = arg(a, 1, "default", undefined);
    const key = sortKey(arg(a, 2, "case_sensitive", false) === true);
    const keyOf = (item: unknown) => attribute(item, attr) ?? fallback;
    const items = [...(Array.isArray(value) ? value : [])]
      .sort((x, y) => order(key(keyOf(x)), key(keyOf(y))));
    const groups: unknown[][] = [];
    let current: { key: unknown; grouper: unknown; list: unknown[] } | undefined;
    for (const item of items) {
      const k = key(keyOf(item));
      if (current === undefined || current.key !== k) {
        if (current) groups.push(group(current.grouper, current.list));
        current = { key: k, grouper: keyOf(item), list: [] };
      }
      current.list.push(item);
    }
    if (current) groups.push(group(current.grouper, current.list));
    return groups;
  });
  filter("tojson", (value, ...rest) => {
    // Jinja2's tojson(indent=None): json.dumps with sort_keys and the indent, made HTML-safe.
    const indent = arg(splitArgs(rest), 0, "indent", null);
    const width = indent === null || indent === undefined ? undefined : Number(indent);
    if (width !== undefined && !(Number.isInteger(width) && width >= 0)) {
      throw new TypeError(`tojson(indent=${pyRepr(indent)}): the indent is a number of spaces`);
    }
    return pyJsonDumps(value, true, width).replaceAll("<", "\\u003c").replaceAll(">", "\\u003e")
      .replaceAll("&", "\\u0026").replaceAll("'", "\\u0027");
  });

  const addTest = (env as unknown as { addTest(name: string, fn: Fn): void }).addTest.bind(env);
  // Jinja2's default(value, default, boolean): with boolean, any false value (Python's
  // truthiness: [] and {} too) takes the default; without, only an undefined one.
  const byDefault: Fn = (value, ...rest) => {
    const a = splitArgs(rest);
    const fallback = arg(a, 0, "default_value", "");
    const boolean = arg(a, 1, "boolean", false) === true;
    return value === undefined || (boolean && !pyTruthy(value)) ? fallback : value;
  };
  filter("default", byDefault);
  filter("d", byDefault);
  filter(
    "abs",
    (value) =>
      value instanceof PyFloat
        ? new PyFloat(Math.abs(value.valueOf()))
        : typeof value === "bigint"
        ? (value < 0n ? -value : value)
        : Math.abs(value as number),
  );
  addTest(
    "integer",
    (value) => (typeof value === "number" && Number.isInteger(value)) || typeof value === "bigint",
  );
  addTest("float", (value) => isPyFloat(value));
  // Python's bool is a Number (isinstance(True, numbers.Number)).
  addTest(
    "number",
    (value) => isPyNumber(value) || typeof value === "boolean" || typeof value === "bigint",
  );
  // `select` / `reject` without a test keep Python's true values ([] and {} are false).
  addTest("truthy", (value) => pyTruthy(value));
  addTest("true", (value) => value === true);
  addTest("false", (value) => value === false);
  addTest("sameas", (value, other) => value === other);
  // Python's `value % 2 == 1`: -3 is odd (JavaScript's -3 % 2 is -1, so nunjucks said no).
  const parity = (value: unknown) =>
    typeof value === "bigint" ? Number(((value % 2n) + 2n) % 2n) : ((Number(value) % 2) + 2) % 2;
  addTest("odd", (value) => parity(value) === 1);
  addTest("even", (value) => parity(value) === 0);
  const has = (kind: "getFilter" | "getTest") => (name: unknown) => {
    try {
      return typeof (env as unknown as Record<string, Fn>)[kind]?.call(env, String(name)) ===
        "function";
    } catch {
      return false;
    }
  };
  // Jinja2's symbolic test names (`selectattr('n', '>', 1)`, `select('==', 'x')`).
  const getTest = (name: string) => (env as unknown as { getTest(n: string): Fn }).getTest(name);
  for (
    const [alias, name] of [["==", "eq"], ["!=", "ne"], [">", "gt"], [">=", "ge"], ["<", "lt"], [
      "<=",
      "le",
    ]]
  ) {
    addTest(alias!, getTest(name!));
  }
  // A macro's result is a str (nunjucks' SafeString, a String object): `m() is string` is true.
  addTest("string", (value) => typeof value === "string" || value instanceof String);
  // Jinja2's str(value).islower() / isupper(): any value, true only with a cased character.
  const cased = (value: unknown, lower: boolean) => {
    const text = pyStr(value);
    return lower
      ? text === text.toLowerCase() && text !== text.toUpperCase()
      : text === text.toUpperCase() && text !== text.toLowerCase();
  };
  addTest("lower", (value) => cased(value, true));
  addTest("upper", (value) => cased(value, false));
  addTest("filter", has("getFilter"));
  addTest("test", has("getTest"));
  // A Relation is a mapping in dbt (its API objects are): dbt_utils._is_relation checks
  // `obj is mapping and obj.get('metadata', {}).get('type', '').endswith('Relation')`.
  addTest(
    "mapping",
    (value) => isPlainDict(value) || value instanceof Map || value instanceof Relation,
  );
}
