/**
 * The global project's macros that custom `{% materialization %}` blocks
 * call (dbt's materialization helpers): relations to build into
 * (`make_temp_relation`, `make_intermediate_relation`,
 * `make_backup_relation`, `load_cached_relation`), the DDL they run
 * (`get_create_table_as_sql`, `create_table_as`, `get_create_view_as_sql`,
 * `create_view_as`, `drop_relation_if_exists`...), and `run_hooks`; those
 * behind the adapter's own methods (`drop_relation`...) are in
 * `adapter_macros.ts`. Written from dbt's documented behaviour of each macro; loaded
 * with the global project's other macros, as one template.
 *
 * `persist_docs`, `apply_grants` and `create_indexes` render nothing here:
 * the runner persists docs and applies `grants:` itself after a
 * materialization (every built-in one calls them last), and refuses
 * `indexes:` by name at parse time.
 *
 * @module
 */

/** Jinja source of the helpers. */
export const MATERIALIZATION_MACROS = `
{% macro run_hooks(hooks, inside_transaction=True) -%}
{%- for hook in (hooks or []) -%}
{%- set rendered = hook.get('sql') | trim -%}
{%- if hook.get('transaction', True) == inside_transaction and rendered | length > 0 -%}
{%- do run_query(rendered) -%}
{%- endif -%}
{%- endfor -%}
{%- endmacro %}
{% macro load_cached_relation(relation) -%}
{{ return(adapter.get_relation(relation.database, relation.schema, relation.identifier)) }}
{%- endmacro %}
{# A temporary table lives in the session's own schema: its name alone (dbt-postgres, dbt-duckdb). #}
{% macro make_temp_relation(base_relation, suffix='__dbt_tmp') -%}
{%- set temp = base_relation.incorporate(path={'identifier': base_relation.identifier ~ suffix}) -%}
{{ return(temp.include(database=false, schema=false)) }}
{%- endmacro %}
{% macro make_intermediate_relation(base_relation, suffix='__dbt_tmp') -%}
{{ return(base_relation.incorporate(path={'identifier': base_relation.identifier ~ suffix})) }}
{%- endmacro %}
{% macro make_backup_relation(base_relation, backup_relation_type, suffix='__dbt_backup') -%}
{{ return(base_relation.incorporate(path={'identifier': base_relation.identifier ~ suffix}, type=backup_relation_type)) }}
{%- endmacro %}
{% macro get_create_table_as_sql(temporary, relation, sql) -%}
create {% if temporary %}temporary {% endif %}table {{ relation }} as (
{{ sql }}
)
{%- endmacro %}
{% macro create_table_as(temporary, relation, compiled_code, language='sql') -%}
{{ get_create_table_as_sql(temporary, relation, compiled_code) }}
{%- endmacro %}
{% macro get_create_view_as_sql(relation, sql) -%}
create view {{ relation }} as (
{{ sql }}
)
{%- endmacro %}
{% macro create_view_as(relation, sql) -%}{{ get_create_view_as_sql(relation, sql) }}{%- endmacro %}
{% macro drop_relation_if_exists(relation) -%}
{%- if relation is not none -%}{{ adapter.drop_relation(relation) }}{%- endif -%}
{%- endmacro %}
{% macro should_revoke(existing_relation, full_refresh_mode=True) -%}
{{ return(existing_relation is not none and not full_refresh_mode) }}
{%- endmacro %}
{% macro persist_docs(relation, model, for_relation=true, for_columns=true) -%}{%- endmacro %}
{% macro apply_grants(relation, grant_config, should_revoke=true) -%}{%- endmacro %}
{% macro create_indexes(relation) -%}{%- endmacro %}
`;
