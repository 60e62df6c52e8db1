/**
 * The run store's tables on Postgres: created when missing, and migrated when
 * an older version made them. Kept apart from the queries (`postgres.ts`),
 * as Kysely keeps its migrator apart from its drivers.
 *
 * Migrations so far: time columns made as `BIGINT` epoch milliseconds become
 * `timestamptz`; the run owner, heartbeat and cancel-request columns are
 * added to `pipeline_runs` made before runs had owners.
 *
 * Every change runs under one advisory lock ({@linkcode DDL_LOCK}), so
 * processes opening the store at once create and migrate it once.
 *
 * @module
 */

import type postgres from "postgres";
import { ResourceError } from "../../core/errors.ts";
import { isConnectionFailure, type PostgresConnection, serverMessage } from "../_postgres.ts";
import {
  addedColumnType,
  RUN_STORE_ADDED_COLUMNS,
  RUN_STORE_TABLE_NAMES,
  RUN_STORE_TIME_COLUMNS,
  runIndexBackfill,
  runStoreDdl,
} from "./_schema.ts";

/** Serializes `CREATE ... IF NOT EXISTS` and migrations of processes opening the store at once. */
export const DDL_LOCK = 0x72756e64; // "rund"

/**
 * Makes the run store's tables in `schema` ready: creates what is missing
 * and migrates what an older version made. Tables made beforehand (e.g. by a
 * DBA for a role that may not create schemas) are used as they are: `CREATE
 * SCHEMA IF NOT EXISTS` checks the privilege before it checks whether the
 * schema exists, so it is only run when a table is missing.
 *
 * @throws {ResourceError} `run_store.schema_outdated` when a migration is
 * needed but the role may not run it (the message lists the statements).
 */
export async function prepareSchema(db: PostgresConnection, schema: string): Promise<void> {
  const found = await inspect(db.sql, schema);
  if (found.tables === 0) {
    await db.sql.begin(async (tx) => {
      await tx.unsafe(`SELECT pg_advisory_xact_lock(${DDL_LOCK})`);
      for (const statement of runStoreDdl("postgres", schema)) await tx.unsafe(statement);
    });
    return;
  }
  if (found.millisecondColumns.length > 0) {
    await migrate(db, schema);
  }
  if (found.missingColumns.length > 0) await addColumns(db, schema);
  if (found.tables !== RUN_STORE_TABLE_NAMES.length) await addTables(db, schema);
}

/**
 * Creates the tables (and indexes) a newer version brought to a store made
 * before it, and indexes the runs already there for the run list (see
 * {@linkcode alter}). The schema exists, so it is not created: a role that
 * owns the tables but may not create schemas can still upgrade.
 */
function addTables(db: PostgresConnection, schema: string): Promise<void> {
  return alter(
    db,
    schema,
    async (tx) => {
      const { names } = await inspect(tx, schema);
      if (names.size === RUN_STORE_TABLE_NAMES.length) return [];
      const create = runStoreDdl("postgres", schema).filter((s) => !s.startsWith("CREATE SCHEMA"));
      // Runs recorded before the run list had its tag and asset index are indexed once.
      const indexed = names.has("run_tags") && names.has("run_assets");
      return indexed ? create : [...create, ...runIndexBackfill("postgres", schema)];
    },
    "Cannot upgrade the run store at ${where}: its tables were made by an older version " +
      "without the run index and the automation tables, but ${why}",
  );
}

/** The statements adding the columns `missing` (`table.column`) of `schema`, and their index. */
export function addColumnStatements(schema: string, missing: readonly string[]): string[] {
  const statements = Object.entries(RUN_STORE_ADDED_COLUMNS).flatMap(([table, columns]) => {
    const adds = columns.filter(([column]) => missing.includes(`${table}.${column}`))
      .map(([column, type]) =>
        `ADD COLUMN IF NOT EXISTS ${column} ${addedColumnType("postgres", type)}`
      );
    return adds.length ? [`ALTER TABLE ${schema}.${table} ${adds.join(", ")}`] : [];
  });
  return statements.length === 0 ? [] : [
    ...statements,
    `CREATE INDEX IF NOT EXISTS pipeline_runs_status ON ${schema}.pipeline_runs (status)`,
  ];
}

/**
 * Adds the columns an older version did not make (see {@linkcode alter}).
 */
function addColumns(db: PostgresConnection, schema: string): Promise<void> {
  return alter(
    db,
    schema,
    async (tx) => addColumnStatements(schema, (await inspect(tx, schema)).missingColumns),
    "Cannot upgrade the run store at ${where}: its tables were made by an older version " +
      "without run owners and heartbeats, but ${why}",
  );
}

