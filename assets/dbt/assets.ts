/**
 * dbt nodes as assets (the translator; the engine is resources/dbt): every
 * model, seed and snapshot is an asset keyed by its name (deps from `ref`
 * and `source`; a source maps to the asset that loads it through its
 * `meta: { asset: ... }`), every data test an asset check (blocking when its
 * severity is error) on the node it must wait for, every unit test a
 * blocking check on its model, and every source freshness rule a check on
 * the source's asset. Each run writes manifest.json and run_results.json.
 * `on-run-start` hooks run once per run before its first dbt node;
 * `on-run-end` hooks are the asset `dbt_on_run_end`, downstream of every node,
 * which runs whatever happened upstream (as dbt does) with the run's
 * `results` (failed and skipped nodes included) in its Jinja context.
 *
 * A test that reads several nodes (a `relationships` test to another model)
 * is a check on the one of them that is downstream of all the others, so it
 * runs only once every node it reads is built, as in dbt. When no such node
 * exists (two unrelated parents), the check is put on the last in dependency
 * order and, at run time, does not test while another parent's relation
 * does not exist yet (it says so instead of failing valid data).
 *
 * @module
 */

import { type AssetDefinition, assetFactory, checkFactory } from "../../core/asset.ts";
import type { CheckDefinition, CheckSpec, FinishedStep } from "../../core/asset.ts";
import type { Warehouse } from "../../resources/warehouse/types.ts";
import {
  type RunResultEntry,
  runResultEntry,
  RunResultsWriter,
} from "../../resources/dbt/artifacts.ts";
import { loadProject, type LoadProjectOptions } from "../../resources/dbt/compile/load.ts";
import { executeNode, executeTest } from "../../resources/dbt/execute/run.ts";
import { MissingUpstreamError, queryRunner } from "../../resources/dbt/execute/materialize.ts";
import { renderHookText } from "../../resources/dbt/execute/hooks.ts";
import { DbtError, DbtErrorCode } from "../../resources/dbt/errors.ts";
import { conditionFromConfig } from "../../core/automation/condition.ts";
import { dailyPartitions } from "../../core/partitions.ts";
import type { DbtProject, ModelNode, TestNode, UnitTestNode } from "../../resources/dbt/nodes.ts";
import { toError } from "../../core/errors.ts";

/** The resources dbt assets use: only the warehouse. */
export interface DbtResources {
  /** Where models are built. */
  readonly warehouse: Warehouse;
}

const asset = assetFactory<DbtResources>();

/** Key of the asset that runs a project's `on-run-end` hooks. */
export const ON_RUN_END_KEY = "dbt_on_run_end";
const check = checkFactory<DbtResources>();

/** Options of {@linkcode dbtAssets}. */
export interface DbtAssetsOptions extends LoadProjectOptions {
  /**
   * Group of every model asset.
   * @default {"marts"}
   */
  readonly group?: string;
  /**
   * Rebuild incremental models from scratch (`--full-refresh`).
   * @default {false}
   */
  readonly fullRefresh?: boolean;
  /**
   * Also return the tests on sources as checks on the assets that load them
   * (those assets must then be in the graph).
   * @default {false}
   */
  readonly sourceChecks?: boolean;
  /**
   * Write manifest.json and run_results.json to target/ on each run.
   * @default {true}
   */
  readonly writeArtifacts?: boolean;
  /**
   * Check source freshness (`loaded_at_field` + `freshness:`) on the assets that load sources.
   * @default {true}
   */
  readonly freshnessChecks?: boolean;
  /**
   * Partition each microbatch model with `batch_size='day'` by day (from its
   * `begin` up to today): materializing a partition builds that day's batch,
   * as dagster-dbt passes a partition's window as `--event-time-start/-end`.
   * Off: a microbatch asset builds the batches a `dbt run` would.
   * @default {false}
   */
  readonly microbatchPartitions?: boolean;
}

/** What {@linkcode dbtAssets} returns. */
export interface DbtAssets {
  /** The compiled project. */
  readonly project: DbtProject;
  /** One asset per model, in dependency order, with its tests as checks. */
  readonly assets: readonly AssetDefinition[];
  /** Checks on other assets (source tests), when `sourceChecks` is set. */
  readonly checks: readonly CheckDefinition[];
}

/**
 * Loads the dbt project in `projectDir` and returns its models as assets.
 * Throws the loading errors of {@linkcode loadProject} (file and line named).
 *
 * @example
 * ```ts
 * import { defineGraph } from "../../core/definitions.ts";
 * import { openWarehouse } from "../../resources/warehouse/open.ts";
 * import { dbtAssets } from "./mod.ts";
 * const dbt = await dbtAssets("dbt");
 * const graph = defineGraph({
 *   assets: [...dbt.assets],
 *   checks: [...dbt.checks],
 *   resources: { warehouse: await openWarehouse("pglite:memory:") },
 * });
 * ```
 */
