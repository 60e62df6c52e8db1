/**
 * Materialisations on the warehouse: view, table (built beside the old one,
 * swapped in one transaction), incremental (append, or delete+insert on
 * `unique_key`; `fullRefresh` rebuilds) and ephemeral (nothing to build: it
 * is inlined as a CTE where it is used).
 *
 * @module
 */

import { type Clock, systemClock } from "../../../core/clock.ts";
import type { Warehouse, WarehouseSession } from "../../warehouse/types.ts";
import type { BatchWindow, DbtProject, ModelNode, QueryResult } from "../nodes.ts";
import { batchesMayOverlap, batchId, planBatches, runBatches } from "./microbatch.ts";
import { filterTime } from "../relation.ts";
import { DbtError, DbtErrorCode } from "../errors.ts";
import { quote, type Relation } from "../relation.ts";
import { loadSeed } from "./seeds.ts";
import { runSnapshot } from "./snapshots.ts";
import {
  applyGrants,
  checkContract,
  persistDocs,
  renderHook,
  runSqlHeader,
  syncSchema,
} from "./model_extras.ts";
import { adapterOf } from "../adapters/adapter_for.ts";
import { buildCustom, BUILTIN_MATERIALIZATIONS } from "./custom_materialization.ts";
import { commentNode, withQueryComment } from "./query_comment.ts";
import { buildExternal, externalTarget, geometryNote } from "../adapters/duckdb.ts";
import { resolveInformationSchema } from "../adapters/duckdb_info_schema.ts";
import type { DbtAdapter, RelationKind } from "../adapters/types.ts";
import { toError } from "../../../core/errors.ts";
import { loggingStatements, statementsText } from "./statement_log.ts";

/** Options of {@linkcode buildModel}. */
export interface BuildModelOptions {
  /**
   * Rebuild incremental models from scratch (`dbt run --full-refresh`).
   * @default {false}
   */
  readonly fullRefresh?: boolean;
  /**
   * Where durations are measured.
   * @default {systemClock}
   */
  readonly clock?: Clock;
  /**
   * Where the model's `log()` / `print()` go: given, the model is rendered
   * as it builds and says them there (an asset's run log); else they went
   * where the project's load said, when the model was first compiled.
   */
  readonly onLog?: ((message: string) => void) | undefined;
  /**
   * `--event-time-start` of a microbatch model (ms since the epoch, UTC):
   * build the batches from there instead of `begin` or the lookback.
   */
  readonly eventTimeStart?: number | undefined;
  /** `--event-time-end`: build the batches up to there instead of now. */
  readonly eventTimeEnd?: number | undefined;
  /** Build exactly these batches of a microbatch model (`dbt retry`: the ones that failed). */
  readonly batches?: readonly BatchWindow[] | undefined;
  /**
   * The invocation's time, where a microbatch model's batches end (dbt: when
   * the invocation started, the same for every model).
   * @default {clock.now() when the build starts}
   */
  readonly now?: number | undefined;
  /**
   * How many batches of a microbatch model may build at once, when its
   * batches can run concurrently (the invocation's `--threads`).
   * @default {the target's threads}
   */
  readonly threads?: number | undefined;
}

/** The batches of a microbatch model build: built, and failed with their errors. */
export interface BatchResults {
  /** Batches committed, oldest first. */
  readonly successful: readonly BatchWindow[];
  /** Batches rolled back, oldest first, with the error of each. */
  readonly failed: readonly { readonly batch: BatchWindow; readonly message: string }[];
}

