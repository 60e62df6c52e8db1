/**
 * `<database>.information_schema.<view>` on DuckDB. Macros written for
 * Postgres and Snowflake qualify the catalog views with the database
 * (dbt_utils.get_tables_by_pattern_sql reads
 * `{{ database }}.information_schema.tables`), but DuckDB keeps
 * information_schema in its `system` catalog only, and refuses the name
 * ("schema information_schema does not exist"). The view is read from
 * there, kept to that database's rows: the same answer the qualified name
 * gives on Postgres.
 *
 * @module
 */

import { NOT_ALIAS_WORDS } from "../_sql_words.ts";

/** The column naming a row's database, by view; views not listed use `table_catalog`. */
const CATALOG_COLUMN: Readonly<Record<string, string | null>> = {
  schemata: "catalog_name",
  check_constraints: "constraint_catalog",
  referential_constraints: "constraint_catalog",
  character_sets: null,
};

/** DuckDB's own catalogs, where `information_schema` does resolve. */
const BUILT_IN = new Set(["system", "temp"]);

const QUALIFIED =
  /'(?:[^']|'')*'|("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s*\.\s*information_schema\s*\.\s*("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)/gi;

/**
 * `sql` with each `<database>.information_schema.<view>` read from DuckDB's
 * information_schema for that database; string literals are left alone.
 */
export function resolveInformationSchema(sql: string): string {
  if (!/information_schema/i.test(sql)) return sql;
  return sql.replace(QUALIFIED, (match, catalog: string | undefined, view: string, at: number) => {
    if (catalog === undefined) return match; // a string literal
    const database = catalog.startsWith('"') ? catalog.slice(1, -1).replaceAll('""', '"') : catalog;
    if (BUILT_IN.has(database.toLowerCase())) return match;
    const name = view.startsWith('"') ? view.slice(1, -1) : view.toLowerCase();
    const column = name in CATALOG_COLUMN ? CATALOG_COLUMN[name] : "table_catalog";
    const filter = column === null ? "" : ` where ${column} = '${database.replaceAll("'", "''")}'`;
    const next = /^\s+(?:as\s+)?("[^"]+"|[A-Za-z_][A-Za-z0-9_]*)/i.exec(
      sql.slice(at + match.length),
    );
    const aliased = next !== null && !NOT_ALIAS_WORDS.has((next[1] as string).toLowerCase());
    return `(select * from information_schema.${view}${filter})${aliased ? "" : ` as ${view}`}`;
  });
}
