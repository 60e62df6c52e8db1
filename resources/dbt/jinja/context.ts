/**
 * Python-shaped values of the dbt context: the agate-like table `run_query`
 * returns, and `modules` (`datetime`, `re`, `pytz`, `itertools`) with the
 * members macros in the wild use.
 *
 * @module
 */

import { type Clock, systemClock } from "../../../core/clock.ts";
import type { QueryResult } from "../query.ts";
import { asTuple, pyRepr } from "./py_repr.ts";
import { pyFloat } from "./py_number.ts";

/** A row: indexable by position and by column name. */
type AgateRow = unknown[] & Record<string, unknown>;

/**
 * What `run_query` returns: `columns[i].values()`, `rows`, `column_names`,
 * `print_table()` (which hands the table and its arguments to `printTable`).
 */
export function agateTable(
  result: QueryResult,
  printTable?: (columns: readonly string[], rows: readonly unknown[][], args: unknown[]) => void,
): Record<string, unknown> {
  const names = [...result.columns];
  const rows = result.rows.map((raw) => {
    // DuckDB gives integers as bigint, which Jinja's arithmetic and filters (`| int`) cannot
    // mix with numbers: an int is a number here, as it is one type in Python (one past 2**53
    // stays a bigint, exact as Python's int; py_number.ts computes with it). A `numeric` /
    // `DECIMAL` (exact, as a string) is a number too, as agate's Decimal is: `avg(x) + 1` adds.
    const values = raw.map((v, i) =>
      typeof v === "bigint"
        ? (Number.isSafeInteger(Number(v)) ? Number(v) : v)
        : typeof v === "string" && result.decimals?.[i] === true
        ? decimalNumber(v)
        : v instanceof Date
        ? pyTemporal(v, result.temporal?.[i])
        : v
    );
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
    // agate gives a tuple: `{{ table.column_names }}` prints `('a', 'b')`.
    column_names: asTuple([...names]),
    print_table: (...args: unknown[]) => {
      printTable?.(names, rows, args);
      return "";
    },
    length: rows.length,
    [Symbol.iterator]: () => rows[Symbol.iterator](),
  };
}

/**
 * A date or time of a result as agate has it: a `date`, a naive `datetime`
 * (`timestamp`) or one aware in UTC (`timestamptz`), so that `{{ value }}`
 * prints `2017-01-01 00:00:00` as dbt does (a JavaScript Date printed
 * `Sun Jan 01 2017 00:00:00 GMT+0000 (Coordinated Universal Time)`, which
 * dbt-utils' `get_single_value` then put into SQL). A column of unknown type
 * gives a naive datetime.
 */
function pyTemporal(date: Date, kind: string | null | undefined): PyDateTime {
  if (kind === "date") return new PyDateTime(date, "date");
  return pyDatetime(date, kind === "timestamptz");
}

/**
 * A decimal's text as a number: without a point an int, else a float (`3.00` prints `3.0`,
 * `10.50` prints `10.5`, where Python's Decimal keeps the zeros); one a double cannot hold
 * (more than 15 significant digits) stays text rather than change value.
 */
function decimalNumber(text: string): unknown {
  const n = Number(text);
  if (!Number.isFinite(n)) return text;
  const digits = text.replace(/^-/, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
  if (digits.length > 15) return text;
  return text.includes(".") ? pyFloat(n) : n;
}

function pad(n: number, width = 2): string {
  return String(n).padStart(width, "0");
}

const DAY_MS = 86_400_000;
const DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];
const MONTH_NAMES = [
  "January",
  "February",
  "March",
  "April",
  "May",
  "June",
  "July",
  "August",
  "September",
  "October",
  "November",
  "December",
];

/** Python's `strftime` of a wall-clock time (in UTC fields) in zone `tz` (none: naive). */
function strftime(date: Date, format: string, tz: PyZone | null = null): string {
  return format.replace(/%([a-zA-Z%])/g, (whole, code: string) => {
    const hour = date.getUTCHours();
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
        return pad(hour);
      case "I":
        return pad(hour % 12 === 0 ? 12 : hour % 12);
      case "p":
        return hour < 12 ? "AM" : "PM";
      case "M":
        return pad(date.getUTCMinutes());
      case "S":
        return pad(date.getUTCSeconds());
      case "f":
        return pad(date.getUTCMilliseconds() * 1000, 6);
      case "j":
        return pad(dayOfYear(date), 3);
      case "A":
        return DAY_NAMES[date.getUTCDay()] as string;
      case "a":
        return (DAY_NAMES[date.getUTCDay()] as string).slice(0, 3);
      case "B":
        return MONTH_NAMES[date.getUTCMonth()] as string;
      case "b":
        return (MONTH_NAMES[date.getUTCMonth()] as string).slice(0, 3);
      case "w":
        return String(date.getUTCDay());
      case "U":
        return pad(Math.floor((dayOfYear(date) + 6 - date.getUTCDay()) / 7));
      case "Z":
        return tz ? zoneAbbreviation(tz.name, date.getTime() - tz.offset * 60_000) : "";
      case "z":
        return tz ? offsetText(tz.offset, "") : "";
      case "%":
        return "%";
      default:
        throw new TypeError(`strftime: '${whole}' is not supported`);
    }
  });
}

