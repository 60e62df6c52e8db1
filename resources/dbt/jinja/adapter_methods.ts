/**
 * The `adapter` methods that change or list the warehouse's relations and
 * schemas (`drop_relation`, `rename_relation`, `truncate_relation`,
 * `create_schema`, `drop_schema`, `list_relations_without_caching`,
 * `list_schemas`, `check_schema_exists`), as dbt-adapters' SQL adapter
 * gives them to macros: cleanup macros, run-operations and custom
 * materializations of real packages call them.
 *
 * As in dbt-adapters, each method runs the macro of its name
 * (`execute_macro`), which dispatches to `<adapter>__x` / `default__x`
 * (jinja/adapter_macros.ts): a project's `postgres__drop_relation` changes
 * what `adapter.drop_relation` does. What the method itself keeps is dbt's:
 * checking its arguments (a drop of a relation of unknown type fails) and
 * turning the macro's result table into relations, names or a yes/no.
 * At parse time the methods do nothing (the macros' statements would not run
 * there either).
 *
 * @module
 */

import { Relation } from "../relation.ts";

/** What a method needs from the render it runs in. */
export interface AdapterCalls {
  /** Whether the render runs against the warehouse (`execute`); at parse time methods do nothing. */
  executing(): boolean;
  /**
   * Runs macro `name` with `args` as dbt's `execute_macro` does (the root
   * project's macro of that name, else a package's, else the global
   * project's): what it returns.
   */
  macro(name: string, args: readonly unknown[]): unknown;
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

/** The rows of the agate table a listing macro returns (`load_result(...).table`). */
function rowsOf(table: unknown): readonly (readonly unknown[])[] {
  const rows = (table as { rows?: unknown } | null)?.rows;
  return Array.isArray(rows) ? rows as unknown[][] : [];
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
  const run = (name: string, args: readonly unknown[]) => {
    calls.macro(name, args);
    return "";
  };
  // create_schema / drop_schema act on the schema alone, as dbt-adapters passes it.
  const schemaRelation = (value: unknown, method: string): unknown => {
    schemaOf(value, method);
    const without = (value as { without_identifier?: unknown }).without_identifier;
    return typeof without === "function" ? without.call(value) : value;
  };
  const methods: Record<string, (...args: unknown[]) => unknown> = {
    drop_relation: (value) => {
      const relation = relationOf(value, "drop_relation");
      if (relation.type === null || relation.type === undefined) {
        calls.fail(`Tried to drop relation ${String(value)}, but its type is null.`);
      }
      return run("drop_relation", [value]);
    },
    truncate_relation: (value) => {
      relationOf(value, "truncate_relation");
      return run("truncate_relation", [value]);
    },
    rename_relation: (from, to) => {
      relationOf(from, "rename_relation");
      const target = relationOf(to, "rename_relation");
      if (typeof target.identifier !== "string" || target.identifier === "") {
        calls.fail("adapter.rename_relation() needs a target relation with an identifier");
      }
      return run("rename_relation", [from, to]);
    },
    create_schema: (value) => run("create_schema", [schemaRelation(value, "create_schema")]),
    drop_schema: (value) => run("drop_schema", [schemaRelation(value, "drop_schema")]),
    list_schemas: (database) =>
      rowsOf(calls.macro("list_schemas", [database ?? calls.database()])).map((row) =>
        String(row[0])
      ),
    check_schema_exists: (database, schema) => {
      const db = database === undefined || database === null ? calls.database() : String(database);
      // dbt passes the database's information_schema; the macros read its `database`.
      const informationSchema = new Relation(db, String(schema), "INFORMATION_SCHEMA");
      const found = rowsOf(calls.macro("check_schema_exists", [informationSchema, schema]));
      return Number(found[0]?.[0] ?? 0) > 0;
    },
    list_relations_without_caching: (value) => {
      schemaOf(value, "list_relations_without_caching");
      const given = (value as RelationLike).database;
      const fallback = typeof given === "string" && given !== "" ? given : calls.database();
      return rowsOf(calls.macro("list_relations_without_caching", [value])).map(
        ([database, name, schemaName, type]) => {
          const db = typeof database === "string" && database !== "" ? database : fallback;
          const relation = new Relation(db, String(schemaName), String(name));
          relation.type = String(type);
          return relation;
        },
      );
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
