/**
 * The DuckDB adapter: what dbt-duckdb does differently from dbt-postgres,
 * written for this runner.
 *
 * - Catalog lookups in `duckdb_tables()` / `duckdb_views()` /
 *   `duckdb_columns()`; temporary tables live in the connection and are
 *   dropped before the transaction ends.
 * - Seeds are read by DuckDB's own CSV reader (`read_csv` with the column
 *   types fixed), not sent row by row.
 * - `duckdb__` macros for dbt's cross-database macros, following DuckDB's
 *   functions (`date_add`, `date_diff`, `string_split`, `list_slice`,
 *   `make_date`, `try_cast`, ...).
 * - Lake-native data: a source whose `meta.external_location` names a file
 *   or a table function reads it in place, and `materialized='external'`
 *   writes a model to a Parquet/CSV/JSON file and puts a view over it.
 * - DuckDB has no roles, so `grants` is refused, naming the model.
 *
 * Profiles with `type: duckdb` (`path`, `schema`, `threads`, `extensions`,
 * `settings`, `attach`, `external_root`) open their warehouse through
 * {@linkcode duckdbTargetUrl} and {@linkcode attachStatements}.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import type { Warehouse, WarehouseSession } from "../../warehouse/types.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import type { ModelNode } from "../nodes.ts";
import { isPyNumber } from "../jinja/py_number.ts";
import { quote } from "../relation.ts";
import type { ColumnType, DbtAdapter, RelationKind, SeedLoad } from "./types.ts";

/** `'text'` as a SQL string literal. */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

const dispatching = (name: string, args: string) => `{% macro duckdb__${name}(${args}) %}`;

