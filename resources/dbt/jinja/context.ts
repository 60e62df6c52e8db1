/**
 * Python-shaped values of the dbt context: the agate-like table `run_query`
 * returns, and `modules` (`datetime`, `re`, `pytz`, `itertools`) with the
 * members macros in the wild use.
 *
 * @module
 */

import { type Clock, systemClock } from "../../../core/clock.ts";
import type { QueryResult } from "../query.ts";

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
    return row;
  });
  const columns = names.map((name, i) => ({
    name,
    values: () => rows.map((r) => r[i]),
  }));
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

/** A Python-like `date` (the day of `date`, UTC): prints as `YYYY-MM-DD`. */
function pyDate(date: Date): Record<string, unknown> {
  const day = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate()));
  const text = day.toISOString().slice(0, 10);
  return { ...pyDatetime(day), isoformat: () => text, toString: () => text };
}

function timedelta(...args: unknown[]): Record<string, unknown> {
  const kw = (args.at(-1) ?? {}) as Record<string, number>;
  const ms = ((kw.days ?? (typeof args[0] === "number" ? args[0] : 0)) * 86_400 +
    (kw.hours ?? 0) * 3600 + (kw.minutes ?? 0) * 60 + (kw.seconds ?? 0)) * 1000;
  return { __ms: ms, days: Math.trunc(ms / 86_400_000), total_seconds: () => ms / 1000 };
}

/**
 * `modules` of the dbt context. `datetime.now()`, `utcnow()` and
 * `date.today()` read `clock` (tests pass a fake one).
 */
export function dbtModules(clock: Pick<Clock, "now"> = systemClock): Record<string, unknown> {
  const now = () => clock.now();
  const datetimeClass = {
    now: () => pyDatetime(new Date(now())),
    utcnow: () => pyDatetime(new Date(now())),
    strptime: (text: string) => pyDatetime(new Date(`${text.replace(" ", "T")}Z`)),
    fromisoformat: (text: string) => pyDatetime(new Date(`${text.replace(" ", "T")}Z`)),
  };
  const compile = (pattern: unknown, flags = "") => new RegExp(String(pattern), flags);
  const match = (m: RegExpExecArray | null) =>
    m && { group: (i = 0) => m[i] ?? null, groups: () => m.slice(1), start: () => m.index };
  return {
    datetime: {
      datetime: datetimeClass,
      date: {
        today: () => pyDate(new Date(now())),
      },
      timedelta,
    },
    re: {
      match: (pattern: unknown, text: unknown) => {
        const m = compile(pattern).exec(String(text));
        return m && m.index === 0 ? match(m) : null;
      },
      search: (pattern: unknown, text: unknown) => match(compile(pattern).exec(String(text))),
      fullmatch: (pattern: unknown, text: unknown) =>
        match(compile(`^(?:${String(pattern)})$`).exec(String(text))),
      sub: (pattern: unknown, replacement: unknown, text: unknown) =>
        String(text).replace(compile(pattern, "g"), String(replacement).replace(/\\(\d)/g, "$$$1")),
      split: (pattern: unknown, text: unknown) => String(text).split(compile(pattern)),
      findall: (pattern: unknown, text: unknown) =>
        [...String(text).matchAll(compile(pattern, "g"))].map((m) => m[1] ?? m[0]),
      compile: (pattern: unknown) => {
        const re = compile(pattern);
        return {
          match: (text: unknown) => match(re.exec(String(text))),
          search: (text: unknown) => match(re.exec(String(text))),
        };
      },
      IGNORECASE: "i",
      I: "i",
    },
    pytz: { utc: { zone: "UTC" }, timezone: (zone: string) => ({ zone }) },
    itertools: {
      chain: (...lists: unknown[][]) => lists.flat(),
      product: (...lists: unknown[][]) =>
        lists.reduce<unknown[][]>((acc, list) => acc.flatMap((a) => list.map((b) => [...a, b])), [
          [],
        ]),
    },
  };
}
