/**
 * Python's `str.format()` for templates (`'{:>10}'.format(x)`,
 * `'{name}_{0}'.format(a, name=b)`, `'{:,.2f}'.format(n)`): replacement fields
 * with positions, names, `.attr` / `[key]` lookups, `!r` / `!s` and the format
 * spec mini-language (fill, align, sign, `0`, width, `,` / `_`, precision,
 * type `s d f e % x o b g`).
 *
 * Hand-written: no npm package implements Python's format mini-language, and
 * nunjucks has no `str.format`.
 *
 * @module
 */

import { pyRepr, pyStr } from "./py_repr.ts";
import { formatFloat, isPyFloat, pyFixed, pyGeneral, unbox } from "./py_number.ts";

const SPEC = /^(?:(.)?([<>=^]))?([+\- ])?(#)?(0)?(\d+)?([,_])?(?:\.(\d+))?([bcdeEfFgGnosxX%])?$/s;

/** Formats `value` by one format spec (`>10`, `,.2f`, `08.3f`). */
export function formatSpec(boxed: unknown, spec: string): string {
  const float = isPyFloat(boxed);
  const value = unbox(boxed);
  const m = SPEC.exec(spec);
  if (!m) throw new TypeError(`format: invalid format spec '${spec}'`);
  const [, fillChar, alignChar, sign, , zero, widthText, grouping, precisionText, type] = m;
  const width = widthText === undefined ? 0 : Number(widthText);
  const precision = precisionText === undefined ? undefined : Number(precisionText);
  const numeric = typeof value === "number";
  let body: string;
  if (!numeric || type === "s") {
    if (type !== undefined && type !== "s") {
      throw new TypeError(`format: code '${type}' needs a number, got ${pyRepr(value)}`);
    }
    body = pyStr(boxed);
    if (precision !== undefined) body = body.slice(0, precision);
  } else {
    const n = value as number;
    const abs = Math.abs(n);
    switch (type) {
      case "d":
      case "n":
        if (float) {
          throw new TypeError(`format: code 'd' needs an integer, got ${n}`);
        }
        body = String(abs);
        break;
      case "f":
      case "F":
        body = pyFixed(abs, precision ?? 6);
        break;
      case "e":
      case "E": {
        const [mant, exp] = abs.toExponential(precision ?? 6).split("e");
        const e = Number(exp);
        body = `${mant}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
        if (type === "E") body = body.toUpperCase();
        break;
      }
      case "%":
        body = `${pyFixed(abs * 100, precision ?? 6)}%`;
        break;
      case "x":
      case "X":
      case "o":
      case "b":
        body = abs.toString(type === "o" ? 8 : type === "b" ? 2 : 16);
        if (type === "X") body = body.toUpperCase();
        break;
      case "g":
      case "G":
        body = pyGeneral(abs, precision ?? 6);
        if (type === "G") body = body.toUpperCase();
        break;
      default:
        body = precision === undefined
          ? float ? formatFloat(abs) : pyStr(abs)
          : String(Number(abs.toPrecision(precision)));
    }
    if (grouping !== undefined) {
      const [int, frac] = body.split(".") as [string, string | undefined];
      body = int.replace(/\B(?=(\d{3})+(?!\d))/g, grouping) +
        (frac === undefined ? "" : `.${frac}`);
    }
    const signText = n < 0 || Object.is(n, -0) ? "-" : sign === "+" ? "+" : sign === " " ? " " : "";
    if ((zero !== undefined && alignChar === undefined) || alignChar === "=") {
      const fill = alignChar === "=" ? fillChar ?? " " : "0";
      return signText + body.padStart(width - signText.length, fill);
    }
    body = signText + body;
  }
  const fill = fillChar ?? " ";
  const align = alignChar ?? (numeric && type !== "s" ? ">" : "<");
  const pad = Math.max(0, width - body.length);
  if (align === ">") return fill.repeat(pad) + body;
  if (align === "^") {
    const left = Math.floor(pad / 2);
    return fill.repeat(left) + body + fill.repeat(pad - left);
  }
  return body + fill.repeat(pad);
}

/** Python's `template.format(*args, **kwargs)`; keywords arrive as a trailing `__keywords` object. */
export function pyFormat(template: string, args: readonly unknown[]): string {
  const last = args.at(-1);
  const hasKeywords = typeof last === "object" && last !== null &&
    (last as { __keywords?: unknown }).__keywords === true;
  const positional = hasKeywords ? args.slice(0, -1) : args;
  const keywords = hasKeywords ? last as Record<string, unknown> : {};
  let auto = 0;
  let out = "";
  let i = 0;
  while (i < template.length) {
    const ch = template.charAt(i);
    if ((ch === "{" || ch === "}") && template.charAt(i + 1) === ch) {
      out += ch;
      i += 2;
      continue;
    }
    if (ch === "}") throw new TypeError(`format: single '}' in '${template}'`);
    if (ch !== "{") {
      out += ch;
      i++;
      continue;
    }
    const end = template.indexOf("}", i);
    if (end < 0) throw new TypeError(`format: single '{' in '${template}'`);
    const field = template.slice(i + 1, end);
    i = end + 1;
    const specAt = field.indexOf(":");
    const head = specAt < 0 ? field : field.slice(0, specAt);
    const spec = specAt < 0 ? "" : field.slice(specAt + 1);
    const [path, conversion] = head.split("!") as [string, string | undefined];
    const name = /^[^.[]*/.exec(path)?.[0] ?? "";
    let value: unknown;
    if (name === "") value = positional[auto++];
    else if (/^\d+$/.test(name)) value = positional[Number(name)];
    else if (Object.hasOwn(keywords, name)) value = keywords[name];
    else throw new TypeError(`format: no argument named '${name}' for '${template}'`);
    for (const [, attr, key] of path.slice(name.length).matchAll(/\.(\w+)|\[([^\]]+)\]/g)) {
      const k = attr ?? (/^\d+$/.test(key as string) ? Number(key) : key as string);
      value = (value as Record<string | number, unknown> | null)?.[k];
    }
    if (conversion === "r") value = pyRepr(value);
    else if (conversion === "s") value = pyStr(value);
    out += formatSpec(value, spec);
  }
  return out;
}
