/**
 * Python's `str()` and `repr()` of template values, as Jinja2 (and so dbt)
 * prints them: `None`, `True`/`False`, `['a', 1]`, `{'k': 'v'}`, tuples as
 * `('a', 'b')` / `('a',)`. Used for `{{ value }}`, `~`, and dbt's generic
 * test names (which are built from Python's str() of YAML values).
 *
 * @module
 */

import { formatNumber } from "./py_number.ts";
import { dictEntries } from "./py_dict.ts";

/** Marks an array that a template wrote as a tuple (`('a', 'b')`), so it prints as one. */
export const TUPLE: unique symbol = Symbol("dbt.tuple");

/** Marks `items` as a tuple (a non-enumerable flag: it stays an array for everything else). */
export function asTuple<T extends unknown[]>(items: T): T {
  Object.defineProperty(items, TUPLE, { value: true });
  return items;
}

/** Marks an array that is a dict's `keys()`, `values()` or `items()` (a view, in Python). */
export const DICT_VIEW: unique symbol = Symbol("dbt.dictView");

/**
 * Marks `items` as the view `kind` of a dict, so it prints as Python prints
 * one (`dict_keys(['a', 'b'])`); it stays an array for everything else
 * (iteration, `in`, `| length`; `| list` gives a plain list).
 */
export function asDictView<T extends unknown[]>(
  items: T,
  kind: "dict_keys" | "dict_values" | "dict_items",
): T {
  Object.defineProperty(items, DICT_VIEW, { value: kind });
  return items;
}

/** Marks an array made by `range()`, holding how Python prints it (`range(0, 3)`). */
export const PY_RANGE: unique symbol = Symbol("dbt.range");

/**
 * Python's `range(start, stop, step)` as a list that prints as Python prints
 * the range (`range(0, 3)`, `range(1, 9, 2)`); it stays a list for
 * iteration, `in`, `| length` and indexing, and `| list` gives its items.
 */
export function pyRange(args: readonly unknown[]): number[] {
  const ints = args.map((arg) => {
    if (typeof arg !== "number" || !Number.isInteger(arg)) {
      throw new TypeError(`range(): '${pyRepr(arg)}' cannot be interpreted as an integer`);
    }
    return arg;
  });
  if (ints.length < 1 || ints.length > 3) {
    throw new TypeError(`range expected 1 to 3 arguments, got ${String(ints.length)}`);
  }
  const [start, stop, step] = ints.length === 1
    ? [0, ints[0]!, 1]
    : [ints[0]!, ints[1]!, ints[2] ?? 1];
  if (step === 0) throw new RangeError("range() arg 3 must not be zero");
  const items: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) items.push(i);
  const text = `range(${String(start)}, ${String(stop)}${step === 1 ? "" : `, ${String(step)}`})`;
  Object.defineProperty(items, PY_RANGE, { value: text });
  return items;
}

/** Marks a list made by `set()`: a Python set, which `==` compares without order. */
export const PY_SET: unique symbol = Symbol("dbt.set");

/**
 * `items` marked as a Python set (still a list for iteration, `in`, `| list`
 * and `| length`): `set(a) == set(b)` holds whatever the order of the items,
 * as dbt-utils' `equality` test relies on to compare two tables' columns.
 */
export function asSet<T extends unknown[]>(items: T): T {
  Object.defineProperty(items, PY_SET, { value: true });
  return items;
}

/** Whether `value` was made by `set()`. */
export function isPySet(value: unknown): value is unknown[] {
  return Array.isArray(value) && (value as { [PY_SET]?: boolean })[PY_SET] === true;
}

/** Whether `value` is a plain dict (a template or YAML mapping), not an object with behaviour. */
export function isPlainDict(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  // An object that prints itself (a relation, a datetime, a column) is not data.
  const print = (value as { toString?: unknown }).toString;
  return print === undefined || print === Object.prototype.toString;
}

/** Python's `str()` of `value`. */
export function pyStr(value: unknown): string {
  if (typeof value === "string") return value;
  if (value === null) return "None";
  // Jinja2's Undefined: str() is '' (`'%s' % nope`, `'{}'.format(nope)`, `[nope] | join`).
  if (value === undefined) return "";
  if (typeof value === "boolean") return value ? "True" : "False";
  if (typeof value === "number") return formatNumber(value);
  if (Array.isArray(value)) {
    const items = value.map(pyRepr);
    const view = (value as { [DICT_VIEW]?: string })[DICT_VIEW];
    if (view !== undefined) return `${view}([${items.join(", ")}])`;
    const range = (value as { [PY_RANGE]?: string })[PY_RANGE];
    if (range !== undefined) return range;
    if ((value as { [PY_SET]?: boolean })[PY_SET]) {
      return items.length === 0 ? "set()" : `{${items.join(", ")}}`;
    }
    if ((value as { [TUPLE]?: boolean })[TUPLE]) {
      return items.length === 1 ? `(${items[0]},)` : `(${items.join(", ")})`;
    }
    return `[${items.join(", ")}]`;
  }
  if (isPlainDict(value)) {
    // A value left undefined in a mapping is one of the runner's own fields unset (None in dbt's
    // dicts) at least as often as a template's Undefined: it stays None.
    return `{${
      dictEntries(value).map(([k, v]) => `${pyRepr(k)}: ${v === undefined ? "None" : pyRepr(v)}`)
        .join(", ")
    }}`;
  }
  return String(value);
}

/** Python's `repr()` of `value`. */
export function pyRepr(value: unknown): string {
  if (typeof value === "string") return reprString(value);
  // Jinja2's Undefined inside a list or tuple (`{{ [nope] }}` is `[Undefined]`), or `'%r' % nope`.
  if (value === undefined) return "Undefined";
  // An object that has its own repr (a datetime: `datetime.datetime(2024, 1, 2, 3, 4)`).
  const repr = typeof value === "object" && value !== null
    ? (value as { __repr__?: unknown }).__repr__
    : undefined;
  if (typeof repr === "function") return String(repr.call(value));
  return pyStr(value);
}

/** A character {@linkcode reprString} writes other than as itself, whichever quote it uses. */
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /[\\\x00-\x1f\x7f]/;

/** Python's `repr()` of a str: single quotes unless only double quotes are free. */
export function reprString(text: string): string {
  // Most strings (names, SQL) need no escape: 30k generic test ids repr their metadata at load.
  if (!NEEDS_ESCAPE.test(text)) {
    if (!text.includes("'")) return `'${text}'`;
    if (!text.includes('"')) return `"${text}"`; // `ref('m')`: the other quote, nothing escaped
  }
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of text) {
    const code = ch.codePointAt(0) as number;
    if (ch === "\\") out += "\\\\";
    else if (ch === quote) out += `\\${quote}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else out += ch;
  }
  return out + quote;
}