/** The `duckdb__` implementations of dbt's cross-database macros. */
const MACROS = [
  `${
    dispatching("dateadd", "datepart, interval, from_date_or_timestamp")
  }date_add({{ from_date_or_timestamp }}, interval ({{ interval }}) {{ datepart }}){% endmacro %}\n`,
  // DuckDB's date_diff counts boundaries crossed, as dbt's datediff means.
  `${
    dispatching("datediff", "first_date, second_date, datepart")
  }date_diff('{{ datepart }}', ({{ first_date }})::timestamp, ({{ second_date }})::timestamp){% endmacro %}\n`,
  `${dispatching("last_day", "date, datepart")}{% if datepart == 'month' -%}
last_day(cast({{ date }} as date))
{%- else -%}
cast({{ dbt.dateadd('day', '-1', dbt.dateadd(datepart, '1', dbt.date_trunc(datepart, date))) }} as date)
{%- endif %}{% endmacro %}\n`,
  ...[
    ["type_string", "VARCHAR"],
    ["type_timestamp", "TIMESTAMP"],
    ["type_int", "INTEGER"],
    ["type_bigint", "BIGINT"],
    ["type_float", "DOUBLE"],
    ["type_numeric", "DECIMAL(28,6)"],
    ["type_boolean", "BOOLEAN"],
  ].map(([name, type]) => `${dispatching(name as string, "")}${type}{% endmacro %}\n`),
  `${dispatching("safe_cast", "field, type")}try_cast({{ field }} as {{ type }}){% endmacro %}\n`,
  `${dispatching("hash", "field")}md5(cast({{ field }} as VARCHAR)){% endmacro %}\n`,
  // 1-based like Postgres' split_part; a negative part counts from the end.
  `${
    dispatching("split_part", "string_text, delimiter_text, part_number")
  }string_split({{ string_text }}, {{ delimiter_text }})[{{ part_number }}]{% endmacro %}\n`,
  `${
    dispatching("listagg", "measure, delimiter_text, order_by_clause, limit_num")
  }{%- if limit_num -%}
array_to_string(list_slice(array_agg({{ measure }}{% if order_by_clause %} {{ order_by_clause }}{% endif %}), 1, {{ limit_num }}), {{ delimiter_text }})
{%- else -%}
string_agg({{ measure }}, {{ delimiter_text }}{% if order_by_clause %} {{ order_by_clause }}{% endif %})
{%- endif -%}{% endmacro %}\n`,
  `${dispatching("any_value", "expression")}any_value({{ expression }}){% endmacro %}\n`,
  `${dispatching("current_timestamp", "")}now(){% endmacro %}\n`,
  `${
    dispatching("array_construct", "inputs, data_type")
  }{% if inputs %}[ {{ inputs | join(' , ') }} ]{% else %}[]::{{ data_type or 'INTEGER' }}[]{% endif %}{% endmacro %}\n`,
  `${
    dispatching("date", "year, month, day")
  }make_date({{ year }}, {{ month }}, {{ day }}){% endmacro %}\n`,
  `${
    dispatching("generate_series", "upper_bound")
  }select generated_number from generate_series(1, {{ upper_bound }}) as t(generated_number){% endmacro %}\n`,
  `${dispatching("cast_bool_to_text", "field")}cast({{ field }} as VARCHAR){% endmacro %}\n`,
  // The macros behind adapter.list_schemas / check_schema_exists / list_relations_without_caching
  // / rename_relation (jinja/adapter_macros.ts): DuckDB's catalog is the attached database.
  `${
    dispatching("list_schemas", "database")
  }{%- call statement('list_schemas', fetch_result=True, auto_begin=False) -%}
select schema_name from information_schema.schemata where catalog_name = current_database()
{%- endcall -%}{{ return(load_result('list_schemas').table) }}{% endmacro %}\n`,
  `${
    dispatching("check_schema_exists", "information_schema, schema")
  }{%- call statement('check_schema_exists', fetch_result=True, auto_begin=False) -%}
select count(*) from information_schema.schemata
where lower(schema_name) = '{{ schema | lower }}' and catalog_name = current_database()
{%- endcall -%}{{ return(load_result('check_schema_exists').table) }}{% endmacro %}\n`,
  `${
    dispatching("list_relations_without_caching", "schema_relation")
  }{%- call statement('list_relations_without_caching', fetch_result=True) -%}
select '{{ schema_relation.database }}' as database, table_name as name, table_schema as schema,
  case table_type when 'VIEW' then 'view' else 'table' end as type
from information_schema.tables
where lower(table_schema) = '{{ schema_relation.schema | lower }}' and table_catalog = current_database()
order by 2
{%- endcall -%}{{ return(load_result('list_relations_without_caching').table) }}{% endmacro %}\n`,
  // DuckDB renames a view with `alter view` only.
  `${
    dispatching("rename_relation", "from_relation, to_relation")
  }{%- set target_name = adapter.quote_as_configured(to_relation.identifier, 'identifier') -%}
{%- call statement('rename_relation') -%}
alter {{ 'view' if (to_relation.type or from_relation.type) == 'view' else 'table' }} {{ from_relation.render() }} rename to {{ target_name }}
{%- endcall -%}{% endmacro %}\n`,
].join("");

/** Type spellings DuckDB accepts for one type, to their canonical name. */
const TYPE_ALIASES: Readonly<Record<string, string>> = {
  int: "INTEGER",
  int4: "INTEGER",
  integer: "INTEGER",
  signed: "INTEGER",
  int8: "BIGINT",
  long: "BIGINT",
  bigint: "BIGINT",
  int2: "SMALLINT",
  short: "SMALLINT",
  smallint: "SMALLINT",
  text: "VARCHAR",
  string: "VARCHAR",
  varchar: "VARCHAR",
  char: "VARCHAR",
  bpchar: "VARCHAR",
  "character varying": "VARCHAR",
  float8: "DOUBLE",
  double: "DOUBLE",
  "double precision": "DOUBLE",
  float4: "FLOAT",
  real: "FLOAT",
  float: "FLOAT",
  bool: "BOOLEAN",
  boolean: "BOOLEAN",
  logical: "BOOLEAN",
  numeric: "DECIMAL",
  decimal: "DECIMAL",
  timestamp: "TIMESTAMP",
  datetime: "TIMESTAMP",
  "timestamp without time zone": "TIMESTAMP",
  timestamptz: "TIMESTAMP WITH TIME ZONE",
  "timestamp with time zone": "TIMESTAMP WITH TIME ZONE",
  date: "DATE",
  blob: "BLOB",
  bytea: "BLOB",
  json: "JSON",
};