/** What building one model did. */
export interface BuildModelResult {
  /** Model name. */
  readonly name: string;
  /** How it was built. */
  readonly materialized: ModelNode["config"]["materialized"];
  /** `"schema"."name"`, or the CTE name for an ephemeral model. */
  readonly relation: string;
  /** The SQL that ran (for incremental runs, the incremental branch). */
  readonly compiledCode: string;
  /**
   * The statements the build executed (`create table … as (…)`, an
   * incremental run's delete and insert…), as dbt writes them to
   * target/run/; undefined for a seed, an ephemeral model and a custom
   * materialization.
   */
  readonly executedSql?: string | undefined;
  /** Rows written (table, incremental), or null (view, ephemeral). */
  readonly rowsAffected: number | null;
  /** Whether an incremental model was built incrementally (not from scratch). */
  readonly incremental: boolean;
  /** A short status like dbt's: `SELECT 42`, `CREATE VIEW`, `INSERT 3`. */
  readonly message: string;
  /** Wall time of the SQL, in milliseconds. */
  readonly durationMs: number;
  /** A microbatch model's batches (failed ones included: the build then partly succeeded). */
  readonly batches?: BatchResults | undefined;
}

const TMP_SUFFIX = "__dbt_tmp";
const BACKUP_SUFFIX = "__dbt_backup";

/**
 * Builds model `name` of `project` in `warehouse`. Throws `dbt.model_failed`
 * naming the model file when the warehouse rejects its SQL; the previous
 * relation is then left as it was.
 */
export async function buildModel(
  warehouse: Warehouse,
  project: DbtProject,
  name: string,
  options: BuildModelOptions = {},
): Promise<BuildModelResult> {
  const model = project.models.get(name) ?? project.seeds.get(name) ??
    project.snapshots.get(name);
  if (!model) throw new RangeError(`Cannot build '${name}': the project has no such node`);
  warehouse = await withQueryComment(
    warehouse,
    project,
    commentNode({ ...model, tags: model.config.tags }),
  );
  const clock = options.clock ?? systemClock;
  const now = () => clock.now();
  const started = now();
  const done = (
    fields: Omit<BuildModelResult, "name" | "materialized" | "relation" | "durationMs">,
  ): BuildModelResult => ({
    name,
    materialized: model.config.materialized,
    relation: model.relation.toString(),
    durationMs: now() - started,
    ...fields,
  });
  const relation = model.relation;
  const query = queryRunner(warehouse);
  const adapter = adapterOf(warehouse, project);
  const onLog = model.resourceType === "seed" ? undefined : options.onLog;
  // A microbatch model is rendered per batch (its SQL may read `model.batch`), never whole.
  const batched = model.resourceType === "model" && model.config.microbatch !== undefined;
  let sql = batched
    ? ""
    : onLog
    ? await project.compileNode(name, { isIncremental: false, query, onLog })
    : model.compiledCode;
  try {
    if (model.resourceType === "seed") {
      const rows = await loadSeed(
        warehouse,
        model,
        model.config.fullRefresh ?? options.fullRefresh ?? false,
      );
      await applyGrants(warehouse, model);
      await persistDocs(warehouse, model);
      return done({
        compiledCode: "",
        rowsAffected: rows,
        incremental: false,
        message: `INSERT ${rows}`,
      });
    }
    if (model.dynamic && !onLog && !batched) {
      sql = await project.compileNode(name, { isIncremental: false, query });
    }
    // The statements of the build proper (not hooks, grants or docs) go to target/run/.
    const statements: string[] = [];
    const logged = loggingStatements(warehouse, statements);
    if (model.resourceType === "snapshot") {
      await warehouse.ensureSchema(relation.schema);
      const result = await runSnapshot(logged, model, sql, now());
      await applyGrants(warehouse, model);
      await persistDocs(warehouse, model);
      return done({
        compiledCode: sql,
        executedSql: statementsText(statements),
        rowsAffected: result.rows,
        incremental: result.existed,
        message: result.message,
      });
    }
    if (!BUILTIN_MATERIALIZATIONS.has(model.config.materialized)) {
      // The macro runs the hooks itself (run_hooks), as dbt's materializations do.
      return done(await buildCustom(warehouse, project, model, sql, queryRunner, onLog));
    }
    for (const hook of model.config.preHooks) {
      await warehouse.exec(await renderHook(project, model, hook, query));
    }
    if (model.config.contractEnforced && model.config.materialized !== "ephemeral") {
      await checkContract(warehouse, model, batched ? model.compiledCode : sql);
    }
    let result = await buildSql(logged, adapter, project, model, sql, options, query);
    sql = result.compiledCode;
    if (statements.length > 0) result = { ...result, executedSql: statementsText(statements) };
    if (adapter.type === "duckdb" && model.config.materialized !== "ephemeral") {
      const note = await geometryNote(warehouse, relation);
      if (note) result = { ...result, message: `${result.message} (${note})` };
    }
    for (const hook of model.config.postHooks) {
      await warehouse.exec(await renderHook(project, model, hook, query));
    }
    await applyGrants(warehouse, model);
    await persistDocs(warehouse, model);
    if (result.batches && result.batches.failed.length > 0) {
      throw new BatchesFailedError(model, done(result), result.batches);
    }
    return done(result);
  } catch (thrown) {
    if (thrown instanceof DbtError) throw thrown;
    const error = thrown instanceof CompiledSqlError ? thrown.cause : thrown;
    const where = thrown instanceof CompiledSqlError
      ? await locate(project, model, thrown)
      : { line: undefined, note: "" };
    const missing = missingSource(project, model, error);
    if (missing) throw missing;
    const text = toError(error).message;
    throw new DbtError(
      DbtErrorCode.modelFailed,
      `${model.resourceType} '${name}' failed on the warehouse (${warehouse.location}): ${text}${where.note}. ${
        lackingExtension(text) ?? "Fix its SQL"
      }; nodes that depend on it are skipped`,
      { file: model.file, line: where.line },
      error,
    );
  }
}