function dayOfYear(date: Date): number {
  return Math.floor((date.getTime() - Date.UTC(date.getUTCFullYear(), 0, 1)) / DAY_MS) + 1;
}

/** Keyword arguments of a call (a trailing `__keywords` object), and the positional ones. */
function callArgs(
  args: readonly unknown[],
): { positional: unknown[]; kw: Record<string, unknown> } {
  const last = args.at(-1) as Record<string, unknown> | undefined;
  if (typeof last === "object" && last !== null && last.__keywords === true) {
    return { positional: args.slice(0, -1), kw: last };
  }
  return { positional: [...args], kw: {} };
}

/** An aware datetime's zone: its name and its UTC offset (minutes east) at that time. */
export interface PyZone {
  readonly name: string;
  readonly offset: number;
}

/** `+HH:MM` (`sep` ":") or `+HHMM`, as Python prints a UTC offset. */
function offsetText(minutes: number, sep: string): string {
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? "-" : "+"}${pad(Math.floor(abs / 60))}${sep}${pad(abs % 60)}`;
}

/** The UTC offset of IANA zone `zone` at instant `ms`, in minutes east (pytz's utcoffset). */
function zoneOffset(zone: string, ms: number): number {
  if (zone === "UTC") return 0;
  let part: string | undefined;
  try {
    part = new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "longOffset" })
      .formatToParts(new Date(ms)).find((p) => p.type === "timeZoneName")?.value;
  } catch {
    throw new TypeError(`unknown time zone '${zone}' (pytz.timezone takes an IANA name)`);
  }
  const m = /GMT([+-])(\d\d):(\d\d)/.exec(part ?? "");
  return m ? (m[1] === "-" ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : 0;
}

/** A zone's abbreviation at instant `ms` (`%Z`: `UTC`, `EST`), as pytz's tzname(). */
function zoneAbbreviation(zone: string, ms: number): string {
  if (zone === "UTC") return "UTC";
  return new Intl.DateTimeFormat("en-US", { timeZone: zone, timeZoneName: "short" })
    .formatToParts(new Date(ms)).find((p) => p.type === "timeZoneName")?.value ?? zone;
}

/** The process's time zone (IANA name), which Python's naive datetimes are read in. */
function localZone(): string {
  return new Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** The zone named by a tzinfo argument (`pytz.utc`, `pytz.timezone('...')`). */
function zoneName(tz: unknown): string {
  const zone = (tz as { zone?: unknown } | null | undefined)?.zone;
  if (typeof zone !== "string") throw new TypeError(`${pyRepr(tz)} is not a tzinfo`);
  return zone;
}

/**
 * A Python `datetime` or `date`, naive or aware. Aware ones (dbt's
 * `run_started_at`, `datetime.now(pytz.utc)`, `astimezone(tz)`,
 * `tz.localize(dt)`) print their offset (`+00:00`). `__date` holds the wall
 * clock in UTC fields. Fields, `strftime`, `isoformat`, `replace`, `weekday`,
 * `date()`; `+`/`-` with a `timedelta`, `-` of two giving a `timedelta`, and
 * comparisons (python.ts) by instant.
 */
export class PyDateTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly microsecond: number;

  constructor(
    readonly __date: Date,
    readonly kind: "datetime" | "date" = "datetime",
    /** An aware datetime's zone; null when naive. */
    readonly __tz: PyZone | null = null,
    /** Microseconds below the millisecond `__date` holds (`datetime(..., 120)`). */
    readonly __us: number = 0,
  ) {
    this.year = __date.getUTCFullYear();
    this.month = __date.getUTCMonth() + 1;
    this.day = __date.getUTCDate();
    this.hour = __date.getUTCHours();
    this.minute = __date.getUTCMinutes();
    this.second = __date.getUTCSeconds();
    this.microsecond = __date.getUTCMilliseconds() * 1000 + __us;
  }

  /** `tzinfo`: the zone of an aware datetime, else None. */
  get tzinfo(): Record<string, unknown> | null {
    return this.__tz ? timeZone(this.__tz.name) : null;
  }

  /** `strftime(format)`. */
  strftime(format: unknown): string {
    return strftime(this.__date, String(format), this.__tz);
  }

  /** `isoformat()`: `YYYY-MM-DD` for a date, `YYYY-MM-DDTHH:MM:SS[.ffffff]` for a datetime. */
  isoformat(sep: unknown = "T"): string {
    const day = this.__date.toISOString().slice(0, 10);
    if (this.kind === "date") return day;
    const us = this.microsecond;
    return `${day}${String(sep)}${this.__date.toISOString().slice(11, 19)}${
      us ? `.${pad(us, 6)}` : ""
    }${this.__tz ? offsetText(this.__tz.offset, ":") : ""}`;
  }

  /** `date()`: the day. */
  date(): PyDateTime {
    return new PyDateTime(
      new Date(Date.UTC(this.year, this.month - 1, this.day)),
      "date",
    );
  }

  /** `replace(day=1, ...)`. */
  replace(...args: unknown[]): PyDateTime {
    const { kw } = callArgs(args);
    const n = (key: string, fallback: number) => kw[key] === undefined ? fallback : Number(kw[key]);
    return new PyDateTime(
      new Date(Date.UTC(
        n("year", this.year),
        n("month", this.month) - 1,
        n("day", this.day),
        n("hour", this.hour),
        n("minute", this.minute),
        n("second", this.second),
        Math.floor(n("microsecond", this.microsecond) / 1000),
      )),
      this.kind,
      // `replace(tzinfo=None)` makes it naive, `replace(tzinfo=tz)` aware with the same clock.
      Object.hasOwn(kw, "tzinfo") ? wallZone(kw.tzinfo, this.__date.getTime()) : this.__tz,
      n("microsecond", this.microsecond) % 1000,
    );
  }

  /** `weekday()`: Monday is 0. */
  weekday(): number {
    return (this.__date.getUTCDay() + 6) % 7;
  }

  /** `isoweekday()`: Monday is 1. */
  isoweekday(): number {
    return this.weekday() + 1;
  }

  /** `timestamp()`: seconds since the epoch (a naive time is local time, as in Python). */
  timestamp(): unknown {
    return pyFloat(this.#instant() / 1000);
  }

  /** The instant, a naive datetime read as local time (Python's rule for these two methods). */
  #instant(): number {
    if (this.__tz !== null) return this.valueOf();
    const d = this.__date;
    const local = new Date(0);
    local.setFullYear(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate());
    local.setHours(d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
    return local.getTime();
  }

  /** `utcoffset()`: the offset as a timedelta, None when naive. */
  utcoffset(): PyTimedelta | null {
    return this.__tz ? new PyTimedelta(this.__tz.offset * 60_000) : null;
  }

  /**
   * `astimezone(tz)`: the same instant on `tz`'s clock; without `tz`, on the
   * local zone's. A naive datetime is local time, as Python takes it (dbt
   * runs in UTC containers, where local time is UTC).
   */
  astimezone(tz?: unknown): PyDateTime {
    const zone = tz === undefined || tz === null ? localZone() : zoneName(tz);
    const moved = atInstant(this.#instant(), zone);
    return new PyDateTime(moved.__date, moved.kind, moved.__tz, this.__us);
  }

  /** The instant in milliseconds: `<` / `>` compare by it. */
  valueOf(): number {
    return this.__date.getTime() - (this.__tz?.offset ?? 0) * 60_000;
  }

  /** Python's str(): `2024-03-01` or `2024-03-01 05:06:07[.ffffff][+00:00]`. */
  toString(): string {
    return this.isoformat(" ");
  }

  /** Python's repr(), as a list or dict of datetimes prints them. */
  __repr__(): string {
    if (this.kind === "date") return `datetime.date(${this.year}, ${this.month}, ${this.day})`;
    const fields = [this.year, this.month, this.day, this.hour, this.minute];
    if (this.second || this.microsecond) fields.push(this.second);
    if (this.microsecond) fields.push(this.microsecond);
    const tz = this.__tz === null
      ? ""
      : this.__tz.name === "UTC"
      ? ", tzinfo=<UTC>"
      : `, tzinfo=<DstTzInfo '${this.__tz.name}' ${
        zoneAbbreviation(this.__tz.name, this.valueOf())
      }${offsetText(this.__tz.offset, ":")}:00 STD>`;
    return `datetime.datetime(${fields.join(", ")}${tz})`;
  }

  /** Text where text is wanted (`'' ~ d`, output), the instant for `<` / `>`. */
  [Symbol.toPrimitive](hint: string): string | number {
    return hint === "number" ? this.valueOf() : this.toString();
  }
}

/** A Python `timedelta`. */
export class PyTimedelta {
  readonly days: number;
  readonly seconds: number;
  readonly microseconds: number;

  constructor(readonly __ms: number) {
    this.days = Math.floor(__ms / DAY_MS);
    const rest = __ms - this.days * DAY_MS;
    this.seconds = Math.floor(rest / 1000);
    this.microseconds = (rest % 1000) * 1000;
  }

  /** `total_seconds()`, a float. */
  total_seconds(): unknown {
    return pyFloat(this.__ms / 1000);
  }

  /** The length in milliseconds: `<` / `>` compare by it. */
  valueOf(): number {
    return this.__ms;
  }

  /** Python's repr(): `datetime.timedelta(days=1, seconds=7200)`. */
  __repr__(): string {
    const parts = [
      this.days ? `days=${this.days}` : "",
      this.seconds ? `seconds=${this.seconds}` : "",
      this.microseconds ? `microseconds=${this.microseconds}` : "",
    ].filter((p) => p !== "");
    return `datetime.timedelta(${parts.length === 0 ? "0" : parts.join(", ")})`;
  }

  /** Python's str(): `1 day, 12:00:00`. */
  toString(): string {
    const clock = `${Math.floor(this.seconds / 3600)}:${pad(Math.floor(this.seconds / 60) % 60)}:${
      pad(this.seconds % 60)
    }`;
    if (this.days === 0) return clock;
    return `${this.days} day${Math.abs(this.days) === 1 ? "" : "s"}, ${clock}`;
  }

  /** Text where text is wanted, the length for `<` / `>`. */
  [Symbol.toPrimitive](hint: string): string | number {
    return hint === "number" ? this.__ms : this.toString();
  }
}

/** `a + b` / `a - b` when either is a datetime, date or timedelta; undefined otherwise. */
export function dateArithmetic(op: "+" | "-", a: unknown, b: unknown): unknown {
  if (a instanceof PyDateTime && b instanceof PyTimedelta) {
    return new PyDateTime(
      new Date(a.__date.getTime() + (op === "+" ? 1 : -1) * b.__ms),
      a.kind,
      a.__tz,
    );
  }
  if (op === "+" && a instanceof PyTimedelta && b instanceof PyDateTime) {
    return new PyDateTime(new Date(b.__date.getTime() + a.__ms), b.kind, b.__tz);
  }
  if (op === "-" && a instanceof PyDateTime && b instanceof PyDateTime) {
    if (a.kind !== b.kind) {
      throw new TypeError(`unsupported operand type(s) for -: '${a.kind}' and '${b.kind}'`);
    }
    return new PyTimedelta(a.valueOf() - b.valueOf());
  }
  if (a instanceof PyTimedelta && b instanceof PyTimedelta) {
    return new PyTimedelta(op === "+" ? a.__ms + b.__ms : a.__ms - b.__ms);
  }
  return undefined;
}

/** Python's `==` of dates and timedeltas: same kind, same instant or length. */
export function dateEquals(a: unknown, b: unknown): boolean | undefined {
  if (a instanceof PyDateTime && b instanceof PyDateTime) {
    return a.kind === b.kind && a.valueOf() === b.valueOf();
  }
  if (a instanceof PyTimedelta && b instanceof PyTimedelta) return a.__ms === b.__ms;
  return undefined;
}

/**
 * A Python-like `datetime` of `date` (`datetime.now()`); `aware` gives it
 * tzinfo UTC, as dbt's `run_started_at` (`datetime.now(tz=pytz.utc)`).
 */
export function pyDatetime(date: Date, aware = false): PyDateTime {
  return new PyDateTime(date, "datetime", aware ? { name: "UTC", offset: 0 } : null);
}

/** Instant `ms` as an aware datetime on `zone`'s clock. */
function atInstant(ms: number, zone: string): PyDateTime {
  const offset = zoneOffset(zone, ms);
  return new PyDateTime(new Date(ms + offset * 60_000), "datetime", { name: zone, offset });
}

/** The zone of tzinfo `tz` for wall-clock time `wall` (null when `tz` is None). */
function wallZone(tz: unknown, wall: number): PyZone | null {
  if (tz === null || tz === undefined) return null;
  const name = zoneName(tz);
  // The offset at the instant the wall clock names: one correction step covers DST edges.
  const guess = zoneOffset(name, wall);
  return { name, offset: zoneOffset(name, wall - guess * 60_000) };
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
function pyDate(date: Date): PyDateTime {
  return new PyDateTime(
    new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate())),
    "date",
  );
}

function timeZone(zone: string): Record<string, unknown> {
  zoneOffset(zone, 0); // an unknown name fails here, as pytz.timezone's UnknownTimeZoneError
  return {
    zone,
    toString: () => zone,
    // pytz's `tz.localize(naive)`: the same wall clock, aware in tz.
    localize: (dt: unknown) => {
      if (!(dt instanceof PyDateTime) || dt.__tz !== null) {
        throw new TypeError("localize() takes a naive datetime");
      }
      return new PyDateTime(dt.__date, dt.kind, wallZone({ zone }, dt.__date.getTime()));
    },
  };
}

function timedelta(...args: unknown[]): PyTimedelta {
  const { positional, kw } = callArgs(args);
  const n = (key: string, at: number) => Number(kw[key] ?? positional[at] ?? 0);
  const ms = n("days", 0) * DAY_MS + n("seconds", 1) * 1000 + n("microseconds", 2) / 1000 +
    n("milliseconds", 3) + n("minutes", 4) * 60_000 + n("hours", 5) * 3_600_000 +
    n("weeks", 6) * 7 * DAY_MS;
  return new PyTimedelta(ms);
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
  let source = sourceOf(pattern);
  let flagText = typeof flags === "string" ? flags.replace(/[^gimsuyx]/g, "") : "";
  const inline = /^\(\?([aiLmsux]+)\)/.exec(source);
  if (inline) {
    source = source.slice(inline[0].length);
    flagText += (inline[1] as string).replace(/[^imsx]/g, "");
  }
  if (flagText.includes("x")) source = unverbose(source);
  source = source.replace(/\(\?P</g, "(?<").replace(/\(\?P=(\w+)\)/g, "\\k<$1>");
  return new RegExp(source, [...new Set(flagText.replace("x", ""))].join(""));
}

/**
 * A verbose pattern (`re.X`, `(?x)`) without what Python ignores in it:
 * whitespace and `#` comments outside character classes, unless escaped
 * (dbt_project_evaluator's hard-coded reference patterns are written so).
 */
function unverbose(source: string): string {
  let out = "";
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source.charAt(i);
    if (c === "\\") {
      out += source.slice(i, i + 2);
      i++;
    } else if (inClass) {
      out += c;
      if (c === "]") inClass = false;
    } else if (c === "[") {
      inClass = true;
      out += c;
      // A `]` right after `[` or `[^` is a member, not the end.
      const head = /^\^?\]?/.exec(source.slice(i + 1))?.[0] ?? "";
      out += head;
      i += head.length;
    } else if (c === "#") {
      const end = source.indexOf("\n", i);
      i = end === -1 ? source.length : end;
    } else if (!/\s/.test(c)) out += c;
  }
  return out;
}

