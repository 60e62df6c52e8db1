/**
 * Tables of the run store, in the SQL both SQLite and Postgres accept. The
 * empty string stands for "no partition" so it can sit in primary keys.
 * Times are milliseconds since the epoch (`BIGINT`), as in the records, so
 * both backends store exactly what the interface carries.
 *
 * @module
 */

/** Schema holding the run store tables on Postgres. */
export const POSTGRES_RUN_STORE_SCHEMA = "ops";

/** Names of the run store tables. */
export const RUN_STORE_TABLE_NAMES: readonly string[] = [
  "pipeline_runs",
  "run_steps",
  "run_events",
  "materializations",
  "sensor_cursors",
  "run_keys",
  "dynamic_partitions",
];

/** DDL of the run store; `{{bigint}}`, `{{serial}}` and `{{schema}}` are filled per dialect. */
export const RUN_STORE_TABLES: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS {{schema}}pipeline_runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    selection TEXT NOT NULL,
    partitions TEXT,
    tags TEXT NOT NULL,
    started_at {{bigint}} NOT NULL,
    finished_at {{bigint}},
    error_summary TEXT
  )`,
  `CREATE INDEX IF NOT EXISTS pipeline_runs_started ON {{schema}}pipeline_runs (started_at DESC)`,
  `CREATE TABLE IF NOT EXISTS {{schema}}run_steps (
    seq {{serial}},
    run_id TEXT NOT NULL,
    asset_key TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started_at {{bigint}},
    finished_at {{bigint}},
    reason TEXT,
    UNIQUE (run_id, asset_key, partition_key)
  )`,
  `CREATE TABLE IF NOT EXISTS {{schema}}run_events (
    id {{serial}},
    run_id TEXT NOT NULL,
    type TEXT NOT NULL,
    time {{bigint}} NOT NULL,
    asset_key TEXT,
    partition_key TEXT,
    data TEXT NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS run_events_run ON {{schema}}run_events (run_id, id)`,
  `CREATE TABLE IF NOT EXISTS {{schema}}materializations (
    asset_key TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    time {{bigint}} NOT NULL,
    metadata TEXT NOT NULL,
    code_version TEXT,
    PRIMARY KEY (asset_key, partition_key)
  )`,
  `CREATE TABLE IF NOT EXISTS {{schema}}sensor_cursors (
    sensor TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    updated_at {{bigint}} NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS {{schema}}run_keys (
    sensor TEXT NOT NULL,
    run_key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    created_at {{bigint}} NOT NULL,
    PRIMARY KEY (sensor, run_key)
  )`,
  `CREATE TABLE IF NOT EXISTS {{schema}}dynamic_partitions (
    seq {{serial}},
    name TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    UNIQUE (name, partition_key)
  )`,
];

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;

/**
 * The run store DDL for a dialect. On Postgres the tables live in `schema`
 * (created first when missing); SQLite has no schemas and ignores it.
 *
 * @param dialect SQL dialect.
 * @param schema Postgres schema; a lower-case identifier. @default {"ops"}
 * @throws {RangeError} when `schema` is not a plain lower-case identifier.
 */
export function runStoreDdl(
  dialect: "sqlite" | "postgres",
  schema: string = POSTGRES_RUN_STORE_SCHEMA,
): string[] {
  if (dialect === "sqlite") return fill({ bigint: "INTEGER", serial: "INTEGER PRIMARY KEY" }, "");
  if (!IDENTIFIER.test(schema)) {
    throw new RangeError(
      `Cannot create the run store in schema '${schema}': use a lower-case SQL identifier`,
    );
  }
  return [
    `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    ...fill({ bigint: "BIGINT", serial: "BIGSERIAL PRIMARY KEY" }, `${schema}.`),
  ];
}

function fill(types: { bigint: string; serial: string }, prefix: string): string[] {
  return RUN_STORE_TABLES.map((sql) =>
    sql.replaceAll("{{bigint}}", types.bigint)
      .replaceAll("{{serial}}", types.serial)
      .replaceAll("{{schema}}", prefix)
  );
}
