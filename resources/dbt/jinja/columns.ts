/**
 * dbt's `Column` as macros see it (what `adapter.get_columns_in_relation`
 * returns and `api.Column` builds): `name`/`column`, `dtype`, `data_type`
 * with its size (`character varying(256)`, `numeric(10,2)`), `quoted`, and
 * the predicates packages call (`is_string()`, `is_number()`, `string_size()`
 * in dbt_utils.union_relations...).
 *
 * @module
 */

/** A column as Jinja sees it. */
export interface JinjaColumn {
  readonly name: string;
  readonly column: string;
  readonly dtype: string;
  readonly data_type: string;
  readonly quoted: string;
  readonly char_size: number | null;
  readonly numeric_precision: number | null;
  readonly numeric_scale: number | null;
  is_string(): boolean;
  is_number(): boolean;
  is_numeric(): boolean;
  is_integer(): boolean;
  is_float(): boolean;
  string_size(): number;
  string_type(size: unknown): string;
  can_expand_to(other: unknown): boolean;
  literal(value: unknown): string;
  toString(): string;
}

const STRING = /^(character varying|varchar|character|char|text|string|bpchar|nvarchar|nchar)\b/i;
const INTEGER = /^(integer|int|bigint|smallint|tinyint|hugeint|int2|int4|int8|serial|bigserial)\b/i;
const FLOAT = /^(real|float|float4|float8|double precision|double)\b/i;
const NUMERIC = /^(numeric|decimal)\b/i;

/** Builds a column; sizes come from information_schema (null when it has none). */
export function jinjaColumn(
  name: string,
  dtype: string,
  quote: (name: string) => string,
  sizes: { char?: unknown; precision?: unknown; scale?: unknown } = {},
): JinjaColumn {
  const num = (v: unknown) => v === null || v === undefined || v === "" ? null : Number(v);
  const charSize = num(sizes.char);
  const precision = num(sizes.precision);
  const scale = num(sizes.scale);
  const isString = STRING.test(dtype);
  const isNumeric = NUMERIC.test(dtype);
  const dataType = isString && charSize !== null && !/\(/.test(dtype)
    ? `${dtype}(${charSize})`
    : isNumeric && precision !== null && !/\(/.test(dtype)
    ? `${dtype}(${precision},${scale ?? 0})`
    : dtype;
  const column: JinjaColumn = {
    name,
    column: name,
    dtype,
    data_type: dataType,
    quoted: quote(name),
    char_size: charSize,
    numeric_precision: precision,
    numeric_scale: scale,
    is_string: () => isString,
    is_number: () => isNumeric || INTEGER.test(dtype) || FLOAT.test(dtype),
    is_numeric: () => isNumeric,
    is_integer: () => INTEGER.test(dtype),
    is_float: () => FLOAT.test(dtype),
    string_size: () => {
      if (!isString) throw new TypeError(`string_size() of non-string column '${name}' (${dtype})`);
      // text and unsized varchar hold any length: dbt counts them as 256 on Postgres.
      return charSize ?? 256;
    },
    string_type: (size) => `character varying(${Number(size)})`,
    can_expand_to: (other) => {
      const o = other as Partial<JinjaColumn> | null;
      return isString && o?.is_string?.() === true &&
        (o.string_size?.() ?? 0) > column.string_size();
    },
    literal: (value) => `${String(value)}::${dataType}`,
    toString: () => `<Column ${name} (${dataType})>`,
  };
  return column;
}

/** `api.Column(name, dtype, char_size=None, numeric_precision=None, numeric_scale=None)`. */
export function apiColumn(quote: (name: string) => string) {
  const build = (...args: unknown[]): JinjaColumn => {
    const last = args.at(-1);
    const kwargs = typeof last === "object" && last !== null &&
        (last as { __keywords?: unknown }).__keywords === true
      ? last as Record<string, unknown>
      : {};
    const positional = kwargs === last ? args.slice(0, -1) : args;
    const name = String(kwargs.column ?? kwargs.name ?? positional[0] ?? "");
    const dtype = String(kwargs.dtype ?? kwargs.data_type ?? positional[1] ?? "");
    return jinjaColumn(name, dtype, quote, {
      char: kwargs.char_size ?? positional[2],
      precision: kwargs.numeric_precision ?? positional[3],
      scale: kwargs.numeric_scale ?? positional[4],
    });
  };
  return Object.assign(build, {
    create: build,
    // dbt's Column class methods, which macros call on `api.Column` itself.
    translate_type: (dtype: unknown) => TYPE_LABELS[String(dtype).toUpperCase()] ?? String(dtype),
    string_type: (size: unknown) => `character varying(${String(size)})`,
    numeric_type: (dtype: unknown, precision: unknown, scale: unknown) =>
      precision === null || precision === undefined || scale === null || scale === undefined
        ? String(dtype)
        : `${String(dtype)}(${String(precision)},${String(scale)})`,
  });
}

/** dbt's `Column.TYPE_LABELS`: the generic names `translate_type` maps. */
const TYPE_LABELS: Readonly<Record<string, string>> = {
  STRING: "TEXT",
  TIMESTAMP: "TIMESTAMP",
  FLOAT: "FLOAT",
  INTEGER: "INT",
  BOOLEAN: "BOOLEAN",
};
