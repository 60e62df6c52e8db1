/**
 * The global project (`dbt` namespace): dbt's cross-database macros, each a
 * dispatching macro with a `default__` implementation and, where Postgres
 * differs, a `postgres__` one. A project or package overrides any of them
 * the dbt way (its own `postgres__x`, or `dispatch:` in dbt_project.yml); an
 * adapter for another warehouse adds its own `<type>__x` macros with
 * {@linkcode JinjaEnv.loadMacros} under the `dbt` package.
 *
 * Written here, from dbt's documented behaviour of each macro.
 *
 * @module
 */

/** File name the global project's macros are reported under. */
export const GLOBAL_MACROS_FILE = "<dbt global project>/macros/cross_db.sql";

const dispatching = (name: string, args: string, call = args) =>
  `{% macro ${name}(${args}) %}{{ return(adapter.dispatch('${name}', 'dbt')(${call})) }}{% endmacro %}\n`;

/** Jinja source of the global project's macros. */
export const GLOBAL_MACROS = [
  dispatching("date_trunc", "datepart, date"),
  `{% macro default__date_trunc(datepart, date) %}date_trunc('{{ datepart }}', {{ date }}){% endmacro %}\n`,
  dispatching("dateadd", "datepart, interval, from_date_or_timestamp"),
  `{% macro default__dateadd(datepart, interval, from_date_or_timestamp) %}dateadd({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }}){% endmacro %}\n`,
  `{% macro postgres__dateadd(datepart, interval, from_date_or_timestamp) %}{{ from_date_or_timestamp }} + ((interval '1 {{ datepart }}') * ({{ interval }})){% endmacro %}\n`,
  dispatching("datediff", "first_date, second_date, datepart"),
  `{% macro default__datediff(first_date, second_date, datepart) %}datediff({{ datepart }}, {{ first_date }}, {{ second_date }}){% endmacro %}\n`,
  `{% macro postgres__datediff(first_date, second_date, datepart) -%}
{%- if datepart == 'year' -%}(date_part('year', ({{ second_date }})::date) - date_part('year', ({{ first_date }})::date))
{%- elif datepart == 'quarter' -%}({{ dbt.datediff(first_date, second_date, 'year') }} * 4 + date_part('quarter', ({{ second_date }})::date) - date_part('quarter', ({{ first_date }})::date))
{%- elif datepart == 'month' -%}({{ dbt.datediff(first_date, second_date, 'year') }} * 12 + date_part('month', ({{ second_date }})::date) - date_part('month', ({{ first_date }})::date))
{%- elif datepart == 'day' -%}(({{ second_date }})::date - ({{ first_date }})::date)
{%- elif datepart == 'week' -%}({{ dbt.datediff(first_date, second_date, 'day') }} / 7 + case when date_part('dow', ({{ first_date }})::timestamp) <= date_part('dow', ({{ second_date }})::timestamp) then case when {{ first_date }} <= {{ second_date }} then 0 else -1 end else case when {{ first_date }} <= {{ second_date }} then 1 else 0 end end)
{%- elif datepart == 'hour' -%}({{ dbt.datediff(first_date, second_date, 'day') }} * 24 + date_part('hour', ({{ second_date }})::timestamp) - date_part('hour', ({{ first_date }})::timestamp))
{%- elif datepart == 'minute' -%}({{ dbt.datediff(first_date, second_date, 'hour') }} * 60 + date_part('minute', ({{ second_date }})::timestamp) - date_part('minute', ({{ first_date }})::timestamp))
{%- elif datepart == 'second' -%}({{ dbt.datediff(first_date, second_date, 'minute') }} * 60 + floor(date_part('second', ({{ second_date }})::timestamp)) - floor(date_part('second', ({{ first_date }})::timestamp)))
{%- else -%}{{ exceptions.raise_compiler_error("Unsupported datepart for macro datediff in postgres: " ~ datepart) }}
{%- endif -%}
{%- endmacro %}\n`,
  dispatching("last_day", "date, datepart"),
  `{% macro default__last_day(date, datepart) %}cast({{ dbt.dateadd('day', '-1', dbt.dateadd(datepart, '1', dbt.date_trunc(datepart, date))) }} as date){% endmacro %}\n`,
  ...[
    ["type_string", "varchar", "text"],
    ["type_timestamp", "timestamp", "timestamp without time zone"],
    ["type_int", "int", "integer"],
    ["type_bigint", "bigint", "bigint"],
    ["type_float", "float", "float"],
    ["type_numeric", "numeric(28,6)", "numeric(28,6)"],
    ["type_boolean", "boolean", "boolean"],
  ].map(([name, generic, postgres]) =>
    dispatching(name as string, "") +
    `{% macro default__${name}() %}${generic}{% endmacro %}\n` +
    `{% macro postgres__${name}() %}${postgres}{% endmacro %}\n`
  ),
  dispatching("cast", "field, type"),
  `{% macro default__cast(field, type) %}cast({{ field }} as {{ type }}){% endmacro %}\n`,
  dispatching("safe_cast", "field, type"),
  `{% macro default__safe_cast(field, type) %}cast({{ field }} as {{ type }}){% endmacro %}\n`,
  dispatching("concat", "fields"),
  `{% macro default__concat(fields) %}{{ fields | join(' || ') }}{% endmacro %}\n`,
  dispatching("hash", "field"),
  `{% macro default__hash(field) %}md5(cast({{ field }} as {{ dbt.type_string() }})){% endmacro %}\n`,
  dispatching("split_part", "string_text, delimiter_text, part_number"),
  `{% macro default__split_part(string_text, delimiter_text, part_number) %}split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }}){% endmacro %}\n`,
  dispatching(
    "listagg",
    "measure, delimiter_text=\"','\", order_by_clause=none, limit_num=none",
    "measure, delimiter_text, order_by_clause, limit_num",
  ),
  `{% macro default__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
{%- if limit_num -%}array_to_string((array_agg({{ measure }}{% if order_by_clause %} {{ order_by_clause }}{% endif %}))[1:{{ limit_num }}], {{ delimiter_text }})
{%- else -%}string_agg({{ measure }}, {{ delimiter_text }}{% if order_by_clause %} {{ order_by_clause }}{% endif %})
{%- endif -%}
{%- endmacro %}\n`,
  dispatching("any_value", "expression"),
  `{% macro default__any_value(expression) %}min({{ expression }}){% endmacro %}\n`,
  dispatching("bool_or", "expression"),
  `{% macro default__bool_or(expression) %}bool_or({{ expression }}){% endmacro %}\n`,
  dispatching("current_timestamp", ""),
  `{% macro default__current_timestamp() %}now(){% endmacro %}\n`,
  dispatching("string_literal", "value"),
  `{% macro default__string_literal(value) %}'{{ value }}'{% endmacro %}\n`,
  dispatching("escape_single_quotes", "expression"),
  `{% macro default__escape_single_quotes(expression) %}{{ expression | replace("'", "''") }}{% endmacro %}\n`,
  dispatching("position", "substring_text, string_text"),
  `{% macro default__position(substring_text, string_text) %}position({{ substring_text }} in {{ string_text }}){% endmacro %}\n`,
  dispatching("replace", "field, old_chars, new_chars"),
  `{% macro default__replace(field, old_chars, new_chars) %}replace({{ field }}, {{ old_chars }}, {{ new_chars }}){% endmacro %}\n`,
  dispatching("right", "string_text, length_expression"),
  `{% macro default__right(string_text, length_expression) %}right({{ string_text }}, {{ length_expression }}){% endmacro %}\n`,
  dispatching("length", "expression"),
  `{% macro default__length(expression) %}length({{ expression }}){% endmacro %}\n`,
  dispatching("except", ""),
  `{% macro default__except() %}except{% endmacro %}\n`,
  dispatching("intersect", ""),
  `{% macro default__intersect() %}intersect{% endmacro %}\n`,
  dispatching("cast_bool_to_text", "field"),
  `{% macro default__cast_bool_to_text(field) %}cast({{ field }} as {{ dbt.type_string() }}){% endmacro %}\n`,
  dispatching("array_construct", "inputs=[], data_type=none", "inputs, data_type"),
  `{% macro default__array_construct(inputs, data_type) %}{% if inputs %}array[ {{ inputs | join(' , ') }} ]{% else %}array[]::{{ data_type or 'integer' }}[]{% endif %}{% endmacro %}\n`,
  dispatching("array_append", "array, new_element"),
  `{% macro default__array_append(array, new_element) %}array_append({{ array }}, {{ new_element }}){% endmacro %}\n`,
  dispatching("array_concat", "array_1, array_2"),
  `{% macro default__array_concat(array_1, array_2) %}array_cat({{ array_1 }}, {{ array_2 }}){% endmacro %}\n`,
  dispatching("current_timestamp_backcompat", ""),
  `{% macro default__current_timestamp_backcompat() %}current_timestamp::timestamp{% endmacro %}\n`,
  dispatching("current_timestamp_in_utc_backcompat", ""),
  `{% macro default__current_timestamp_in_utc_backcompat() %}(current_timestamp at time zone 'utc')::timestamp{% endmacro %}\n`,
  dispatching("snapshot_get_time", ""),
  `{% macro default__snapshot_get_time() %}{{ dbt.current_timestamp() }}{% endmacro %}\n`,
  // The columns a query returns, asked of the warehouse (audit_helper and codegen call it):
  // joined to one row so a query with no rows still names its columns.
  dispatching("get_columns_in_query", "select_sql"),
  `{% macro default__get_columns_in_query(select_sql) -%}
{%- call statement('get_columns_in_query', fetch_result=True, auto_begin=False) -%}
select __dbt_sbq.* from (select 1 as __dbt_one) as __dbt_one left join (
{{ select_sql }}
) as __dbt_sbq on true limit 1
{%- endcall -%}
{%- set answer = load_result('get_columns_in_query') -%}
{{ return(answer['table'].column_names if answer else []) }}
{%- endmacro %}\n`,
  dispatching("date", "year, month, day"),
  `{% macro default__date(year, month, day) %}to_date('{{ year }}-{{ "%02d" | format(month) }}-{{ "%02d" | format(day) }}', 'YYYY-MM-DD'){% endmacro %}\n`,
  `{% macro generate_series(upper_bound) %}{{ return(adapter.dispatch('generate_series', 'dbt')(upper_bound)) }}{% endmacro %}\n`,
  `{% macro default__generate_series(upper_bound) %}select generated_number from generate_series(1, {{ upper_bound }}) as generated_number{% endmacro %}\n`,
  // dbt's date spine (dbt_date and dbt_utils call dbt.date_spine): the number of periods
  // between the bounds, asked of the warehouse, then one row a period from the start.
  dispatching("get_powers_of_two", "upper_bound"),
  `{% macro default__get_powers_of_two(upper_bound) -%}
{%- if upper_bound <= 0 -%}{{ exceptions.raise_compiler_error("get_powers_of_two: upper bound must be positive, got " ~ upper_bound) }}{%- endif -%}
{%- for n in range(1, 64) -%}{%- if upper_bound <= 2 ** n -%}{{ return(n) }}{%- endif -%}{%- endfor -%}
{{ return(64) }}
{%- endmacro %}\n`,
  dispatching("get_intervals_between", "start_date, end_date, datepart"),
  `{% macro default__get_intervals_between(start_date, end_date, datepart) -%}
{%- call statement('get_intervals_between', fetch_result=True) -%}
select {{ dbt.datediff(start_date, end_date, datepart) }}
{%- endcall -%}
{%- set answer = load_result('get_intervals_between') -%}
{%- if answer and answer['data'] -%}{{ return(answer['data'][0][0] | int) }}{%- endif -%}
{{ return(1) }}
{%- endmacro %}\n`,
  dispatching("date_spine", "datepart, start_date, end_date"),
  `{% macro default__date_spine(datepart, start_date, end_date) %}
with rawdata as (
{{ dbt.generate_series(dbt.get_intervals_between(start_date, end_date, datepart)) }}
),
all_periods as (
select ({{ dbt.dateadd(datepart, "row_number() over (order by generated_number) - 1", start_date) }}) as date_{{ datepart }}
from rawdata
),
filtered as (
select * from all_periods where date_{{ datepart }} <= {{ end_date }}
)
select * from filtered
{% endmacro %}\n`,
  // Helpers of dbt's materializations that package macros and generic tests call.
  `{% macro should_store_failures() -%}
{%- set configured = config.get('store_failures') -%}
{{ return(flags.STORE_FAILURES if configured is none else configured) }}
{%- endmacro %}\n`,
  `{% macro set_sql_header(config) -%}{{ config.set('sql_header', caller()) }}{%- endmacro %}\n`,
  `{% macro should_full_refresh() -%}
{%- set configured = config.get('full_refresh') -%}
{{ return(flags.FULL_REFRESH if configured is none else configured) }}
{%- endmacro %}\n`,
  `{% macro get_where_subquery(relation) -%}
{%- set where = config.get('where') -%}
{%- if where -%}{{ return('(select * from ' ~ relation ~ ' where ' ~ where ~ ') dbt_subquery') }}
{%- else -%}{{ return(relation) }}{%- endif -%}
{%- endmacro %}\n`,
  // Naming macros a project may override (dbt's defaults).
  `{% macro load_relation(relation) -%}
{{ return(adapter.get_relation(relation.database, relation.schema, relation.identifier)) }}
{%- endmacro %}\n`,
  `{% macro generate_schema_name(custom_schema_name, node) -%}
{%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ target.schema }}_{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}\n`,
  `{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
{%- if custom_alias_name -%}{{ custom_alias_name | trim }}{%- else -%}{{ node.name }}{%- endif -%}
{%- endmacro %}\n`,
  `{% macro generate_database_name(custom_database_name=none, node=none) -%}
{%- if custom_database_name is none -%}{{ target.database }}{%- else -%}{{ custom_database_name | trim }}{%- endif -%}
{%- endmacro %}\n`,
  // Column names quoted and comma-separated (custom incremental strategies build their column
  // lists with it).
  `{% macro get_quoted_csv(column_names) -%}
{%- set names = [] -%}{%- for name in column_names -%}{%- do names.append(adapter.quote(name)) -%}{%- endfor -%}
{{- return(names | join(', ')) -}}
{%- endmacro %}\n`,
  // A statement a materialization reports without running it: its result is stored under the
  // name for load_result, as a statement's would be.
  `{% macro noop_statement(name=none, message=none, code=none, rows_affected=none, res=none) -%}
{%- set _sql = caller() -%}
{%- if name is not none -%}{{ store_raw_result(name, message=message, code=code, rows_affected=rows_affected, agate_table=res) }}{%- endif -%}
{%- endmacro %}\n`,
].join("");
