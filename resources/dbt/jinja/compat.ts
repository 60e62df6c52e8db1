/**
 * Makes nunjucks read more of the Jinja that dbt projects write: nunjucks'
 * own `installJinjaCompat()` (True/False/None, slices, `dict.items()`,
 * `list.append()`...) plus the Python string methods and dbt filters it
 * lacks (`'x'.upper()`, `| as_number`...). Installed once per process.
 *
 * @module
 */

// @ts-types="@types/nunjucks"
import nunjucks from "nunjucks";
import { copyKeyKinds, dictEntries, dictKeys, setItem } from "./py_dict.ts";
import { Namespace, pyEquals, withMacroExtras } from "./python.ts";
import { pyFormat } from "./str_format.ts";
import { asDictView, asTuple, isPlainDict, pyRepr, TUPLE } from "./py_repr.ts";
import { PyFloat, pyJsonParse, unbox } from "./py_number.ts";

type MemberLookup = (obj: unknown, val: unknown, ...rest: unknown[]) => unknown;

type MakeMacro = (
  argNames: string[],
  kwargNames: string[],
  func: (...args: unknown[]) => unknown,
) => (...args: unknown[]) => unknown;

interface NunjucksInternals {
  installJinjaCompat(): void;
  runtime: {
    memberLookup: MemberLookup;
    makeMacro: MakeMacro;
    SafeString: new (...args: unknown[]) => unknown;
  };
}

/**
 * `return(value)` inside a macro: thrown by the `return` global and caught
 * where the macro was called, which then returns `value` instead of its text
 * (dbt does the same with an exception).
 */
export class ReturnSignal {
  /** Creates the signal carrying the macro's result. */
  constructor(readonly value: unknown) {}

  /**
   * What nunjucks' error says when no macro caught the signal (a `return()` at
   * the top of a model): it builds its message with `String()`, which would
   * otherwise print `[object Object]`.
   */
  toString(): string {
    return RETURN_OUTSIDE_MACRO;
  }
}

/** The text of a `return()` no macro caught; the renderer turns it into its error. */
export const RETURN_OUTSIDE_MACRO = "return() called outside a macro";

