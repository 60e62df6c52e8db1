/**
 * Python's int/float distinction for template values. JavaScript has one
 * number type, so `{{ 1.0 }}` printed `1` where Jinja2 (and so dbt) prints
 * `1.0`, and `{{ 4 / 2 }}` printed `2` where Jinja2 prints `2.0`.
 *
 * A JavaScript number that is not an integer (0.5, NaN, Infinity) can only
 * be a Python float, and an integer number is a Python int; the one case the
 * number cannot tell is a float whose value is integral (`1.0`, `2.0`,
 * `1e+16`, `-0.0`): that one is boxed as a {@linkcode PyFloat}. The box
 * unboxes itself in JavaScript arithmetic and comparisons (it is a `Number`
 * object), prints as Python's `repr()` through `String()`, and the template
 * operators and filters (`/`, `//`, `+`, `round`, `float`, `sum`, `abs`...)
 * keep it a float the way Python does. Only templates that write a float
 * literal or divide ever create one: the parse of a project without
 * arithmetic takes no new path.
 *
 * @module
 */

/** A Python float whose value is integral (`1.0`), which a JavaScript number would print as `1`. */
export class PyFloat extends Number {
  /** Python's `repr()`: `1.0`, `1e+16`, `-0.0`. */
  override toString(): string {
    return formatFloat(this.valueOf());
  }
  /** What `JSON.stringify` writes (a number, as dbt's manifest holds it). */
  toJSON(): number {
    return this.valueOf();
  }
}

/** `value` as a Python float: boxed when integral, so it keeps printing as a float. */
export function pyFloat(value: number): number | PyFloat {
  return Number.isInteger(value) ? new PyFloat(value) : value;
}

/** Whether `value` is a Python float (a boxed integral float or a non-integer number). */
export function isPyFloat(value: unknown): boolean {
  return value instanceof PyFloat || (typeof value === "number" && !Number.isInteger(value));
}

/** Whether `value` is a Python int or float (booleans excluded). */
export function isPyNumber(value: unknown): value is number | PyFloat {
  return typeof value === "number" || value instanceof PyFloat;
}

/** The plain number of a number or a boxed float; anything else unchanged. */
export function unbox<T>(value: T): T | number {
  return value instanceof PyFloat ? value.valueOf() : value;
}

/** Python's `repr(float)`: shortest round-trip digits, exponent form below 1e-4 or from 1e16. */
export function formatFloat(value: number): string {
  if (Number.isNaN(value)) return "nan";
  if (!Number.isFinite(value)) return value > 0 ? "inf" : "-inf";
  if (value === 0) return Object.is(value, -0) ? "-0.0" : "0.0";
  const [mantissa, exp] = value.toExponential().split("e") as [string, string];
  const exponent = Number(exp);
  if (exponent < -4 || exponent >= 16) {
    return `${mantissa}e${exponent < 0 ? "-" : "+"}${String(Math.abs(exponent)).padStart(2, "0")}`;
  }
  // Within that range JavaScript writes the same digits without an exponent.
  const text = String(value);
  return text.includes(".") ? text : `${text}.0`;
}

/** Python's `str()` of a plain number: an integer as an int (all its digits), else a float. */
export function formatNumber(value: number): string {
  if (!Number.isInteger(value)) return formatFloat(value);
  return Math.abs(value) < 1e21 ? String(value) : BigInt(value).toString();
}

/** Python's `str()` of a number or boxed float. */
export function pyNumberStr(value: number | PyFloat): string {
  return value instanceof PyFloat ? formatFloat(value.valueOf()) : formatNumber(value);
}

/** A `ZeroDivisionError`, as Python raises it (JavaScript would give Infinity or NaN). */
export class ZeroDivision extends Error {
  /** Stable code of the error. */
  readonly code = "ZeroDivisionError";
  constructor(what: string) {
    super(`${what} by zero`);
  }
}

