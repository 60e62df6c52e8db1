/**
 * The adapter seam of the dbt runner: what differs between warehouses when
 * building nodes, and nothing else. The runner's materialisations
 * (`execute/`) say *what* to build; an adapter says how its warehouse
 * spells the catalog lookups, temporary tables, type names, seed loading
 * and grants, and which `<type>__` macros it adds to the `dbt` package
 * (dbt-core's adapter plugins, in the small).
 *
 * @module
 */

import type { WarehouseSession } from "../../warehouse/types.ts";
import type { Relation } from "../relation.ts";

/** What a relation is, as far as a rebuild cares. */
export type RelationKind = "table" | "view" | "other";

/** A column and its type as the warehouse prints it. */
export interface ColumnType {
  /** Column name. */
  readonly name: string;
  /** Type as the warehouse prints it. */
  readonly type: string;
}

/** One seed column: its name, how it is written in DDL, and its type. */
export interface SeedColumn {
  /** Name as in the CSV header. */
  readonly name: string;
  /** The name as it goes into DDL (quoted when needed or asked). */
  readonly sql: string;
  /** SQL type (from `column_types`, else inferred). */
  readonly type: string;
}

/** A seed to load into a table the adapter creates. */
export interface SeedLoad {
  /** The table, dropped and created anew unless `keepTable`. */
  readonly relation: Relation;
  /** The table exists with exactly these columns: empty it instead (views over it stay). */
  readonly keepTable: boolean;
  /** The CSV file. */
  readonly csvPath: string;
  /** Its field delimiter. */
  readonly delimiter: string;
  /** Its columns in file order. */
  readonly columns: readonly SeedColumn[];
  /** Its rows as parsed (empty fields already null), for adapters that load values. */
  readonly rows: readonly (readonly (string | null)[])[];
  /**
   * How many of them were blank lines (rows of nulls, as dbt's agate reads
   * them), for adapters whose file reader skips blank lines.
   */
  readonly blankLines: number;
}

/** How one warehouse type builds dbt nodes. */
export interface DbtAdapter {
  /** The adapter type, as in `profiles.yml` and `adapter.dispatch` prefixes. */
  readonly type: "postgres" | "duckdb";
  /** Jinja source of the adapter's `<type>__x` macros, loaded into the `dbt` package. */
  readonly macros: string;
  /** Which of `names` exist in `schema`, and as what. */
  relationKinds(
    session: WarehouseSession,
    schema: string,
    names: readonly string[],
  ): Promise<Map<string, RelationKind>>;
  /**
   * How to make temporary table `name` (an already quoted identifier) from a
   * query inside a transaction: `prefix + sql + ")"`, and the statement that
   * drops it before the transaction ends, when it does not go by itself.
   */
  tempTable(name: string): { readonly prefix: string; readonly drop: string | undefined };
  /** Columns of temporary table `name` (unquoted), in order. */
  tempColumns(session: WarehouseSession, name: string): Promise<ColumnType[]>;
  /** Columns `sql` would return, in order, without running it. */
  queryColumns(session: WarehouseSession, sql: string): Promise<ColumnType[]>;
  /** A type name in one canonical spelling, to compare declared and actual types. */
  normalType(type: string): string;
  /** The warehouse type for a seed column whose values look like `inferred`. */
  seedType(inferred: string): string;
  /** Drops and creates the seed's table and loads the file; returns rows loaded. */
  loadSeed(tx: WarehouseSession, load: SeedLoad): Promise<number>;
  /** Grants `privilege` on `relation` to `grantee`, or refuses when the warehouse has no grants. */
  grant(
    session: WarehouseSession,
    privilege: string,
    relation: Relation,
    grantee: string,
  ): Promise<void>;
}