export async function dbtAssets(
  projectDir: string,
  options: DbtAssetsOptions = {},
): Promise<DbtAssets> {
  const project = await loadProject(projectDir, options);
  const writers = new Map<string, RunResultsWriter>();
  const writeArtifacts = options.writeArtifacts ?? true;
  const writerFor = (runId: string, clock: { now(): number }): RunResultsWriter => {
    let writer = writers.get(runId);
    if (!writer) {
      writer = new RunResultsWriter(project, runId, clock);
      writer.args = { which: "build", invocation_command: "deno task materialize" };
      writers.set(runId, writer);
      // Keep only recent runs: a long-lived sensor process must not grow forever.
      if (writers.size > 8) writers.delete(writers.keys().next().value as string);
    }
    return writer;
  };
  // Results are kept per run even without artifacts: on-run-end hooks read them as `results`.
  const recorder = (runId: string, clock: { now(): number }) =>
  (
    entry: Parameters<RunResultsWriter["record"]>[0],
  ) => writerFor(runId, clock).record(entry, { defer: !writeArtifacts });
  const sourceAsset = (id: string): string | undefined => {
    const asset = project.sources.get(id)?.meta.asset;
    return typeof asset === "string" && asset.length > 0 ? asset : undefined;
  };
  // on-run-start: once per run, before the run's first dbt node.
  const started = new Map<string, Promise<void>>();
  const runStartHooks = (runId: string, warehouse: Warehouse): Promise<void> => {
    let done = started.get(runId);
    if (!done) {
      done = (async () => {
        for (const hook of project.onRunStart) {
          await warehouse.exec(
            await renderHookText(project, hook.sql, {
              file: "dbt_project.yml",
              query: queryRunner(warehouse),
            }),
          );
        }
      })();
      started.set(runId, done);
      if (started.size > 8) started.delete(started.keys().next().value as string);
    }
    return done;
  };
  const keyOf = (id: string): string | undefined => project.nodes.get(id)?.name ?? sourceAsset(id);
  const order = [...project.nodes.keys()];

  const testCheck = (test: TestNode): CheckSpec<DbtResources> => ({
    name: test.name,
    description: test.description ||
      `dbt ${test.kind} test ${test.testName ?? test.name} (${test.file})`,
    severity: test.severity,
    blocking: test.severity === "error",
    run: async (ctx) => {
      const missing = await missingParent(ctx.resources.warehouse, project, test);
      if (missing) {
        return {
          passed: true,
          metadata: { dbt_unique_id: test.uniqueId, status: "not_run" },
          description: `not run: ${missing} is not built yet; dbt runs a test only when every ` +
            "node it reads is built",
        };
      }
      const outcome = await executeTest(ctx.resources.warehouse, test, {
        clock: ctx.clock,
        record: recorder(ctx.runId, ctx.clock),
      });
      // As dbt: past warn_if but not error_if (or a warn-severity test) is a warning.
      return {
        passed: outcome.status === "pass",
        ...(outcome.status === "warn" ? { severity: "warn" as const } : {}),
        metadata: {
          dbt_unique_id: test.uniqueId,
          status: outcome.status,
          failures: outcome.failures,
          severity: test.severity,
        },
        ...(outcome.message ? { description: outcome.message } : {}),
      };
    },
  });
  const unitCheck = (test: UnitTestNode): CheckSpec<DbtResources> => ({
    name: `unit_${test.name}`,
    description: test.description || `dbt unit test ${test.name} (${test.file})`,
    severity: "error",
    blocking: true,
    run: async (ctx) => {
      const outcome = await executeTest(ctx.resources.warehouse, test, {
        clock: ctx.clock,
        record: recorder(ctx.runId, ctx.clock),
      });
      return {
        passed: outcome.status === "pass",
        metadata: { dbt_unique_id: test.uniqueId, status: outcome.status },
        ...(outcome.message ? { description: outcome.message } : {}),
      };
    },
  });
  /** The node a test waits for: the parent downstream of every other parent, else the last. */
  const position = new Map(order.map((id, i) => [id, i]));
  const checkHome = (test: TestNode): string | undefined => {
    const parents = test.dependsOn.filter((id) => project.nodes.has(id));
    if (parents.length === 0) return undefined;
    return [...parents].sort((a, b) => (position.get(b) ?? 0) - (position.get(a) ?? 0))[0];
  };
  const testsAt = new Map<string, TestNode[]>();
  for (const test of project.tests) {
    const home = checkHome(test);
    if (home !== undefined) testsAt.set(home, [...(testsAt.get(home) ?? []), test]);
  }
  const unitsOf = new Map<string, UnitTestNode[]>();
  for (const unit of project.unitTests) {
    unitsOf.set(unit.model, [...(unitsOf.get(unit.model) ?? []), unit]);
  }

  const assets = [...project.nodes.values()].map((node) => {
    const deps = [
      ...node.refs,
      ...node.sources.map(sourceAsset).filter((a): a is string => a !== undefined),
    ].filter((dep, i, all) => all.indexOf(dep) === i);
    const tests = testsAt.get(node.uniqueId) ?? [];
    const units = unitsOf.get(node.name) ?? [];
    const microbatch = node.resourceType === "model" ? node.config.microbatch : undefined;
    // The first day of a daily-partitioned microbatch model, or undefined when not partitioned.
    const daily = options.microbatchPartitions && microbatch?.batchSize === "day"
      ? new Date(microbatch.begin).toISOString().slice(0, 10)
      : undefined;
    return asset({
      key: node.name,
      deps,
      group: options.group ?? "marts",
      tags: ["dbt", node.resourceType, node.config.materialized, ...node.config.tags].filter((
        t,
        i,
        all,
      ) => /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(t) && all.indexOf(t) === i),
      description: node.description,
      codeVersion: node.checksum.slice(0, 12),
      // `+meta: { automation: eager }` (dbt_project.yml or a model's config):
      // the daemon keeps the model up to date (core/automation/condition.ts).
      ...automationOf(node),
      resources: ["warehouse"],
      metadata: {
        dbt_unique_id: node.uniqueId,
        file: node.file,
        materialized: node.config.materialized,
        relation: node.relation.toString(),
        // Read on demand (the UI's asset page): compiling every model up front would cost a
        // large project seconds at every start.
        get compiled_sql() {
          try {
            return node.compiledCode;
          } catch (error) {
            return `-- cannot compile ${node.file}: ${toError(error).message}`;
          }
        },
      },
      checks: [...units.map(unitCheck), ...tests.map(testCheck)],
      ...(daily ? { partitions: dailyPartitions(daily, { endOffset: 1 }) } : {}),
      materialize: async (ctx) => {
        if (writeArtifacts) await writerFor(ctx.runId, ctx.clock).writeManifest();
        await runStartHooks(ctx.runId, ctx.resources.warehouse);
        // A day partition is that day's batch (dagster-dbt's --event-time-start/-end).
        const day = daily && ctx.partitionKey !== undefined
          ? Date.parse(`${ctx.partitionKey}T00:00:00Z`)
          : undefined;
        try {
          const built = await executeNode(ctx.resources.warehouse, project, node, {
            fullRefresh: options.fullRefresh ?? false,
            clock: ctx.clock,
            record: recorder(ctx.runId, ctx.clock),
            ...(day === undefined
              ? {}
              : { microbatch: { eventTimeStart: day, eventTimeEnd: day + 86_400_000 } }),
            // What the model's macros log belongs to this asset's run log, as dbt says it then.
            onLog: (message) => ctx.log.info(message),
          });
          ctx.log.info(`${node.name}: ${built.message} (${built.relation})`);
          return {
            dbt_unique_id: node.uniqueId,
            relation: built.relation,
            materialized: built.materialized,
            incremental: built.incremental,
            rows_affected: built.rowsAffected,
            message: built.message,
          };
        } catch (error) {
          if (error instanceof MissingUpstreamError) {
            throw withCommand(error, keyOf(error.upstreamId), node);
          }
          throw error;
        }
      },
    });
  });

  const checks: CheckDefinition[] = [];
  for (const source of project.sources.values()) {
    const target = sourceAsset(source.uniqueId);
    if (!target) continue;
    if (options.sourceChecks) {
      for (const test of project.tests.filter((t) => t.attachedTo === source.uniqueId)) {
        checks.push(check({ asset: target, resources: ["warehouse"], ...testCheck(test) }));
      }
    }
    if (source.freshness && source.loadedAtField && options.freshnessChecks !== false) {
      checks.push(check({ asset: target, resources: ["warehouse"], ...freshnessCheck(source) }));
    }
  }
  if (project.onRunEnd.length > 0) {
    // on-run-end: an asset downstream of every dbt node, so it runs after them in a run of the
    // whole project (named so a selection can include it: `+dbt_on_run_end`). Like dbt, it runs
    // whatever happened upstream (`alwaysRun`), and its hooks see the run's `results`.
    const leaves = assets.filter((a) => !assets.some((b) => b.deps.includes(a.key))).map((a) =>
      a.key
    );
    assets.push(asset({
      key: ON_RUN_END_KEY,
      deps: leaves,
      group: options.group ?? "marts",
      tags: ["dbt", "hook"],
      description: `dbt on-run-end hooks of ${project.name} (${project.onRunEnd.length})`,
      resources: ["warehouse"],
      alwaysRun: true,
      materialize: async (ctx) => {
        const results = runResults(
          project,
          writerFor(ctx.runId, ctx.clock).results,
          ctx.finishedSteps(),
          ctx.clock.now(),
        );
        for (const hook of project.onRunEnd) {
          await ctx.resources.warehouse.exec(
            await renderHookText(project, hook.sql, {
              file: "dbt_project.yml",
              query: queryRunner(ctx.resources.warehouse),
              results,
            }),
          );
        }
        return { hooks: project.onRunEnd.length, results: results.length };
      },
    }));
  }
  return { project, assets, checks };
}

