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

interface NunjucksInternals {
  installJinjaCompat(): void;
  runtime: { memberLookup: MemberLookup };
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
    if (typeof obj === "string" && typeof val === "string" && Object.hasOwn(STRING_MEMBERS, val)) {
      return (STRING_MEMBERS[val] as (...args: unknown[]) => unknown).bind(obj);
    }
    return lookup.call(this, obj, val, autoescape);
  };
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
  // addTest is public in nunjucks but missing from @types/nunjucks.
  (env as unknown as { addTest(name: string, fn: (value: unknown) => boolean): void })
    .addTest("none", (value) => value === null || value === undefined);
}