/**
 * What to do when the warehouse lacks an extension the node asks for (a
 * package's hook `create extension postgis`): the SQL is not at fault, the
 * warehouse is. The embedded PGlite warehouse ships without most extensions.
 */
function lackingExtension(message: string): string | undefined {
  const found = /extension "([^"]+)" is not available/.exec(message);
  if (!found) return undefined;
  return `The warehouse has no extension '${found[1]}' (the embedded PGlite warehouse ` +
    "ships few): build this node on a Postgres target that has it installed (profiles.yml " +
    "host:), or disable the node";
}

/**
 * Runs `run_query`/`statement` SQL for a render. Columns come from the
 * result, not its first row: a query that finds nothing still has them
 * (dbt_utils.get_single_value reads `table.columns[0]` to return its
 * default). A script of several statements (a materialization's
 * `delete ...; insert ...`) runs whole, as dbt's connection runs it, and
 * answers no rows. On DuckDB, `<database>.information_schema.<view>` reads
 * DuckDB's information_schema (adapters/duckdb_info_schema.ts).
 */
export function queryRunner(session: WarehouseSession): (sql: string) => Promise<QueryResult> {
  const rewrite = session.dialect === "duckdb" ? resolveInformationSchema : (sql: string) => sql;
  return async (text) => {
    const sql = rewrite(text);
    // Told apart before it runs: a refused prepare would abort the materialization's transaction.
    if (!isScript(sql)) return await session.queryTable(sql);
    await session.exec(sql);
    return { columns: [], rows: [] };
  };
}

/**
 * Whether `sql` holds more than one statement: a `;` outside string
 * literals, quoted names, dollar quotes and comments with more SQL after it.
 */
export function isScript(sql: string): boolean {
  if (!sql.includes(";")) return false;
  const code = sql.replace(
    /'(?:[^']|'')*'|"(?:[^"]|"")*"|\$(\w*)\$[\s\S]*?\$\1\$|--[^\n]*|\/\*[\s\S]*?\*\//g,
    " ",
  );
  return /;\s*[^;\s]/.test(code);
}

/**
 * A model that failed because a source table it reads does not exist yet:
 * says which source and that it must be loaded first (the asset layer adds
 * the command to run).
 */