/** A Python replacement (`\\1`, `\\g<name>`) as a JavaScript one. */
function pyReplacement(replacement: unknown): string {
  return String(replacement).replace(/\$/g, "$$$$").replace(/\\(\d)/g, "$$$1").replace(
    /\\g<(\w+)>/g,
    "$$<$1>",
  );
}

/** `re.findall`: whole matches, the group, or tuples of groups. */
function findAll(re: RegExp, text: string): unknown[] {
  return [...text.matchAll(re)].map((m) =>
    m.length > 2 ? asTuple(m.slice(1).map((g) => g ?? "")) : m[1] ?? m[0]
  );
}

/** `re.split` with Python's `maxsplit` (0: all); captured groups are kept, as in Python. */
function splitMax(re: RegExp, text: string, maxsplit: number): string[] {
  const all = text.split(new RegExp(re.source, re.flags.replace("g", "")));
  if (!(maxsplit > 0)) return all;
  const global = new RegExp(re.source, [...new Set(re.flags + "g")].join(""));
  const out: string[] = [];
  let last = 0;
  let count = 0;
  for (const m of text.matchAll(global)) {
    if (count >= maxsplit) break;
    out.push(text.slice(last, m.index), ...m.slice(1).map((g) => g ?? ""));
    last = (m.index ?? 0) + m[0].length;
    count++;
  }
  out.push(text.slice(last));
  return out;
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
  const build = (...args: unknown[]) => {
    const { positional, kw } = callArgs(args);
    const at = (key: string, i: number, fallback: number) =>
      Number(kw[key] ?? positional[i] ?? fallback);
    const wall = new Date(Date.UTC(
      at("year", 0, NaN),
      at("month", 1, 1) - 1,
      at("day", 2, 1),
      at("hour", 3, 0),
      at("minute", 4, 0),
      at("second", 5, 0),
      Math.floor(at("microsecond", 6, 0) / 1000),
    ));
    // `tzinfo=` (or the 8th argument) makes it aware: that wall clock in that zone.
    const tz = kw.tzinfo ?? positional[7] ?? null;
    return new PyDateTime(
      wall,
      "datetime",
      wallZone(tz, wall.getTime()),
      at("microsecond", 6, 0) % 1000,
    );
  };
  const datetimeClass = Object.assign(build, {
    // `now(tz)` is aware, on tz's clock; `now()` and `utcnow()` are naive (UTC here).
    now: (tz?: unknown) =>
      tz === undefined || tz === null
        ? pyDatetime(new Date(now()))
        : atInstant(now(), zoneName(tz)),
    utcnow: () => pyDatetime(new Date(now())),
    today: () => pyDatetime(new Date(now())),
    strptime: (text: unknown, format: unknown) => pyDatetime(strptime(String(text), format)),
    fromisoformat: (text: string) => pyDatetime(new Date(`${text.replace(" ", "T")}Z`)),
    fromtimestamp: (seconds: unknown) => pyDatetime(new Date(Number(seconds) * 1000)),
  });
  const compile = (pattern: unknown, flags: unknown = "") => pyRegExp(pattern, flags);
  const match = (m: RegExpExecArray | null) =>
    m && {
      // `group(1)`, `group('name')` (Python's named groups), `group()` the whole match.
      group: (i: unknown = 0) => (typeof i === "string" ? m.groups?.[i] : m[Number(i)]) ?? null,
      groups: () => asTuple(m.slice(1).map((g) => g ?? null)),
      groupdict: () => ({ ...m.groups }),
      start: () => m.index,
      end: () => m.index + m[0].length,
    };
  return {
    datetime: {
      datetime: datetimeClass,
      // `datetime.date(2024, 1, 31)` builds one; `date.today()` reads the clock.
      date: Object.assign(
        (...args: unknown[]) => {
          const { positional, kw } = callArgs(args);
          const [y, mo, d] = [
            kw.year ?? positional[0],
            kw.month ?? positional[1] ?? 1,
            kw.day ?? positional[2] ?? 1,
          ].map(Number);
          return pyDate(new Date(Date.UTC(y as number, (mo as number) - 1, d)));
        },
        {
          today: () => pyDate(new Date(now())),
          fromisoformat: (text: string) =>
            pyDate(new Date(`${String(text).slice(0, 10)}T00:00:00Z`)),
        },
      ),
      timedelta,
      // `datetime.timezone.utc`, as `pytz.utc`.
      timezone: { utc: timeZone("UTC") },
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
        const repl = pyReplacement(replacement);
        if (!count) return String(text).replace(re, repl);
        let left = count;
        return String(text).replace(re, (...m) => {
          if (left <= 0) return m[0] as string;
          left--;
          return (m[0] as string).replace(compile(pattern, flags), repl);
        });
      },
      split: (pattern: unknown, text: unknown, maxsplit: unknown = 0) =>
        splitMax(compile(pattern), String(text), Number(maxsplit)),
      findall: (pattern: unknown, text: unknown, flags?: unknown) =>
        findAll(compile(pattern, `${String(flags ?? "")}g`), String(text)),
      escape: (text: unknown) => String(text).replace(/[.*+?^${}()|[\]\\\-\s#&~]/g, "\\$&"),
      // A compiled pattern has the module's functions with the pattern (and its flags) bound.
      compile: (pattern: unknown, flags: unknown = "") => {
        const re = compile(pattern, flags);
        const with_ = (extra = "") =>
          new RegExp(re.source, [...new Set(re.flags + extra)].join(""));
        return {
          pattern: sourceOf(pattern),
          match: (text: unknown) =>
            match(new RegExp(`^(?:${re.source})`, re.flags).exec(String(text))),
          search: (text: unknown) => match(re.exec(String(text))),
          fullmatch: (text: unknown) =>
            match(new RegExp(`^(?:${re.source})$`, re.flags).exec(String(text))),
          findall: (text: unknown) => findAll(with_("g"), String(text)),
          sub: (replacement: unknown, text: unknown) =>
            String(text).replace(with_("g"), pyReplacement(replacement)),
          split: (text: unknown, maxsplit: unknown = 0) =>
            splitMax(re, String(text), Number(maxsplit)),
        };
      },
      IGNORECASE: "i",
      I: "i",
      MULTILINE: "m",
      M: "m",
      DOTALL: "s",
      S: "s",
      VERBOSE: "x",
      X: "x",
    },
    // A zone prints as its name, as pytz's do (`{{ modules.pytz.timezone('UTC') }}` is UTC).
    pytz: { utc: timeZone("UTC"), timezone: (zone: unknown) => timeZone(String(zone)) },
    itertools: {
      chain: (...lists: unknown[][]) => lists.flat(),
      product: (...lists: unknown[][]) =>
        lists.reduce<unknown[][]>((acc, list) => acc.flatMap((a) => list.map((b) => [...a, b])), [
          [],
        ]).map((combo) => asTuple(combo)),
    },
  };
}
