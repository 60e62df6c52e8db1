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

type MemberLookup = (obj: unknown, val: unknown, autoescape?: boolean) => unknown;

type MakeMacro = (
  argNames: string[],
  kwargNames: string[],
  func: (...args: unknown[]) => unknown,
) => (...args: unknown[]) => unknown;

interface NunjucksInternals {
  installJinjaCompat(): void;
  runtime: { memberLookup: MemberLookup; makeMacro: MakeMacro };
}

/**
 * `return(value)` inside a macro: thrown by the `return` global and caught
 * where the macro was called, which then returns `value` instead of its text
 * (dbt does the same with an exception).
 */
export class ReturnSignal {
  /** Creates the signal carrying the macro's result. */
  constructor(readonly value: unknown) {}
}

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
  startswith(prefix: unknown) {
    return this.startsWith(String(prefix));
  },
  endswith(suffix: unknown) {
    return this.endsWith(String(suffix));
  },
  replace(from: unknown, to: unknown) {
    return this.replaceAll(String(from), String(to));
  },
  split(separator?: unknown) {
    return separator === undefined || separator === null
      ? this.trim().split(/\s+/).filter((part) => part.length > 0)
      : this.split(String(separator));
  },
  title() {
    return this.replace(/\w\S*/g, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase());
  },
  join(items: unknown) {
    return Array.isArray(items) ? items.map(String).join(this) : String(items);
  },
  format(...args: unknown[]) {
    let i = 0;
    return this.replace(/\{(\d*)\}/g, (_, n: string) => String(args[n === "" ? i++ : Number(n)]));
  },
  find(sub: unknown) {
    return this.indexOf(String(sub));
  },
  isdigit() {
    return /^\d+$/.test(this);
  },
  count(sub: unknown) {
    return this.split(String(sub)).length - 1;
  },
  capitalize() {
    return this.charAt(0).toUpperCase() + this.slice(1).toLowerCase();
  },
};

function trimChars(text: string, chars: string, start: boolean, end: boolean): string {
  let from = 0;
  let to = text.length;
  while (start && from < to && chars.includes(text.charAt(from))) from++;
  while (end && to > from && chars.includes(text.charAt(to - 1))) to--;
  return text.slice(from, to);
}

let installed = false;

/** Installs the compatibility layer into nunjucks (once; later calls do nothing). */
export function installJinjaCompat(): void {
  if (installed) return;
  installed = true;
  const internals = nunjucks as unknown as NunjucksInternals;
  internals.installJinjaCompat();
  const lookup = internals.runtime.memberLookup;
  internals.runtime.memberLookup = function (obj, val, autoescape) {
    // An object's own methods win over the Python dict methods of the compat layer
    // (agate columns from run_query have their own `values()`).
    if (
      typeof obj === "object" && obj !== null && typeof val === "string" &&
      Object.hasOwn(obj, val) &&
      typeof (obj as Record<string, unknown>)[val] === "function"
    ) {
      return ((obj as Record<string, unknown>)[val] as (...args: unknown[]) => unknown).bind(obj);
    }
    if (typeof obj === "string" && typeof val === "string" && Object.hasOwn(STRING_MEMBERS, val)) {
      return (STRING_MEMBERS[val] as (...args: unknown[]) => unknown).bind(obj);
    }
    return lookup.call(this, obj, val, autoescape);
  };
  const makeMacro = internals.runtime.makeMacro;
  internals.runtime.makeMacro = (argNames, kwargNames, func) =>
    makeMacro(argNames, kwargNames, function (this: unknown, ...args: unknown[]) {
      try {
        return func.apply(this, args);
      } catch (signal) {
        if (signal instanceof ReturnSignal) return signal.value;
        throw signal;
      }
    });
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
      return JSON.parse(value);
    } catch {
      return value; // like dbt: text that is not a literal stays text
    }
  });
  env.addFilter("tojson", (value: unknown) => JSON.stringify(value));
  // addTest is public in nunjucks but missing from @types/nunjucks.
  (env as unknown as { addTest(name: string, fn: (value: unknown) => boolean): void })
    .addTest("none", (value) => value === null || value === undefined);
  const addTest =
    (env as unknown as { addTest(name: string, fn: (value: unknown) => boolean): void })
      .addTest.bind(env);
  addTest("string", (value) => typeof value === "string");
  addTest("number", (value) => typeof value === "number");
  addTest(
    "mapping",
    (value) => typeof value === "object" && value !== null && !Array.isArray(value),
  );
  addTest("sequence", (value) => Array.isArray(value) || typeof value === "string");
  addTest("iterable", (value) => Array.isArray(value) || typeof value === "string");
  addTest("boolean", (value) => typeof value === "boolean");
}