function operands(a: unknown, b: unknown): [number, number, boolean] | undefined {
  if (!isPyNumber(a) && typeof a !== "boolean" && typeof a !== "bigint") return undefined;
  if (!isPyNumber(b) && typeof b !== "boolean" && typeof b !== "bigint") return undefined;
  return [Number(a), Number(b), isPyFloat(a) || isPyFloat(b)];
}

/** The result of a numeric operation: a float when `float`, else an int. */
function result(value: number, float: boolean): number | PyFloat {
  return float ? pyFloat(value) : value;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/**
 * A Python int (arbitrary precision): a number while it is a safe integer
 * (most code here reads numbers), a bigint past 2**53, where a number would
 * lose digits (`9007199254740993` printed ...992).
 */
export function pyInt(value: bigint): number | bigint {
  return value <= MAX_SAFE && value >= -MAX_SAFE ? Number(value) : value;
}

/**
 * `op` on two ints computed exactly when a number cannot hold them or the
 * result (a bigint operand, or a result past 2**53): Python's ints never
 * round. Undefined when either is a float, or the number result is exact.
 */
function exactInt(
  a: unknown,
  b: unknown,
  approx: number,
  op: (x: bigint, y: bigint) => bigint,
): number | bigint | undefined {
  if (typeof a !== "bigint" && typeof b !== "bigint" && Number.isSafeInteger(approx)) {
    return undefined;
  }
  if (isPyFloat(a) || isPyFloat(b)) return undefined;
  return pyInt(op(BigInt(a as number), BigInt(b as number)));
}

/** Python's `a + b`: numbers keep float-ness, lists concatenate, strings join. */
export function pyAdd(a: unknown, b: unknown): unknown {
  const nums = operands(a, b);
  if (nums) {
    const sum = nums[0] + nums[1];
    return exactInt(a, b, sum, (x, y) => x + y) ?? result(sum, nums[2]);
  }
  if (Array.isArray(a) && Array.isArray(b)) return [...a, ...b];
  return (a as string) + (b as string);
}

/** Python's `a - b`. */
export function pySub(a: unknown, b: unknown): unknown {
  const nums = operands(a, b);
  if (nums) {
    const difference = nums[0] - nums[1];
    return exactInt(a, b, difference, (x, y) => x - y) ?? result(difference, nums[2]);
  }
  return (a as number) - (b as number);
}

/** Python's `a * b` on numbers (the caller handles `'-' * 3`). */
export function pyMulNumbers(a: unknown, b: unknown): unknown {
  const nums = operands(a, b);
  if (nums) {
    const product = nums[0] * nums[1];
    return exactInt(a, b, product, (x, y) => x * y) ?? result(product, nums[2]);
  }
  return (a as number) * (b as number);
}

/** Python's `a / b`: always a float. */
export function pyDiv(a: unknown, b: unknown): unknown {
  const nums = operands(a, b);
  if (!nums) return (a as number) / (b as number);
  if (nums[1] === 0) throw new ZeroDivision("division");
  return pyFloat(nums[0] / nums[1]);
}

/** Python's `a // b`: floored, an int for two ints. */
export function pyFloorDiv(a: unknown, b: unknown): unknown {
  const nums = operands(a, b);
  if (!nums) return Math.floor((a as number) / (b as number));
  if (nums[1] === 0) throw new ZeroDivision("integer division or modulo");
  const quotient = Math.floor(nums[0] / nums[1]);
  return exactInt(a, b, quotient, (x, y) => {
    const q = x / y;
    return x % y !== 0n && (x < 0n) !== (y < 0n) ? q - 1n : q;
  }) ?? result(quotient, nums[2]);
}

/** Python's `a % b` on numbers: the sign of the divisor (`-7 % 3` is 2). */
export function pyModNumbers(a: unknown, b: unknown): unknown {
  const nums = operands(a, b);
  if (!nums) return (a as number) % (b as number);
  const [x, y, float] = nums;
  if (y === 0) throw new ZeroDivision("integer division or modulo");
  const big = exactInt(a, b, 0, (p, q) => {
    const r = p % q;
    return r !== 0n && (r < 0n) !== (q < 0n) ? r + q : r;
  });
  if (big !== undefined) return big;
  const r = x % y;
  return result(r !== 0 && (r < 0) !== (y < 0) ? r + y : r, float);
}

/** Python's `a ** b`: an int for two ints and a non-negative exponent. */
export function pyPow(a: unknown, b: unknown): unknown {
  const nums = operands(a, b);
  if (!nums) return Math.pow(a as number, b as number);
  const [x, y, float] = nums;
  if (x === 0 && y < 0) throw new ZeroDivision("0.0 cannot be raised to a negative power");
  const power = Math.pow(x, y);
  if (y >= 0) {
    const big = exactInt(a, b, power, (p, q) => p ** q);
    if (big !== undefined) return big;
  }
  return result(power, float || y < 0);
}

/** Python's `-a`. */
export function pyNeg(a: unknown): unknown {
  if (a instanceof PyFloat) return new PyFloat(-a.valueOf());
  if (typeof a === "bigint") return pyInt(-a);
  if (typeof a === "number" && a === 0) return 0; // an int has no -0
  return -(a as number);
}

/**
 * `JSON.parse` keeping the floats the text writes as floats (`1.0`, `2e3`):
 * Python's json.loads gives floats for them, so `fromjson('{"a": 1.0}')`
 * prints `{'a': 1.0}` in dbt.
 */
export function pyJsonParse(text: string): unknown {
  return JSON.parse(text, function (_key, value: unknown, context?: { source?: string }) {
    return typeof value === "number" && Number.isInteger(value) &&
        /[.eE]/.test(context?.source ?? "")
      ? new PyFloat(value)
      : value;
  });
}

/**
 * Python's `'%.<digits>f' % value`: the float's exact binary value is
 * rounded, and only a value exactly halfway rounds to the even digit, as
 * Python's correctly rounded formatting does (`'%.0f' % 2.5` is `2`,
 * `'%.2f' % 0.125` is `0.12`, `'%.2f' % 2.675` is `2.67` since 2.675 is
 * stored as 2.67499999...). JavaScript's toFixed rounds a half away from zero.
 */
export function pyFixed(value: number, digits: number): string {
  const text = value.toFixed(digits);
  if (!Number.isFinite(value) || Math.abs(value) >= 1e21) return text;
  // toFixed(100) is the exact decimal expansion of any double that can be a tie here.
  const exact = Math.abs(value).toFixed(Math.min(100, digits + 60));
  const cut = exact.indexOf(".") + 1 + digits;
  if (!/^50*$/.test(exact.slice(cut))) return text;
  const truncated = exact.slice(0, cut).replace(/\.$/, "");
  const lastDigit = Number(truncated.at(-1));
  if (lastDigit % 2 !== 0) return text;
  return (value < 0 || Object.is(value, -0) ? "-" : "") + truncated;
}

/**
 * Python's `%g` / `{:g}`: `precision` significant digits (0 is 1), trailing
 * zeros dropped (kept with `alternate`, `%#g`), in exponent form when the
 * exponent is below -4 or not below the precision (`'%g' % 1234567` is
 * `1.23457e+06`).
 */
export function pyGeneral(value: number, precision: number, alternate = false): string {
  if (!Number.isFinite(value)) return formatFloat(value).replace(".0", "");
  const p = precision === 0 ? 1 : precision;
  if (value === 0) {
    return (Object.is(value, -0) ? "-" : "") + (alternate ? (0).toFixed(p - 1) : "0");
  }
  const [mantissa, exp] = value.toExponential(p - 1).split("e") as [string, string];
  const exponent = Number(exp);
  const trim = (text: string) =>
    alternate || !text.includes(".") ? text : text.replace(/\.?0+$/, "");
  if (exponent >= -4 && exponent < p) return trim(pyFixed(value, Math.max(0, p - 1 - exponent)));
  return `${trim(mantissa)}e${exponent < 0 ? "-" : "+"}${
    String(Math.abs(exponent)).padStart(2, "0")
  }`;
}