/**
 * Seed types where the inferred name means something else on DuckDB:
 * `numeric` there is `DECIMAL(18,3)` and would round, so decimal values
 * load as `DOUBLE` (dbt-duckdb's agate `Number`).
 */
const SEED_TYPES: Readonly<Record<string, string>> = {
  numeric: "DOUBLE",
  text: "VARCHAR",
};

async function kinds(
  session: WarehouseSession,
  schema: string,
  names: readonly string[],
): Promise<Map<string, RelationKind>> {
  if (names.length === 0) return new Map();
  const rows = await session.query<{ name: string; kind: RelationKind }>(
    `select name, kind from (
       select table_name as name, 'table' as kind, schema_name, database_name from duckdb_tables()
       union all
       select view_name, 'view', schema_name, database_name from duckdb_views() where not internal
     ) where database_name = current_database() and schema_name = $1
       and list_contains(string_split($2, chr(1)), name)`,
    [schema, names.join("\u0001")],
  );
  return new Map(rows.map((r) => [r.name, r.kind]));
}

async function tempColumns(session: WarehouseSession, name: string): Promise<ColumnType[]> {
  return await session.query<ColumnType>(
    `select column_name as name, data_type as type from duckdb_columns()
     where database_name = 'temp' and table_name = $1 order by column_index`,
    [name],
  );
}

/** The DuckDB adapter. */
export const duckdbAdapter: DbtAdapter = {
  type: "duckdb",
  macros: MACROS,
  relationKinds: kinds,
  tempTable(name) {
    return {
      prefix: `create or replace temp table ${name} as (\n`,
      drop: `drop table if exists temp.main.${name}`,
    };
  },
  tempColumns,
  async queryColumns(session, sql) {
    const view = `__dbt_contract_${crypto.randomUUID().replaceAll("-", "")}`;
    await session.execute(`create temp view ${view} as (\n${sql}\n)`);
    try {
      return await tempColumns(session, view);
    } finally {
      await session.execute(`drop view if exists temp.main.${view}`);
    }
  },
  normalType(type) {
    const base = type.trim().toLowerCase().replace(/\(.*\)$/, "").trim();
    return TYPE_ALIASES[base] ?? base.toUpperCase();
  },
  seedType: (inferred) => SEED_TYPES[inferred] ?? inferred,
  async loadSeed(tx, load: SeedLoad) {
    const { relation, columns } = load;
    if (load.keepTable) await tx.execute(`delete from ${relation}`);
    else {
      await tx.execute(`drop table if exists ${relation} cascade`);
      await tx.execute(
        `create table ${relation} (${columns.map((c) => `${c.sql} ${c.type}`).join(", ")})`,
      );
    }
    // The file's own reader: types fixed by the table, header skipped,
    // empty fields null (as the Postgres adapter loads them).
    const types = columns.map((c, i) => `${literal(`c${i}`)}: ${literal(c.type)}`).join(", ");
    const read = await tx.execute(
      `insert into ${relation} select * from read_csv(${literal(load.csvPath)}, header = true,
        delim = ${literal(load.delimiter)}, quote = '"', escape = '"', auto_detect = false,
        columns = {${types}})`,
    );
    // DuckDB's reader skips blank lines, which dbt loads as rows of nulls.
    if (load.blankLines === 0) return read;
    const nulls = `(${columns.map(() => "null").join(", ")})`;
    await tx.execute(
      `insert into ${relation} values ${Array(load.blankLines).fill(nulls).join(", ")}`,
    );
    return read + load.blankLines;
  },
  grant(_session, privilege, relation) {
    return Promise.reject(
      new DbtError(
        DbtErrorCode.unsupported,
        `grants: DuckDB has no roles or privileges, so '${privilege}' on ${relation} cannot be ` +
          "granted; remove `grants` for the duckdb target",
        { file: "" },
      ),
    );
  },
};

