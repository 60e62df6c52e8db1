/**
 * What a render asks the warehouse (`run_query`, `statement`) and gets back.
 * A leaf module: the Jinja environment and the node types both read it.
 *
 * @module
 */

/** Runs SQL during a render (`run_query`, `statement`); returns column names and rows. */
export type QueryRunner = (sql: string) => Promise<QueryResult>;

/** What `run_query` returns, before it becomes an agate-like table. */
export interface QueryResult {
  /** Column names. */
  readonly columns: readonly string[];
  /** Rows, one value per column. */
  readonly rows: readonly (readonly unknown[])[];
  /** Per column, whether its values are exact decimals given as strings (`numeric`). */
  readonly decimals?: readonly boolean[];
  /** Per column, its date or time type (`date`, `timestamp`, `timestamptz`), else null. */
  readonly temporal?: readonly ("date" | "timestamp" | "timestamptz" | null)[];
}
