/**
 * dbt models as assets: every model is an asset keyed by its name (deps from
 * `ref` and `source`; a source maps to the asset that loads it through its
 * `meta: { asset: ... }`), every test an asset check on its model (blocking
 * when its severity is error). Each run writes manifest.json and
 * run_results.json to the project's target/.
 *
 * @module
 */

import {
  type AssetDefinition,
  assetFactory,
  type CheckDefinition,
  type CheckSpec,
} from "../../core/mod.ts";
import { checkFactory } from "../../core/asset.ts";
import type { Warehouse } from "../../resources/warehouse/mod.ts";
import { runResultEntry, RunResultsWriter } from "./artifacts.ts";
import { type DbtProject, loadProject, type LoadProjectOptions, type TestNode } from "./compile.ts";
import { buildModel } from "./materialize.ts";
import { runTest } from "./tests.ts";

/** The resources dbt assets use: only the warehouse. */
export interface DbtResources {
  /** Where models are built. */
  readonly warehouse: Warehouse;
}

const asset = assetFactory<DbtResources>();
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
 * ```ts ignore
 * import { dbtAssets } from "./assets/dbt/mod.ts";
 * const dbt = await dbtAssets("dbt");
 * const graph = defineGraph({ assets: [...weatherAssets, ...dbt.assets], checks: [...dbt.checks] });
 * ```
 */
export async function dbtAssets(
  projectDir: string,
  options: DbtAssetsOptions = {},
): Promise<DbtAssets> {
  const project = await loadProject(projectDir, options);
  const writers = new Map<string, RunResultsWriter>();
  const writeArtifacts = options.writeArtifacts ?? true;
  const writerFor = (runId: string): RunResultsWriter => {
    let writer = writers.get(runId);
    if (!writer) {
      writer = new RunResultsWriter(project, runId);
      writers.set(runId, writer);
      // Keep only recent runs: a long-lived sensor process must not grow forever.
      if (writers.size > 8) writers.delete(writers.keys().next().value as string);
    }
    return writer;
  };
  const sourceAsset = (id: string): string | undefined => {
    const asset = project.sources.get(id)?.meta.asset;
    return typeof asset === "string" && asset.length > 0 ? asset : undefined;
  };

  const testCheck = (test: TestNode): CheckSpec<DbtResources> => ({
    name: test.name,
    description: test.description ||
      `dbt ${test.kind} test ${test.testName ?? test.name} (${test.file}${
        test.line ? `:${test.line}` : ""
      })`,
    severity: test.severity,
    blocking: test.severity === "error",
    run: async (ctx) => {
      const startedAt = Date.now();
      const outcome = await runTest(ctx.resources.warehouse, test);
      if (writeArtifacts) {
        await writerFor(ctx.runId).record(runResultEntry({
          uniqueId: test.uniqueId,
          status: outcome.status,
          startedAt,
          completedAt: Date.now(),
          message: outcome.message,
          failures: outcome.failures,
          compiledCode: test.compiledCode,
          relationName: null,
        }));
      }
      return {
        passed: outcome.status === "pass",
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

  const assets = [...project.models.values()].map((model) => {
    const deps = [
      ...model.refs,
      ...model.sources.map(sourceAsset).filter((a): a is string => a !== undefined),
    ].filter((dep, i, all) => all.indexOf(dep) === i);
    const tests = project.tests.filter((t) => t.attachedTo === model.uniqueId);
    return asset({
      key: model.name,
      deps,
      group: options.group ?? "marts",
      tags: ["dbt", model.config.materialized, ...model.config.tags].filter((t, i, all) =>
        /^[A-Za-z_][A-Za-z0-9_.-]*$/.test(t) && all.indexOf(t) === i
      ),
      description: model.description,
      codeVersion: model.checksum.slice(0, 12),
      resources: ["warehouse"],
      metadata: {
        dbt_unique_id: model.uniqueId,
        file: model.file,
        materialized: model.config.materialized,
        relation: model.relation.toString(),
      },
      checks: tests.map(testCheck),
      materialize: async (ctx) => {
        const writer = writerFor(ctx.runId);
        if (writeArtifacts) await writer.writeManifest();
        const startedAt = Date.now();
        try {
          const built = await buildModel(ctx.resources.warehouse, project, model.name, {
            fullRefresh: options.fullRefresh ?? false,
          });
          if (writeArtifacts) {
            await writer.record(runResultEntry({
              uniqueId: model.uniqueId,
              status: "success",
              startedAt,
              completedAt: Date.now(),
              message: built.message,
              compiledCode: built.compiledCode,
              relationName: model.config.materialized === "ephemeral" ? null : built.relation,
              rowsAffected: built.rowsAffected,
            }));
          }
          ctx.log.info(`${model.name}: ${built.message} (${built.relation})`);
          return {
            dbt_unique_id: model.uniqueId,
            relation: built.relation,
            materialized: built.materialized,
            incremental: built.incremental,
            rows_affected: built.rowsAffected,
            message: built.message,
          };
        } catch (error) {
          if (writeArtifacts) {
            await writer.record(runResultEntry({
              uniqueId: model.uniqueId,
              status: "error",
              startedAt,
              completedAt: Date.now(),
              message: error instanceof Error ? error.message : String(error),
              compiledCode: model.compiledCode,
              relationName: model.relation.toString(),
            }));
          }
          throw error;
        }
      },
    });
  });

  const checks: CheckDefinition[] = [];
  if (options.sourceChecks) {
    for (const test of project.tests) {
      const target = test.attachedTo?.startsWith("source.")
        ? sourceAsset(test.attachedTo)
        : undefined;
      if (target) {
        checks.push(check({ asset: target, resources: ["warehouse"], ...testCheck(test) }));
      }
    }
  }
  return { project, assets, checks };
}