/** Python `str` methods dbt models and macros use, for JavaScript strings. */
const STRING_MEMBERS: Record<string, (this: string, ...args: unknown[]) => unknown> = {
  upper() {
    return this.toUpperCase();
  },
  lower() {
    return this.toLowerCase();
  },
  strip(chars?: unknown) {
    return typeof chars === "string" ? trimChars(this, chars, true, true) : this.trim();
  },
  lstrip(chars?: unknown) {
    return typeof chars === "string" ? trimChars(this, chars, true, false) : this.trimStart();
  },
  rstrip(chars?: unknown) {
    return typeof chars === "string" ? trimChars(this, chars, false, true) : this.trimEnd();
  },
  // A tuple of prefixes matches any of them, as in Python.
  startswith(prefix: unknown) {
    return (Array.isArray(prefix) ? prefix : [prefix]).some((p) => this.startsWith(String(p)));
  },
  endswith(suffix: unknown) {
    return (Array.isArray(suffix) ? suffix : [suffix]).some((p) => this.endsWith(String(p)));
  },
  replace(from: unknown, to: unknown, count?: unknown) {
    if (typeof count !== "number" || count < 0) return this.replaceAll(String(from), String(to));
    const parts = this.split(String(from));
    return parts.slice(0, count + 1).join(String(to)) +
      (parts.length > count + 1 ? String(from) + parts.slice(count + 1).join(String(from)) : "");
  },
  swapcase() {
    return [...this].map((c) => c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())
      .join("");
  },
  center(width: unknown, fill?: unknown) {
    const pad = Math.max(0, Number(width) - this.length);
    const left = Math.floor(pad / 2) + (pad % 2 === 1 && Number(width) % 2 === 1 ? 1 : 0);
    const f = typeof fill === "string" ? fill : " ";
    return f.repeat(left) + this + f.repeat(pad - left);
  },
  removeprefix(prefix: unknown) {
    return this.startsWith(String(prefix)) ? this.slice(String(prefix).length) : String(this);
  },
  removesuffix(suffix: unknown) {
    const s = String(suffix);
    return s !== "" && this.endsWith(s) ? this.slice(0, -s.length) : String(this);
  },
  rpartition(sep: unknown) {
    const at = this.lastIndexOf(String(sep));
    return asTuple(
      at < 0
        ? ["", "", String(this)]
        : [this.slice(0, at), String(sep), this.slice(at + String(sep).length)],
    );
  },
  split(separator?: unknown, maxsplit?: unknown) {
    return pySplit(this, separator, maxsplit, false);
  },
  // Python capitalizes each run of letters: 'a_b' is 'A_B', "it's" is "It'S".
  title() {
    return this.replace(/\p{L}+/gu, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase());
  },
  join(items: unknown) {
    if (typeof items === "string") return [...items].join(this);
    return Array.isArray(items) ? items.map(String).join(this) : String(items);
  },
  format(...args: unknown[]) {
    return pyFormat(this, args);
  },
  find(sub: unknown) {
    return this.indexOf(String(sub));
  },
  isdigit() {
    return /^\p{Nd}+$/u.test(this);
  },
  count(sub: unknown) {
    // Python counts the empty string between every character and at both ends.
    return String(sub) === "" ? [...this].length + 1 : this.split(String(sub)).length - 1;
  },
  capitalize() {
    return this.charAt(0).toUpperCase() + this.slice(1).toLowerCase();
  },
  casefold() {
    return this.toLowerCase();
  },
  ljust(width: unknown, fill?: unknown) {
    return this.padEnd(Number(width), typeof fill === "string" ? fill : " ");
  },
  rjust(width: unknown, fill?: unknown) {
    return this.padStart(Number(width), typeof fill === "string" ? fill : " ");
  },
  zfill(width: unknown) {
    // A sign stays in front (`'-7'.zfill(4)` is -007).
    const sign = /^[+-]/.test(this) ? this[0]! : "";
    return sign + this.slice(sign.length).padStart(Number(width) - sign.length, "0");
  },
  // Unicode letters and digits, as Python's str methods ('ünï'.isalpha() is True).
  isupper() {
    return this !== this.toLowerCase() && this === this.toUpperCase();
  },
  islower() {
    return this !== this.toUpperCase() && this === this.toLowerCase();
  },
  isalpha() {
    return /^\p{L}+$/u.test(this);
  },
  isalnum() {
    return /^[\p{L}\p{N}]+$/u.test(this);
  },
  isnumeric() {
    return /^\d+$/.test(this);
  },
  isspace() {
    return /^\s+$/.test(this);
  },
  rfind(sub: unknown) {
    return this.lastIndexOf(String(sub));
  },
  index(sub: unknown) {
    const at = this.indexOf(String(sub));
    if (at < 0) throw new TypeError(`'${String(sub)}' is not in '${this}'`);
    return at;
  },
  rsplit(separator?: unknown, maxsplit?: unknown) {
    return pySplit(this, separator, maxsplit, true);
  },
  splitlines() {
    return this.split(/\r?\n/).filter((line, i, all) => i < all.length - 1 || line !== "");
  },
  partition(sep: unknown) {
    const at = this.indexOf(String(sep));
    // A tuple, as Python's: prints ('a', 'b', 'c').
    return asTuple(
      at < 0
        ? [String(this), "", ""]
        : [this.slice(0, at), String(sep), this.slice(at + String(sep).length)],
    );
  },
};

