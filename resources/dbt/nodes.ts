/**
 * The nodes of a loaded dbt project (models, seeds, snapshots, sources,
 * data tests, unit tests, exposures) and the project itself. Every other
 * module of the runner reads these types; this file imports only types, so
 * it sits below everything else and no import circle can pass through it.
 *
 * @module
 */

import type { Relation } from "./relation.ts";
import type { ProjectFile } from "./project/project_file.ts";
import type { Target } from "./project/profiles.ts";
import type { QueryRunner } from "./query.ts";

/** The materializations the runner builds itself. */
export type BuiltinMaterialized = "view" | "table" | "incremental" | "ephemeral" | "external";

/**
 * How a model is built: a built-in materialization, or the name of a custom
 * `{% materialization %}` of the project or a package.
 */
export type Materialized = BuiltinMaterialized | (string & Record<never, never>);

/** What kind of buildable node: a SQL model, a CSV seed or a snapshot. */
export type BuildKind = "model" | "seed" | "snapshot";

/** How an incremental model merges new rows. */
export type IncrementalStrategy = "append" | "delete+insert" | "merge" | "microbatch";

/** The time grain of a microbatch model's batches (dbt's `batch_size`). */
export type BatchSize = "hour" | "day" | "month" | "year";

/**
 * A microbatch model's settings (dbt 1.9's `incremental_strategy='microbatch'`),
 * checked at load: the model's own `event_time` column, the batch grain, the
 * first instant of data (`begin`, UTC), how many batches before the current
 * one an incremental run redoes (`lookback`), and `concurrent_batches`
 * (null: decided from the model's SQL, as dbt does).
 */
export interface MicrobatchConfig {
  /** The model's own event-time column (its batches are windows on it). */
  readonly eventTime: string;
  /** Batch grain. */
  readonly batchSize: BatchSize;
  /** Earliest instant built, ms since the epoch (UTC). */
  readonly begin: number;
  /** Batches before the current one that an incremental run rebuilds. */
  readonly lookback: number;
  /** Whether batches may run at once; null: dbt's automatic choice. */
  readonly concurrentBatches: boolean | null;
}

/** What an incremental model does when its columns change (dbt's `on_schema_change`). */
export type OnSchemaChange = "ignore" | "fail" | "append_new_columns" | "sync_all_columns";

/** A node's resolved config (project folders < properties YAML < `config()` in the file). */
export interface ModelConfig {
  /** How it is built (seeds: `seed`, snapshots: `snapshot`). */
  readonly materialized: Materialized | "seed" | "snapshot";
  /** Custom schema (`+schema`), before `generate_schema_name`. */
  readonly schema: string | undefined;
  /** Name of the relation, when not the node's name. */
  readonly alias: string | undefined;
  /** Key(s) an incremental model or snapshot merges on. */
  readonly unique_key: string | readonly string[] | undefined;
  /** How an incremental model adds rows. */
  readonly incremental_strategy: IncrementalStrategy | undefined;
  /** What an incremental run does when the columns changed. */
  readonly on_schema_change: OnSchemaChange;
  /** Tags (selectable as `tag:`). */
  readonly tags: readonly string[];
  /** SQL run before the build, in the same session. */
  readonly preHooks: readonly string[];
  /** SQL run after the build, in the same session. */
  readonly postHooks: readonly string[];
  /** `grants: {select: [role, ...]}`, applied after the build. */
  readonly grants: Readonly<Record<string, readonly string[]>>;
  /** `contract: {enforced: true}`: the built columns must match the declared ones. */
  readonly contractEnforced: boolean;
  /** `full_refresh: false` keeps an incremental model incremental even with `--full-refresh`. */
  readonly fullRefresh: boolean | undefined;
  /**
   * `event_time`: the column saying when a row's event happened. On a node a
   * microbatch model reads, `ref()`/`source()` of it are filtered to the batch.
   */
  readonly eventTime: string | undefined;
  /** The microbatch settings of an `incremental_strategy='microbatch'` model. */
  readonly microbatch: MicrobatchConfig | undefined;
  /** Every config value as resolved, for the manifest. */
  readonly all: Readonly<Record<string, unknown>>;
}

