/**
 * Python-shaped values of the dbt context: the agate-like table `run_query`
 * returns, and `modules` (`datetime`, `re`, `pytz`, `itertools`) with the
 * members macros in the wild use.
 *
 * @module
 */

import { type Clock, systemClock } from "../../../core/clock.ts";
import type { QueryResult } from "../query.ts";
import { asTuple } from "./py_repr.ts";

/** A row: indexable by position and by column name. */
type AgateRow = unknown[] & Record<string, unknown>;

/** What `run_query` returns: `columns[i].values()`, `rows`, `column_names`, `print_table()`. */
export function agateTable(result: QueryResult): Record<string, unknown> {
  const names = [...result.columns];
  const rows = result.rows.map((values) => {
    const row = [...values] as AgateRow;
    names.forEach((name, i) => {
      if (!/^\d+$/.test(name)) row[name] = values[i];
    });
    // A row is a mapped sequence too: `row.values()`, `row.keys()`, `row.items()`, `row.get()`.
    Object.defineProperties(row, {
      keys: { value: () => [...names] },
      values: { value: () => asTuple([...values]) },
      items: { value: () => names.map((name, i) => asTuple([name, values[i]])) },
      get: {
        value: (name: string, fallback: unknown = null) => {
          const at = names.indexOf(name);
          return at < 0 ? fallback : values[at];
        },
      },
    });
    return row;
  });
  const columns = names.map((name, i) => ({
    name,
    values: () => asTuple(rows.map((r) => r[i])),
    values_distinct: () => asTuple([...new Set(rows.map((r) => r[i]))]),
  })) as unknown as Record<string, unknown>[] & Record<string, unknown>;
  // agate's columns are a mapped sequence: by position, by name, and `keys()` / `values()` /
  // `items()` (`for name, column in table.columns.items()`).
  names.forEach((name, i) => {
    if (!/^\d+$/.test(name) && !(name in Array.prototype)) columns[name] = columns[i];
  });
  Object.defineProperties(columns, {
    keys: { value: () => [...names] },
    values: { value: () => [...columns] },
    items: { value: () => names.map((name, i) => asTuple([name, columns[i]])) },
    get: { value: (name: string, fallback: unknown = null) => columns[name] ?? fallback },
  });
  return {
    columns,
    rows,
    column_names: names,
    print_table: () => "",
    length: rows.length,
    [Symbol.iterator]: () => rows[Symbol.iterator](),
  };
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

/** A Python-like `datetime` (attributes, `strftime`, `isoformat`, arithmetic helpers) of `date`. */
export function pyDatetime(date: Date): Record<string, unknown> {
  return {
    year: date.getUTCFullYear(),
    month: date.getUTCMonth() + 1,
    day: date.getUTCDate(),
    hour: date.getUTCHours(),
    minute: date.getUTCMinutes(),
    second: date.getUTCSeconds(),
    isoformat: () => date.toISOString().replace("Z", ""),
    strftime: (format: string) =>
      format.replace(/%([YmdHMSfjyb%])/g, (_, code: string) => {
        switch (code) {
          case "Y":
            return String(date.getUTCFullYear());
          case "y":
            return pad(date.getUTCFullYear() % 100);
          case "m":
            return pad(date.getUTCMonth() + 1);
          case "d":
            return pad(date.getUTCDate());
          case "H":
            return pad(date.getUTCHours());
          case "M":
            return pad(date.getUTCMinutes());
          case "S":
            return pad(date.getUTCSeconds());
          case "f":
            return pad(date.getUTCMilliseconds() * 1000, 6);
          case "j": {
            const start = Date.UTC(date.getUTCFullYear(), 0, 1);
            return pad(Math.floor((date.getTime() - start) / 86_400_000) + 1, 3);
          }
          case "b":
            return date.toLocaleString("en-US", { month: "short", timeZone: "UTC" });
          default:
            return "%";
        }
      }),
    date: () => pyDate(date),
    toString: () => date.toISOString().replace("T", " ").replace(/\.\d+Z$/, ""),
    __date: date,
  };
}

const MONTHS = [
  "jan",
  "feb",
  "mar",
  "apr",
  "may",
  "jun",
  "jul",
  "aug",
  "sep",
  "oct",
  "nov",
  "dec",
];

/** What each `strptime` directive reads. */
const STRPTIME_FIELDS: Record<string, string> = {
  Y: String.raw`(\d{4})`,
  m: String.raw`(\d{1,2})`,
  d: String.raw`(\d{1,2})`,
  H: String.raw`(\d{1,2})`,
  M: String.raw`(\d{1,2})`,
  S: String.raw`(\d{1,2})`,
  f: String.raw`(\d{1,6})`,
  y: String.raw`(\d{2})`,
  b: "([A-Za-z]{3})",
  B: "([A-Za-z]+)",
};

/**
 * Python's `datetime.strptime(text, format)`: the format's directives read
 * their fields (`'20240315', '%Y%m%d'`); text that does not match fails as
 * Python's ValueError does. Without a format, an ISO date or timestamp.
 */
function strptime(text: string, format: unknown): Date {
  if (typeof format !== "string") return new Date(`${text.replace(" ", "T")}Z`);
  const order: string[] = [];
  const pattern = format.replace(
    /%(.)|([.*+?^${}()|[\]\\])/g,
    (_, code?: string, special?: string) => {
      if (special !== undefined) return `\\${special}`;
      if (code === "%") return "%";
      const field = STRPTIME_FIELDS[code as string];
      if (field === undefined) throw new TypeError(`strptime: '%${code}' is not supported`);
      order.push(code as string);
      return field;
    },
  );
  const m = new RegExp(`^${pattern}$`).exec(text);
  if (!m) throw new TypeError(`time data '${text}' does not match format '${format}'`);
  const parts: Record<string, string> = {};
  order.forEach((code, i) => parts[code] = m[i + 1] as string);
  const month = parts.m !== undefined
    ? Number(parts.m)
    : parts.b ?? parts.B
    ? MONTHS.indexOf(String(parts.b ?? parts.B).slice(0, 3).toLowerCase()) + 1
    : 1;
  const year = parts.Y !== undefined
    ? Number(parts.Y)
    : parts.y !== undefined
    ? (Number(parts.y) < 69 ? 2000 : 1900) + Number(parts.y)
    : 1900;
  return new Date(Date.UTC(
    year,
    month - 1,
    Number(parts.d ?? 1),
    Number(parts.H ?? 0),
    Number(parts.M ?? 0),
    Number(parts.S ?? 0),
    Math.floor(Number((parts.f ?? "0").padEnd(6, "0")) / 1000),
  ));
}

/** A Python-like `date` (the day of `date`, UTC): prints as `YYYY-MM-DD`. */
function pyDate(date: Date): Record<string, unknown> {
  const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const text = day.toISOString().slice(0, 10);
  return { ...pyDatetime(day), isoformat: () => text, toString: () => text };
}

function timeZone(zone: string): Record<string, unknown> {
  return { zone, toString: () => zone };
}

function timedelta(...args: unknown[]): Record<string, unknown> {
  const kw = (args.at(-1) ?? {}) as Record<string, number>;
  const ms = ((kw.days ?? (typeof args[0] === "number" ? args[0] : 0)) * 86_400 +
    (kw.hours ?? 0) * 3600 + (kw.minutes ?? 0) * 60 + (kw.seconds ?? 0)) * 1000;
  return { __ms: ms, days: Math.trunc(ms / 86_400_000), total_seconds: () => ms / 1000 };
}

/** The source of a pattern (a compiled one's too). */
function sourceOf(pattern: unknown): string {
  return pattern instanceof RegExp ? pattern.source : String(pattern);
}

/**
 * A Python regular expression as a JavaScript one: named groups `(?P<n>...)`
 * and back references `(?P=n)`, leading inline flags `(?i)`, and flags given
 * as `re.I | re.M` (strings here, joined by `|`).
 */
function pyRegExp(pattern: unknown, flags: unknown): RegExp {
  let source = sourceOf(pattern).replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>");
  let flagText = typeof flags === "string" ? flags.replace(/[^gimsuy]/g, "") : "";
  const inline = /^\(\?([aiLmsux]+)\)/.exec(source);
  if (inline) {
    source = source.slice(inline[0].length);
    flagText += (inline[1] as string).replace(/[^ims]/g, "");
  }
  return new RegExp(source, [...new Set(flagText)].join(""));
}

/** `re.sub`'s optional `count` and `flags`, by position or keyword. */
function subOptions(rest: unknown[]): { count: number; flags: unknown } {
  const last = rest.at(-1) as Record<string, unknown> | undefined;
  const kw = typeof last === "object" && last !== null && last.__keywords === true ? last : {};
  const positional = kw === last ? rest.slice(0, -1) : rest;
  return {
    count: Number(kw.count ?? positional[0] ?? 0),
    flags: kw.flags ?? positional[1],
  };
}

/**
 * `modules` of the dbt context. `datetime.now()`, `utcnow()` and
 * `date.today()` read `clock` (tests pass a fake one).
 */
export function dbtModules(clock: Pick<Clock, "now"> = systemClock): Record<string, unknown> {
  const now = () => clock.now();
  // `datetime.datetime(2024, 1, 31, 12)` builds one (UTC); the class's methods hang off it.
  const build = (...parts: unknown[]) => {
    const [y, mo = 1, d = 1, h = 0, mi = 0, s = 0] = parts.map(Number);
    return pyDatetime(new Date(Date.UTC(y as number, mo - 1, d, h, mi, s)));
  };
  const datetimeClass = Object.assign(build, {
    now: () => pyDatetime(new Date(now())),
    utcnow: () => pyDatetime(new Date(now())),
    strptime: (text: unknown, format: unknown) => pyDatetime(strptime(String(text), format)),
    fromisoformat: (text: string) => pyDatetime(new Date(`${text.replace(" ", "T")}Z`)),
  });
  const compile = (pattern: unknown, flags: unknown = "") => pyRegExp(pattern, flags);
  const match = (m: RegExpExecArray | null) =>
    m && {
      // `group(1)`, `group('name')` (Python's named groups), `group()` the whole match.
      group: (i: unknown = 0) => (typeof i === "string" ? m.groups?.[i] : m[Number(i)]) ?? null,
      groups: () => m.slice(1).map((g) => g ?? null),
      groupdict: () => ({ ...m.groups }),
      start: () => m.index,
      end: () => m.index + m[0].length,
    };
  return {
    datetime: {
      datetime: datetimeClass,
      // `datetime.date(2024, 1, 31)` builds one; `date.today()` reads the clock.
      date: Object.assign(
        (...parts: unknown[]) => {
          const [y, mo = 1, d = 1] = parts.map(Number);
          return pyDate(new Date(Date.UTC(y as number, mo - 1, d)));
        },
        {
          today: () => pyDate(new Date(now())),
          fromisoformat: (text: string) =>
            pyDate(new Date(`${String(text).slice(0, 10)}T00:00:00Z`)),
        },
      ),
      timedelta,
    },
    re: {
      match: (pattern: unknown, text: unknown, flags?: unknown) => {
        const re = compile(pattern, flags);
        return match(new RegExp(`^(?:${re.source})`, re.flags).exec(String(text)));
      },
      search: (pattern: unknown, text: unknown, flags?: unknown) =>
        match(compile(pattern, flags).exec(String(text))),
      fullmatch: (pattern: unknown, text: unknown, flags?: unknown) => {
        const re = compile(pattern, flags);
        return match(new RegExp(`^(?:${re.source})$`, re.flags).exec(String(text)));
      },
      sub: (pattern: unknown, replacement: unknown, text: unknown, ...rest: unknown[]) => {
        const { count, flags } = subOptions(rest);
        const re = compile(pattern, `${String(flags ?? "")}g`);
        const repl = String(replacement).replace(/\\(\d)/g, "$$$1").replace(
          /\\g<(\w+)>/g,
          "$$<$1>",
        );
        if (!count) return String(text).replace(re, repl);
        let left = count;
        return String(text).replace(re, (...m) => {
          if (left <= 0) return m[0] as string;
          left--;
          return (m[0] as string).replace(compile(pattern, flags), repl);
        });
      },
      split: (pattern: unknown, text: unknown) => String(text).split(compile(pattern)),
      findall: (pattern: unknown, text: unknown, flags?: unknown) =>
        [...String(text).matchAll(compile(pattern, `${String(flags ?? "")}g`))].map((m) =>
          m.length > 2 ? asTuple(m.slice(1).map((g) => g ?? "")) : m[1] ?? m[0]
        ),
      escape: (text: unknown) => String(text).replace(/[.*+?^${}()|[\]\\\-\s#&~]/g, "\\$&"),
      compile: (pattern: unknown) => {
        const re = compile(pattern);
        return {
          match: (text: unknown) => match(re.exec(String(text))),
          search: (text: unknown) => match(re.exec(String(text))),
        };
      },
      IGNORECASE: "i",
      I: "i",
      MULTILINE: "m",
      M: "m",
      DOTALL: "s",
      S: "s",
    },
    // A zone prints as its name, as pytz's do (`{{ modules.pytz.timezone('UTC') }}` is UTC).
    pytz: { utc: timeZone("UTC"), timezone: (zone: unknown) => timeZone(String(zone)) },
    itertools: {
      chain: (...lists: unknown[][]) => lists.flat(),
      product: (...lists: unknown[][]) =>
        lists.reduce<unknown[][]>((acc, list) => acc.flatMap((a) => list.map((b) => [...a, b])), [
          [],
        ]),
    },
  };
}