/**
 * The run's results for on-run-end: what the nodes and tests recorded, plus a
 * `skipped` result for each dbt node the run skipped (they never ran, so
 * recorded nothing), with the executor's reason.
 */
function runResults(
  project: DbtProject,
  recorded: readonly RunResultEntry[],
  steps: readonly FinishedStep[],
  now: number,
): RunResultEntry[] {
  const byName = new Map([...project.nodes.values()].map((n) => [n.name, n]));
  const seen = new Set(recorded.map((r) => r.unique_id));
  const skipped: RunResultEntry[] = [];
  for (const step of steps) {
    const node = byName.get(step.assetKey);
    if (!node || seen.has(node.uniqueId) || step.status === "success") continue;
    seen.add(node.uniqueId);
    skipped.push(runResultEntry({
      uniqueId: node.uniqueId,
      status: step.status === "failed" ? "error" : "skipped",
      startedAt: now,
      completedAt: now,
      message: step.reason,
      compiledCode: null,
      relationName: node.relation.toString(),
    }));
  }
  return [...recorded, ...skipped];
}

/** The error of a node whose upstream was never built, naming the command to build it. */
function withCommand(
  error: MissingUpstreamError,
  upstreamKey: string | undefined,
  node: ModelNode,
): DbtError {
  const command = `deno task materialize +${node.name}`;
  return new DbtError(
    DbtErrorCode.missingUpstream,
    `${node.name} reads ${error.upstreamId}${
      upstreamKey ? ` (asset ${upstreamKey})` : ""
    }, which has never been materialized. Materialize it first: ${command}`,
    { file: node.file },
    error,
  );
}