/** Python `list` methods nunjucks' compat layer leaves out. */
const LIST_MEMBERS: Record<string, (this: unknown[], ...args: unknown[]) => unknown> = {
  extend(items: unknown) {
    if (Array.isArray(items)) this.push(...items);
    return null;
  },
  copy() {
    return [...this];
  },
  reverse() {
    this.reverse();
    return null;
  },
  // `sort(key=f, reverse=True)` in Python's order: numbers by value (10 after 9), else as text.
  sort(...args: unknown[]) {
    const last = args.at(-1) as Record<string, unknown> | undefined;
    const kw = typeof last === "object" && last !== null && last.__keywords === true ? last : {};
    const key = typeof kw.key === "function" ? kw.key as (item: unknown) => unknown : undefined;
    const keyed = this.map((item) => [key ? key(item) : item, item] as const);
    keyed.sort((a, b) => pyOrder(a[0], b[0]));
    if (kw.reverse === true) keyed.reverse();
    keyed.forEach(([, item], i) => this[i] = item);
    return null;
  },
  // `pop(i)` gives the item (nunjucks' gave a one-item list); a negative i counts from the end.
  pop(index?: unknown) {
    if (this.length === 0) throw new RangeError("pop from empty list");
    if (index === undefined || index === null) return this.pop();
    const at = Number(index) < 0 ? this.length + Number(index) : Number(index);
    if (!(at >= 0 && at < this.length)) throw new RangeError("pop index out of range");
    return this.splice(at, 1)[0];
  },
  clear() {
    this.length = 0;
    return null;
  },
  // index / count / remove compare with Python's == (`[True].index(1)`, `[1.0].count(1)`):
  // nunjucks' used JavaScript identity.
  index(item: unknown) {
    const at = this.findIndex((other) => pyEquals(item, other));
    if (at < 0) throw new RangeError(`${pyRepr(item)} is not in list`);
    return at;
  },
  count(item: unknown) {
    return this.filter((other) => pyEquals(item, other)).length;
  },
  remove(item: unknown) {
    const at = this.findIndex((other) => pyEquals(item, other));
    if (at < 0) throw new RangeError("list.remove(x): x not in list");
    this.splice(at, 1);
    return null;
  },
};

/** Python's ordering of two sort keys: numbers by value, sequences item by item, else as text. */
function pyOrder(a: unknown, b: unknown): number {
  const [x, y] = [unbox(a), unbox(b)];
  if (typeof x === "number" && typeof y === "number") return x - y;
  if (Array.isArray(x) && Array.isArray(y)) {
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
      const c = pyOrder(x[i], y[i]);
      if (c !== 0) return c;
    }
    return x.length - y.length;
  }
  const [p, q] = [String(x), String(y)];
  return p < q ? -1 : p > q ? 1 : 0;
}

/**
 * Python's `str.split` / `str.rsplit` (one helper: they differ only in the
 * side the splits start from). With a separator the rest is rejoined with
 * it; without one, runs of whitespace split and the rest after `maxsplit`
 * splits stays as written (`' a  b  c '.split(None, 1)` is `['a', 'b  c ']`).
 */
function pySplit(
  text: string,
  separator: unknown,
  maxsplit: unknown,
  fromRight: boolean,
): string[] {
  const max = Number(maxsplit ?? -1);
  if (separator !== undefined && separator !== null) {
    const sep = String(separator);
    const parts = text.split(sep);
    if (max < 0 || parts.length <= max + 1) return parts;
    return fromRight
      ? [parts.slice(0, parts.length - max).join(sep), ...parts.slice(parts.length - max)]
      : [...parts.slice(0, max), parts.slice(max).join(sep)];
  }
  // From the right is from the left on the reversed text (code units: reversed back exactly).
  const reverse = (value: string) => value.split("").reverse().join("");
  const parts: string[] = [];
  let rest = (fromRight ? reverse(text) : text).replace(/^\s+/, "");
  while (rest !== "" && (max < 0 || parts.length < max)) {
    const gap = /\s+/.exec(rest);
    if (gap === null) break;
    parts.push(rest.slice(0, gap.index));
    rest = rest.slice(gap.index + gap[0].length);
  }
  if (rest !== "") parts.push(rest);
  return fromRight ? parts.map(reverse).reverse() : parts;
}