/**
 * Runs the statements `plan` gives, in one transaction under the DDL lock:
 * processes opening at once change the tables once (`plan` reads what is
 * still to do after the lock is held). A role that may not alter the tables
 * gets `run_store.schema_outdated`: `explain` (with `${where}` and `${why}`)
 * followed by the statements to run as their owner.
 */
async function alter(
  db: PostgresConnection,
  schema: string,
  plan: (tx: postgres.TransactionSql) => Promise<string[]>,
  explain: string,
): Promise<void> {
  let statements: string[] = [];
  try {
    await db.sql.begin(async (tx) => {
      await tx.unsafe(`SELECT pg_advisory_xact_lock(${DDL_LOCK})`);
      statements = await plan(tx);
      for (const statement of statements) await tx.unsafe(statement);
    });
  } catch (error) {
    if (isConnectionFailure(error)) throw error;
    const message = explain.replace("${where}", `${db.location} in schema '${schema}'`)
      .replace("${why}", serverMessage(error));
    throw new ResourceError(
      "run_store.schema_outdated",
      `${message}. Run as the owner of the tables: ${statements.join("; ")}`,
      { input: db.location, cause: error },
    );
  }
}

/** SQL turning epoch milliseconds (`param`, a parameter or column) into `timestamptz`. */
export function toTime(param: string): string {
  // float8 division then to_timestamp's rounding to microseconds is exact
  // for whole milliseconds across the timestamptz range.
  return `to_timestamp(${param}::float8 / 1000)`;
}

/** What {@linkcode inspect} found of the run store tables in a schema. */
interface Found {
  /** How many of the run store tables exist. */
  tables: number;
  /** Which of them exist. */
  names: ReadonlySet<string>;
  /** `table.column` time columns still holding `BIGINT` milliseconds. */
  millisecondColumns: string[];
  /** `table.column` of {@linkcode RUN_STORE_ADDED_COLUMNS} missing from tables that exist. */
  missingColumns: string[];
}

/** Which run store tables exist in `schema`, and which time columns are still `BIGINT`. */
export async function inspect(
  sql: postgres.Sql | postgres.TransactionSql,
  schema: string,
): Promise<Found> {
  const rows = await sql.unsafe(
    `SELECT c.relname AS table_name, a.attname AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
     WHERE n.nspname = $1 AND c.relkind IN ('r', 'p') AND c.relname = ANY($2::text[])`,
    [schema, RUN_STORE_TABLE_NAMES],
  );
  const present = new Set(rows.map((row) => `${row.table_name}.${row.column_name}`));
  const tables = new Set(rows.map((row) => String(row.table_name)));
  return {
    tables: tables.size,
    names: tables,
    missingColumns: Object.entries(RUN_STORE_ADDED_COLUMNS).flatMap(([table, columns]) =>
      tables.has(table)
        ? columns.map(([column]) => `${table}.${column}`).filter((name) => !present.has(name))
        : []
    ),
    millisecondColumns: rows
      .filter((row) =>
        row.type === "bigint" &&
        (RUN_STORE_TIME_COLUMNS[String(row.table_name)] ?? []).includes(String(row.column_name))
      )
      .map((row) => `${row.table_name}.${row.column_name}`),
  };
}

/**
 * The statements turning the `BIGINT` millisecond columns of `schema` into
 * `timestamptz`, one per table that has any.
 */
export function migrationStatements(schema: string, columns: readonly string[]): string[] {
  const byTable = new Map<string, string[]>();
  for (const qualified of columns) {
    const [table = "", column = ""] = qualified.split(".");
    byTable.set(table, [...(byTable.get(table) ?? []), column]);
  }
  return [...byTable].map(([table, cols]) =>
    `ALTER TABLE ${schema}.${table} ` +
    cols.map((col) => `ALTER COLUMN ${col} TYPE timestamptz USING ${toTime(col)}`).join(", ")
  );
}

/**
 * Migrates time columns made as `BIGINT` milliseconds (before they were
 * `timestamptz`), see {@linkcode alter}.
 */
function migrate(db: PostgresConnection, schema: string): Promise<void> {
  return alter(
    db,
    schema,
    async (tx) => {
      // Another process may have migrated while this one waited for the lock.
      const { millisecondColumns } = await inspect(tx, schema);
      return migrationStatements(schema, millisecondColumns);
    },
    "Cannot migrate the run store at ${where}: its time columns are BIGINT milliseconds " +
      "(made by an older version) and must become timestamptz, but ${why}",
  );
}