function missingSource(
  project: DbtProject,
  model: ModelNode,
  error: unknown,
): MissingUpstreamError | undefined {
  const message = toError(error).message;
  // Postgres: relation "s.t" does not exist; DuckDB: Table with name "s.t" (or t) does not exist.
  const match = /relation "([^"]+)" does not exist/.exec(message) ??
    /Table(?: or view)? with name "?([^"\s!]+)"? does not exist/.exec(message);
  if (!match) return lakeFilesMissing(project, model, message, error);
  const missing = match[1] as string;
  // Sources first: a source never loaded is the usual case on a fresh warehouse.
  const parents = [
    ...model.dependsOn.map((id) => project.sources.get(id)),
    ...model.dependsOn.map((id) => project.nodes.get(id)),
  ];
  for (const parent of parents) {
    if (!parent) continue;
    const full = `${parent.relation.schema}.${parent.relation.identifier}`;
    if (missing === full || missing === parent.relation.identifier) {
      return new MissingUpstreamError(model, parent.uniqueId, full, error);
    }
  }
  return undefined;
}

/**
 * DuckDB: a source read in place (`external_location`) whose files are not
 * in the lake yet — the asset that writes them has not run.
 */
function lakeFilesMissing(
  project: DbtProject,
  model: ModelNode,
  message: string,
  error: unknown,
): MissingUpstreamError | undefined {
  if (!/No files found that match the pattern|No such file or directory/.test(message)) {
    return undefined;
  }
  for (const id of model.dependsOn) {
    const source = project.sources.get(id);
    if (source?.relation.external !== undefined) {
      return new MissingUpstreamError(model, source.uniqueId, source.relation.external, error);
    }
  }
  return undefined;
}

/** A node read a source or parent that has not been built or loaded yet. */
export class MissingUpstreamError extends DbtError {
  /** Unique id of the node being built. */
  readonly nodeId: string;
  /** Unique id of the missing source or node. */
  readonly upstreamId: string;
  /** Creates the error for `model` missing `upstreamId` (`relation`). */
  constructor(model: ModelNode, upstreamId: string, relation: string, cause: unknown) {
    super(
      DbtErrorCode.missingUpstream,
      `${model.resourceType} '${model.name}' reads ${relation} (${upstreamId}), which does not ` +
        `exist yet: it has never been loaded or built. Build or load it first` +
        (upstreamId.startsWith("seed.") ? " (dbt seed)" : ""),
      { file: model.file },
      cause,
    );
    this.nodeId = model.uniqueId;
    this.upstreamId = upstreamId;
  }
}

/**
 * Batches of a microbatch model failed: the others were committed (the
 * model partly succeeded, dbt's `partial success`) unless none was. Carries
 * the build's result, whose `batches` list both.
 */
export class BatchesFailedError extends DbtError {
  /** The build's result. */
  readonly result: BuildModelResult;
  /** Creates the error for `model`. */
  constructor(model: ModelNode, result: BuildModelResult, batches: BatchResults) {
    const total = batches.successful.length + batches.failed.length;
    super(
      DbtErrorCode.modelFailed,
      `microbatch model '${model.name}': ${batches.failed.length} of ${total} batches failed (` +
        batches.failed.map((f) => `batch ${f.batch.id}: ${f.message}`).join("; ") + ")" +
        (batches.successful.length > 0
          ? `; the ${batches.successful.length} other batches were committed`
          : "") +
        ". Fix the cause, then 'deno task dbt retry' rebuilds only the failed batches",
      { file: model.file },
    );
    this.result = result;
  }
}