/** A parent relation of `test` that does not exist yet, or undefined. */
async function missingParent(
  warehouse: Warehouse,
  project: DbtProject,
  test: TestNode,
): Promise<string | undefined> {
  const parents = test.dependsOn.map((id) => project.nodes.get(id)).filter((n): n is ModelNode =>
    n !== undefined && n.config.materialized !== "ephemeral"
  );
  if (parents.length < 2) return undefined;
  for (const parent of parents) {
    if (!(await warehouse.tableExists(parent.relation.schema, parent.relation.identifier))) {
      return parent.relation.toString();
    }
  }
  return undefined;
}

/** Source freshness as a check on the asset that loads the source. */
function freshnessCheck(
  source: DbtProject["sources"] extends ReadonlyMap<string, infer S> ? S : never,
): CheckSpec<DbtResources> {
  const rule = source.freshness as NonNullable<typeof source.freshness>;
  return {
    name: `freshness_${source.sourceName}_${source.name}`,
    description:
      `dbt source freshness of ${source.sourceName}.${source.name} (${source.loadedAtField})`,
    severity: rule.errorAfterMs !== null ? "error" : "warn",
    blocking: false,
    run: async (ctx) => {
      const [row] = await ctx.resources.warehouse.query<{ latest: Date | null }>(
        `select max(${source.loadedAtField}) as latest from ${source.relation}` +
          (rule.filter ? ` where ${rule.filter}` : ""),
      );
      const latest = row?.latest ? new Date(row.latest).getTime() : null;
      const age = latest === null ? Infinity : ctx.clock.now() - latest;
      const late = (limit: number | null) => limit !== null && age > limit;
      const status = late(rule.errorAfterMs) ? "error" : late(rule.warnAfterMs) ? "warn" : "pass";
      return {
        passed: status === "pass",
        ...(status === "warn" ? { severity: "warn" as const } : {}),
        metadata: {
          max_loaded_at: latest === null ? null : new Date(latest).toISOString(),
          age_seconds: latest === null ? null : Math.round(age / 1000),
          status,
        },
        description: latest === null
          ? `no rows in ${source.relation}`
          : `newest row is ${Math.round(age / 1000)} s old (${status})`,
      };
    },
  };
}

/** A node's automation condition from its `meta.automation` (`eager`, `on_missing`, `on_cron:<cron>`). */
function automationOf(node: ModelNode) {
  const condition = conditionFromConfig(
    node.meta.automation,
    `dbt ${node.resourceType} '${node.name}' (meta.automation)`,
  );
  return condition ? { automation: condition } : {};
}