/** Formats of the `external` materialization and of `external_location` files. */
const FORMATS = new Set(["parquet", "csv", "json"]);

/**
 * What a source with `meta.external_location` prints as on DuckDB: the
 * location with `{name}`, `{identifier}`, `{schema}`, `{database}` and meta
 * keys filled in (dbt-duckdb's `formatter`: `newstyle` `{x}`, default;
 * `oldstyle` `%(x)s`; `template` `$x` / `${x}`); a path is quoted, a table
 * function (`read_csv(...)`) is kept as written.
 */
export function externalSourceSql(
  location: string,
  fields: Readonly<Record<string, unknown>>,
  formatter: string = "newstyle",
): string {
  const value = (key: string): string => {
    if (!Object.hasOwn(fields, key)) {
      throw new RangeError(
        `external_location '${location}' names {${key}}, which the source does not have ` +
          `(known: ${Object.keys(fields).join(", ")})`,
      );
    }
    return String(fields[key]);
  };
  let filled: string;
  switch (formatter) {
    case "newstyle":
      filled = location.replace(
        /\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}/g,
        (whole, key) => key === undefined ? whole[0] as string : value(key),
      );
      break;
    case "oldstyle":
      filled = location.replace(
        /%%|%\(([A-Za-z_][A-Za-z0-9_]*)\)s/g,
        (_whole, key) => key === undefined ? "%" : value(key),
      );
      break;
    case "template":
      filled = location.replace(
        /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
        (_whole, braced, bare) => braced ?? bare ? value(braced ?? bare) : "$",
      );
      break;
    default:
      throw new RangeError(
        `formatter '${formatter}' is not one of newstyle, oldstyle, template`,
      );
  }
  return filled.includes("(") ? filled : literal(filled);
}

/** Settings of an `external` model, resolved. */
export interface ExternalTarget {
  /** File (or prefix, with `partition_by`) written. */
  readonly location: string;
  /** parquet, csv or json. */
  readonly format: string;
  /** The `COPY ... TO` options, as SQL. */
  readonly options: string;
}

/**
 * Where and how an `external` model is written: `location` (else
 * `<external_root>/<model>.<format>`), `format` (else from the location's
 * extension, else parquet), `delimiter` (CSV), `options` (passed to COPY).
 */
export function externalTarget(
  model: ModelNode,
  target: { readonly fields: Readonly<Record<string, unknown>> },
  projectDir: string,
): ExternalTarget {
  const all = model.config.all;
  const given = typeof all.location === "string" && all.location.length > 0
    ? all.location
    : undefined;
  const fromExtension = given?.match(/\.(parquet|csv|json)$/i)?.[1]?.toLowerCase();
  const format = String(all.format ?? fromExtension ?? "parquet").toLowerCase();
  if (!FORMATS.has(format)) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `model '${model.name}': format '${format}' is not one of parquet, csv, json`,
      { file: model.file },
    );
  }
  const root = typeof target.fields.external_root === "string" ? target.fields.external_root : ".";
  const raw = given ?? `${root}/${model.relation.identifier}.${format}`;
  const location = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) || isAbsolute(raw)
    ? raw
    : resolve(projectDir, raw);
  const parts = [`format ${format}`];
  if (format === "csv") {
    parts.push(`header true`, `delimiter ${literal(String(all.delimiter ?? ","))}`);
  }
  const options = all.options;
  if (options !== undefined && options !== null) {
    if (typeof options !== "object" || Array.isArray(options)) {
      throw new DbtError(
        DbtErrorCode.invalidProject,
        `model '${model.name}': options must be a map of COPY options, e.g. {partition_by: day}`,
        { file: model.file },
      );
    }
    for (const [key, value] of Object.entries(options)) {
      if (!/^[a-z_]+$/i.test(key)) {
        throw new DbtError(
          DbtErrorCode.invalidProject,
          `model '${model.name}': '${key}' is not a COPY option name`,
          { file: model.file },
        );
      }
      parts.push(`${key} ${copyValue(value)}`);
    }
  }
  return { location, format, options: parts.join(", ") };
}