function trimChars(text: string, chars: string, start: boolean, end: boolean): string {
  let from = 0;
  let to = text.length;
  while (start && from < to && chars.includes(text.charAt(from))) from++;
  while (end && to > from && chars.includes(text.charAt(to - 1))) to--;
  return text.slice(from, to);
}

let installed = false;

/** Dicts that answer None for a key they lack (see {@linkcode noneForMissing}). */
const NONE_FOR_MISSING = new WeakSet<object>();

/**
 * Marks `dict` as dbt's config object: `config.anything` and `config['anything']`
 * of a key it lacks are None (BaseConfig.__getitem__ is `get(key)`), not undefined,
 * while `config.get(key, default)` still gives the default. Returns `dict`.
 */
export function noneForMissing<T extends object>(dict: T): T {
  NONE_FOR_MISSING.add(dict);
  return dict;
}

/** Installs the compatibility layer into nunjucks (once; later calls do nothing). */
export function installJinjaCompat(): void {
  if (installed) return;
  installed = true;
  const internals = nunjucks as unknown as NunjucksInternals;
  internals.installJinjaCompat();
  const lookup = internals.runtime.memberLookup;
  internals.runtime.memberLookup = function (obj, val, ...rest) {
    // `d[1.0]` finds the key 1: Python's 1 == 1.0 hash alike (dict keys are stored so too).
    if (val instanceof PyFloat) val = val.valueOf();
    // A namespace's attributes win over dict method names (`ns.items`, `ns.keys`).
    if (obj instanceof Namespace && typeof val === "string" && Object.hasOwn(obj, val)) {
      return obj[val];
    }
    // An object's own methods win over the Python dict methods of the compat layer
    // (agate columns from run_query have their own `values()`).
    if (
      typeof obj === "object" && obj !== null && typeof val === "string" &&
      Object.hasOwn(obj, val) &&
      typeof (obj as Record<string, unknown>)[val] === "function"
    ) {
      const fn = (obj as Record<string, unknown>)[val] as (...args: unknown[]) => unknown;
      // A class-like function keeps its members (`datetime.datetime.now`, `api.Column.create`).
      return Object.keys(fn).length === 0 ? fn.bind(obj) : Object.assign(fn.bind(obj), fn);
    }
    if (typeof obj === "string" && typeof val === "string" && Object.hasOwn(STRING_MEMBERS, val)) {
      return (STRING_MEMBERS[val] as (...args: unknown[]) => unknown).bind(obj);
    }
    // A macro's output is a str in Jinja2 (Markup): `macro().split(',')`, `text.count('x')`.
    if (
      obj instanceof internals.runtime.SafeString && typeof val === "string" &&
      Object.hasOwn(STRING_MEMBERS, val)
    ) {
      return (STRING_MEMBERS[val] as (...args: unknown[]) => unknown).bind(String(obj));
    }
    // Python's negative indexes (`name.split('__')[-1]`).
    if (
      typeof val === "number" && val < 0 && rest.length < 2 &&
      (Array.isArray(obj) || typeof obj === "string")
    ) {
      return obj[obj.length + val];
    }
    if (Array.isArray(obj) && typeof val === "string" && Object.hasOwn(LIST_MEMBERS, val)) {
      return (LIST_MEMBERS[val] as (...args: unknown[]) => unknown).bind(obj);
    }
    // `d.get(k)` of a missing key is None (prints None); `d.copy()` is a shallow copy;
    // `d.update(k=v)` takes keywords (the compat layer stored its keyword marker as a key).
    if (isPlainDict(obj) && typeof val === "string" && !Object.hasOwn(obj, val)) {
      const dict = obj;
      if (val === "get") {
        return (key: unknown, fallback: unknown = null) => {
          const found = dict[String(key)];
          return found === undefined ? fallback : found;
        };
      }
      if (val === "copy") {
        return () => {
          const copy = { ...dict };
          copyKeyKinds(dict, copy);
          return copy;
        };
      }
      if (val === "update") {
        return (...args: unknown[]) => {
          for (const arg of args) {
            if (Array.isArray(arg)) {
              for (const pair of arg) if (Array.isArray(pair)) setItem(dict, pair[0], pair[1]);
            } else if (typeof arg === "object" && arg !== null) {
              for (const [k, v] of dictEntries(arg)) if (k !== "__keywords") setItem(dict, k, v);
            }
          }
          return null;
        };
      }
      // `popitem()`: the last key inserted and its value, as a tuple.
      if (val === "popitem") {
        return () => {
          const last = dictEntries(dict).at(-1);
          if (last === undefined) throw new RangeError("popitem(): dictionary is empty");
          delete dict[String(unbox(last[0]))];
          return asTuple([...last]);
        };
      }
      if (val === "clear") {
        return () => {
          for (const key of Object.keys(dict)) delete dict[key];
          return null;
        };
      }
      if (val === "setdefault") {
        return (key: unknown, fallback: unknown = null) => {
          if (!Object.hasOwn(dict, String(key))) setItem(dict, key, fallback);
          return dict[String(key)];
        };
      }
    }
    // `d.items()` gives (key, value) tuples, as Python prints them; `d.keys()` number keys as
    // numbers.
    // All three print as Python's views (`dict_keys(['a'])`), as dbt logs and SQL comments
    // that print them show.
    if (val === "items" && isPlainDict(obj) && !Object.hasOwn(obj, "items")) {
      return () => asDictView(dictEntries(obj).map((pair) => asTuple(pair)), "dict_items");
    }
    if (val === "keys" && isPlainDict(obj) && !Object.hasOwn(obj, "keys")) {
      return () => asDictView(dictKeys(obj), "dict_keys");
    }
    if (val === "values" && isPlainDict(obj) && !Object.hasOwn(obj, "values")) {
      return () => asDictView(dictEntries(obj).map(([, v]) => v), "dict_values");
    }
    // Slices (`items[1:]`) arrive with their stop and step as further arguments; a slice of a
    // str is a str (`'abc'[1:]` is `bc`, not `['b', 'c']`).
    // Python's slice bounds (nunjucks read past the end: `[][:2]` was [None]).
    const found = rest.length === 2 && (Array.isArray(obj) || typeof obj === "string")
      ? pySlice(typeof obj === "string" ? [...obj] : obj, val, rest[0], rest[1])
      : lookup.call(this, obj, val, ...rest);
    if (rest.length === 2 && Array.isArray(found)) {
      if (typeof obj === "string") return found.join("");
      // A slice of a tuple is a tuple (`'%s-%s' % t[:2]` formats its items).
      if ((obj as { [TUPLE]?: boolean })[TUPLE] === true) return asTuple(found);
    }
    return found;
  };
  const compatLookup = internals.runtime.memberLookup;
  internals.runtime.memberLookup = function (obj, val, ...rest) {
    const found = compatLookup.call(this, obj, val, ...rest);
    return found === undefined && typeof val === "string" && typeof obj === "object" &&
        obj !== null && NONE_FOR_MISSING.has(obj)
      ? null
      : found;
  };
  installMacroSignatures();
  const makeMacro = internals.runtime.makeMacro;
  internals.runtime.makeMacro = (argNames, kwargNames, func) => {
    const macro = makeMacro(argNames, kwargNames, function (this: unknown, ...args: unknown[]) {
      try {
        return func.apply(this, args);
      } catch (signal) {
        if (signal instanceof ReturnSignal) return signal.value;
        throw signal;
      }
    });
    // The arguments as called (nunjucks drops the ones the macro does not name): `varargs`.
    const wrapped = function (this: unknown, ...args: unknown[]) {
      const signature = (wrapped as { [SIGNATURE]?: MacroSignature })[SIGNATURE];
      // Parsing too: dbt parses with the same Macro objects, so a bad call fails its parse.
      if (signature !== undefined) checkArguments(signature, argNames, kwargNames, args);
      return withMacroExtras(argNames, kwargNames, args, () => macro.apply(this, args));
    };
    // Jinja2's `m.arguments`: the parameter names as a tuple (a strict function's own
    // `arguments` throws, so a macro reading it crashed the render).
    Object.defineProperty(wrapped, "arguments", {
      value: asTuple([...argNames, ...kwargNames.filter((name) => name !== "caller")]),
    });
    return wrapped;
  };
}