async function buildSql(
  warehouse: Warehouse,
  adapter: DbtAdapter,
  project: DbtProject,
  model: ModelNode,
  sqlIn: string,
  options: BuildModelOptions,
  query: (sql: string) => Promise<QueryResult>,
): Promise<Omit<BuildModelResult, "name" | "materialized" | "relation" | "durationMs">> {
  const relation = model.relation;
  const name = model.name;
  let sql = sqlIn;
  // A table built whole: the table materialization, and an incremental model's first build
  // or full refresh.
  const rebuildTable = async () => {
    const rows = await replaceRelation(
      warehouse,
      adapter,
      relation,
      "table",
      sql,
      model.config.all,
    );
    return { compiledCode: sql, rowsAffected: rows, incremental: false, message: `SELECT ${rows}` };
  };
  {
    switch (model.config.materialized) {
      case "ephemeral":
        return ({
          compiledCode: sql,
          rowsAffected: null,
          incremental: false,
          message: "EPHEMERAL (inlined as a CTE)",
        });
      case "view":
        await warehouse.ensureSchema(relation.schema);
        await replaceRelation(warehouse, adapter, relation, "view", sql, model.config.all);
        return ({
          compiledCode: sql,
          rowsAffected: null,
          incremental: false,
          message: "CREATE VIEW",
        });
      case "table":
        await warehouse.ensureSchema(relation.schema);
        return await rebuildTable();
      case "external": {
        if (adapter.type !== "duckdb") {
          throw new DbtError(
            DbtErrorCode.unsupported,
            `model '${name}' is materialized='external' (a file in the lake with a view over ` +
              `it), which needs a DuckDB target; this warehouse is ${adapter.type}`,
            { file: model.file },
          );
        }
        const target = externalTarget(model, project.target, project.dir);
        const rows = await buildExternal(warehouse, model, sql, target);
        return ({
          compiledCode: sql,
          rowsAffected: rows,
          incremental: false,
          message: `COPY ${rows} to ${target.location}`,
        });
      }
      case "incremental": {
        await warehouse.ensureSchema(relation.schema);
        const kind = await relationKind(warehouse, relation, adapter);
        const fullRefresh = model.config.fullRefresh ?? options.fullRefresh ?? false;
        if (model.config.microbatch) {
          return await buildMicrobatch(warehouse, adapter, project, model, {
            ...options,
            tableExists: !fullRefresh && kind === "table",
            query,
          });
        }
        if (fullRefresh || kind !== "table") return await rebuildTable();
        sql = await project.compileNode(name, { isIncremental: true, query, onLog: options.onLog });
        const rows = await mergeIncremental(warehouse, adapter, model, sql);
        return ({
          compiledCode: sql,
          rowsAffected: rows,
          incremental: true,
          message: `INSERT ${rows}`,
        });
      }
    }
  }
  return unreachable(model.config.materialized);
}

function unreachable(what: string): never {
  throw new RangeError(`Cannot build: unknown materialization '${what}'`);
}

/** A failure of the statement that runs a model's compiled SQL, and where that SQL starts in it. */
class CompiledSqlError extends Error {
  constructor(
    override readonly cause: unknown,
    readonly sql: string,
    readonly prefixLength: number,
  ) {
    super("compiled SQL failed", { cause });
  }
}

/** Runs `prefix + sql + suffix`, marking a failure with where the compiled SQL starts. */
async function runCompiled(
  session: WarehouseSession,
  prefix: string,
  sql: string,
  suffix: string,
): Promise<number> {
  // Relations print their database, so `relation.information_schema('columns')` is
  // `"db".INFORMATION_SCHEMA.columns`, which DuckDB keeps in its system catalog only.
  const text = session.dialect === "duckdb" ? resolveInformationSchema(sql) : sql;
  try {
    return await session.execute(`${prefix}${text}${suffix}`);
  } catch (error) {
    throw new CompiledSqlError(error, text, prefix.length);
  }
}

