/**
 * The part of a session both backends share: schema helpers written once in
 * SQL on top of each backend's `query`/`execute`.
 *
 * @module
 */

import { quoteIdent, quoteTable } from "./sql.ts";
import { WarehouseQueryError } from "./errors.ts";
import type {
  BulkRows,
  ColumnInfo,
  QueryTable,
  Row,
  SqlValue,
  TableRef,
  WarehouseSession,
} from "./types.ts";

const TABLE_EXISTS_SQL = `SELECT EXISTS (
  SELECT 1 FROM pg_catalog.pg_class c
  JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
) AS found`;

const COLUMNS_SQL = `SELECT a.attname AS name,
  pg_catalog.format_type(a.atttypid, a.atttypmod) AS type,
  NOT a.attnotnull AS nullable
FROM pg_catalog.pg_attribute a
JOIN pg_catalog.pg_class c ON c.oid = a.attrelid
JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`;

/** Base of every session: subclasses supply the four driver-specific operations. */
export abstract class SessionBase implements WarehouseSession {
  /** Both backends speak PostgreSQL. */
  readonly dialect = "postgres" as const;

  /** See {@linkcode WarehouseSession.query}. */
  abstract query<T extends object = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** See {@linkcode WarehouseSession.queryTable}. */
  abstract queryTable(sql: string, params?: readonly SqlValue[]): Promise<QueryTable>;
  /** See {@linkcode WarehouseSession.execute}. */
  abstract execute(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** See {@linkcode WarehouseSession.exec}. */
  abstract exec(script: string): Promise<void>;
  /** See {@linkcode WarehouseSession.bulkLoad}. */
  abstract bulkLoad(table: TableRef, columns: readonly string[], rows: BulkRows): Promise<number>;

  /** See {@linkcode WarehouseSession.ensureSchema}. */
  async ensureSchema(name: string): Promise<void> {
    try {
      await this.execute(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(name)}`);
    } catch (error) {
      // Two sessions creating one new schema at once (dbt builds a schema's seeds and models in
      // parallel): PostgreSQL's IF NOT EXISTS looks before it inserts, so the later one fails on
      // the catalog's unique index (23505, or 42P06). The schema is there: that is success.
      if (
        !(error instanceof WarehouseQueryError) ||
        (error.sqlState !== "23505" && error.sqlState !== "42P06")
      ) throw error;
      const found = await this.query<{ found: boolean }>(
        "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1) AS found",
        [name],
      ).catch(() => undefined); // in a transaction the failure aborted it: report the failure
      if (found?.[0]?.found !== true) throw error;
    }
  }

  /** See {@linkcode WarehouseSession.tableExists}. */
  async tableExists(schema: string, table: string): Promise<boolean> {
    quoteTable({ schema, name: table }); // a name that could never be created is a caller bug
    const rows = await this.query<{ found: boolean }>(TABLE_EXISTS_SQL, [schema, table]);
    return rows[0]?.found === true;
  }

  /** See {@linkcode WarehouseSession.columns}. */
  async columns(schema: string, table: string): Promise<ColumnInfo[]> {
    quoteTable({ schema, name: table });
    return await this.query<ColumnInfo>(COLUMNS_SQL, [schema, table]);
  }
}

/** `COPY "s"."t" ("a", "b") FROM <source>`, every name validated. */
export function copyStatement(table: TableRef, columns: readonly string[], source: string): string {
  if (columns.length === 0) throw new RangeError("Cannot bulk load: no columns given");
  return `COPY ${quoteTable(table)} (${columns.map(quoteIdent).join(", ")}) FROM ${source}`;
}