/** What a macro's body reads of the arguments it does not name (Jinja2's catch_kwargs...). */
interface MacroSignature {
  readonly name: string;
  /** The body reads `kwargs`: any keyword is taken. */
  readonly kwargs: boolean;
  /** The body reads `varargs`: any number of positional arguments is taken. */
  readonly varargs: boolean;
  /** The body reads `caller`: a call block (or a `caller=` keyword) may give one. */
  readonly caller?: boolean;
}

const SIGNATURE = Symbol("dbt.macroSignature");

/**
 * Jinja2's checks of a macro call (runtime.Macro.__call__), in its order: a
 * keyword the macro neither names nor takes through `kwargs` (one naming a
 * parameter already given by position too), a `caller` (a call block) given
 * to a macro that never calls it, then more positional arguments than it
 * names without `varargs`, is a TypeError, as in dbt (a misspelt keyword
 * used to be dropped, its default silently used).
 */
function checkArguments(
  signature: MacroSignature,
  argNames: readonly string[],
  kwargNames: readonly string[],
  args: readonly unknown[],
): void {
  const last = args.at(-1) as Record<string, unknown> | undefined;
  const keywords = typeof last === "object" && last !== null && last.__keywords === true
    ? last
    : undefined;
  const positional = keywords ? args.length - 1 : args.length;
  const names = [...argNames, ...kwargNames];
  if (!signature.kwargs && keywords !== undefined) {
    const open = names.slice(positional);
    for (const key of Object.keys(keywords)) {
      if (key === "__keywords" || open.includes(key)) continue;
      if (key === "caller") {
        // A macro compiled before this check (an older parse cache) says nothing: let it be.
        if (signature.caller !== false) continue;
        throw new TypeError(
          `macro '${signature.name}' was invoked with two values for the special caller ` +
            "argument. This is most likely a bug.",
        );
      }
      throw new TypeError(`macro '${signature.name}' takes no keyword argument '${key}'`);
    }
  }
  if (!signature.varargs && positional > names.length) {
    throw new TypeError(
      `macro '${signature.name}' takes not more than ${names.length} argument(s)`,
    );
  }
}

