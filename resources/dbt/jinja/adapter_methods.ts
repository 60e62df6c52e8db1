/**
 * The `adapter` methods that change or list the warehouse's relations and
 * schemas (`drop_relation`, `rename_relation`, `truncate_relation`,
 * `create_schema`, `drop_schema`, `list_relations_without_caching`,
 * `list_schemas`, `check_schema_exists`), as dbt-adapters' SQL adapter
 * gives them to macros: cleanup macros, run-operations and custom
 * materializations of real packages call them.
 *
 * Each one is a statement the render asks for through the query replay
 * (`run_query`): at parse time it does nothing, at run time it runs once.
 * The statements are those of dbt-postgres and dbt-duckdb's macros for the
 * same method (`drop <type> if exists ... cascade`, `alter ... rename to`).
 *
 * @module
 */

import { Relation } from "../relation.ts";

/** What a method needs from the render it runs in. */
export interface AdapterCalls {
  /** Whether the render runs against the warehouse (`execute`); at parse time methods do nothing. */
  executing(): boolean;
  /** Runs `sql` through the query replay: its rows, or null when the render cannot query. */
  query(sql: string): { readonly rows: readonly (readonly unknown[])[] } | null;
  /** The target's type (`postgres`, `duckdb`), which picks the SQL spelling. */
  targetType(): string | undefined;
  /** The target's database, for the relations `list_relations_without_caching` returns. */
  database(): string;
  /** Quotes an identifier as the adapter does. */
  quote(name: string): string;
  /** Stops the render with `message` (dbt raises a compilation or runtime error there). */
  fail(message: string): never;
}

/** A Jinja argument that should be a relation: its names and type. */
interface RelationLike {
  readonly database?: unknown;
  readonly schema?: unknown;
  readonly identifier?: unknown;
  readonly type?: unknown;
}

const literal = (text: string) => `'${text.replaceAll("'", "''")}'`;

/** dbt's relation types as information_schema spells them. */
function relationType(tableType: string): string {
  const upper = tableType.toUpperCase();
  if (upper === "VIEW") return "view";
  if (upper === "MATERIALIZED VIEW") return "materialized_view";
  return "table";
}

/** The adapter methods of {@linkcode AdapterCalls}'s render, by their dbt names. */
export function adapterWarehouseMethods(
  calls: AdapterCalls,
): Record<string, (...args: unknown[]) => unknown> {
  const relationOf = (value: unknown, method: string): RelationLike => {
    if (typeof value !== "object" || value === null || !("schema" in value)) {
      calls.fail(`adapter.${method}() needs a relation (api.Relation.create(...), ref(), ...)`);
    }
    return value as RelationLike;
  };
  const schemaOf = (value: unknown, method: string): string => {
    const schema = relationOf(value, method).schema;
    if (typeof schema !== "string" || schema === "") {
      calls.fail(`adapter.${method}() needs a relation with a schema`);
    }
    return schema;
  };
  const run = (sql: string) => {
    calls.query(sql);
    return "";
  };
  const schemaNames = () => {
    const rows = calls.query(
      "select schema_name from information_schema.schemata" +
        (calls.targetType() === "duckdb" ? " where catalog_name = current_database()" : ""),
    )?.rows ?? [];
    return rows.map((row) => String(row[0]));
  };
  const methods: Record<string, (...args: unknown[]) => unknown> = {
    drop_relation: (value) => {
      const relation = relationOf(value, "drop_relation");
      if (relation.type === null || relation.type === undefined) {
        calls.fail(`Tried to drop relation ${String(value)}, but its type is null.`);
      }
      const kind = relation.type === "view"
        ? "view"
        : relation.type === "materialized_view"
        ? "materialized view"
        : "table";
      return run(`drop ${kind} if exists ${String(value)} cascade`);
    },
    truncate_relation: (value) => {
      relationOf(value, "truncate_relation");
      return run(`truncate table ${String(value)}`);
    },
    rename_relation: (from, to) => {
      const source = relationOf(from, "rename_relation");
      const target = relationOf(to, "rename_relation");
      if (typeof target.identifier !== "string" || target.identifier === "") {
        calls.fail("adapter.rename_relation() needs a target relation with an identifier");
      }
      // Postgres renames a view with `alter table`; DuckDB needs `alter view` for one.
      const kind = calls.targetType() === "duckdb" && (source.type ?? target.type) === "view"
        ? "view"
        : "table";
      return run(`alter ${kind} ${String(from)} rename to ${calls.quote(target.identifier)}`);
    },
    create_schema: (value) =>
      run(`create schema if not exists ${calls.quote(schemaOf(value, "create_schema"))}`),
    drop_schema: (value) =>
      run(`drop schema if exists ${calls.quote(schemaOf(value, "drop_schema"))} cascade`),
    list_schemas: () => schemaNames(),
    check_schema_exists: (_database, schema) =>
      schemaNames().some((name) => name.toLowerCase() === String(schema).toLowerCase()),
    list_relations_without_caching: (value) => {
      const schema = schemaOf(value, "list_relations_without_caching");
      const database = typeof (value as RelationLike).database === "string" &&
          (value as RelationLike).database !== ""
        ? String((value as RelationLike).database)
        : calls.database();
      const duckdb = calls.targetType() === "duckdb";
      // dbt-postgres matches the schema with ilike; materialized views are not in information_schema.
      const sql = "select table_schema, table_name, table_type from information_schema.tables " +
        `where lower(table_schema) = lower(${literal(schema)})` +
        (duckdb
          ? " and table_catalog = current_database()"
          : " and table_type in ('BASE TABLE', 'VIEW') union all select schemaname, " +
            "matviewname, 'MATERIALIZED VIEW' from pg_catalog.pg_matviews " +
            `where lower(schemaname) = lower(${literal(schema)})`) +
        " order by 2";
      return (calls.query(sql)?.rows ?? []).map(([schemaName, name, type]) => {
        const relation = new Relation(database, String(schemaName), String(name));
        relation.type = relationType(String(type));
        return relation;
      });
    },
    // dbt's relation cache and transaction calls: this runner keeps no cache and runs each
    // statement on its own, so materializations that call them go on as in dbt.
    commit: () => "",
    begin: () => "",
    cache_added: () => "",
    cache_dropped: () => "",
    cache_renamed: () => "",
    quote_as_configured: (identifier) => calls.quote(String(identifier)),
  };
  // At parse time relations looked up in the warehouse are none: a call made with one must not
  // fail the parse (dbt parses such macros without running them).
  const idle: Record<string, unknown> = {
    list_schemas: [],
    list_relations_without_caching: [],
    check_schema_exists: false,
  };
  const pure = new Set(["quote_as_configured"]);
  return Object.fromEntries(
    Object.entries(methods).map(([name, fn]) => [
      name,
      pure.has(name)
        ? fn
        : (...args: unknown[]) => calls.executing() ? fn(...args) : idle[name] ?? "",
    ]),
  );
}
