/**
 * The `adapter` methods that change or list the warehouse's relations and
 * schemas (`drop_relation`, `rename_relation`, `truncate_relation`,
 * `create_schema`, `drop_schema`, `list_relations_without_caching`,
 * `list_schemas`, `check_schema_exists`, `expand_target_column_types`), as
 * dbt-adapters' SQL adapter
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
import type { JinjaColumn } from "./columns.ts";

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
  /** The columns of a relation in the warehouse (`adapter.get_columns_in_relation`). */
  columns(relation: unknown): readonly JinjaColumn[];
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

// dbt's parameter names: macros pass them as keywords too (dbt's snapshot materialization calls
// `adapter.expand_target_column_types(from_relation=..., to_relation=...)`).
const PARAMETERS: Readonly<Record<string, readonly string[]>> = {
  drop_relation: ["relation"],
  truncate_relation: ["relation"],
  rename_relation: ["from_relation", "to_relation"],
  alter_column_type: ["relation", "column_name", "new_column_type"],
  create_schema: ["relation"],
  drop_schema: ["relation"],
  list_schemas: ["database"],
  check_schema_exists: ["database", "schema"],
  list_relations_without_caching: ["schema_relation"],
  expand_target_column_types: ["from_relation", "to_relation"],
};

/** A call's arguments in `method`'s order, keyword ones (nunjucks' last object) put in place. */
function inOrder(method: string, args: readonly unknown[]): unknown[] {
  const last = args.at(-1) as { __keywords?: unknown } | undefined;
  if (typeof last !== "object" || last === null || last.__keywords !== true) return [...args];
  const given = args.slice(0, -1);
  const kwargs = last as Record<string, unknown>;
  return (PARAMETERS[method] ?? []).map((name, i) => i < given.length ? given[i] : kwargs[name]);
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
    // dbt-adapters' SQLAdapter.alter_column_type: runs the macro of its name (dispatching).
    alter_column_type: (value, column, type) => {
      relationOf(value, "alter_column_type");
      if (typeof column !== "string" || typeof type !== "string") {
        calls.fail("adapter.alter_column_type() needs a relation, a column name and a type");
      }
      return run("alter_column_type", [value, column, type]);
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
    // dbt-adapters' expand_column_types: a string column of the target narrower than the same
    // column of the source is widened to its size (snapshots and insert-by-period
    // materializations call it before inserting the source's rows).
    expand_target_column_types: (from, to) => {
      relationOf(from, "expand_target_column_types");
      relationOf(to, "expand_target_column_types");
      const current = new Map(calls.columns(to).map((column) => [column.name, column]));
      for (const goal of calls.columns(from)) {
        const target = current.get(goal.name);
        if (target?.can_expand_to(goal)) {
          const type = target.string_type(goal.string_size());
          calls.macro("alter_column_type", [to, goal.name, type]);
        }
      }
      return "";
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
        : (...args: unknown[]) => calls.executing() ? fn(...inOrder(name, args)) : idle[name] ?? "",
    ]),
  );
}