function copyValue(value: unknown): string {
  // A YAML float (`1.0`) is a boxed number: written as the number it is.
  if (isPyNumber(value) || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `(${value.map((v) => quote(String(v))).join(", ")})`;
  const text = String(value);
  // A bare column name (partition_by: day) stays an identifier list; anything else is a literal.
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(text) && !/^(true|false)$/i.test(text)
    ? `(${quote(text)})`
    : literal(text);
}

/** The table function that reads what {@linkcode externalTarget} wrote. */
function readerOf(target: ExternalTarget): string {
  const partitioned = /partition_by/i.test(target.options);
  const path = partitioned ? `${target.location}/**/*.${target.format}` : target.location;
  const hive = partitioned ? ", hive_partitioning = true" : "";
  switch (target.format) {
    case "csv":
      return `read_csv(${literal(path)}, header = true${hive})`;
    case "json":
      return `read_json(${literal(path)}${hive})`;
    default:
      return `read_parquet(${literal(path)}${hive})`;
  }
}

/**
 * Builds an `external` model: writes `sql`'s rows to its file with
 * `COPY ... TO` (replacing the file), then puts a view of the model's name
 * over the file, as dbt-duckdb does. Returns the rows written.
 */
export async function buildExternal(
  warehouse: Warehouse,
  model: ModelNode,
  sql: string,
  target: ExternalTarget,
): Promise<number> {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(target.location)) {
    const folder = /partition_by/i.test(target.options)
      ? target.location
      : target.location.slice(0, target.location.lastIndexOf("/"));
    if (folder) await Deno.mkdir(folder, { recursive: true });
  }
  const rows = await warehouse.execute(
    `copy (\n${sql}\n) to ${literal(target.location)} (${target.options}${
      /partition_by/i.test(target.options) ? ", overwrite_or_ignore true" : ""
    })`,
  );
  await warehouse.ensureSchema(model.relation.schema);
  const existing = await kinds(warehouse, model.relation.schema, [model.relation.identifier]);
  if (existing.get(model.relation.identifier) === "table") {
    await warehouse.execute(`drop table ${model.relation}`);
  }
  await warehouse.execute(
    `create or replace view ${model.relation} as select * from ${readerOf(target)}`,
  );
  return rows;
}

/** A `type: duckdb` output of profiles.yml, as far as opening the warehouse goes. */
export interface DuckdbProfile {
  /** Database file, `:memory:` or absent (in memory). */
  readonly path?: unknown;
  /** Extensions to load (names, or `{name, repo}`). */
  readonly extensions?: unknown;
  /** DuckDB settings. */
  readonly settings?: unknown;
}

/**
 * The `WAREHOUSE_URL` a `type: duckdb` target opens: `path` (relative to
 * `baseDir`; `:memory:` or absent for memory), `extensions` as a list of
 * names (or `{name}` entries), `settings` as DuckDB settings. Throws
 * `dbt.invalid_project` for a malformed field, naming it.
 */