interface MacroNode {
  typename: string;
  name: { value: string };
  body: { findAll(type: unknown): { value: unknown }[] };
}

/** Records on each `{% macro %}` whether its body reads `kwargs` / `varargs`. */
function installMacroSignatures(): void {
  const internals = nunjucks as unknown as {
    compiler: {
      Compiler: {
        prototype: {
          _compileMacro(this: unknown, node: MacroNode, frame: unknown): string;
          _emitLine(this: unknown, code: string): void;
        };
      };
    };
    nodes: { Symbol: unknown };
    runtime: Record<string, unknown>;
  };
  internals.runtime._dbt_signature = (fn: unknown, signature: MacroSignature) => {
    if (typeof fn === "function") Object.defineProperty(fn, SIGNATURE, { value: signature });
  };
  const proto = internals.compiler.Compiler.prototype;
  const compileMacro = proto._compileMacro;
  proto._compileMacro = function (node, frame) {
    const funcId = compileMacro.call(this, node, frame);
    // A call block's anonymous macro (`caller`) is called by the macro it is given to.
    if (node.typename !== "Macro") return funcId;
    const names = new Set(node.body.findAll(internals.nodes.Symbol).map((symbol) => symbol.value));
    const signature = {
      name: node.name.value,
      kwargs: names.has("kwargs"),
      varargs: names.has("varargs"),
      caller: names.has("caller"),
    };
    proto._emitLine.call(this, `runtime._dbt_signature(${funcId}, ${JSON.stringify(signature)});`);
    return funcId;
  };
}