/** The server's 1-based character position of the error, from the error or its causes. */
function positionOf(error: unknown): number | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && typeof current === "object" && current !== null; depth++) {
    const position = Number((current as { position?: unknown }).position);
    if (Number.isInteger(position) && position > 0) return position;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * Where a SQL error is: the line of the compiled SQL (written to
 * target/compiled/ so a person can open it) and, when that line's text occurs
 * once in the model file, the model file's line.
 */
async function locate(
  project: DbtProject,
  model: ModelNode,
  failure: CompiledSqlError,
): Promise<{ line: number | undefined; note: string }> {
  const position = positionOf(failure.cause);
  const offset = position === undefined ? -1 : position - 1 - failure.prefixLength;
  if (offset < 0 || offset > failure.sql.length) return { line: undefined, note: "" };
  const compiledLine = failure.sql.slice(0, offset).split("\n").length;
  const text = failure.sql.split("\n")[compiledLine - 1]?.trim() ?? "";
  const sourceLines = model.rawCode.split("\n").map((l) => l.trim());
  const matches = text.length > 0 ? sourceLines.filter((l) => l === text).length : 0;
  const line = matches === 1 ? sourceLines.indexOf(text) + 1 : undefined;
  const compiledFile = `${project.targetPath}/compiled/${project.name}/${model.file}`;
  try {
    const path = compiledFile;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(path, failure.sql);
  } catch {
    // Best effort: the message still gives the line, and the manifest has the SQL.
  }
  const shown = compiledFile.startsWith(`${project.dir}/`)
    ? compiledFile.slice(project.dir.length + 1)
    : compiledFile;
  return { line, note: ` (line ${compiledLine} of the compiled SQL, ${shown})` };
}

type Kind = RelationKind | undefined;

/** Whether `relation` exists and as what. */
export async function relationKind(
  session: WarehouseSession & { readonly dialect: string; readonly location?: string },
  relation: Relation,
  adapter: DbtAdapter = adapterOf({ dialect: session.dialect, location: "" }),
): Promise<Kind> {
  const kinds = await adapter.relationKinds(session, relation.schema, [relation.identifier]);
  return kinds.get(relation.identifier);
}

/** `name` + `suffix`, shortened to Postgres' 63-byte identifier limit. */
function withSuffix(name: string, suffix: string): string {
  return `${name.slice(0, 63 - suffix.length)}${suffix}`;
}

/**
 * Builds `sql` as `<name>__dbt_tmp` beside the live relation, then in the same
 * transaction renames the live one to a backup, the new one to its name, and
 * drops the backup: readers see the old relation or the new one, never none,
 * and a failed build leaves the old one untouched. Returns the rows of a table.
 */
async function replaceRelation(
  warehouse: Warehouse,
  adapter: DbtAdapter,
  relation: Relation,
  kind: "table" | "view",
  sql: string,
  config: Readonly<Record<string, unknown>>,
): Promise<number | null> {
  const schema = relation.schema;
  const name = relation.identifier;
  const tmp = withSuffix(name, TMP_SUFFIX);
  const backup = withSuffix(name, BACKUP_SUFFIX);
  // Qualified by the database too: on DuckDB `"gl"."m"` is ambiguous when the file is gl.duckdb.
  const q = (n: string) =>
    relation.incorporate({ path: { identifier: n }, __keywords: true }).render();
  return await warehouse.transaction(async (tx) => {
    // One catalog query for the three names keeps a rebuild to a handful of statements.
    const kinds = await adapter.relationKinds(tx, schema, [name, tmp, backup]);
    const dropIfThere = async (n: string) => {
      const found = kinds.get(n);
      if (found === undefined) return;
      await tx.execute(`drop ${found === "view" ? "view" : "table"} ${q(n)} cascade`);
    };
    await dropIfThere(tmp); // left by a crash between statements of another engine
    await dropIfThere(backup);
    await runSqlHeader(tx, config);
    const rows = await runCompiled(tx, `create ${kind} ${q(tmp)} as (\n`, sql, "\n)");
    const existing = kinds.get(name);
    if (existing !== undefined) {
      const what = existing === "view" ? "view" : "table";
      await tx.execute(`alter ${what} ${q(name)} rename to ${quote(backup)}`);
    }
    await tx.execute(`alter ${kind} ${q(tmp)} rename to ${quote(name)}`);
    if (existing !== undefined) {
      await tx.execute(`drop ${existing === "view" ? "view" : "table"} ${q(backup)} cascade`);
    }
    return kind === "table" ? rows : null;
  });
}

/**
 * Serialises merges into one relation on Postgres (PGlite too) until the
 * transaction ends. Two merges that overlap (a run's executor paused inside
 * its merge past its lease and resumed while the retry merges, or two
 * `dbt build`s at once) otherwise both insert: in READ COMMITTED the second
 * one's delete waits for the first's row locks and then cannot see the rows
 * the first inserted, so every merged row stayed twice. DuckDB admits one
 * writer process and needs nothing.
 */
async function lockRelation(
  tx: Pick<Warehouse, "execute">,
  adapter: DbtAdapter,
  target: string,
): Promise<void> {
  if (adapter.type !== "postgres") return;
  const name = `dbt_merge:${target}`.replaceAll("'", "''");
  await tx.execute(`select pg_advisory_xact_lock(hashtextextended('${name}', 0))`);
}

/**
 * Adds the rows of the incremental branch to the live table in one
 * transaction: with a `unique_key` (strategy delete+insert or merge), rows
 * with those keys are deleted first; with `append` (or no key) rows are added.
 */
async function mergeIncremental(
  warehouse: Warehouse,
  adapter: DbtAdapter,
  model: ModelNode,
  sql: string,
): Promise<number> {
  const target = model.relation.toString();
  const tmpName = withSuffix(model.relation.identifier, TMP_SUFFIX);
  const tmp = quote(tmpName);
  const keys = model.config.unique_key === undefined ? [] : [model.config.unique_key].flat();
  const strategy = model.config.incremental_strategy ??
    (keys.length > 0 ? "delete+insert" : "append");
  return await warehouse.transaction(async (tx) => {
    await lockRelation(tx, adapter, target);
    const { temp, list } = await stageIncrement(tx, adapter, model, sql, tmpName);
    if (strategy !== "append" && keys.length > 0) {
      const tuple = keys.map((k) => quote(k)).join(", ");
      await tx.execute(
        `delete from ${target} where (${tuple}) in (select ${tuple} from ${tmp})`,
      );
    }
    const rows = await tx.execute(`insert into ${target} (${list}) select ${list} from ${tmp}`);
    if (temp.drop) await tx.execute(temp.drop);
    return rows;
  });
}

/**
 * Builds a microbatch model batch by batch (execute/microbatch.ts says
 * which): each batch is its model rendered with `ref()`/`source()` read
 * through the batch's window, in its own transaction. The first batch of a
 * first run or full refresh creates the table; the others merge into it:
 * on DuckDB the rows of the batch's window are replaced (dbt-duckdb's
 * delete+insert on `event_time`, rows with the batch's `unique_key` values
 * too when one is set); on Postgres and PGlite rows are merged on
 * `unique_key`, which dbt-postgres requires. A failed batch is rolled back
 * alone; the result lists every batch.
 */
async function buildMicrobatch(
  warehouse: Warehouse,
  adapter: DbtAdapter,
  project: DbtProject,
  model: ModelNode,
  options: BuildModelOptions & {
    readonly tableExists: boolean;
    readonly query: (sql: string) => Promise<QueryResult>;
  },
): Promise<Omit<BuildModelResult, "name" | "materialized" | "relation" | "durationMs">> {
  const config = model.config.microbatch;
  if (!config) throw new RangeError(`model '${model.name}' is not a microbatch model`);
  const keys = model.config.unique_key === undefined ? [] : [model.config.unique_key].flat();
  if (adapter.type === "postgres" && keys.length === 0) {
    throw new DbtError(
      DbtErrorCode.invalidProject,
      `microbatch model '${model.name}': on a Postgres target (PGlite included) microbatch ` +
        "merges each batch on the model's `unique_key`, as dbt-postgres does, and this model " +
        "sets none; add config(unique_key='...') naming the column(s) that identify a row",
      { file: model.file },
    );
  }
  const now = options.now ?? (options.clock ?? systemClock).now();
  // Retried batches come from run_results.json: their ids follow the model's batch size.
  const batches = options.batches?.map((b) => ({ ...b, id: batchId(b.start, config.batchSize) })) ??
    planBatches(config, {
      incremental: options.tableExists,
      now,
      eventTimeStart: options.eventTimeStart,
      eventTimeEnd: options.eventTimeEnd,
    });
  const relation = model.relation;
  const concurrency = batchesMayOverlap(config, model.rawCode)
    ? Math.max(1, options.threads ?? project.target.threads)
    : 1;
  const outcome = await runBatches(batches, {
    build: async (batch, create) => {
      const sql = await project.compileNode(model.name, {
        isIncremental: !create,
        query: options.query,
        onLog: options.onLog,
        batch,
      });
      try {
        const rows = create
          ? await replaceRelation(warehouse, adapter, relation, "table", sql, model.config.all)
          : await mergeBatch(warehouse, adapter, model, sql, batch, config.eventTime, keys);
        return { sql, rows: rows ?? 0 };
      } catch (thrown) {
        if (!(thrown instanceof CompiledSqlError)) throw thrown;
        const where = await locate(project, model, thrown);
        const cause = toError(thrown.cause).message;
        throw new Error(`${cause}${where.note}`, { cause: thrown.cause });
      }
    },
  }, { tableExists: options.tableExists, concurrency });
  const failed = outcome.failed.map(({ batch, error }) => ({
    batch,
    message: toError(error).message,
  }));
  const span = batches.length === 0
    ? "no batch: begin is not before the end"
    : `${filterTime((batches[0] as BatchWindow).start)} to ${
      filterTime((batches.at(-1) as BatchWindow).end)
    }`;
  const done = outcome.successful.length;
  return {
    compiledCode: outcome.lastSql,
    rowsAffected: outcome.rows,
    incremental: options.tableExists,
    message: failed.length === 0
      ? `MICROBATCH ${done} of ${batches.length} batches (${span}), ${outcome.rows} rows`
      : `${done === 0 ? "ERROR" : "PARTIAL SUCCESS"} (${done}/${batches.length} batches; ` +
        `failed: ${failed.map((f) => `${f.batch.id}: ${f.message}`).join("; ")})`,
    batches: { successful: outcome.successful, failed },
  };
}

/**
 * Merges one batch's rows into the live table in one transaction: the
 * batch's rows go to a temporary table (columns synced as on_schema_change
 * says), the rows it replaces are deleted (DuckDB: the batch's window on the
 * model's `event_time`, and rows with its keys; Postgres: rows with its
 * keys), and its rows are inserted.
 */
async function mergeBatch(
  warehouse: Warehouse,
  adapter: DbtAdapter,
  model: ModelNode,
  sql: string,
  batch: BatchWindow,
  eventTime: string,
  keys: readonly string[],
): Promise<number> {
  const target = model.relation.toString();
  const tmpName = withSuffix(model.relation.identifier, `__dbt_tmp_${batch.id}`);
  const tmp = quote(tmpName);
  return await warehouse.transaction(async (tx) => {
    await lockRelation(tx, adapter, target);
    const { temp, list } = await stageIncrement(tx, adapter, model, sql, tmpName);
    if (adapter.type === "duckdb") {
      await tx.execute(
        `delete from ${target} where ${eventTime} >= '${filterTime(batch.start)}' and ` +
          `${eventTime} < '${filterTime(batch.end)}'`,
      );
    }
    if (keys.length > 0) {
      const tuple = keys.map((k) => quote(k)).join(", ");
      await tx.execute(`delete from ${target} where (${tuple}) in (select ${tuple} from ${tmp})`);
    }
    const rows = await tx.execute(`insert into ${target} (${list}) select ${list} from ${tmp}`);
    if (temp.drop) await tx.execute(temp.drop);
    return rows;
  });
}

/**
 * The first part shared by an incremental run and a microbatch batch: the
 * model's SQL into the temporary table `tmpName`, the target's columns brought
 * in line with it (`on_schema_change`), and the target's column list to copy.
 */
async function stageIncrement(
  tx: WarehouseSession,
  adapter: DbtAdapter,
  model: ModelNode,
  sql: string,
  tmpName: string,
): Promise<{ temp: ReturnType<DbtAdapter["tempTable"]>; list: string }> {
  const temp = adapter.tempTable(quote(tmpName));
  await runSqlHeader(tx, model.config.all);
  await runCompiled(tx, temp.prefix, sql, "\n)");
  await syncSchema(tx, model, tmpName);
  const columns = await tx.columns(model.relation.schema, model.relation.identifier);
  return { temp, list: columns.map((c) => quote(c.name)).join(", ") };
}