export function duckdbTargetUrl(fields: DuckdbProfile, baseDir: string): string {
  const path = fields.path === undefined || fields.path === null || fields.path === ":memory:"
    ? ":memory:"
    : String(fields.path);
  const file = path === ":memory:" || isAbsolute(path) ? path : resolve(baseDir, path);
  const params = new URLSearchParams();
  const extensions = fields.extensions ?? [];
  if (!Array.isArray(extensions)) throw profileError("extensions must be a list of names");
  const names = extensions.map((e) =>
    typeof e === "string" ? e : (e as { name?: unknown } | null)?.name
  );
  if (names.some((n) => typeof n !== "string")) {
    throw profileError("each extension is a name or {name: ...}");
  }
  if (names.length > 0) params.set("extensions", names.join(","));
  const settings = fields.settings ?? {};
  if (typeof settings !== "object" || settings === null || Array.isArray(settings)) {
    throw profileError("settings must be a map of DuckDB settings");
  }
  for (const [key, value] of Object.entries(settings)) params.set(key, String(value));
  const query = params.toString();
  return `duckdb:${file}${query ? `?${query}` : ""}`;
}

/** One `attach:` entry of a duckdb profile. */
interface AttachEntry {
  readonly path?: unknown;
  readonly alias?: unknown;
  readonly type?: unknown;
  readonly read_only?: unknown;
}

/**
 * The `ATTACH` statements of a profile's `attach:` list (path, alias, type,
 * read_only), paths relative to `baseDir`. Run them on the warehouse after
 * opening it; the attached databases are then `alias.schema.table`.
 */
export function attachStatements(attach: unknown, baseDir: string): string[] {
  if (attach === undefined || attach === null) return [];
  if (!Array.isArray(attach)) throw profileError("attach must be a list of {path, alias, ...}");
  return attach.map((raw, i) => {
    const entry = (raw ?? {}) as AttachEntry;
    if (typeof entry.path !== "string" || entry.path.length === 0) {
      throw profileError(`attach[${i}] needs a path`);
    }
    const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(entry.path) || isAbsolute(entry.path)
      ? entry.path
      : resolve(baseDir, entry.path);
    const options: string[] = [];
    if (entry.type !== undefined) {
      if (typeof entry.type !== "string" || !/^[a-z_]+$/.test(entry.type)) {
        throw profileError(`attach[${i}].type must be a database type such as sqlite`);
      }
      options.push(`type ${entry.type}`);
    }
    if (entry.read_only === true) options.push("read_only");
    const alias = entry.alias === undefined ? "" : ` as ${quote(String(entry.alias))}`;
    return `attach if not exists ${literal(path)}${alias}${
      options.length ? ` (${options.join(", ")})` : ""
    }`;
  });
}

function profileError(message: string): DbtError {
  return new DbtError(
    DbtErrorCode.invalidProject,
    `duckdb profile: ${message}`,
    { file: "profiles.yml" },
  );
}

/**
 * What to say about a built relation's geometry on DuckDB: when it has a
 * GEOMETRY column, or a blob column named like one (`geometry`, `*_wkb`,
 * `geom`), and the spatial extension is not loaded, its geometry stays WKB
 * and only the few core functions (`st_aswkb`, `st_astext`) apply. Undefined
 * when there is nothing to say.
 */
export async function geometryNote(
  session: WarehouseSession,
  relation: { readonly schema: string; readonly identifier: string },
): Promise<string | undefined> {
  const rows = await session.query<{ name: string; spatial: boolean }>(
    `select column_name as name,
       coalesce((select loaded from duckdb_extensions() where extension_name = 'spatial'), false)
         as spatial
     from duckdb_columns()
     where database_name = current_database() and schema_name = $1 and table_name = $2
       and (data_type like 'GEOMETRY%'
         or (data_type = 'BLOB' and regexp_matches(lower(column_name), '(^geom|wkb)')))
     order by column_index`,
    [relation.schema, relation.identifier],
  );
  if (rows.length === 0 || rows[0]?.spatial) return undefined;
  return `geometry stays WKB in ${rows.map((r) => r.name).join(", ")}: DuckDB's spatial ` +
    "extension is not available here (see `deno task doctor`)";
}