/** A Python dict as templates hold one: a plain object. */
function isDict(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** dbt's own filters and the `none` test, added to an environment. */
export function addDbtFilters(env: nunjucks.Environment): void {
  env.addFilter("as_number", (value: unknown) => {
    const number = Number(value);
    if (Number.isNaN(number)) throw new TypeError(`as_number: '${String(value)}' is not a number`);
    return number;
  });
  env.addFilter("as_bool", (value: unknown) => {
    if (typeof value === "boolean") return value;
    const text = String(value).trim().toLowerCase();
    if (text === "true") return true;
    if (text === "false") return false;
    throw new TypeError(`as_bool: '${String(value)}' is not true or false`);
  });
  env.addFilter(
    "as_text",
    (value: unknown) => value === null || value === undefined ? "" : String(value),
  );
  env.addFilter("as_native", (value: unknown) => {
    if (typeof value !== "string") return value;
    try {
      return pyJsonParse(value);
    } catch {
      return value; // like dbt: text that is not a literal stays text
    }
  });
  // addTest is public in nunjucks but missing from @types/nunjucks.
  // Jinja2's `is none` is `value is None`: an undefined name or attribute is not None
  // (`{{ nope is none }}` is False), so only null (`none`, YAML's null, a missing .get()) is.
  (env as unknown as { addTest(name: string, fn: (value: unknown) => boolean): void })
    .addTest("none", (value) => value === null);
  const addTest =
    (env as unknown as { addTest(name: string, fn: (value: unknown) => boolean): void })
      .addTest.bind(env);
  addTest("string", (value) => typeof value === "string");
  addTest("number", (value) => typeof value === "number");
  addTest(
    "mapping",
    (value) => typeof value === "object" && value !== null && !Array.isArray(value),
  );
  // Jinja2: a sequence has a length and items (lists, tuples, str, dicts, agate tables); an
  // iterable can be iterated (dicts too). Numbers, none and objects like relations are neither.
  addTest(
    "sequence",
    (value) =>
      Array.isArray(value) || typeof value === "string" || isDict(value) ||
      (typeof value === "object" && value !== null &&
        typeof (value as { length?: unknown }).length === "number"),
  );
  addTest(
    "iterable",
    (value) =>
      Array.isArray(value) || typeof value === "string" || isDict(value) ||
      (typeof value === "object" && value !== null && Symbol.iterator in value),
  );
  addTest("boolean", (value) => typeof value === "boolean");
}

/** Python's `items[start:stop:step]` (slice.indices: bounds clamped, negatives from the end). */
function pySlice(
  items: readonly unknown[],
  start: unknown,
  stop: unknown,
  step: unknown,
): unknown[] {
  const n = items.length;
  const by = step === null || step === undefined ? 1 : Number(step);
  if (by === 0) throw new RangeError("slice step cannot be zero");
  const [lower, upper] = by > 0 ? [0, n] : [-1, n - 1];
  const bound = (value: unknown, fallback: number) => {
    if (value === null || value === undefined) return fallback;
    const i = Number(value);
    if (i < 0) return Math.max(i + n, lower);
    return Math.min(i, upper);
  };
  const from = bound(start, by > 0 ? lower : upper);
  const to = bound(stop, by > 0 ? upper : lower);
  const out: unknown[] = [];
  for (let i = from; by > 0 ? i < to : i > to; i += by) out.push(items[i]);
  return out;
}
