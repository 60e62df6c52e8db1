/**
 * Tables of the run store, in the SQL both SQLite and Postgres accept. The
 * empty string stands for "no partition" so it can sit in primary keys.
 * Times are `timestamptz` on Postgres, so SQL users querying `ops.*` get
 * real timestamps (the store converts from and to the records' epoch
 * milliseconds at the boundary); SQLite keeps epoch milliseconds (`INTEGER`).
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
  "automation_records",
  "run_tags",
  "run_assets",
  "automation_state",
  "automation_ticks",
];

/** DDL of the run store; `{{time}}`, `{{serial}}` and `{{schema}}` are filled per dialect. */
export const RUN_STORE_TABLES: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS {{schema}}pipeline_runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    selection TEXT NOT NULL,
    partitions TEXT,
    tags TEXT NOT NULL,
    started_at {{time}} NOT NULL,
    finished_at {{time}},
    error_summary TEXT,
    owner_id TEXT,
    owner_host TEXT,
    owner_pid INTEGER,
    heartbeat_at {{time}},
    heartbeat_timeout_ms INTEGER,
    cancel_requested_at {{time}},
    cancel_reason TEXT
  )`,
  `CREATE INDEX IF NOT EXISTS pipeline_runs_started ON {{schema}}pipeline_runs (started_at DESC)`,
  `CREATE INDEX IF NOT EXISTS pipeline_runs_status ON {{schema}}pipeline_runs (status)`,
  `CREATE TABLE IF NOT EXISTS {{schema}}run_steps (
    seq {{serial}},
    run_id TEXT NOT NULL,
    asset_key TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    started_at {{time}},
    finished_at {{time}},
    reason TEXT,
    UNIQUE (run_id, asset_key, partition_key)
  )`,
  `CREATE TABLE IF NOT EXISTS {{schema}}run_events (
    id {{serial}},
    run_id TEXT NOT NULL,
    type TEXT NOT NULL,
    time {{time}} NOT NULL,
    asset_key TEXT,
    partition_key TEXT,
    data TEXT NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS run_events_run ON {{schema}}run_events (run_id, id)`,
  `CREATE TABLE IF NOT EXISTS {{schema}}materializations (
    asset_key TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    time {{time}} NOT NULL,
    metadata TEXT NOT NULL,
    code_version TEXT,
    provenance TEXT,
    PRIMARY KEY (asset_key, partition_key)
  )`,
  `CREATE TABLE IF NOT EXISTS {{schema}}sensor_cursors (
    sensor TEXT PRIMARY KEY,
    cursor TEXT NOT NULL,
    updated_at {{time}} NOT NULL
  )`,
  `CREATE TABLE IF NOT EXISTS {{schema}}run_keys (
    sensor TEXT NOT NULL,
    run_key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    created_at {{time}} NOT NULL,
    PRIMARY KEY (sensor, run_key)
  )`,
  `CREATE TABLE IF NOT EXISTS {{schema}}dynamic_partitions (
    seq {{serial}},
    name TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    UNIQUE (name, partition_key)
  )`,
  `CREATE TABLE IF NOT EXISTS {{schema}}automation_records (
    id {{serial}},
    kind TEXT NOT NULL,
    time {{time}} NOT NULL,
    asset_key TEXT,
    name TEXT NOT NULL,
    data TEXT NOT NULL
  )`,
  `CREATE INDEX IF NOT EXISTS automation_records_kind ON {{schema}}automation_records (kind, id)`,
  `CREATE INDEX IF NOT EXISTS automation_records_asset ON {{schema}}automation_records (asset_key, id)`,
  // The run list's pages: every filter walks one index in the list's order
  // (started_at, run_id descending) from the cursor, so a page deep in a long
  // history costs what the first page does. Tags and assets are kept beside
  // the runs with the run's start, one row per tag and per asset.
  `CREATE INDEX IF NOT EXISTS pipeline_runs_order ON {{schema}}pipeline_runs (started_at, run_id)`,
  `CREATE INDEX IF NOT EXISTS pipeline_runs_status_order
    ON {{schema}}pipeline_runs (status, started_at, run_id)`,
  `CREATE TABLE IF NOT EXISTS {{schema}}run_tags (
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    started_at {{time}} NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (key, value, started_at, run_id)
  )`,
  `CREATE INDEX IF NOT EXISTS run_tags_run ON {{schema}}run_tags (run_id)`,
  `CREATE TABLE IF NOT EXISTS {{schema}}run_assets (
    asset_key TEXT NOT NULL,
    started_at {{time}} NOT NULL,
    run_id TEXT NOT NULL,
    PRIMARY KEY (asset_key, started_at, run_id)
  )`,
  // An asset's history over every run (its materializations and checks).
  `CREATE INDEX IF NOT EXISTS run_events_asset ON {{schema}}run_events (asset_key, id)`,
  `CREATE TABLE IF NOT EXISTS {{schema}}automation_state (
    name TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL,
    updated_at {{time}} NOT NULL,
    updated_by TEXT
  )`,
  `CREATE TABLE IF NOT EXISTS {{schema}}automation_ticks (
    id {{serial}},
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    time {{time}} NOT NULL,
    last_time {{time}} NOT NULL,
    count INTEGER NOT NULL,
    status TEXT NOT NULL,
    run_ids TEXT NOT NULL,
    duplicate_keys TEXT NOT NULL,
    reason TEXT,
    cursor TEXT
  )`,
  `CREATE INDEX IF NOT EXISTS automation_ticks_name ON {{schema}}automation_ticks (name, id)`,
];

/**
 * Fills `run_tags` and `run_assets` from the runs and steps recorded before
 * those tables existed (a store made by an older version); does nothing
 * twice (rows already there are kept). (`WHERE true`: SQLite needs it to
 * parse an upsert from a SELECT with a join.)
 */
export function runIndexBackfill(dialect: "sqlite" | "postgres", schema = ""): string[] {
  const prefix = dialect === "postgres" ? `${schema}.` : "";
  const tags = dialect === "postgres" ? "json_each_text(r.tags::json)" : "json_each(r.tags)";
  return [
    `INSERT INTO ${prefix}run_tags (key, value, started_at, run_id)
     SELECT j.key, j.value, r.started_at, r.run_id FROM ${prefix}pipeline_runs r, ${tags} j
     WHERE true ON CONFLICT DO NOTHING`,
    `INSERT INTO ${prefix}run_assets (asset_key, started_at, run_id)
     SELECT DISTINCT s.asset_key, r.started_at, r.run_id
     FROM ${prefix}run_steps s JOIN ${prefix}pipeline_runs r ON r.run_id = s.run_id
     WHERE true ON CONFLICT DO NOTHING`,
  ];
}

/**
 * Time columns of each table: `timestamptz` on Postgres. Schemas made before
 * they were (as epoch milliseconds in `BIGINT`) are migrated at open.
 */
export const RUN_STORE_TIME_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  pipeline_runs: ["started_at", "finished_at", "heartbeat_at", "cancel_requested_at"],
  run_steps: ["started_at", "finished_at"],
  run_events: ["time"],
  materializations: ["time"],
  sensor_cursors: ["updated_at"],
  run_keys: ["created_at"],
  automation_records: ["time"],
  run_tags: ["started_at"],
  run_assets: ["started_at"],
  automation_state: ["updated_at"],
  automation_ticks: ["time", "last_time"],
};

/**
 * Columns added to tables after they were first released, with their type
 * (`{{time}}` filled per dialect): a store opening tables made before adds
 * them (`ALTER TABLE ... ADD COLUMN`), so the run owners and heartbeats reach
 * existing installations. The DDL above has them already.
 */
export const RUN_STORE_ADDED_COLUMNS: Readonly<
  Record<string, readonly (readonly [column: string, type: string])[]>
> = {
  pipeline_runs: [
    ["owner_id", "TEXT"],
    ["owner_host", "TEXT"],
    ["owner_pid", "INTEGER"],
    ["heartbeat_at", "{{time}}"],
    ["heartbeat_timeout_ms", "INTEGER"],
    ["cancel_requested_at", "{{time}}"],
    ["cancel_reason", "TEXT"],
  ],
  materializations: [["provenance", "TEXT"]],
};

/** The type of an added column in a dialect. */
export function addedColumnType(dialect: "sqlite" | "postgres", type: string): string {
  return type.replace("{{time}}", dialect === "sqlite" ? "INTEGER" : "TIMESTAMPTZ");
}

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
  if (dialect === "sqlite") return fill({ time: "INTEGER", serial: "INTEGER PRIMARY KEY" }, "");
  if (!IDENTIFIER.test(schema)) {
    throw new RangeError(
      `Cannot create the run store in schema '${schema}': use a lower-case SQL identifier`,
    );
  }
  return [
    `CREATE SCHEMA IF NOT EXISTS ${schema}`,
    ...fill({ time: "TIMESTAMPTZ", serial: "BIGSERIAL PRIMARY KEY" }, `${schema}.`),
  ];
}

function fill(types: { time: string; serial: string }, prefix: string): string[] {
  return RUN_STORE_TABLES.map((sql) =>
    sql.replaceAll("{{time}}", types.time)
      .replaceAll("{{serial}}", types.serial)
      .replaceAll("{{schema}}", prefix)
  );
}