/** A constraint of a column under an enforced contract. */
export interface ColumnConstraint {
  /** `not_null`, `primary_key`, `unique`, `check`. */
  readonly type: string;
  /** SQL of a `check` constraint. */
  readonly expression: string | undefined;
}

/** A column documented in a properties file. */
export interface ColumnDoc {
  /** Column name. */
  readonly name: string;
  /** Its description (doc() blocks resolved), or "". */
  readonly description: string;
  /** Declared type, if any. */
  readonly data_type: string | null;
  /** Free metadata. */
  readonly meta: Readonly<Record<string, unknown>>;
  /** Constraints, for enforced contracts. */
  readonly constraints: readonly ColumnConstraint[];
  /** Its `granularity:` (dbt 1.9: a time spine's columns), if any. */
  readonly granularity?: string | null;
  /** Its `quote:` (true: the name is quoted where packages ask `column.quote`), else null. */
  readonly quote?: boolean | null;
  /** Its `tags:`. */
  readonly tags?: readonly string[];
  /**
   * Keys dbt does not know (dbt's ColumnInfo keeps them, so `column.expression`
   * of dbt-external-tables' source columns reaches its macros).
   */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** Seed settings. */
export interface SeedSettings {
  /** Absolute path of the CSV file. */
  readonly csvPath: string;
  /** Field delimiter. */
  readonly delimiter: string;
  /** Column types that override inference, by column name. */
  readonly columnTypes: Readonly<Record<string, string>>;
  /** Quote column names in DDL (dbt's `quote_columns`). */
  readonly quoteColumns: boolean;
}

/** Snapshot settings. */
export interface SnapshotSettings {
  /** `timestamp` or `check`. */
  readonly strategy: "timestamp" | "check";
  /** Column(s) identifying a record. */
  readonly uniqueKey: readonly string[];
  /** For `timestamp`: the column telling when a row changed. */
  readonly updatedAt: string | undefined;
  /** For `check`: the columns compared, or `all`. */
  readonly checkCols: readonly string[] | "all";
  /** What happens to rows gone from the source (`hard_deletes` / `invalidate_hard_deletes`). */
  readonly hardDeletes: "ignore" | "invalidate" | "new_record";
  /** Names of the meta columns (`snapshot_meta_column_names`; dbt's names by default). */
  readonly metaColumns: SnapshotMetaColumns;
  /** SQL of the `dbt_valid_to` of current rows (`dbt_valid_to_current`), else null is used. */
  readonly validToCurrent: string | undefined;
}

/** The meta columns of a snapshot table, by their dbt names. */
export interface SnapshotMetaColumns {
  /** When a row version became current. */
  readonly dbt_valid_from: string;
  /** When it stopped being current (null, or `dbt_valid_to_current`, while it is). */
  readonly dbt_valid_to: string;
  /** Unique id of a row version. */
  readonly dbt_scd_id: string;
  /** The source's updated_at (or the snapshot time) of the version. */
  readonly dbt_updated_at: string;
  /** Whether the row was deleted from the source (`hard_deletes: new_record`). */
  readonly dbt_is_deleted: string;
}

/** What every node read from a file of the project has: its identity, place and text. */
export interface FileNode {
  /** `<resource type>.<package>.<name>`. */
  readonly uniqueId: string;
  /** Node name (the file stem, or a YAML snapshot's name). */
  readonly name: string;
  /** Package (project) that defines it. */
  readonly packageName: string;
  /** File relative to the project (package files under `dbt_packages/<pkg>/`). */
  readonly file: string;
  /** dbt's `path`: the file relative to its resource path, e.g. `marts/fct.sql` (an analysis: `analysis/...`). */
  readonly path: string;
  /** dbt's fqn: `[package, ...folders, name]` (an analysis: `[package, "analysis", ...folders, name]`). */
  readonly fqn: readonly string[];
  /** The code as written (a seed: ""). */
  readonly rawCode: string;
  /** sha256 of the file. */
  readonly checksum: string;
}

/** A buildable node of the project: a SQL model, a seed or a snapshot. */
export interface ModelNode extends FileNode {
  /** `model`, `seed` or `snapshot`. */
  readonly resourceType: BuildKind;
  /** Resolved config. */
  readonly config: ModelConfig;
  /** Where it is built (for ephemeral models: the CTE it prints as). */
  readonly relation: Relation;
  /** Names of the nodes it refs, in order of first use. */
  readonly refs: readonly string[];
  /** Unique ids of the sources it reads. */
  readonly sources: readonly string[];
  /** Unique ids of its parents (models, seeds, snapshots, sources). */
  readonly dependsOn: readonly string[];
  /** Unique ids of macros it calls. */
  readonly macros: readonly string[];
  /** From the properties file. */
  readonly description: string;
  /** From the properties file, by name. */
  readonly columns: Readonly<Record<string, ColumnDoc>>;
  /** The properties file that documents it, or null. */
  readonly patchPath: string | null;
  /** Free metadata (`meta:` and `config.meta`). */
  readonly meta: Readonly<Record<string, unknown>>;
  /** The SQL compiled for a full build, ephemeral parents inlined (a seed: ""). */
  readonly compiledCode: string;
  /** Whether the SQL calls `run_query`/`statement`, so it is compiled again at build time. */
  readonly dynamic: boolean;
  /**
   * Whether its SQL has been compiled in this process (`compiledCode` renders
   * on first read; artifacts only show compiled code that exists).
   */
  readonly compiled: boolean;
  /** Seed settings (seeds only). */
  readonly seed?: SeedSettings | undefined;
  /** Snapshot settings (snapshots only). */
  readonly snapshot?: SnapshotSettings | undefined;
  /** Its `time_spine:` (dbt 1.9; models only), for the semantic layer. */
  readonly timeSpine?: TimeSpine | undefined;
}

/** A model's `time_spine:`: the semantic layer's calendar (target/semantic_manifest.json). */
export interface TimeSpine {
  /** `standard_granularity_column`: the column of one row per period. */
  readonly standardGranularityColumn: string;
  /** That column's `granularity:` (`day`...). */
  readonly granularity: string;
  /** `custom_granularities`: names of fiscal periods and the columns holding them. */
  readonly customGranularities: readonly {
    readonly name: string;
    readonly columnName: string | null;
  }[];
}

/** Freshness rule of a source table. */
export interface Freshness {
  /** Warn when the newest row is older than this many milliseconds. */
  readonly warnAfterMs: number | null;
  /** Fail when the newest row is older than this many milliseconds. */
  readonly errorAfterMs: number | null;
  /** As written, for the manifest. */
  readonly raw: Readonly<Record<string, unknown>>;
  /** Optional `filter:` SQL. */
  readonly filter: string | null;
}

/** A source table. */
export interface SourceNode {
  /** `source.<package>.<source>.<table>`. */
  readonly uniqueId: string;
  /** Package declaring it. */
  readonly packageName: string;
  /** Source name, e.g. `raw`. */
  readonly sourceName: string;
  /** Table name as referenced. */
  readonly name: string;
  /** The YAML file declaring it. */
  readonly file: string;
  /** Relation read. */
  readonly relation: Relation;
  /** Table description. */
  readonly description: string;
  /** Source description. */
  readonly sourceDescription: string;
  /** `meta` of the table over that of the source (`asset:` maps it to an asset). */
  readonly meta: Readonly<Record<string, unknown>>;
  /** Loader as declared, or "". */
  readonly loader: string;
  /** Documented columns. */
  readonly columns: Readonly<Record<string, ColumnDoc>>;
  /** Column holding the load time, for freshness. */
  readonly loadedAtField: string | null;
  /** `config: {event_time: col}` (table's over source's): microbatch models read it filtered. */
  readonly eventTime?: string | undefined;
  /** Freshness rule, or null. */
  readonly freshness: Freshness | null;
  /**
   * The table's `external:` properties (dbt's ExternalTable: location,
   * file_format, row_format, tbl_properties, partitions, and any other key),
   * or null: dbt-external-tables stages the sources that have one.
   */
  readonly external?: Readonly<Record<string, unknown>> | null;
  /**
   * Tags of the source and of the table (`tags:` and `config.tags`), as dbt
   * unions them: `tag:` selects the table, and `tag:pii+` what reads it.
   */
  readonly tags: readonly string[];
}

/** A test's `warn_if` / `error_if` thresholds and how failures are counted. */
export interface TestThresholds {
  /** A condition on the failure count, e.g. `!= 0`, `>5`. */
  readonly warnIf: string;
  /** A condition on the failure count, e.g. `!= 0`, `>10`. */
  readonly errorIf: string;
  /** SQL aggregate over the failing rows, e.g. `count(*)`. */
  readonly failCalc: string;
  /** Keep only this many failing rows (`limit:`), or null. */
  readonly limit: number | null;
  /**
   * Store failing rows in the audit schema; null when the test's config does not say, and
   * then `--store-failures` decides (dbt's `should_store_failures`).
   */
  readonly storeFailures: boolean | null;
}

/** A data test (generic from YAML, or singular from the test paths). */
export interface TestNode {
  /** `test.<package>.<name>[.<hash>]`. */
  readonly uniqueId: string;
  /**
   * What the unique id is made of: equal for two tests exactly when their
   * unique ids are (a duplicate declaration), without hashing.
   */
  readonly identity: string;
  /** Test name, e.g. `not_null_stg_sleep_user_id`. */
  readonly name: string;
  /** Alias: the name, or dbt's hashed short form of a name of 64 characters or more. */
  readonly alias: string;
  /** `[package, ...folders of the declaring file below its resource path, name]`. */
  readonly fqn: readonly string[];
  /** Package declaring it. */
  readonly packageName: string;
  /** `generic` (YAML) or `singular` (a SQL file). */
  readonly kind: "generic" | "singular";
  /** For generic tests: `not_null`, `unique`, a custom `{% test %}`... */
  readonly testName: string | undefined;
  /** Namespace of a package's generic test (`dbt_utils`), or null. */
  readonly testNamespace: string | null;
  /** File declaring it. */
  readonly file: string;
  /** Line declaring it (1-based), when known. */
  readonly line: number | undefined;
  /** Unique id of the node it is declared on (generic), or null for singular tests. */
  readonly attachedTo: string | undefined;
  /** Column tested, if any. */
  readonly columnName: string | undefined;
  /** Test arguments. */
  readonly kwargs: Readonly<Record<string, unknown>>;
  /** `warn` only reports; `error` fails (and blocks downstream). */
  readonly severity: "warn" | "error";
  /** Thresholds and fail calc. */
  readonly thresholds: TestThresholds;
  /** Tags. */
  readonly tags: readonly string[];
  /** Description, or "". */
  readonly description: string;
  /** Unique ids of the nodes it reads: the test runs only when all are built. */
  readonly dependsOn: readonly string[];
  /** Raw code: the SQL file, or the generic test call. */
  readonly rawCode: string;
  /** SQL returning the failing rows. */
  readonly compiledCode: string;
  /**
   * Present when its macro reads the warehouse (`adapter.get_columns_in_relation`,
   * `run_query`): renders its SQL when it runs, with those queries answered.
   */
  readonly renderSql?: ((query: QueryRunner) => Promise<string>) | undefined;
  /** Relation failing rows are stored in when `store_failures` is set. */
  readonly auditRelation: Relation;
}

/** A unit test: given rows for the model's inputs, its output must equal the expected rows. */
export interface UnitTestNode {
  /** `unit_test.<package>.<model>.<name>`. */
  readonly uniqueId: string;
  /** Its name. */
  readonly name: string;
  /** Model under test. */
  readonly model: string;
  /** The YAML file. */
  readonly file: string;
  /** Line of its entry. */
  readonly line: number | undefined;
  /** Description, or "". */
  readonly description: string;
  /** The given inputs: a CTE each, with rows (or SQL) and the relation whose column types they take. */
  readonly inputs: readonly UnitTestInput[];
  /** The model's SQL with its refs and sources pointing at the input CTEs. */
  readonly modelSql: string;
  /** The expected rows. */
  readonly expected: readonly Readonly<Record<string, unknown>>[];
  /** The expected rows as a query (`expect: {format: sql}`), else null. */
  readonly expectedSql: string | null;
  /**
   * For a model that asks the warehouse while it compiles (`dbt_utils.star`,
   * `run_query`): renders its SQL at run time with the questions answered
   * (`modelSql` is then empty).
   */
  readonly renderSql?: (query: QueryRunner) => Promise<string>;
  /** Columns compared (those of the expected rows). */
  readonly columns: readonly string[];
  /** For run_results: the model SQL (with the inputs), compiled. */
  readonly actualSql: string;
  /** Unique id of the model. */
  readonly dependsOn: readonly string[];
  /** As written, for the manifest. */
  readonly raw: Readonly<Record<string, unknown>>;
}

/** One `given` of a unit test. */
export interface UnitTestInput {
  /** CTE name the model reads instead of the input. */
  readonly cte: string;
  /** The real relation, whose columns and types the rows take (missing columns are null). */
  readonly relation: Relation | null;
  /** Rows as written. */
  readonly rows: readonly Readonly<Record<string, unknown>>[];
  /** SQL instead of rows (`format: sql`). */
  readonly sql: string | null;
}

/** An exposure (a dashboard, notebook... that reads models). */
export interface ExposureNode {
  /** `exposure.<package>.<name>`. */
  readonly uniqueId: string;
  /** Name. */
  readonly name: string;
  /** File, relative to the root project. */
  readonly file: string;
  /** Package defining it. */
  readonly packageName: string;
  /** The properties file relative to its package (manifest `original_file_path`). */
  readonly originalFilePath: string;
  /** The properties file relative to its model path (manifest `path`). */
  readonly path: string;
  /** dbt's fqn: package, folders of the properties file under the model path, name. */
  readonly fqn: readonly string[];
  /** Type (dashboard, notebook, analysis, ml, application). */
  readonly type: string;
  /** Owner as written. */
  readonly owner: Readonly<Record<string, unknown>>;
  /** Description. */
  readonly description: string;
  /** Unique ids it depends on. */
  readonly dependsOn: readonly string[];
  /** Url, or null. */
  readonly url: string | null;
  /** Maturity, or null. */
  readonly maturity: string | null;
  /** Label shown in docs, or null. */
  readonly label: string | null;
  /** Tags (`tag:` selects the exposure). */
  readonly tags: readonly string[];
  /** Meta. */
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * A semantic model, metric or saved query: parsed into the manifest as dbt
 * 1.8+ does, never run (this runner has no MetricFlow).
 */
export interface SemanticResource {
  /** Which kind (also the first part of the unique id). */
  readonly kind: "semantic_model" | "metric" | "saved_query";
  /** `<kind>.<package>.<name>`. */
  readonly uniqueId: string;
  /** Name. */
  readonly name: string;
  /** Package. */
  readonly packageName: string;
  /** Properties file. */
  readonly file: string;
  /** Package, folders under the resource path, name. */
  readonly fqn: readonly string[];
  /** Unique ids it reads (a model; the semantic models or metrics a metric reads). */
  readonly dependsOn: readonly string[];
  /** Tags. */
  readonly tags: readonly string[];
  /** The manifest entry, shaped as manifest v12 has it (without `created_at`). */
  readonly json: Readonly<Record<string, unknown>>;
}

/** A `groups:` entry: models with `group:` set belong to it (private models are read only there). */
export interface GroupNode {
  /** `group.<package>.<name>`. */
  readonly uniqueId: string;
  /** Name. */
  readonly name: string;
  /** Package. */
  readonly packageName: string;
  /** Properties file. */
  readonly file: string;
  /** Owner as written (`name` and/or `email`). */
  readonly owner: Readonly<Record<string, unknown>>;
  /** Description, or null. */
  readonly description: string | null;
  /** `config.meta`. */
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * An analysis (a `.sql` file under `analysis-paths`): compiled like a model,
 * written to target/compiled by `dbt compile`, never run.
 */
export interface AnalysisNode extends FileNode {
  /** Config from `{{ config() }}` and its `analyses:` entry. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Tags. */
  readonly tags: readonly string[];
  /** Description. */
  readonly description: string;
  /** Column docs. */
  readonly columns: Readonly<Record<string, ColumnDoc>>;
  /** Properties file of its `analyses:` entry, or null. */
  readonly patchPath: string | null;
  /** Unique ids it reads (refs and sources). */
  readonly dependsOn: readonly string[];
  /** The SQL compiled at load (ephemeral refs inlined); see {@linkcode compile}. */
  readonly compiledCode: string;
  /** Compiles it again with the warehouse (an analysis that calls run_query needs it). */
  compile(query: QueryRunner): Promise<string>;
}

/** A `{% docs name %}` block. */
export interface DocBlock {
  /** `doc.<package>.<name>`. */
  readonly uniqueId: string;
  /** Name. */
  readonly name: string;
  /** Package. */
  readonly packageName: string;
  /** File. */
  readonly file: string;
  /** Its text. */
  readonly contents: string;
}

/** A macro as loaded. */
export interface MacroInfo {
  /** `macro.<package>.<name>`. */
  readonly uniqueId: string;
  /** Name. */
  readonly name: string;
  /** Package (`dbt` for the global project). */
  readonly packageName: string;
  /** File. */
  readonly file: string;
  /** Its block as written, `{% macro %}` through `{% endmacro %}` (dbt's `macro_sql`). */
  readonly sql: string;
}

/** A compiled project. */
export interface DbtProject {
  /** Project folder. */
  readonly dir: string;
  /** Project name from dbt_project.yml. */
  readonly name: string;
  /** The parsed dbt_project.yml. */
  readonly projectFile: ProjectFile;
  /** Profile name. */
  readonly profile: string;
  /** The target built in. */
  readonly target: Target;
  /** Vars (project vars overridden by the caller's). */
  readonly vars: Readonly<Record<string, unknown>>;
  /** Where artifacts and the parse cache go. */
  readonly targetPath: string;
  /**
   * The invocation's `DBT_ENV_CUSTOM_ENV_*` variables, prefix stripped: every
   * artifact's `metadata.env` (dbt-core's get_metadata_vars); `{}` when absent.
   */
  readonly metadataEnv?: Readonly<Record<string, string>>;
  /** SQL models by name, in topological order. */
  readonly models: ReadonlyMap<string, ModelNode>;
  /** Seeds by name. */
  readonly seeds: ReadonlyMap<string, ModelNode>;
  /** Snapshots by name. */
  readonly snapshots: ReadonlyMap<string, ModelNode>;
  /** Every buildable node (models, seeds, snapshots) in topological order, by unique id. */
  readonly nodes: ReadonlyMap<string, ModelNode>;
  /** Sources by unique id. */
  readonly sources: ReadonlyMap<string, SourceNode>;
  /** Every data test. */
  readonly tests: readonly TestNode[];
  /** Every unit test. */
  readonly unitTests: readonly UnitTestNode[];
  /** Exposures. */
  readonly exposures: readonly ExposureNode[];
  /** Semantic models, metrics and saved queries (in the manifest, never run). */
  readonly semantic: readonly SemanticResource[];
  /** Analyses (compiled, never run). */
  readonly analyses: readonly AnalysisNode[];
  /** `groups:` entries by name. */
  readonly groups: ReadonlyMap<string, GroupNode>;
  /** Docs blocks. */
  readonly docs: readonly DocBlock[];
  /** Macros, by unique id. */
  readonly macros: ReadonlyMap<string, MacroInfo>;
  /** Installed packages (name -> folder). */
  readonly packages: ReadonlyMap<string, string>;
  /** `on-run-start` hooks of the project and its packages, in dbt's order. */
  readonly onRunStart: readonly ProjectHook[];
  /** `on-run-end` hooks of the project and its packages, in dbt's order. */
  readonly onRunEnd: readonly ProjectHook[];
  /**
   * Versioned models (`versions:`): by the model's name, the node name of
   * each version and the latest; `-s name` and `version:` selection read it.
   */
  readonly modelVersions?: ReadonlyMap<string, {
    readonly nodes: ReadonlyMap<string, string>;
    readonly latest: string;
  }>;
  /** `selectors.yml` definitions, by name. */
  readonly selectors: Readonly<Record<string, unknown>>;
  /** The selectors.yml selector with `default: true`: used when a command selects nothing. */
  readonly defaultSelector?: string;
  /** Things worth a look that do not stop loading. */
  readonly warnings: readonly string[];
  /**
   * Compiles a node again for a run: `isIncremental` renders the
   * `{% if is_incremental() %}` branches; `query` answers `run_query` and
   * `statement` calls (a model that uses them is compiled at build time).
   */
  compileNode(
    name: string,
    options: {
      readonly isIncremental: boolean;
      readonly query?: QueryRunner | undefined;
      /**
       * Where this render's `log(..., info=True)` / `print()` go (a build's
       * own log, as dbt says them while the node runs); given, the node is
       * rendered again rather than read from the compile cache.
       */
      readonly onLog?: ((message: string) => void) | undefined;
      /**
       * Renders one batch of a microbatch model: `ref()`/`source()` of a
       * parent with an `event_time` read only the window, and
       * `model.batch` holds its id and bounds.
       */
      readonly batch?: BatchWindow | undefined;
    },
  ): Promise<string>;
  /**
   * Renders a hook (`pre-hook`, `post-hook`, `on-run-start`, `on-run-end`)
   * with the project's macros, `ref`/`source`, `this` (`self`) and, for
   * on-run-end, `results`; `run_query` is answered by `query`.
   */
  renderHook(text: string, options: HookRenderOptions): Promise<string>;
  /**
   * Runs the custom `{% materialization %}` a model names (found by dbt's
   * rules: adapter-specific before `default`, root project before package
   * before global) with the model's context plus `sql`, `pre_hooks` and
   * `post_hooks`; its statements run through `query` as they are asked.
   * Gives what the macro returns (dbt expects `{'relations': [...]}`).
   */
  runMaterialization(name: string, options: MaterializationRunOptions): Promise<unknown>;
}

/** One batch of a microbatch model: `[start, end)` in ms since the epoch (UTC) and its id. */
export interface BatchWindow {
  /** dbt's batch id: `20240101` (or `20240101T05` for hourly batches). */
  readonly id: string;
  /** Start, inclusive. */
  readonly start: number;
  /** End, exclusive. */
  readonly end: number;
}

/** Options of {@linkcode DbtProject.runMaterialization}. */
export interface MaterializationRunOptions {
  /** The model's compiled SQL. */
  readonly sql: string;
  /** Its pre-hooks and post-hooks, rendered. */
  readonly preHooks: readonly string[];
  /** See `preHooks`. */
  readonly postHooks: readonly string[];
  /** Answers `run_query` / `statement` (and so runs the materialization's DDL). */
  readonly query: QueryRunner;
  /** Where its `log(..., info=True)` go. */
  readonly onLog?: ((message: string) => void) | undefined;
}

/** Options of {@linkcode DbtProject.renderHook}. */
export interface HookRenderOptions {
  /** File the hook is written in (for errors). */
  readonly file: string;
  /** `this`: the node a pre/post-hook belongs to. */
  readonly self?: Relation | undefined;
  /**
   * The project (root or package) the hook belongs to: its vars and macro
   * lookup, as dbt renders a node's hooks in that node's context.
   * @default {the root project}
   */
  readonly packageName?: string | undefined;
  /** The node a pre/post-hook belongs to (`model` in the hook). */
  readonly nodeName?: string | undefined;
  /** Answers `run_query` / `statement`. */
  readonly query: QueryRunner;
  /** `results` (on-run-end): one dict per result, shaped like dbt's Result objects. */
  readonly results?: readonly unknown[] | undefined;
  /** `node` (query-comment): the node a statement runs for, null outside one. */
  readonly node?: Readonly<Record<string, unknown>> | null | undefined;
}

export type { QueryResult, QueryRunner } from "./query.ts";

/** An `on-run-start` / `on-run-end` hook of a project's dbt_project.yml (dbt's operation node). */
export interface ProjectHook {
  /** The project (root or package) whose dbt_project.yml has it. */
  readonly packageName: string;
  /** Its place in that project's list (dbt's `operation.<pkg>.<pkg>-on-run-end-<index>`). */
  readonly index: number;
  /** Its Jinja text. */
  readonly sql: string;
}
